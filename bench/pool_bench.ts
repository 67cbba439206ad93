// Pooling workloads of /work/shared/peers/workloads.json (float32, NCHW).
// Run: deno bench --allow-read bench/pool_bench.ts — each bench also prints
// its effective bandwidth (min_bytes / median time) once at the end.
import { adaptiveAvgPool2d, array, avgPool2d, maxPool2d, type NDArray, realizeAll, vjp } from "../mod.ts";
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

interface Work {
  name: string;
  minBytes: number;
  run: () => void;
}

const x64 = randn([8, 64, 64, 64], 1);
const dyMax = randn([8, 64, 32, 32], 2);
const dyAvg = randn([8, 64, 64, 64], 3);
const x13 = randn([8, 256, 13, 13], 4);
const dyAd = randn([8, 256, 6, 6], 5);

const WORK: Work[] = [
  { name: "maxpool2d_2x2_s2_fwd", minBytes: 10485760, run: () => realizeAll([maxPool2d(x64, { kernelSize: 2 })]) },
  {
    name: "maxpool2d_2x2_s2_bwd",
    minBytes: 18874368,
    run: () => {
      const [, pull] = vjp((a: NDArray) => maxPool2d(a, { kernelSize: 2 }), x64);
      realizeAll([pull(dyMax)[0] as NDArray]);
    },
  },
  {
    name: "avgpool2d_3x3_s1_p1_fwd",
    minBytes: 16777216,
    run: () => realizeAll([avgPool2d(x64, { kernelSize: 3, stride: 1, padding: 1 })]),
  },
  {
    name: "avgpool2d_3x3_s1_p1_bwd",
    minBytes: 16777216,
    run: () => {
      const [, pull] = vjp((a: NDArray) => avgPool2d(a, { kernelSize: 3, stride: 1, padding: 1 }), x64);
      realizeAll([pull(dyAvg)[0] as NDArray]);
    },
  },
  {
    name: "adaptive_avgpool2d_6x6_fwd",
    minBytes: 1679360,
    run: () => realizeAll([adaptiveAvgPool2d(x13, { outputSize: 6 })]),
  },
  {
    name: "adaptive_avgpool2d_6x6_bwd",
    minBytes: 1679360,
    run: () => {
      const [, pull] = vjp((a: NDArray) => adaptiveAvgPool2d(a, { outputSize: 6 }), x13);
      realizeAll([pull(dyAd)[0] as NDArray]);
    },
  },
];

benchWorkloads(
  "pool",
  WORK.map((w) => ({ name: w.name, run: w.run, rate: (ms: number) => `${(w.minBytes / (ms * 1e6)).toFixed(3)} GB/s` })),
);
