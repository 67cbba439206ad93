// Single-precision GEMM on WebAssembly SIMD: a register-blocked f32x4
// micro-kernel (MR rows x NR columns, MR*NR/4 v128 accumulators) emitted as
// bytes by `_wasm.ts`, a macro-kernel looping it over packed panels, and a JS
// driver (blocking, packing into panels, edge tiles) that runs unchanged on
// the calling thread and in the pool's workers (`_pool_threads.ts`).
//
// Every output element is computed by exactly one thread, k in increasing
// order, in blocks of KC whose partial sums pass through C; the blocking does
// not depend on the thread count or the tile an element lands in, so results
// are bit-identical for any number of threads.
import { WasmThreadPool } from "./_pool_threads.ts";
import {
  FuncBuilder,
  HAS_RELAXED_SIMD,
  HAS_SHARED_MEMORY,
  HAS_SIMD,
  I32,
  ModuleBuilder,
  Op,
  Simd,
  V128,
} from "./_wasm.ts";

/** Micro-kernel rows. */
export const MR = 4;
/** Micro-kernel columns (a multiple of 4). */
export const NR = 8;
/** Blocking of the driver: rows of A per packed block, depth per block, columns of B per packed block. */
export const MC = 64, KC = 256, NC = 1024;

/**
 * Build the GEMM module: `kernel(pa, pb, pc, ldcBytes, kc, load)` computes one
 * MR x NR tile from an A panel ([kc][MR]) and a B panel ([kc][NR]) into C
 * (load = 1: add onto C, else overwrite); `macro(pa, pb, pc, ldcBytes, mt, nt,
 * kc, load)` runs it over mt x nt tiles of consecutive panels. The memory is
 * imported as env.mem.
 */
export function gemmModuleBytes(
  opts: { mr?: number; nr?: number; relaxed?: boolean; unroll?: number; shared?: boolean; maxPages?: number } = {},
): Uint8Array<ArrayBuffer> {
  const mr = opts.mr ?? MR, nr = opts.nr ?? NR, relaxed = opts.relaxed ?? HAS_RELAXED_SIMD, U = opts.unroll ?? 4;
  const nv = nr / 4;
  if (!Number.isInteger(nv) || nv < 1) {
    throw new Error(`gemmModuleBytes: nr must be a positive multiple of 4, got ${nr}`);
  }
  const m = new ModuleBuilder().importMemory({
    module: "env",
    name: "mem",
    initial: 1,
    maximum: opts.shared ? (opts.maxPages ?? 16384) : undefined,
    shared: opts.shared,
  });

  // kernel
  const k = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const [pa, pb, pc, ldc, kc, load] = [0, 1, 2, 3, 4, 5];
  const acc: number[][] = [];
  for (let r = 0; r < mr; r++) acc.push(Array.from({ length: nv }, () => k.local(V128)));
  const bv = Array.from({ length: nv }, () => k.local(V128));
  const av = k.local(V128);
  const rowp = k.local(I32);
  const rowPtr = (r: number) => {
    if (r === 0) k.get(pc).set(rowp);
    else k.get(rowp).get(ldc).op(Op.i32_add).set(rowp);
  };
  k.get(load).if_();
  for (let r = 0; r < mr; r++) {
    rowPtr(r);
    for (let v = 0; v < nv; v++) k.get(rowp).simdMem(Simd.v128_load, 4, 16 * v).set(acc[r][v]);
  }
  k.else_();
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) k.v128Zero().set(acc[r][v]);
  k.end();
  const step = (offA: number, offB: number) => {
    for (let v = 0; v < nv; v++) k.get(pb).simdMem(Simd.v128_load, 4, offB + 16 * v).set(bv[v]);
    for (let r = 0; r < mr; r++) {
      k.get(pa).simdMem(Simd.v128_load32_splat, 2, offA + 4 * r).set(av);
      for (let v = 0; v < nv; v++) {
        if (relaxed) k.get(av).get(bv[v]).get(acc[r][v]).simd(Simd.f32x4_relaxed_madd).set(acc[r][v]);
        else k.get(acc[r][v]).get(av).get(bv[v]).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc[r][v]);
      }
    }
  };
  const advance = (steps: number) => {
    k.get(pa).i32(mr * 4 * steps).op(Op.i32_add).set(pa);
    k.get(pb).i32(nr * 4 * steps).op(Op.i32_add).set(pb);
    k.get(kc).i32(steps).op(Op.i32_sub).set(kc);
  };
  if (U > 1) {
    k.block().loop();
    k.get(kc).i32(U).op(Op.i32_lt_s).brIf(1);
    for (let u = 0; u < U; u++) step(u * mr * 4, u * nr * 4);
    advance(U);
    k.br(0).end().end();
  }
  k.block().loop();
  k.get(kc).op(Op.i32_eqz).brIf(1);
  step(0, 0);
  advance(1);
  k.br(0).end().end();
  for (let r = 0; r < mr; r++) {
    rowPtr(r);
    for (let v = 0; v < nv; v++) k.get(rowp).get(acc[r][v]).simdMem(Simd.v128_store, 4, 16 * v);
  }
  const kernelIndex = m.func(k, "kernel");

  // macro: for j < nt: for i < mt: kernel(pa + i*aps, pb + j*bps, pc + i*MR*ldc + j*NR*4, ...)
  const g = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32], []);
  const [gpa, gpb, gpc, gldc, gmt, gnt, gkc, gload] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = g.local(I32),
    j = g.local(I32),
    paI = g.local(I32),
    pcI = g.local(I32),
    aps = g.local(I32),
    bps = g.local(I32),
    rstep = g.local(I32);
  g.get(gkc).i32(mr * 4).op(Op.i32_mul).set(aps);
  g.get(gkc).i32(nr * 4).op(Op.i32_mul).set(bps);
  g.get(gldc).i32(mr).op(Op.i32_mul).set(rstep);
  g.i32(0).set(j);
  g.block().loop();
  g.get(j).get(gnt).op(Op.i32_ge_s).brIf(1);
  g.i32(0).set(i).get(gpa).set(paI).get(gpc).set(pcI);
  g.block().loop();
  g.get(i).get(gmt).op(Op.i32_ge_s).brIf(1);
  g.get(paI).get(gpb).get(pcI).get(gldc).get(gkc).get(gload).call(kernelIndex);
  g.get(paI).get(aps).op(Op.i32_add).set(paI);
  g.get(pcI).get(rstep).op(Op.i32_add).set(pcI);
  g.get(i).i32(1).op(Op.i32_add).set(i);
  g.br(0).end().end();
  g.get(gpb).get(bps).op(Op.i32_add).set(gpb);
  g.get(gpc).i32(nr * 4).op(Op.i32_add).set(gpc);
  g.get(j).i32(1).op(Op.i32_add).set(j);
  g.br(0).end().end();
  m.func(g, "macro");
  return m.bytes();
}

/** What one GEMM job says: C[b] (+)= op(A[b]) · op(B[b]) for b < batch; indices in floats. */
export interface GemmJob {
  batch: number;
  M: number;
  N: number;
  K: number;
  aOff: number;
  aStride: number;
  lda: number;
  transA: boolean;
  bOff: number;
  bStride: number;
  ldb: number;
  transB: boolean;
  /** float index of C in the wasm memory */
  cOff: number;
  cStride: number;
  ldc: number;
  accumulate: boolean;
}

/** Number of job fields when serialised into a Float64Array (see `encodeJob`). */
export const JOB_FIELDS = 16;

export function encodeJob(j: GemmJob, out: Float64Array): void {
  out.set([
    j.batch,
    j.M,
    j.N,
    j.K,
    j.aOff,
    j.aStride,
    j.lda,
    +j.transA,
    j.bOff,
    j.bStride,
    j.ldb,
    +j.transB,
    j.cOff,
    j.cStride,
    j.ldc,
    +j.accumulate,
  ]);
}

/** Thread t's share (of T) of a job; A or B null means "in the wasm heap". */
export type GemmRun = (
  job: Float64Array,
  A: Float32Array | null,
  B: Float32Array | null,
  t: number,
  T: number,
  scratch: number,
) => void;

/**
 * The driver, written self-contained so its source can be shipped to workers:
 * given the instance exports and memory, returns `run(job, A, B, t, T,
 * scratch)` that computes thread t's share (of T) of `job`, reading A and B
 * from the given Float32Arrays (the wasm heap, or caller arrays on the calling
 * thread) and writing C in the heap. `scratch` is the float index of this
 * thread's packing area (MC*KC + KC*NC + MR*NR floats, 16-byte aligned).
 */
export function makeGemmDriver(
  exports: WebAssembly.Exports,
  memory: WebAssembly.Memory,
  MR: number,
  NR: number,
  MC: number,
  KC: number,
  NC: number,
): GemmRun {
  const kernel = exports.kernel as (pa: number, pb: number, pc: number, ldc: number, kc: number, load: number) => void;
  const macro = exports.macro as (
    pa: number,
    pb: number,
    pc: number,
    ldc: number,
    mt: number,
    nt: number,
    kc: number,
    load: number,
  ) => void;
  let H = new Float32Array(memory.buffer);

  function packA(
    A: Float32Array,
    aOff: number,
    lda: number,
    transA: boolean,
    i0: number,
    mc: number,
    p0: number,
    kc: number,
    dst: number,
  ): void {
    const h = H;
    const np = Math.ceil(mc / MR);
    for (let ip = 0; ip < np; ip++) {
      const rows = Math.min(MR, mc - ip * MR), d0 = dst + ip * kc * MR, ib = i0 + ip * MR;
      if (!transA) {
        for (let r = 0; r < rows; r++) {
          let s = aOff + (ib + r) * lda + p0, d = d0 + r;
          for (let k = 0; k < kc; k++, s++, d += MR) h[d] = A[s];
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const s = aOff + (p0 + k) * lda + ib, d = d0 + k * MR;
          for (let r = 0; r < rows; r++) h[d + r] = A[s + r];
        }
      }
      for (let r = rows; r < MR; r++) {
        for (let k = 0, d = d0 + r; k < kc; k++, d += MR) h[d] = 0;
      }
    }
  }

  function packB(
    B: Float32Array,
    bOff: number,
    ldb: number,
    transB: boolean,
    j0: number,
    nc: number,
    p0: number,
    kc: number,
    dst: number,
  ): void {
    const h = H;
    const np = Math.ceil(nc / NR);
    for (let jp = 0; jp < np; jp++) {
      const cols = Math.min(NR, nc - jp * NR), d0 = dst + jp * kc * NR, jb = j0 + jp * NR;
      if (!transB) {
        if (cols === NR) {
          for (let k = 0; k < kc; k++) {
            const s = bOff + (p0 + k) * ldb + jb, d = d0 + k * NR;
            for (let c = 0; c < NR; c++) h[d + c] = B[s + c];
          }
        } else {
          for (let k = 0; k < kc; k++) {
            const s = bOff + (p0 + k) * ldb + jb, d = d0 + k * NR;
            for (let c = 0; c < cols; c++) h[d + c] = B[s + c];
            for (let c = cols; c < NR; c++) h[d + c] = 0;
          }
        }
      } else {
        for (let c = 0; c < cols; c++) {
          let s = bOff + (jb + c) * ldb + p0, d = d0 + c;
          for (let k = 0; k < kc; k++, s++, d += NR) h[d] = B[s];
        }
        for (let c = cols; c < NR; c++) {
          for (let k = 0, d = d0 + c; k < kc; k++, d += NR) h[d] = 0;
        }
      }
    }
  }

  // C[i0:i1, j0:j1] of one matrix.
  function block(
    A: Float32Array,
    aOff: number,
    lda: number,
    transA: boolean,
    B: Float32Array,
    bOff: number,
    ldb: number,
    transB: boolean,
    K: number,
    cOff: number,
    ldc: number,
    accumulate: boolean,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    scratch: number,
  ): void {
    const pA = scratch, pB = scratch + MC * KC, tmp = pB + KC * NC;
    if (K === 0) {
      if (!accumulate) { for (let i = i0; i < i1; i++) H.fill(0, cOff + i * ldc + j0, cOff + i * ldc + j1); }
      return;
    }
    for (let jc = j0; jc < j1; jc += NC) {
      const nc = Math.min(NC, j1 - jc);
      const ntAll = Math.ceil(nc / NR), ntFull = Math.floor(nc / NR);
      for (let pc = 0; pc < K; pc += KC) {
        const kc = Math.min(KC, K - pc);
        const load = accumulate || pc > 0 ? 1 : 0;
        packB(B, bOff, ldb, transB, jc, nc, pc, kc, pB);
        for (let ic = i0; ic < i1; ic += MC) {
          const mc = Math.min(MC, i1 - ic);
          const mtAll = Math.ceil(mc / MR), mtFull = Math.floor(mc / MR);
          packA(A, aOff, lda, transA, ic, mc, pc, kc, pA);
          const c0 = cOff + ic * ldc + jc;
          if (mtFull > 0 && ntFull > 0) macro(pA * 4, pB * 4, c0 * 4, ldc * 4, mtFull, ntFull, kc, load);
          for (let jp = 0; jp < ntAll; jp++) {
            for (let ip = jp < ntFull ? mtFull : 0; ip < mtAll; ip++) {
              const rows = Math.min(MR, mc - ip * MR), cols = Math.min(NR, nc - jp * NR);
              const ct = c0 + ip * MR * ldc + jp * NR;
              const h = H;
              if (load) {
                for (let r = 0; r < rows; r++) {
                  for (let c = 0; c < cols; c++) h[tmp + r * NR + c] = h[ct + r * ldc + c];
                }
              }
              kernel((pA + ip * kc * MR) * 4, (pB + jp * kc * NR) * 4, tmp * 4, NR * 4, kc, load);
              for (let r = 0; r < rows; r++) {
                for (let c = 0; c < cols; c++) h[ct + r * ldc + c] = h[tmp + r * NR + c];
              }
            }
          }
        }
      }
    }
  }

  return function run(job, A, B, t, T, scratch) {
    if (H.buffer !== memory.buffer) H = new Float32Array(memory.buffer);
    if (A === null) A = H;
    if (B === null) B = H;
    const batch = job[0], M = job[1], N = job[2], K = job[3];
    const aOff = job[4], aStride = job[5], lda = job[6], transA = job[7] !== 0;
    const bOff = job[8], bStride = job[9], ldb = job[10], transB = job[11] !== 0;
    const cOff = job[12], cStride = job[13], ldc = job[14], accumulate = job[15] !== 0;
    const mt = Math.ceil(M / MR), nt = Math.ceil(N / NR);
    // Split by row tiles unless there are too few of them; then by column tiles.
    const byRows = batch * mt >= 4 * T || batch * mt >= batch * nt;
    const per = byRows ? mt : nt, units = batch * per;
    const u0 = Math.floor(t * units / T), u1 = Math.floor((t + 1) * units / T);
    for (let b = Math.floor(u0 / per); b < batch && b * per < u1; b++) {
      const s = Math.max(u0 - b * per, 0), e = Math.min(u1 - b * per, per);
      if (s >= e) continue;
      const i0 = byRows ? s * MR : 0, i1 = byRows ? Math.min(e * MR, M) : M;
      const j0 = byRows ? 0 : s * NR, j1 = byRows ? N : Math.min(e * NR, N);
      block(
        A,
        aOff + b * aStride,
        lda,
        transA,
        B,
        bOff + b * bStride,
        ldb,
        transB,
        K,
        cOff + b * cStride,
        ldc,
        accumulate,
        i0,
        i1,
        j0,
        j1,
        scratch,
      );
    }
  };
}

/** Floats of packing scratch each thread needs (rounded to 16 bytes). */
export const SCRATCH_FLOATS: number = MC * KC + KC * NC + MR * NR + 64;

// ---------------------------------------------------------------------------
// Runtime: one memory (shared when the engine allows), one instance on the
// calling thread, and a lazily started worker pool.

const PAGE = 65536;
const MAX_PAGES = 16384; // 1 GiB of address space reserved for the shared heap
const SHARED = HAS_SHARED_MEMORY;
/** 2·M·N·K (summed over the batch) below which a GEMM stays on the calling thread. */
export const THREAD_MIN_FLOPS = 1 << 24;

interface Runtime {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  run: GemmRun;
}
let rt: Runtime | null = null;

function runtime(): Runtime {
  if (rt) return rt;
  const module = new WebAssembly.Module(gemmModuleBytes({ shared: SHARED, maxPages: MAX_PAGES }));
  const memory = SHARED
    ? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true })
    : new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
  rt = { module, memory, run: makeGemmDriver(instance.exports, memory, MR, NR, MC, KC, NC) };
  return rt;
}

/** Grow the heap to hold `bytes`; false when it cannot. */
function ensure(memory: WebAssembly.Memory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  const pages = Math.ceil((bytes - have) / PAGE);
  if (SHARED && have / PAGE + pages > MAX_PAGES) return false;
  try {
    memory.grow(pages);
    return true;
  } catch {
    return false;
  }
}

// -- threads ---------------------------------------------------------------

const hw = Math.max(1, Math.floor((globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 1));
let numThreads = hw;
let pool: WasmThreadPool | null = null;
let poolFailed = false;

/**
 * Set how many threads the WebAssembly kernels may use (default: all cores,
 * `navigator.hardwareConcurrency`). 1 keeps everything on the calling thread.
 * Results are identical for every thread count. Workers start on the first
 * large enough kernel and never keep the process alive.
 *
 * @example
 * ```ts
 * import { getNumThreads, setNumThreads } from "./mod.ts";
 * setNumThreads(1);
 * console.log(getNumThreads()); // 1
 * ```
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${n}`);
  numThreads = n;
  if (pool && pool.size + 1 < n) shutdownThreads();
}

/**
 * The number of threads the WebAssembly kernels may use.
 *
 * @example
 * ```ts
 * import { getNumThreads } from "./mod.ts";
 * console.log(getNumThreads() >= 1); // true
 * ```
 */
export function getNumThreads(): number {
  return numThreads;
}

/**
 * Stop the worker threads (they restart on the next large kernel). Idle
 * workers are unref'd and never keep a process alive, so this is optional.
 *
 * @example
 * ```ts
 * import { shutdownThreads } from "./mod.ts";
 * shutdownThreads();
 * ```
 */
export function shutdownThreads(): void {
  pool?.close();
  pool = null;
}

function scratchBase(t: number): number {
  return 64 + t * SCRATCH_FLOATS; // float index, 16-byte aligned
}

function getPool(T: number): WasmThreadPool | null {
  if (T <= 1 || !SHARED || poolFailed) return null;
  if (pool && pool.size + 1 >= T) return pool;
  shutdownThreads();
  const r = runtime();
  const setup = `
    const makeGemmDriver = ${makeGemmDriver.toString()};
    const run = makeGemmDriver(exports, memory, ${MR}, ${NR}, ${MC}, ${KC}, ${NC});
    return (params, t, T) => run(params, null, null, t, T, ${scratchBase(0)} + t * ${SCRATCH_FLOATS});
  `;
  try {
    pool = new WasmThreadPool(r.module, r.memory, setup, T - 1);
  } catch {
    poolFailed = true;
    pool = null;
  }
  return pool;
}

// -- entry points ------------------------------------------------------------

function span(rows: number, cols: number, ld: number, trans: boolean): number {
  if (rows === 0 || cols === 0) return 0;
  return trans ? (cols - 1) * ld + rows : (rows - 1) * ld + cols;
}

const job64 = new Float64Array(JOB_FIELDS);

/**
 * Batched C[b] = op(A[b])·op(B[b]) (or += with `accumulate`) with C contiguous
 * ([batch, M, N] at `c`/`cOff`); the core of `gemmF32` and the `dot` kernel.
 * Returns false when the heap cannot hold the operands (caller falls back).
 */
function gemmBatch(
  batch: number,
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  aOff: number,
  aStride: number,
  lda: number,
  transA: boolean,
  b: Float32Array,
  bOff: number,
  bStride: number,
  ldb: number,
  transB: boolean,
  c: Float32Array,
  cOff: number,
  accumulate: boolean,
): boolean {
  const r = runtime();
  const flops = 2 * batch * M * N * K;
  let T = flops >= THREAD_MIN_FLOPS ? Math.min(numThreads, Math.max(1, Math.ceil(batch * M / MR))) : 1;
  const p = T > 1 ? getPool(T) : null;
  if (!p) T = 1;
  const cFloats = batch * M * N;
  const base = scratchBase(T > 1 ? T : 1);
  let aSpan = 0, bSpan = 0;
  if (T > 1) {
    aSpan = (batch - 1) * aStride + span(M, K, lda, transA);
    bSpan = (batch - 1) * bStride + span(K, N, ldb, transB);
  }
  const aAt = base, bAt = aAt + ((aSpan + 3) & ~3), cAt = bAt + ((bSpan + 3) & ~3);
  if (!ensure(r.memory, (cAt + cFloats) * 4)) return false;
  const H = new Float32Array(r.memory.buffer);
  if (T > 1) {
    H.set(a.subarray(aOff, aOff + aSpan), aAt);
    H.set(b.subarray(bOff, bOff + bSpan), bAt);
  }
  if (accumulate) H.set(c.subarray(cOff, cOff + cFloats), cAt);
  const job: GemmJob = {
    batch,
    M,
    N,
    K,
    aOff: T > 1 ? aAt : aOff,
    aStride,
    lda,
    transA,
    bOff: T > 1 ? bAt : bOff,
    bStride,
    ldb,
    transB,
    cOff: cAt,
    cStride: M * N,
    ldc: N,
    accumulate,
  };
  if (p) {
    encodeJob(job, p.params);
    p.run(T, () => r.run(p.params, null, null, 0, T, scratchBase(0)));
  } else {
    encodeJob(job, job64);
    r.run(job64, a, b, 0, 1, scratchBase(0));
  }
  c.set(H.subarray(cAt, cAt + cFloats), cOff);
  return true;
}

/**
 * Single-precision GEMM on the WebAssembly SIMD kernel, threaded for large
 * sizes: C = op(A)·op(B), or C += op(A)·op(B) with `accumulate`, where
 * op(A)[i,k] = a[aOff + i*lda + k] (transA: a[aOff + k*lda + i]) is M×K,
 * op(B)[k,j] = b[bOff + k*ldb + j] (transB: b[bOff + j*ldb + k]) is K×N and
 * C[i,j] = c[cOff + i*ldc + j]. Summation is in float32, k in increasing order;
 * results are identical for every thread count. Falls back to plain JS when
 * WebAssembly SIMD is unavailable.
 */
export function gemmF32(
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  accumulate = false,
  transA = false,
  transB = false,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) { for (let i = 0; i < M; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + N); }
    return;
  }
  if (GEMM_AVAILABLE) {
    if (ldc === N) {
      if (gemmBatch(1, M, N, K, a, aOff, 0, lda, transA, b, bOff, 0, ldb, transB, c, cOff, accumulate)) return;
    } else {
      const tmp = new Float32Array(M * N);
      if (accumulate) { for (let i = 0; i < M; i++) tmp.set(c.subarray(cOff + i * ldc, cOff + i * ldc + N), i * N); }
      if (gemmBatch(1, M, N, K, a, aOff, 0, lda, transA, b, bOff, 0, ldb, transB, tmp, 0, accumulate)) {
        for (let i = 0; i < M; i++) c.set(tmp.subarray(i * N, (i + 1) * N), cOff + i * ldc);
        return;
      }
    }
  }
  gemmJs(M, N, K, a, aOff, lda, transA, b, bOff, ldb, transB, c, cOff, ldc, accumulate);
}

function gemmJs(
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  transA: boolean,
  b: Float32Array,
  bOff: number,
  ldb: number,
  transB: boolean,
  c: Float32Array,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): void {
  const row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * ldc;
    for (let j = 0; j < N; j++) row[j] = accumulate ? c[ci + j] : 0;
    for (let k = 0; k < K; k++) {
      const av = transA ? a[aOff + k * lda + i] : a[aOff + i * lda + k];
      if (transB) { for (let j = 0; j < N; j++) row[j] += av * b[bOff + j * ldb + k]; }
      else for (let j = 0, bk = bOff + k * ldb; j < N; j++) row[j] += av * b[bk + j];
    }
    for (let j = 0; j < N; j++) c[ci + j] = row[j];
  }
}

/**
 * The batched product behind the `dot` primitive on float32 data:
 * [B, M, K] x [B, K, N] -> [B, M, N] (contiguous). Null when the heap cannot
 * hold it.
 */
export function dotF32(
  B: number,
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  b: Float32Array,
): Float32Array | null {
  const out = new Float32Array(B * M * N);
  if (out.length === 0 || K === 0) return out;
  if (gemmBatch(B, M, N, K, a, 0, M * K, K, false, b, 0, K * N, N, false, out, 0, false)) return out;
  // Too large for the heap in one go: one matrix at a time.
  for (let i = 0; i < B; i++) {
    const o = out.subarray(i * M * N, (i + 1) * M * N);
    if (!gemmBatch(1, M, N, K, a, i * M * K, 0, K, false, b, i * K * N, 0, N, false, o, 0, false)) return null;
  }
  return out;
}

export const GEMM_AVAILABLE: boolean = HAS_SIMD;

/** Workers currently running (0 before the first threaded kernel); for tests. */
export function _threadPoolSize(): number {
  return pool?.size ?? 0;
}
