// Winograd convolution for 2-D 3x3 convolutions at unit stride, dilated ones as one undilated convolution per
// dilation phase (float32, one group; Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"):
// each input tile d becomes V = Bᵀ d B, each filter U = G g Gᵀ, the products M_ξ = U_ξ · V_ξ are one batched
// GEMM over the channels, and each output tile is Aᵀ M A. F(4x4, 3x3) (6x6 tiles, 36 products per 16 outputs:
// 4x fewer multiplications than the direct product) unless the planes are so small that padding them to 4x4
// tiles costs more than F(2x2, 3x3) (4x4 tiles, 16 products per 4 outputs). F(4x4, 3x3)'s transform constants
// (up to 8 and 1/24) cost precision: float32 results are within ~2e-5 of the largest one (F(2x2, 3x3): ~3e-6).
// The transforms are WebAssembly SIMD over four tiles at a time (tile columns gathered by shuffles), split
// across a worker pool by planes, and read and write the GEMM heap in place.
import type { Geo3 } from "./_conv_kernels.ts";
import { familyPool, sharesOf } from "./_pool_threads.ts";
import { FuncBuilder, HAS_SHARED_MEMORY, HAS_SIMD, I32, ModuleBuilder, Op, Simd, V128 } from "./_wasm.ts";
import { copyFloats, padFunction } from "./_wasm_depthwise.ts";
import { type Epilogue, EPILOGUE_WORK, epilogueFunction, epilogueParams } from "./_wasm_epilogue.ts";
import { gemmInHeap, gemmTileRows, getNumThreads, NR, onShutdownThreads } from "./_wasm_gemm.ts";
import { growWasmHeap, importHeap, outputSlot, placeInHeap, wasmHeap } from "./_wasm_heap.ts";

const { f32x4_add: ADD, f32x4_sub: SUB, v128_load: LOAD, v128_store: STORE } = Simd;
const EVEN = [0, 2, 4, 6], ODD = [1, 3, 5, 7], LO = [0, 4, 1, 5], HI = [2, 6, 3, 7];

/** For tile rows ty < TH and groups of four tile columns tx < TW4 (step 4): `body`. */
function tileLoops(f: FuncBuilder, ty: number, tx: number, TH: number, TW4: number, body: () => void): void {
  f.forRange(ty, () => f.i32(0), () => f.get(TH), 1, () => f.forRange(tx, () => f.i32(0), () => f.get(TW4), 4, body));
}

/** Set `at` to tile (ty, tx)'s place in the first ξ block at `base`: base + (ty·TW4 + tx)·4 bytes. */
function tileAt(f: FuncBuilder, ty: number, tx: number, TW4: number, base: number, at: number): void {
  f.get(ty).get(TW4).op(Op.i32_mul).get(tx).op(Op.i32_add).i32(2).op(Op.i32_shl).get(base).op(Op.i32_add).set(at);
}

/** Load (`load`) or store the vectors `v[ξ]` of one tile group, ξ blocks `xs` bytes apart from `at` on. */
function xiBlocks(f: FuncBuilder, at: number, xs: number, v: number[], load: boolean): void {
  v.forEach((x, xi) => {
    if (load) f.get(at).simdMem(LOAD, 2).set(x);
    else f.get(at).get(x).simdMem(STORE, 2);
    if (xi < v.length - 1) f.get(at).get(xs).op(Op.i32_add).set(at);
  });
}

/**
 * `inT(xp, Wpd, TH, TW4, v, xiStride)`: for the padded plane at xp (row length
 * Wpd floats), tile (ty, tx) = rows 2ty.., columns 2tx..: V_ξ stored at
 * v + ξ·xiStride + (ty·TW4 + tx)·4 bytes, for ty < TH, tx < TW4 (a multiple of 4).
 */
function inputTransform(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const [xp, Wpd, TH, TW4, v, xs] = [0, 1, 2, 3, 4, 5];
  const ty = f.local(I32), tx = f.local(I32), base = f.local(I32), dst = f.local(I32);
  const a = f.local(V128), b = f.local(V128), c = f.local(V128), e = f.local(V128);
  const d = Array.from({ length: 16 }, () => f.local(V128)), t = Array.from({ length: 16 }, () => f.local(V128));
  const op = (x: number, y: number, code: number, out: number) => f.get(x).get(y).simd(code).set(out);
  tileLoops(f, ty, tx, TH, TW4, () => {
    // base = xp + (2ty·Wpd + 2tx)·4
    f.get(ty).get(Wpd).op(Op.i32_mul).get(tx).op(Op.i32_add).i32(3).op(Op.i32_shl).get(xp).op(Op.i32_add).set(base);
    for (let i = 0; i < 4; i++) {
      f.get(base).simdMem(LOAD, 2).set(a).get(base).simdMem(LOAD, 2, 16).set(b);
      f.get(base).simdMem(LOAD, 2, 8).set(c).get(base).simdMem(LOAD, 2, 24).set(e);
      f.get(a).get(b).shuffle32(EVEN).set(d[i * 4]);
      f.get(a).get(b).shuffle32(ODD).set(d[i * 4 + 1]);
      f.get(c).get(e).shuffle32(EVEN).set(d[i * 4 + 2]);
      f.get(c).get(e).shuffle32(ODD).set(d[i * 4 + 3]);
      f.get(base).get(Wpd).i32(2).op(Op.i32_shl).op(Op.i32_add).set(base);
    }
    // t = Bᵀ d (rows), then u = t B (columns) into d
    for (let j = 0; j < 4; j++) {
      op(d[j], d[8 + j], SUB, t[j]);
      op(d[4 + j], d[8 + j], ADD, t[4 + j]);
      op(d[8 + j], d[4 + j], SUB, t[8 + j]);
      op(d[4 + j], d[12 + j], SUB, t[12 + j]);
    }
    for (let i = 0; i < 4; i++) {
      op(t[i * 4], t[i * 4 + 2], SUB, d[i * 4]);
      op(t[i * 4 + 1], t[i * 4 + 2], ADD, d[i * 4 + 1]);
      op(t[i * 4 + 2], t[i * 4 + 1], SUB, d[i * 4 + 2]);
      op(t[i * 4 + 1], t[i * 4 + 3], SUB, d[i * 4 + 3]);
    }
    tileAt(f, ty, tx, TW4, v, dst);
    xiBlocks(f, dst, xs, d, false);
  });
  return f;
}

/**
 * `outT(m, xiStride, TH, TW4, op)`: from M_ξ at m + ξ·xiStride + (ty·TW4 + tx)·4
 * bytes, the 2x2 output tile Aᵀ M A of tile (ty, tx) at rows 2ty.., columns
 * 2tx.. of the output plane at op (row length 2·TW4).
 */
function outputTransform(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [m, xs, TH, TW4, out] = [0, 1, 2, 3, 4];
  const ty = f.local(I32), tx = f.local(I32), src = f.local(I32), row = f.local(I32);
  const v = Array.from({ length: 16 }, () => f.local(V128)), s = Array.from({ length: 8 }, () => f.local(V128));
  const y0 = f.local(V128), y1 = f.local(V128);
  tileLoops(f, ty, tx, TH, TW4, () => {
    tileAt(f, ty, tx, TW4, m, src);
    xiBlocks(f, src, xs, v, true);
    // s = Aᵀ M (rows: m0 + m1 + m2, m1 - m2 - m3)
    for (let j = 0; j < 4; j++) {
      f.get(v[j]).get(v[4 + j]).simd(ADD).get(v[8 + j]).simd(ADD).set(s[j]);
      f.get(v[4 + j]).get(v[8 + j]).simd(SUB).get(v[12 + j]).simd(SUB).set(s[4 + j]);
    }
    for (let i = 0; i < 2; i++) {
      f.get(s[i * 4]).get(s[i * 4 + 1]).simd(ADD).get(s[i * 4 + 2]).simd(ADD).set(y0);
      f.get(s[i * 4 + 1]).get(s[i * 4 + 2]).simd(SUB).get(s[i * 4 + 3]).simd(SUB).set(y1);
      // row 2ty + i, columns 2tx .. 2tx + 7: y0/y1 interleaved
      f.get(ty).i32(1).op(Op.i32_shl).i32(i).op(Op.i32_add).get(TW4).op(Op.i32_mul).get(tx).op(Op.i32_add);
      f.i32(3).op(Op.i32_shl).get(out).op(Op.i32_add).set(row);
      f.get(row).get(y0).get(y1).shuffle32(LO).simdMem(STORE, 2);
      f.get(row).get(y0).get(y1).shuffle32(HI).simdMem(STORE, 2, 16);
    }
  });
  return f;
}

/**
 * `gT(gp, TH, TW4, z, xiStride)`: for the output-gradient plane at gp (rows of
 * 2·TW4 floats, zero past the image), tile (ty, tx) = the 2x2 block at rows
 * 2ty.., columns 2tx..: Z = A dY Aᵀ (the adjoint of the output transform)
 * stored as Z_ξ at z + ξ·xiStride + (ty·TW4 + tx)·4 bytes.
 */
function gradTransform(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [gp, TH, TW4, z, xs] = [0, 1, 2, 3, 4];
  const ty = f.local(I32), tx = f.local(I32), row = f.local(I32), dst = f.local(I32);
  const a = f.local(V128), b = f.local(V128), e = f.local(V128), o = f.local(V128);
  const r = Array.from({ length: 8 }, () => f.local(V128));
  tileLoops(f, ty, tx, TH, TW4, () => {
    for (let k = 0; k < 2; k++) {
      // row 2ty + k, columns 2tx .. 2tx + 7: e = even columns (b = 0), o = odd (b = 1) of four tiles
      f.get(ty).i32(1).op(Op.i32_shl).i32(k).op(Op.i32_add).get(TW4).op(Op.i32_mul).get(tx).op(Op.i32_add);
      f.i32(3).op(Op.i32_shl).get(gp).op(Op.i32_add).set(row);
      f.get(row).simdMem(LOAD, 2).set(a).get(row).simdMem(LOAD, 2, 16).set(b);
      f.get(a).get(b).shuffle32(EVEN).set(e);
      f.get(a).get(b).shuffle32(ODD).set(o);
      // R_k = dY_k Aᵀ = (y0, y0 + y1, y0 - y1, -y1)
      f.get(e).set(r[4 * k]);
      f.get(e).get(o).simd(ADD).set(r[4 * k + 1]);
      f.get(e).get(o).simd(SUB).set(r[4 * k + 2]);
      f.get(o).simd(Simd.f32x4_neg).set(r[4 * k + 3]);
    }
    tileAt(f, ty, tx, TW4, z, dst);
    // Z = A R: rows R0, R0 + R1, R0 - R1, -R1
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        f.get(dst);
        if (i === 0) f.get(r[j]);
        else if (i === 1) f.get(r[j]).get(r[4 + j]).simd(ADD);
        else if (i === 2) f.get(r[j]).get(r[4 + j]).simd(SUB);
        else f.get(r[4 + j]).simd(Simd.f32x4_neg);
        f.simdMem(STORE, 2);
        if (i * 4 + j < 15) f.get(dst).get(xs).op(Op.i32_add).set(dst);
      }
    }
  });
  return f;
}

// F(4x4, 3x3) (Lavin & Gray 2016, points 0, ±1, ±2): 6x6 input tiles, 36 products, 4x4 output tiles.
// Bᵀ rows: (4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0),
// (0, 4, 0, -5, 0, 1); Aᵀ rows: (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1).
const G4 = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [
  1 / 24,
  -1 / 12,
  1 / 6,
], [0, 0, 1]];
const G2 = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
const { f32x4_mul: MUL } = Simd;

/** Splat locals of the constants the 6-point transforms multiply by. */
function constants(f: FuncBuilder, values: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) {
    const l = f.local(V128);
    f.f32(v).simd(Simd.f32x4_splat).set(l);
    m.set(v, l);
  }
  return m;
}

/** r = Bᵀ a for the 6-point input transform (Bᵀ's rows, factored; t: 6 scratch locals). */
function inputRows(f: FuncBuilder, k: Map<number, number>, a: number[], r: number[], t: number[]): void {
  const [x, y, p, m, e, g] = t;
  f.get(a[0]).get(k.get(4)!).simd(MUL).get(a[2]).get(k.get(5)!).simd(MUL).simd(SUB).get(a[4]).simd(ADD).set(r[0]);
  f.get(a[1]).get(k.get(4)!).simd(MUL).get(a[3]).get(k.get(5)!).simd(MUL).simd(SUB).get(a[5]).simd(ADD).set(r[5]);
  f.get(a[4]).get(a[3]).simd(ADD).set(x).get(a[4]).get(a[3]).simd(SUB).set(y);
  f.get(a[1]).get(a[2]).simd(ADD).set(p).get(a[1]).get(a[2]).simd(SUB).set(m);
  f.get(x).get(p).get(k.get(4)!).simd(MUL).simd(SUB).set(r[1]); // a3 + a4 - 4(a1 + a2)
  f.get(y).get(m).get(k.get(4)!).simd(MUL).simd(ADD).set(r[2]); // a4 - a3 + 4(a1 - a2)
  f.get(a[4]).get(a[2]).simd(SUB).set(e).get(a[3]).get(a[1]).simd(SUB).get(k.get(2)!).simd(MUL).set(g);
  f.get(e).get(g).simd(ADD).set(r[3]).get(e).get(g).simd(SUB).set(r[4]); // a4 - a2 ± 2(a3 - a1)
}

/** r = Aᵀ a for the 6-point output transform (4 outputs; t: 4 scratch locals). */
function outputRows(f: FuncBuilder, k: Map<number, number>, a: number[], r: number[], t: number[]): void {
  const [sp, dm, sq, dq] = t;
  f.get(a[1]).get(a[2]).simd(ADD).set(sp).get(a[1]).get(a[2]).simd(SUB).set(dm);
  f.get(a[3]).get(a[4]).simd(ADD).set(sq).get(a[3]).get(a[4]).simd(SUB).set(dq);
  f.get(a[0]).get(sp).simd(ADD).get(sq).simd(ADD).set(r[0]);
  f.get(dm).get(dq).get(k.get(2)!).simd(MUL).simd(ADD).set(r[1]);
  f.get(sp).get(sq).get(k.get(4)!).simd(MUL).simd(ADD).set(r[2]);
  f.get(dm).get(dq).get(k.get(8)!).simd(MUL).simd(ADD).get(a[5]).simd(ADD).set(r[3]);
}

const T4A = [0, 4, 1, 5], T4B = [2, 6, 3, 7], T4C = [0, 1, 4, 5], T4D = [2, 3, 6, 7];

/**
 * `inT4(xp, Wpd, TH, TW4, v, xiStride)`: as `inT` for F(4x4, 3x3): tile (ty, tx)
 * = rows 4ty.., columns 4tx.. (6x6) of the padded plane, V_ξ (ξ < 36) stored at
 * v + ξ·xiStride + (ty·TW4 + tx)·4 bytes. Reads up to two floats past a row's
 * last tile (the scratch planes have slack).
 */
function inputTransform4(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const [xp, Wpd, TH, TW4, v, xs] = [0, 1, 2, 3, 4, 5];
  const ty = f.local(I32), tx = f.local(I32), base = f.local(I32), dst = f.local(I32);
  const q = Array.from({ length: 5 }, () => f.local(V128)), s = Array.from({ length: 6 }, () => f.local(V128));
  const d = Array.from({ length: 36 }, () => f.local(V128)), t = Array.from({ length: 36 }, () => f.local(V128));
  const k = constants(f, [2, 4, 5]);
  tileLoops(f, ty, tx, TH, TW4, () => {
    // base = xp + (4ty·Wpd + 4tx)·4
    f.get(ty).get(Wpd).op(Op.i32_mul).get(tx).op(Op.i32_add).i32(4).op(Op.i32_shl).get(xp).op(Op.i32_add).set(base);
    for (let i = 0; i < 6; i++) {
      // lanes = the four tiles: column j of tile l is float 4l + j of the row segment (a 4x4 transpose + 2)
      for (let j = 0; j < 5; j++) f.get(base).simdMem(LOAD, 2, 16 * j).set(q[j]);
      f.get(q[0]).get(q[1]).shuffle32(T4A).set(s[0]).get(q[2]).get(q[3]).shuffle32(T4A).set(s[1]);
      f.get(q[0]).get(q[1]).shuffle32(T4B).set(s[2]).get(q[2]).get(q[3]).shuffle32(T4B).set(s[3]);
      const r = d.slice(i * 6, i * 6 + 6);
      f.get(s[0]).get(s[1]).shuffle32(T4C).set(r[0]).get(s[0]).get(s[1]).shuffle32(T4D).set(r[1]);
      f.get(s[2]).get(s[3]).shuffle32(T4C).set(r[2]).get(s[2]).get(s[3]).shuffle32(T4D).set(r[3]);
      f.get(r[0]).get(q[4]).shuffle32([1, 2, 3, 4]).set(r[4]).get(r[1]).get(q[4]).shuffle32([1, 2, 3, 5]).set(r[5]);
      if (i < 5) f.get(base).get(Wpd).i32(2).op(Op.i32_shl).op(Op.i32_add).set(base);
    }
    // t = Bᵀ d (down each column), then u = t B (along each row) into d
    for (let j = 0; j < 6; j++) {
      inputRows(f, k, [0, 1, 2, 3, 4, 5].map((i) => d[i * 6 + j]), [0, 1, 2, 3, 4, 5].map((i) => t[i * 6 + j]), s);
    }
    for (let i = 0; i < 6; i++) inputRows(f, k, t.slice(i * 6, i * 6 + 6), d.slice(i * 6, i * 6 + 6), s);
    tileAt(f, ty, tx, TW4, v, dst);
    xiBlocks(f, dst, xs, d, false);
  });
  return f;
}

/**
 * `outT4(m, xiStride, TH, TW4, op)`: as `outT` for F(4x4, 3x3): from the 36
 * M_ξ, the 4x4 output tile Aᵀ M A of tile (ty, tx) at rows 4ty.., columns
 * 4tx.. of the output plane at op (row length 4·TW4).
 */
function outputTransform4(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [m, xs, TH, TW4, out] = [0, 1, 2, 3, 4];
  const ty = f.local(I32), tx = f.local(I32), src = f.local(I32), row = f.local(I32);
  const v = Array.from({ length: 36 }, () => f.local(V128)), s = Array.from({ length: 24 }, () => f.local(V128));
  const y = Array.from({ length: 16 }, () => f.local(V128)), t = Array.from({ length: 4 }, () => f.local(V128));
  const k = constants(f, [2, 4, 8]);
  tileLoops(f, ty, tx, TH, TW4, () => {
    tileAt(f, ty, tx, TW4, m, src);
    xiBlocks(f, src, xs, v, true);
    // s = Aᵀ M (down each column, 4 rows), then y = s A (along each row, 4 columns)
    for (let j = 0; j < 6; j++) {
      outputRows(f, k, [0, 1, 2, 3, 4, 5].map((i) => v[i * 6 + j]), [0, 1, 2, 3].map((i) => s[i * 6 + j]), t);
    }
    for (let i = 0; i < 4; i++) outputRows(f, k, s.slice(i * 6, i * 6 + 6), y.slice(i * 4, i * 4 + 4), t);
    for (let i = 0; i < 4; i++) {
      // row 4ty + i, columns 4tx .. 4tx + 15: y[i][0..3] (lanes = tiles) transposed to one vector per tile
      const r = y.slice(i * 4, i * 4 + 4);
      f.get(r[0]).get(r[1]).shuffle32(T4A).set(v[0]).get(r[2]).get(r[3]).shuffle32(T4A).set(v[1]);
      f.get(r[0]).get(r[1]).shuffle32(T4B).set(v[2]).get(r[2]).get(r[3]).shuffle32(T4B).set(v[3]);
      f.get(ty).i32(2).op(Op.i32_shl).i32(i).op(Op.i32_add).get(TW4).op(Op.i32_mul).get(tx).op(Op.i32_add);
      f.i32(4).op(Op.i32_shl).get(out).op(Op.i32_add).set(row);
      f.get(row).get(v[0]).get(v[1]).shuffle32(T4C).simdMem(STORE, 2);
      f.get(row).get(v[0]).get(v[1]).shuffle32(T4D).simdMem(STORE, 2, 16);
      f.get(row).get(v[2]).get(v[3]).shuffle32(T4C).simdMem(STORE, 2, 32);
      f.get(row).get(v[2]).get(v[3]).shuffle32(T4D).simdMem(STORE, 2, 48);
    }
  });
  return f;
}

/** r = A a for the 4-point gradient transform (A = Aᵀ's transpose, 6 outputs; r[0] = a[0], r[5] = a[3]). */
function gradRows(f: FuncBuilder, k: Map<number, number>, a: number[], r: number[], t: number[]): void {
  const [e, o] = t;
  f.get(a[0]).set(r[0]).get(a[3]).set(r[5]);
  f.get(a[0]).get(a[2]).simd(ADD).set(e).get(a[1]).get(a[3]).simd(ADD).set(o);
  f.get(e).get(o).simd(ADD).set(r[1]).get(e).get(o).simd(SUB).set(r[2]); // a0 + a2 ± (a1 + a3)
  f.get(a[0]).get(a[2]).get(k.get(4)!).simd(MUL).simd(ADD).set(e);
  f.get(a[1]).get(k.get(2)!).simd(MUL).get(a[3]).get(k.get(8)!).simd(MUL).simd(ADD).set(o);
  f.get(e).get(o).simd(ADD).set(r[3]).get(e).get(o).simd(SUB).set(r[4]); // a0 + 4a2 ± (2a1 + 8a3)
}

/**
 * `gT4(gp, TH, TW4, z, xiStride)`: as `gT` for F(4x4, 3x3): for the output-gradient
 * plane at gp (rows of 4·TW4 floats), tile (ty, tx) = the 4x4 block at rows 4ty..,
 * columns 4tx..: Z = A dY Aᵀ (6x6) stored as Z_ξ at z + ξ·xiStride + (ty·TW4 + tx)·4 bytes.
 */
function gradTransform4(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [gp, TH, TW4, z, xs] = [0, 1, 2, 3, 4];
  const ty = f.local(I32), tx = f.local(I32), row = f.local(I32), dst = f.local(I32);
  const q = Array.from({ length: 4 }, () => f.local(V128)), s = Array.from({ length: 4 }, () => f.local(V128));
  const c = Array.from({ length: 16 }, () => f.local(V128)), r = Array.from({ length: 24 }, () => f.local(V128));
  const zz = Array.from({ length: 36 }, () => f.local(V128));
  const k = constants(f, [2, 4, 8]);
  tileLoops(f, ty, tx, TH, TW4, () => {
    for (let i = 0; i < 4; i++) {
      // row 4ty + i, columns 4tx .. 4tx + 15 transposed: c[i][j] = column j of the four tiles
      f.get(ty).i32(2).op(Op.i32_shl).i32(i).op(Op.i32_add).get(TW4).op(Op.i32_mul).get(tx).op(Op.i32_add);
      f.i32(4).op(Op.i32_shl).get(gp).op(Op.i32_add).set(row);
      for (let j = 0; j < 4; j++) f.get(row).simdMem(LOAD, 2, 16 * j).set(q[j]);
      f.get(q[0]).get(q[1]).shuffle32(T4A).set(s[0]).get(q[2]).get(q[3]).shuffle32(T4A).set(s[1]);
      f.get(q[0]).get(q[1]).shuffle32(T4B).set(s[2]).get(q[2]).get(q[3]).shuffle32(T4B).set(s[3]);
      const ci = c.slice(i * 4, i * 4 + 4);
      f.get(s[0]).get(s[1]).shuffle32(T4C).set(ci[0]).get(s[0]).get(s[1]).shuffle32(T4D).set(ci[1]);
      f.get(s[2]).get(s[3]).shuffle32(T4C).set(ci[2]).get(s[2]).get(s[3]).shuffle32(T4D).set(ci[3]);
    }
    // R = dY Aᵀ (along each row: 4 rows x 6), then Z = A R (down each column)
    for (let i = 0; i < 4; i++) gradRows(f, k, c.slice(i * 4, i * 4 + 4), r.slice(i * 6, i * 6 + 6), s);
    for (let j = 0; j < 6; j++) {
      gradRows(f, k, [0, 1, 2, 3].map((i) => r[i * 6 + j]), [0, 1, 2, 3, 4, 5].map((i) => zz[i * 6 + j]), s);
    }
    tileAt(f, ty, tx, TW4, z, dst);
    xiBlocks(f, dst, xs, zz, false);
  });
  return f;
}

/** `crop(src, Ws, dst, Wd, rows)`: rows of Wd floats from a plane of row length Ws to a dense plane. */
function cropFunction(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [src, Ws, dst, Wd, rows] = [0, 1, 2, 3, 4];
  const r = f.local(I32), d = f.local(I32), s = f.local(I32), k = f.local(I32);
  f.forRange(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(r).get(Wd).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(dst).op(Op.i32_add).set(d);
    f.get(r).get(Ws).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(src).op(Op.i32_add).set(s);
    copyFloats(f, d, s, Wd, k);
  });
  return f;
}

/**
 * `strided(src, sRow, sCol, dst, dRow, dCol, rows, cols)`: dst[i·dRow + j·dCol] =
 * src[i·sRow + j·sCol] for i < rows, j < cols (byte addresses and strides): a
 * dilation phase of a plane to a dense plane, and back.
 */
function stridedFunction(): FuncBuilder {
  const f = new FuncBuilder(new Array(8).fill(I32), []);
  const [src, sRow, sCol, dst, dRow, dCol, rows, cols] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = f.local(I32), j = f.local(I32), s = f.local(I32), d = f.local(I32), v4 = f.local(I32);
  // every other float to a dense row: four at a time by a shuffle (reads up to one float past the last taken)
  f.get(sCol).i32(8).op(Op.i32_eq).get(dCol).i32(4).op(Op.i32_eq).op(Op.i32_and);
  f.if_().get(cols).i32(-4).op(Op.i32_and).set(v4).else_().i32(0).set(v4).end();
  f.forRange(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(i).get(sRow).op(Op.i32_mul).get(src).op(Op.i32_add).set(s);
    f.get(i).get(dRow).op(Op.i32_mul).get(dst).op(Op.i32_add).set(d);
    f.forRange(j, () => f.i32(0), () => f.get(v4), 4, () => {
      f.get(d).get(s).simdMem(LOAD, 2).get(s).simdMem(LOAD, 2, 16).shuffle32(EVEN).simdMem(STORE, 2);
      f.get(s).i32(32).op(Op.i32_add).set(s);
      f.get(d).i32(16).op(Op.i32_add).set(d);
    });
    f.forRange(j, () => f.get(v4), () => f.get(cols), 1, () => {
      f.get(d).get(s).mem(Op.f32_load, 2).mem(Op.f32_store, 2);
      f.get(s).get(sCol).op(Op.i32_add).set(s);
      f.get(d).get(dCol).op(Op.i32_add).set(d);
    });
  });
  return f;
}

/**
 * `zip2(a, b, aRow, dst, dRow, rows, na, nb)`: the two column phases of a
 * dilation-2 output row back into it: dst[i·dRow + 2j] = a[i·aRow + j] (j < na),
 * dst[i·dRow + 2j + 1] = b[i·aRow + j] (j < nb <= na), interleaved four at a time.
 */
function zip2Function(): FuncBuilder {
  const f = new FuncBuilder(new Array(8).fill(I32), []);
  const [a, b, aRow, dst, dRow, rows, na, nb] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = f.local(I32), j = f.local(I32), pa = f.local(I32), pb = f.local(I32), d = f.local(I32);
  const va = f.local(V128), vb = f.local(V128), v4 = f.local(I32);
  f.get(nb).i32(-4).op(Op.i32_and).set(v4);
  f.forRange(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(i).get(aRow).op(Op.i32_mul).tee(pa).get(b).op(Op.i32_add).set(pb);
    f.get(pa).get(a).op(Op.i32_add).set(pa);
    f.get(i).get(dRow).op(Op.i32_mul).get(dst).op(Op.i32_add).set(d);
    f.forRange(j, () => f.i32(0), () => f.get(v4), 4, () => {
      f.get(pa).simdMem(LOAD, 2).set(va).get(pb).simdMem(LOAD, 2).set(vb);
      f.get(d).get(va).get(vb).shuffle32(LO).simdMem(STORE, 2);
      f.get(d).get(va).get(vb).shuffle32(HI).simdMem(STORE, 2, 16);
      f.get(pa).i32(16).op(Op.i32_add).set(pa).get(pb).i32(16).op(Op.i32_add).set(pb).get(d).i32(32).op(Op.i32_add).set(
        d,
      );
    });
    f.forRange(j, () => f.get(v4), () => f.get(na), 1, () => {
      f.get(d).get(pa).mem(Op.f32_load, 2).mem(Op.f32_store, 2);
      f.get(j).get(nb).op(Op.i32_lt_s).if_().get(d).get(pb).mem(Op.f32_load, 2).mem(Op.f32_store, 2, 4).end();
      f.get(pa).i32(4).op(Op.i32_add).set(pa).get(pb).i32(4).op(Op.i32_add).set(pb).get(d).i32(8).op(Op.i32_add).set(d);
    });
  });
  return f;
}

/** `finite(p, n) -> i32`: 1 when the n floats at byte address p hold no Inf or NaN (x - x is 0 exactly then). */
function finiteFunction(): FuncBuilder {
  const f = new FuncBuilder([I32, I32], [I32]);
  const [p, n] = [0, 1];
  const acc = f.local(V128), i = f.local(I32), end = f.local(I32), v = f.local(V128);
  f.get(n).i32(2).op(Op.i32_shl).get(p).op(Op.i32_add).set(end);
  f.v128Zero().set(acc);
  f.forRange(i, () => f.get(p), () => f.get(end).i32(12).op(Op.i32_sub), 16, () => {
    f.get(i).simdMem(LOAD, 2).tee(v).get(v).simd(SUB).get(acc).simd(ADD).set(acc);
  });
  // the last n mod 4 floats: one more vector ending at the end (n >= 4), or lane by lane
  f.forRange(i, () => f.get(i), () => f.get(end), 4, () => {
    f.get(i).mem(Op.f32_load, 2).simd(Simd.f32x4_splat).tee(v).get(v).simd(SUB).get(acc).simd(ADD).set(acc);
  });
  f.get(acc).get(acc).simd(Simd.f32x4_ne).simd(Simd.v128_any_true).op(Op.i32_eqz);
  return f;
}

const SHARED = HAS_SHARED_MEMORY;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const m = importHeap(new ModuleBuilder());
  m.func(padFunction(), "pad");
  m.func(inputTransform(), "inT");
  m.func(outputTransform(), "outT");
  m.func(inputTransform4(), "inT4");
  m.func(outputTransform4(), "outT4");
  m.func(gradTransform4(), "gT4");
  m.func(cropFunction(), "crop");
  m.func(gradTransform(), "gT");
  m.func(stridedFunction(), "strided");
  m.func(zip2Function(), "zip2");
  m.func(finiteFunction(), "finite");
  m.func(epilogueFunction(), "epi");
  return m.bytes();
}

// params (float indices): [mode, units, Cin, Cout, S1, S2, O1, O2, p1, p2, TH, TW4, XIN, V, Pp, M, Mp, OP,
// OX, SCR, scratchStride, VS, MS, D1, D2, m, bias (or -1), relu] (VS, MS: floats between the ξ blocks of V and M; D1, D2
// the dilations; m the output tile size, 2 or 4). Modes: 0 pad + input transform per input plane; 1 output transform +
// crop per output plane, then the epilogue (bias, relu) on it;
// 2 (weight gradient) pad + the output gradient's transform per output-gradient plane (read at OX, written
// to M). A dilated convolution is D1·D2 undilated ones, one per phase (ry, rx) of the output (rows ry + D1·a,
// columns rx + D2·b), which reads the same phase of the padded input: an image's tiles are its phases' tiles
// in turn (phase ry·D2 + rx at tile offset (ry·D2 + rx)·TH·TW4), each phase gathered to a dense plane first.
const WORK_SETUP = `
  ${EPILOGUE_WORK}
  const count = (n, r, d) => Math.max(0, Math.ceil((n - r) / d));
  const geometry = (P, th) => {
    const [, , Cin, Cout, S1, S2, O1, O2, p1, p2, TH, TW4, XIN, V, Pp, M, , OP, OX, SCR, SS, VS, MS, D1, D2, m, B, relu] = P;
    const TP = TH * TW4, Hpd = m * TH + 2, Wpd = m * TW4 + 2, scr = SCR + th * SS, phased = D1 * D2 > 1;
    // the dense phase plane at scr; the whole padded plane (D1·Hpd x D2·Wpd) after it
    return {
      Cin, Cout, S1, S2, O1, O2, p1, p2, TH, TW4, XIN, V, Pp, M, OP, OX, VS, MS, D1, D2, m, B, relu, TP, phased, scr, Hpd, Wpd,
      tiles: D1 * D2 * TP, MM: m * m, Wm: m * TW4, HF: D1 * Hpd, WF: D2 * Wpd, full: phased ? scr + Hpd * Wpd + 16 : scr,
    };
  };
  // one function per mode (small functions: V8 optimizes each one's loop on its own)
  const inputPlanes = (g, u0, u1) => {
    const { Cin, S1, S2, p1, p2, TH, TW4, XIN, V, Pp, VS, D1, D2, TP, tiles, phased, scr, Wpd, HF, WF, full } = g;
    const inT = g.m === 4 ? exports.inT4 : exports.inT;
    for (let u = u0; u < u1; u++) {
      const i = Math.floor(u / Cin), c = u % Cin, v = V + c * Pp + i * tiles;
      const x0 = Math.max(0, -p2), x1 = Math.max(x0, Math.min(S2, WF - p2));
      const y0 = Math.max(0, -p1), y1 = Math.max(y0, Math.min(S1, HF - p1));
      exports.pad((XIN + u * S1 * S2) * 4, S2, full * 4, WF, HF * WF, p1, p2, y0, x1 > x0 ? y1 : y0, x0, x1);
      if (!phased) inT(scr * 4, Wpd, TH, TW4, v * 4, VS * 4);
      else {
        for (let ry = 0; ry < D1; ry++) {
          for (let rx = 0; rx < D2; rx++) {
            exports.strided((full + ry * WF + rx) * 4, D1 * WF * 4, D2 * 4, scr * 4, Wpd * 4, 4, g.Hpd, Wpd);
            inT(scr * 4, Wpd, TH, TW4, (v + (ry * D2 + rx) * TP) * 4, VS * 4);
          }
        }
      }
    }
  };
  const gradPlanes = (g, u0, u1) => {
    const { Cout, O1, O2, TH, TW4, Pp, M, OX, MS, D1, D2, TP, tiles, phased, scr, Wm } = g;
    const gT = g.m === 4 ? exports.gT4 : exports.gT;
    for (let u = u0; u < u1; u++) {
      const i = Math.floor(u / Cout), co = u % Cout, y = OX + u * O1 * O2, z = M + co * Pp + i * tiles;
      if (!phased) {
        exports.pad(y * 4, O2, scr * 4, Wm, g.m * TH * Wm, 0, 0, 0, O1, 0, O2);
        gT(scr * 4, TH, TW4, z * 4, MS * 4);
      } else {
        for (let ry = 0; ry < D1; ry++) {
          for (let rx = 0; rx < D2; rx++) {
            exports.pad(0, 0, scr * 4, Wm, g.m * TH * Wm, 0, 0, 0, 0, 0, 0); // (no rows: zero the plane)
            const rows = count(O1, ry, D1), cols = count(O2, rx, D2);
            exports.strided((y + ry * O2 + rx) * 4, D1 * O2 * 4, D2 * 4, scr * 4, Wm * 4, 4, rows, cols);
            gT(scr * 4, TH, TW4, (z + (ry * D2 + rx) * TP) * 4, MS * 4);
          }
        }
      }
    }
  };
  const outputPlanes = (g, u0, u1) => {
    const { Cout, O1, O2, TH, TW4, Pp, M, OP, OX, MS, D1, D2, TP, tiles, phased, MM, Wm, B, relu } = g;
    const outT = g.m === 4 ? exports.outT4 : exports.outT;
    for (let u = u0; u < u1; u++) {
      const i = Math.floor(u / Cout), co = u % Cout, plane = OP + u * MM * tiles, mu = M + co * Pp + i * tiles;
      const y = OX + u * O1 * O2;
      if (!phased) {
        outT(mu * 4, MS * 4, TH, TW4, plane * 4);
        exports.crop(plane * 4, Wm, y * 4, O2, O1);
      } else {
        for (let ry = 0; ry < D1; ry++) {
          for (let rx = 0; rx < D2; rx++) {
            const ph = ry * D2 + rx, rows = count(O1, ry, D1), cols = count(O2, rx, D2);
            outT((mu + ph * TP) * 4, MS * 4, TH, TW4, (plane + ph * MM * TP) * 4);
            if (D2 !== 2) {
              exports.strided((plane + ph * MM * TP) * 4, Wm * 4, 4, (y + ry * O2 + rx) * 4, D1 * O2 * 4, D2 * 4, rows, cols);
            } else if (rx === 1) {
              // both column phases of output rows ry + D1·a, interleaved
              const a = (plane + (ph - 1) * MM * TP) * 4;
              exports.zip2(a, a + 4 * MM * TP, Wm * 4, (y + ry * O2) * 4, D1 * O2 * 4, rows, count(O2, 0, 2), cols);
            }
          }
        }
      }
      epilogue(exports, B, relu, y * 4, O1 * O2, co);
    }
  };
  const MODES = [inputPlanes, outputPlanes, gradPlanes];
  return (P, t, T, th = t) => {
    const units = P[1];
    MODES[P[0]](geometry(P, th), Math.floor((units * t) / T), Math.floor((units * (t + 1)) / T));
  };
`;

let rt: { exports: WebAssembly.Exports; module: WebAssembly.Module; work: Work } | null = null;
type Work = (params: Float64Array, t: number, T: number, thread?: number) => void;
const pool = familyPool(() => ({ module: runtime(wasmHeap()).module, memory: wasmHeap(), setup: WORK_SETUP }), SHARED);
const localParams = new Float64Array(32);

function runtime(memory: WebAssembly.Memory) {
  if (rt) return rt;
  const module = new WebAssembly.Module(moduleBytes());
  const exports = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
  rt = { exports, module, work: new Function("exports", "memory", WORK_SETUP)(exports, memory) as Work };
  return rt;
}

onShutdownThreads(() => pool.close());

/** Floats of heap per chunk of images (transformed input and products dominate); the output tile (0: automatic). */
export const winogradTuning: { budget: number; tile: 0 | 2 | 4 } = { budget: 1 << 23, tile: 0 };

/** Whether the Winograd kernels apply: 2-D 3x3, unit stride, any dilation (by phases), one group. */
export function winogradApplies(q: Geo3): boolean {
  return HAS_SIMD && q.G === 1 && q.K[0] === 1 && q.K[1] === 3 && q.K[2] === 3 && q.S[0] === 1 && q.O[0] === 1 &&
    q.stride.every((s) => s === 1);
}

// Per-filter double intermediates of the filter transform and the weight-gradient epilogue (never in use
// at once), kept between calls: a fresh buffer of Cout·Cin·(m + 2)·3 doubles each call costs page faults.
let filterScratch = new Float64Array(0);
function filterDoubles(n: number): Float64Array {
  if (filterScratch.length < n) filterScratch = new Float64Array(n);
  return filterScratch;
}

/**
 * U_ξ[co][ci] = (G g Gᵀ)_ξ for every filter g = w[co][ci] (3x3; G is (m + 2) x 3): G g for every filter
 * first, then ξ by ξ so that each block is written in order.
 */
function filterTransform(
  w: Float32Array,
  Cout: number,
  Cin: number,
  rows: number[][],
  H: Float32Array,
  at: number,
): void {
  const n = rows.length, G = rows.flat(), F = Cout * Cin, tmp = filterDoubles(F * n * 3);
  for (let f = 0; f < F; f++) {
    const g = f * 9, t = f * n * 3;
    for (let i = 0; i < n; i++) {
      const a = G[i * 3], b = G[i * 3 + 1], c = G[i * 3 + 2];
      for (let j = 0; j < 3; j++) tmp[t + i * 3 + j] = a * w[g + j] + b * w[g + 3 + j] + c * w[g + 6 + j];
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const g0 = G[j * 3], g1 = G[j * 3 + 1], g2 = G[j * 3 + 2], block = at + (i * n + j) * F;
      for (let f = 0, t = i * 3; f < F; f++, t += n * 3) {
        H[block + f] = tmp[t] * g0 + tmp[t + 1] * g1 + tmp[t + 2] * g2;
      }
    }
  }
}

/**
 * dW[co][ci] = Gᵀ M G (3x3 from (m + 2) x (m + 2)), M's ξ block at
 * `at + ξ·stride` with rows `ldc` apart: M G for every filter ξ by ξ (each
 * block read in order; every sum still over j in increasing order), then
 * Gᵀ (M G) filter by filter. (Its own function, as `filterTransform`: V8
 * optimizes the loops without recompiling the kernel driver around them.)
 */
function filterGradient(
  H: Float32Array,
  at: number,
  stride: number,
  ldc: number,
  Cout: number,
  Cin: number,
  rows: number[][],
  dw: Float32Array,
): void {
  const n = rows.length, G = rows.flat(), F = Cout * Cin, mg = filterDoubles(F * n * 3).fill(0, 0, F * n * 3);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const g0 = G[j * 3], g1 = G[j * 3 + 1], g2 = G[j * 3 + 2], block = at + (i * n + j) * stride;
      for (let co = 0, t = i * 3; co < Cout; co++) {
        const row = block + co * ldc;
        for (let ci = 0; ci < Cin; ci++, t += n * 3) {
          const h = H[row + ci];
          mg[t] += h * g0;
          mg[t + 1] += h * g1;
          mg[t + 2] += h * g2;
        }
      }
    }
  }
  for (let f = 0; f < F; f++) {
    const t = f * n * 3, d = f * 9;
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let v = 0;
        for (let i = 0; i < n; i++) v += G[i * 3 + a] * mg[t + i * 3 + b];
        dw[d + a * 3 + b] = v;
      }
    }
  }
}

const al16 = (n: number) => (n + 15) & ~15;
// ξ blocks a cache line off a multiple of 4 KiB apart: the 16 streams of a transform must not share cache sets
const skew = (n: number) => al16(n) + (al16(n) % 1024 === 0 ? 16 : 0);

/** Tile rows and columns (padded to a multiple of 4) of one dilation phase's ceil(O / d) outputs per axis. */
function tileGrid(q: Geo3, m: number): { TH: number; TW4: number } {
  const P1 = Math.ceil(q.O[1] / q.dil[1]), P2 = Math.ceil(q.O[2] / q.dil[2]);
  return { TH: Math.ceil(P1 / m), TW4: Math.ceil(Math.ceil(P2 / m) / 4) * 4 };
}

/**
 * The output tile size (forward and both gradients): F(4x4, 3x3) (36 products per 16 outputs) unless
 * padding the planes to 4x4 tiles costs more products than F(2x2, 3x3)'s 16 per 4 outputs.
 */
function tileSize(q: Geo3): number {
  const cost = (m: number) => {
    const { TH, TW4 } = tileGrid(q, m);
    return (m + 2) ** 2 * TH * TW4;
  };
  return winogradTuning.tile || (cost(4) < cost(2) ? 4 : 2);
}

/** Tiles of the output (m x m each, tile columns padded to a multiple of 4) and images per chunk. */
interface Tiling {
  /** output tile size: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)) */
  m: number;
  TH: number;
  TW4: number;
  tiles: number;
  nb: number;
  /** tiles of a full chunk, padded to whole GEMM panels */
  Pmax: number;
  /** floats of one thread's padded plane (and, when dilated, the whole padded plane its phases come from) */
  planeIn: number;
  T: number;
}

function tiling(q: Geo3, m: number, perImage: (tiles: number) => number): Tiling {
  const { TH, TW4 } = tileGrid(q, m), [d1, d2] = [q.dil[1], q.dil[2]], tiles = d1 * d2 * TH * TW4;
  const plane = (m * TH + 2) * (m * TW4 + 2);
  const nb = Math.max(1, Math.min(q.N, Math.floor(winogradTuning.budget / perImage(tiles))));
  return {
    m,
    TH,
    TW4,
    tiles,
    nb,
    Pmax: Math.ceil((nb * tiles) / NR) * NR,
    planeIn: al16(plane + 16) + (d1 * d2 > 1 ? al16(d1 * d2 * plane + 16) : 0),
    T: Math.min(getNumThreads(), nb * Math.min(q.Cin, q.Cout)),
  };
}

/**
 * The heap grown to `free` floats, a runner of transform jobs on up to T
 * threads, and a finiteness check of heap floats; null when it cannot grow.
 */
function transforms(
  free: number,
  T: number,
): { memory: WebAssembly.Memory; run: (job: number[]) => void; finite: (at: number, n: number) => boolean } | null {
  const memory = growWasmHeap(free * 4);
  if (!memory) return null;
  const r = runtime(memory);
  const p = pool.get(T);
  const params = p ? p.params : localParams;
  return {
    memory,
    finite: (at, n) => (r.exports.finite as (p: number, n: number) => number)(at * 4, n) === 1,
    run: (job) => {
      params.set(job);
      const shares = sharesOf(job[1], T); // job[1]: units (planes)
      if (p) p.run(T, (s, th) => r.work(params, s, shares, th), shares);
      else r.work(params, 0, 1);
    },
  };
}

/** Where a transform job reads and writes (float indices and strides; see WORK_SETUP). */
interface Regions {
  XIN: number;
  V: number;
  Pp: number;
  M: number;
  Mp: number;
  OP: number;
  OX: number;
  SCR: number;
  VS: number;
  MS: number;
}

/** The params of a transform job (the layout WORK_SETUP reads); `epi`: the bias's float index (or -1) and relu (0/1). */
function transformJob(mode: number, units: number, q: Geo3, t: Tiling, r: Regions, epi = [-1, 0]): number[] {
  return [
    mode,
    units,
    q.Cin,
    q.Cout,
    q.S[1],
    q.S[2],
    q.O[1],
    q.O[2],
    q.pad[1],
    q.pad[2],
    t.TH,
    t.TW4,
    r.XIN,
    r.V,
    r.Pp,
    r.M,
    r.Mp,
    r.OP,
    r.OX,
    r.SCR,
    t.planeIn,
    r.VS,
    r.MS,
    q.dil[1],
    q.dil[2],
    t.m,
    ...epi,
  ];
}

/**
 * y = conv(x, w) by Winograd F(2x2, 3x3) into `out` ([N, Cout, O1, O2]), then
 * `epi` on y when given; false when the heap cannot hold one image's work, or
 * with `finiteOnly` when x holds an Inf or NaN (checked in the heap, chunk by
 * chunk): the caller falls back.
 */
export function winogradForward(
  q: Geo3,
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  finiteOnly = false,
  epi: Epilogue | null = null,
): boolean {
  const { N, Cin, Cout } = q;
  const [S1, S2, O1, O2] = [q.S[1], q.S[2], q.O[1], q.O[2]];
  const Mp = Math.ceil(Cout / gemmTileRows(Cout)) * gemmTileRows(Cout);
  const m = tileSize(q), XI = (m + 2) ** 2;
  const tl = tiling(
    q,
    m,
    (tiles) => XI * (Cin + Mp) * tiles + Cout * m * m * tiles + (Cin * S1 + Cout * O1) * Math.max(S2, O2),
  );
  const { tiles, nb, Pmax, planeIn, T } = tl;
  const al = al16;
  const U = 64, XIN = U + al(XI * Cout * Cin), V = XIN + al(nb * Cin * S1 * S2), M = V + XI * skew(Cin * Pmax);
  const OP = M + XI * skew(Mp * Pmax), OX = OP + al(nb * Cout * m * m * tiles), SCR = OX + al(nb * Cout * O1 * O2);
  const BI = SCR + T * planeIn, free = BI + al(epi?.bias ? Cout : 0);
  const tr = transforms(free, T);
  if (!tr) return false;
  const { memory } = tr;
  filterTransform(w, Cout, Cin, m === 4 ? G4 : G2, new Float32Array(memory.buffer), U);
  const epiJob = epilogueParams(epi, BI);
  // the whole output in a resident slot when the ring takes it (each chunk's images at their place)
  const slot = outputSlot(out.byteLength);
  for (let n0 = 0; n0 < N; n0 += nb) {
    const m = Math.min(nb, N - n0), Pp = Math.ceil((m * tiles) / NR) * NR, VS = skew(Cin * Pp), MS = skew(Mp * Pp);
    const xin = placeInHeap(x.subarray(n0 * Cin * S1 * S2, (n0 + m) * Cin * S1 * S2), XIN * 4) / 4;
    if (finiteOnly && !tr.finite(xin, m * Cin * S1 * S2)) return false;
    const ox = slot ? slot.at / 4 + n0 * Cout * O1 * O2 : OX;
    const at = { XIN: xin, V, Pp, M, Mp, OP, OX: ox, SCR, VS, MS };
    tr.run(transformJob(0, m * Cin, q, tl, at));
    // tiles past the last image's (Pp padding) multiply stale data; their products are never read
    if (
      !gemmInHeap(XI, Cout, Pp, Cin, U, Cout * Cin, Cin, false, V, VS, Pp, false, M, MS, Pp, false, free)
    ) {
      return false;
    }
    tr.run(transformJob(1, m * Cout, q, tl, at, epiJob));
    const H = new Float32Array(memory.buffer);
    out.set(H.subarray(ox, ox + m * Cout * O1 * O2), n0 * Cout * O1 * O2);
  }
  slot?.keep(out);
  return true;
}

/**
 * dw = the weight gradient of conv(x, w) for the output gradient gy by
 * Winograd F(2x2, 3x3) (Lavin & Gray 2016, §4): dW = Gᵀ [Σ_tiles (A dY Aᵀ) ⊙
 * (Bᵀ d B)] G, the sum over tiles being 16 GEMMs [Cout, tiles] · [tiles, Cin].
 * False when the heap cannot hold one image's work, or with `finiteOnly` when
 * x or gy holds an Inf or NaN.
 */
export function winogradGradWeight(
  q: Geo3,
  x: Float32Array,
  gy: Float32Array,
  dw: Float32Array,
  finiteOnly = false,
): boolean {
  const { N, Cin, Cout } = q;
  const [S1, S2, O1, O2] = [q.S[1], q.S[2], q.O[1], q.O[2]];
  const mt = tileSize(q), XI = (mt + 2) ** 2;
  const tl = tiling(q, mt, (tiles) => XI * (Cin + Cout) * tiles + Cin * S1 * S2 + Cout * O1 * O2);
  const { tiles, nb, Pmax, planeIn, T } = tl, al = al16;
  const mr = gemmTileRows(Cout), Mp = Math.ceil(Cout / mr) * mr, ldc = Math.ceil(Cin / NR) * NR;
  const C = 64, CS = skew(Mp * ldc), XIN = C + XI * CS, OX = XIN + al(nb * Cin * S1 * S2);
  const V = OX + al(nb * Cout * O1 * O2), Z = V + XI * skew(Cin * Pmax), SCR = Z + XI * skew(Cout * Pmax);
  const free = SCR + T * planeIn;
  const tr = transforms(free, T);
  if (!tr) return false;
  const { memory } = tr;
  for (let n0 = 0; n0 < N; n0 += nb) {
    const m = Math.min(nb, N - n0), K = m * tiles, Pp = Math.ceil(K / NR) * NR;
    const VS = skew(Cin * Pp), ZS = skew(Cout * Pp);
    const xin = placeInHeap(x.subarray(n0 * Cin * S1 * S2, (n0 + m) * Cin * S1 * S2), XIN * 4) / 4;
    const ox = placeInHeap(gy.subarray(n0 * Cout * O1 * O2, (n0 + m) * Cout * O1 * O2), OX * 4) / 4;
    if (finiteOnly && !(tr.finite(xin, m * Cin * S1 * S2) && tr.finite(ox, m * Cout * O1 * O2))) return false;
    // V from the input planes (mode 0), Z from the output-gradient planes (mode 2, written where M goes)
    const at = { XIN: xin, V, Pp, M: Z, Mp: 0, OP: 0, OX: ox, SCR, VS, MS: ZS };
    tr.run(transformJob(0, m * Cin, q, tl, at));
    tr.run(transformJob(2, m * Cout, q, tl, at));
    // M_ξ[co][ci] (+)= Σ_t Z_ξ[co][t] · V_ξ[ci][t] over this chunk's tiles
    if (!gemmInHeap(XI, Cout, Cin, K, Z, ZS, Pp, false, V, VS, Pp, true, C, CS, ldc, n0 > 0, free)) return false;
  }
  filterGradient(new Float32Array(memory.buffer), C, CS, ldc, Cout, Cin, mt === 4 ? G4 : G2, dw);
  return true;
}
