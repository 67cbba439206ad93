// Core op benchmarks: fused vs unfused elementwise chains on 1M elements,
// matmul 512³ (GFLOP/s printed), reductions. Run: deno task bench
// (or deno bench --allow-read bench/ops_bench.ts).
import * as ts from "../mod.ts";

const N = 1 << 20;
const x = ts.arange(N).mul(1 / N).sub(0.5);
x.dataSync();

Deno.bench("elementwise chain 1M, fused (one kernel)", { group: "chain", baseline: true }, () => {
  x.mul(2).add(1).tanh().mul(0.5).relu().dataSync();
});

Deno.bench("elementwise chain 1M, unfused (each intermediate realized)", { group: "chain" }, () => {
  let y = x.mul(2);
  y.dataSync();
  y = y.add(1);
  y.dataSync();
  y = y.tanh();
  y.dataSync();
  y = y.mul(0.5);
  y.dataSync();
  y.relu().dataSync();
});

const M = 512;
const a = ts.arange(M * M).mul(1e-6).reshape([M, M]);
const b = ts.arange(M * M).mul(-1e-6).add(0.3).reshape([M, M]);
ts.realizeAll([a, b]);
{
  // one timed run up front so `deno bench` output carries a GFLOP/s figure
  ts.matmul(a, b).dataSync();
  const reps = 3, t0 = performance.now();
  for (let i = 0; i < reps; i++) ts.matmul(a, b).dataSync();
  const s = (performance.now() - t0) / 1000 / reps;
  console.log(
    `matmul ${M}x${M}x${M} float32: ${(2 * M ** 3 / s / 1e9).toFixed(2)} GFLOP/s (${(s * 1e3).toFixed(1)} ms)`,
  );
}

Deno.bench("matmul 512x512x512 float32 (2·512³ FLOP)", { group: "matmul" }, () => {
  ts.matmul(a, b).dataSync();
});

Deno.bench("matmul 512x512x512, b transposed view", { group: "matmul" }, () => {
  ts.matmul(a, b.transpose()).dataSync();
});

const r = x.reshape([1024, 1024]);
Deno.bench("sum 1M (all)", { group: "reduce", baseline: true }, () => {
  r.sum().dataSync();
});
Deno.bench("sum 1024x1024 over axis -1", { group: "reduce" }, () => {
  r.sum(-1).dataSync();
});
Deno.bench("sum 1024x1024 over axis 0", { group: "reduce" }, () => {
  r.sum(0).dataSync();
});
Deno.bench("max 1024x1024 over axis -1", { group: "reduce" }, () => {
  r.max(-1).dataSync();
});
Deno.bench("softmax 1024x1024 over axis -1", { group: "reduce" }, () => {
  ts.softmax(r).dataSync();
});
Deno.bench("fused epilogue: (x*3-1)² summed over axis -1", { group: "reduce" }, () => {
  r.mul(3).sub(1).square().sum(-1).dataSync();
});
