import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { assertClose, assertThrowsWith, bread, bshape, randn, sizeOf, unravel } from "./_util.ts";

const erf = (x: number) => {
  // Abramowitz-Stegun 7.1.26 is too coarse; integrate instead (Simpson).
  const n = 2000, h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
};

const UNARY: [string, (x: ts.NDArray) => ts.NDArray, (v: number) => number][] = [
  ["neg", ts.neg, (v) => -v],
  ["exp", ts.exp, Math.exp],
  ["log", (x) => ts.log(ts.abs(x)), (v) => Math.log(Math.abs(v))],
  ["log1p", (x) => ts.log1p(ts.abs(x)), (v) => Math.log1p(Math.abs(v))],
  ["expm1", ts.expm1, Math.expm1],
  ["sqrt", (x) => ts.sqrt(ts.abs(x)), (v) => Math.sqrt(Math.abs(v))],
  ["rsqrt", (x) => ts.rsqrt(ts.abs(x)), (v) => 1 / Math.sqrt(Math.abs(v))],
  ["abs", ts.abs, Math.abs],
  ["sign", ts.sign, Math.sign],
  ["reciprocal", ts.reciprocal, (v) => 1 / v],
  ["sin", ts.sin, Math.sin],
  ["cos", ts.cos, Math.cos],
  ["tanh", ts.tanh, Math.tanh],
  ["sigmoid", ts.sigmoid, (v) => 1 / (1 + Math.exp(-v))],
  ["relu", ts.relu, (v) => Math.max(v, 0)],
  ["relu6", ts.relu6, (v) => Math.min(Math.max(v, 0), 6)],
  ["leakyRelu", (x) => ts.leakyRelu(x, 0.1), (v) => (v > 0 ? v : 0.1 * v)],
  ["elu", ts.elu, (v) => (v > 0 ? v : Math.expm1(v))],
  ["gelu", ts.gelu, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
  [
    "gelu tanh",
    (x) => ts.gelu(x, true),
    (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
  ],
  ["softplus", ts.softplus, (v) => Math.log1p(Math.exp(v))],
  ["square", ts.square, (v) => v * v],
  ["clip", (x) => ts.clip(x, -0.5, 0.7), (v) => Math.min(Math.max(v, -0.5), 0.7)],
  ["clip lo only", (x) => ts.clip(x, 0, null), (v) => Math.max(v, 0)],
  ["floor", ts.floor, Math.floor],
  ["ceil", ts.ceil, Math.ceil],
];

Deno.test("unary ops match Math.* in float32 and float64, on contiguous and transposed input", () => {
  for (const dtype of ["float32", "float64"] as ts.DType[]) {
    const [x, v] = randn([3, 4], 7, dtype);
    const tol = dtype === "float32" ? 1e-5 : 1e-6;
    const vt: number[] = [];
    for (let j = 0; j < 4; j++) for (let i = 0; i < 3; i++) vt.push(v[i * 4 + j]);
    for (const [name, f, ref] of UNARY) {
      const y = f(x);
      assertEquals(y.dtype, dtype, `${name} dtype`);
      assertClose(y, v.map(ref), tol, `${name} ${dtype}`);
      assertClose(f(x.transpose()), vt.map(ref), tol, `${name} ${dtype} on a transposed view`);
    }
  }
});

const BINARY: [string, (a: ts.NDArray, b: ts.NDArray) => ts.NDArray, (a: number, b: number) => number][] = [
  ["add", ts.add, (a, b) => a + b],
  ["sub", ts.sub, (a, b) => a - b],
  ["mul", ts.mul, (a, b) => a * b],
  ["div", ts.div, (a, b) => a / b],
  ["pow", (a, b) => ts.pow(ts.abs(a), b), (a, b) => Math.abs(a) ** b],
  ["maximum", ts.maximum, Math.max],
  ["minimum", ts.minimum, Math.min],
  ["less", ts.less, (a, b) => +(a < b)],
  ["lessEqual", ts.lessEqual, (a, b) => +(a <= b)],
  ["greater", ts.greater, (a, b) => +(a > b)],
  ["greaterEqual", ts.greaterEqual, (a, b) => +(a >= b)],
  ["equal", ts.equal, (a, b) => +(a === b)],
  ["notEqual", ts.notEqual, (a, b) => +(a !== b)],
];

Deno.test("binary ops broadcast like NumPy (nested-loop reference)", () => {
  const cases: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3], [3]],
    [[4, 1], [1, 5]],
    [[2, 1, 3], [4, 1]],
    [[], [3, 2]],
    [[0, 3], [1, 3]],
    [[1], [1]],
  ];
  for (const [sa, sb] of cases) {
    const [a, va] = randn(sa, 3);
    const [b, vb] = randn(sb, 4);
    const out = bshape(sa, sb);
    for (const [name, f, ref] of BINARY) {
      const y = f(a, b);
      assertEquals(y.shape, out, `${name} ${sa} ${sb}`);
      const exp = Array.from({ length: sizeOf(out) }, (_, i) => {
        const idx = unravel(i, out);
        return ref(bread(va, sa, idx), bread(vb, sb, idx));
      });
      assertClose(y, exp, 1e-5, `${name} [${sa}] [${sb}]`);
    }
  }
});

Deno.test("comparisons give bool; logical ops", () => {
  const a = ts.array([1, 2, 3]);
  assertEquals(a.less(2).dtype, "bool");
  assertEquals(a.less(2).toArray(), [true, false, false]);
  const p = ts.array([true, true, false, false]), q = ts.array([true, false, true, false]);
  assertEquals(ts.logicalAnd(p, q).toArray(), [true, false, false, false]);
  assertEquals(ts.logicalOr(p, q).toArray(), [true, true, true, false]);
  assertEquals(ts.logicalXor(p, q).toArray(), [false, true, true, false]);
  assertEquals(ts.logicalNot(p).toArray(), [false, false, true, true]);
});

Deno.test("where, isNaN, isFinite, cast", () => {
  const c = ts.array([true, false, true]);
  assertEquals(ts.where(c, ts.array([1, 2, 3]), 0).toArray(), [1, 0, 3]);
  assertEquals(ts.where(ts.array([[true], [false]]), 1, ts.array([5, 6])).toArray(), [[1, 1], [5, 6]]);
  const x = ts.array([1, NaN, Infinity, -Infinity], { dtype: "float64" });
  assertEquals(ts.isNaN(x).toArray(), [false, true, false, false]);
  assertEquals(ts.isFinite(x).toArray(), [true, false, false, false]);
  assertEquals(ts.cast(ts.array([1.7, -1.7, 0]), "int32").toArray(), [1, -1, 0]);
  assertEquals(ts.cast(ts.array([1.7, 0]), "bool").toArray(), [true, false]);
  assertEquals(ts.cast(ts.array([true, false]), "float64").dtype, "float64");
  assertThrowsWith(() => ts.cast(x, "int8" as ts.DType), "cast", "dtype", "int8");
});

Deno.test("dtype promotion and weak JS scalars", () => {
  const i = ts.array([1, 2], { dtype: "int32" });
  const f = ts.array([1, 2], { dtype: "float32" });
  const d = ts.array([1, 2], { dtype: "float64" });
  const b = ts.array([true, false]);
  assertEquals(f.mul(2).dtype, "float32");
  assertEquals(d.mul(2).dtype, "float64");
  assertEquals(i.add(3).dtype, "int32");
  assertEquals(i.add(3).toArray(), [4, 5]);
  assertEquals(i.mul(2.5).dtype, "float32");
  assertEquals(i.add(f).dtype, "float32");
  assertEquals(f.add(d).dtype, "float64");
  assertEquals(i.add(b).dtype, "int32");
  assertEquals(i.div(2).dtype, "float32");
  assertClose(i.div(2), [0.5, 1]);
  assertEquals(ts.floorDiv(ts.array([7, -7], { dtype: "int32" }), 2).toArray(), [3, -4]);
  assertEquals(ts.mod(ts.array([7, -7], { dtype: "int32" }), 3).toArray(), [1, 2]);
  // int32 arithmetic wraps like int32
  assertEquals(ts.array([2147483647], { dtype: "int32" }).add(1).dtype, "int32");
});

Deno.test("elementwise errors name op, argument, expected and actual", () => {
  assertThrowsWith(() => ts.add(ts.ones([2, 3]), ts.ones([4])), "add", "[2,3]", "[4]");
  assertThrowsWith(() => ts.mul(ts.ones([2]), ts.ones([3, 3])), "mul");
  assertThrowsWith(() => ts.where(ts.ones([2], { dtype: "bool" }), ts.ones([3]), 0), "where");
});

Deno.test("elementwise on empty and size-1 arrays", () => {
  assertEquals(ts.exp(ts.zeros([0, 2])).shape, [0, 2]);
  assertEquals(ts.exp(ts.zeros([0, 2])).dataSync().length, 0);
  assertEquals(ts.array(2).add(ts.ones([1, 1])).shape, [1, 1]);
  assertEquals(ts.array(2).mul(3).item(), 6);
});

Deno.test("elementwise dtypes: int32 stays int32 where NumPy keeps it, transcendental ops give float, bool arithmetic promotes", () => {
  const i = ts.array([-2, 0, 3], { dtype: "int32" });
  const b = ts.array([true, false, true]);
  const keep: [string, ts.NDArray, number[]][] = [
    ["abs", ts.abs(i), [2, 0, 3]],
    ["neg", ts.neg(i), [2, 0, -3]],
    ["sign", ts.sign(i), [-1, 0, 1]],
    ["relu", ts.relu(i), [0, 0, 3]],
    ["square", ts.square(i), [4, 0, 9]],
    ["clip", ts.clip(i, -1, 1), [-1, 0, 1]],
    ["pow", ts.pow(i, 2), [4, 0, 9]],
    ["maximum", ts.maximum(i, 1), [1, 1, 3]],
  ];
  for (const [name, y, exp] of keep) {
    assertEquals(y.dtype, "int32", name);
    assertEquals(y.toArray(), exp, name);
  }
  assertEquals(ts.exp(i).dtype, "float32");
  assertClose(ts.exp(i), [Math.exp(-2), 1, Math.exp(3)]);
  assertEquals(ts.sqrt(ts.array([4], { dtype: "float64" })).dtype, "float64");
  assertEquals(ts.exp(b).dtype, "float32");
  assertEquals(b.mul(2).dtype, "int32");
  assertEquals(b.mul(2).toArray(), [2, 0, 2]);
  assertEquals(ts.where(b, i, 0.5).dtype, "float32");
  assertEquals(ts.where(b, i, 7).dtype, "int32");
  assertEquals(ts.logicalAnd(ts.array([1, 0]), ts.array([2, 2])).toArray(), [true, false]);
  assertClose(ts.floorDiv(ts.array([7.5, -7.5]), 2), [3, -4]);
  assertClose(ts.mod(ts.array([7.5, -7.5]), 2), [1.5, 0.5]);
});
