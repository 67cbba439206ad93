// The "wasm" backend's window and scatterAdd kernels (ops/_window_kernels.ts)
// against the JS reference kernels: every result must be bit-identical
// (NaN equal to NaN), forward and gradient, on random geometries.
import { assert, assertEquals, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { make } from "../ops/_prim.ts";
import type { WindowAxis } from "../ops/_graph.ts";
import { _shutdownWindowThreads, _useWasmWindows, windowTuning } from "../ops/_window_kernels.ts";
import { assertClose, kernelLogOf, rng, withBackend } from "./_util.ts";

/** Run f on both backends; results (arrays or trees of arrays) must be bit-identical. */
function same(what: string, f: () => NDArray | NDArray[]): void {
  const run = (name: string) =>
    withBackend(name, () => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((a) => a.dataSync());
    });
  const ref = run("js"), got = run("wasm");
  assertEquals(got.length, ref.length, what);
  got.forEach((g, k) => {
    assertEquals(g.constructor, ref[k].constructor, `${what}: output ${k} type`);
    assertEquals(g.length, ref[k].length, `${what}: output ${k} length`);
    for (let i = 0; i < g.length; i++) {
      if (!Object.is(g[i], ref[k][i]) && !(Number.isNaN(g[i]) && Number.isNaN(ref[k][i]))) {
        throw new Error(`${what}: output ${k} element ${i}: wasm ${g[i]}, js ${ref[k][i]}`);
      }
    }
  });
}

/**
 * Random values; `ties` quantizes to few levels, `special` sprinkles NaN, ±0
 * and −∞, `wide` scales by 2^−60..2^60 (so that a double sum's rounding
 * depends on the order of its terms).
 */
function data(
  shape: number[],
  seed: number,
  dtype: "float32" | "float64",
  ties = false,
  special = false,
  wide = false,
): NDArray {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = r();
    if (ties) x = Math.round(x);
    if (wide) x *= 2 ** Math.round(r() * 30);
    if (special) {
      const u = r();
      if (u > 1.8) x = NaN;
      else if (u < -1.8) x = -0;
      else if (u < -1.7) x = 0;
      else if (u > 1.7) x = -Infinity;
    }
    v[i] = x;
  }
  return ts.array(dtype === "float32" ? Float32Array.from(v) : v, { shape, dtype });
}

const has = (): boolean =>
  ts.setBackend !== undefined && (() => {
    try {
      withBackend("wasm", () => 0);
      return true;
    } catch {
      return false;
    }
  })();

/** Run a test body with the wasm SIMD interior on, then with the generated JS kernels alone. */
function bothPaths(body: () => void): () => void {
  return () => {
    if (!has()) return;
    try {
      for (const on of [true, false]) {
        _useWasmWindows(on);
        body();
      }
    } finally {
      _useWasmWindows(true);
    }
  };
}

/** `same` on 1..3 threads, the window kernels threaded from the smallest job (planes split across workers). */
function sameOnThreads(what: string, f: () => NDArray | NDArray[]): void {
  const prevMin = windowTuning.threadMinWork;
  windowTuning.threadMinWork = 1;
  try {
    for (const T of [1, 2, 3]) {
      ts.setNumThreads(T);
      same(`${what}, ${T} threads`, f);
    }
  } finally {
    windowTuning.threadMinWork = prevMin;
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
}

Deno.test(
  "window kernels: maxPool/avgPool 1-D, 2-D, 3-D forward and gradient equal the JS reference",
  bothPaths(() => {
    const r = rng(7);
    const ri = (lo: number, hi: number) => lo + Math.floor(((r() + 2) / 4) * (hi - lo + 1));
    let cases = 0;
    for (let trial = 0; trial < 60; trial++) {
      const nd = 1 + (trial % 3);
      const dtype = trial % 4 === 3 ? "float64" : "float32";
      const k = Array.from({ length: nd }, () => ri(1, nd === 3 ? 3 : 4));
      const s = k.map(() => ri(1, 3));
      const dil = k.map(() => ri(1, 2));
      const pMax = k.map((kk, i) => ri(0, Math.floor((dil[i] * (kk - 1) + 1) / 2)));
      const pAvg = k.map((kk) => ri(0, Math.floor(kk / 2)));
      const spatial = k.map((kk, i) => dil[i] * (kk - 1) + 1 + ri(0, nd === 3 ? 5 : 9));
      const shape = [ri(1, 2), ri(1, 3), ...spatial];
      const ceilMode = trial % 5 === 1;
      const ties = trial % 6 === 2, special = trial % 7 === 3, wide = trial % 5 === 4;
      const x = data(shape, 100 + trial, dtype, ties, special, wide);
      const what = `trial ${trial}: ${nd}-D ${dtype} x [${shape}] k [${k}] s [${s}] d [${dil}] ceil ${ceilMode}`;
      const mp = (a: NDArray) =>
        (nd === 1 ? ts.maxPool1d : nd === 2 ? ts.maxPool2d : ts.maxPool3d)(a, {
          kernelSize: k,
          stride: s,
          padding: pMax,
          dilation: dil,
          ceilMode,
          returnIndices: true,
        });
      same(`${what} maxPool`, () => {
        const o = mp(x);
        return [o.values, o.indices];
      });
      const avgOpts = { kernelSize: k, stride: s, padding: pAvg, ceilMode, countIncludePad: trial % 2 === 0 };
      const ap = (a: NDArray) => (nd === 1 ? ts.avgPool1d : nd === 2 ? ts.avgPool2d : ts.avgPool3d)(a, avgOpts);
      same(`${what} avgPool`, () => ap(x));
      // gradients via vjp (random cotangents)
      same(`${what} maxPool vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => mp(a).values, x);
        return pull(data(y.shape, 900 + trial, dtype)) as NDArray[];
      });
      same(`${what} avgPool vjp`, () => {
        const [y, pull] = ts.vjp(ap, x);
        return pull(data(y.shape, 700 + trial, dtype)) as NDArray[];
      });
      cases++;
    }
    assertEquals(cases, 60);
  }),
);

Deno.test(
  "window sums add row by row: s = 0 + (row sums along the last axis) in order, on every kernel path",
  bothPaths(() => {
    // window rows [2^60, 0, 0], [1, −2^60, 1], [0, 0, 0]: row by row 2^60 + (1 − 2^60 + 1) = 0 (1 − 2^60 rounds
    // to −2^60); tap after tap 2^60 + 1 − 2^60 + 1 = 1
    const block = (H: number, W: number, r0: number, c0: number) => {
      const v = new Float32Array(H * W);
      [[2 ** 60, 0, 0], [1, -(2 ** 60), 1]].forEach((row, i) => row.forEach((e, j) => v[(r0 + i) * W + c0 + j] = e));
      return ts.array(v, { shape: [1, 1, H, W] });
    };
    const cases: [string, NDArray, { kernelSize: number; stride: number; padding: number }, number[]][] = [
      [
        "3×3 s1 on 16×16 (row sums shared between cells)",
        block(16, 16, 5, 5),
        { kernelSize: 3, stride: 1, padding: 1 },
        [
          6,
          6,
        ],
      ],
      ["3×3 s2 on 16×16 (each cell its own rows)", block(16, 16, 5, 5), { kernelSize: 3, stride: 2, padding: 1 }, [
        3,
        3,
      ]],
      ["3×3 on 16×3 (one cell per row: the JS kernel)", block(16, 3, 5, 0), { kernelSize: 3, stride: 1, padding: 0 }, [
        5,
        0,
      ]],
    ];
    for (const [what, x, opts, [i, j]] of cases) {
      for (const b of ["js", "wasm"]) {
        const y = withBackend(b, () => ts.avgPool2d(x, opts));
        assertEquals(y.dataSync()[i * y.shape[3] + j], 0, `${what} on ${b}`);
      }
      same(what, () => ts.avgPool2d(x, opts));
    }
  }),
);

Deno.test(
  "window kernels: adaptive pools (regular and irregular bins), global max",
  bothPaths(() => {
    const r = rng(11);
    const ri = (lo: number, hi: number) => lo + Math.floor(((r() + 2) / 4) * (hi - lo + 1));
    for (let trial = 0; trial < 30; trial++) {
      const dtype = trial % 3 === 2 ? "float64" : "float32";
      const H = ri(1, 15), W = ri(1, 15);
      const oh = ri(1, Math.max(1, H + 2)), ow = ri(1, Math.max(1, W + 2));
      const x = data([ri(1, 2), ri(1, 3), H, W], 300 + trial, dtype, trial % 4 === 1, trial % 5 === 2);
      const what = `trial ${trial}: ${dtype} [${x.shape}] -> ${oh}x${ow}`;
      same(`${what} adaptiveAvgPool2d`, () => ts.adaptiveAvgPool2d(x, { outputSize: [oh, ow] }));
      same(`${what} adaptiveMaxPool2d`, () => {
        const o = ts.adaptiveMaxPool2d(x, { outputSize: [oh, ow], returnIndices: true });
        return [o.values, o.indices];
      });
      same(`${what} adaptiveAvgPool2d vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.adaptiveAvgPool2d(a, { outputSize: [oh, ow] }), x);
        return pull(data(y.shape, 500 + trial, dtype)) as NDArray[];
      });
      same(`${what} adaptiveMaxPool2d vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.adaptiveMaxPool2d(a, { outputSize: [oh, ow] }), x);
        return pull(data(y.shape, 600 + trial, dtype)) as NDArray[];
      });
      same(`${what} adaptiveAvgPool1d`, () => ts.adaptiveAvgPool1d(x.reshape([-1, H, W]), { outputSize: ow }));
      same(`${what} globalMaxPool2d`, () => ts.globalMaxPool2d(x));
    }
  }),
);

Deno.test(
  "window kernels: the benchmark geometries (2x2 s2, 3x3 s1 p1, adaptive 13->6)",
  bothPaths(() => {
    for (const dtype of ["float32", "float64"] as const) {
      const x = data([2, 3, 16, 18], 5, dtype, false, true);
      const x13 = data([2, 3, 13, 13], 6, dtype);
      same(`maxPool 2x2 ${dtype}`, () => ts.maxPool2d(x, { kernelSize: 2 }));
      same(`avgPool 3x3 s1 p1 ${dtype}`, () => ts.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 }));
      same(`adaptive 13->6 ${dtype}`, () => ts.adaptiveAvgPool2d(x13, { outputSize: 6 }));
      same(`maxPool 2x2 vjp ${dtype}`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, { kernelSize: 2 }), x);
        return pull(data(y.shape, 8, dtype)) as NDArray[];
      });
      same(`avgPool 3x3 vjp ${dtype}`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.avgPool2d(a, { kernelSize: 3, stride: 1, padding: 1 }), x);
        return pull(data(y.shape, 9, dtype)) as NDArray[];
      });
      same(`adaptive 13->6 vjp ${dtype}`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.adaptiveAvgPool2d(a, { outputSize: 6 }), x13);
        return pull(data(y.shape, 10, dtype)) as NDArray[];
      });
    }
  }),
);

Deno.test(
  "window kernels: strided windowSumT and divided window sums (strides 2-3, dilations 1-3, padding, divisor arrays and expressions)",
  bothPaths(() => {
    // regular axis: L inputs, O cells starting at s0 + s·o, k taps d apart
    const ax = (L: number, O: number, s0: number, s: number, k: number, d: number): WindowAxis => ({
      size: L,
      starts: Int32Array.from({ length: O }, (_, o) => s0 + s * o),
      counts: new Int32Array(O).fill(k),
      dilation: d,
    });
    const geoms: WindowAxis[][] = [
      [ax(13, 6, 0, 2, 3, 1)], // adaptive 13 -> 6
      [ax(9, 5, -1, 2, 3, 1), ax(17, 8, -1, 2, 3, 2)], // padding; s = d = 2
      [ax(12, 4, 0, 3, 1, 1), ax(20, 9, 0, 2, 2, 3)], // k < s: inputs no window reaches
      [ax(7, 3, 0, 3, 3, 2), ax(10, 4, -2, 3, 4, 2), ax(26, 9, 1, 3, 3, 2)], // 3-D, s = 3, d = 2
      [ax(16, 7, 0, 2, 4, 1), ax(30, 11, -1, 3, 2, 3)], // overlapping windows, ceil-mode-like overhang
    ];
    for (const [gi, axes] of geoms.entries()) {
      const O = axes.map((a) => a.starts.length), S = axes.map((a) => a.size);
      const g = data([5, ...O], 60 + gi, "float32", false, gi === 1);
      same(`geometry ${gi} windowSumT`, () => make("windowSumT", [g], { axes }, [5, ...S], "float32"));
      // a divisor array (the fused "windowSumT of div"), and one still an elementwise expression
      // (the composition: the division fuses it in double)
      const d = data(O, 70 + gi, "float32"), D = ts.array(d.abs().add(0.5).dataSync(), { shape: O });
      const sumT = (d: NDArray) => make("windowSumT", [ts.div(g, d)], { axes }, [5, ...S], "float32");
      same(`geometry ${gi} windowSumT of g / D`, () => sumT(D));
      same(`geometry ${gi} windowSumT of g / (|d| + 0.5)`, () => sumT(d.abs().add(0.5)));
      const x = data([5, ...S], 80 + gi, "float32");
      const sum = (d: NDArray) => ts.div(make("windowSum", [x], { axes }, [5, ...O], "float32"), d);
      same(`geometry ${gi} windowSum / D`, () => sum(D));
      same(`geometry ${gi} windowSum / (|d| + 0.5)`, () => sum(d.abs().add(0.5)));
      withBackend("wasm", () => {
        const log = kernelLogOf(() => sumT(D).dataSync());
        assert(log.some((l) => l.startsWith("windowSumT of div")), log.join("; "));
      });
    }
  }),
);

Deno.test(
  "window kernels: raw primitives on hand-made geometries (empty windows, all-padding, int32)",
  bothPaths(() => {
    const ax = (size: number, starts: number[], counts: number[], dilation = 1): WindowAxis => ({
      size,
      starts: Int32Array.from(starts),
      counts: Int32Array.from(counts),
      dilation,
    });
    const geoms: WindowAxis[][] = [
      [ax(5, [-3, 0, 4, 6], [2, 0, 3, 1])], // all-padding, empty, clipped and out-of-range windows
      [ax(4, [0, 1], [4, 3], 1), ax(6, [-1, 2, 5], [3, 2, 2], 2)],
      [ax(3, [0], [3]), ax(2, [0, 1], [1, 1]), ax(7, [-2, 0, 2, 4], [3, 3, 3, 3], 2)],
    ];
    for (const [gi, axes] of geoms.entries()) {
      const S = axes.map((a) => a.size), O = axes.map((a) => a.starts.length);
      for (const dtype of ["float32", "float64", "int32"] as const) {
        const x = dtype === "int32"
          ? ts.array(Int32Array.from({ length: 6 * S.reduce((a, b) => a * b) }, (_, i) => (i * 7919) % 13 - 6), {
            shape: [6, ...S],
            dtype,
          })
          : data([6, ...S], 40 + gi, dtype, gi === 1, gi === 2);
        const g = dtype === "int32" ? x : data([6, ...O], 50 + gi, dtype);
        same(`geometry ${gi} ${dtype} windowSum`, () => make("windowSum", [x], { axes }, [6, ...O], dtype));
        same(`geometry ${gi} ${dtype} windowArgmax`, () => make("windowArgmax", [x], { axes }, [6, ...O], "int32"));
        if (dtype !== "int32") {
          same(`geometry ${gi} ${dtype} windowSumT`, () => make("windowSumT", [g], { axes }, [6, ...S], dtype));
        }
      }
    }
  }),
);

Deno.test(
  "window kernels: wide rows through the SIMD interior (strides 1-3, padding, dilation, specials)",
  bothPaths(() => {
    let t = 0;
    for (const s of [1, 2, 3]) {
      for (const [k, pad, d] of [[2, 0, 1], [3, 1, 1], [3, 1, 2], [1, 0, 1], [4, 2, 1]]) {
        for (const W of [19, 24, 37]) {
          const x = data([2, 2, 7, W], 70 + t, "float32", t % 3 === 1, t % 4 === 2);
          const what = `k ${k} s ${s} p ${pad} d ${d} W ${W}`;
          same(`${what} maxPool`, () => {
            const o = ts.maxPool2d(x, { kernelSize: [2, k], stride: [1, s], padding: [1, pad], dilation: [1, d] });
            const r = ts.maxPool2d(x, {
              kernelSize: [2, k],
              stride: [1, s],
              padding: [1, pad],
              dilation: [1, d],
              returnIndices: true,
            });
            return [o, r.values, r.indices];
          });
          if (pad <= Math.floor(k / 2)) {
            same(`${what} avgPool`, () => ts.avgPool2d(x, { kernelSize: [3, k], stride: [1, s], padding: [1, pad] }));
            same(`${what} avgPool vjp`, () => {
              const [y, pull] = ts.vjp(
                (a: NDArray) => ts.avgPool2d(a, { kernelSize: [3, k], stride: [1, s], padding: [1, pad] }),
                x,
              );
              return pull(data(y.shape, 80 + t, "float32")) as NDArray[];
            });
          }
          same(`${what} maxPool vjp`, () => {
            const [y, pull] = ts.vjp(
              (a: NDArray) =>
                ts.maxPool2d(a, { kernelSize: [2, k], stride: [1, s], padding: [1, pad], dilation: [1, d] }),
              x,
            );
            return pull(data(y.shape, 90 + t, "float32")) as NDArray[];
          });
          t++;
        }
      }
    }
  }),
);

Deno.test("window kernels: the fused fast paths run (kernel log) and equal the unfused composition", () => {
  if (!has()) return;
  const x = data([2, 3, 12, 16], 21, "float32", false, true);
  withBackend("wasm", () => {
    const mp = (a: NDArray) => ts.maxPool2d(a, { kernelSize: 2 });
    const ap = (a: NDArray) => ts.avgPool2d(a, { kernelSize: 3, stride: 1, padding: 1 });
    const cases: [string, () => NDArray][] = [
      ["windowMax (gather of windowArgmax)", () => mp(x)],
      ["dense scatter at windowArgmax", () => {
        const [y, pull] = ts.vjp(mp, x);
        return (pull(data(y.shape, 3, "float32")) as NDArray[])[0];
      }],
      ["windowArgmaxT (scatterAdd at windowArgmax)", () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, { kernelSize: 3, stride: 2 }), x);
        return (pull(data(y.shape, 3, "float32")) as NDArray[])[0];
      }],
      ["windowSum/div", () => ap(x)],
      ["windowSumT of div", () => {
        const [y, pull] = ts.vjp(ap, x);
        return (pull(data(y.shape, 4, "float32")) as NDArray[])[0];
      }],
      // a cotangent that is a view (here a reshape) of a realized array is read as stored: still fused
      ["windowSumT of div", () => {
        const [y, pull] = ts.vjp(ap, x);
        return (pull(data([y.size], 4, "float32").reshape(y.shape)) as NDArray[])[0];
      }],
    ];
    for (const [name, f] of cases) {
      let fused: Float32Array | null = null;
      const log = kernelLogOf(() => void (fused = f().dataSync() as Float32Array));
      assert(log.some((l) => l.startsWith(name)), `${name} not in kernel log: ${log.join("; ")}`);
      assert(fused !== null);
    }
    // returnIndices: values and indices realized together: one argmax kernel that stores the maxima too
    const r = ts.maxPool2d(x, { kernelSize: 2, returnIndices: true });
    const log = kernelLogOf(() => ts.realizeAll([r.values, r.indices]));
    assertEquals(log.length, 1, log.join("; "));
    assert(log[0].startsWith("windowArgmax and its maxima"), log.join("; "));
    same("values with indices", () => {
      const q = ts.maxPool2d(x, { kernelSize: 2, returnIndices: true });
      ts.realizeAll([q.values, q.indices]);
      return [q.values, q.indices];
    });
  });
  // forward and backward realized together (a training step): the argmax is shared by the gather and
  // the scatter: one kernel computes it with the maxima, the scatter reads the kept indices
  const step = (): NDArray[] => {
    const w = data([8, 4], 5, "float32"); // a matmul consumes the pooled values, as a conv would
    const f = (a: NDArray) => ts.matmul(ts.maxPool2d(a, { kernelSize: 2 }).reshape([36, 8]), w).sum();
    const [v, g] = ts.valueAndGrad(f)(x);
    ts.realizeAll([v, g as NDArray]);
    return [v, g as NDArray];
  };
  withBackend("wasm", () => {
    const log = kernelLogOf(step);
    assert(log.some((l) => l.startsWith("windowArgmax and its maxima")), log.join("; "));
    assert(log.some((l) => l.startsWith("dense scatter at saved windowArgmax")), log.join("; "));
    assert(!log.some((l) => l.startsWith("windowArgmax [") || l.startsWith("windowArgmaxT")), log.join("; "));
  });
  // (the matmul's GEMM rounds differently from the JS kernel: close, not bit-identical)
  const ref = withBackend("js", () => step().map((a) => a.dataSync()));
  withBackend("wasm", () => step().forEach((a, k) => assertClose(a, ref[k], 1e-5, `value/gradient ${k}`)));
  // maxima and gradient realized together on random geometries: the JS reference's bits, on 1..3 threads (planes
  // split across workers); padded windows have no complete argmax kernel and take the max kernel
  for (const [k, st, pad, dil] of [[2, 2, 0, 1], [3, 2, 0, 1], [3, 1, 0, 2], [2, 1, 0, 1], [3, 1, 1, 1]]) {
    const opts = { kernelSize: k, stride: st, padding: pad, dilation: dil };
    const both = (): NDArray[] => {
      const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, opts), x);
      const g = (pull(data(y.shape, 9, "float32", false, true)) as NDArray[])[0];
      ts.realizeAll([y, g]);
      return [y, g];
    };
    sameOnThreads(`maxima with the gradient, k ${k} s ${st} p ${pad} d ${dil}`, both);
    const log = withBackend("wasm", () => kernelLogOf(both));
    assertEquals(log.some((l) => l.startsWith("windowArgmax and its maxima")), pad === 0, log.join("; "));
  }
  // fused (wasm) against the composition on the JS reference, forward and backward
  same("maxPool fused", () => ts.maxPool2d(x, { kernelSize: 2 }));
  same("avgPool fused", () => ts.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 }));
  // the argmax scatter onto a constant base: base + g rounded once, -0 updates onto +0, a base that is
  // not a float32 value, disjoint and overlapping windows
  const ax = (size: number, k: number, s: number): WindowAxis => ({
    size,
    starts: Int32Array.from({ length: Math.floor((size - k) / s) + 1 }, (_, i) => i * s),
    counts: new Int32Array(Math.floor((size - k) / s) + 1).fill(k),
    dilation: 1,
  });
  for (const [k, s] of [[2, 2], [3, 3], [3, 2]]) {
    const axes = [ax(12, k, s), ax(16, k, s)], O = axes.map((a) => a.starts.length);
    const g = data([2, 3, O[0] * O[1]], 6, "float32", false, true);
    for (const base of [0, 1.5, 0.1]) {
      const name = `argmax scatter k ${k} s ${s} base ${base}`;
      const f = () => {
        const am = make("windowArgmax", [x], { axes }, [2, 3, ...O], "int32");
        return ts.scatterAdd(ts.full([2, 3, 192], base), am.reshape([2, 3, O[0] * O[1]]), g, 2);
      };
      same(name, f);
      // onto +0 where the windows tile the input (2×2 stride 2 here): the dense scatter
      const dense = (b: number) => k === 2 && s === 2 && Object.is(b, 0);
      const first = dense(base) ? "dense scatter at windowArgmax" : "windowArgmaxT (scatterAdd at windowArgmax)";
      const second = dense(-base) ? "dense scatter at saved windowArgmax" : "scatterAdd at saved windowArgmax";
      const log = withBackend("wasm", () => kernelLogOf(() => void f().dataSync()));
      assert(log.some((l) => l.startsWith(first)), `${name}: ${log.join("; ")}`);
      // the first scatter leaves the indices on the argmax node; a second one (another pullback of the same
      // forward) scatters at them without the argmax
      const twice = () => {
        const am = make("windowArgmax", [x], { axes }, [2, 3, ...O], "int32");
        const at = (b: number, upd: NDArray) => ts.scatterAdd(ts.full([2, 3, 192], b), am.reshape(g.shape), upd, 2);
        return [at(base, g), at(-base, g.mul(3))];
      };
      same(`${name}, twice`, twice);
      const logs = withBackend("wasm", () => twice().map((a) => kernelLogOf(() => void a.dataSync())));
      assert(logs[0].some((l) => l.startsWith(first)), logs[0].join("; "));
      assert(logs[1].some((l) => l.startsWith(second)), logs[1].join("; "));
      assert(!logs[1].some((l) => l.startsWith("windowArgmax")), logs[1].join("; "));
    }
  }
  // a pullback called twice: the second reuses the indices and gives the same bits
  withBackend("wasm", () => {
    const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, { kernelSize: 3, stride: 2 }), x);
    const g = data(y.shape, 8, "float32");
    const first = (pull(g) as NDArray[])[0].dataSync();
    const log = kernelLogOf(() => assertEquals((pull(g) as NDArray[])[0].dataSync(), first));
    assert(log.some((l) => l.startsWith("scatterAdd at saved windowArgmax")), log.join("; "));
  });
});

Deno.test("scatterAdd fast path: unique indices, duplicates, negative indices, inner > 1, errors", () => {
  if (!has()) return;
  for (const dtype of ["float32", "float64"] as const) {
    const base = data([3, 10], 1, dtype);
    const upd = data([3, 4], 2, dtype);
    const uniq = ts.array([[0, 9, 3, -1], [1, 2, 5, 4], [7, 6, 0, -3]], { dtype: "int32" });
    const dup = ts.array([[0, 0, 3, -10], [1, 2, 5, 4], [7, 7, 7, 7]], { dtype: "int32" });
    same(`${dtype} unique`, () => ts.scatterAdd(base, uniq, upd, 1));
    same(`${dtype} duplicates`, () => ts.scatterAdd(base, dup, upd, 1));
    const b3 = data([4, 3, 2], 3, dtype), u3 = data([2, 3, 2], 4, dtype);
    const i3 = ts.array([[[0, 3], [1, 1], [2, 0]], [[3, 3], [0, 2], [1, 2]]], { dtype: "int32" });
    same(`${dtype} axis 0 (inner > 1)`, () => ts.scatterAdd(b3, i3, u3, 0));
    same(`${dtype} unpool round trip`, () => {
      const xx = data([2, 3, 6, 6], 12, dtype);
      const r = ts.maxPool2d(xx, { kernelSize: 2, returnIndices: true });
      return ts.maxUnpool2d(r.values, r.indices, { kernelSize: 2 });
    });
    const bad = ts.array([[0, 10, 3, 1], [1, 2, 5, 4], [7, 6, 0, 1]], { dtype: "int32" });
    withBackend("wasm", () => {
      assertThrows(() => ts.scatterAdd(base, bad, upd, 1).dataSync(), RangeError, "index out of range");
    });
  }
  // onto a constant base (no base buffer): rounded like the reference's float32 base, duplicates and bad
  // indices fall back to it
  for (const dtype of ["float32", "float64"] as const) {
    const upd = data([3, 4], 5, dtype);
    const uniq = ts.array([[0, 8, 3, -1], [1, 2, 5, 4], [7, 6, 0, -2]], { dtype: "int32" });
    const dup = ts.array([[0, 0, 3, 1], [1, 2, 5, 4], [7, 7, 7, 7]], { dtype: "int32" });
    same(`${dtype} constant base`, () => ts.scatterAdd(ts.full([3, 10], 0.1, { dtype }), uniq, upd, 1));
    same(`${dtype} constant base, duplicates`, () => ts.scatterAdd(ts.full([3, 10], -2.5, { dtype }), dup, upd, 1));
    withBackend("wasm", () => {
      const log = kernelLogOf(() => ts.scatterAdd(ts.zeros([3, 10], { dtype }), uniq, upd, 1).dataSync());
      assert(log.some((l) => l.startsWith("scatterAdd onto a constant")), log.join("; "));
      const bad = ts.array([[0, 10, 3, 1], [1, 2, 5, 4], [7, 6, 0, 1]], { dtype: "int32" });
      assertThrows(
        () => ts.scatterAdd(ts.zeros([3, 10], { dtype }), bad, upd, 1).dataSync(),
        RangeError,
        "out of range",
      );
    });
  }
  // the stamps must not leak across calls: the same slots in a second call are not duplicates
  const b = ts.zeros([1, 4]), u = ts.ones([1, 2]), i = ts.array([[1, 2]], { dtype: "int32" });
  withBackend("wasm", () => {
    for (let k = 0; k < 3; k++) assertEquals(Array.from(ts.scatterAdd(b, i, u, 1).dataSync()), [0, 1, 1, 0]);
  });
  assert(true);
});

Deno.test("window kernels: every thread count 1..4 gives the reference's bits (planes split across workers)", () => {
  if (!has()) return;
  const prevT = ts.getNumThreads(), prevMin = windowTuning.threadMinWork;
  windowTuning.threadMinWork = 0;
  try {
    const x = data([3, 5, 21, 26], 31, "float32", false, true);
    const x13 = data([4, 7, 13, 13], 32, "float32", true);
    // enough planes that the shares of a strided windowSumT run at the same time (each has its own double plane)
    const xBig = data([8, 64, 27, 27], 36, "float32");
    for (let T = 1; T <= 4; T++) {
      ts.setNumThreads(T);
      same(`T=${T} maxPool 2x2`, () => ts.maxPool2d(x, { kernelSize: 2 }));
      same(`T=${T} maxPool 3x3 s2 p1 indices`, () => {
        const r = ts.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, returnIndices: true });
        return [r.values, r.indices];
      });
      same(`T=${T} avgPool 3x3 s1 p1`, () => ts.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 }));
      same(`T=${T} adaptive 13->6`, () => ts.adaptiveAvgPool2d(x13, { outputSize: 6 }));
      same(`T=${T} maxPool vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, { kernelSize: 2 }), x);
        return pull(data(y.shape, 33, "float32")) as NDArray[];
      });
      same(`T=${T} maxPool vjp, a cotangent with NaN, ±0 and -Infinity`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.maxPool2d(a, { kernelSize: 2 }), x);
        return pull(data(y.shape, 38, "float32", false, true)) as NDArray[];
      });
      same(`T=${T} adaptive 13->6 vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.adaptiveAvgPool2d(a, { outputSize: 6 }), x13);
        return pull(data(y.shape, 34, "float32")) as NDArray[];
      });
      same(`T=${T} avgPool 3x3 s2 p1 vjp`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.avgPool2d(a, { kernelSize: 3, stride: 2, padding: 1 }), x);
        return pull(data(y.shape, 35, "float32")) as NDArray[];
      });
      same(`T=${T} avgPool 3x3 s2 vjp, 512 planes`, () => {
        const [y, pull] = ts.vjp((a: NDArray) => ts.avgPool2d(a, { kernelSize: 3, stride: 2 }), xBig);
        return pull(data(y.shape, 37, "float32")) as NDArray[];
      });
    }
  } finally {
    ts.setNumThreads(prevT);
    windowTuning.threadMinWork = prevMin;
    _shutdownWindowThreads();
  }
});

Deno.test("dense argmax scatter where windows tile the input: the JS reference's bits, 1..3 threads", () => {
  if (!has()) return;
  const cases: [string, number[], (a: NDArray) => NDArray, boolean][] = [
    ["2×2 stride 2", [2, 3, 8, 16], (a) => ts.maxPool2d(a, { kernelSize: 2 }), true],
    ["1×4", [2, 3, 4, 16], (a) => ts.maxPool2d(a, { kernelSize: [1, 4] }), true],
    ["2×1 (one column wide)", [2, 3, 8, 12], (a) => ts.maxPool2d(a, { kernelSize: [2, 1] }), true],
    ["2×2×2, 3-D", [1, 2, 4, 6, 8], (a) => ts.maxPool3d(a, { kernelSize: 2 }), true],
    ["rows of 6 (a half step)", [2, 3, 8, 6], (a) => ts.maxPool2d(a, { kernelSize: 2 }), true],
    ["rows of 14, 2×2", [2, 3, 6, 14], (a) => ts.maxPool2d(a, { kernelSize: 2 }), true],
    ["rows of 10, 2×1", [2, 3, 4, 10], (a) => ts.maxPool2d(a, { kernelSize: [2, 1] }), true],
    ["rows of 7 (odd)", [2, 3, 4, 7], (a) => ts.maxPool2d(a, { kernelSize: [2, 1] }), false],
    ["3 wide", [2, 3, 6, 12], (a) => ts.maxPool2d(a, { kernelSize: 3 }), false],
    ["overlapping", [2, 3, 9, 17], (a) => ts.maxPool2d(a, { kernelSize: 3, stride: 2 }), false],
  ];
  for (const [name, shape, pool, dense] of cases) {
    for (const [ties, special] of [[false, true], [true, false]]) {
      const x = data(shape, 31, "float32", ties, special);
      const grad = () => {
        const [y, pull] = ts.vjp(pool, x);
        return pull(data(y.shape, 32, "float32", false, true)) as NDArray[];
      };
      sameOnThreads(`${name} (ties ${ties}, specials ${special})`, grad);
      const log = withBackend("wasm", () => kernelLogOf(() => grad().forEach((a) => a.dataSync())));
      assertEquals(log.some((l) => l.startsWith("dense scatter")), dense, `${name}: ${log.join("; ")}`);
    }
  }
});

Deno.test("relu's backward after max pooling's as one masked dense scatter: the JS reference's bits", () => {
  if (!has()) return;
  const cases: [string, number[], (a: NDArray) => NDArray, boolean][] = [
    ["relu, 2×2", [2, 3, 8, 16], (a) => ts.maxPool2d(ts.relu(a), { kernelSize: 2 }), true],
    ["relu, 2×2, rows of 14", [2, 3, 6, 14], (a) => ts.maxPool2d(ts.relu(a), { kernelSize: 2 }), true],
    ["relu, overlapping windows", [2, 3, 9, 17], (a) => ts.maxPool2d(ts.relu(a), { kernelSize: 3, stride: 2 }), false],
    // not relu's condition: where(x > 0.5, x, 0) is not masked by its output
    ["threshold 0.5", [2, 3, 8, 16], (a) => ts.maxPool2d(ts.where(ts.greater(a, 0.5), a, 0), { kernelSize: 2 }), false],
  ];
  for (const [name, shape, f, masked] of cases) {
    for (const [ties, special] of [[false, true], [true, false]]) {
      const x = data(shape, 41, "float32", ties, special);
      const both = (): NDArray[] => {
        const [y, pull] = ts.vjp(f, x);
        const g = (pull(data(y.shape, 42, "float32", false, true)) as NDArray[])[0];
        ts.realizeAll([y, g]);
        return [y, g];
      };
      sameOnThreads(`${name} (ties ${ties}, specials ${special})`, both);
      const log = withBackend("wasm", () => kernelLogOf(both));
      assertEquals(log.some((l) => l.includes("masked by the relu")), masked, `${name}: ${log.join("; ")}`);
    }
  }
});
