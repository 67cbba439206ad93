// Convolution workloads of /work/shared/peers/workloads.json (float32, NCHW)
// with the batch reduced to N = 1 (the plain-JS kernels are slow; FLOPs are
// scaled to match). Run: deno bench --allow-read bench/conv_bench.ts — each
// bench also prints its throughput (FLOPs / median time, GFLOP/s) at the end.
import {
  array,
  conv2d,
  type ConvAlgorithm,
  convTranspose2d,
  depthwiseConv2d,
  type NDArray,
  realizeAll,
  vjp,
} from "../mod.ts";
import { benchWorkloads } from "./_timing.ts";

function randn(shape: number[], seed: number): NDArray {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 4294967296 - 0.5;
  }
  return array(d, { shape });
}

const N = 1, SCALE = N / 8; // workloads.json uses N = 8

interface Work {
  name: string;
  flops: number;
  run: () => void;
}

const x3 = randn([N, 32, 64, 64], 1), w3 = randn([64, 32, 3, 3], 2), dy3 = randn([N, 64, 64, 64], 3);
const x1 = randn([N, 128, 32, 32], 4), w1 = randn([128, 128, 1, 1], 5);
const wd = randn([128, 1, 3, 3], 6), dyd = randn([N, 128, 32, 32], 7);
const xt = randn([N, 64, 16, 16], 8), wt = randn([64, 32, 3, 3], 9);

function grads(f: (x: NDArray, w: NDArray) => NDArray, x: NDArray, w: NDArray, dy: NDArray, which: number[]): void {
  const [, pull] = vjp(f, x, w);
  const g = pull(dy) as NDArray[];
  realizeAll(which.map((i) => g[i]));
}

const conv3 = (algorithm: ConvAlgorithm) => (x: NDArray, w: NDArray) => conv2d(x, w, { padding: 1, algorithm });
const dil = (x: NDArray, w: NDArray) => conv2d(x, w, { padding: 2, dilation: 2 });
const dw = (x: NDArray, w: NDArray) => depthwiseConv2d(x, w, { padding: 1 });

const WORK: Work[] = [
  { name: "conv2d_3x3_fwd (auto)", flops: 1207959552, run: () => realizeAll([conv3("auto")(x3, w3)]) },
  { name: "conv2d_3x3_fwd (im2col)", flops: 1207959552, run: () => realizeAll([conv3("im2col")(x3, w3)]) },
  { name: "conv2d_3x3_fwd (winograd)", flops: 1207959552, run: () => realizeAll([conv3("winograd")(x3, w3)]) },
  { name: "conv2d_3x3_fwd (direct)", flops: 1207959552, run: () => realizeAll([conv3("direct")(x3, w3)]) },
  { name: "conv2d_3x3_bwd_input", flops: 1207959552, run: () => grads(conv3("auto"), x3, w3, dy3, [0]) },
  { name: "conv2d_3x3_bwd_filter", flops: 1207959552, run: () => grads(conv3("auto"), x3, w3, dy3, [1]) },
  { name: "conv2d_3x3_bwd", flops: 2415919104, run: () => grads(conv3("auto"), x3, w3, dy3, [0, 1]) },
  { name: "conv2d_1x1_fwd", flops: 268435456, run: () => realizeAll([conv2d(x1, w1)]) },
  { name: "depthwise_conv2d_3x3_fwd", flops: 18874368, run: () => realizeAll([dw(x1, wd)]) },
  { name: "depthwise_conv2d_3x3_bwd", flops: 37748736, run: () => grads(dw, x1, wd, dyd, [0, 1]) },
  { name: "dilated_conv2d_3x3_r2_fwd", flops: 1207959552, run: () => realizeAll([dil(x3, w3)]) },
  { name: "dilated_conv2d_3x3_r2_bwd", flops: 2415919104, run: () => grads(dil, x3, w3, dy3, [0, 1]) },
  {
    name: "conv2d_transpose_3x3_s2_fwd",
    flops: 75497472,
    run: () => realizeAll([convTranspose2d(xt, wt, { stride: 2, padding: 1, outputPadding: 1 })]),
  },
];

benchWorkloads(
  "conv",
  WORK.map((w) => ({
    name: w.name,
    run: w.run,
    rate: (ms: number) => `${((w.flops * SCALE) / (ms * 1e6)).toFixed(2).padStart(7)} GFLOP/s (N=${N})`,
  })),
  { n: 5, warmup: 1 },
);
