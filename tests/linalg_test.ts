import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { assertClose, assertThrowsWith, randn } from "./_util.ts";

function refMatmul(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array(m * n).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      out[i * n + j] = s;
    }
  }
  return out;
}

Deno.test("matmul 2-D (float32, float64, int32) vs triple loop", () => {
  for (const dtype of ["float32", "float64", "int32"] as ts.DType[]) {
    for (const [m, k, n] of [[1, 1, 1], [3, 4, 5], [7, 13, 2], [17, 33, 9]]) {
      const [a, va] = randn([m, k], 1, dtype);
      const [b, vb] = randn([k, n], 2, dtype);
      const y = ts.matmul(a, b);
      assertEquals(y.shape, [m, n]);
      assertEquals(y.dtype, dtype);
      assertClose(y, refMatmul(va, vb, m, k, n), 1e-5, `${dtype} ${m}x${k}x${n}`);
    }
  }
});

Deno.test("matmul on transposed views, batched with broadcasting, 1-D rules", () => {
  const [a, va] = randn([4, 3], 3);
  const [b, vb] = randn([5, 4], 4);
  const at: number[] = [], bt: number[] = [];
  for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) at.push(va[i * 3 + j]);
  for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) bt.push(vb[i * 4 + j]);
  assertClose(ts.matmul(a.transpose(), b.transpose()), refMatmul(at, bt, 3, 4, 5));
  // batched: [2,1,3,4] @ [5,4,2] -> [2,5,3,2]
  const [x, vx] = randn([2, 1, 3, 4], 5);
  const [w, vw] = randn([5, 4, 2], 6);
  const y = ts.matmul(x, w);
  assertEquals(y.shape, [2, 5, 3, 2]);
  const exp: number[] = [];
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 5; j++) {
      exp.push(...refMatmul(vx.slice(i * 12, i * 12 + 12), vw.slice(j * 8, j * 8 + 8), 3, 4, 2));
    }
  }
  assertClose(y, exp);
  // 1-D rules
  const v = ts.array([1, 2, 3]);
  const m = ts.array([[1, 0], [0, 1], [1, 1]]);
  assertEquals(ts.matmul(v, m).shape, [2]);
  assertEquals(ts.matmul(v, m).toArray(), [4, 5]);
  assertEquals(ts.matmul(m.transpose(), v).toArray(), [4, 5]);
  assertEquals(ts.matmul(v, v).shape, []);
  assertEquals(ts.matmul(v, v).item(), 14);
  assertEquals(ts.matmul(ts.zeros([2, 0]), ts.zeros([0, 3])).toArray(), [[0, 0, 0], [0, 0, 0]]);
});

Deno.test("dot, outer, einsum", () => {
  assertEquals(ts.dot(ts.array([1, 2, 3]), ts.array([4, 5, 6])).item(), 32);
  assertEquals(ts.outer(ts.array([1, 2]), ts.array([3, 4, 5])).toArray(), [[3, 4, 5], [6, 8, 10]]);
  const [a, va] = randn([2, 3], 7);
  const [b, vb] = randn([3, 4], 8);
  assertClose(ts.einsum("ij,jk->ik", a, b), refMatmul(va, vb, 2, 3, 4));
  assertEquals(ts.einsum("ij->ji", a).shape, [3, 2]);
  assertClose(ts.einsum("ij->", a), [va.reduce((s, t) => s + t)]);
  assertClose(
    ts.einsum("ij,ij->i", a, a),
    [0, 1].map((i) => va.slice(i * 3, i * 3 + 3).reduce((s, t) => s + t * t, 0)),
  );
  const [x] = randn([2, 3, 4], 9);
  const [y] = randn([2, 4, 5], 10);
  assertClose(ts.einsum("bij,bjk->bik", x, y), ts.matmul(x, y).dataSync());
});

Deno.test("linalg errors name op, operands, expected and actual", () => {
  assertThrowsWith(() => ts.matmul(ts.ones([2, 3]), ts.ones([4, 2])), "matmul", "[2,3]", "[4,2]");
  assertThrowsWith(() => ts.matmul(ts.ones([2, 2, 3]), ts.ones([3, 3, 2])), "matmul");
  assertThrowsWith(() => ts.dot(ts.ones([3]), ts.ones([4])), "dot");
  assertThrowsWith(() => ts.einsum("ij,jk->ik", ts.ones([2, 3]), ts.ones([4, 2])), "einsum");
});

Deno.test("matmul: every registered kernel backend agrees with the triple loop (odd sizes, batches)", () => {
  const prev = ts.getBackend();
  const names = ["js", prev, "wasm"].filter((n, i, a) => a.indexOf(n) === i);
  try {
    for (const name of names) {
      try {
        ts.setBackend(name);
      } catch {
        continue; // backend not registered in this build
      }
      for (const [m, k, n] of [[1, 1, 1], [5, 7, 3], [17, 33, 9], [64, 65, 66]]) {
        for (const dtype of ["float32", "float64"] as ts.DType[]) {
          const [a, va] = randn([m, k], m + k, dtype);
          const [b, vb] = randn([k, n], k + n, dtype);
          assertClose(ts.matmul(a, b), refMatmul(va, vb, m, k, n), 1e-4, `${name} ${dtype} ${m}x${k}x${n}`);
        }
      }
      const [x, vx] = randn([3, 4, 5], 1);
      const [w, vw] = randn([3, 5, 2], 2);
      const exp = [0, 1, 2].flatMap((i) =>
        refMatmul(vx.slice(i * 20, i * 20 + 20), vw.slice(i * 10, i * 10 + 10), 4, 5, 2)
      );
      assertClose(ts.matmul(x, w), exp, 1e-4, `${name} batched`);
    }
  } finally {
    ts.setBackend(prev);
  }
});
