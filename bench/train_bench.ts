// The cnn_train_step_b32 workload of /work/shared/peers/workloads.json: one
// training step (forward, backward, SGD update) of the two-conv CNN on a
// batch of 32 (bench/_train_step.ts). Run: deno bench --allow-read
// bench/train_bench.ts — prints the median step and its GFLOP/s once at the end.
import { benchWorkloads } from "./_timing.ts";
import { trainStep } from "./_train_step.ts";

// the peers' FLOP count: conv1 fwd + dW, conv2 fwd + dX + dW, dense fwd + dX + dW
const FLOPS = 190869504;

const step = trainStep();
benchWorkloads("train", [
  { name: "cnn_train_step_b32", run: step, rate: (ms: number) => `${(FLOPS / (ms * 1e6)).toFixed(2)} GFLOP/s` },
]);
