// One set of worker threads for every WebAssembly kernel family (GEMM,
// window kernels, depthwise, Winograd). A family registers its module, memory
// and a work-function source; every worker instantiates the module against
// that memory (shared) and builds the work function from the source. A job
// is dispatched by writing its family and thread count, then bumping a
// generation counter in a SharedArrayBuffer (Atomics.notify); it is joined by
// counting down (Atomics.wait on the calling thread, which takes share 0
// itself). A job is S shares, claimed one at a time from a counter by the
// calling thread and by each worker that joined (compare-and-swap on its
// slot); once the shares are gone the caller waits only for workers still
// inside one and closes the others out, so a worker that is asleep or
// descheduled (two cores shared with the engine's compiler and GC threads)
// delays the job by at most the share it holds. One set,
// not one per family: idle workers poll briefly for the next job, and
// pollers of several families would compete for the cores.
//
// Workers are node:worker_threads workers started from source text (no file
// and no permission needed) and unref'd, so an idle pool never keeps a
// process or `deno test` alive; they sleep in Atomics.wait between jobs.
// Registrations reach them on a MessagePort, read synchronously
// (receiveMessageOnPort) when a job names a family they have not built yet.
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";

// CLAIM + t: whether worker t takes part in the current job: the job's generation while open, TAKEN once
// the worker joined, STOLEN once the calling thread closed it out (NS shares, NEXT the next unclaimed one).
const GEN = 0, PENDING = 1, NT = 2, ERROR = 3, READY = 4, FAMILY = 5, NS = 6, NEXT = 7, CLAIM = 8;
const TAKEN = -1, STOLEN = -2;
/** Slots of the shared Float64Array that carries a job's parameters. */
export const PARAM_SLOTS = 64;
const SPIN = 20000;
/** How long an idle worker keeps polling for the next job before it sleeps (ms). */
const IDLE_SPIN_MS = 1;

const WORKER_SRC = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { port, ctrlBuffer, paramBuffer, id } = workerData;
const ctrl = new Int32Array(ctrlBuffer), params = new Float64Array(paramBuffer);
const works = [];
// the work function of family f (building the families registered so far)
const familyWork = (f) => {
  while (works[f] === undefined) {
    const m = receiveMessageOnPort(port);
    if (!m) return null;
    const { family, module, memory, setup } = m.message;
    try {
      const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
      works[family] = new Function("exports", "memory", setup)(instance.exports, memory);
    } catch (e) {
      works[family] = null;
    }
  }
  return works[f];
};
Atomics.add(ctrl, ${READY}, 1);
Atomics.notify(ctrl, ${READY});
// GEN is a sequence lock: odd while the caller writes a job's fields, even
// once they are complete; a job is taken once, and only with fields read
// under one even generation (a worker that sat out the previous job must not
// mix its generation with the next job's thread count); -1 stops the workers.
const idle = (g) => g >= 0 && (g === last || (g & 1) === 1);
let last = 0;
for (;;) {
  // Poll for a while (jobs often come in bursts; waking a sleeping thread costs
  // tens to hundreds of microseconds), then sleep.
  for (let s = 0, until = performance.now() + ${IDLE_SPIN_MS}; idle(Atomics.load(ctrl, ${GEN})); s++) {
    if ((s & 1023) === 1023 && performance.now() > until) break;
  }
  const seen = Atomics.load(ctrl, ${GEN});
  if (idle(seen)) Atomics.wait(ctrl, ${GEN}, seen);
  const gen = Atomics.load(ctrl, ${GEN});
  if (gen < 0) break;
  if (idle(gen)) continue;
  const T = Atomics.load(ctrl, ${NT}), f = Atomics.load(ctrl, ${FAMILY});
  if (Atomics.load(ctrl, ${GEN}) !== gen) continue; // a newer job is being written: take that one
  last = gen;
  // join unless the calling thread closed this worker out (or a newer job reopened the slot)
  if (id < T && Atomics.compareExchange(ctrl, ${CLAIM} + id, gen, ${TAKEN}) === gen) {
    try {
      // f < 0: only build family -1 - f (a registration check)
      const work = familyWork(f < 0 ? -1 - f : f);
      if (!work) Atomics.store(ctrl, ${ERROR}, 2);
      else if (f >= 0) {
        const S = Atomics.load(ctrl, ${NS});
        for (let s; (s = Atomics.add(ctrl, ${NEXT}, 1)) < S;) work(params, s, S, id);
      }
    } catch (e) {
      Atomics.store(ctrl, ${ERROR}, 1);
    }
    if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
  }
}
`;

interface Family {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  setup: string;
}

/** The shared workers: thread ids 1..size, and every family registered with them. */
class Workers {
  readonly ctrl: Int32Array<SharedArrayBuffer>;
  readonly params = new Float64Array(new SharedArrayBuffer(PARAM_SLOTS * 8));
  readonly #workers: Worker[] = [];
  readonly #ports: MessagePort[] = [];
  readonly families: Family[] = [];
  closed = false;

  /** Starts `size` workers and blocks until they are ready (or throws). */
  constructor(readonly size: number) {
    this.ctrl = new Int32Array(new SharedArrayBuffer((CLAIM + size + 1) * 4));
    for (let id = 1; id <= size; id++) {
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(WORKER_SRC, {
        eval: true,
        workerData: { port: port2, ctrlBuffer: this.ctrl.buffer, paramBuffer: this.params.buffer, id },
        transferList: [port2],
      });
      w.unref();
      port1.unref?.();
      this.#workers.push(w);
      this.#ports.push(port1);
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
  }

  /** Registers a family with every worker and checks that each could build it; returns its id. */
  register(f: Family): number {
    const id = this.families.length;
    this.families.push(f);
    for (const p of this.#ports) p.postMessage({ family: id, ...f });
    this.run(-1 - id, this.size + 1, () => {});
    return id;
  }

  /**
   * Runs family f's job of S shares on T threads (the caller is thread 0 and runs `share(s, 0)` for the
   * shares it claims); f < 0, a registration check, has every worker build family -1 - f instead.
   */
  run(f: number, T: number, share: (s: number, thread: number) => void, S = T): void {
    if (this.closed) throw new Error("WasmThreadPool: run after close");
    T = Math.min(T, this.size + 1);
    const c = this.ctrl;
    // sequence lock (see the worker): odd while the job's fields are written, then even
    const writing = (Atomics.load(c, GEN) + 1) & 0x3fffffff;
    Atomics.store(c, GEN, writing);
    Atomics.store(c, NT, T);
    Atomics.store(c, FAMILY, f);
    Atomics.store(c, ERROR, 0);
    Atomics.store(c, PENDING, T - 1);
    Atomics.store(c, NS, S);
    Atomics.store(c, NEXT, 0);
    const gen = (writing + 1) & 0x3fffffff;
    for (let t = 1; t < T; t++) Atomics.store(c, CLAIM + t, gen);
    Atomics.store(c, GEN, gen);
    Atomics.notify(c, GEN);
    let err: unknown = null;
    try {
      if (f >= 0) { for (let s; (s = Atomics.add(c, NEXT, 1)) < S;) share(s, 0); }
    } catch (e) {
      err = e;
    }
    // workers that have not joined yet have nothing left to do
    for (let t = 1; t < T && f >= 0; t++) {
      if (Atomics.compareExchange(c, CLAIM + t, gen, STOLEN) === gen) Atomics.sub(c, PENDING, 1);
    }
    for (let s = 0; s < SPIN && Atomics.load(c, PENDING) !== 0; s++);
    for (let p; (p = Atomics.load(c, PENDING)) !== 0;) Atomics.wait(c, PENDING, p, 1000);
    if (err !== null) throw err;
    const e = Atomics.load(c, ERROR);
    if (e === 2) throw new Error("WasmThreadPool: a worker failed to instantiate the module");
    if (e !== 0) throw new Error("WasmThreadPool: a worker threw while running a job");
  }

  /** Stops the workers (they leave their wait loop and are terminated). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, GEN, -1);
    Atomics.notify(this.ctrl, GEN);
    for (const w of this.#workers) void w.terminate();
    for (const p of this.#ports) p.close();
  }
}

let shared: Workers | null = null;

/** Stops the shared worker threads; every family's handle restarts them on its next job. */
export function closeAllWorkers(): void {
  shared?.close();
  shared = null;
}

/**
 * A kernel family's handle on the shared worker threads (at least `size`
 * workers; started, or restarted larger, on demand). `setup` is the body of a
 * JS function of `(exports, memory)` that returns the work function
 * `(params: Float64Array, t: number, T: number) => void`; thread 0 is the caller.
 */
export class WasmThreadPool {
  #workers: Workers;
  #family: number;
  #closed = false;

  /** Registers the family (starting the workers when needed); throws when a worker cannot build it. */
  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly setup: string,
    size: number,
  ) {
    if (!shared || shared.closed || shared.size < size) {
      const families = shared && !shared.closed ? shared.families : [];
      shared?.close();
      shared = new Workers(size);
      for (const f of families) shared.register(f);
    }
    this.#workers = shared;
    this.#family = shared.register({ module, memory, setup });
  }

  /** The parameters of the next job (shared by every family: one job runs at a time). */
  get params(): Float64Array {
    return this.#current().params;
  }

  /** Worker threads available (thread ids 1..size). */
  get size(): number {
    return this.#current().size;
  }

  /**
   * Runs a job of S shares (default T) on T threads; its parameters must already be in `params`. Each
   * share is claimed once, by the calling thread (`share(s, 0)`) or a worker (the family's work function
   * with `(params, s, S, thread)`); `thread` < T names per-thread scratch.
   */
  run(T: number, share: (s: number, thread: number) => void, S: number = T): void {
    if (this.#closed) throw new Error("WasmThreadPool: run after close");
    this.#current().run(this.#family, T, share, S);
  }

  /** Drops this family's handle (the shared workers keep serving the others). */
  close(): void {
    this.#closed = true;
  }

  // The shared workers, restarted with every family when they were closed or replaced.
  #current(): Workers {
    if (this.#workers === shared && !shared.closed) return this.#workers;
    if (!shared || shared.closed) shared = new Workers(this.#workers.size);
    const families = this.#workers.families;
    if (shared.families.length === 0) { for (const f of families) shared.register(f); }
    this.#family = shared.families.indexOf(families[this.#family]);
    if (this.#family < 0) {
      this.#family = shared.register({ module: this.module, memory: this.memory, setup: this.setup });
    }
    this.#workers = shared;
    return shared;
  }
}

/**
 * How many shares a job of `units` independent units gets on T threads: a few per thread, so the threads
 * that are running take over what a late one has not started.
 */
export function sharesOf(units: number, T: number): number {
  return Math.min(units, 4 * T);
}

/**
 * A fresh array holding a copy of `src` (a kernel's results in the WebAssembly heap). Built from a typed array, V8
 * allocates the new buffer uninitialized and copies once, where `new Float32Array(n)` then `set` would zero it first:
 * 8 MiB in 0.51 instead of 0.87 ms.
 */
export function copyOut<A extends Float32Array | Int32Array>(src: A): A {
  return (src instanceof Int32Array ? new Int32Array(src) : new Float32Array(src)) as A;
}

/**
 * Run a job of `shares` shares on `pool` (or, without one, all of it on the calling thread with `work(0, 1, 0)`)
 * and return a fresh copy of its results `src` ({@linkcode copyOut}).
 */
export function runThenCopyOut<A extends Float32Array | Int32Array>(
  pool: WasmThreadPool | null,
  T: number,
  shares: number,
  work: (s: number, S: number, thread: number) => void,
  src: A,
): A {
  if (pool) pool.run(T, (s, thread) => work(s, shares, thread), shares);
  else work(0, 1, 0);
  return copyOut(src);
}

/** What a kernel family's workers build: a module instantiated against `memory`, and the work source. */
export interface FamilySpec {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  setup: string;
}

/** A kernel family's lazily registered handle on the shared workers (see {@linkcode familyPool}). */
export interface FamilyPool {
  /** A handle with at least T - 1 workers; null for T <= 1, without shared memory, or once registration failed. */
  get(T: number): WasmThreadPool | null;
  /** The current handle, if any. */
  current(): WasmThreadPool | null;
  /** Drop the handle (the next `get` registers the family again). */
  close(): void;
}

/** The get-or-register logic every kernel family shares; `spec` is called when the family (re)registers. */
export function familyPool(spec: () => FamilySpec, shared: boolean): FamilyPool {
  let pool: WasmThreadPool | null = null, failed = false;
  return {
    get(T) {
      if (T <= 1 || !shared || failed) return null;
      if (pool && pool.size + 1 >= T) return pool;
      pool?.close(); // (only this family's handle: others may be mid-job)
      pool = null;
      try {
        const f = spec();
        pool = new WasmThreadPool(f.module, f.memory, f.setup, T - 1);
      } catch {
        failed = true;
      }
      return pool;
    },
    current: () => pool,
    close() {
      pool?.close();
      pool = null;
    },
  };
}
