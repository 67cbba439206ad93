// A pool of worker threads over one shared WebAssembly.Memory. Every worker
// instantiates the same module against the memory and builds a work function
// from a JS source string; a job is dispatched by bumping a generation counter
// in a SharedArrayBuffer (Atomics.notify) and joined by counting down
// (Atomics.wait on the calling thread, which takes share 0 itself).
//
// Workers are node:worker_threads workers started from source text (no file
// and no permission needed) and unref'd, so an idle pool never keeps a
// process or `deno test` alive; they sleep in Atomics.wait between jobs.
import { Worker } from "node:worker_threads";

const GEN = 0, PENDING = 1, NT = 2, ERROR = 3, READY = 4;
/** Slots of the shared Float64Array that carries a job's parameters. */
export const PARAM_SLOTS = 64;
const SPIN = 20000;
/** How long an idle worker keeps polling for the next job before it sleeps (ms). */
const IDLE_SPIN_MS = 2;

const WORKER_SRC = `
const { workerData } = require("node:worker_threads");
const { wasmModule, memory, ctrlBuffer, paramBuffer, id, setup } = workerData;
const ctrl = new Int32Array(ctrlBuffer), params = new Float64Array(paramBuffer);
let work = null;
try {
  const instance = new WebAssembly.Instance(wasmModule, { env: { mem: memory } });
  work = new Function("exports", "memory", setup)(instance.exports, memory);
} catch (e) {
  Atomics.store(ctrl, ${ERROR}, 2);
}
Atomics.add(ctrl, ${READY}, 1);
Atomics.notify(ctrl, ${READY});
let gen = 0;
while (work !== null) {
  // Poll for a while (jobs often come in bursts; waking a sleeping thread costs
  // tens to hundreds of microseconds), then sleep.
  for (let s = 0, until = performance.now() + ${IDLE_SPIN_MS}; Atomics.load(ctrl, ${GEN}) === gen; s++) {
    if ((s & 1023) === 1023 && performance.now() > until) break;
  }
  if (Atomics.load(ctrl, ${GEN}) === gen) Atomics.wait(ctrl, ${GEN}, gen);
  gen = Atomics.load(ctrl, ${GEN});
  if (gen < 0) break;
  const T = Atomics.load(ctrl, ${NT});
  if (id < T) {
    try {
      work(params, id, T);
    } catch (e) {
      Atomics.store(ctrl, ${ERROR}, 1);
    }
    if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
  }
}
`;

/**
 * Worker threads sharing `memory`. `setup` is the body of a JS function of
 * `(exports, memory)` that returns the work function `(params: Float64Array,
 * t: number, T: number) => void`; thread 0 is the caller.
 */
export class WasmThreadPool {
  readonly params: Float64Array;
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private closed = false;

  /** Starts `size` workers (thread ids 1..size) and blocks until they are ready (or throws). */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, setup: string, readonly size: number) {
    const ctrlBuffer = new SharedArrayBuffer(64);
    const paramBuffer = new SharedArrayBuffer(PARAM_SLOTS * 8);
    this.ctrl = new Int32Array(ctrlBuffer);
    this.params = new Float64Array(paramBuffer);
    for (let id = 1; id <= size; id++) {
      const w = new Worker(WORKER_SRC, {
        eval: true,
        workerData: { wasmModule: module, memory, ctrlBuffer, paramBuffer, id, setup },
      });
      w.unref();
      this.workers.push(w);
    }
    const deadline = performance.now() + 10000;
    for (;;) {
      const r = Atomics.load(this.ctrl, READY);
      if (r >= size) break;
      if (performance.now() > deadline) {
        this.close();
        throw new Error(`WasmThreadPool: ${size - r} of ${size} workers did not start within 10 s`);
      }
      Atomics.wait(this.ctrl, READY, r, 50);
    }
    if (Atomics.load(this.ctrl, ERROR) !== 0) {
      this.close();
      throw new Error("WasmThreadPool: a worker failed to instantiate the module");
    }
  }

  /**
   * Runs a job on T threads (T - 1 workers plus the caller, which runs
   * `share0`). The job's parameters must already be in `params`.
   */
  run(T: number, share0: () => void): void {
    if (this.closed) throw new Error("WasmThreadPool: run after close");
    T = Math.min(T, this.size + 1);
    const c = this.ctrl;
    Atomics.store(c, NT, T);
    Atomics.store(c, ERROR, 0);
    Atomics.store(c, PENDING, T - 1);
    Atomics.store(c, GEN, (Atomics.load(c, GEN) + 1) & 0x3fffffff);
    Atomics.notify(c, GEN);
    let err: unknown = null;
    try {
      share0();
    } catch (e) {
      err = e;
    }
    for (let s = 0; s < SPIN && Atomics.load(c, PENDING) !== 0; s++);
    for (let p; (p = Atomics.load(c, PENDING)) !== 0;) Atomics.wait(c, PENDING, p, 1000);
    if (err !== null) throw err;
    if (Atomics.load(c, ERROR) !== 0) throw new Error("WasmThreadPool: a worker threw while running a job");
  }

  /** Stops the workers (they leave their wait loop and are terminated). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, GEN, -1);
    Atomics.notify(this.ctrl, GEN);
    for (const w of this.workers) void w.terminate();
  }
}
