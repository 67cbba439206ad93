// Shared by the bench files: register each workload with Deno.bench, keep
// its own wall times, and print one rate line per workload (with the thread
// count the kernels may use) at exit.
import { getNumThreads } from "../mod.ts";

/** One benchmarked call and how to turn its median time into a rate. */
export interface Work {
  name: string;
  run: () => void;
  /** the printed line after the median, e.g. `${gflops} GFLOP/s` */
  rate: (ms: number) => string;
}

export function benchWorkloads(group: string, work: Work[], options: { n?: number; warmup?: number } = {}): void {
  const times = new Map<string, number[]>();
  for (const w of work) {
    Deno.bench({
      name: w.name,
      group,
      ...options,
      fn: () => {
        const t0 = performance.now();
        w.run();
        const list = times.get(w.name) ?? [];
        list.push(performance.now() - t0);
        times.set(w.name, list);
      },
    });
  }
  globalThis.addEventListener("unload", () => {
    const threads = getNumThreads();
    for (const w of work) {
      const list = (times.get(w.name) ?? []).sort((a, b) => a - b);
      if (list.length === 0) continue;
      const med = list[list.length >> 1];
      console.log(`${w.name.padEnd(32)} ${med.toFixed(2).padStart(9)} ms  ${w.rate(med)}  (${threads} threads)`);
    }
  });
}
