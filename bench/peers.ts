// tessera on every workload of ../shared/peers/workloads.json, printed as one
// JSON line per workload in the peers' format (peer "tessera"), so that
// `python3 report.py` puts tessera beside PyTorch, TF.js and jax-js:
//
//   deno task bench:peers > ../shared/peers/tessera.jsonl
//
// Method as the peers': warm-up, then the median of >= 5 timed calls
// (continuing up to 1.5 s, at most 30); a call computes its result into
// memory (`realizeAll`) and does not copy it out, as no peer does (tfjs: op
// call + dispose, no readback; jax-js: blockUntilReady; PyTorch: eager);
// backward workloads time the pullback only (forward not timed, as the peers).
// PEER_ONLY=name,name limits the workloads.
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { trainStep } from "./_train_step.ts";

interface Workload {
  name: string;
  shapes_nchw: Record<string, number[]>;
  flops: number;
  min_bytes: number | null;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

const file = new URL(env("TESSERA_WORKLOADS") ?? "../../shared/peers/workloads.json", import.meta.url);
const workloads: Workload[] = JSON.parse(Deno.readTextFileSync(file)).workloads;
const only = env("PEER_ONLY")?.split(",");

// inputs are concrete arrays, as the peers' tensors are (a lazy random input that a kernel fuses would be
// recomputed on every call)
const rand = (shape: number[], seed: number): NDArray => {
  const a = ts.random.uniform(ts.random.key(seed), shape, { minval: -1, maxval: 1 });
  ts.realizeAll([a]);
  return a;
};

/**
 * The pullback of `f` at `primals` for the cotangent `cot`: vjp once with the
 * forward realized, then only the pullback is timed (the peers time
 * autograd.grad with retain_graph / a jax-js pullback the same way).
 */
function gradOf(f: (...xs: NDArray[]) => NDArray, primals: NDArray[], cot: NDArray, which: number[]): () => void {
  const [y, pullback] = ts.vjp(f, ...primals);
  y.dataSync();
  return () => {
    const grads = pullback(cot) as NDArray[];
    ts.realizeAll(which.map((i) => grads[i]));
  };
}

type Plan = { fn: () => void; note: string };

/** Compute `y` into its buffer (what a timed call does). */
const compute = (y: NDArray): void => ts.realizeAll([y]);

function plan(w: Workload): Plan | null {
  const s = w.shapes_nchw;
  const x = s.x ? rand(s.x, 1) : undefined!;
  const dy = s.dy ? rand(s.dy, 3) : undefined!;
  const conv = (pad: number, dil: number) => (x: NDArray, wt: NDArray) =>
    ts.conv2d(x, wt, { padding: pad, dilation: dil });
  switch (w.name) {
    case "conv2d_3x3_fwd":
    case "conv2d_1x1_fwd":
    case "dilated_conv2d_3x3_r2_fwd": {
      const wt = rand(s.w, 2), dil = w.name.startsWith("dilated") ? 2 : 1, pad = w.name.includes("1x1") ? 0 : dil;
      return { fn: () => compute(conv(pad, dil)(x, wt)), note: "conv2d" };
    }
    case "conv2d_3x3_bwd_input":
      return { fn: gradOf(conv(1, 1), [x, rand(s.w, 2)], dy, [0]), note: "vjp of conv2d wrt x" };
    case "conv2d_3x3_bwd_filter":
      return { fn: gradOf(conv(1, 1), [x, rand(s.w, 2)], dy, [1]), note: "vjp of conv2d wrt w" };
    case "conv2d_3x3_bwd":
    case "dilated_conv2d_3x3_r2_bwd": {
      const dil = w.name.startsWith("dilated") ? 2 : 1;
      return { fn: gradOf(conv(dil, dil), [x, rand(s.w, 2)], dy, [0, 1]), note: "vjp of conv2d wrt x and w" };
    }
    case "depthwise_conv2d_3x3_fwd": {
      const wt = rand(s.w, 2);
      return { fn: () => compute(ts.depthwiseConv2d(x, wt, { padding: 1 })), note: "depthwiseConv2d" };
    }
    case "depthwise_conv2d_3x3_bwd":
      return {
        fn: gradOf((x, wt) => ts.depthwiseConv2d(x, wt, { padding: 1 }), [x, rand(s.w, 2)], dy, [0, 1]),
        note: "vjp of depthwiseConv2d wrt x and w",
      };
    case "conv2d_transpose_3x3_s2_fwd": {
      const wt = rand(s.w_torch_in_out_kh_kw, 2);
      return {
        fn: () => compute(ts.convTranspose2d(x, wt, { stride: 2, padding: 1, outputPadding: 1 })),
        note: "convTranspose2d",
      };
    }
    case "maxpool2d_2x2_s2_fwd":
      return { fn: () => compute(ts.maxPool2d(x, { kernelSize: 2 })), note: "maxPool2d" };
    case "maxpool2d_2x2_s2_bwd":
      return { fn: gradOf((x) => ts.maxPool2d(x, { kernelSize: 2 }), [x], dy, [0]), note: "vjp of maxPool2d" };
    case "avgpool2d_3x3_s1_p1_fwd":
      return { fn: () => compute(ts.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 })), note: "avgPool2d" };
    case "avgpool2d_3x3_s1_p1_bwd":
      return {
        fn: gradOf((x) => ts.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 }), [x], dy, [0]),
        note: "vjp of avgPool2d",
      };
    case "adaptive_avgpool2d_6x6_fwd":
      return { fn: () => compute(ts.adaptiveAvgPool2d(x, { outputSize: 6 })), note: "adaptiveAvgPool2d" };
    case "adaptive_avgpool2d_6x6_bwd":
      return {
        fn: gradOf((x) => ts.adaptiveAvgPool2d(x, { outputSize: 6 }), [x], dy, [0]),
        note: "vjp of adaptiveAvgPool2d",
      };
    case "matmul_512": {
      const a = rand(s.a, 1), b = rand(s.b, 2);
      return { fn: () => compute(ts.matmul(a, b)), note: "matmul" };
    }
    case "cnn_train_step_b32":
      return { fn: trainStep(), note: "valueAndGrad + crossEntropy + sgd(lr=0.01)" };
  }
  return null;
}

function time(fn: () => void): { median: number; min: number; max: number; reps: number } {
  let t0 = performance.now();
  fn();
  let warm = performance.now() - t0, warmReps = 1;
  while (warm < 500 && warmReps < 3) {
    t0 = performance.now();
    fn();
    warm += performance.now() - t0;
    warmReps++;
  }
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (times.length < 30 && performance.now() - start < 1500)) {
    t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { median, min: times[0], max: times[times.length - 1], reps: times.length };
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;
for (const w of workloads) {
  if (only && !only.includes(w.name)) continue;
  const rec: Record<string, unknown> = { peer: "tessera", workload: w.name, ms_median: null, gflops: null };
  rec.threads = ts.getNumThreads();
  try {
    const p = plan(w);
    if (!p) {
      Object.assign(rec, { supported: false, note: "no mapping" });
    } else {
      const t = time(p.fn);
      Object.assign(rec, {
        ms_median: r3(t.median),
        gflops: r3(w.flops / t.median / 1e6),
        ...(w.min_bytes ? { gbps_min_traffic: r3(w.min_bytes / t.median / 1e6) } : {}),
        ms_min: r3(t.min),
        ms_max: r3(t.max),
        reps: t.reps,
        supported: true,
        note: `${p.note}; backend ${ts.getBackend()}`,
      });
    }
  } catch (e) {
    Object.assign(rec, { supported: false, note: `error: ${(e as Error).message.slice(0, 200)}` });
  }
  console.log(JSON.stringify(rec));
}
ts.shutdownThreads();
