import { assert, assertEquals, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { assertClose, checkGrad } from "../ops/testing.ts";

const normal = (seed: number, shape: number[]): NDArray =>
  ts.random.normal(ts.random.key(seed), shape, { dtype: "float64" });

Deno.test("assertClose: passes within tolerance, for arrays, nested JS arrays, typed arrays and scalars", () => {
  assertClose(ts.array([1, 2, 3]), [1, 2, 3]);
  assertClose(ts.array([[1, 2], [3, 4]]).div(3), [[1 / 3, 2 / 3], [1, 4 / 3]]);
  assertClose([1, 2], ts.array([1 + 1e-7, 2]));
  assertClose(new Float64Array([1, 2, 3, 4]), ts.array([[1, 2], [3, 4]]));
  assertClose(ts.ones([2, 3]), 1);
  assertClose(ts.array(5), 5);
  assertClose([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity]);
  assertClose([1.01], [1], { rtol: 0.02 });
  assertClose([1.01], [1], { atol: 0.011, rtol: 0 });
  assertClose(ts.array([1, 0, 1], { dtype: "int32" }), [1, 0, 1]);
  assertClose(ts.array([true, false]), [1, 0]);
});

Deno.test("assertClose: failure names the worst element, its multi-index and both values", () => {
  const e = assertThrows(
    () => assertClose(ts.array([[1, 2, 3], [4, 5, 6]]), [[1, 2.001, 3], [4, 5, 7]]),
    Error,
  );
  assert(e.message.includes("2 of 6 elements are not close"), e.message);
  assert(e.message.includes("worst at index [1, 2]"), e.message);
  assert(e.message.includes("actual 6, expected 7"), e.message);
  assert(e.message.includes("rtol=0.00001") || e.message.includes("rtol=1e-5"), e.message);
  // a flat typed array takes the shape of the other side for the index
  const f = assertThrows(() => assertClose(new Float32Array([0, 0, 0, 1]), ts.zeros([2, 2])), Error);
  assert(f.message.includes("worst at index [1, 1]") && f.message.includes("actual 1, expected 0"), f.message);
  // NaN mismatches are reported (and can be forbidden on both sides)
  const g = assertThrows(() => assertClose([1, NaN], [1, 2]), Error);
  assert(g.message.includes("index [1]") && g.message.includes("actual NaN"), g.message);
  assertThrows(() => assertClose([NaN], [NaN], { equalNan: false }), Error, "not close");
  assertThrows(() => assertClose([Infinity], [-Infinity]), Error, "not close");
  // shape and size mismatches, custom prefix
  assertThrows(
    () => assertClose(ts.zeros([2, 3]), ts.zeros([3, 2])),
    Error,
    "shape mismatch: actual [2, 3], expected [3, 2]",
  );
  assertThrows(() => assertClose(new Float64Array(3), [1, 2]), Error, "size mismatch");
  assertThrows(() => assertClose([1], [2], { message: "layer 3" }), Error, "layer 3: assertClose");
  assertThrows(() => assertClose([[1, 2], [3]], [[1, 2], [3, 4]]), Error, "ragged");
});

Deno.test("checkGrad: passes on correct gradients (per element and along random directions)", () => {
  const a = normal(1, [3, 4]), b = normal(2, [4, 5]), v = normal(3, [5]);
  checkGrad((x) => x.tanh().mul(x).sum(), [a]);
  checkGrad((x, y) => ts.matmul(x, y).sin(), [a, b]);
  checkGrad((x, y) => ts.matmul(x, y).add(v).softmax(), [a, b]);
  checkGrad((x) => x.exp().div(x.square().add(1)).logSumExp(1), [a]);
  // float32 and int inputs are promoted to float64
  checkGrad((x) => x.mul(x).sum(0), [ts.array([[1, 2], [3, 4]], { dtype: "float32" })]);
  // large inputs go through random directions
  const big = normal(4, [20, 30]), w = normal(5, [30, 8]);
  checkGrad((x, y) => ts.matmul(x, y).tanh().mean(0), [big, w]);
  checkGrad((x) => x.sigmoid(), [big], { directions: 5 });
  // both modes agree on a mid-size input
  checkGrad((x) => x.cos().mul(x), [normal(6, [70])], { perElementLimit: 100 });
  checkGrad((x) => x.cos().mul(x), [normal(6, [70])], { perElementLimit: 10 });
  // an input the output does not depend on has gradient zero
  checkGrad((x, _y) => x.square(), [a, normal(7, [2])]);
  // customVjp with the right rule passes
  const mySin = ts.customVjp((x: NDArray) => [x.sin(), x], (x: NDArray, g: NDArray) => [g.mul(x.cos())]);
  checkGrad((x) => mySin(x).mul(x), [a]);
});

Deno.test("checkGrad: a deliberately wrong customVjp fails, naming input, element and values", () => {
  // the rule is correct except for elements above 1, where it is doubled
  const wrong = ts.customVjp(
    (x: NDArray) => [x.sin(), x],
    (x: NDArray, g: NDArray) => [ts.where(x.greater(1), g.mul(x.cos()).mul(2), g.mul(x.cos()))],
  );
  const x = ts.array([[0.1, 0.5], [1.5, -0.3]], { dtype: "float64" });
  const e = assertThrows(() => checkGrad((t) => wrong(t).mul(3), [x]), Error);
  assert(e.message.includes("input 0 (shape [2, 2])"), e.message);
  assert(e.message.includes("worst at index [1, 0]"), e.message);
  assert(/vjp -?[\d.]+/.test(e.message) && e.message.includes("finite difference"), e.message);
  // the second input is the wrong one
  const f = assertThrows(() => checkGrad((a, t) => a.mul(wrong(t)), [ts.ones([2, 2]), x]), Error);
  assert(f.message.includes("input 1 (shape [2, 2])"), f.message);
  // the same bug on a large input is caught along random directions
  const big = normal(8, [10, 20]).mul(2);
  const g = assertThrows(() => checkGrad((t) => wrong(t), [big]), Error);
  assert(g.message.includes("directional derivative along random direction"), g.message);
  assert(g.message.includes("input 0 (shape [10, 20])"), g.message);
  // raising the limit locates the element instead
  const h = assertThrows(() => checkGrad((t) => wrong(t), [big], { perElementLimit: 200 }), Error);
  assert(h.message.includes("worst at index ["), h.message);
});

Deno.test("checkGrad: a function whose gradient is wrong fails", () => {
  // stopGradient hides part of the dependency: the true derivative of x*x is 2x, the VJP says x
  const e = assertThrows(() => checkGrad((x) => x.mul(ts.stopGradient(x)), [normal(9, [6])]), Error);
  assert(e.message.includes("gradient mismatch"), e.message);
  // bwd forgetting the chain rule factor
  const noChain = ts.customVjp((x: NDArray) => [x.exp(), x], (x: NDArray, _g: NDArray) => [x.exp()]);
  assertThrows(() => checkGrad((x) => noChain(x).mul(x), [normal(10, [5])]), Error, "gradient mismatch");
});

Deno.test("checkGrad: argument validation", () => {
  assertThrows(() => checkGrad((x) => x, []), TypeError, "non-empty");
  assertThrows(() => checkGrad((x) => x.greater(0), [ts.ones([2])]), TypeError, "float");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => checkGrad((() => 1) as any, [ts.ones([2])]), TypeError, "one NDArray");
});

Deno.test("checkGrad: tolerances are honoured and the check is deterministic", () => {
  // a gradient that is off by 1e-4 relative passes only with a loose rtol
  const slightly = ts.customVjp(
    (x: NDArray) => [x.square(), x],
    (x: NDArray, g: NDArray) => [g.mul(x).mul(2 * (1 + 1e-4))],
  );
  const x = ts.array([1, 2, 3], { dtype: "float64" });
  assertThrows(() => checkGrad((t) => slightly(t), [x]), Error);
  checkGrad((t) => slightly(t), [x], { rtol: 1e-3 });
  const msg = (seed: number) => {
    try {
      checkGrad((t) => slightly(t), [x], { seed });
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assertEquals(msg(3), msg(3));
});

Deno.test("checkGrad: every differentiable op so far", () => {
  const A = normal(20, [3, 4]), B = normal(21, [3, 4]), P = normal(22, [3, 4]).abs().add(0.5);
  const M = normal(23, [4, 5]), V = normal(24, [4]), C = normal(25, [2, 3, 4]);
  const idx = ts.array([2, 0, 1, 2], { dtype: "int32" });
  const cases: [string, (...xs: NDArray[]) => NDArray, NDArray[]][] = [
    ["add sub mul div (broadcast)", (a, b, v) => a.add(v).mul(b).sub(v.mul(2)).div(b.abs().add(1)), [A, B, V]],
    ["pow", (p, b) => p.pow(b), [P, B]],
    ["exp log log1p expm1", (a, p) => a.exp().add(p.log()).add(p.log1p()).add(a.expm1()), [A, P]],
    ["sqrt rsqrt reciprocal square", (p) => p.sqrt().add(p.rsqrt()).add(p.reciprocal()).add(p.square()), [P]],
    ["sin cos tanh sigmoid", (a) => a.sin().mul(a.cos()).add(a.tanh()).add(a.sigmoid()), [A]],
    ["erf gelu softplus elu", (a) => ts.erf(a).add(a.gelu()).add(a.gelu(true)).add(a.softplus()).add(a.elu()), [A]],
    [
      "relu relu6 leakyRelu clip",
      (a) => a.mul(4).relu().add(a.mul(8).relu6()).add(a.leakyRelu(0.2)).add(a.clip(-0.3, 0.4)),
      [A],
    ],
    ["maximum minimum atan2", (a, b) => a.maximum(b).add(a.minimum(b)).add(ts.atan2(a, b)), [A, B]],
    ["abs mod where", (a, b) => ts.where(a.greater(b), a.abs(), a.mod(b.abs().add(2))), [A, B]],
    ["sum mean prod", (a) => a.sum(1).add(a.mean(0).sum()).add(a.prod(0).sum()), [A]],
    ["max min", (a) => a.max(1).add(a.min(0).sum()).add(a.max()), [A]],
    ["variance std", (a) => a.variance(1).add(a.std(0).sum()), [A]],
    ["logSumExp softmax logSoftmax", (a) => a.logSumExp(1).sum().add(a.softmax(0).mul(a)).add(a.logSoftmax(1)), [A]],
    ["cumsum", (a) => a.cumsum(1).add(a.cumsum(0, true)), [A]],
    [
      "reshape transpose expandDims squeeze flatten",
      (c) => c.reshape([6, 4]).transpose().expandDims(0).squeeze(0).flatten(),
      [C],
    ],
    ["broadcastTo slice flip", (v, c) => v.broadcastTo([3, 4]).add(c.slice(1, [0, 3], [null, null, -1])).flip(0), [
      V,
      C,
    ]],
    ["pad", (a) => ts.pad(a, [[1, 1], [2, 0]], { value: 0.5 }).mul(ts.pad(a, 1)), [A]],
    [
      "concat stack split",
      (a, b) =>
        ts.concat([a, b], 1).add(ts.stack([a, b], 1).reshape([3, 8])).mul(
          ts.split(ts.concat([a, a], 1), 2, 1)[1].tile([1, 2]),
        ),
      [A, B],
    ],
    ["tile repeat", (a) => a.tile([2, 1]).add(ts.repeat(a, 2, 0)), [A]],
    [
      "take takeAlongAxis gather",
      (a) => ts.take(a, idx, 1).add(ts.takeAlongAxis(a, idx.reshape([1, 4]).broadcastTo([3, 4]).mod(3), 1)),
      [A],
    ],
    ["scatterAdd", (a, b) => ts.scatterAdd(a, idx.reshape([1, 4]).broadcastTo([3, 4]), b, 1), [A, B]],
    ["sort topk", (a) => ts.sort(a, 1).add(ts.topk(a, 4, 1).values.mul(2)), [A]],
    [
      "matmul dot outer einsum",
      (a, m, v) =>
        ts.matmul(a, m).sum(1).add(ts.dot(a, v)).add(ts.outer(v, v).sum(0).slice([0, 3])).add(
          ts.einsum("ij,jk->i", a, m),
        ),
      [A, M, V],
    ],
    ["batched matmul", (c, m) => ts.matmul(c, m), [C, M]],
    [
      "strided and reversed slices",
      (a) => a.slice(null, [null, null, -2]).add(a.slice(null, [3, 0, -2])).mul(a.slice([0, 3, 2], [0, 3, 2]).sum()),
      [A],
    ],
    [
      "pad reflect and edge",
      (a) => ts.pad(a, [[1, 0], [2, 1]], { mode: "reflect" }).add(ts.pad(a, [[1, 0], [2, 1]], { mode: "edge" })),
      [A],
    ],
  ];
  for (const [name, f, inputs] of cases) {
    try {
      checkGrad(f, inputs, { rtol: 1e-5, atol: 1e-7 });
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
});
