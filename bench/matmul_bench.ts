// matmul 512³ float32 on the "js" and "wasm" backends (1 thread and all cores).
//
//   deno run bench/matmul_bench.ts            GFLOP/s table + peers-format JSON lines
//   deno run bench/matmul_bench.ts --json     only the JSON line, default configuration (all cores),
//                                             for ../shared/peers/tessera.jsonl
//   deno bench bench/matmul_bench.ts          the same cases under `deno bench`
//
// Method as in ../shared/peers: warm-up, then the median of timed repetitions,
// each one computing the result into memory (realizeAll; no copy out, as the peers).
import * as ts from "../mod.ts";
import { _useRelaxedSimd } from "../ops/_wasm_gemm.ts";
import { HAS_RELAXED_SIMD } from "../ops/_wasm.ts";

const N = 512;
const FLOPS = 2 * N * N * N;

function operands(): [ts.NDArray, ts.NDArray] {
  const a = new Float32Array(N * N), b = new Float32Array(N * N);
  for (let i = 0; i < a.length; i++) {
    a[i] = Math.sin(i) * 0.5;
    b[i] = Math.cos(i * 0.7) * 0.5;
  }
  return [ts.array(a, { shape: [N, N] }), ts.array(b, { shape: [N, N] })];
}

interface Case {
  name: string;
  backend: string;
  threads: number;
  /** use f32x4.mul + f32x4.add instead of relaxed_madd */
  mulAdd?: boolean;
}
const cores = navigator.hardwareConcurrency;
const CASES: Case[] = [
  { name: "js", backend: "js", threads: 1 },
  { name: "wasm 1 thread", backend: "wasm", threads: 1 },
  ...(cores > 1 ? [{ name: `wasm ${cores} threads`, backend: "wasm", threads: cores }] : []),
  ...(HAS_RELAXED_SIMD ? [{ name: "wasm mul+add 1 thr", backend: "wasm", threads: 1, mulAdd: true }] : []),
];

function setup(c: Case): void {
  _useRelaxedSimd(!c.mulAdd);
  ts.setBackend(c.backend);
  ts.setNumThreads(c.threads);
}

function measure(
  c: Case,
  [a, b]: [ts.NDArray, ts.NDArray],
): { median: number; min: number; max: number; reps: number } {
  setup(c);
  const reps = c.backend === "js" ? 5 : 30, warm = c.backend === "js" ? 1 : 5;
  for (let i = 0; i < warm; i++) ts.realizeAll([ts.matmul(a, b)]);
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    ts.realizeAll([ts.matmul(a, b)]);
    t.push(performance.now() - t0);
  }
  t.sort((x, y) => x - y);
  return { median: t[t.length >> 1], min: t[0], max: t[t.length - 1], reps };
}

if (import.meta.main) {
  const json = Deno.args.includes("--json");
  const ops = operands();
  const rows: string[] = [];
  for (const c of CASES) {
    const r = measure(c, ops);
    const gf = FLOPS / r.median / 1e6;
    if (!json) {
      console.log(
        `matmul_512 ${c.name.padEnd(16)} median ${r.median.toFixed(2).padStart(8)} ms  ${
          gf.toFixed(1).padStart(6)
        } GFLOP/s` +
          `  (best ${(FLOPS / r.min / 1e6).toFixed(1)}, ${r.reps} reps)`,
      );
    }
    // One line per workload (report.py keys on peer + workload): the default configuration, all cores.
    if (c.backend === "wasm" && !c.mulAdd && c.threads === cores) {
      rows.push(JSON.stringify({
        peer: "tessera",
        workload: "matmul_512",
        ms_median: +r.median.toFixed(3),
        gflops: +gf.toFixed(2),
        threads: c.threads,
        supported: true,
        note: `wasm f32x4 GEMM, ${c.threads} thread${c.threads > 1 ? "s" : ""}`,
      }));
    }
  }
  if (json) { for (const r of rows) console.log(r); }
  _useRelaxedSimd(true);
  ts.setBackend("wasm");
  ts.setNumThreads(cores);
} else {
  const ops = operands();
  for (const c of CASES) {
    Deno.bench({
      name: `matmul_512 ${c.name}`,
      group: "matmul_512",
      baseline: c.backend === "js",
      n: c.backend === "js" ? 5 : 50,
      warmup: c.backend === "js" ? 1 : 5,
      fn: () => {
        setup(c);
        ts.realizeAll([ts.matmul(ops[0], ops[1])]);
      },
    });
  }
}
