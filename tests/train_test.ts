import { assert } from "@std/assert";
import { train } from "../examples/train_cnn.ts";

Deno.test("main job: the example CNN reaches >= 95% held-out accuracy", () => {
  const lines: string[] = [];
  const acc = train({ log: (s) => lines.push(s) });
  assert(lines.length === 10 && lines.every((l) => /loss [0-9.]+ +held-out accuracy/.test(l)), lines.join("\n"));
  assert(acc >= 0.95, `held-out accuracy ${acc}`);
});
