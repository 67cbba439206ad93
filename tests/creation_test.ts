import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { assertClose, assertThrowsWith } from "./_util.ts";

Deno.test("array: nested arrays, scalars, typed arrays + shape, dtype inference", () => {
  const a = ts.array([[1, 2, 3], [4, 5, 6]]);
  assertEquals(a.shape, [2, 3]);
  assertEquals(a.dtype, "float32");
  assertEquals(a.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assertEquals(ts.array(7).shape, []);
  assertEquals(ts.array(7).item(), 7);
  assertEquals(ts.array([true, false]).dtype, "bool");
  assertEquals(ts.array([true, false]).toArray(), [true, false]);
  assertEquals(ts.array(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] }).dtype, "int32");
  assertEquals(ts.array(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] }).dtype, "float64");
  assertEquals(ts.array(new Float32Array([1, 2, 3, 4]), { shape: [4, 1] }).shape, [4, 1]);
  assertEquals(ts.array([1.5, 2], { dtype: "int32" }).toArray(), [1, 2]);
  assertEquals(ts.array([]).shape, [0]);
  assertEquals(ts.array([[], []]).shape, [2, 0]);
});

Deno.test("array: errors name the op and what was wrong", () => {
  assertThrowsWith(() => ts.array([[1, 2], [3]]), "array");
  assertThrowsWith(() => ts.array([1, 2, 3], { shape: [2, 2] }), "array");
  assertThrowsWith(() => ts.array([1], { dtype: "int8" as ts.DType }), "dtype", "int8");
});

Deno.test("zeros/ones/full and *Like, every dtype", () => {
  for (const dtype of ["float32", "float64", "int32", "bool"] as ts.DType[]) {
    const z = ts.zeros([2, 3], { dtype });
    assertEquals(z.dtype, dtype);
    assertEquals(z.shape, [2, 3]);
    assertClose(z, new Array(6).fill(0));
    assertClose(ts.ones([3], { dtype }), [1, 1, 1]);
    assertEquals(ts.zerosLike(z).dtype, dtype);
    assertClose(ts.onesLike(z), new Array(6).fill(1));
  }
  assertEquals(ts.full([2], 3.5).toArray(), [3.5, 3.5]);
  assertEquals(ts.full([2], true).dtype, "bool");
  assertEquals(ts.fullLike(ts.zeros([2], { dtype: "int32" }), 7).toArray(), [7, 7]);
  assertEquals(ts.zerosLike(ts.zeros([2]), { dtype: "float64" }).dtype, "float64");
  assertEquals(ts.zeros([0, 4]).size, 0);
  assertEquals(ts.zeros([]).shape, []);
  assertThrowsWith(() => ts.zeros([2, -1]), "zeros");
});

Deno.test("arange matches a loop reference", () => {
  const ref = (a: number, b: number, s: number) => {
    const out = [];
    for (let v = a; s > 0 ? v < b : v > b; v += s) out.push(v);
    return out;
  };
  assertClose(ts.arange(5), ref(0, 5, 1));
  assertClose(ts.arange(2, 9, 3), ref(2, 9, 3));
  assertClose(ts.arange(5, 0, -2), ref(5, 0, -2));
  assertClose(ts.arange(0, 1, 0.25), ref(0, 1, 0.25));
  assertEquals(ts.arange(3, 3).shape, [0]);
  assertEquals(ts.arange(0, 4, 1, { dtype: "int32" }).dtype, "int32");
  assertThrowsWith(() => ts.arange(0, 4, 0), "arange", "step");
});

Deno.test("linspace and eye match references", () => {
  assertClose(ts.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
  assertClose(ts.linspace(0, 1, 4, { endpoint: false }), [0, 0.25, 0.5, 0.75]);
  assertClose(ts.linspace(2, 2, 1), [2]);
  assertEquals(ts.linspace(0, 1, 0).shape, [0]);
  const ref = (n: number, m: number, k: number) => {
    const out = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out.push(j - i === k ? 1 : 0);
    return out;
  };
  assertClose(ts.eye(3), ref(3, 3, 0));
  assertClose(ts.eye(3, 4, { k: 1 }), ref(3, 4, 1));
  assertClose(ts.eye(4, 2, { k: -1 }), ref(4, 2, -1));
  assertEquals(ts.eye(2, 2, { dtype: "int32" }).dtype, "int32");
});
