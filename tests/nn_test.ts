import { assert, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import { batchNorm2d, crossEntropy, glorotUniform, heNormal, sgd } from "../nn/mod.ts";
import { checkCase, loadCases } from "./_fixtures.ts";

const OPS: Record<string, (...a: never[]) => ts.NDArray> = { batchNorm2d, crossEntropy, logSoftmax: ts.logSoftmax };
for (const c of loadCases("pool.json").filter((c) => c.op in OPS)) {
  Deno.test(`PyTorch fixture ${c.name}`, () => checkCase(c, OPS[c.op] as (...a: unknown[]) => ts.NDArray));
}

Deno.test("crossEntropy: bad target dtype, shape and range give clear errors", () => {
  const logits = ts.zeros([2, 3]);
  assertThrows(() => crossEntropy(logits, ts.array([0, 1])), TypeError, "int32");
  assertThrows(() => crossEntropy(logits, ts.array([0], { dtype: "int32" })), Error, "target must have shape [2]");
  assertThrows(() => crossEntropy(logits, ts.array([0, 3], { dtype: "int32" })), RangeError, "[0, 3)");
});

Deno.test("batchNorm2d: parameter shapes are checked", () => {
  assertThrows(
    () => batchNorm2d(ts.zeros([2, 3, 2, 2]), ts.ones([2]), ts.zeros([3])),
    Error,
    "gamma must have shape [3]",
  );
});

Deno.test("initializers have the stated scale; sgd steps every leaf", () => {
  const w = heNormal(ts.random.key(0), [64, 32, 3, 3]);
  const std = w.std().item() as number;
  assert(Math.abs(std - Math.sqrt(2 / 288)) < 0.01, `he std ${std}`);
  const u = glorotUniform(ts.random.key(1), [100, 200]);
  const lim = Math.sqrt(6 / 300);
  assert((u.max().item() as number) <= lim && (u.min().item() as number) >= -lim);
  const p = sgd({ a: ts.array([1]), b: [ts.array([2])] }, { a: ts.array([10]), b: [ts.array([20])] }, 0.1);
  assert(Math.abs((p.a.item() as number) - 0) < 1e-6 && Math.abs((p.b[0].item() as number) - 0) < 1e-6);
});
