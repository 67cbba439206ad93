// Pooling tests: naive references, PyTorch fixtures (forward + VJP), gradient
// checks, stochastic sampling statistics.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { loadCases, tensor } from "./_fixtures.ts";
import {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  array,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  bilinearPool,
  globalAvgPool2d,
  globalMaxPool2d,
  lpPool2d,
  maxPool1d,
  maxPool2d,
  maxPool3d,
  maxUnpool1d,
  maxUnpool2d,
  medianPool2d,
  mixedPool2d,
  type NDArray,
  spatialPyramidPool,
  sppf,
  stochasticPool2d,
  vjp,
  yoloSpp,
} from "../mod.ts";

// deno-lint-ignore no-explicit-any
type AnyOp = (...args: any[]) => any;
const OPS: Record<string, AnyOp> = {
  maxPool1d,
  maxPool2d,
  maxPool3d,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  lpPool2d,
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  globalAvgPool2d,
  globalMaxPool2d,
  maxUnpool2d,
  spatialPyramidPool,
  yoloSpp,
  mixedPool2d,
  medianPool2d,
  stochasticPool2d,
  bilinearPool,
};

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}: element ${i}: got ${a}, expected ${e}`);
    }
  }
}

function vals(x: NDArray): number[] {
  return Array.from(x.dataSync() as ArrayLike<number>, Number);
}

// ---------------------------------------------------------------------------
// fixtures

const fixtures = loadCases("pool.json");
const poolCases = fixtures.filter((c) => c.op in OPS);

for (const c of poolCases) {
  Deno.test(`pool fixture: ${c.name}`, () => {
    const op = OPS[c.op];
    const x = tensor(c.inputs.x, "float32");
    const extra = c.op === "maxUnpool2d" ? [tensor(c.inputs.indices, "int32")] : [];
    const f = (xx: NDArray) => op(xx, ...extra, c.options);
    const r = f(x);
    const values: NDArray = r && r.values ? r.values : r;
    assertEquals(values.shape, c.output.shape, `${c.name}: shape`);
    close(vals(values), c.output.data, 1e-4, 1e-5, `${c.name}: output`);
    if (c.indices) {
      assert(r.indices, `${c.name}: indices missing`);
      assertEquals(r.indices.dtype, "int32");
      assertEquals(vals(r.indices), c.indices.data, `${c.name}: indices`);
    }
    if (c.cotangent && c.grads && c.grads.x) {
      const g = (xx: NDArray) => {
        const o = f(xx);
        return o && o.values ? o.values : o;
      };
      const [, pull] = vjp(g, x);
      const [gx] = pull(tensor(c.cotangent, "float32"));
      close(vals(gx as NDArray), c.grads.x.data, 1e-4, 1e-5, `${c.name}: grad x`);
    }
  });
}

Deno.test("pool fixtures: every pooling op is covered", () => {
  const seen = new Set(poolCases.map((c) => c.op));
  assert(seen.size >= 15, `only ${[...seen]}`);
});

// ---------------------------------------------------------------------------
// naive nested-loop references

function rand(n: number, seed = 1): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 * 4 - 2;
  });
}

function outSize(L: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((L + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

interface P2 {
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d: [number, number];
  ceil: boolean;
}

function naiveMax2d(x: Float64Array, N: number, C: number, H: number, W: number, g: P2): { v: number[]; i: number[] } {
  const oh = outSize(H, g.k[0], g.s[0], g.p[0], g.d[0], g.ceil),
    ow = outSize(W, g.k[1], g.s[1], g.p[1], g.d[1], g.ceil);
  const v: number[] = [], ind: number[] = [];
  for (let pl = 0; pl < N * C; pl++) {
    for (let a = 0; a < oh; a++) {
      for (let b = 0; b < ow; b++) {
        let best = -Infinity, arg = -1;
        for (let i = 0; i < g.k[0]; i++) {
          for (let j = 0; j < g.k[1]; j++) {
            const h = a * g.s[0] - g.p[0] + i * g.d[0], w = b * g.s[1] - g.p[1] + j * g.d[1];
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const val = x[pl * H * W + h * W + w];
            if (arg < 0 || val > best || (Number.isNaN(val) && !Number.isNaN(best))) {
              best = val;
              arg = h * W + w;
            }
          }
        }
        v.push(best);
        ind.push(arg);
      }
    }
  }
  return { v, i: ind };
}

function naiveAvg2d(
  x: Float64Array,
  N: number,
  C: number,
  H: number,
  W: number,
  g: P2,
  include: boolean,
  div: number | null,
): number[] {
  const oh = outSize(H, g.k[0], g.s[0], g.p[0], 1, g.ceil), ow = outSize(W, g.k[1], g.s[1], g.p[1], 1, g.ceil);
  const out: number[] = [];
  for (let pl = 0; pl < N * C; pl++) {
    for (let a = 0; a < oh; a++) {
      for (let b = 0; b < ow; b++) {
        const h0 = a * g.s[0] - g.p[0], w0 = b * g.s[1] - g.p[1];
        const h1 = Math.min(h0 + g.k[0], H + g.p[0]), w1 = Math.min(w0 + g.k[1], W + g.p[1]);
        const pool = (h1 - h0) * (w1 - w0);
        let sum = 0, cnt = 0;
        for (let h = Math.max(h0, 0); h < Math.min(h1, H); h++) {
          for (let w = Math.max(w0, 0); w < Math.min(w1, W); w++) {
            sum += x[pl * H * W + h * W + w];
            cnt++;
          }
        }
        out.push(sum / (div ?? (include ? pool : cnt)));
      }
    }
  }
  return out;
}

const GEOMS: P2[] = [
  { k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false },
  { k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: true },
  { k: [3, 2], s: [2, 3], p: [1, 1], d: [1, 1], ceil: true },
  { k: [2, 3], s: [3, 2], p: [1, 0], d: [2, 1], ceil: true },
  { k: [4, 4], s: [3, 3], p: [2, 2], d: [1, 1], ceil: true },
  { k: [3, 3], s: [1, 1], p: [1, 1], d: [1, 1], ceil: false },
];

Deno.test("maxPool2d matches a nested-loop reference (ceil, padding, dilation)", () => {
  const [N, C, H, W] = [2, 3, 7, 8];
  const data = rand(N * C * H * W, 7);
  const x = array(data, { shape: [N, C, H, W], dtype: "float64" });
  for (const g of GEOMS) {
    const r = maxPool2d(x, {
      kernelSize: g.k,
      stride: g.s,
      padding: g.p,
      dilation: g.d,
      ceilMode: g.ceil,
      returnIndices: true,
    });
    const ref = naiveMax2d(data, N, C, H, W, g);
    assertEquals(vals(r.values), ref.v, JSON.stringify(g));
    assertEquals(vals(r.indices), ref.i, JSON.stringify(g));
  }
});

Deno.test("avgPool2d matches a nested-loop reference (divisor rules)", () => {
  const [N, C, H, W] = [2, 2, 7, 8];
  const data = rand(N * C * H * W, 9);
  const x = array(data, { shape: [N, C, H, W], dtype: "float64" });
  for (const g of GEOMS.filter((q) => q.d[0] === 1 && q.d[1] === 1 && q.p[0] <= q.k[0] / 2 && q.p[1] <= q.k[1] / 2)) {
    for (const include of [true, false]) {
      for (const dv of [null, 5]) {
        const out = avgPool2d(x, {
          kernelSize: g.k,
          stride: g.s,
          padding: g.p,
          ceilMode: g.ceil,
          countIncludePad: include,
          divisorOverride: dv,
        });
        close(
          vals(out),
          naiveAvg2d(data, N, C, H, W, g, include, dv),
          1e-12,
          1e-12,
          JSON.stringify({ g, include, dv }),
        );
      }
    }
  }
});

Deno.test("adaptive pools: L not a multiple of O, and O > L", () => {
  for (const [L, O] of [[10, 4], [7, 3], [3, 5], [5, 5], [1, 3]]) {
    const data = rand(2 * L, L * 31 + O);
    const x = array(data, { shape: [1, 2, L], dtype: "float64" });
    const avg: number[] = [], mx: number[] = [], ix: number[] = [];
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < O; i++) {
        const st = Math.floor((i * L) / O), en = Math.ceil(((i + 1) * L) / O);
        assert(en > st);
        let s = 0, best = -Infinity, arg = -1;
        for (let t = st; t < en; t++) {
          const v = data[c * L + t];
          s += v;
          if (arg < 0 || v > best) [best, arg] = [v, t];
        }
        avg.push(s / (en - st));
        mx.push(best);
        ix.push(arg);
      }
    }
    close(vals(adaptiveAvgPool1d(x, { outputSize: O })), avg, 1e-12, 1e-12, `avg ${L}->${O}`);
    const r = adaptiveMaxPool1d(x, { outputSize: O, returnIndices: true });
    assertEquals(vals(r.values), mx);
    assertEquals(vals(r.indices), ix);
  }
});

Deno.test("max pooling ties go to the first maximum; gradient not split", () => {
  const x = array([[[[1, 1], [1, 1]]]], { dtype: "float64" });
  const r = maxPool2d(x, { kernelSize: 2, returnIndices: true });
  assertEquals(vals(r.indices), [0]);
  const [, pull] = vjp((a: NDArray) => maxPool2d(a, { kernelSize: 2 }), x);
  assertEquals(vals(pull(array([[[[5]]]], { dtype: "float64" }))[0]), [5, 0, 0, 0]);
  // overlapping windows accumulate on a shared maximum
  const y = array([[[0, 9, 0]]], { dtype: "float64" });
  const [, pull2] = vjp((a: NDArray) => maxPool1d(a, { kernelSize: 2, stride: 1 }), y);
  assertEquals(vals(pull2(array([[[1, 2]]], { dtype: "float64" }))[0]), [0, 3, 0]);
  const gm = globalMaxPool2d(array([[[[2, 7], [7, 1]]]]), { keepDims: false });
  assertEquals(vals(gm), [7]);
  const [, pull3] = vjp((a: NDArray) => globalMaxPool2d(a), array([[[[2, 7], [7, 1]]]], { dtype: "float64" }));
  assertEquals(vals(pull3(array([[1]], { dtype: "float64" }))[0]), [0, 1, 0, 0]);
});

Deno.test("max pooling propagates NaN", () => {
  const x = array([[[1, NaN, 3, 2, NaN, NaN]]]);
  const r = maxPool1d(x, { kernelSize: 3, returnIndices: true });
  assert(Number.isNaN(vals(r.values)[0]) && Number.isNaN(vals(r.values)[1]));
  assertEquals(vals(r.indices), [1, 4]);
});

Deno.test("NHWC gives the transposed values and identical indices", () => {
  const data = rand(2 * 3 * 5 * 6, 3);
  const x = array(data, { shape: [2, 3, 5, 6], dtype: "float64" });
  const xl = x.transpose([0, 2, 3, 1]);
  const a = maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, returnIndices: true });
  const b = maxPool2d(xl, { kernelSize: 3, stride: 2, padding: 1, returnIndices: true, dataFormat: "NHWC" });
  assertEquals(vals(b.values.transpose([0, 3, 1, 2])), vals(a.values));
  assertEquals(vals(b.indices.transpose([0, 3, 1, 2])), vals(a.indices));
});

// ---------------------------------------------------------------------------
// gradients (float64 finite differences)

Deno.test("checkGrad: pooling ops in float64", async () => {
  const { checkGrad } = await import("../ops/testing.ts");
  const x = array(rand(2 * 2 * 6 * 7, 5), { shape: [2, 2, 6, 7], dtype: "float64" });
  const xp = array(rand(2 * 2 * 6 * 7, 6).map((v) => Math.abs(v) + 0.1), { shape: [2, 2, 6, 7], dtype: "float64" });
  const opt = { rtol: 1e-5, atol: 1e-7 };
  checkGrad((a) => maxPool2d(a, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [x], opt);
  checkGrad(
    (a) => avgPool2d(a, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    [x],
    opt,
  );
  checkGrad((a) => avgPool3d(a.reshape([2, 2, 1, 6, 7]), { kernelSize: [1, 2, 3], stride: [1, 2, 2] }), [x], opt);
  checkGrad((a) => lpPool2d(a, { normType: 3, kernelSize: 2, ceilMode: true, stride: 2 }), [xp], opt);
  checkGrad((a) => adaptiveAvgPool2d(a, { outputSize: [4, 3] }), [x], opt);
  checkGrad((a) => adaptiveMaxPool2d(a, { outputSize: [4, 3] }), [x], opt);
  checkGrad((a) => spatialPyramidPool(a, { levels: [3, 1], mode: "avg" }), [x], opt);
  checkGrad((a) => mixedPool2d(a, { outputSize: 2, mode: "cat" }), [x], opt);
  checkGrad((a) => medianPool2d(a, { kernelSize: 3, stride: 2, padding: 1 }), [x], opt);
  checkGrad((a) => stochasticPool2d(a, { kernelSize: 2 }), [xp], opt);
  checkGrad((a) => bilinearPool(a), [x], opt);
  checkGrad((a) => yoloSpp(a, { kernelSizes: [3, 5] }), [x], opt);
  const r = maxPool2d(x, { kernelSize: 2, returnIndices: true });
  checkGrad((v) => maxUnpool2d(v, r.indices, { kernelSize: 2, outputSize: [6, 7] }), [r.values], opt);
});

Deno.test("stochasticPool2d eval: zero window gives 0 and a zero (not NaN) gradient", () => {
  const x = array([[[[0, 0, 1, 3], [0, 0, 2, 0]]]], { dtype: "float64" });
  const [y, pull] = vjp((a: NDArray) => stochasticPool2d(a, { kernelSize: 2 }), x);
  close(vals(y), [0, 14 / 6], 1e-12, 1e-12, "values");
  const g = vals(pull(array([[[[1, 1]]]], { dtype: "float64" }))[0]);
  assert(g.every(Number.isFinite));
  assertEquals(g.slice(0, 2), [0, 0]);
});

// ---------------------------------------------------------------------------
// composites and randomness

Deno.test("sppf equals yoloSpp in ultralytics order; darknet order reverses the pools", () => {
  const x = array(rand(2 * 3 * 9 * 11, 4), { shape: [2, 3, 9, 11], dtype: "float64" });
  assertEquals(vals(sppf(x)), vals(yoloSpp(x, { order: "ultralytics" })));
  const d = yoloSpp(x), u = yoloSpp(x, { order: "ultralytics" });
  const C = 3, plane = 9 * 11;
  const dv = vals(d), uv = vals(u);
  // channel block j of darknet = block (3 - j) of ultralytics
  for (let j = 0; j < 4; j++) {
    const a = dv.slice(j * C * plane, (j + 1) * C * plane), b = uv.slice((3 - j) * C * plane, (4 - j) * C * plane);
    assertEquals(a, b);
  }
});

Deno.test("stochasticPool2d training: frequencies follow a_i / S (chi-square)", () => {
  const w = [1, 2, 3, 4];
  const S = 10, T = 10000;
  const x = array(new Float64Array(T * 4).map((_, i) => w[i % 4]), { shape: [1, T, 2, 2], dtype: "float64" });
  const y = vals(stochasticPool2d(x, { kernelSize: 2, training: true, key: array([0, 42], { dtype: "int32" }) }));
  const counts = [0, 0, 0, 0];
  for (const v of y) counts[v - 1]++;
  let chi = 0;
  for (let i = 0; i < 4; i++) {
    const e = (T * w[i]) / S;
    chi += (counts[i] - e) ** 2 / e;
  }
  assert(chi < 16.27, `chi-square ${chi} (counts ${counts})`); // df 3, p = 0.001
  const y2 = vals(stochasticPool2d(x, { kernelSize: 2, training: true, key: array([0, 42], { dtype: "int32" }) }));
  assertEquals(y2, y);
  const y3 = vals(stochasticPool2d(x, { kernelSize: 2, training: true, key: array([0, 43], { dtype: "int32" }) }));
  assertNotEqualArrays(y3, y);
});

function assertNotEqualArrays(a: number[], b: number[]): void {
  assert(a.some((v, i) => v !== b[i]), "arrays should differ");
}

Deno.test("stochasticPool2d training: gradient to the sampled cell; all-zero window", () => {
  const x = array([[[[0, 0, 0, 5], [0, 0, 0, 0]]]], { dtype: "float64" });
  const key = array([1, 2], { dtype: "int32" });
  const [y, pull] = vjp((a: NDArray) => stochasticPool2d(a, { kernelSize: 2, training: true, key }), x);
  assertEquals(vals(y), [0, 5]);
  assertEquals(vals(pull(array([[[[1, 1]]]], { dtype: "float64" }))[0]), [1, 0, 0, 1, 0, 0, 0, 0]);
});

Deno.test("mixedPool2d random: deterministic per key; eval = add", () => {
  const x = array(rand(1 * 2 * 4 * 4, 8), { shape: [1, 2, 4, 4], dtype: "float64" });
  const a = adaptiveAvgPool2d(x, { outputSize: 2 }), m = adaptiveMaxPool2d(x, { outputSize: 2 });
  const seen = new Set<string>();
  for (let k = 0; k < 16; k++) {
    const key = array([0, k], { dtype: "int32" });
    const r = vals(mixedPool2d(x, { outputSize: 2, mode: "random", training: true, key }));
    assertEquals(vals(mixedPool2d(x, { outputSize: 2, mode: "random", training: true, key })), r);
    const which = JSON.stringify(r) === JSON.stringify(vals(a))
      ? "avg"
      : JSON.stringify(r) === JSON.stringify(vals(m))
      ? "max"
      : "?";
    assert(which !== "?");
    seen.add(which);
  }
  assertEquals(seen.size, 2);
  assertEquals(
    vals(mixedPool2d(x, { outputSize: 2, mode: "random" })),
    vals(mixedPool2d(x, { outputSize: 2, mode: "add" })),
  );
});

Deno.test("maxUnpool1d inverts maxPool1d; gradient is the gather", () => {
  const x = array([[[1, 5, 2, 0, 3, 4]]], { dtype: "float64" });
  const r = maxPool1d(x, { kernelSize: 2, returnIndices: true });
  assertEquals(vals(maxUnpool1d(r.values, r.indices, { kernelSize: 2 })), [0, 5, 2, 0, 0, 4]);
  const [, pull] = vjp((v: NDArray) => maxUnpool1d(v, r.indices, { kernelSize: 2 }), r.values);
  assertEquals(vals(pull(array([[[10, 11, 12, 13, 14, 15]]], { dtype: "float64" }))[0]), [11, 12, 15]);
});

Deno.test("pooling errors are clear", () => {
  const x = array(rand(1 * 1 * 4 * 4, 2), { shape: [1, 1, 4, 4] });
  assertThrows(() => maxPool2d(x, { kernelSize: 2, padding: 2 }), Error, "padding too large");
  assertThrows(() => avgPool2d(x, { kernelSize: 3, padding: 2 }), Error, "padding too large");
  assertThrows(() => maxPool2d(x, { kernelSize: 5 }), Error, "kernel larger than input");
  assertThrows(() => maxPool2d(x.reshape([1, 16]), { kernelSize: 2 }), Error, "rank 4");
  assertThrows(() => avgPool1d(x, { kernelSize: 2 }), Error, "rank 3");
  const r = maxPool2d(x, { kernelSize: 2, returnIndices: true });
  assertThrows(
    () => maxUnpool2d(r.values, r.indices, { kernelSize: 2, outputSize: [6, 4] }),
    Error,
    "invalid outputSize",
  );
  assertEquals(maxUnpool2d(r.values, r.indices, { kernelSize: 2, outputSize: [5, 4] }).shape, [1, 1, 5, 4]);
  assertThrows(
    () => stochasticPool2d(x, { kernelSize: 2, training: true, key: array([1, 2], { dtype: "int32" }) }),
    Error,
    "non-negative",
  );
  assertThrows(() => stochasticPool2d(x, { kernelSize: 2, training: true }), Error, "key");
  assertThrows(() => maxPool2d(x, { kernelSize: 0 }), Error, "kernelSize");
});

Deno.test("maxUnpool2d rejects out-of-range indices; explicit outputSize bounds", () => {
  const v = array([[[[1, 2]]]]);
  assertThrows(
    () => maxUnpool2d(v, array([[[[0, 8]]]], { dtype: "int32" }), { kernelSize: 2 }),
    RangeError,
    "invalid max index",
  );
  assertThrows(
    () => maxUnpool2d(v, array([[[[-1, 3]]]], { dtype: "int32" }), { kernelSize: 2 }),
    RangeError,
    "invalid max index",
  );
  // default [2, 4]; stride 2 → each axis must lie in (default − 2, default + 2)
  assertThrows(
    () => maxUnpool2d(v, array([[[[0, 3]]]], { dtype: "int32" }), { kernelSize: 2, outputSize: [4, 4] }),
    Error,
    "invalid outputSize",
  );
  assertThrows(
    () => maxUnpool2d(v, array([[[[0, 3]]]], { dtype: "int32" }), { kernelSize: 2, outputSize: [0, 4] }),
    Error,
    "invalid outputSize",
  );
  assertEquals(maxUnpool2d(v, array([[[[0, 3]]]], { dtype: "int32" }), { kernelSize: 2, outputSize: [3, 5] }).shape, [
    1,
    1,
    3,
    5,
  ]);
  assertThrows(() => maxUnpool2d(v, array([[[[0, 3]]]]), { kernelSize: 2 }), TypeError, "int32");
});

Deno.test("stochasticPool2d training with random.key: same key, same draw", async () => {
  const { random } = await import("../mod.ts");
  const x = array(rand(2 * 3 * 6 * 6, 12).map(Math.abs), { shape: [2, 3, 6, 6] });
  const a = vals(stochasticPool2d(x, { kernelSize: 3, stride: 2, padding: 1, training: true, key: random.key(7) }));
  const b = vals(stochasticPool2d(x, { kernelSize: 3, stride: 2, padding: 1, training: true, key: random.key(7) }));
  assertEquals(a, b);
  // every sampled value is one of its window's values (or a padding zero)
  const m = vals(maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }));
  a.forEach((v, i) => assert(v >= 0 && v <= m[i]));
});
