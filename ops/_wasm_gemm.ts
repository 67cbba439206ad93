// Single-precision GEMM on WebAssembly SIMD: register-blocked f32x4
// micro-kernels (6x8 and 4x8: 12 or 8 v128 accumulators, `f32x4.relaxed_madd`
// when the engine validates it, else mul+add) emitted as bytes by `_wasm.ts`,
// a macro-kernel looping them over packed panels, SIMD panel packing, and a JS
// driver that runs unchanged on the calling thread and in the pool's workers
// (`_pool_threads.ts`). Operands are copied into the wasm heap; C is padded to
// whole tiles there, so there is no edge path.
//
// Every output element is computed by exactly one thread, k in increasing
// order, in depth blocks that depend on K only, partial sums passing through
// C; nothing depends on the thread count or on the tile an element lands in,
// so results are bit-identical for any number of threads.
import { closeAllWorkers, type FamilyPool, familyPool, type WasmThreadPool } from "./_pool_threads.ts";
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
import { ensureHeap, importHeap, MAX_PAGES, placeInHeap, wasmHeap } from "./_wasm_heap.ts";
import { epilogueInHeap, epilogueJs, type OutputEpilogue } from "./_wasm_epilogue.ts";

/** Micro-kernel row counts built into the module; the driver picks one per GEMM by M. */
export const MRS: readonly number[] = [4, 6];
/** The largest micro-kernel row count (the default, fastest block). */
export const MR = 6;
/** Micro-kernel columns (a multiple of 4). */
export const NR = 8;
/** Blocking of the driver: rows of A per packed block, depth per block, columns of B per packed block. */
export const MC = 60, KC = 256, NC = 512;

/**
 * Build the GEMM module. For each mr in `mrs`: `kernel{mr}(pa, pb, pc,
 * ldcBytes, kc, load)` computes one mr x NR tile from an A panel ([kc][mr])
 * and a B panel ([kc][NR]) into C (load = 1: add onto C, else overwrite);
 * `macro{mr}(pa, pb, pc, ldcBytes, mt, nt, kc, load, aPanelBytes,
 * bPanelBytes)` runs it over mt x nt tiles; `packA{mr}` / `packB` pack one
 * panel (see `packPanel`). All addresses are bytes; the memory is imported as
 * env.mem (shared when `shared`).
 */
export function gemmModuleBytes(
  opts: { mrs?: number[]; nr?: number; relaxed?: boolean; unroll?: number; shared?: boolean; maxPages?: number } = {},
): Uint8Array<ArrayBuffer> {
  const nr = opts.nr ?? NR, relaxed = opts.relaxed ?? HAS_RELAXED_SIMD, U = opts.unroll ?? 4;
  if (!Number.isInteger(nr / 4) || nr < 4) {
    throw new Error(`gemmModuleBytes: nr must be a positive multiple of 4, got ${nr}`);
  }
  const m = new ModuleBuilder().importMemory({
    module: "env",
    name: "mem",
    initial: 1,
    maximum: opts.shared ? (opts.maxPages ?? 16384) : undefined,
    shared: opts.shared,
  });
  for (const mr of opts.mrs ?? MRS) addKernel(m, mr, nr, relaxed, U);
  m.func(packPanel(nr), "packB");
  m.func(packGatherPanel(nr), "packBGather");
  return m.bytes();
}

/** Adds `kernel{mr}`, `macro{mr}` and `packA{mr}` for an mr x nr register block. */
function addKernel(m: ModuleBuilder, mr: number, nr: number, relaxed: boolean, U: number): void {
  const nv = nr / 4;
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
  const kernelIndex = m.func(k, `kernel${mr}`);

  // macro(pa, pb, pc, ldc, mt, nt, kc, load, aps, bps):
  //   for j < nt: for i < mt: kernel(pa + i*aps, pb + j*bps, pc + i*mr*ldc + j*nr*4, ldc, kc, load)
  const g = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const [gpa, gpb, gpc, gldc, gmt, gnt, gkc, gload, aps, bps] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const i = g.local(I32), j = g.local(I32), paI = g.local(I32), pcI = g.local(I32), rstep = g.local(I32);
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
  m.func(g, `macro${mr}`);
  m.func(packPanel(mr), `packA${mr}`);
}

/**
 * `pack(src, ks, cs, kc, cols, dst)`: one panel of width W, dst[k*W + c] =
 * src[k*ks + c*cs] (byte strides) for c < cols, zero for cols <= c < W; a
 * v128 copy when the source rows are contiguous and full, 4x4 shuffle
 * transposes when the source columns are (ks = 4).
 */
function packPanel(W: number): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const [src, ks, cs, kc, cols, dst] = [0, 1, 2, 3, 4, 5];
  const k = f.local(I32), c = f.local(I32), sp = f.local(I32), dp = f.local(I32);
  const forLoop = (ctr: number, limit: () => void, body: () => void) => f.forRange(ctr, () => f.i32(0), limit, 1, body);
  if (W % 2 === 0) {
    f.get(cs).i32(4).op(Op.i32_eq).get(cols).i32(W).op(Op.i32_eq).op(Op.i32_and).if_();
    f.get(src).set(sp).get(dst).set(dp);
    forLoop(k, () => f.get(kc), () => {
      for (let v = 0; v < Math.floor(W / 4); v++) {
        f.get(dp).get(sp).simdMem(Simd.v128_load, 0, 16 * v).simdMem(Simd.v128_store, 2, 16 * v);
      }
      // (W = 6: the last two floats as one 8-byte move)
      if (W % 4 === 2) f.get(dp).get(sp).mem(Op.i64_load, 0, 4 * W - 8).mem(Op.i64_store, 2, 4 * W - 8);
      f.get(sp).get(ks).op(Op.i32_add).set(sp);
      f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
    });
    f.op(Op.return).end();
  }
  // Source rows contiguous along k (a transposed panel: each column a run of floats): four columns by
  // four k at a time, vector loads transposed by shuffles; c4 columns and kc4 steps go that way, the
  // rest element by element.
  const c4 = f.local(I32), kc4 = f.local(I32), g = f.local(I32), cp = f.local(I32);
  const v = Array.from({ length: 4 }, () => f.local(V128)), t = Array.from({ length: 4 }, () => f.local(V128));
  const shuffle = (a: number, b: number, lanes: number[]) => f.get(a).get(b).shuffle32(lanes);
  f.get(ks).i32(4).op(Op.i32_eq).if_();
  f.get(cols).i32(-4).op(Op.i32_and).set(c4).get(kc).i32(-4).op(Op.i32_and).set(kc4);
  f.end();
  f.forRange(g, () => f.i32(0), () => f.get(c4), 4, () => {
    f.get(src).get(g).get(cs).op(Op.i32_mul).op(Op.i32_add).set(cp);
    f.get(dst).get(g).i32(2).op(Op.i32_shl).op(Op.i32_add).set(dp);
    f.forRange(k, () => f.i32(0), () => f.get(kc4), 4, () => {
      for (let q = 0; q < 4; q++) {
        f.get(cp).get(k).i32(2).op(Op.i32_shl).op(Op.i32_add);
        if (q > 0) f.get(cs).i32(q).op(Op.i32_mul).op(Op.i32_add);
        f.simdMem(Simd.v128_load, 2).set(v[q]);
      }
      shuffle(v[0], v[1], [0, 4, 1, 5]).set(t[0]);
      shuffle(v[0], v[1], [2, 6, 3, 7]).set(t[1]);
      shuffle(v[2], v[3], [0, 4, 1, 5]).set(t[2]);
      shuffle(v[2], v[3], [2, 6, 3, 7]).set(t[3]);
      f.get(dp);
      shuffle(t[0], t[2], [0, 1, 4, 5]).simdMem(Simd.v128_store, 2);
      f.get(dp);
      shuffle(t[0], t[2], [2, 3, 6, 7]).simdMem(Simd.v128_store, 2, W * 4);
      f.get(dp);
      shuffle(t[1], t[3], [0, 1, 4, 5]).simdMem(Simd.v128_store, 2, 2 * W * 4);
      f.get(dp);
      shuffle(t[1], t[3], [2, 3, 6, 7]).simdMem(Simd.v128_store, 2, 3 * W * 4);
      f.get(dp).i32(4 * W * 4).op(Op.i32_add).set(dp);
    });
  });
  if (W % 4 === 2) {
    // a last pair of columns (W = 6): two vectors interleaved into (c, c+1) pairs, stored 8 bytes per k
    f.get(cols).get(c4).op(Op.i32_sub).i32(2).op(Op.i32_eq).get(ks).i32(4).op(Op.i32_eq).op(Op.i32_and).if_();
    f.get(src).get(c4).get(cs).op(Op.i32_mul).op(Op.i32_add).set(cp);
    f.get(dst).get(c4).i32(2).op(Op.i32_shl).op(Op.i32_add).set(dp);
    f.forRange(k, () => f.i32(0), () => f.get(kc4), 4, () => {
      f.get(cp).get(k).i32(2).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load, 2).set(v[0]);
      f.get(cp).get(k).i32(2).op(Op.i32_shl).op(Op.i32_add).get(cs).op(Op.i32_add).simdMem(Simd.v128_load, 2).set(v[1]);
      shuffle(v[0], v[1], [0, 4, 1, 5]).set(t[0]);
      shuffle(v[0], v[1], [2, 6, 3, 7]).set(t[1]);
      for (let r = 0; r < 4; r++) {
        f.get(dp).get(t[r >> 1]).simdMem(Simd.v128_store64_lane, 2, r * W * 4).emit(r & 1);
      }
      f.get(dp).i32(4 * W * 4).op(Op.i32_add).set(dp);
    });
    f.get(c4).i32(2).op(Op.i32_add).set(c4);
    f.end();
  }
  // element by element: columns < c4 at k >= kc4, then columns c4 .. cols at every k
  const scalar = (c0: () => void, c1: () => void, k0: () => void) => {
    f.forRange(c, c0, c1, 1, () => {
      f.get(src).get(c).get(cs).op(Op.i32_mul).op(Op.i32_add);
      k0();
      f.get(ks).op(Op.i32_mul).op(Op.i32_add).set(sp);
      f.get(dst).get(c).i32(4).op(Op.i32_mul).op(Op.i32_add);
      k0();
      f.i32(W * 4).op(Op.i32_mul).op(Op.i32_add).set(dp);
      f.forRange(k, k0, () => f.get(kc), 1, () => {
        f.get(dp).get(sp).mem(Op.f32_load, 2).mem(Op.f32_store, 2);
        f.get(sp).get(ks).op(Op.i32_add).set(sp);
        f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
      });
    });
  };
  scalar(() => f.i32(0), () => f.get(c4), () => f.get(kc4));
  scalar(() => f.get(c4), () => f.get(cols), () => f.i32(0));
  f.forRange(c, () => f.get(cols), () => f.i32(W), 1, () => {
    f.get(dst).get(c).i32(4).op(Op.i32_mul).op(Op.i32_add).set(dp);
    forLoop(k, () => f.get(kc), () => {
      f.get(dp).f32(0).mem(Op.f32_store, 2);
      f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
    });
  });
  return f;
}

/**
 * `packGather(src, kT, jT, kc, cols, dst)`: one panel of width W of a gathered
 * operand, dst[k*W + c] = src[kT[k] + jT[c]] (kT, jT: int32 float offsets at
 * byte addresses kT and jT; both strictly increasing) for c < cols, zero for
 * cols <= c < W; v128 row copies when the panel's columns are contiguous.
 * Implicit im2col: a convolution's patch matrix is B[tap offset + position
 * offset] of the padded input.
 */
function packGatherPanel(W: number): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const forLoop = (ctr: number, limit: () => void, body: () => void) => f.forRange(ctr, () => f.i32(0), limit, 1, body);
  const [src, kT, jT, kc, cols, dst] = [0, 1, 2, 3, 4, 5];
  const k = f.local(I32), c = f.local(I32), sp = f.local(I32), dp = f.local(I32), kp = f.local(I32);
  const kOffset = () => f.get(kp).mem(Op.i32_load, 2).i32(2).op(Op.i32_shl); // kT[k] in bytes
  // contiguous full panel: jT[W-1] - jT[0] == W-1
  f.get(cols).i32(W).op(Op.i32_eq);
  f.get(jT).mem(Op.i32_load, 2, 4 * (W - 1)).get(jT).mem(Op.i32_load, 2).op(Op.i32_sub).i32(W - 1).op(Op.i32_eq);
  f.op(Op.i32_and).if_();
  f.get(src).get(jT).mem(Op.i32_load, 2).i32(2).op(Op.i32_shl).op(Op.i32_add).set(sp);
  f.get(dst).set(dp).get(kT).set(kp);
  forLoop(k, () => f.get(kc), () => {
    for (let v = 0; v < W / 4; v++) {
      f.get(dp).get(sp);
      kOffset();
      f.op(Op.i32_add).simdMem(Simd.v128_load, 0, 16 * v).simdMem(Simd.v128_store, 4, 16 * v);
    }
    f.get(kp).i32(4).op(Op.i32_add).set(kp);
    f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
  });
  f.op(Op.return).end();
  // full panel, scattered columns: the W column addresses in locals, one kT load per row
  const col = Array.from({ length: W }, () => f.local(I32));
  f.get(cols).i32(W).op(Op.i32_eq).if_();
  for (let q = 0; q < W; q++) {
    f.get(src).get(jT).mem(Op.i32_load, 2, 4 * q).i32(2).op(Op.i32_shl).op(Op.i32_add).set(col[q]);
  }
  f.get(dst).set(dp).get(kT).set(kp);
  // four rows at a time while their sources are contiguous (kT[k+3] = kT[k] + 3): a vector from each
  // column, transposed in 4x4 blocks by shuffles; else one row of scalar copies
  const v = Array.from({ length: 4 }, () => f.local(V128)), t = Array.from({ length: 4 }, () => f.local(V128));
  const shuffle = (a: number, b: number, lanes: number[]) => f.get(a).get(b).shuffle32(lanes);
  f.i32(0).set(k).block().loop();
  f.get(k).get(kc).op(Op.i32_ge_s).brIf(1);
  f.get(k).i32(4).op(Op.i32_add).get(kc).op(Op.i32_le_s);
  f.get(kp).mem(Op.i32_load, 2, 12).get(kp).mem(Op.i32_load, 2).op(Op.i32_sub).i32(3).op(Op.i32_eq);
  f.op(Op.i32_and).if_();
  kOffset();
  f.set(sp);
  for (let g = 0; g < W / 4; g++) {
    for (let q = 0; q < 4; q++) f.get(col[4 * g + q]).get(sp).op(Op.i32_add).simdMem(Simd.v128_load, 2).set(v[q]);
    shuffle(v[0], v[1], [0, 4, 1, 5]).set(t[0]);
    shuffle(v[0], v[1], [2, 6, 3, 7]).set(t[1]);
    shuffle(v[2], v[3], [0, 4, 1, 5]).set(t[2]);
    shuffle(v[2], v[3], [2, 6, 3, 7]).set(t[3]);
    // row r of the block: columns 4g .. 4g+3 at dst + r·W·4 + g·16
    f.get(dp);
    shuffle(t[0], t[2], [0, 1, 4, 5]).simdMem(Simd.v128_store, 2, 16 * g);
    f.get(dp);
    shuffle(t[0], t[2], [2, 3, 6, 7]).simdMem(Simd.v128_store, 2, W * 4 + 16 * g);
    f.get(dp);
    shuffle(t[1], t[3], [0, 1, 4, 5]).simdMem(Simd.v128_store, 2, 2 * W * 4 + 16 * g);
    f.get(dp);
    shuffle(t[1], t[3], [2, 3, 6, 7]).simdMem(Simd.v128_store, 2, 3 * W * 4 + 16 * g);
  }
  f.get(kp).i32(16).op(Op.i32_add).set(kp);
  f.get(dp).i32(4 * W * 4).op(Op.i32_add).set(dp);
  f.get(k).i32(4).op(Op.i32_add).set(k);
  f.else_();
  kOffset();
  f.set(sp);
  for (let q = 0; q < W; q++) {
    f.get(dp).get(col[q]).get(sp).op(Op.i32_add).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 4 * q);
  }
  f.get(kp).i32(4).op(Op.i32_add).set(kp);
  f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
  f.get(k).i32(1).op(Op.i32_add).set(k);
  f.end();
  f.br(0).end().end();
  f.op(Op.return).end();
  forLoop(c, () => f.i32(W), () => {
    f.get(dst).get(c).i32(2).op(Op.i32_shl).op(Op.i32_add).set(dp);
    f.get(c).get(cols).op(Op.i32_lt_s).if_();
    f.get(src).get(jT).get(c).i32(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2).i32(2).op(Op.i32_shl)
      .op(Op.i32_add).set(sp);
    f.get(kT).set(kp);
    forLoop(k, () => f.get(kc), () => {
      f.get(dp).get(sp);
      kOffset();
      f.op(Op.i32_add).mem(Op.f32_load, 2).mem(Op.f32_store, 2);
      f.get(kp).i32(4).op(Op.i32_add).set(kp);
      f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
    });
    f.else_();
    forLoop(k, () => f.get(kc), () => {
      f.get(dp).f32(0).mem(Op.f32_store, 2);
      f.get(dp).i32(W * 4).op(Op.i32_add).set(dp);
    });
    f.end();
  });
  return f;
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
  /** micro-kernel height (one of MRS); C must be padded to it */
  mr: number;
  /** row mode (B prepacked and shared, chunks of row panels) or column mode */
  byRows: boolean;
  /** float index of the shared prepacked operand */
  packed: number;
  /** float index of thread 0's scratch, and the distance between threads' scratch areas */
  scratch: number;
  scratchStride: number;
  /** Int32 index of the chunk counter in the heap */
  counter: number;
  /** panels per chunk */
  group: number;
  /** Int32 index of the per-chunk completion flags (threaded jobs) */
  flags: number;
  /**
   * Int32 indices of B's gather tables (kT: K entries, then jT: N entries), or
   * -1: op(B)[k, j] = B[kT[k] + jT[j]] (float offsets from B's base)
   */
  bTable: number;
  /** the threads pack the shared operand themselves (then meet at a barrier) instead of the caller */
  parallelPrepack: boolean;
}

/** Number of job fields when serialised into a Float64Array (see `encodeJob`). */
export const JOB_FIELDS = 26;

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
    j.mr,
    +j.byRows,
    j.packed,
    j.scratch,
    j.scratchStride,
    j.counter,
    j.group,
    j.flags,
    j.bTable,
    +j.parallelPrepack,
  ]);
}

/**
 * Thread t's share (of T) of a job whose operands are in the wasm heap;
 * `after` runs after each chunk this thread completes.
 */
export type GemmRun = (job: Float64Array, t: number, T: number, after?: () => void) => void;

/** A job on one thread: `prepack`, then `run`; on several, `run` on each (the threads pack the shared operand). */
export interface GemmDriver {
  prepack(job: Float64Array): void;
  run: GemmRun;
}

/**
 * The driver, written self-contained so its source can be shipped to workers.
 * Row mode (M ≥ N in tiles): `prepack` packs all of B into shared column
 * panels ([K][NR] each); threads then take chunks of row panels from a shared
 * counter (Atomics), pack that chunk's A rows into their own scratch and run
 * the macro-kernel over (column block, depth block) pieces. Column mode is the
 * mirror image (A shared, chunks of column panels). Work is claimed
 * dynamically, so a descheduled worker only delays what it already claimed;
 * results do not depend on who computes what. C is padded to whole tiles
 * (rows to a multiple of the job's mr, ldc to a multiple of NR).
 */
export function makeGemmDriver(
  exports: WebAssembly.Exports,
  memory: WebAssembly.Memory,
  NR: number,
  MC: number,
  KC: number,
  NC: number,
): GemmDriver {
  type Fn = (...args: number[]) => void;
  const packB = exports.packB as Fn, packBGather = exports.packBGather as Fn;
  let I = new Int32Array(memory.buffer);

  function geometry(job: Float64Array) {
    const M = job[1], N = job[2], K = job[3], transA = job[7] !== 0, transB = job[11] !== 0;
    const lda = job[6], ldb = job[10], mr = job[16];
    return {
      batch: job[0],
      M,
      N,
      K,
      mr,
      mt: Math.ceil(M / mr),
      nt: Math.ceil(N / NR),
      // byte strides of op(A) along k and i, of op(B) along k and j
      aks: transA ? lda * 4 : 4,
      ais: transA ? 4 : lda * 4,
      bks: transB ? 4 : ldb * 4,
      bjs: transB ? ldb * 4 : 4,
      packA: exports["packA" + mr] as Fn,
      macro: exports["macro" + mr] as Fn,
      byRows: job[17] !== 0,
      packed: job[18],
      bTbl: job[24],
    };
  }

  /** Pack column panel jp of op(B) (B's batch item at byte address b0) into dst. */
  function packBPanel(g: ReturnType<typeof geometry>, b0: number, jp: number, cols: number, dst: number): void {
    if (g.bTbl < 0) packB(b0 + jp * NR * g.bjs, g.bks, g.bjs, g.K, cols, dst);
    else packBGather(b0, g.bTbl * 4, (g.bTbl + g.K + jp * NR) * 4, g.K, cols, dst);
  }

  /** The shared operand's panels to pack: one per batch item unless its batch stride is 0, times panels. */
  function panels(g: ReturnType<typeof geometry>, job: Float64Array): { total: number; per: number } {
    const copies = (g.byRows ? job[9] : job[5]) === 0 ? 1 : g.batch, per = g.byRows ? g.nt : g.mt;
    return { total: copies * per, per };
  }

  /** Pack panel q of the shared operand (A is shared by the batch when its stride is 0, likewise B). */
  function packPanel(g: ReturnType<typeof geometry>, job: Float64Array, q: number, per: number): void {
    const { N, M, K, mr, mt, nt } = g;
    const b = Math.floor(q / per), i = q - b * per;
    if (g.byRows) {
      const cols = Math.min(NR, N - i * NR);
      packBPanel(g, (job[8] + b * job[9]) * 4, i, cols, (g.packed + (b * nt + i) * K * NR) * 4);
    } else {
      const rows = Math.min(mr, M - i * mr), a0 = (job[4] + b * job[5]) * 4;
      g.packA(a0 + i * mr * g.ais, g.aks, g.ais, K, rows, (g.packed + (b * mt + i) * K * mr) * 4);
    }
  }

  /** Pack every panel of the shared operand on the calling thread. */
  function prepack(job: Float64Array): void {
    const g = geometry(job), { total, per } = panels(g, job);
    for (let q = 0; q < total; q++) packPanel(g, job, q, per);
  }

  function run(job: Float64Array, t: number, T: number, after?: () => void): void {
    const g = geometry(job);
    if (job[25] !== 0) {
      // the shared operand packed by whichever threads are running (panels claimed from a counter), then
      // a wait until every panel is packed (Int32s after the chunk counter: panels done, panels claimed)
      const { total, per } = panels(g, job);
      if (I.buffer !== memory.buffer) I = new Int32Array(memory.buffer);
      const done = job[21] + 1, claim = job[21] + 2;
      for (let q; (q = Atomics.add(I, claim, 1)) < total;) {
        packPanel(g, job, q, per);
        Atomics.add(I, done, 1);
      }
      for (let s = 1, until = 0; Atomics.load(I, done) < total; s++) {
        if ((s & 0xfffff) !== 0) continue;
        until ||= performance.now() + 10000;
        if (performance.now() > until) throw new Error("gemm: a packing thread never finished its panel");
      }
    }
    const { batch, M, N, K, mr, mt, nt, macro, packA, byRows, packed } = g;
    const cOff = job[12], cStride = job[13], ldc = job[14], accumulate = job[15] !== 0;
    const scratch = job[19] + t * job[20], counter = job[21], group = job[22];
    const kb = K <= 2 * KC ? K : KC; // depth blocks depend on K only
    const aps = K * mr * 4, bps = K * NR * 4;
    const per = Math.ceil((byRows ? mt : nt) / group), chunks = batch * per;
    if (I.buffer !== memory.buffer) I = new Int32Array(memory.buffer);
    for (;;) {
      const c = T > 1 ? Atomics.add(I, counter, 1) : I[counter]++;
      if (c >= chunks) break;
      const b = Math.floor(c / per), p0 = (c - b * per) * group;
      const c0 = cOff + b * cStride;
      if (byRows) {
        const np = Math.min(group, mt - p0), a0 = (job[4] + b * job[5]) * 4;
        for (let q = 0; q < np; q++) {
          const ip = p0 + q, rows = Math.min(mr, M - ip * mr);
          packA(a0 + ip * mr * g.ais, g.aks, g.ais, K, rows, (scratch + q * K * mr) * 4);
        }
        const ncp = NC / NR;
        for (let jc = 0; jc < nt; jc += ncp) {
          const ntb = Math.min(ncp, nt - jc), pb = packed + ((job[9] === 0 ? 0 : b) * nt + jc) * K * NR;
          for (let pc = 0; pc < K; pc += kb) {
            const kc = Math.min(kb, K - pc), load = accumulate || pc > 0 ? 1 : 0;
            macro(
              (scratch + pc * mr) * 4,
              (pb + pc * NR) * 4,
              (c0 + p0 * mr * ldc + jc * NR) * 4,
              ldc * 4,
              np,
              ntb,
              kc,
              load,
              aps,
              bps,
            );
          }
        }
      } else {
        const np = Math.min(group, nt - p0), b0 = (job[8] + b * job[9]) * 4;
        for (let q = 0; q < np; q++) {
          const jp = p0 + q, cols = Math.min(NR, N - jp * NR);
          packBPanel(g, b0, jp, cols, (scratch + q * K * NR) * 4);
        }
        const mcp = Math.max(1, Math.floor(MC / mr));
        for (let ic = 0; ic < mt; ic += mcp) {
          const mtb = Math.min(mcp, mt - ic), pa = packed + ((job[5] === 0 ? 0 : b) * mt + ic) * K * mr;
          for (let pc = 0; pc < K; pc += kb) {
            const kc = Math.min(kb, K - pc), load = accumulate || pc > 0 ? 1 : 0;
            macro(
              (pa + pc * mr) * 4,
              (scratch + pc * NR) * 4,
              (c0 + ic * mr * ldc + p0 * NR) * 4,
              ldc * 4,
              mtb,
              np,
              kc,
              load,
              aps,
              bps,
            );
          }
        }
      }
      if (T > 1) Atomics.store(I, job[23] + c, 1); // chunk c is complete
      if (after) after();
    }
  }

  return { prepack, run };
}

/** The micro-kernel height for M rows: 6 unless 4 wastes fewer padded rows (6 is ~8% faster). */
export function pickMR(M: number): number {
  return Math.ceil(M / 4) * 4 * 1.08 < Math.ceil(M / 6) * 6 ? 4 : 6;
}

// ---------------------------------------------------------------------------
// Runtime: one memory (shared when the engine allows), one instance on the
// calling thread, and a lazily started worker pool.

const SHARED = HAS_SHARED_MEMORY;
/** 2·M·N·K (summed over the batch) below which a GEMM stays on the calling thread. */
export const THREAD_MIN_FLOPS = 1 << 22;
/** Tunables (tests and benchmarks may lower the threading threshold). */
export const tuning: { threadMinFlops: number } = { threadMinFlops: THREAD_MIN_FLOPS };

interface Runtime {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  driver: GemmDriver;
}
let rt: Runtime | null = null;
let useRelaxed = true;

/**
 * Use `f32x4.relaxed_madd` when the engine has it (default), or plain
 * mul+add; rebuilds the module (for tests and benchmarks).
 */
export function _useRelaxedSimd(on: boolean): void {
  if (on === useRelaxed) return;
  useRelaxed = on;
  shutdownThreads();
  rt = null;
}

function runtime(): Runtime {
  if (rt) return rt;
  const module = new WebAssembly.Module(
    gemmModuleBytes({ shared: SHARED, maxPages: MAX_PAGES, relaxed: HAS_RELAXED_SIMD && useRelaxed }),
  );
  const memory = wasmHeap();
  const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
  rt = { module, memory, driver: makeGemmDriver(instance.exports, memory, NR, MC, KC, NC) };
  return rt;
}

/**
 * Worker source defining `heapModule(id, at, len)`: the exports of module `id`, instantiated on the heap
 * the first time this thread sees the id from the `len` bytes a job left at byte `at` of the heap (for
 * kernel families whose module varies with the kernel's geometry).
 */
export const HEAP_MODULES = `
  const heapModules = new Map();
  const heapModule = (id, at, len) => {
    let ex = heapModules.get(id);
    if (!ex) {
      const bytes = new Uint8Array(memory.buffer, at, len).slice();
      ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports;
      if (heapModules.size > 256) heapModules.delete(heapModules.keys().next().value);
      heapModules.set(id, ex);
    }
    return ex;
  };
`;

/** The worker pool of a kernel family whose jobs bring their modules (`setup` uses {@linkcode HEAP_MODULES}). */
export function heapModulePool(setup: string): FamilyPool {
  return familyPool(() => {
    const stub = importHeap(new ModuleBuilder());
    stub.func(new FuncBuilder([], []), "noop");
    return { module: new WebAssembly.Module(stub.bytes()), memory: wasmHeap(), setup };
  }, SHARED);
}

// -- threads ---------------------------------------------------------------

const hw = Math.max(1, Math.floor((globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 1));
let numThreads = hw;
const gemmPool = familyPool(() => {
  const r = runtime();
  const setup = `
    const makeGemmDriver = ${makeGemmDriver.toString()};
    const driver = makeGemmDriver(exports, memory, ${NR}, ${MC}, ${KC}, ${NC});
    return (params, t, T) => driver.run(params, t, T);
  `;
  return { module: r.module, memory: r.memory, setup };
}, SHARED);

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
  const pool = gemmPool.current();
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
  gemmPool.close();
  for (const stop of otherPools) stop();
  closeAllWorkers();
}

const otherPools: (() => void)[] = [];
/** Register how another kernel family stops its worker pool (for {@linkcode shutdownThreads}). */
export function onShutdownThreads(stop: () => void): void {
  otherPools.push(stop);
}

function getPool(T: number): WasmThreadPool | null {
  return gemmPool.get(T);
}

// -- entry points ------------------------------------------------------------

function span(rows: number, cols: number, ld: number, trans: boolean): number {
  if (rows === 0 || cols === 0) return 0;
  return trans ? (cols - 1) * ld + rows : (rows - 1) * ld + cols;
}

const job64 = new Float64Array(JOB_FIELDS);

/** How a job is split: register tile, panels, threads, chunks, and the packing scratch it needs. */
interface Split {
  mr: number;
  mt: number;
  nt: number;
  T: number;
  pool: WasmThreadPool | null;
  byRows: boolean;
  group: number;
  /** chunks per batch item, and in all */
  per: number;
  chunks: number;
  scratchStride: number;
  packedFloats: number;
}

const al4 = (n: number) => (n + 3) & ~3; // keep 16-byte alignment

function split(batch: number, M: number, N: number, K: number, aStride: number, bStride: number): Split {
  const mr = pickMR(M), mt = Math.ceil(M / mr), nt = Math.ceil(N / NR);
  let T = 2 * batch * M * N * K >= tuning.threadMinFlops ? Math.min(numThreads, batch * Math.max(mt, nt)) : 1;
  const pool = T > 1 ? getPool(numThreads) : null;
  T = pool ? Math.min(T, pool.size + 1) : 1;
  const byRows = mt >= nt;
  const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, x));
  const group = byRows
    ? clamp(Math.ceil(batch * mt / (6 * T)), 1, Math.floor(MC / mr))
    : clamp(Math.ceil(batch * nt / (6 * T)), 1, 16);
  const per = Math.ceil((byRows ? mt : nt) / group);
  return {
    mr,
    mt,
    nt,
    T,
    pool,
    byRows,
    group,
    per,
    chunks: batch * per,
    scratchStride: al4(group * K * (byRows ? mr : NR)),
    packedFloats: ((byRows ? bStride : aStride) === 0 ? 1 : batch) * (byRows ? nt * K * NR : mt * K * mr),
  };
}

/**
 * Run a job whose operands are in the heap: on the calling thread (packing
 * first), or on T threads that pack the shared operand themselves; `after`
 * runs on the calling thread after each chunk it completes.
 */
function launch(r: Runtime, sp: Split, job: GemmJob, after?: () => void): void {
  const params = sp.pool ? sp.pool.params : job64;
  encodeJob(job, params);
  const I = new Int32Array(r.memory.buffer);
  I[0] = I[1] = I[2] = 0; // chunk counter, panels packed, panels claimed
  if (!sp.pool) {
    r.driver.prepack(params);
    r.driver.run(params, 0, 1);
    return;
  }
  I.fill(0, job.flags, job.flags + sp.chunks);
  sp.pool.run(sp.T, (t) => r.driver.run(params, t, sp.T, after)); // T shares: chunks are claimed inside
}

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
  cBatchStride: number,
  ldcUser: number,
  accumulate: boolean,
  bTable: { k: Int32Array; j: Int32Array } | null = null,
  epi: OutputEpilogue | null = null,
): boolean {
  if (epi && accumulate) throw new Error("gemmBatch: an epilogue needs accumulate = false");
  const r = runtime(), sp = split(batch, M, N, K, aStride, bStride);
  const { mr, byRows, group, per, chunks, scratchStride } = sp, al = al4;
  const Mp = sp.mt * mr, Np = sp.nt * NR, cStride = Mp * Np, cFloats = batch * cStride;
  const aSpan = (batch - 1) * aStride + span(M, K, lda, transA);
  let bSpan = (batch - 1) * bStride + span(K, N, ldb, transB);
  if (bTable) bSpan = (batch - 1) * bStride + bTable.k[K - 1] + bTable.j[N - 1] + 1;
  const scratchAt = 64, aLayout = scratchAt + sp.T * scratchStride, bLayout = aLayout + al(aSpan);
  const tblAt = bLayout + al(bSpan), packedAt = tblAt + al(bTable ? K + N : 0);
  const cAt = packedAt + al(sp.packedFloats);
  const flagsAt = cAt + al(cFloats);
  if (!ensureHeap((flagsAt + chunks) * 4)) return false;
  // the operands where they are resident, else copied into the layout
  const aAt = placeInHeap(a.subarray(aOff, aOff + aSpan), aLayout * 4) / 4;
  const bAt = placeInHeap(b.subarray(bOff, bOff + bSpan), bLayout * 4) / 4;
  const H = new Float32Array(r.memory.buffer);
  if (bTable) {
    const I = new Int32Array(r.memory.buffer);
    I.set(bTable.k, tblAt);
    I.set(bTable.j, tblAt + K);
  }
  // The epilogue on rows [i0, i1) of item q in the heap, before they are copied out.
  const finish = (q: number, i0: number, i1: number) => {
    if (!epi) return;
    for (let i = i0; i < i1; i++) {
      epilogueInHeap(epi, (cAt + q * cStride + i * Np) * 4, N, cOff + q * cBatchStride + i * ldcUser);
    }
  };
  // The caller's C (cOff, batch stride, row stride ldcUser) <-> the padded heap C ([batch, Mp, Np]).
  const move = (toHeap: boolean) => {
    if (!toHeap) { for (let q = 0; q < batch; q++) finish(q, 0, M); }
    if (Np === N && Mp === M && ldcUser === N && cBatchStride === M * N) {
      if (toHeap) H.set(c.subarray(cOff, cOff + batch * M * N), cAt);
      else c.set(H.subarray(cAt, cAt + batch * M * N), cOff);
      return;
    }
    for (let q = 0; q < batch; q++) {
      if (Np === N && ldcUser === N) {
        const h = cAt + q * cStride, o = cOff + q * cBatchStride;
        if (toHeap) H.set(c.subarray(o, o + M * N), h);
        else c.set(H.subarray(h, h + M * N), o);
        continue;
      }
      for (let i = 0; i < M; i++) {
        const h = cAt + q * cStride + i * Np, o = cOff + q * cBatchStride + i * ldcUser;
        if (toHeap) H.set(c.subarray(o, o + N), h);
        else c.set(H.subarray(h, h + N), o);
      }
    }
  };
  if (accumulate) move(true);
  const job: GemmJob = {
    batch,
    M,
    N,
    K,
    aOff: aAt,
    aStride,
    lda,
    transA,
    bOff: bAt,
    bStride,
    ldb,
    transB,
    cOff: cAt,
    cStride,
    ldc: Np,
    accumulate,
    mr,
    byRows,
    packed: packedAt,
    scratch: scratchAt,
    scratchStride,
    counter: 0,
    group,
    flags: flagsAt,
    bTable: bTable ? tblAt : -1,
    parallelPrepack: sp.pool !== null,
  };
  if (!sp.pool) {
    launch(r, sp, job);
    move(false);
    return true;
  }
  // Threaded: while the workers compute, the calling thread copies finished
  // units out between its own chunks (first writes to a fresh output
  // page-fault, which is costly, so it pays to overlap them with the workers'
  // compute). A unit is a chunk of whole rows, or with column chunks a whole
  // batch item: copying a column chunk row by row (8192 short copies for a
  // 1x1 conv of 8x128x32x32) cost more than the copy itself.
  const I = new Int32Array(r.memory.buffer);
  const unitChunks = byRows ? 1 : per, units = chunks / unitChunks;
  const copied = new Uint8Array(units);
  let first = 0;
  const copyUnit = (u: number) => {
    const bq = Math.floor((u * unitChunks) / per), p0 = (u * unitChunks - bq * per) * group;
    const i0 = byRows ? p0 * mr : 0, i1 = byRows ? Math.min((p0 + group) * mr, M) : M;
    const h0 = cAt + bq * cStride, o0 = cOff + bq * cBatchStride;
    finish(bq, i0, i1);
    if (Np === N && ldcUser === N) c.set(H.subarray(h0 + i0 * N, h0 + i1 * N), o0 + i0 * N);
    else for (let i = i0; i < i1; i++) c.set(H.subarray(h0 + i * Np, h0 + i * Np + N), o0 + i * ldcUser);
  };
  const done = (u: number) => {
    for (let q = u * unitChunks, e = q + unitChunks; q < e; q++) if (Atomics.load(I, flagsAt + q) !== 1) return false;
    return true;
  };
  const drain = () => {
    const claimed = Math.min(chunks, Atomics.load(I, 0));
    for (let u = first; (u + 1) * unitChunks <= claimed; u++) {
      if (copied[u] || !done(u)) continue;
      copyUnit(u);
      copied[u] = 1;
    }
    while (first < units && copied[first]) first++;
  };
  launch(r, sp, job, drain);
  for (let u = first; u < units; u++) if (!copied[u]) copyUnit(u);
  return true;
}

/** Rows of the register tile the GEMM uses for M rows (C needs room for whole tiles). */
export function gemmTileRows(M: number): number {
  return pickMR(M);
}

/**
 * Batched C[b] (+)= op(A[b])·op(B[b]) on operands already in the GEMM heap
 * (float indices ≥ 64; layouts as in {@linkcode gemmBatchedF32}). C must have
 * room for whole register tiles: ldc ≥ N rounded up to NR and cStride ≥ M
 * rounded up to `gemmTileRows(M)`, times ldc (the padding is overwritten).
 * Packing scratch goes from `freeAt` on. False when the heap cannot grow.
 */
export function gemmInHeap(
  batch: number,
  M: number,
  N: number,
  K: number,
  aAt: number,
  aStride: number,
  lda: number,
  transA: boolean,
  bAt: number,
  bStride: number,
  ldb: number,
  transB: boolean,
  cAt: number,
  cStride: number,
  ldc: number,
  accumulate: boolean,
  freeAt: number,
): boolean {
  if (batch <= 0 || M <= 0 || N <= 0 || K <= 0) return true;
  const r = runtime(), sp = split(batch, M, N, K, aStride, bStride);
  const scratchAt = al4(Math.max(64, freeAt)), packedAt = scratchAt + sp.T * sp.scratchStride;
  const flagsAt = packedAt + al4(sp.packedFloats);
  if (!ensureHeap((flagsAt + sp.chunks) * 4, false)) return false;
  launch(r, sp, {
    batch,
    M,
    N,
    K,
    aOff: aAt,
    aStride,
    lda,
    transA,
    bOff: bAt,
    bStride,
    ldb,
    transB,
    cOff: cAt,
    cStride,
    ldc,
    accumulate,
    mr: sp.mr,
    byRows: sp.byRows,
    packed: packedAt,
    scratch: scratchAt,
    scratchStride: sp.scratchStride,
    counter: 0,
    group: sp.group,
    flags: flagsAt,
    bTable: -1,
    parallelPrepack: sp.pool !== null,
  });
  return true;
}

/**
 * Single-precision GEMM on the WebAssembly SIMD kernel, threaded for large
 * sizes: C = op(A)·op(B), or C += op(A)·op(B) with `accumulate`, where
 * op(A)[i,k] = a[aOff + i*lda + k] (transA: a[aOff + k*lda + i]) is M×K,
 * op(B)[k,j] = b[bOff + k*ldb + j] (transB: b[bOff + j*ldb + k]) is K×N and
 * C[i,j] = c[cOff + i*ldc + j]. Summation is in float32, k in increasing order;
 * results are identical for every thread count. Falls back to plain JS when
 * WebAssembly SIMD is unavailable. With `epi` (not with `accumulate`), each
 * row of C gets a convolution's epilogue (bias of its output channel, relu)
 * before it is stored (see `_wasm_epilogue.ts`); the batched forms pass it on.
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
  epi: OutputEpilogue | null = null,
): void {
  if (M <= 0 || N <= 0) return;
  if (
    K > 0 && GEMM_AVAILABLE &&
    gemmBatch(1, M, N, K, a, aOff, 0, lda, transA, b, bOff, 0, ldb, transB, c, cOff, 0, ldc, accumulate, null, epi)
  ) {
    return;
  }
  if (K > 0) gemmJs(M, N, K, a, aOff, lda, transA, b, bOff, ldb, transB, c, cOff, ldc, accumulate);
  else if (!accumulate) { for (let i = 0; i < M; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + N); }
  if (epi) { for (let i = 0; i < M; i++) epilogueJs(epi, c, cOff + i * ldc, N); }
}

/**
 * Batched {@linkcode gemmF32}: for q < batch, C_q (+)= op(A_q)·op(B_q) with
 * A_q at a[aOff + q*aStride], B_q at b[bOff + q*bStride], C_q at
 * c[cOff + q*cStride] (layouts as in gemmF32). A stride of 0 shares one
 * operand across the batch (packed once), e.g. conv weights against each
 * image's im2col matrix. One dispatch covers the whole batch, so small
 * per-item products still use every thread.
 */
export function gemmBatchedF32(
  batch: number,
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  aOff: number,
  aStride: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  bStride: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  cStride: number,
  ldc: number,
  accumulate = false,
  transA = false,
  transB = false,
  epi: OutputEpilogue | null = null,
): void {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (K > 0 && GEMM_AVAILABLE) {
    const ok = gemmBatch(
      batch,
      M,
      N,
      K,
      a,
      aOff,
      aStride,
      lda,
      transA,
      b,
      bOff,
      bStride,
      ldb,
      transB,
      c,
      cOff,
      cStride,
      ldc,
      accumulate,
      null,
      epi,
    );
    if (ok) return;
  }
  for (let q = 0; q < batch; q++) {
    gemmF32(
      M,
      N,
      K,
      a,
      aOff + q * aStride,
      lda,
      b,
      bOff + q * bStride,
      ldb,
      c,
      cOff + q * cStride,
      ldc,
      accumulate,
      transA,
      transB,
      epi,
    );
  }
}

/**
 * Batched GEMM with a gathered B (implicit im2col): for q < batch,
 * C_q (+)= op(A_q)·B_q where B_q[k, j] = b[bOff + q·bStride + kT[k] + jT[j]]
 * (kT: K offsets, jT: N offsets, both strictly increasing); A and C as in
 * {@linkcode gemmBatchedF32}. The gather happens while B's panels are packed
 * (in every thread), so the patch matrix is never written out.
 */
export function gemmGatherF32(
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
  kT: Int32Array,
  jT: Int32Array,
  c: Float32Array,
  cOff: number,
  cStride: number,
  ldc: number,
  accumulate = false,
  epi: OutputEpilogue | null = null,
): void {
  const increasing = (t: Int32Array) => t.every((v, i) => i === 0 || v > t[i - 1]);
  if (kT.length !== K || jT.length !== N || !increasing(kT) || !increasing(jT) || kT[0] + jT[0] < 0) {
    throw new Error(
      `gemmGatherF32: tables must be increasing with ${K} and ${N} entries, got ${kT.length} and ${jT.length}`,
    );
  }
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (K > 0 && GEMM_AVAILABLE) {
    const ok = gemmBatch(
      batch,
      M,
      N,
      K,
      a,
      aOff,
      aStride,
      lda,
      transA,
      b,
      bOff,
      bStride,
      0,
      false,
      c,
      cOff,
      cStride,
      ldc,
      accumulate,
      { k: kT, j: jT },
      epi,
    );
    if (ok) return;
  }
  // Explicit patch matrix per item (the heap could not hold the operands).
  const bm = new Float32Array(K * N);
  for (let q = 0; q < batch; q++) {
    const base = bOff + q * bStride;
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bm[k * N + j] = b[base + kT[k] + jT[j]];
    gemmF32(M, N, K, a, aOff + q * aStride, lda, bm, 0, N, c, cOff + q * cStride, ldc, accumulate, transA, false, epi);
  }
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
  if (gemmBatch(B, M, N, K, a, 0, M * K, K, false, b, 0, K * N, N, false, out, 0, M * N, N, false)) return out;
  // Too large for the heap in one go: one matrix at a time.
  for (let i = 0; i < B; i++) {
    const o = out.subarray(i * M * N, (i + 1) * M * N);
    if (!gemmBatch(1, M, N, K, a, i * M * K, 0, K, false, b, i * K * N, 0, N, false, o, 0, 0, N, false)) return null;
  }
  return out;
}

export const GEMM_AVAILABLE: boolean = HAS_SIMD;

/** Workers currently running (0 before the first threaded kernel); for tests. */
export function _threadPoolSize(): number {
  return gemmPool.current()?.size ?? 0;
}
