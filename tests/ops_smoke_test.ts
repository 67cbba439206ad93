import { assertEquals } from "@std/assert";
import * as ts from "../mod.ts";

Deno.test("relu(x*2+1).sum() runs as one fused kernel", () => {
  ts.setDebug(true);
  const x = ts.array([-3, -1, 0, 2]);
  x.dataSync();
  ts.setDebug(true);
  const y = ts.relu(x.mul(2).add(1)).sum().item();
  const log = ts.kernelLog();
  ts.setDebug(false);
  assertEquals(y, 1 + 5);
  assertEquals(log.length, 1);
  assertEquals(log[0].startsWith("fused"), true);
});
