// "wasm" kernels for the convolution primitives `conv`, `convGradInput` and
// `convGradWeight` on float32 data, all on the WebAssembly SIMD GEMM:
//   forward      y[n,g]  = W_g[Cog, R] · patches[n,g][R, O]          (R = Cin/G · kernel taps)
//   grad input   patches = W_gᵀ[R, Cog] · g[n,g][Cog, O], then col2im scatter-add
//   grad weight  dW_g    = gᵀ_g[Cog, N·O] · patches_gᵀ[N·O, R]       (the batch is the depth)
// Which way the patch matrix is made:
//   - unit strides (1-D/2-D): implicit GEMM, the GEMM gathers the patches from
//     the padded input while it packs (`gemmGatherF32`); the input gradient is
//     the forward convolution with the flipped, transposed kernel;
//   - 3x3 at unit stride (any dilation), >= 16 channels: Winograd F(4x4, 3x3) or F(2x2, 3x3)
//     (`_wasm_winograd.ts`) for the forward, that input gradient and the
//     weight gradient;
//   - otherwise im2col in JS (row copies, whole images batched, or blocks of
//     rows of one image); the input gradient's col2im runs in wasm on the
//     GEMM's result in the heap, threaded by (image, channel) planes
//     (`_wasm_col2im.ts`; one group), else in JS;
//   - pointwise (1x1, stride 1, no padding): the GEMM on the input itself;
//   - one input channel per group (depthwise, first layers): the SIMD plane
//     kernels of `_wasm_depthwise.ts`.
// A forced "direct" algorithm and float64 data run on the JS reference kernels
// (`_conv_kernels.ts`); a forced "winograd" runs the wasm Winograd.
// A bias and relu after the forward (conv2d's `bias`, then `.relu()`) run as an
// epilogue where the output is still in the heap (`_wasm_epilogue.ts`): the
// convolution's own output is never materialized.
//
// Every JS step runs on the calling thread in a fixed order and every wasm
// kernel splits its work so that each output has one fixed summation order,
// so results do not depend on the thread count.
import { backend, getBackend, registerKernel, setBackend } from "./_backend.ts";
import { registerPattern, reluInput } from "./_schedule.ts";
import type { TypedArray } from "./_dtype.ts";
import type { ConvGeometry, Node } from "./_graph.ts";
import { flippedWeights, type Geo3, geo3, type Taps, transposedGeo } from "./_conv_kernels.ts";
import { col2imGradInput } from "./_wasm_col2im.ts";
import { depthwiseWasm, depthwiseWasmApplies } from "./_wasm_depthwise.ts";
import type { Epilogue, OutputEpilogue } from "./_wasm_epilogue.ts";
import { winogradApplies, winogradForward, winogradGradWeight } from "./_wasm_winograd.ts";
import { GEMM_AVAILABLE, gemmBatchedF32, gemmF32, gemmGatherF32 } from "./_wasm_gemm.ts";

/** Run `node` on the JS reference kernels. */
function reference(node: Node, inputs: TypedArray[]): TypedArray {
  const prev = getBackend();
  setBackend("js");
  try {
    return backend().run(node, inputs);
  } finally {
    setBackend(prev);
  }
}

/**
 * Floats of im2col scratch per GEMM dispatch: `batchBudget` when whole images
 * are batched, `block` when one image is split into blocks of output rows;
 * groups up to `depthwiseMaxCog` outputs with one input channel run direct.
 */
export const tuning: {
  batchBudget: number;
  block: number;
  depthwiseMaxCog: number;
  depthwiseWasmMaxCog: number;
  implicitMin: number;
  implicitBudget: number;
  winogradMinChannels: number;
  winogradMinPixels: number;
} = {
  batchBudget: 1 << 20,
  block: 1 << 19,
  depthwiseMaxCog: 8,
  /** one input channel per group, up to this many outputs each: the wasm depthwise kernels (1-D/2-D) */
  depthwiseWasmMaxCog: 64,
  /** implicit GEMM for unit strides when the patch matrix has at least `implicitMin` floats */
  implicitMin: 0,
  /** floats of padded input + output per implicit-GEMM chunk of images */
  implicitBudget: 1 << 22,
  /** automatic Winograd from this many input and output channels and output pixels */
  winogradMinChannels: 16,
  winogradMinPixels: 64,
};

// Reused scratch (fresh large allocations page-fault on first touch, which
// costs about as much as the im2col itself); released when oversized.
const RETAIN = 1 << 24;
const scratch: (Float32Array | null)[] = [null, null, null];
function buf(slot: number, n: number): Float32Array {
  const s = scratch[slot];
  if (s && s.length >= n) return s;
  const b = new Float32Array(n);
  scratch[slot] = n <= RETAIN ? b : null;
  return b;
}

// ---------------------------------------------------------------- tap tables

function taps(q: Geo3): Taps {
  const { K, O, S, stride, dil, pad } = q;
  const axis = (a: number): Int32Array => {
    const r = new Int32Array(K[a] * O[a]);
    for (let t = 0; t < K[a]; t++) {
      for (let p = 0; p < O[a]; p++) {
        const i = p * stride[a] + t * dil[a] - pad[a];
        r[t * O[a] + p] = i >= 0 && i < S[a] ? i : -1;
      }
    }
    return r;
  };
  const K2 = K[2], O2 = O[2], S2 = S[2], s2 = stride[2];
  const off = new Int32Array(K2), lo = new Int32Array(K2), hi = new Int32Array(K2);
  for (let t = 0; t < K2; t++) {
    const o = t * dil[2] - pad[2];
    const l = Math.min(O2, Math.max(0, Math.ceil(-o / s2)));
    const h = Math.min(O2, Math.floor((S2 - 1 - o) / s2) + 1);
    off[t] = o;
    lo[t] = l;
    hi[t] = Math.max(l, h);
  }
  return { A: axis(0), B: axis(1), off, lo, hi };
}

/** Whether im2col is the identity (1×1 kernel, unit stride, no padding): cols = x. */
function pointwise(q: Geo3): boolean {
  return q.Ksz === 1 && q.stride.every((s) => s === 1) && q.pad.every((p) => p === 0) &&
    q.O.every((o, a) => o === q.S[a]);
}

// ---------------------------------------------------------------- im2col / col2im

/**
 * cols[r, j] (row r = c·Ksz + t at dst[dOff + r·ld]) = x[xOff + c·Ssz + idx(t, p)], 0 in the
 * padding, for the Cig channels of one image and group and the output rows
 * ρ0 <= ρ < ρ1 (ρ = p0·O1 + p1, each O2 positions; j = (ρ - ρ0)·O2 + p2).
 */
function im2col(
  q: Geo3,
  tp: Taps,
  x: Float32Array,
  xOff: number,
  dst: Float32Array,
  dOff: number,
  ld: number,
  rho0: number,
  rho1: number,
): void {
  const { Cig, Ssz, Ksz } = q;
  const K0 = q.K[0], K1 = q.K[1], K2 = q.K[2], O0 = q.O[0], O1 = q.O[1], O2 = q.O[2];
  const S1 = q.S[1], S2 = q.S[2], s2 = q.stride[2];
  const { A, B, off, lo, hi } = tp;
  for (let c = 0; c < Cig; c++) {
    const xb = xOff + c * Ssz;
    let r = c * Ksz;
    for (let t0 = 0; t0 < K0; t0++) {
      for (let t1 = 0; t1 < K1; t1++) {
        for (let t2 = 0; t2 < K2; t2++, r++) {
          const l = lo[t2], h = hi[t2], o2 = off[t2];
          let d = dOff + r * ld;
          let p0 = Math.floor(rho0 / O1), p1 = rho0 - p0 * O1;
          for (let rho = rho0; rho < rho1; rho++, d += O2) {
            const i0 = A[t0 * O0 + p0], i1 = B[t1 * O1 + p1];
            if (++p1 === O1) {
              p1 = 0;
              p0++;
            }
            if (i0 < 0 || i1 < 0) {
              for (let p = 0; p < O2; p++) dst[d + p] = 0;
              continue;
            }
            const s = xb + (i0 * S1 + i1) * S2 + o2;
            for (let p = 0; p < l; p++) dst[d + p] = 0;
            if (s2 === 1) { for (let p = l; p < h; p++) dst[d + p] = x[s + p]; }
            else for (let p = l; p < h; p++) dst[d + p] = x[s + p * s2];
            for (let p = h; p < O2; p++) dst[d + p] = 0;
          }
        }
      }
    }
  }
}

/** The adjoint of `im2col` (same arguments): dx[xOff + c·Ssz + idx(t, p)] += cols[r, j]. */
function col2im(
  q: Geo3,
  tp: Taps,
  col: Float32Array,
  cOff: number,
  ld: number,
  dx: Float32Array,
  xOff: number,
  rho0: number,
  rho1: number,
): void {
  const { Cig, Ssz, Ksz } = q;
  const K0 = q.K[0], K1 = q.K[1], K2 = q.K[2], O0 = q.O[0], O1 = q.O[1], O2 = q.O[2];
  const S1 = q.S[1], S2 = q.S[2], s2 = q.stride[2];
  const { A, B, off, lo, hi } = tp;
  // Three taps along a unit-stride innermost axis: one pass over each dx row
  // adds all three where they all land ([a, b)), per-tap loops at the edges.
  const three = K2 === 3 && s2 === 1;
  const a = three ? Math.max(lo[0] + off[0], lo[1] + off[1], lo[2] + off[2]) : 0;
  const b = three ? Math.min(hi[0] + off[0], hi[1] + off[1], hi[2] + off[2]) : 0;
  if (three && a < b) {
    const e0 = off[0], e1 = off[1], e2 = off[2];
    for (let c = 0; c < Cig; c++) {
      const xb = xOff + c * Ssz;
      let r = c * Ksz;
      for (let t0 = 0; t0 < K0; t0++) {
        for (let t1 = 0; t1 < K1; t1++, r += 3) {
          let d = cOff + r * ld;
          let p0 = Math.floor(rho0 / O1), p1 = rho0 - p0 * O1;
          for (let rho = rho0; rho < rho1; rho++, d += O2) {
            const i0 = A[t0 * O0 + p0], i1 = B[t1 * O1 + p1];
            if (++p1 === O1) {
              p1 = 0;
              p0++;
            }
            if (i0 < 0 || i1 < 0) continue;
            const s = xb + (i0 * S1 + i1) * S2;
            const d0 = d - e0, d1 = d + ld - e1, d2 = d + 2 * ld - e2;
            for (let i = a; i < b; i++) dx[s + i] += col[d0 + i] + col[d1 + i] + col[d2 + i];
            for (let t = 0, dt = d; t < 3; t++, dt += ld) {
              const o = off[t], lt = lo[t] + o, ht = hi[t] + o, st = dt - o;
              for (let i = lt; i < a && i < ht; i++) dx[s + i] += col[st + i];
              for (let i = Math.max(b, lt); i < ht; i++) dx[s + i] += col[st + i];
            }
          }
        }
      }
    }
    return;
  }
  for (let c = 0; c < Cig; c++) {
    const xb = xOff + c * Ssz;
    let r = c * Ksz;
    for (let t0 = 0; t0 < K0; t0++) {
      for (let t1 = 0; t1 < K1; t1++) {
        for (let t2 = 0; t2 < K2; t2++, r++) {
          const l = lo[t2], h = hi[t2], o2 = off[t2];
          if (l >= h) continue;
          let d = cOff + r * ld;
          let p0 = Math.floor(rho0 / O1), p1 = rho0 - p0 * O1;
          for (let rho = rho0; rho < rho1; rho++, d += O2) {
            const i0 = A[t0 * O0 + p0], i1 = B[t1 * O1 + p1];
            if (++p1 === O1) {
              p1 = 0;
              p0++;
            }
            if (i0 < 0 || i1 < 0) continue;
            const s = xb + (i0 * S1 + i1) * S2 + o2;
            if (s2 === 1) { for (let p = l; p < h; p++) dx[s + p] += col[d + p]; }
            else for (let p = l; p < h; p++) dx[s + p * s2] += col[d + p];
          }
        }
      }
    }
  }
}

/**
 * How to split the work: `nb` images per GEMM dispatch (whole images batched,
 * when one image's scratch of `perImage` floats is small), else one image and
 * group at a time in blocks of `rows` output rows (ρ), so the scratch stays
 * in cache between im2col, the GEMM's copy of it, and col2im.
 */
function plan(q: Geo3, perImage: number, perRow: number): { nb: number; rows: number } {
  const rowsTotal = q.O[0] * q.O[1];
  if (perImage <= tuning.batchBudget) {
    const chunks = Math.max(1, Math.ceil((q.N * perImage) / tuning.batchBudget));
    return { nb: Math.ceil(q.N / Math.min(q.N, chunks)), rows: rowsTotal };
  }
  const blocks = Math.max(1, Math.ceil((rowsTotal * perRow) / tuning.block));
  return { nb: 0, rows: Math.ceil(rowsTotal / Math.min(rowsTotal, blocks)) };
}

/**
 * For the m·G items b = (image, group) of a chunk: C_b = op(W_g)·B_b, with
 * W_g at w[g·Cog·R], B_b at b[bOff + b·bStride], C_b at c[cOff + b·cStride].
 * One dispatch (w replicated per image) while that copy is small, else one
 * dispatch per group (W_g shared across the images).
 */
function groupBatched(
  m: number,
  G: number,
  M: number,
  N: number,
  K: number,
  w: Float32Array,
  lda: number,
  transA: boolean,
  b: Float32Array,
  bOff: number,
  bStride: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  cStride: number,
  ldc: number,
  epi: OutputEpilogue | null = null,
): void {
  const wg = w.length / G;
  if (G === 1) {
    gemmBatchedF32(m, M, N, K, w, 0, 0, lda, b, bOff, bStride, ldb, c, cOff, cStride, ldc, false, transA, false, epi);
  } else if (m * w.length <= tuning.batchBudget) {
    const wr = new Float32Array(m * w.length);
    for (let i = 0; i < m; i++) wr.set(w, i * w.length);
    gemmBatchedF32(
      m * G,
      M,
      N,
      K,
      wr,
      0,
      wg,
      lda,
      b,
      bOff,
      bStride,
      ldb,
      c,
      cOff,
      cStride,
      ldc,
      false,
      transA,
      false,
      epi,
    );
  } else {
    for (let g = 0; g < G; g++) {
      gemmBatchedF32(
        m,
        M,
        N,
        K,
        w,
        g * wg,
        0,
        lda,
        b,
        bOff + g * bStride,
        G * bStride,
        ldb,
        c,
        cOff + g * cStride,
        G * cStride,
        ldc,
        false,
        transA,
        false,
        epi,
      );
    }
  }
}

// ---------------------------------------------------------------- padded planes (unit strides)

/** The zero-padded input plane of a unit-stride 1-D/2-D convolution: Hp x Wp per channel, every tap inside. */
interface Padded {
  Hp: number;
  Wp: number;
}

function paddedGeom(q: Geo3): Padded | null {
  if (q.K[0] !== 1 || q.S[0] !== 1 || q.O[0] !== 1 || q.stride[1] !== 1 || q.stride[2] !== 1) return null;
  return { Hp: q.O[1] + (q.K[1] - 1) * q.dil[1], Wp: q.O[2] + (q.K[2] - 1) * q.dil[2] };
}

/**
 * For C channels: xpad[dOff + c·Hp·Wp + y·Wp + j] = x[xOff + c·Ssz + (y - pad1)·S2 + j - pad2],
 * 0 outside x (pads may be negative: a crop).
 */
function padInput(
  q: Geo3,
  pd: Padded,
  C: number,
  x: Float32Array,
  xOff: number,
  xpad: Float32Array,
  dOff: number,
): void {
  const { Hp, Wp } = pd, S1 = q.S[1], S2 = q.S[2], p1 = q.pad[1], p2 = q.pad[2];
  const j0 = Math.max(0, Math.min(Wp, p2)), j1 = Math.max(j0, Math.min(Wp, S2 + p2));
  for (let c = 0; c < C; c++) {
    const base = dOff + c * Hp * Wp;
    for (let y = 0; y < Hp; y++) {
      const iy = y - p1, row = base + y * Wp;
      if (iy < 0 || iy >= S1) {
        xpad.fill(0, row, row + Wp);
        continue;
      }
      for (let j = 0; j < j0; j++) xpad[row + j] = 0;
      const src = xOff + c * q.Ssz + iy * S2 - p2;
      for (let j = j0; j < j1; j++) xpad[row + j] = x[src + j];
      for (let j = j1; j < Wp; j++) xpad[row + j] = 0;
    }
  }
}

// ---------------------------------------------------------------- implicit GEMM (unit strides)

/**
 * Unit-stride 1-D/2-D convolutions as GEMMs whose patch matrix is never
 * written: over zero-padded images (Hp x Wp per channel, image i of a chunk at
 * i·Cin·Hp·Wp), patch element (tap k = (c, t1, t2), position p = (oy, ox)) is
 * xpad[tapOffset[k] + posOffset[p]] with tapOffset = c·Hp·Wp + t1·d1·Wp + t2·d2
 * and posOffset = oy·Wp + ox, which the GEMM gathers while it packs its
 * panels (`gemmGatherF32`, in every thread; contiguous positions are copied
 * as vectors). The input gradient is the forward convolution of the output
 * gradient with the flipped, transposed kernel (`transposedGeo`).
 */
function tapOffsets(q: Geo3, wd: Padded): Int32Array {
  const K1 = q.K[1], K2 = q.K[2], HW = wd.Hp * wd.Wp, t = new Int32Array(q.Cig * q.Ksz);
  for (let c = 0, k = 0; c < q.Cig; c++) {
    for (let t1 = 0; t1 < K1; t1++) {
      for (let t2 = 0; t2 < K2; t2++, k++) t[k] = c * HW + t1 * q.dil[1] * wd.Wp + t2 * q.dil[2];
    }
  }
  return t;
}

/** posOffset of every output position of m images (image i at i·stride). */
function positionOffsets(q: Geo3, wd: Padded, m: number, stride: number): Int32Array {
  const O1 = q.O[1], O2 = q.O[2], t = new Int32Array(m * q.Osz);
  for (let i = 0, p = 0; i < m; i++) {
    for (let oy = 0; oy < O1; oy++) for (let ox = 0; ox < O2; ox++) t[p++] = i * stride + oy * wd.Wp + ox;
  }
  return t;
}

/** Images per chunk: padded input and output of a chunk within the budget. */
function chunkImages(q: Geo3, wd: Padded): number {
  const per = q.Cin * wd.Hp * wd.Wp + q.Cout * q.Osz;
  return Math.max(1, Math.min(q.N, Math.floor(tuning.implicitBudget / per)));
}

/** Pad images n0 .. n0+m-1 into xpad (image i at i·Cin·Hp·Wp, channel c at c·Hp·Wp within it). */
function padImages(q: Geo3, wd: Padded, x: Float32Array, n0: number, m: number, xpad: Float32Array): void {
  const img = q.Cin * wd.Hp * wd.Wp;
  for (let i = 0; i < m; i++) padInput(q, wd, q.Cin, x, (n0 + i) * q.Cin * q.Ssz, xpad, i * img);
}

function forwardImplicit(
  q: Geo3,
  wd: Padded,
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  epi: OutputEpilogue | null = null,
): void {
  const { N, G, Cin, Cout, Cog, Cig, Ksz, Osz } = q;
  const R = Cig * Ksz, HW = wd.Hp * wd.Wp, nb = chunkImages(q, wd);
  const kT = tapOffsets(q, wd), jT = positionOffsets(q, wd, 1, 0), xpad = buf(2, nb * Cin * HW);
  for (let n0 = 0; n0 < N; n0 += nb) {
    const m = Math.min(nb, N - n0);
    padImages(q, wd, x, n0, m, xpad);
    // y[n, g] = W_g[Cog, R] · patches[n, g][R, O]
    for (let g = 0; g < G; g++) {
      const a = g * Cog * R, b = g * Cig * HW, c = (n0 * Cout + g * Cog) * Osz;
      gemmGatherF32(m, Cog, Osz, R, w, a, 0, R, false, xpad, b, Cin * HW, kT, jT, out, c, Cout * Osz, Osz, false, epi);
    }
  }
}

function gradWeightImplicit(q: Geo3, wd: Padded, x: Float32Array, gy: Float32Array, dw: Float32Array): void {
  const { N, G, Cin, Cout, Cog, Cig, Ksz, Osz } = q;
  const R = Cig * Ksz, HW = wd.Hp * wd.Wp, nb = chunkImages(q, wd);
  const jT = tapOffsets(q, wd), xpad = buf(2, nb * Cin * HW), gt = buf(1, Cog * nb * Osz);
  let kT = positionOffsets(q, wd, nb, Cin * HW);
  for (let n0 = 0; n0 < N; n0 += nb) {
    const m = Math.min(nb, N - n0), L = m * Osz;
    if (m < nb) kT = kT.subarray(0, L);
    padImages(q, wd, x, n0, m, xpad);
    for (let g = 0; g < G; g++) {
      // gy_g regrouped [Cog, (image, position)]: the chunk is the GEMM depth
      for (let o = 0; o < Cog; o++) {
        for (let i = 0; i < m; i++) {
          const s = ((n0 + i) * Cout + g * Cog + o) * Osz;
          gt.set(gy.subarray(s, s + Osz), o * L + i * Osz);
        }
      }
      // dW_g[Cog, R] (+)= gt[Cog, L] · patchesᵀ[L, R]
      gemmGatherF32(1, Cog, R, L, gt, 0, 0, L, false, xpad, g * Cig * HW, 0, kT, jT, dw, g * Cog * R, 0, R, n0 > 0);
    }
  }
}

/** Whether the implicit path applies: unit-stride 1-D/2-D, and the patch matrix would be large. */
function implicitGeom(q: Geo3): Padded | null {
  const wd = paddedGeom(q);
  return wd && q.Cig * q.Ksz * q.Osz >= tuning.implicitMin ? wd : null;
}

// ---------------------------------------------------------------- GEMM kernels

/** Whether the automatic choices (Winograd) are open: algorithm "auto" (or a forced Winograd's gradient). */
const autoOf = (node: Node): boolean => (node.params as ConvGeometry).algorithm !== "im2col";

/**
 * Winograd pays off once both channel counts and the image are
 * large enough. Automatic only on finite data: its transforms mix a tile's
 * inputs, so one ±Inf would turn the tile's other outputs into NaN (Inf - Inf).
 * The weights are checked here, the images by the Winograd kernels in the
 * heap (they return false, and the caller falls back, on an Inf or NaN).
 */
function winogradPays(q: Geo3, w: Float32Array | null): boolean {
  return winogradApplies(q) && Math.min(q.Cin, q.Cout) >= tuning.winogradMinChannels &&
    q.O[1] * q.O[2] >= tuning.winogradMinPixels && (w === null || allFinite(w));
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}

/** The forward by GEMM (or automatic Winograd), then `epi` on its output when given. */
function forwardGemm(
  q: Geo3,
  x: Float32Array,
  w: Float32Array,
  auto = true,
  epi: OutputEpilogue | null = null,
): Float32Array {
  const { N, G, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const out = new Float32Array(N * Cout * Osz);
  const R = Cig * Ksz, O2 = q.O[2], rowsTotal = q.O[0] * q.O[1];
  if (out.length === 0 || R === 0) return out;
  if (pointwise(q)) {
    // y[n,g] = W_g[Cog, Cig] · x[n,g][Cig, S]
    groupBatched(N, G, Cog, Osz, Cig, w, R, false, x, 0, Cig * Ssz, Ssz, out, 0, Cog * Osz, Osz, epi);
    return out;
  }
  if (auto && winogradPays(q, w) && winogradForward(q, x, w, out, true, epi)) return out;
  const iw = implicitGeom(q);
  if (iw) {
    forwardImplicit(q, iw, x, w, out, epi);
    return out;
  }
  const tp = taps(q);
  const { nb, rows } = plan(q, G * R * Osz, R * O2);
  if (nb > 0) {
    const cols = buf(0, nb * G * R * Osz);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const m = Math.min(nb, N - n0);
      for (let b = 0; b < m * G; b++) {
        const n = n0 + Math.floor(b / G), g = b % G;
        im2col(q, tp, x, (n * Cin + g * Cig) * Ssz, cols, b * R * Osz, Osz, 0, rowsTotal);
      }
      // batch over (image, group): A = W_g, B = cols, C = y[n, g·Cog : (g+1)·Cog]
      groupBatched(m, G, Cog, Osz, R, w, R, false, cols, 0, R * Osz, Osz, out, n0 * Cout * Osz, Cog * Osz, Osz, epi);
    }
    return out;
  }
  const cols = buf(0, R * rows * O2);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      for (let r0 = 0; r0 < rowsTotal; r0 += rows) {
        const r1 = Math.min(rowsTotal, r0 + rows), P = (r1 - r0) * O2;
        im2col(q, tp, x, (n * Cin + g * Cig) * Ssz, cols, 0, P, r0, r1);
        const o = (n * Cout + g * Cog) * Osz + r0 * O2;
        gemmF32(Cog, P, R, w, g * Cog * R, R, cols, 0, P, out, o, Osz, false, false, false, epi);
      }
    }
  }
  return out;
}

function gradInputGemm(q: Geo3, gy: Float32Array, w: Float32Array, auto = true): Float32Array {
  const { N, G, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const dx = new Float32Array(N * Cin * Ssz);
  const R = Cig * Ksz, O2 = q.O[2], rowsTotal = q.O[0] * q.O[1];
  if (dx.length === 0 || R === 0 || Osz === 0 || Cog === 0) return dx;
  if (pointwise(q)) {
    // dx[n,g][Cig, S] = W_gᵀ · gy[n,g][Cog, S]
    groupBatched(N, G, Cig, Osz, Cog, w, R, true, gy, 0, Cog * Osz, Osz, dx, 0, Cig * Ssz, Ssz);
    return dx;
  }
  const qt = transposedGeo(q), iw = qt && implicitGeom(qt);
  if (qt && auto && winogradPays(qt, w) && winogradForward(qt, gy, flippedWeights(q, w), dx, true)) return dx;
  if (qt && iw) {
    forwardImplicit(qt, iw, gy, flippedWeights(q, w), dx);
    return dx;
  }
  const tp = taps(q);
  if (G === 1 && col2imGradInput(q, gy, w, tp, dx)) return dx;
  const { nb, rows } = plan(q, G * R * Osz, R * O2);
  if (nb > 0) {
    const cols = buf(0, nb * G * R * Osz);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const m = Math.min(nb, N - n0);
      // cols[n,g][R, O] = W_gᵀ[R, Cog] · gy[n,g][Cog, O]
      groupBatched(m, G, R, Osz, Cog, w, R, true, gy, n0 * Cout * Osz, Cog * Osz, Osz, cols, 0, R * Osz, Osz);
      for (let b = 0; b < m * G; b++) {
        const n = n0 + Math.floor(b / G), g = b % G;
        col2im(q, tp, cols, b * R * Osz, Osz, dx, (n * Cin + g * Cig) * Ssz, 0, rowsTotal);
      }
    }
    return dx;
  }
  const cols = buf(0, R * rows * O2);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      for (let r0 = 0; r0 < rowsTotal; r0 += rows) {
        const r1 = Math.min(rowsTotal, r0 + rows), P = (r1 - r0) * O2;
        gemmF32(R, P, Cog, w, g * Cog * R, R, gy, (n * Cout + g * Cog) * Osz + r0 * O2, Osz, cols, 0, P, false, true);
        col2im(q, tp, cols, 0, P, dx, (n * Cin + g * Cig) * Ssz, r0, r1);
      }
    }
  }
  return dx;
}

function gradWeightGemm(q: Geo3, x: Float32Array, gy: Float32Array, auto = true): Float32Array {
  const { N, G, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const R = Cig * Ksz, O2 = q.O[2], rowsTotal = q.O[0] * q.O[1];
  const dw = new Float32Array(Cout * R);
  if (dw.length === 0 || N * Osz === 0) return dw;
  if (auto && winogradPays(q, null) && winogradGradWeight(q, x, gy, dw, true)) return dw;
  const iw = implicitGeom(q);
  if (iw) {
    gradWeightImplicit(q, iw, x, gy, dw);
    return dw;
  }
  const tp = taps(q);
  const { nb, rows } = plan(q, G * (R + Cog) * Osz, R * O2);
  if (nb > 0) {
    const L = nb * Osz; // the GEMM depth: (image, output position) of a chunk
    const cols = buf(0, G * R * L);
    const gt = buf(1, G * Cog * L);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const m = Math.min(nb, N - n0), Lm = m * Osz;
      // cols_g[R, (n, p)] and gt_g[Cog, (n, p)] (gy regrouped), each image one column block
      for (let nn = 0; nn < m; nn++) {
        const n = n0 + nn;
        for (let g = 0; g < G; g++) {
          im2col(q, tp, x, (n * Cin + g * Cig) * Ssz, cols, g * R * Lm + nn * Osz, Lm, 0, rowsTotal);
          for (let o = 0; o < Cog; o++) {
            const src = (n * Cout + g * Cog + o) * Osz;
            gt.set(gy.subarray(src, src + Osz), (g * Cog + o) * Lm + nn * Osz);
          }
        }
      }
      // dW_g[Cog, R] (+)= gt_g[Cog, L] · cols_g[R, L]ᵀ
      gemmBatchedF32(G, Cog, R, Lm, gt, 0, Cog * Lm, Lm, cols, 0, R * Lm, Lm, dw, 0, Cog * R, R, n0 > 0, false, true);
    }
    return dw;
  }
  const cols = buf(0, R * rows * O2);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      for (let r0 = 0; r0 < rowsTotal; r0 += rows) {
        const r1 = Math.min(rowsTotal, r0 + rows), P = (r1 - r0) * O2;
        im2col(q, tp, x, (n * Cin + g * Cig) * Ssz, cols, 0, P, r0, r1);
        // dW_g[Cog, R] += gy[n,g][Cog, block] · cols[R, block]ᵀ
        const first = n === 0 && r0 === 0;
        const a0 = (n * Cout + g * Cog) * Osz + r0 * O2;
        gemmF32(Cog, R, P, gy, a0, Osz, cols, 0, P, dw, g * Cog * R, R, !first, false, true);
      }
    }
  }
  return dw;
}

// ---------------------------------------------------------------- direct (depthwise-like)

/**
 * For three taps along a unit-stride innermost axis: the output range
 * [a3, b3) where all three taps are inside the input (`three` when non-empty).
 */
function fuse3(q: Geo3, lo: Int32Array, hi: Int32Array): { three: boolean; a3: number; b3: number } {
  if (q.K[2] !== 3 || q.stride[2] !== 1) return { three: false, a3: 0, b3: 0 };
  const a3 = Math.max(lo[0], lo[1], lo[2]), b3 = Math.min(hi[0], hi[1], hi[2]);
  return { three: a3 < b3, a3, b3 };
}

/** y[n, o] = Σ_c Σ_t w[o, c, t] · x[n, g·Cig + c, idx(t, ·)], one output row at a time. */
function forwardDirect(q: Geo3, x: Float32Array, w: Float32Array): Float32Array {
  const fast = depthwiseWasmApplies(q) ? depthwiseWasm("forward", q, x, w) : null;
  if (fast) return fast;
  const { N, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const K0 = q.K[0], K1 = q.K[1], K2 = q.K[2], O0 = q.O[0], O1 = q.O[1], O2 = q.O[2];
  const S1 = q.S[1], S2 = q.S[2], s2 = q.stride[2];
  const { A, B, off, lo, hi } = taps(q);
  const out = new Float32Array(N * Cout * Osz);
  const acc = new Float64Array(Osz);
  const { three, a3, b3 } = fuse3(q, lo, hi);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Cout; o++) {
      const g = Math.floor(o / Cog);
      acc.fill(0);
      let ob = 0; // output row within the plane
      for (let p0 = 0; p0 < O0; p0++) {
        for (let p1 = 0; p1 < O1; p1++, ob += O2) {
          for (let c = 0; c < Cig; c++) {
            const xb = (n * Cin + g * Cig + c) * Ssz, wb = (o * Cig + c) * Ksz;
            for (let t0 = 0; t0 < K0; t0++) {
              const i0 = A[t0 * O0 + p0];
              if (i0 < 0) continue;
              if (three && K1 === 3 && B[p1] >= 0 && B[O1 + p1] >= 0 && B[2 * O1 + p1] >= 0) {
                // 3x3 taps all inside: the interior of the row in one pass of nine products
                const wt = wb + t0 * 9, ra = xb + (i0 * S1 + B[p1]) * S2, rbb = xb + (i0 * S1 + B[O1 + p1]) * S2;
                const rc = xb + (i0 * S1 + B[2 * O1 + p1]) * S2, e0 = off[0], e1 = off[1], e2 = off[2];
                const w00 = w[wt], w01 = w[wt + 1], w02 = w[wt + 2], w10 = w[wt + 3], w11 = w[wt + 4];
                const w12 = w[wt + 5], w20 = w[wt + 6], w21 = w[wt + 7], w22 = w[wt + 8];
                for (let p = a3; p < b3; p++) {
                  acc[ob + p] += w00 * x[ra + e0 + p] + w01 * x[ra + e1 + p] + w02 * x[ra + e2 + p] +
                    w10 * x[rbb + e0 + p] + w11 * x[rbb + e1 + p] + w12 * x[rbb + e2 + p] +
                    w20 * x[rc + e0 + p] + w21 * x[rc + e1 + p] + w22 * x[rc + e2 + p];
                }
                for (let t1 = 0, rb = ra; t1 < 3; t1++, rb = t1 === 1 ? rbb : rc) {
                  for (let t2 = 0; t2 < 3; t2++) {
                    const wv = w[wt + t1 * 3 + t2], s = rb + off[t2], l = lo[t2], h = hi[t2];
                    for (let p = l; p < a3 && p < h; p++) acc[ob + p] += wv * x[s + p];
                    for (let p = Math.max(b3, l); p < h; p++) acc[ob + p] += wv * x[s + p];
                  }
                }
                continue;
              }
              for (let t1 = 0; t1 < K1; t1++) {
                const i1 = B[t1 * O1 + p1];
                if (i1 < 0) continue;
                const rb = xb + (i0 * S1 + i1) * S2, wt = wb + (t0 * K1 + t1) * K2;
                if (three) {
                  // all three taps where they all land, each tap alone at the edges
                  const w0 = w[wt],
                    w1 = w[wt + 1],
                    w2 = w[wt + 2],
                    x0 = rb + off[0],
                    x1 = rb + off[1],
                    x2 = rb + off[2];
                  for (let p = a3; p < b3; p++) acc[ob + p] += w0 * x[x0 + p] + w1 * x[x1 + p] + w2 * x[x2 + p];
                  for (let t2 = 0; t2 < 3; t2++) {
                    const wv = w[wt + t2], s = rb + off[t2], l = lo[t2], h = hi[t2];
                    for (let p = l; p < a3 && p < h; p++) acc[ob + p] += wv * x[s + p];
                    for (let p = Math.max(b3, l); p < h; p++) acc[ob + p] += wv * x[s + p];
                  }
                  continue;
                }
                for (let t2 = 0; t2 < K2; t2++) {
                  const wv = w[wt + t2], s = rb + off[t2], h = hi[t2];
                  if (s2 === 1) { for (let p = lo[t2]; p < h; p++) acc[ob + p] += wv * x[s + p]; }
                  else for (let p = lo[t2]; p < h; p++) acc[ob + p] += wv * x[s + p * s2];
                }
              }
            }
          }
        }
      }
      out.set(acc, (n * Cout + o) * Osz);
    }
  }
  return out;
}

/** dx[n, g·Cig + c] = Σ_o Σ_t w[o, c, t] · scatter(gy[n, o]), one input plane at a time. */
function gradInputDirect(q: Geo3, gy: Float32Array, w: Float32Array): Float32Array {
  const fast = depthwiseWasmApplies(q) ? depthwiseWasm("gradInput", q, gy, w) : null;
  if (fast) return fast;
  const { N, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const K0 = q.K[0], K1 = q.K[1], K2 = q.K[2], O0 = q.O[0], O1 = q.O[1], O2 = q.O[2];
  const S1 = q.S[1], S2 = q.S[2], s2 = q.stride[2];
  const { A, B, off, lo, hi } = taps(q);
  const dx = new Float32Array(N * Cin * Ssz);
  const acc = new Float64Array(Ssz);
  // the dx range [ax, bx) that all three taps reach (x coordinates i = p + off[t2])
  const unit3 = K2 === 3 && s2 === 1;
  const ax = unit3 ? Math.max(lo[0] + off[0], lo[1] + off[1], lo[2] + off[2]) : 0;
  const bx = unit3 ? Math.min(hi[0] + off[0], hi[1] + off[1], hi[2] + off[2]) : 0;
  const three = unit3 && ax < bx;
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / Cig), c = ci - g * Cig;
      acc.fill(0);
      for (let oo = 0; oo < Cog; oo++) {
        const o = g * Cog + oo, wb = (o * Cig + c) * Ksz;
        let gb = (n * Cout + o) * Osz;
        for (let p0 = 0; p0 < O0; p0++) {
          for (let p1 = 0; p1 < O1; p1++, gb += O2) {
            for (let t0 = 0; t0 < K0; t0++) {
              const i0 = A[t0 * O0 + p0];
              if (i0 < 0) continue;
              for (let t1 = 0; t1 < K1; t1++) {
                const i1 = B[t1 * O1 + p1];
                if (i1 < 0) continue;
                const rb = (i0 * S1 + i1) * S2, wt = wb + (t0 * K1 + t1) * K2;
                if (three) {
                  // gather form over the dx row (x coordinates i = p + off[t2])
                  const w0 = w[wt], w1 = w[wt + 1], w2 = w[wt + 2];
                  const g0 = gb - off[0], g1 = gb - off[1], g2 = gb - off[2];
                  for (let i = ax; i < bx; i++) acc[rb + i] += w0 * gy[g0 + i] + w1 * gy[g1 + i] + w2 * gy[g2 + i];
                  for (let t2 = 0; t2 < 3; t2++) {
                    const wv = w[wt + t2], o2 = off[t2], l = lo[t2] + o2, h = hi[t2] + o2, gt = gb - o2;
                    for (let i = l; i < ax && i < h; i++) acc[rb + i] += wv * gy[gt + i];
                    for (let i = Math.max(bx, l); i < h; i++) acc[rb + i] += wv * gy[gt + i];
                  }
                  continue;
                }
                for (let t2 = 0; t2 < K2; t2++) {
                  const wv = w[wt + t2], s = rb + off[t2], h = hi[t2];
                  if (s2 === 1) { for (let p = lo[t2]; p < h; p++) acc[s + p] += wv * gy[gb + p]; }
                  else for (let p = lo[t2]; p < h; p++) acc[s + p * s2] += wv * gy[gb + p];
                }
              }
            }
          }
        }
      }
      dx.set(acc, (n * Cin + ci) * Ssz);
    }
  }
  return dx;
}

/** dw[o, c, t] = Σ_n Σ_p gy[n, o, p] · x[n, g·Cig + c, idx(t, p)]. */
function gradWeightDirect(q: Geo3, x: Float32Array, gy: Float32Array): Float32Array {
  const fast = depthwiseWasmApplies(q) ? depthwiseWasm("gradWeight", q, x, gy) : null;
  if (fast) return fast;
  const { N, Cin, Cout, Cig, Cog, Ssz, Ksz, Osz } = q;
  const K0 = q.K[0], K1 = q.K[1], K2 = q.K[2], O0 = q.O[0], O1 = q.O[1], O2 = q.O[2];
  const S1 = q.S[1], S2 = q.S[2], s2 = q.stride[2];
  const { A, B, off, lo, hi } = taps(q);
  const dw = new Float32Array(Cout * Cig * Ksz);
  const acc = new Float64Array(Ksz);
  const { three, a3, b3 } = fuse3(q, lo, hi);
  for (let o = 0; o < Cout; o++) {
    const g = Math.floor(o / Cog);
    for (let c = 0; c < Cig; c++) {
      acc.fill(0);
      for (let n = 0; n < N; n++) {
        const xb = (n * Cin + g * Cig + c) * Ssz;
        let t = 0;
        for (let t0 = 0; t0 < K0; t0++) {
          for (let t1 = 0; t1 < K1; t1++) {
            if (three) {
              // the three taps of a row in one pass over gy (edges per tap)
              let s0 = 0, s1 = 0, s2_ = 0, gb = (n * Cout + o) * Osz;
              for (let p0 = 0; p0 < O0; p0++) {
                const i0 = A[t0 * O0 + p0];
                if (i0 < 0) {
                  gb += O1 * O2;
                  continue;
                }
                for (let p1 = 0; p1 < O1; p1++, gb += O2) {
                  const i1 = B[t1 * O1 + p1];
                  if (i1 < 0) continue;
                  const rb = xb + (i0 * S1 + i1) * S2, x0 = rb + off[0], x1 = rb + off[1], x2 = rb + off[2];
                  for (let p = a3; p < b3; p++) {
                    const gv = gy[gb + p];
                    s0 += gv * x[x0 + p];
                    s1 += gv * x[x1 + p];
                    s2_ += gv * x[x2 + p];
                  }
                  for (let p = lo[0]; p < a3 && p < hi[0]; p++) s0 += gy[gb + p] * x[x0 + p];
                  for (let p = Math.max(b3, lo[0]); p < hi[0]; p++) s0 += gy[gb + p] * x[x0 + p];
                  for (let p = lo[1]; p < a3 && p < hi[1]; p++) s1 += gy[gb + p] * x[x1 + p];
                  for (let p = Math.max(b3, lo[1]); p < hi[1]; p++) s1 += gy[gb + p] * x[x1 + p];
                  for (let p = lo[2]; p < a3 && p < hi[2]; p++) s2_ += gy[gb + p] * x[x2 + p];
                  for (let p = Math.max(b3, lo[2]); p < hi[2]; p++) s2_ += gy[gb + p] * x[x2 + p];
                }
              }
              acc[t] += s0;
              acc[t + 1] += s1;
              acc[t + 2] += s2_;
              t += 3;
              continue;
            }
            for (let t2 = 0; t2 < K2; t2++, t++) {
              const l = lo[t2], h = hi[t2], o2 = off[t2];
              let s = 0;
              let gb = (n * Cout + o) * Osz;
              for (let p0 = 0; p0 < O0; p0++) {
                const i0 = A[t0 * O0 + p0];
                if (i0 < 0) {
                  gb += O1 * O2;
                  continue;
                }
                for (let p1 = 0; p1 < O1; p1++, gb += O2) {
                  const i1 = B[t1 * O1 + p1];
                  if (i1 < 0) continue;
                  const rb = xb + (i0 * S1 + i1) * S2 + o2;
                  if (s2 === 1) { for (let p = l; p < h; p++) s += gy[gb + p] * x[rb + p]; }
                  else for (let p = l; p < h; p++) s += gy[gb + p] * x[rb + p * s2];
                }
              }
              acc[t] += s;
            }
          }
        }
      }
      dw.set(acc, (o * Cig + c) * Ksz);
    }
  }
  return dw;
}

// ---------------------------------------------------------------- registration

/**
 * "gemm", "direct" (the depthwise kernels), "winograd" (forced, forward) or
 * null (the JS reference kernels: forced "direct", float64). The gradients of
 * a forced Winograd convolution choose as "auto" does.
 */
function path(node: Node, inputs: TypedArray[], q: Geo3): "gemm" | "direct" | "winograd" | null {
  let a = (node.params as ConvGeometry).algorithm;
  if (node.dtype !== "float32" || !inputs.every((b) => b instanceof Float32Array)) return null;
  if (a === "winograd") {
    if (node.op === "conv") return winogradApplies(q) ? "winograd" : null;
    a = "auto";
  }
  if (a !== "auto" && a !== "im2col") return null;
  if (a !== "auto" || q.Cig !== 1) return "gemm";
  if (depthwiseWasmApplies(q)) return q.Cog <= tuning.depthwiseWasmMaxCog ? "direct" : "gemm";
  return q.G > 1 && q.Cog <= tuning.depthwiseMaxCog ? "direct" : "gemm";
}

/**
 * `n` an unrealized float32 convolution, or one plus a bias broadcast over its
 * channels (`add(conv, expand(bias [C] as [C, 1, ...]))`, either order; with
 * `relu`, n may also be the convolution itself): the convolution and the
 * bias's [C] node; else null.
 */
function convEpilogue(n: Node, relu: boolean): { conv: Node; bias: Node | null } | null {
  const isConv = (c: Node) => c.op === "conv" && !c.buffer && c.dtype === "float32";
  if (relu && isConv(n)) return { conv: n, bias: null };
  if (n.op !== "binary" || (n as Node<"binary">).params.op !== "add" || n.buffer) return null;
  for (const [conv, e] of [n.inputs, [...n.inputs].reverse()]) {
    if (!isConv(conv) || e.op !== "expand" || e.buffer || e.shape.join() !== conv.shape.join()) continue;
    const b = e.inputs[0], C = conv.shape[1], off = conv.shape.length - b.shape.length;
    if (b.dtype === "float32" && b.size === C && off <= 1 && b.shape.every((d, k) => d === (k + off === 1 ? C : 1))) {
      return { conv, bias: b };
    }
  }
  return null;
}

/**
 * The convolution `node` (its inputs' buffers `inputs`) with `epi` applied
 * where its kernel writes the output: per plane in the depthwise and Winograd
 * kernels, per row before the GEMM copies it out; null on the JS reference's
 * paths and empty problems (the schedule then runs the composition).
 */
function forwardWithEpilogue(node: Node, inputs: TypedArray[], epi: Epilogue): Float32Array | null {
  const [N, Cin] = node.inputs[0].shape, Cout = node.shape[1];
  const q = geo3(node.params as ConvGeometry, N, Cin, Cout);
  const p = path(node, inputs, q);
  if (!p || q.Cig * q.Ksz === 0 || N * Cout * q.Osz === 0) return null;
  const [x, w] = inputs as Float32Array[], e: OutputEpilogue = { ...epi, plane: q.Osz, channels: Cout };
  if (p === "direct") return depthwiseWasmApplies(q) ? depthwiseWasm("forward", q, x, w, e) : null;
  if (p === "gemm") return forwardGemm(q, x, w, autoOf(node), e);
  const out = new Float32Array(N * Cout * q.Osz);
  return winogradForward(q, x, w, out, false, e) ? out : null;
}

if (GEMM_AVAILABLE) {
  registerKernel("wasm", "conv", (node, inputs) => {
    const [N, Cin] = node.inputs[0].shape, Cout = node.shape[1];
    const q = geo3(node.params as ConvGeometry, N, Cin, Cout);
    const p = path(node, inputs, q);
    if (!p) return reference(node, inputs);
    const [x, w] = inputs as Float32Array[];
    if (p === "winograd") {
      const out = new Float32Array(N * Cout * q.Osz);
      return winogradForward(q, x, w, out) ? out : reference(node, inputs);
    }
    return p === "direct" ? forwardDirect(q, x, w) : forwardGemm(q, x, w, autoOf(node));
  });

  registerPattern((node, uses, input) => {
    if (getBackend() !== "wasm" || node.dtype !== "float32") return null;
    const pre = reluInput(node), e = convEpilogue(pre ?? node, pre !== null);
    if (!e || uses(e.conv) !== 1 || (pre && pre !== e.conv && uses(pre) !== 1)) return null;
    const inputs = e.conv.inputs.map(input), bias = e.bias && input(e.bias);
    if (bias && !(bias instanceof Float32Array)) return null;
    const out = forwardWithEpilogue(e.conv, inputs, { bias, relu: pre !== null });
    return out &&
      { buffer: out, name: `conv with its ${[bias && "bias", pre && "relu"].filter(Boolean).join(" and ")}` };
  });

  registerKernel("wasm", "convGradInput", (node, inputs) => {
    const [N, Cin] = node.shape, Cout = node.inputs[0].shape[1];
    const q = geo3(node.params as ConvGeometry, N, Cin, Cout);
    const p = path(node, inputs, q);
    if (!p) return reference(node, inputs);
    const [gy, w] = inputs as Float32Array[];
    return p === "direct" ? gradInputDirect(q, gy, w) : gradInputGemm(q, gy, w, autoOf(node));
  });

  registerKernel("wasm", "convGradWeight", (node, inputs) => {
    const [N, Cin] = node.inputs[0].shape, Cout = node.shape[0];
    const q = geo3(node.params as ConvGeometry, N, Cin, Cout);
    const p = path(node, inputs, q);
    if (!p) return reference(node, inputs);
    const [x, gy] = inputs as Float32Array[];
    return p === "direct" ? gradWeightDirect(q, x, gy) : gradWeightGemm(q, x, gy, autoOf(node));
  });
}
