import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { assertClose, assertThrowsWith, randn } from "./_util.ts";

const A = () => ts.arange(24).reshape([2, 3, 4]);

Deno.test("reshape (-1), flatten, expandDims, squeeze", () => {
  assertEquals(ts.reshape(A(), [4, -1]).shape, [4, 6]);
  assertEquals(A().reshape([-1]).toArray(), [...Array(24).keys()]);
  assertEquals(ts.flatten(A(), 1).shape, [2, 12]);
  assertEquals(ts.expandDims(A(), -1).shape, [2, 3, 4, 1]);
  assertEquals(ts.expandDims(A(), 0).shape, [1, 2, 3, 4]);
  assertEquals(ts.squeeze(ts.zeros([1, 3, 1])).shape, [3]);
  assertEquals(ts.squeeze(ts.zeros([1, 3, 1]), -1).shape, [1, 3]);
  assertEquals(ts.reshape(ts.zeros([0, 3]), [3, 0]).shape, [3, 0]);
  assertThrowsWith(() => ts.reshape(A(), [5, 5]), "reshape", "[5,5]", "24");
  assertThrowsWith(() => ts.squeeze(ts.zeros([2, 3]), 0), "squeeze");
});

Deno.test("transpose/permute vs index reference, then elementwise on the view", () => {
  const [x, v] = randn([2, 3, 4], 9);
  const y = x.permute([2, 0, 1]);
  assertEquals(y.shape, [4, 2, 3]);
  const exp: number[] = [];
  for (let c = 0; c < 4; c++) for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) exp.push(v[a * 12 + b * 4 + c]);
  assertClose(y, exp);
  assertClose(y.mul(2).add(1), exp.map((t) => Math.fround(Math.fround(t * 2) + 1)));
  assertEquals(ts.transpose(x).shape, [4, 3, 2]);
  assertThrowsWith(() => ts.transpose(x, [0, 1]), "transpose");
  assertThrowsWith(() => ts.transpose(x, [0, 1, 1]), "transpose");
});

Deno.test("slice with steps, negative indices, integer picks; flip", () => {
  const x = ts.arange(10);
  assertEquals(x.slice([2, 8, 2]).toArray(), [2, 4, 6]);
  assertEquals(x.slice([-3, null]).toArray(), [7, 8, 9]);
  assertEquals(x.slice([null, null, -1]).toArray(), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assertEquals(x.slice([8, 2, -3]).toArray(), [8, 5]);
  assertEquals(x.slice([5, 2]).shape, [0]);
  assertEquals(A().slice(1, [1, 3], -1).toArray(), [19, 23]);
  assertEquals(ts.flip(ts.array([[1, 2], [3, 4]]), 1).toArray(), [[2, 1], [4, 3]]);
  assertEquals(ts.flip(ts.array([[1, 2], [3, 4]])).toArray(), [[4, 3], [2, 1]]);
  assertEquals(ts.flip(ts.array([[1, 2], [3, 4]]), -2).slice([0, 1]).toArray(), [[3, 4]]);
  assertThrowsWith(() => x.slice(12), "slice", "12");
  assertThrowsWith(() => x.slice([0, 1, 0]), "slice", "step");
});

Deno.test("broadcastTo, pad (constant, reflect, edge, per-side)", () => {
  assertEquals(ts.broadcastTo(ts.array([1, 2]), [2, 2]).toArray(), [[1, 2], [1, 2]]);
  assertThrowsWith(() => ts.broadcastTo(ts.array([1, 2]), [3]), "broadcastTo");
  const x = ts.array([1, 2, 3]);
  assertEquals(ts.pad(x, [[1, 2]]).toArray(), [0, 1, 2, 3, 0, 0]);
  assertEquals(ts.pad(x, [[2, 2]], { mode: "reflect" }).toArray(), [3, 2, 1, 2, 3, 2, 1]);
  assertEquals(ts.pad(x, [[2, 1]], { mode: "edge" }).toArray(), [1, 1, 1, 2, 3, 3]);
  assertEquals(ts.pad(x, [[1, 0]], { value: 9 }).toArray(), [9, 1, 2, 3]);
  assertEquals(ts.pad(ts.ones([2, 2]), 1).shape, [4, 4]);
});

Deno.test("concat, stack, split", () => {
  const a = ts.array([[1, 2]]), b = ts.array([[3, 4]]);
  assertEquals(ts.concat([a, b]).toArray(), [[1, 2], [3, 4]]);
  assertEquals(ts.concat([a, b], -1).toArray(), [[1, 2, 3, 4]]);
  assertEquals(ts.stack([ts.array([1, 2]), ts.array([3, 4])], 1).toArray(), [[1, 3], [2, 4]]);
  const parts = ts.split(ts.arange(6), 3);
  assertEquals(parts.map((p) => p.toArray()), [[0, 1], [2, 3], [4, 5]]);
  assertEquals(ts.split(ts.arange(6), [1, 4]).map((p) => p.shape[0]), [1, 3, 2]);
  assertEquals(ts.concat([ts.zeros([0, 2]), a]).shape, [1, 2]);
  assertThrowsWith(() => ts.concat([a, ts.ones([1, 3])]), "concat");
  assertThrowsWith(() => ts.split(ts.arange(5), 2), "split");
});

Deno.test("tile, repeat", () => {
  const x = ts.array([[1, 2], [3, 4]]);
  assertEquals(ts.tile(x, [1, 2]).toArray(), [[1, 2, 1, 2], [3, 4, 3, 4]]);
  assertEquals(ts.tile(ts.array([1, 2]), [2, 1]).toArray(), [[1, 2], [1, 2]]);
  assertEquals(ts.repeat(x, 2, 0).toArray(), [[1, 2], [1, 2], [3, 4], [3, 4]]);
  assertEquals(ts.repeat(x, 2, -1).toArray(), [[1, 1, 2, 2], [3, 3, 4, 4]]);
  assertEquals(ts.repeat(x, 2).toArray(), [1, 1, 2, 2, 3, 3, 4, 4]);
});

Deno.test("take/gather, takeAlongAxis, scatterAdd, oneHot", () => {
  const x = ts.array([[10, 11, 12], [20, 21, 22]]);
  assertEquals(ts.take(x, [2, 0], 1).toArray(), [[12, 10], [22, 20]]);
  assertEquals(ts.take(x, [-1], 0).toArray(), [[20, 21, 22]]);
  assertEquals(ts.gather(x, ts.array([1, 1], { dtype: "int32" }), 0).shape, [2, 3]);
  assertEquals(ts.take(x, [4]).toArray(), [21]);
  const idx = ts.array([[2], [0]], { dtype: "int32" });
  assertEquals(ts.takeAlongAxis(x, idx, 1).toArray(), [[12], [20]]);
  const s = ts.scatterAdd(ts.zeros([2, 3]), idx, ts.array([[1], [5]]), 1);
  assertEquals(s.toArray(), [[0, 0, 1], [5, 0, 0]]);
  const s2 = ts.scatterAdd(ts.zeros([3]), ts.array([0, 0, 2], { dtype: "int32" }), ts.array([1, 2, 3]), 0);
  assertEquals(s2.toArray(), [3, 0, 3]);
  const oh = ts.oneHot(ts.array([0, 2], { dtype: "int32" }), 3);
  assertEquals(oh.toArray(), [[1, 0, 0], [0, 0, 1]]);
  assertThrowsWith(() => ts.take(x, [5], 1), "take", "index", "[-3, 3)", "5");
  assertThrowsWith(() => ts.take(x, ts.array([5], { dtype: "int32" }), 1), "take", "index", "5");
  assertThrowsWith(() => ts.takeAlongAxis(x, ts.array([[5]], { dtype: "int32" }), 1), "takeAlongAxis", "5");
  assertThrowsWith(() => ts.take(x, ts.array([0.5]), 1), "take", "int32", "float32");
  assertThrowsWith(() => ts.take(x, [0], 2), "axis");
});

Deno.test("sort, argsort, topk vs Array.sort", () => {
  const [x, v] = randn([3, 5], 21);
  const rows = [0, 1, 2].map((i) => v.slice(i * 5, i * 5 + 5));
  assertClose(ts.sort(x), rows.flatMap((r) => [...r].sort((a, b) => a - b)));
  assertClose(ts.sort(x, -1, true), rows.flatMap((r) => [...r].sort((a, b) => b - a)));
  const ai = ts.argsort(x);
  assertEquals(ai.dtype, "int32");
  assertClose(ts.takeAlongAxis(x, ai, 1), rows.flatMap((r) => [...r].sort((a, b) => a - b)));
  assertEquals(ts.argsort(ts.array([3, 1, 2])).toArray(), [1, 2, 0]);
  const cols = ts.sort(x, 0);
  assertClose(cols.slice(0), [0, 1, 2, 3, 4].map((j) => Math.min(v[j], v[5 + j], v[10 + j])));
  const { values, indices } = ts.topk(ts.array([3, 1, 4, 1, 5]), 2);
  assertEquals(values.toArray(), [5, 4]);
  assertEquals(indices.toArray(), [4, 2]);
  assertThrowsWith(() => ts.topk(ts.array([1, 2]), 3), "topk");
});

Deno.test("movement ops keep every dtype", () => {
  const i = ts.array([-2, 0, 3], { dtype: "int32" });
  const b = ts.array([true, false, true]);
  const d = ts.array([0.1, 0.2, 0.3], { dtype: "float64" });
  for (const x of [i, b, d, ts.array([1, 2, 3])]) {
    const dt = x.dtype;
    assertEquals(ts.concat([x, x]).dtype, dt);
    assertEquals(ts.stack([x, x]).dtype, dt);
    assertEquals(x.reshape([3, 1]).transpose().dtype, dt);
    assertEquals(ts.flip(x).toArray(), (x.toArray() as ts.NestedArray[]).slice().reverse());
    assertEquals(ts.pad(x, [[1, 0]]).dtype, dt);
    assertEquals(ts.tile(x, [2]).dtype, dt);
    assertEquals(ts.take(x, [2, 0]).toArray(), [
      (x.toArray() as ts.NestedArray[])[2],
      (x.toArray() as ts.NestedArray[])[0],
    ]);
    assertEquals(ts.sort(x).dtype, dt);
  }
  assertEquals(ts.pad(b, [[1, 0]]).toArray(), [false, true, false, true]);
  assertEquals(ts.sort(i, -1, true).toArray(), [3, 0, -2]);
  assertEquals(ts.concat([i, ts.array([1.5])]).dtype, "float32");
  assertEquals(ts.concat([i, d]).dtype, "float64");
});

Deno.test("movement ops on non-contiguous views (transpose/slice/flip first)", () => {
  const x = ts.arange(12).reshape([3, 4]);
  const t = x.transpose(); // [4, 3]: t[i][j] = 4j + i
  const ref = (i: number, j: number) => 4 * j + i;
  assertEquals(ts.concat([t, t.slice([0, 1])]).toArray(), [
    ...[0, 1, 2, 3].map((i) => [0, 1, 2].map((j) => ref(i, j))),
    [0, 4, 8],
  ]);
  assertEquals(ts.pad(t.slice([1, 3]), [[0, 0], [1, 1]], { mode: "edge" }).toArray(), [[1, 1, 5, 9, 9], [
    2,
    2,
    6,
    10,
    10,
  ]]);
  assertEquals(ts.take(t.flip(0), [0], 0).toArray(), [[3, 7, 11]]);
  assertEquals(ts.tile(x.slice(null, [null, null, 2]), [1, 2]).toArray(), [[0, 2, 0, 2], [4, 6, 4, 6], [8, 10, 8, 10]]);
  assertEquals(ts.repeat(t.slice([0, 2]), 2, 0).toArray(), [[0, 4, 8], [0, 4, 8], [1, 5, 9], [1, 5, 9]]);
  assertEquals(ts.sort(x.flip(1), -1).toArray(), x.toArray());
  assertEquals(ts.argmax(t, 0).toArray(), [3, 3, 3]);
  assertEquals(ts.split(t, 2, 0)[1].toArray(), [[2, 6, 10], [3, 7, 11]]);
  assertEquals(t.reshape([-1]).toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assertEquals(ts.cumsum(x.flip(0), 0).slice(-1).toArray(), [12, 15, 18, 21]);
});

Deno.test("oneHot: out-of-range indices give an all-zero row (JAX/TF semantics)", () => {
  assertEquals(ts.oneHot(ts.array([0, 3, -1], { dtype: "int32" }), 3).toArray(), [[1, 0, 0], [0, 0, 0], [0, 0, 0]]);
  assertEquals(ts.oneHot(ts.array([1], { dtype: "int32" }), 2, "int32").dtype, "int32");
  assertThrowsWith(() => ts.oneHot(ts.array([0, 1]), 3), "oneHot", "int32", "float32");
});
