import { assert, assertEquals } from "@std/assert";
import * as ts from "../mod.ts";
import { lenet } from "../models/mod.ts";
import { crossEntropy, sgd } from "../nn/mod.ts";

Deno.test("LeNet: output shape at several input sizes", () => {
  const p = lenet.init(ts.random.key(0), { classes: 7, inChannels: 2 });
  for (const hw of [12, 28, 33]) {
    assertEquals(lenet.apply(p, ts.random.normal(ts.random.key(hw), [2, 2, hw, hw])).shape, [2, 7]);
  }
});

Deno.test("LeNet: loss decreases on synthetic data within a few steps", () => {
  let p = lenet.init(ts.random.key(1), { classes: 3 });
  const x = ts.random.normal(ts.random.key(2), [6, 1, 16, 16]);
  const y = ts.array([0, 1, 2, 0, 1, 2], { dtype: "int32" });
  const step = ts.valueAndGrad((p: lenet.LeNetParams) => crossEntropy(lenet.apply(p, x), y));
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const [v, g] = step(p);
    losses.push(v.item() as number);
    p = sgd(p, g, 0.05);
  }
  assert(losses[losses.length - 1] < losses[0] * 0.8, losses.join(", "));
});
