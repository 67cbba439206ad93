// The "wasm" convolution kernels (ops/_wasm_conv.ts) against the JS reference
// kernels: forward, input gradient and weight gradient (reached through vjp)
// on random 1-D/2-D/3-D geometries, and bit-identical for every thread count.
import { assert, assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { kernelLogOf, withBackend } from "./_util.ts";
import type { ConvPadding, NDArray } from "../mod.ts";
import { tuning } from "../ops/_wasm_gemm.ts";
import { tuning as convTuning } from "../ops/_wasm_conv.ts";
import { depthwiseTuning } from "../ops/_wasm_depthwise.ts";
import { winogradTuning } from "../ops/_wasm_winograd.ts";
import { epilogueInHeap, epilogueJs, type OutputEpilogue } from "../ops/_wasm_epilogue.ts";
import { growWasmHeap } from "../ops/_wasm_heap.ts";
import { col2imTuning } from "../ops/_wasm_col2im.ts";

function rng(seed: number): () => number {
  let s = (seed * 7919 + 17) % 2147483647;
  return () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  };
}

function rand(shape: number[], seed: number, dtype: "float32" | "float64" = "float32"): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = r();
  return ts.array(v, { shape, dtype });
}

/** |a - b| <= rtol·(|b| + max|b|) elementwise (max|b| absorbs cancellation in long sums). */
function close(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  assertEquals(a.length, b.length, `${what}: length`);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= rtol * (Math.abs(b[i]) + m) + 1e-30)) {
      throw new Error(`${what}: element ${i}: got ${a[i]}, expected ${b[i]} (|diff| ${d}, max ${m})`);
    }
  }
}

type ConvFn = (x: NDArray, w: NDArray, o: ts.ConvOptions) => NDArray;
const convFns: ConvFn[] = [ts.conv1d, ts.conv2d, ts.conv3d];

interface Case {
  r: number;
  N: number;
  Cin: number;
  Cout: number;
  S: number[];
  K: number[];
  opts: ts.ConvOptions;
}

/** y, dx, dw of one case on one backend (float32 unless the inputs say otherwise). */
function run(c: Case, seed: number, dtype: "float32" | "float64" = "float32"): Float64Array[] {
  const G = c.opts.groups ?? 1;
  const x = rand([c.N, c.Cin, ...c.S], seed, dtype), w = rand([c.Cout, c.Cin / G, ...c.K], seed + 1, dtype);
  const f = (x: NDArray, w: NDArray) => convFns[c.r - 1](x, w, c.opts);
  const [y, pullback] = ts.vjp(f, x, w);
  const cot = rand(y.shape as number[], seed + 2, dtype);
  const [dx, dw] = pullback(cot) as NDArray[];
  ts.realizeAll([y, dx, dw]);
  return [y, dx, dw].map((a) => Float64Array.from(a.dataSync()));
}

function compare(c: Case, seed: number, what: string): void {
  const ref = withBackend("js", () => run(c, seed));
  const got = withBackend("wasm", () => run(c, seed));
  ["y", "dx", "dw"].forEach((n, i) => close(got[i], ref[i], 1e-4, `${what} ${n}`));
}

function randomCase(seed: number, r: number): Case {
  const u = rng(seed);
  const ri = (lo: number, hi: number) => lo + Math.floor(((u() + 1) / 2) * (hi - lo + 1) * 0.9999);
  const G = ri(1, 3);
  const K = Array.from({ length: r }, () => ri(1, r === 3 ? 3 : 4));
  const dil = Array.from({ length: r }, () => ri(1, 2));
  const stride = Array.from({ length: r }, () => ri(1, 3));
  const S = K.map((k, i) => dil[i] * (k - 1) + 1 + ri(0, r === 3 ? 4 : 9));
  let padding: ConvPadding;
  const kind = ri(0, 2);
  if (kind === 0) padding = Array.from({ length: r }, () => ri(0, 2));
  else if (kind === 1) padding = Array.from({ length: r }, () => [ri(0, 2), ri(0, 3)] as [number, number]);
  else padding = "same";
  return {
    r,
    N: ri(1, 3),
    Cin: G * ri(1, 4),
    Cout: G * ri(1, 4),
    S,
    K,
    opts: { stride, dilation: dil, padding, convention: "tf", groups: G },
  };
}

Deno.test("wasm conv: forward, input and weight gradients equal the JS reference on random geometries", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const c = randomCase(seed, 1 + (seed % 3));
    compare(c, seed, `case ${seed} ${JSON.stringify(c)}`);
  }
});

Deno.test("wasm conv: images split into blocks of output rows (small scratch budgets) equal the JS reference", () => {
  const prev = { ...convTuning }, prevC2i = col2imTuning.budget;
  try {
    for (const [batchBudget, block] of [[1, 1], [64, 200], [5000, 700], [300, 1 << 20]]) {
      Object.assign(convTuning, { batchBudget, block });
      col2imTuning.budget = batchBudget; // the wasm col2im: one image per chunk .. all
      for (let seed = 61; seed <= 90; seed++) {
        const c = randomCase(seed, 1 + (seed % 3));
        compare(c, seed, `budget ${batchBudget}/${block} case ${seed} ${JSON.stringify(c)}`);
      }
      const big: Case = {
        r: 2,
        N: 2,
        Cin: 5,
        Cout: 6,
        S: [13, 11],
        K: [3, 3],
        opts: { padding: [[1, 2], [2, 0]], dilation: [1, 2] },
      };
      compare(big, 7, `budget ${batchBudget}/${block} 3x3`);
      compare({ ...big, K: [3, 5], opts: { stride: [2, 1], padding: 1 } }, 8, `budget ${batchBudget}/${block} 3x5`);
      // unit strides (implicit GEMM): 1-D, 2-D with dilation, grouped; 3-D that must not take that path
      compare(
        { r: 1, N: 2, Cin: 3, Cout: 4, S: [23], K: [4], opts: { padding: [[3, 1]], dilation: 2 } },
        11,
        "1-D unit",
      );
      compare(
        { r: 2, N: 2, Cin: 4, Cout: 6, S: [9, 12], K: [2, 3], opts: { groups: 2, padding: [[0, 1], [3, 2]] } },
        12,
        "2-D g",
      );
      compare({ r: 3, N: 2, Cin: 2, Cout: 3, S: [1, 5, 6], K: [1, 3, 3], opts: { padding: 1 } }, 13, "3-D unit");
      compare(
        { r: 3, N: 1, Cin: 2, Cout: 3, S: [1, 5, 6], K: [1, 3, 3], opts: { padding: [0, 1, 1] } },
        14,
        "3-D flat",
      );
      const pw: Case = { r: 2, N: 3, Cin: 6, Cout: 9, S: [4, 5], K: [1, 1], opts: { groups: 3 } };
      compare(pw, 9, `budget ${batchBudget}/${block} grouped pointwise`);
      compare({ ...pw, K: [2, 2], opts: { groups: 3, padding: 1 } }, 10, `budget ${batchBudget}/${block} grouped 2x2`);
    }
  } finally {
    Object.assign(convTuning, prev);
    col2imTuning.budget = prevC2i;
  }
});

Deno.test('wasm conv: padding "same" (tf) with stride 2 (negative implied padAfter), odd sizes', () => {
  for (const [S, K, s, d] of [[8, 1, 2, 1], [8, 3, 2, 1], [9, 3, 2, 1], [7, 2, 2, 2], [10, 4, 3, 1], [5, 3, 2, 2]]) {
    for (const r of [1, 2, 3]) {
      if (r === 3 && S > 8) continue;
      const c: Case = {
        r,
        N: 2,
        Cin: 3,
        Cout: 5,
        S: Array(r).fill(S),
        K: Array(r).fill(K),
        opts: { stride: s, dilation: d, padding: "same", convention: "tf" },
      };
      compare(c, S * 10 + K + r, `same S${S} K${K} s${s} d${d} r${r}`);
    }
  }
});

Deno.test("wasm conv: pointwise, depthwise, grouped and forced im2col paths", () => {
  const cases: Case[] = [
    // 1x1 pointwise, plain and grouped
    { r: 2, N: 3, Cin: 6, Cout: 4, S: [5, 7], K: [1, 1], opts: {} },
    { r: 2, N: 2, Cin: 6, Cout: 9, S: [4, 3], K: [1, 1], opts: { groups: 3 } },
    { r: 1, N: 2, Cin: 4, Cout: 4, S: [9], K: [1], opts: { stride: 2 } },
    // depthwise (direct float32 loops), with a channel multiplier, strides, dilation
    { r: 2, N: 2, Cin: 5, Cout: 5, S: [9, 8], K: [3, 3], opts: { groups: 5, padding: 1 } },
    { r: 2, N: 1, Cin: 4, Cout: 8, S: [7, 7], K: [3, 2], opts: { groups: 4, stride: [2, 1], dilation: [1, 2] } },
    { r: 1, N: 2, Cin: 3, Cout: 3, S: [11], K: [5], opts: { groups: 3, padding: [[2, 1]], stride: 3 } },
    { r: 3, N: 1, Cin: 2, Cout: 2, S: [4, 5, 6], K: [2, 3, 3], opts: { groups: 2, padding: [1, 0, 2] } },
    // depthwise forced onto the GEMM path
    { r: 2, N: 2, Cin: 5, Cout: 5, S: [6, 6], K: [3, 3], opts: { groups: 5, padding: 1, algorithm: "im2col" } },
    // grouped with several channels per group, stride and dilation
    { r: 2, N: 2, Cin: 8, Cout: 12, S: [10, 9], K: [3, 3], opts: { groups: 4, stride: 2, dilation: 2, padding: 2 } },
    // one image, many output positions
    { r: 2, N: 1, Cin: 3, Cout: 7, S: [17, 13], K: [3, 5], opts: { padding: [[1, 2], [0, 3]] } },
    // kernel as large as the padded input (one output position)
    { r: 2, N: 3, Cin: 2, Cout: 3, S: [3, 4], K: [5, 4], opts: { padding: [[1, 1], [0, 0]] } },
  ];
  cases.forEach((c, i) => compare(c, 100 + i, `case ${i} ${JSON.stringify(c)}`));
});

Deno.test("wasm conv: depthwise direct loops (three-tap rows, edges, dilation, narrow inputs) equal the JS reference", () => {
  let seed = 300;
  for (const W of [1, 2, 3, 4, 7, 12]) {
    for (const [dil, pad] of [[1, [1, 1]], [2, [2, 2]], [1, [0, 2]], [2, [[1, 0], [3, 1]]], [1, 0]] as const) {
      for (const m of [1, 2]) {
        const S = [5, W];
        const padded = pad as unknown as number[] | number;
        const c: Case = {
          r: 2,
          N: 2,
          Cin: 3,
          Cout: 3 * m,
          S,
          K: [3, 3],
          opts: { groups: 3, dilation: [1, dil], padding: padded as ConvPadding },
        };
        const span = dil * 2 + 1;
        const total = typeof pad === "number" ? 2 * pad : Array.isArray(pad[1]) ? 4 : (pad[1] as number) * 2;
        if (W + total < span) continue;
        compare(c, seed++, `depthwise W${W} dil${dil} pad${JSON.stringify(pad)} m${m}`);
      }
    }
  }
  compare({ r: 1, N: 2, Cin: 4, Cout: 4, S: [9], K: [3], opts: { groups: 4, padding: [[2, 0]] } }, 1, "depthwise 1-D");
  compare(
    { r: 3, N: 1, Cin: 2, Cout: 4, S: [3, 4, 6], K: [2, 2, 3], opts: { groups: 2, padding: 1 } },
    2,
    "depthwise 3-D",
  );
});

Deno.test("wasm conv: transposed convolutions, unfold and fold agree with the JS reference", () => {
  const x = rand([2, 6, 5, 7], 7), w = rand([6, 2, 3, 3], 8);
  for (const o of [{ stride: 2, padding: 1, outputPadding: 1 }, { stride: 1, groups: 3 }, { stride: 3, dilation: 2 }]) {
    const f = (x: NDArray, w: NDArray) => ts.convTranspose2d(x, w, o);
    const go = (name: string) =>
      withBackend(name, () => {
        const [y, pb] = ts.vjp(f, x, w);
        const [dx, dw] = pb(rand(y.shape as number[], 9)) as NDArray[];
        return [y, dx, dw].map((a) => Float64Array.from(a.dataSync()));
      });
    const ref = go("js"), got = go("wasm");
    ["y", "dx", "dw"].forEach((n, i) => close(got[i], ref[i], 1e-4, `convTranspose2d ${JSON.stringify(o)} ${n}`));
  }
  const u = (name: string) =>
    withBackend(name, () => {
      const cols = ts.unfold(x, { kernelSize: [2, 3], stride: [1, 2], padding: 1 });
      const back = ts.fold(cols, { outputSize: [5, 7], kernelSize: [2, 3], stride: [1, 2], padding: 1 });
      return [cols.dataSync(), back.dataSync()];
    });
  const ur = u("js"), ug = u("wasm");
  close(ug[0], ur[0], 1e-6, "unfold");
  close(ug[1], ur[1], 1e-6, "fold");
});

Deno.test("wasm conv: forced direct and float64 run the JS reference exactly; forced Winograd agrees with it", () => {
  const base: Case = { r: 2, N: 2, Cin: 4, Cout: 6, S: [8, 8], K: [3, 3], opts: { padding: 1 } };
  const direct = { ...base, opts: { ...base.opts, algorithm: "direct" as const } };
  const ref = withBackend("js", () => run(direct, 5)), got = withBackend("wasm", () => run(direct, 5));
  for (let i = 0; i < 3; i++) assertEquals(got[i], ref[i], `direct output ${i}`);
  compare({ ...base, opts: { ...base.opts, algorithm: "winograd" } }, 5, "forced winograd");
  const ref64 = withBackend("js", () => run(base, 6, "float64")),
    got64 = withBackend("wasm", () => run(base, 6, "float64"));
  for (let i = 0; i < 3; i++) assertEquals(got64[i], ref64[i], `float64 output ${i}`);
});

Deno.test("wasm conv: Winograd F(2x2, 3x3) and F(4x4, 3x3) forward, input and weight gradients equal the JS reference", () => {
  const prev = { ...convTuning }, prevWino = { ...winogradTuning };
  try {
    Object.assign(convTuning, { winogradMinChannels: 0, winogradMinPixels: 0 });
    let seed = 700;
    for (const [budget, tile] of [[1, 2], [20000, 2], [1 << 23, 2], [1, 4], [20000, 4], [1 << 23, 4]] as const) {
      Object.assign(winogradTuning, { budget, tile }); // one image per chunk, a few, all
      for (
        const [N, Cin, Cout, S, pad] of [
          [3, 3, 5, [7, 9], 1],
          [2, 8, 4, [8, 8], 0],
          [2, 5, 7, [11, 6], 2],
          [4, 6, 3, [5, 13], [[1, 0], [0, 2]]],
          [1, 2, 2, [3, 3], 1],
          [2, 16, 9, [17, 10], 1],
        ] as [number, number, number, number[], ConvPadding][]
      ) {
        compare(
          { r: 2, N, Cin, Cout, S, K: [3, 3], opts: { padding: pad } },
          seed++,
          `winograd F${tile} ${budget} S${S}`,
        );
      }
      // dilated: one undilated Winograd convolution per dilation phase (output sizes not multiples of the dilation,
      // phases without outputs, per-axis dilations, negative transposed padding in the input gradient)
      for (
        const [N, Cin, Cout, S, dil, pad] of [
          [2, 4, 5, [12, 12], 2, 2],
          [1, 3, 6, [13, 17], [2, 3], [1, 4]],
          [2, 5, 4, [11, 9], 3, 0],
          [3, 4, 4, [10, 15], [1, 2], [[2, 0], [1, 2]]],
          [1, 2, 3, [8, 9], 4, 4],
          [1, 3, 2, [9, 9], 5, 1],
        ] as [number, number, number, number[], number | number[], ConvPadding][]
      ) {
        const c = { r: 2, N, Cin, Cout, S, K: [3, 3], opts: { padding: pad, dilation: dil } };
        compare(c, seed++, `dilated winograd F${tile} ${budget} S${S} d${dil}`);
      }
    }
  } finally {
    Object.assign(convTuning, prev);
    Object.assign(winogradTuning, prevWino);
  }
});

Deno.test("wasm conv: Winograd float32 results stay within the documented error of the float64 reference", () => {
  const prev = { ...winogradTuning };
  try {
    const u = rng(41);
    const x = Float64Array.from({ length: 2 * 32 * 20 * 20 }, u), w = Float64Array.from({ length: 16 * 32 * 9 }, u);
    const gy = Float64Array.from({ length: 2 * 16 * 20 * 20 }, u);
    const f = (x: NDArray, w: NDArray) => ts.conv2d(x, w, { padding: 1, algorithm: "winograd" });
    const run = (dtype: "float32" | "float64") => {
      const [y, pb] = ts.vjp(
        f,
        ts.array(x, { dtype }).reshape([2, 32, 20, 20]),
        ts.array(w, { dtype }).reshape([16, 32, 3, 3]),
      );
      const [dx, dw] = pb(ts.array(gy, { dtype }).reshape([2, 16, 20, 20])) as NDArray[];
      return [y, dx, dw].map((a) => Float64Array.from(a.dataSync() as ArrayLike<number>));
    };
    const ref = withBackend("js", () => run("float64"));
    for (const [tile, bound] of [[2, 2e-6], [4, 2e-5]] as const) {
      winogradTuning.tile = tile;
      const got = withBackend("wasm", () => run("float32"));
      ["y", "dx", "dw"].forEach((n, i) => {
        let err = 0, max = 0;
        for (let k = 0; k < ref[i].length; k++) {
          err = Math.max(err, Math.abs(got[i][k] - ref[i][k]));
          max = Math.max(max, Math.abs(ref[i][k]));
        }
        assert(err <= bound * max, `F${tile} ${n}: error ${err} above ${bound} of the largest output ${max}`);
        assert(err > 0 || tile === 2, `F${tile} ${n}: exact result means the Winograd path did not run`);
      });
    }
  } finally {
    Object.assign(winogradTuning, prev);
  }
});

Deno.test("wasm conv: implicit GEMM (gathered patch rows) at unit strides equals the JS reference", () => {
  const prev = { ...convTuning };
  try {
    for (const implicitBudget of [1, 3000, 1 << 22]) {
      Object.assign(convTuning, { implicitMin: 0, implicitBudget });
      for (let seed = 91; seed <= 120; seed++) {
        const c = randomCase(seed, 1 + (seed % 2));
        c.opts.stride = 1;
        compare(c, seed, `budget ${implicitBudget} case ${seed} ${JSON.stringify(c)}`);
      }
      // padding beyond the kernel's reach (negative padding in the transposed problem), dilation, groups
      compare(
        { r: 2, N: 3, Cin: 4, Cout: 6, S: [7, 9], K: [3, 2], opts: { padding: [[4, 0], [1, 3]], dilation: [1, 2] } },
        121,
        "wide pads",
      );
      compare({ r: 2, N: 2, Cin: 6, Cout: 4, S: [8, 8], K: [3, 3], opts: { groups: 2, padding: "same" } }, 122, "g2");
      compare({ r: 1, N: 2, Cin: 3, Cout: 5, S: [30], K: [5], opts: { padding: 2, dilation: 3 } }, 123, "1-D");
    }
  } finally {
    Object.assign(convTuning, prev);
  }
});

Deno.test("wasm conv: non-finite inputs give the JS reference's Inf/NaN pattern in every gradient", () => {
  const prev = { ...convTuning }, prevBudget = winogradTuning.budget;
  try {
    // (Winograd too: it must step aside for non-finite data)
    Object.assign(convTuning, { implicitMin: 0, winogradMinChannels: 0, winogradMinPixels: 0 });
    const cases: [number[], number, number][] = [
      [[6, 50], 1, 1 << 23], // last column of a row (only some taps reach it), a NaN
      [[2 * 126 - 1], 1, 1], // the last float of the second image (a later chunk; the check's scalar tail)
      [[130], 2, 1], // dilated
    ];
    for (const [at, dil, budget] of cases) {
      winogradTuning.budget = budget;
      const x = rand([2, 3, 6, 7], 5).dataSync().slice();
      at.forEach((i, k) => x[i] = k === 0 ? Infinity : NaN);
      const xa = ts.array(x, { shape: [2, 3, 6, 7] }), w = rand([4, 3, 3, 3], 6);
      const go = () => {
        const [y, pb] = ts.vjp((x: NDArray, w: NDArray) => ts.conv2d(x, w, { dilation: dil, padding: dil }), xa, w);
        return [y, ...(pb(ts.onesLike(y)) as NDArray[])].map((a) => Float64Array.from(a.dataSync()));
      };
      const ref = withBackend("js", go), got = withBackend("wasm", go);
      for (let k = 0; k < 3; k++) {
        got[k].forEach((v, i) => {
          const r = ref[k][i];
          assert(
            Number.isFinite(r) ? Math.abs(v - r) <= 1e-4 * (1 + Math.abs(r)) : Object.is(v, r),
            `Inf/NaN at ${at}, dilation ${dil}: output ${k}[${i}]: ${v} vs ${r}`,
          );
        });
      }
    }
  } finally {
    Object.assign(convTuning, prev);
    winogradTuning.budget = prevBudget;
  }
});

Deno.test("wasm conv: SIMD depthwise kernels (strides, dilations, multipliers, kernel sizes, 1-D, first layers) equal the JS reference", () => {
  let seed = 500;
  for (
    const [S, K, stride, dil, pad, m] of [
      [[13, 17], [3, 3], [2, 2], [1, 1], 1, 1],
      [[12, 11], [3, 3], [1, 3], [1, 1], [[1, 0], [2, 1]], 2],
      [[9, 14], [5, 5], [1, 1], [2, 1], 4, 1],
      [[10, 10], [7, 7], [1, 1], [1, 1], 3, 3],
      [[11, 9], [2, 4], [3, 2], [1, 2], 0, 2],
      [[20, 20], [8, 8], [1, 1], [1, 1], 0, 1], // 64 taps: the JS direct loops
    ] as [number[], number[], number[], number[], ConvPadding, number][]
  ) {
    const c: Case = {
      r: 2,
      N: 2,
      Cin: 5,
      Cout: 5 * m,
      S,
      K,
      opts: { groups: 5, stride, dilation: dil, padding: pad },
    };
    compare(c, seed++, `depthwise S${S} K${K} s${stride} d${dil} p${JSON.stringify(pad)} m${m}`);
  }
  compare({ r: 1, N: 3, Cin: 6, Cout: 12, S: [37], K: [5], opts: { groups: 6, stride: 2, padding: 2 } }, 7, "1-D s2");
  // one input channel and no groups (a network's first layer) takes the same kernels
  compare({ r: 2, N: 4, Cin: 1, Cout: 16, S: [28, 28], K: [3, 3], opts: { padding: 1 } }, 8, "first layer");
});

Deno.test("wasm conv: bit-identical results for every thread count 1..4", () => {
  const prevThreads = ts.getNumThreads(), prevMin = tuning.threadMinFlops, prevDw = depthwiseTuning.threadMinWork;
  const prevC2i = col2imTuning.threadMinWork;
  tuning.threadMinFlops = 1; // thread even the small GEMMs, depthwise and col2im kernels
  depthwiseTuning.threadMinWork = 1;
  col2imTuning.threadMinWork = 1;
  try {
    const cases: Case[] = [
      { r: 2, N: 3, Cin: 16, Cout: 24, S: [19, 21], K: [3, 3], opts: { padding: 1 } },
      {
        r: 2,
        N: 2,
        Cin: 12,
        Cout: 18,
        S: [15, 16],
        K: [3, 3],
        opts: { groups: 3, stride: 2, padding: "same", convention: "tf" },
      },
      { r: 2, N: 4, Cin: 32, Cout: 16, S: [9, 9], K: [1, 1], opts: {} },
      { r: 2, N: 2, Cin: 8, Cout: 8, S: [12, 12], K: [3, 3], opts: { groups: 8, padding: 1 } },
      { r: 2, N: 3, Cin: 8, Cout: 16, S: [15, 13], K: [3, 3], opts: { groups: 8, stride: 2, padding: 1 } },
      { r: 2, N: 3, Cin: 16, Cout: 24, S: [12, 14], K: [3, 3], opts: { padding: 1, algorithm: "winograd" } },
      {
        r: 2,
        N: 3,
        Cin: 16,
        Cout: 20,
        S: [13, 16],
        K: [3, 3],
        opts: { padding: 2, dilation: 2, algorithm: "winograd" },
      },
      { r: 3, N: 2, Cin: 4, Cout: 6, S: [6, 7, 5], K: [3, 3, 2], opts: { dilation: [1, 2, 1], padding: 1 } },
      { r: 2, N: 3, Cin: 5, Cout: 7, S: [13, 11], K: [3, 2], opts: { stride: [2, 3], padding: 1, dilation: [1, 2] } },
      { r: 2, N: 3, Cin: 1, Cout: 16, S: [14, 13], K: [3, 3], opts: { padding: 1 } }, // a first layer's filters split
    ];
    cases.forEach((c, i) => {
      ts.setNumThreads(1);
      const one = withBackend("wasm", () => run(c, 40 + i));
      for (let T = 2; T <= 4; T++) {
        ts.setNumThreads(T);
        const got = withBackend("wasm", () => run(c, 40 + i));
        for (let k = 0; k < 3; k++) {
          assert(got[k].every((v, j) => Object.is(v, one[k][j])), `case ${i} output ${k}: ${T} threads differ from 1`);
        }
      }
      const ref = withBackend("js", () => run(c, 40 + i));
      ["y", "dx", "dw"].forEach((n, k) => close(one[k], ref[k], 1e-4, `case ${i} ${n}`));
    });
  } finally {
    tuning.threadMinFlops = prevMin;
    depthwiseTuning.threadMinWork = prevDw;
    col2imTuning.threadMinWork = prevC2i;
    ts.setNumThreads(prevThreads);
  }
});

Deno.test("wasm depthwise: the weight gradient reuses the output gradient the input gradient left in the heap only while it is still there", () => {
  const u = rng(77);
  const arr = (shape: number[]) =>
    ts.array(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, u)).reshape(shape);
  const x = arr([2, 8, 12, 12]), w = arr([8, 1, 3, 3]), gy1 = arr([2, 8, 12, 12]), gy2 = arr([2, 8, 12, 12]);
  const a = arr([40, 30]), b = arr([30, 50]);
  const f = (x: NDArray, w: NDArray) => ts.depthwiseConv2d(x, w, { padding: 1 });
  const grads = (gy: NDArray, which: number[]) => {
    const [, pb] = ts.vjp(f, x, w);
    const g = pb(gy) as NDArray[];
    ts.realizeAll(which.map((i) => g[i]));
    return g.map((t) => t.dataSync());
  };
  const ref1 = withBackend("js", () => grads(gy1, [0, 1])), ref2 = withBackend("js", () => grads(gy2, [0, 1]));
  withBackend("wasm", () => {
    const prev = depthwiseTuning.threadMinWork;
    try {
      for (const threadMinWork of [Infinity, 0]) {
        depthwiseTuning.threadMinWork = threadMinWork;
        // dx then dw for gy1 (reused), dw alone for gy2 (another array: copied)
        let g = grads(gy1, [0, 1]);
        close(g[0], ref1[0], 1e-5, "dx gy1");
        close(g[1], ref1[1], 1e-5, "dw gy1 after dx");
        close(grads(gy2, [1])[1], ref2[1], 1e-5, "dw gy2 after gy1");
        // dx for gy1, then another kernel overwrites the heap, then dw for gy1: copied again
        g = grads(gy1, [0]);
        close(g[0], ref1[0], 1e-5, "dx gy1 again");
        ts.matmul(a, b).dataSync();
        close(grads(gy1, [1])[1], ref1[1], 1e-5, "dw gy1 after a matmul");
      }
    } finally {
      depthwiseTuning.threadMinWork = prev;
    }
  });
});

Deno.test("wasm conv: bias and relu as the kernels' epilogue equal the composition bit for bit on 1..3 threads", () => {
  const prev = [ts.getNumThreads(), tuning.threadMinFlops, depthwiseTuning.threadMinWork, winogradTuning.tile] as const;
  tuning.threadMinFlops = 1;
  depthwiseTuning.threadMinWork = 1;
  // [Cin, Cout, size, options, whether a kernel takes the epilogue, a NaN in x]
  const cases: [number, number, number[], ts.ConvOptions, boolean, boolean?][] = [
    [1, 16, [14, 13], { padding: 1 }, true], // a first layer (depthwise kernels, filters split)
    [8, 16, [9, 11], { padding: 1, groups: 8 }, true], // depthwise, two outputs per channel
    [16, 24, [12, 14], { padding: 1 }, true], // Winograd (automatic)
    [16, 20, [13, 16], { padding: 2, dilation: 2 }, true], // Winograd by phases, columns zipped
    [16, 20, [13, 16], { padding: 3, dilation: 3 }, true], // Winograd by phases, strided
    [4, 6, [10, 9], { padding: 1, algorithm: "winograd" }, true], // forced Winograd
    [8, 16, [7, 7], {}, true], // pointwise: the GEMM on the input
    [3, 16, [30, 29], { padding: 1 }, true], // a first layer of 3 channels: implicit GEMM
    [8, 12, [15, 13], { stride: 2, padding: 1 }, true], // strided: im2col + GEMM
    [8, 12, [15, 13], { padding: 2, groups: 2, algorithm: "im2col" }, true], // grouped, forced im2col
    [8, 12, [9, 10], { padding: 1, algorithm: "direct" }, false], // forced direct: the JS reference, composed
    [1, 16, [14, 13], { padding: 1 }, true, true], // NaN through the depthwise kernels' epilogue: relu gives +0
    [16, 24, [12, 14], { padding: 1 }, true, true], // non-finite data: automatic Winograd declines, the GEMM takes it
  ];
  try {
    cases.forEach(([Cin, Cout, S, opts, taken, nan], i) => {
      const G = opts.groups ?? 1;
      const xv = rand([2, Cin, ...S], 70 + i).dataSync() as Float32Array;
      // exact zeros (outputs ±0 before the bias), a -0 bias and one that cancels an output's sign
      xv.fill(0, 0, S[0] * S[1]);
      if (nan) xv[S[0] * S[1] + 5] = NaN;
      const x = ts.array(xv, { shape: [2, Cin, ...S] }), w = rand([Cout, Cin / G, 3, 3], 80 + i);
      const b = ts.array(Array.from({ length: Cout }, (_, k) => k === 0 ? -0 : k === 1 ? 0 : (k % 3) - 1 + k / 64), {
        dtype: "float32",
      });
      const bc = b.reshape([Cout, 1, 1]);
      const variants: [string, (c: NDArray) => NDArray, () => NDArray][] = [
        ["bias + relu", (c) => c.add(bc).relu(), () => ts.conv2d(x, w, { ...opts, bias: b }).relu()],
        ["bias", (c) => c.add(bc), () => ts.conv2d(x, w, { ...opts, bias: b })],
        ["relu", (c) => c.relu(), () => ts.conv2d(x, w, opts).relu()],
        ["bias first", (c) => bc.add(c).relu(), () => bc.add(ts.conv2d(x, w, opts)).relu()],
      ];
      for (const tile of (opts.algorithm ?? "auto") === "auto" && Cin === 16 ? [2, 4] as const : [0] as const) {
        winogradTuning.tile = tile;
        for (const [name, after, fused] of variants) {
          const what = `case ${i} (tile ${tile}) ${name}`;
          const expected = withBackend("wasm", () => {
            const c = ts.conv2d(x, w, opts);
            c.dataSync(); // materialized first: the plain kernel, then the elementwise kernel
            return after(c).dataSync();
          });
          for (let T = 1; T <= 3; T++) {
            ts.setNumThreads(T);
            let got: ArrayLike<number> = [];
            const log = withBackend("wasm", () => kernelLogOf(() => got = fused().dataSync()));
            assert(Array.from(got).every((v, j) => Object.is(v, expected[j])), `${what}, ${T} threads`);
            assertEquals(log.some((l) => l.startsWith("conv with its")), taken, `${what}: ${log.join("; ")}`);
          }
        }
      }
    });
  } finally {
    ts.setNumThreads(prev[0]);
    [tuning.threadMinFlops, depthwiseTuning.threadMinWork, winogradTuning.tile] = [prev[1], prev[2], prev[3]];
  }
});

Deno.test("wasm conv: relu's backward reads the relu's values, so a conv + bias + relu stack computes each convolution once", () => {
  const x = rand([2, 1, 12, 12], 90), w1 = rand([16, 1, 3, 3], 91), w2 = rand([16, 16, 3, 3], 92);
  const b1 = rand([16], 93), b2 = rand([16], 94);
  const loss = (w1: NDArray, b1: NDArray, w2: NDArray, b2: NDArray) => {
    const h = ts.conv2d(x, w1, { bias: b1, padding: 1 }).relu();
    return ts.conv2d(h, w2, { bias: b2, padding: 1 }).relu().square().sum();
  };
  const grads = () => {
    const [v, g] = ts.valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(w1, b1, w2, b2);
    ts.realizeAll([v, ...g]);
    return [v, ...g].map((t) => t.dataSync());
  };
  const ref = withBackend("js", grads);
  let got: ArrayLike<number>[] = [];
  const log = withBackend("wasm", () => kernelLogOf(() => got = grads()));
  const forwards = log.filter((l) => l.startsWith("conv with its") || l.startsWith("conv ["));
  assertEquals(forwards.length, 2, log.join("; "));
  ["loss", "dw1", "db1", "dw2", "db2"].forEach((n, k) => close(got[k], ref[k], 1e-4, n));
  // relu's gradient at -1, -0, +0, NaN, 2 after the relu was realized on its own (its condition now reads y)
  for (const backend of ["js", "wasm"]) {
    withBackend(backend, () => {
      const [y, pull] = ts.vjp(ts.relu, ts.array([-1, -0, 0, NaN, 2], { dtype: "float32" }));
      y.dataSync();
      assertEquals(Array.from((pull(ts.ones([5])) as NDArray[])[0].dataSync()), [0, 0, 0, 0, 1], backend);
    });
  }
});

Deno.test("wasm conv: the epilogue's JS fallback equals its wasm function (specials, a -0 bias, relu on and off)", () => {
  const specials = [NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -2, 2];
  const v = Float32Array.from({ length: 203 }, (_, i) => i < specials.length ? specials[i] : Math.sin(i) * 4);
  const bias = Float32Array.from([-0, 0.5, -3.4e38, 1]);
  for (const relu of [false, true]) {
    for (const b of [bias, null]) {
      if (!b && !relu) continue;
      const epi: OutputEpilogue = { bias: b, relu, plane: 50, channels: 4 };
      const js = v.slice();
      for (let o = 0; o < js.length; o += 50) epilogueJs(epi, js, o, Math.min(50, js.length - o));
      const heap = growWasmHeap(64 + v.length * 4)!, at = 64;
      new Float32Array(heap.buffer, at, v.length).set(v);
      for (let o = 0; o < v.length; o += 50) epilogueInHeap(epi, at + o * 4, Math.min(50, v.length - o), o);
      const wasm = new Float32Array(heap.buffer, at, v.length);
      assert(js.every((x, i) => Object.is(x, wasm[i])), `relu ${relu}, bias ${b !== null}`);
    }
  }
});

Deno.test("wasm conv: the epilogue on 1-D and 3-D convolutions (GEMM and depthwise) equals the composition", () => {
  const cases: [typeof ts.conv1d, number[], number[], ts.ConvOptions][] = [
    [ts.conv1d, [2, 4, 30], [6, 4, 3], { padding: 1 }],
    [ts.conv1d, [2, 4, 30], [4, 1, 3], { padding: 1, groups: 4 }],
    [ts.conv3d, [2, 4, 6, 7, 5], [6, 4, 3, 3, 2], { padding: 1 }],
  ];
  cases.forEach(([conv, xs, ws, opts], i) => {
    const x = rand(xs, 100 + i), w = rand(ws, 110 + i), b = rand([ws[0]], 120 + i);
    const expected = withBackend("wasm", () => {
      const c = conv(x, w, opts);
      c.dataSync();
      return c.add(b.reshape([ws[0], ...Array(xs.length - 2).fill(1)])).relu().dataSync();
    });
    let got: ArrayLike<number> = [];
    const log = withBackend("wasm", () => kernelLogOf(() => got = conv(x, w, { ...opts, bias: b }).relu().dataSync()));
    assert(Array.from(got).every((v, j) => Object.is(v, expected[j])), `case ${i}`);
    assert(log.some((l) => l.startsWith("conv with its bias and relu")), log.join("; "));
  });
});
