// The fused elementwise wasm kernels (ops/_wasm_fuse.ts) against the JS
// kernels: bit-identical on random expressions over views, with NaN, ±Inf and
// ±0 in the data, odd and size-1 extents; unsupported parts fall back to JS.
import { assert, assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { tuning } from "../ops/_wasm_fuse.ts";
import { reduceTuning } from "../ops/_wasm_reduce.ts";
import { rng, withBackend } from "./_util.ts";

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5];
/** Uniform values in [0, 1) from the shared seeded generator. */
const unit = (seed: number): () => number => {
  const r = rng(seed);
  return () => (r() + 2) / 4;
};
function data(shape: number[], seed: number): NDArray {
  const r = unit(seed), n = shape.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, () => {
    const u = r();
    return u < 0.1 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : (r() * 2 - 1) * (u < 0.5 ? 1 : 100);
  });
  return ts.array(v, { shape });
}

/** f's result and kernel log on one backend. */
function runOn(backend: string, f: () => NDArray): { out: Float32Array; log: string[] } {
  return withBackend(backend, () => {
    ts.setDebug(true);
    try {
      const out = f().dataSync() as Float32Array;
      return { out, log: ts.kernelLog() };
    } finally {
      ts.setDebug(false);
    }
  });
}

function same(f: () => NDArray, what: string, wantWasm = true): void {
  const prev = tuning.minSize;
  tuning.minSize = 0;
  try {
    const js = runOn("js", f), wasm = runOn("wasm", f);
    assertEquals(wasm.out.length, js.out.length, what);
    for (let i = 0; i < js.out.length; i++) {
      assert(Object.is(wasm.out[i], js.out[i]), `${what}: element ${i}: wasm ${wasm.out[i]}, js ${js.out[i]}`);
    }
    const used = wasm.log.some((l) => l.startsWith("fused wasm"));
    assertEquals(used, wantWasm, `${what}: ${wasm.log.join("; ")}`);
  } finally {
    tuning.minSize = prev;
  }
}

const UNARY: ((a: NDArray) => NDArray)[] = [
  ts.neg,
  ts.abs,
  ts.sqrt,
  ts.reciprocal,
  ts.floor,
  ts.ceil,
  ts.sign,
  ts.relu,
  ts.square,
  (a) => ts.where(ts.isNaN(a), 7, a),
  (a) => ts.where(ts.isFinite(a), a, -3),
  (a) => ts.cast(ts.greater(a, 0.25), "float32"),
  (a) => ts.where(ts.logicalNot(ts.less(a, 0)), a, ts.mul(a, 0.01)),
];
const BINARY: ((a: NDArray, b: NDArray) => NDArray)[] = [
  ts.add,
  ts.sub,
  ts.mul,
  ts.div,
  ts.maximum,
  ts.minimum,
  (a, b) => ts.where(ts.lessEqual(a, b), a, b),
  (a, b) => ts.where(ts.logicalAnd(ts.greaterEqual(a, 0), ts.notEqual(b, 0)), a, b),
  (a, b) => ts.where(ts.logicalOr(ts.equal(a, b), ts.greater(b, 1)), b, -0),
  (a, b) => ts.where(ts.logicalXor(ts.less(a, 0), ts.less(b, 0)), 1, a),
  (a, b) => ts.where(ts.cast(a, "bool"), b, 2),
];

Deno.test("wasm fuse: random elementwise expressions are bit-identical to the JS kernels", () => {
  const shapes = [[3, 5, 7, 11], [2, 9], [4097], [1, 6, 1, 5]];
  for (let seed = 1; seed <= 40; seed++) {
    const r = unit(seed), shape = shapes[seed % shapes.length];
    const x = data(shape, seed), y = data(shape, seed + 100);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const ops = Array.from({ length: 4 }, () => [pick(UNARY), pick(BINARY), r() < 0.5] as const);
    const f = () => {
      let v = x;
      for (const [u, b, other] of ops) v = b(u(v), other ? y : v);
      return v;
    };
    same(f, `seed ${seed} shape ${shape}`);
  }
});

Deno.test("wasm fuse: views (transpose, broadcast, strided slice, reshape) and materialized bool inputs", () => {
  const x = data([4, 6, 10], 1), col = data([4, 1, 10], 2), row = data([10], 3);
  same(() => ts.add(ts.transpose(x, [2, 0, 1]), 1), "transpose");
  same(() => ts.mul(x, col).sub(row), "broadcast");
  same(() => ts.maximum(ts.slice(x, [[0, 4, 2], [1, 6, 2], [9, null, -3]]), 0), "strided slice");
  same(() => ts.reshape(ts.reshape(x, [24, 10]).add(row), [4, 6, 10]).div(3), "reshape");
  // not affine in the root's loop indices: the JS kernels
  same(() => ts.relu(ts.reshape(ts.transpose(x, [1, 0, 2]), [6, 40])), "reshape of a transpose", false);
  // a comparison used twice is materialized as a bool buffer, then read as a mask
  same(() => {
    const m = ts.greater(x, 0);
    m.dataSync();
    return ts.where(m, x, ts.cast(m, "float32"));
  }, "bool buffer");
  same(() => ts.add(ts.cast(ts.arange(240).reshape([4, 6, 10]), "float32"), x), "int32 leaf cast to float32");
  same(() => ts.reshape(x, [240]).mul(2).add(ts.full([1], -0)), "odd flat length");
});

Deno.test("wasm fuse: every thread count 1..4 gives the JS kernels' bits (outer loop rows split across workers)", () => {
  const prevT = ts.getNumThreads(), prevMin = tuning.threadMinSize;
  tuning.threadMinSize = 0;
  try {
    const x = data([7, 5, 33], 11), col = data([7, 1, 33], 12), row = data([33], 13);
    const flat = data([1155], 14), odd = data([3, 1, 5], 15);
    for (let T = 1; T <= 4; T++) {
      ts.setNumThreads(T);
      same(() => ts.relu(ts.add(x, col)).mul(row), `T=${T} broadcast rows`);
      same(() => {
        const t = ts.transpose(x, [2, 0, 1]);
        return ts.where(ts.greater(t, 0), t, -0);
      }, `T=${T} transposed view`);
      same(() => ts.maximum(ts.mul(flat, 3), ts.neg(flat)), `T=${T} one flat loop of odd length`);
      same(() => ts.sub(ts.slice(x, [[1, 7, 2], [0, 5], [2, 33, 3]]), 1), `T=${T} strided slice, 3 rows`);
      same(() => ts.div(odd, 7), `T=${T} fewer rows than threads`);
    }
  } finally {
    ts.setNumThreads(prevT);
    tuning.threadMinSize = prevMin;
  }
});

Deno.test("wasm fuse: unsupported parts fall back to the JS kernels with the same results", () => {
  const x = data([6, 50], 4);
  same(() => ts.exp(x), "exp", false);
  same(() => ts.pad(x, [[1, 1], [2, 0]]).add(1), "pad", false);
  same(() => ts.cast(ts.add(ts.cast(ts.arange(300), "int32"), 1), "float32"), "int32 arithmetic", false);
  same(() => ts.sum(x, 1, true).mul(x), "reduce under a broadcast: materialized, then fused", true);
});

Deno.test("wasm sums: bit-identical to the JS kernel over trailing axes (runs with remainders, NaN, ±Inf, ±0)", () => {
  const prev = reduceTuning.minSize;
  reduceTuning.minSize = 0;
  try {
    let seed = 900;
    const cases: [number[], number[]][] = [
      [[4, 6, 7, 9], [0, 2, 3]], // a bias gradient: per channel, runs of 63 over the batch
      [[3, 5, 33], [2]],
      [[2, 3, 4, 5], [0, 1, 2, 3]], // everything: one run
      [[5, 17], [0, 1]],
      [[2, 3, 5, 8], [1, 3]], // a run of 8 after an outer reduced axis between kept ones
      [[3, 4, 6, 3], [0, 2, 3]],
      [[7, 1, 19], [2]],
      [[2, 64, 3, 3], [0, 2, 3]], // runs of 9 < 16: the JS kernel's single accumulator, no wasm
    ];
    for (const [shape, axes] of cases) {
      const x = data(shape, seed++), y = data(shape, seed++);
      for (
        const [f, what] of [
          [() => x.sum(axes), "sum of a buffer"],
          [() => x.mul(y).add(1).relu().sum(axes, true), "sum of a fused expression"],
          [() => {
            const t = x.mul(y), sum = t.sum(axes);
            ts.realizeAll([sum, t.max()]); // t feeds two kernels: materialized
            return sum;
          }, "sum of a shared intermediate"],
        ] as [() => NDArray, string][]
      ) {
        const js = runOn("js", f), wasm = runOn("wasm", f);
        assertEquals(wasm.out.length, js.out.length);
        for (let i = 0; i < js.out.length; i++) {
          assert(
            Object.is(wasm.out[i], js.out[i]),
            `[${shape}] axes [${axes}] ${what} at ${i}: ${wasm.out[i]} vs ${js.out[i]}`,
          );
        }
        const run = sizeOfRun(shape, axes);
        if (what !== "sum of a fused expression") {
          assertEquals(wasm.log.some((l) => l.startsWith("sum wasm")), run >= 16, `[${shape}] ${what}: ${wasm.log}`);
        }
      }
    }
  } finally {
    reduceTuning.minSize = prev;
  }
});

/** The contiguous run the sum loops over: the trailing reduced axes' extents. */
function sizeOfRun(shape: number[], axes: number[]): number {
  let n = 1;
  for (let a = shape.length - 1; a >= 0 && axes.includes(a); a--) n *= shape[a];
  return n;
}
