// Peak RSS of tessera running the cnn_train_step_b32 workload (conv → relu →
// maxPool → conv → relu → maxPool → linear, batch 32, SGD) for `steps` steps,
// beside bench/train_step_rss.py (PyTorch) for the memory comparison:
//
//   deno run --allow-read bench/train_step_rss.ts [steps]
//
// Prints one JSON line: steps, ms per step, peak RSS (MiB, VmHWM from
// /proc/self/status where readable, else the largest sampled RSS).
import * as ts from "../mod.ts";
import { crossEntropy, sgd } from "../nn/mod.ts";

function peakRssMiB(sampled: number): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux, or no read permission */ }
  return sampled / 2 ** 20;
}

const steps = Number(Deno.args[0] ?? 300);
const before = peakRssMiB(Deno.memoryUsage().rss);
const k = ts.random.split(ts.random.key(0), 4);
let p = {
  c1: ts.random.normal(k[0], [16, 1, 3, 3], { std: 0.3 }),
  b1: ts.zeros([16]),
  c2: ts.random.normal(k[1], [32, 16, 3, 3], { std: 0.1 }),
  b2: ts.zeros([32]),
  d: ts.random.normal(k[2], [10, 1568], { std: 0.03 }),
  bd: ts.zeros([10]),
};
const x = ts.random.uniform(k[3], [32, 1, 28, 28]);
const labels = ts.array(Array.from({ length: 32 }, (_, i) => (i * 7) % 10), { dtype: "int32" });
const step = ts.valueAndGrad((q: typeof p) => {
  let h = ts.maxPool2d(ts.conv2d(x, q.c1, { bias: q.b1, padding: 1 }).relu(), { kernelSize: 2 });
  h = ts.maxPool2d(ts.conv2d(h, q.c2, { bias: q.b2, padding: 1 }).relu(), { kernelSize: 2 });
  return crossEntropy(ts.matmul(h.flatten(1), q.d.transpose()).add(q.bd), labels);
});
let rss = 0;
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const [v, g] = step(p);
  p = sgd(p, g, 0.01);
  ts.realizeAll(Object.values(p));
  v.item();
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
