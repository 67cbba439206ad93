import { assert, assertThrows } from "@std/assert";
import { checkGrad } from "../ops/testing.ts";
import { type FixtureCase, loadCases } from "./_fixtures.ts";
import * as ts from "../mod.ts";
import type { ConvPadding, NDArray } from "../mod.ts";

// ------------------------------------------------------------ helpers

function rng(seed: number): () => number {
  let s = seed * 7919 + 17;
  return () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  };
}

function rand(shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = r();
  return ts.array(v, { shape, dtype });
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert(a.length === b.length, `${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i]))) {
      throw new Error(`${what}: element ${i}: got ${a[i]}, expected ${b[i]} (|diff| ${d})`);
    }
  }
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Naive nested-loop N-D conv (cross-correlation) with per-side padding. */
function naiveConv(
  x: NDArray,
  w: NDArray,
  stride: number[],
  pads: [number, number][],
  dil: number[],
  groups: number,
): { data: Float64Array; shape: number[] } {
  const xs = x.shape, ws = w.shape, r = xs.length - 2;
  const [N, Cin] = xs, [Cout, Cig] = ws;
  const S = xs.slice(2), K = ws.slice(2);
  const O = S.map((L, i) => Math.floor((L + pads[i][0] + pads[i][1] - dil[i] * (K[i] - 1) - 1) / stride[i]) + 1);
  const xd = x.dataSync(), wd = w.dataSync();
  const Osz = O.reduce((a, b) => a * b, 1), Ksz = K.reduce((a, b) => a * b, 1);
  const Ssz = S.reduce((a, b) => a * b, 1);
  const out = new Float64Array(N * Cout * Osz);
  const unravel = (f: number, dims: number[]): number[] => {
    const idx = new Array(dims.length);
    for (let i = dims.length - 1; i >= 0; i--) {
      idx[i] = f % dims[i];
      f = Math.floor(f / dims[i]);
    }
    return idx;
  };
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Cout; o++) {
      const g = Math.floor(o / (Cout / groups));
      for (let p = 0; p < Osz; p++) {
        const pi = unravel(p, O);
        let s = 0;
        for (let c = 0; c < Cig; c++) {
          for (let t = 0; t < Ksz; t++) {
            const ti = unravel(t, K);
            let flat = 0, ok = true;
            for (let a = 0; a < r; a++) {
              const i = pi[a] * stride[a] + ti[a] * dil[a] - pads[a][0];
              if (i < 0 || i >= S[a]) ok = false;
              flat = flat * S[a] + i;
            }
            if (!ok) continue;
            s += xd[(n * Cin + g * Cig + c) * Ssz + flat] * wd[(o * Cig + c) * Ksz + t];
          }
        }
        out[(n * Cout + o) * Osz + p] = s;
      }
    }
  }
  return { data: out, shape: [N, Cout, ...O] };
}

const convFns = [ts.conv1d, ts.conv2d, ts.conv3d];
const convTFns = [ts.convTranspose1d, ts.convTranspose2d, ts.convTranspose3d];

interface Case {
  r: number;
  N: number;
  Cin: number;
  Cout: number;
  G: number;
  S: number[];
  K: number[];
  stride: number[];
  dil: number[];
  pad: number[];
}

function randomCase(seed: number, r: number): Case {
  const u = rng(seed);
  const ri = (lo: number, hi: number) => lo + Math.floor(((u() + 1) / 2) * (hi - lo + 1) * 0.9999);
  const G = ri(1, 2);
  const K = Array.from({ length: r }, () => ri(1, 3));
  const dil = Array.from({ length: r }, () => ri(1, 2));
  const pad = Array.from({ length: r }, () => ri(0, 2));
  const stride = Array.from({ length: r }, () => ri(1, 3));
  const S = K.map((k, i) => dil[i] * (k - 1) + 1 + ri(0, r === 3 ? 3 : 6));
  return { r, N: ri(1, 2), Cin: G * ri(1, 3), Cout: G * ri(1, 3), G, S, K, stride, dil, pad };
}

// ------------------------------------------------------------ forward vs naive

Deno.test("conv: direct algorithm matches a naive nested-loop reference (1-D/2-D/3-D)", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = randomCase(seed, 1 + (seed % 3));
    const x = rand([c.N, c.Cin, ...c.S], seed), w = rand([c.Cout, c.Cin / c.G, ...c.K], seed + 100);
    const y = convFns[c.r - 1](x, w, {
      stride: c.stride,
      padding: c.pad,
      dilation: c.dil,
      groups: c.G,
      algorithm: "direct",
    });
    const ref = naiveConv(x, w, c.stride, c.pad.map((p) => [p, p]), c.dil, c.G);
    assert(JSON.stringify(y.shape) === JSON.stringify(ref.shape), `shape ${y.shape} vs ${ref.shape}`);
    close(y.dataSync(), ref.data, 1e-12, 1e-12, `case ${seed}`);
  }
});

Deno.test("conv: direct, im2col, winograd and auto agree", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = randomCase(seed + 50, 1 + (seed % 3));
    const x = rand([c.N, c.Cin, ...c.S], seed), w = rand([c.Cout, c.Cin / c.G, ...c.K], seed + 100);
    const opts = { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.G };
    const f = convFns[c.r - 1];
    const ref = f(x, w, { ...opts, algorithm: "direct" }).dataSync();
    for (const algorithm of ["im2col", "auto"] as const) {
      close(f(x, w, { ...opts, algorithm }).dataSync(), ref, 1e-12, 1e-12, `${algorithm} case ${seed}`);
    }
  }
  // winograd: 2-D 3x3 stride 1, padding variants, odd sizes, groups
  for (
    const [pad, H, W, G, Cin, Cout] of [[0, 5, 5, 1, 2, 3], [1, 7, 6, 1, 3, 2], [2, 4, 9, 2, 4, 6], [
      [1, 2],
      6,
      5,
      1,
      1,
      1,
    ]] as const
  ) {
    const x = rand([2, Cin, H, W], H * W), w = rand([Cout, Cin / G, 3, 3], H + W);
    const padding: ConvPadding = typeof pad === "number" ? pad : [[pad[0], pad[1]], [pad[1], pad[0]]];
    const ref = ts.conv2d(x, w, { padding, groups: G, algorithm: "direct" }).dataSync();
    const got = ts.conv2d(x, w, { padding, groups: G, algorithm: "winograd" }).dataSync();
    close(got, ref, 1e-12, 1e-12, `winograd pad ${pad}`);
  }
  // big enough for auto to pick winograd
  const x = rand([1, 8, 10, 10], 3), w = rand([8, 8, 3, 3], 4);
  close(
    ts.conv2d(x, w, { padding: 1 }).dataSync(),
    ts.conv2d(x, w, { padding: 1, algorithm: "direct" }).dataSync(),
    1e-12,
    1e-12,
    "auto winograd",
  );
  // float32 output
  const y32 = ts.conv2d(ts.cast(x, "float32"), ts.cast(w, "float32"), { padding: 1, algorithm: "winograd" });
  assert(y32.dtype === "float32");
  close(y32.dataSync(), ts.conv2d(x, w, { padding: 1 }).dataSync(), 1e-4, 1e-5, "winograd f32");
});

Deno.test("conv: 'same' and per-side padding", () => {
  const x = rand([2, 3, 9, 8], 1), w = rand([4, 3, 4, 3], 2);
  const y = ts.conv2d(x, w, { padding: "same", dilation: [1, 2] });
  assert(JSON.stringify(y.shape) === "[2,4,9,8]");
  // torch: total = d(k-1): h: 3 -> (1,2), w: 4 -> (2,2)
  close(y.dataSync(), naiveConv(x, w, [1, 1], [[1, 2], [2, 2]], [1, 2], 1).data, 1e-12, 1e-12, "same torch");
  const yt = ts.conv2d(x, w, { padding: "same", convention: "tf", stride: 2 });
  assert(JSON.stringify(yt.shape) === "[2,4,5,4]");
  // tf: h out 5, total = 4*2+4-9 = 3 -> (1,2); w out 4, total = 3*2+3-8 = 1 -> (0,1)
  close(yt.dataSync(), naiveConv(x, w, [2, 2], [[1, 2], [0, 1]], [1, 1], 1).data, 1e-12, 1e-12, "same tf");
  const yp = ts.conv2d(x, w, { padding: [[0, 3], [2, 1]], stride: [2, 1] });
  close(yp.dataSync(), naiveConv(x, w, [2, 1], [[0, 3], [2, 1]], [1, 1], 1).data, 1e-12, 1e-12, "pairs");
  const yv = ts.conv2d(x, w, { padding: "valid" });
  close(yv.dataSync(), naiveConv(x, w, [1, 1], [[0, 0], [0, 0]], [1, 1], 1).data, 1e-12, 1e-12, "valid");
});

// ------------------------------------------------------------ layouts

function toLast(a: NDArray): NDArray {
  const r = a.ndim;
  return ts.transpose(a, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);
}
function kFirstToLast(w: NDArray): NDArray {
  const r = w.ndim - 2; // [A, B, *K] -> [*K, B, A]
  return ts.transpose(w, [...Array.from({ length: r }, (_, i) => i + 2), 1, 0]);
}

Deno.test("conv: NHWC equals NCHW after transposes (conv, convTranspose, depthwise, separable)", () => {
  for (let r = 1; r <= 3; r++) {
    const S = [7, 6, 5].slice(0, r);
    const x = rand([2, 4, ...S], r), w = rand([6, 2, ...Array(r).fill(3)], r + 10), b = rand([6], r + 20);
    const opts = { stride: 2, padding: 1, groups: 2, bias: b };
    const ref = toLast(convFns[r - 1](x, w, opts)).dataSync();
    const got = convFns[r - 1](toLast(x), kFirstToLast(w), { ...opts, dataFormat: "NHWC" }).dataSync();
    close(got, ref, 1e-12, 1e-12, `conv${r}d NHWC`);
    const wt = rand([4, 3, ...Array(r).fill(3)], r + 30);
    const topts = { stride: 2, padding: 1, outputPadding: 1, groups: 2, bias: b };
    const tref = toLast(convTFns[r - 1](x, wt, topts)).dataSync();
    const tgot = convTFns[r - 1](toLast(x), kFirstToLast(wt), { ...topts, dataFormat: "NHWC" }).dataSync();
    close(tgot, tref, 1e-12, 1e-12, `convTranspose${r}d NHWC`);
  }
  const x = rand([2, 3, 7, 8], 1), dw = rand([6, 1, 3, 3], 2), pw = rand([5, 6, 1, 1], 3), b = rand([5], 4);
  const xl = toLast(x);
  const dwl = ts.transpose(ts.reshape(dw, [3, 2, 3, 3]), [2, 3, 0, 1]); // [kH, kW, C, m]
  const pwl = ts.transpose(pw, [2, 3, 1, 0]);
  close(
    ts.depthwiseConv2d(xl, dwl, { stride: 2, padding: 1, dataFormat: "NHWC" }).dataSync(),
    toLast(ts.depthwiseConv2d(x, dw, { stride: 2, padding: 1 })).dataSync(),
    1e-12,
    1e-12,
    "depthwise NHWC",
  );
  close(
    ts.separableConv2d(xl, dwl, pwl, { padding: "same", bias: b, dataFormat: "NHWC" }).dataSync(),
    toLast(ts.separableConv2d(x, dw, pw, { padding: "same", bias: b })).dataSync(),
    1e-12,
    1e-12,
    "separable NHWC",
  );
});

Deno.test("conv: depthwise = grouped conv, separable = depthwise + pointwise, spatially separable", () => {
  const x = rand([1, 3, 8, 7], 5), dw = rand([6, 1, 3, 2], 6), pw = rand([4, 6, 1, 1], 7), b = rand([4], 8);
  close(
    ts.depthwiseConv2d(x, dw, { stride: 2, dilation: 2, depthMultiplier: 2 }).dataSync(),
    naiveConv(x, dw, [2, 2], [[0, 0], [0, 0]], [2, 2], 3).data,
    1e-12,
    1e-12,
    "depthwise",
  );
  const mid = ts.depthwiseConv2d(x, dw, { padding: 1 });
  close(
    ts.separableConv2d(x, dw, pw, { padding: 1, bias: b }).dataSync(),
    ts.conv2d(mid, pw, { bias: b }).dataSync(),
    1e-12,
    1e-12,
    "separable",
  );
  const v = rand([5, 3, 3, 1], 9), h = rand([2, 5, 1, 3], 10);
  const y = ts.spatiallySeparableConv2d(x, v, h, { padding: 1, stride: 2 });
  const ref = ts.conv2d(ts.conv2d(x, v, { padding: [1, 0], stride: [2, 1] }), h, { padding: [0, 1], stride: [1, 2] });
  close(y.dataSync(), ref.dataSync(), 1e-12, 1e-12, "spatially separable");
});

// ------------------------------------------------------------ adjoints

Deno.test("convTranspose is the exact adjoint of conv: <conv(x,w), y> = <x, convT(y,w)>", () => {
  for (let seed = 1; seed <= 24; seed++) {
    const c = randomCase(seed + 200, 1 + (seed % 3));
    const S = c.S;
    const x = rand([c.N, c.Cout, ...S], seed); // conv input has Cout channels here
    const w = rand([c.Cin, c.Cout / c.G, ...c.K], seed + 1); // conv weight [Cin, Cout/G, *K] = convT weight
    const opts = { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.G };
    const y0 = convFns[c.r - 1](x, w, opts);
    const O = y0.shape.slice(2);
    // outputPadding so that the transposed output has the conv input's size
    const outputPadding = O.map((o, i) => S[i] - ((o - 1) * c.stride[i] - 2 * c.pad[i] + c.dil[i] * (c.K[i] - 1) + 1));
    if (outputPadding.some((p, i) => p >= Math.max(c.stride[i], c.dil[i]))) continue;
    const y = rand(y0.shape, seed + 2);
    for (const algorithm of ["direct", "im2col"] as const) {
      const xt = convTFns[c.r - 1](y, w, { ...opts, outputPadding, algorithm });
      assert(JSON.stringify(xt.shape) === JSON.stringify(x.shape), `shape ${xt.shape} vs ${x.shape}`);
      const lhs = dot(convFns[c.r - 1](x, w, { ...opts, algorithm }).dataSync(), y.dataSync());
      const rhs = dot(x.dataSync(), xt.dataSync());
      assert(Math.abs(lhs - rhs) <= 1e-10 * (1 + Math.abs(lhs)), `case ${seed} ${algorithm}: ${lhs} vs ${rhs}`);
    }
  }
});

Deno.test("unfold/fold are adjoint and match the SPEC formula", () => {
  const opts = { kernelSize: [2, 3], dilation: [2, 1], padding: [1, 2], stride: [2, 3] };
  const x = rand([2, 3, 7, 8], 1);
  const u = ts.unfold(x, opts);
  const oH = Math.floor((7 + 2 - 2 - 1) / 2) + 1, oW = Math.floor((8 + 4 - 2 - 1) / 3) + 1;
  assert(JSON.stringify(u.shape) === JSON.stringify([2, 18, oH * oW]));
  const ud = u.dataSync(), xd = x.dataSync();
  for (let n = 0; n < 2; n++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          for (let oh = 0; oh < oH; oh++) {
            for (let ow = 0; ow < oW; ow++) {
              const h = oh * 2 + i * 2 - 1, w = ow * 3 + j - 2;
              const e = h >= 0 && h < 7 && w >= 0 && w < 8 ? xd[((n * 3 + c) * 7 + h) * 8 + w] : 0;
              const got = ud[(n * 18 + c * 6 + i * 3 + j) * oH * oW + oh * oW + ow];
              assert(got === e, `unfold mismatch at ${[n, c, i, j, oh, ow]}`);
            }
          }
        }
      }
    }
  }
  const y = rand(u.shape, 2);
  const f = ts.fold(y, { ...opts, outputSize: [7, 8] });
  assert(JSON.stringify(f.shape) === "[2,3,7,8]");
  const lhs = dot(ud, y.dataSync()), rhs = dot(xd, f.dataSync());
  assert(Math.abs(lhs - rhs) < 1e-10, `${lhs} vs ${rhs}`);
  // overlaps are summed
  const ones = ts.fold(ts.unfold(ts.ones([1, 1, 3, 3]), { kernelSize: 2 }), { outputSize: [3, 3], kernelSize: 2 });
  assert(JSON.stringify(ones.toArray()) === "[[[[1,2,1],[2,4,2],[1,2,1]]]]");
});

// ------------------------------------------------------------ gradients (central differences)

// checkGrad: per element up to 400 elements, along random directions beyond
const fdCheck = (f: (...xs: NDArray[]) => NDArray, inputs: NDArray[]) =>
  checkGrad(f, inputs, { perElementLimit: 400, rtol: 1e-6, atol: 1e-7 });

Deno.test("conv ops: checkGrad in float64 over a spread of options", () => {
  const x2 = rand([2, 4, 6, 7], 1), w2 = rand([6, 2, 3, 2], 2), b6 = rand([6], 3);
  fdCheck((x, w, b) => ts.conv2d(x, w, { bias: b, stride: 2, padding: 1, dilation: [1, 2], groups: 2 }), [x2, w2, b6]);
  fdCheck((x, w) => ts.conv2d(x, w, { padding: "same", convention: "tf", stride: 2 }), [x2, rand([3, 4, 3, 3], 4)]);
  fdCheck((x, w) => ts.conv2d(x, w, { padding: 1, algorithm: "winograd" }), [x2, rand([3, 4, 3, 3], 5)]);
  fdCheck((x, w) => ts.conv1d(x, w, { stride: 3, padding: 2 }), [rand([2, 3, 11], 6), rand([2, 3, 4], 7)]);
  fdCheck((x, w) => ts.conv3d(x, w, { stride: 2, padding: 1, groups: 2 }), [
    rand([1, 4, 4, 5, 4], 8),
    rand([2, 2, 2, 3, 2], 9),
  ]);
  fdCheck((x, w, b) => ts.convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: 1, groups: 2, bias: b }), [
    rand([1, 4, 3, 4], 10),
    rand([4, 3, 3, 3], 11),
    b6,
  ]);
  fdCheck((x, w) => ts.convTranspose1d(x, w, { dilation: 3, outputPadding: 2 }), [
    rand([1, 2, 5], 12),
    rand([2, 3, 2], 13),
  ]);
  fdCheck((x, w) => ts.convTranspose3d(x, w, { stride: 2 }), [rand([1, 2, 2, 3, 2], 14), rand([2, 1, 2, 2, 2], 15)]);
  fdCheck((x, w) => ts.depthwiseConv2d(x, w, { stride: 2, padding: "same", convention: "tf" }), [
    rand([1, 3, 7, 6], 16),
    rand([6, 1, 3, 3], 17),
  ]);
  fdCheck((x, d, p) => ts.separableConv2d(x, d, p, { padding: 1 }), [
    rand([1, 2, 5, 5], 18),
    rand([4, 1, 3, 3], 19),
    rand([3, 4, 1, 1], 20),
  ]);
  fdCheck((x) => ts.unfold(x, { kernelSize: 3, stride: 2, padding: 1 }), [rand([1, 2, 6, 5], 21)]);
  fdCheck((x) => ts.fold(x, { outputSize: [6, 5], kernelSize: 3, stride: 2, padding: 1 }), [rand([1, 18, 9], 22)]);
});

// ------------------------------------------------------------ errors

Deno.test("conv ops: clear errors", () => {
  const x = ts.ones([1, 4, 5, 5]);
  assertThrows(() => ts.conv2d(ts.ones([4, 5, 5]), ts.ones([2, 4, 3, 3])), Error, "conv2d: x must be 4-D");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 3, 3, 3])), Error, "conv2d: weight must have Cin/groups = 4");
  assertThrows(() => ts.conv2d(x, ts.ones([3, 2, 3, 3]), { groups: 2 }), Error, "divisible by groups");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 7, 3])), Error, "kernel larger than padded input");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 3, 3]), { padding: "same", stride: 2 }), Error, "requires stride 1");
  assertThrows(
    () => ts.conv2d(x, ts.ones([2, 4, 3, 3]), { dataFormat: "NCWH" as "NCHW" }),
    Error,
    "dataFormat must be",
  );
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 3, 3]), { stride: 0 }), Error, "stride must be");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 3, 3]), { bias: ts.ones([3]) }), Error, "bias must have shape [2]");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 5, 5]), { algorithm: "winograd" }), Error, "winograd");
  assertThrows(() => ts.conv2d(x, ts.ones([2, 4, 3, 3]), { algorithm: "winograd", stride: 2 }), Error, "stride 1");
  assertThrows(
    () => ts.convTranspose2d(x, ts.ones([4, 2, 3, 3]), { stride: 2, outputPadding: 2 }),
    Error,
    "outputPadding must be smaller",
  );
  assertThrows(() => ts.convTranspose2d(x, ts.ones([3, 2, 3, 3])), Error, "weight axis 0 must equal");
  assertThrows(
    () => ts.convTranspose2d(x, ts.ones([4, 2, 3, 3]), { algorithm: "winograd" }),
    Error,
    "applies only to forward",
  );
  assertThrows(() => ts.depthwiseConv2d(x, ts.ones([6, 1, 3, 3])), Error, "depthwiseConv2d: weight must have shape");
  assertThrows(() => ts.depthwiseConv2d(x, ts.ones([8, 1, 3, 3]), { depthMultiplier: 3 }), Error, "depthMultiplier");
  assertThrows(() => ts.fold(ts.ones([1, 9, 5]), { outputSize: [4, 4], kernelSize: 3 }), Error, "fold: x axis 2");
  assertThrows(() => ts.fold(ts.ones([1, 10, 4]), { outputSize: [4, 4], kernelSize: 3 }), Error, "divisible");
  assertThrows(
    () => ts.conv2d(ts.ones([1, 4, 5, 5], { dtype: "int32" }), ts.ones([2, 4, 3, 3])),
    TypeError,
    "float dtype",
  );
});

Deno.test("convOutputSize / convTransposeOutputSize", () => {
  assert(ts.convOutputSize(32, 3, { stride: 2, padding: 1 }) === 16);
  assert(ts.convOutputSize(10, 3, { dilation: 2 }) === 6);
  assert(ts.convTransposeOutputSize(16, 3, { stride: 2, padding: 1, outputPadding: 1 }) === 32);
});

// ------------------------------------------------------------ PyTorch fixtures

const fixtureOps: Record<string, (...args: unknown[]) => NDArray> = {
  conv1d: ts.conv1d as never,
  conv2d: ts.conv2d as never,
  conv3d: ts.conv3d as never,
  convTranspose1d: ts.convTranspose1d as never,
  convTranspose2d: ts.convTranspose2d as never,
  convTranspose3d: ts.convTranspose3d as never,
  depthwiseConv2d: ts.depthwiseConv2d as never,
  separableConv2d: ts.separableConv2d as never,
  unfold: ts.unfold as never,
  fold: ts.fold as never,
  deformConv2d: ts.deformConv2d as never,
};

/** Build the call: positional inputs (not named by an option) then options with tensors substituted. */
function fixtureCall(
  c: FixtureCase,
  dtype: "float32" | "float64",
): { names: string[]; arrays: NDArray[]; f: (...xs: NDArray[]) => NDArray } {
  const named = new Set(Object.values(c.options).filter((v) => typeof v === "string" && v in c.inputs) as string[]);
  const names = Object.keys(c.inputs);
  const arrays = names.map((k) => ts.array(c.inputs[k].data, { shape: c.inputs[k].shape, dtype }));
  const fn = fixtureOps[c.op];
  const f = (...xs: NDArray[]): NDArray => {
    const byName = Object.fromEntries(names.map((k, i) => [k, xs[i]]));
    const opts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c.options)) opts[k] = typeof v === "string" && v in c.inputs ? byName[v] : v;
    const pos = names.filter((k) => !named.has(k)).map((k) => byName[k]);
    return fn(...pos, opts);
  };
  return { names, arrays, f };
}

const fixtures = loadCases("conv.json").filter((c) => c.op in fixtureOps);

Deno.test({
  name: `conv fixtures (PyTorch 1.13): forward in float64 and float32 (${fixtures.length} cases)`,
  fn() {
    for (const c of fixtures) {
      for (const [dtype, rtol, atol] of [["float64", 1e-9, 1e-12], ["float32", 1e-4, 1e-5]] as const) {
        const { arrays, f } = fixtureCall(c, dtype);
        const y = f(...arrays);
        assert(
          JSON.stringify(y.shape) === JSON.stringify(c.output.shape),
          `${c.name}: shape ${y.shape} vs ${c.output.shape}`,
        );
        assert(y.dtype === dtype, `${c.name}: dtype ${y.dtype}`);
        close(y.dataSync(), c.output.data, rtol, atol, `${c.name} ${dtype}`);
      }
    }
  },
});

Deno.test({
  name: `conv fixtures (PyTorch 1.13): VJPs in float64 (${fixtures.length} cases)`,
  fn() {
    for (const c of fixtures) {
      const { names, arrays, f } = fixtureCall(c, "float64");
      const [, pullback] = ts.vjp(f, ...arrays);
      const grads = pullback(ts.array(c.cotangent.data, { shape: c.cotangent.shape, dtype: "float64" })) as NDArray[];
      names.forEach((k, i) => {
        const e = c.grads[k];
        if (!e) return;
        assert(JSON.stringify(grads[i].shape) === JSON.stringify(e.shape), `${c.name} grad ${k} shape`);
        close(grads[i].dataSync(), e.data, 1e-9, 1e-12, `${c.name} grad ${k}`);
      });
    }
  },
});

Deno.test("deformConv2d: zero offsets = conv2d, NHWC = NCHW, VJPs match central differences", () => {
  const x = rand([2, 4, 6, 5], 1), w = rand([6, 2, 3, 3], 2), b = rand([6], 3);
  const z = ts.zeros([2, 2 * 2 * 9, 6, 5], { dtype: "float64" });
  close(
    ts.deformConv2d(x, z, w, { padding: 1, bias: b }).dataSync(),
    ts.conv2d(x, w, { padding: 1, groups: 2, bias: b }).dataSync(),
    1e-12,
    1e-12,
    "zero offsets",
  );
  const off = ts.mul(rand([2, 36, 6, 5], 4), 1.7), m = rand([2, 18, 6, 5], 5);
  const ref = ts.deformConv2d(x, off, w, { padding: 1, mask: m, bias: b });
  const got = ts.deformConv2d(toLast(x), toLast(off), kFirstToLast(w), {
    padding: 1,
    mask: toLast(m),
    bias: b,
    dataFormat: "NHWC",
  });
  close(got.dataSync(), toLast(ref).dataSync(), 1e-12, 1e-12, "deform NHWC");
  fdCheck(
    (x, o, w, m) => ts.deformConv2d(x, o, w, { stride: 2, padding: 1, mask: m }),
    [rand([1, 2, 5, 5], 6), ts.mul(rand([1, 18, 3, 3], 7), 1.3), rand([3, 2, 3, 3], 8), rand([1, 9, 3, 3], 9)],
  );
  assertThrows(
    () => ts.deformConv2d(x, ts.zeros([2, 10, 6, 5]), w, { padding: 1 }),
    Error,
    "deformConv2d: offset must have shape",
  );
  assertThrows(() => ts.deformConv2d(x, z, w, { padding: 1, groups: 1 }), Error, "groups 1 disagrees");
});

Deno.test("conv gradient kernels: direct and im2col agree (convGradInput, convGradWeight)", () => {
  for (let seed = 1; seed <= 18; seed++) {
    const c = randomCase(seed + 400, 1 + (seed % 3));
    const x = rand([c.N, c.Cin, ...c.S], seed), w = rand([c.Cout, c.Cin / c.G, ...c.K], seed + 1);
    const opts = { stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.G };
    const f = convFns[c.r - 1];
    const run = (algorithm: "direct" | "im2col") => {
      const [y, pull] = ts.vjp((a: NDArray, b: NDArray) => f(a, b, { ...opts, algorithm }), x, w);
      return (pull(rand(y.shape, seed + 2)) as NDArray[]).map((g) => g.dataSync());
    };
    const [dxD, dwD] = run("direct"), [dxI, dwI] = run("im2col");
    close(dxI, dxD, 1e-12, 1e-12, `dx case ${seed}`);
    close(dwI, dwD, 1e-12, 1e-12, `dw case ${seed}`);
  }
});
