// Peak RSS of tessera running the cnn_train_step_b32 workload (conv → relu →
// maxPool → conv → relu → maxPool → linear, batch 32, SGD) for `steps` steps,
// beside bench/train_step_rss.py (PyTorch) for the memory comparison:
//
//   deno run --allow-read bench/train_step_rss.ts [steps]
//
// Prints one JSON line: steps, ms per step, peak RSS (MiB, VmHWM from
// /proc/self/status where readable, else the largest sampled RSS).
import * as ts from "../mod.ts";
import { trainStep } from "./_train_step.ts";

function peakRssMiB(sampled: number): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux, or no read permission */ }
  return sampled / 2 ** 20;
}

const steps = Number(Deno.args[0] ?? 300);
const before = peakRssMiB(Deno.memoryUsage().rss);
const step = trainStep();
let rss = 0;
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  step();
  rss = Math.max(rss, Deno.memoryUsage().rss);
}
const ms = (performance.now() - t0) / steps;
console.log(JSON.stringify({
  peer: "tessera",
  steps,
  ms_per_step: Math.round(ms * 1000) / 1000,
  threads: ts.getNumThreads(),
  peak_rss_mib_before: Math.round(before * 10) / 10,
  peak_rss_mib: Math.round(peakRssMiB(rss) * 10) / 10,
}));
ts.shutdownThreads();
