import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { assertClose, assertThrowsWith, randn, ravel, sizeOf, unravel } from "./_util.ts";

/** Reference reduction over `axes` of `vals` (shape `shape`) with a fold. */
function refReduce(
  vals: number[],
  shape: number[],
  axes: number[],
  init: number,
  f: (acc: number, v: number) => number,
): [number[], number[]] {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const outShape = shape.map((d, k) => (ax.includes(k) ? 1 : d));
  const out = new Array(sizeOf(outShape)).fill(init);
  for (let i = 0; i < vals.length; i++) {
    const idx = unravel(i, shape).map((v, k) => (ax.includes(k) ? 0 : v));
    const o = ravel(idx, outShape);
    out[o] = f(out[o], vals[i]);
  }
  return [out, outShape];
}

const FOLDS: [
  string,
  (x: ts.NDArray, ax: number[], k: boolean) => ts.NDArray,
  number,
  (a: number, v: number) => number,
][] = [
  ["sum", (x, a, k) => ts.sum(x, a, k), 0, (a, v) => a + v],
  ["prod", (x, a, k) => ts.prod(x, a, k), 1, (a, v) => a * v],
  ["max", (x, a, k) => ts.max(x, a, k), -Infinity, Math.max],
  ["min", (x, a, k) => ts.min(x, a, k), Infinity, Math.min],
];

Deno.test("sum/prod/max/min over axes (negative, multiple, keepDims, views) vs loops", () => {
  const shape = [2, 3, 4];
  const [x, v] = randn(shape, 11, "float64");
  for (const axes of [[0], [1], [2], [-1], [0, 2], [-3, -2], [0, 1, 2]]) {
    for (const [name, f, init, fold] of FOLDS) {
      const [exp, keepShape] = refReduce(v, shape, axes, init, fold);
      const y = f(x, axes, true);
      assertEquals(y.shape, keepShape, `${name} ${axes} keepDims`);
      assertClose(y, exp, 1e-9, `${name} ${axes}`);
      const dropped = keepShape.filter((_, k) => !axes.map((a) => (a + 3) % 3).includes(k));
      assertEquals(f(x, axes, false).shape, dropped);
    }
  }
  // full reduction and reduction of a transposed/sliced view
  assertClose(ts.sum(x), [v.reduce((a, b) => a + b)], 1e-9);
  const xt = x.transpose([2, 0, 1]);
  const [e2] = refReduce(v, shape, [1], 0, (a, b) => a + b); // reduce over axis 1 of x = axis 2 of xt
  const e2t: number[] = [];
  for (let c = 0; c < 4; c++) for (let a = 0; a < 2; a++) e2t.push(e2[a * 4 + c]);
  assertClose(ts.sum(xt, -1), e2t, 1e-9);
  const xf = x.flip(2).slice(null, [0, 3, 2]);
  assertEquals(xf.shape, [2, 2, 4]);
  assertClose(
    xf.max(1),
    Array.from({ length: 8 }, (_, i) => {
      const a = Math.floor(i / 4), c = 3 - (i % 4);
      return Math.max(v[a * 12 + c], v[a * 12 + 8 + c]);
    }),
  );
});

Deno.test("long float sums (four accumulators, merged trailing axes) vs loops, realized and fused sources", () => {
  for (const [dtype, last] of [["float32", 6], ["float64", 6], ["float32", 19]] as const) {
    const shape = [3, 5, 7, last];
    const [x, v] = randn(shape, 12, dtype);
    for (const axes of [[3], [2, 3], [1, 2, 3], [0, 2, 3], [0, 1, 2, 3], [1, 2], [0, 2]]) {
      const [exp] = refReduce(v, shape, axes, 0, (a, b) => a + b);
      assertClose(ts.sum(x, axes), exp, dtype === "float32" ? 1e-5 : 1e-12, `${dtype} sum ${axes}`);
      // a fused source (x * 2 - 1), and a strided view (the merge needs a realized row-major input)
      const [e2] = refReduce(v.map((t) => t * 2 - 1), shape, axes, 0, (a, b) => a + b);
      assertClose(ts.sum(x.mul(2).sub(1), axes), e2, dtype === "float32" ? 1e-5 : 1e-12, `${dtype} fused ${axes}`);
    }
    const xt = x.transpose([0, 2, 1, 3]); // [3, 7, 5, last]
    const [e3] = refReduce(v, shape, [1, 2, 3], 0, (a, b) => a + b);
    assertClose(ts.sum(xt, [1, 2, 3]), e3, dtype === "float32" ? 1e-5 : 1e-12, `${dtype} transposed`);
  }
});

Deno.test("mean, variance, std (ddof), logSumExp", () => {
  const [x, v] = randn([3, 5], 2, "float64");
  for (const ax of [0, 1, -1]) {
    const a = (ax + 2) % 2;
    const n = a === 0 ? 3 : 5;
    const groups: number[][] = a === 0
      ? [0, 1, 2, 3, 4].map((j) => [0, 1, 2].map((i) => v[i * 5 + j]))
      : [0, 1, 2].map((i) => v.slice(i * 5, i * 5 + 5));
    const mean = groups.map((g) => g.reduce((s, t) => s + t) / n);
    const vr = groups.map((g, k) => g.reduce((s, t) => s + (t - mean[k]) ** 2, 0));
    assertClose(ts.mean(x, ax), mean, 1e-9);
    assertClose(ts.variance(x, ax), vr.map((s) => s / n), 1e-9);
    assertClose(ts.std(x, ax, false, 1), vr.map((s) => Math.sqrt(s / (n - 1))), 1e-9);
    assertClose(ts.logSumExp(x, ax), groups.map((g) => Math.log(g.reduce((s, t) => s + Math.exp(t), 0))), 1e-9);
  }
  // logSumExp is stable for large inputs
  assertClose(ts.logSumExp(ts.array([1000, 1000])), [1000 + Math.log(2)], 1e-6);
  assertEquals(ts.mean(ts.array([1, 2], { dtype: "int32" })).dtype, "float32");
});

Deno.test("softmax and logSoftmax along any axis", () => {
  const [x, v] = randn([2, 3], 5, "float64");
  const rows = [v.slice(0, 3), v.slice(3)];
  const sm = rows.flatMap((r) => {
    const z = r.reduce((s, t) => s + Math.exp(t), 0);
    return r.map((t) => Math.exp(t) / z);
  });
  assertClose(ts.softmax(x), sm, 1e-9);
  assertClose(ts.softmax(x, 1), sm, 1e-9);
  assertClose(ts.logSoftmax(x), sm.map(Math.log), 1e-9);
  assertClose(x.logSoftmax(-1), sm.map(Math.log), 1e-9);
  const col = ts.softmax(x, 0);
  assertClose(ts.sum(col, 0), [1, 1, 1], 1e-9);
  assertClose(ts.softmax(ts.array([1000, 0])), [1, 0], 1e-6);
});

Deno.test("argmax/argmin (first occurrence), all/any, cumsum", () => {
  const x = ts.array([[1, 5, 5], [7, 0, 7]]);
  assertEquals(ts.argmax(x).item(), 3);
  assertEquals(ts.argmax(x, 1).toArray(), [1, 0]);
  assertEquals(ts.argmin(x, -1).toArray(), [0, 1]);
  assertEquals(ts.argmax(x, 0, true).shape, [1, 3]);
  assertEquals(ts.argmax(x).dtype, "int32");
  const b = ts.array([[true, false], [true, true]]);
  assertEquals(ts.all(b, 1).toArray(), [false, true]);
  assertEquals(ts.any(b, 0).toArray(), [true, true]);
  assertEquals(ts.all(b).item(), false);
  assertEquals(ts.any(ts.zeros([3])).item(), false);
  assertEquals(ts.cumsum(ts.array([1, 2, 3, 4])).toArray(), [1, 3, 6, 10]);
  assertEquals(ts.cumsum(x, 1).toArray(), [[1, 6, 11], [7, 7, 14]]);
  assertEquals(ts.cumsum(x, -2).toArray(), [[1, 5, 5], [8, 5, 12]]);
  assertEquals(ts.cumsum(ts.array([1, 2, 3]), 0, true).toArray(), [6, 5, 3]);
  assertEquals(ts.cumsum(x.transpose(), 0).toArray(), [[1, 7], [6, 7], [11, 14]]);
});

Deno.test("reductions on empty and size-1 dims, int32 and bool inputs", () => {
  assertEquals(ts.sum(ts.zeros([0, 3]), 0).toArray(), [0, 0, 0]);
  assertEquals(ts.prod(ts.zeros([3, 0]), 1).toArray(), [1, 1, 1]);
  assertEquals(ts.sum(ts.zeros([0])).item(), 0);
  assertEquals(ts.sum(ts.ones([1, 1, 1]), 1).shape, [1, 1]);
  assertEquals(ts.sum(ts.array([1, 2, 3], { dtype: "int32" })).dtype, "int32");
  assertEquals(ts.sum(ts.array([true, true, false])).item(), 2);
  assertEquals(ts.max(ts.array([3, -1], { dtype: "int32" })).item(), 3);
  assertThrowsWith(() => ts.max(ts.zeros([0, 3]), 0), "max", "empty");
});

Deno.test("reduction errors: bad axis names op, argument, range and value", () => {
  assertThrowsWith(() => ts.sum(ts.ones([2, 3]), 5), "sum", "axis", "[-2, 2)", "5");
  assertThrowsWith(() => ts.mean(ts.ones([2, 3]), -3), "mean", "axis");
  assertThrowsWith(() => ts.argmax(ts.ones([2]), 1), "argmax", "axis");
  assertThrowsWith(() => ts.softmax(ts.ones([2]), 2), "softmax", "axis");
  assertThrowsWith(() => ts.cumsum(ts.ones([2]), 1), "cumsum", "axis");
});

Deno.test("reductions keep/promote dtype like NumPy and accept every dtype", () => {
  const i = ts.array([[1, -2, 3], [4, 5, -6]], { dtype: "int32" });
  assertEquals(ts.sum(i, 0).dtype, "int32");
  assertEquals(ts.sum(i, 0).toArray(), [5, 3, -3]);
  assertEquals(ts.prod(i, -1).toArray(), [-6, -120]);
  assertEquals(ts.max(i.transpose(), 1).toArray(), [4, 5, 3]);
  assertEquals(ts.cumsum(i, 1).dtype, "int32");
  assertEquals(ts.mean(i, 1).dtype, "float32");
  assertClose(ts.mean(i, 1), [2 / 3, 1]);
  assertEquals(ts.argmin(i.flip(1), 1).toArray(), [1, 0]);
  const d = ts.array([[1, 2], [3, 4]], { dtype: "float64" });
  for (const y of [ts.sum(d), ts.mean(d, 0), ts.variance(d), ts.logSumExp(d, 1), ts.softmax(d), ts.cumsum(d)]) {
    assertEquals(y.dtype, "float64");
  }
  const b = ts.array([[true, false, true], [true, true, true]]);
  assertEquals(ts.all(b.transpose(), 1).toArray(), [true, false, true]);
  assertEquals(ts.any(b.slice(null, [1, 2]), 0).toArray(), [true]);
  assertEquals(ts.all(ts.zeros([0], { dtype: "bool" })).item(), true);
  assertEquals(ts.sum(b, 1).toArray(), [2, 3]);
  assertEquals(ts.max(b, 1).dtype, "bool");
});

Deno.test("all/any over empty axes follow NumPy (true/false)", () => {
  assertEquals(ts.all(ts.zeros([0], { dtype: "bool" })).item(), true);
  assertEquals(ts.any(ts.zeros([0], { dtype: "bool" })).item(), false);
  assertEquals(ts.all(ts.zeros([2, 0]), 1).toArray(), [true, true]);
  assertEquals(ts.any(ts.zeros([2, 0]), -1, true).shape, [2, 1]);
  assertEquals(ts.any(ts.zeros([2, 0]), 0).shape, [0]);
});
