// Plain-JS kernels for the convolution primitives `conv`, `convGradInput` and
// `convGradWeight`. Every spatial rank (1–3) is lifted to 3-D with size-1
// axes. Algorithms: "direct" (reference loops), "im2col" (im2col + blocked
// GEMM), "winograd" (F(2x2,3x3), 2-D 3x3 stride 1 dilation 1 forward only; a
// forced "winograd" elsewhere runs im2col here — the wasm kernels also do dilated);
// "auto" picks among them. Accumulation is in float64.
import { allocate, type TypedArray } from "./_dtype.ts";
import type { ConvGeometry, Node } from "./_graph.ts";
import { registerKernel } from "./_backend.ts";

export interface Geo3 {
  N: number;
  Cin: number;
  Cout: number;
  G: number;
  Cig: number;
  Cog: number;
  S: number[];
  K: number[];
  O: number[];
  stride: number[];
  dil: number[];
  pad: number[];
  Ssz: number;
  Ksz: number;
  Osz: number;
}

function lift3(a: number[], fillv: number): number[] {
  return [...Array(3 - a.length).fill(fillv), ...a];
}

export function geo3(g: ConvGeometry, N: number, Cin: number, Cout: number): Geo3 {
  const S = lift3(g.inSize, 1), K = lift3(g.kernel, 1), O = lift3(g.outSize, 1);
  return {
    N,
    Cin,
    Cout,
    G: g.groups,
    Cig: Cin / g.groups,
    Cog: Cout / g.groups,
    S,
    K,
    O,
    stride: lift3(g.stride, 1),
    dil: lift3(g.dilation, 1),
    pad: lift3(g.padBefore, 0),
    Ssz: S[0] * S[1] * S[2],
    Ksz: K[0] * K[1] * K[2],
    Osz: O[0] * O[1] * O[2],
  };
}

/**
 * Per-axis taps of a convolution (the wasm im2col/col2im tables): for the
 * outer axes 0 and 1, `A[t*O + p]` / `B[t*O + p]` is the input index of tap t
 * at output p, or -1 in the padding; for the innermost axis the input index
 * is `p*stride + off[t]`, valid for lo[t] <= p < hi[t].
 */
export interface Taps {
  A: Int32Array;
  B: Int32Array;
  off: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
}

/**
 * At unit strides, dx = conv(gy, w′) with w′[g][ci, co, t] = w[g][co, ci, Ksz-1-t]
 * (every kernel axis flipped) and padding (K - 1)·d - pad on each side; null
 * when the strides are not all 1.
 */
export function transposedGeo(q: Geo3): Geo3 | null {
  if (q.stride.some((s) => s !== 1)) return null;
  return {
    ...q,
    Cin: q.Cout,
    Cout: q.Cin,
    Cig: q.Cog,
    Cog: q.Cig,
    S: q.O,
    O: q.S,
    pad: q.pad.map((p, a) => (q.K[a] - 1) * q.dil[a] - p),
    Ssz: q.Osz,
    Osz: q.Ssz,
  };
}

/** The kernel of {@linkcode transposedGeo}: w′[g][ci, co, t] = w[g][co, ci, Ksz-1-t]. */
export function flippedWeights(q: Geo3, w: Float32Array): Float32Array {
  const { G, Cig, Cog, Ksz } = q, wt = new Float32Array(w.length);
  for (let g = 0; g < G; g++) {
    for (let co = 0; co < Cog; co++) {
      for (let ci = 0; ci < Cig; ci++) {
        const s = ((g * Cog + co) * Cig + ci) * Ksz, d = ((g * Cig + ci) * Cog + co) * Ksz + Ksz - 1;
        for (let t = 0; t < Ksz; t++) wt[d - t] = w[s + t];
      }
    }
  }
  return wt;
}

/**
 * For every (kernel tap t, output position p) the flat input index, or -1
 * where the tap falls in the padding (outside [0, S) on some axis).
 * Layout: idx[t * Osz + p].
 */
function tapTable(q: Geo3): Int32Array {
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
  const A = axis(0), B = axis(1), C = axis(2);
  const out = new Int32Array(q.Ksz * q.Osz);
  let k = 0;
  for (let t0 = 0; t0 < K[0]; t0++) {
    for (let t1 = 0; t1 < K[1]; t1++) {
      for (let t2 = 0; t2 < K[2]; t2++) {
        for (let p0 = 0; p0 < O[0]; p0++) {
          const i0 = A[t0 * O[0] + p0];
          for (let p1 = 0; p1 < O[1]; p1++) {
            const i1 = B[t1 * O[1] + p1];
            for (let p2 = 0; p2 < O[2]; p2++) {
              const i2 = C[t2 * O[2] + p2];
              out[k++] = i0 < 0 || i1 < 0 || i2 < 0 ? -1 : (i0 * S[1] + i1) * S[2] + i2;
            }
          }
        }
      }
    }
  }
  return out;
}

function finish(dtype: Node["dtype"], acc: Float64Array): TypedArray {
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}

// ---------------------------------------------------------------- direct

function directForward(q: Geo3, x: TypedArray, w: TypedArray, idx: Int32Array): Float64Array {
  const { N, Cig, Cog, G, Ssz, Ksz, Osz } = q;
  const out = new Float64Array(N * q.Cout * Osz);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < q.Cout; o++) {
      const g = Math.floor(o / Cog), ob = (n * q.Cout + o) * Osz;
      for (let c = 0; c < Cig; c++) {
        const xb = (n * q.Cin + g * Cig + c) * Ssz, wb = (o * Cig + c) * Ksz;
        for (let t = 0; t < Ksz; t++) {
          const wv = w[wb + t], tb = t * Osz;
          for (let p = 0; p < Osz; p++) {
            const i = idx[tb + p];
            if (i >= 0) out[ob + p] += wv * x[xb + i];
          }
        }
      }
    }
  }
  void G;
  return out;
}

function directGradInput(q: Geo3, gy: TypedArray, w: TypedArray, idx: Int32Array): Float64Array {
  const { N, Cig, Cog, Ssz, Ksz, Osz } = q;
  const dx = new Float64Array(N * q.Cin * Ssz);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < q.Cout; o++) {
      const g = Math.floor(o / Cog), ob = (n * q.Cout + o) * Osz;
      for (let c = 0; c < Cig; c++) {
        const xb = (n * q.Cin + g * Cig + c) * Ssz, wb = (o * Cig + c) * Ksz;
        for (let t = 0; t < Ksz; t++) {
          const wv = w[wb + t], tb = t * Osz;
          for (let p = 0; p < Osz; p++) {
            const i = idx[tb + p];
            if (i >= 0) dx[xb + i] += wv * gy[ob + p];
          }
        }
      }
    }
  }
  return dx;
}

function directGradWeight(q: Geo3, x: TypedArray, gy: TypedArray, idx: Int32Array): Float64Array {
  const { N, Cig, Cog, Ssz, Ksz, Osz } = q;
  const dw = new Float64Array(q.Cout * Cig * Ksz);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < q.Cout; o++) {
      const g = Math.floor(o / Cog), ob = (n * q.Cout + o) * Osz;
      for (let c = 0; c < Cig; c++) {
        const xb = (n * q.Cin + g * Cig + c) * Ssz, wb = (o * Cig + c) * Ksz;
        for (let t = 0; t < Ksz; t++) {
          const tb = t * Osz;
          let s = 0;
          for (let p = 0; p < Osz; p++) {
            const i = idx[tb + p];
            if (i >= 0) s += gy[ob + p] * x[xb + i];
          }
          dw[wb + t] += s;
        }
      }
    }
  }
  return dw;
}

// ---------------------------------------------------------------- im2col + GEMM

const BK = 64, BN = 512;

/**
 * C[M,N] += A[M,K] · B[K,N] (row-major, offsets given), blocked over K and N,
 * four rows of C at a time so each B element loaded feeds four products.
 */
function gemm(
  M: number,
  N: number,
  K: number,
  A: ArrayLike<number>,
  ao: number,
  B: ArrayLike<number>,
  bo: number,
  C: Float64Array,
  co: number,
): void {
  for (let j0 = 0; j0 < N; j0 += BN) {
    const j1 = Math.min(N, j0 + BN);
    for (let k0 = 0; k0 < K; k0 += BK) {
      const k1 = Math.min(K, k0 + BK);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const c0 = co + i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
        const r0 = ao + i * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
        for (let k = k0; k < k1; k++) {
          const a0 = A[r0 + k], a1 = A[r1 + k], a2 = A[r2 + k], a3 = A[r3 + k];
          const brow = bo + k * N;
          for (let j = j0; j < j1; j++) {
            const bv = B[brow + j];
            C[c0 + j] += a0 * bv;
            C[c1 + j] += a1 * bv;
            C[c2 + j] += a2 * bv;
            C[c3 + j] += a3 * bv;
          }
        }
      }
      for (; i < M; i++) {
        const crow = co + i * N, arow = ao + i * K;
        for (let k = k0; k < k1; k++) {
          const av = A[arow + k];
          if (av === 0) continue;
          const brow = bo + k * N;
          for (let j = j0; j < j1; j++) C[crow + j] += av * B[brow + j];
        }
      }
    }
  }
}

/** C[M,N] += A[M,K] · B[N,K]ᵀ (dot products of rows, four B rows at a time). */
function gemmNT(
  M: number,
  N: number,
  K: number,
  A: ArrayLike<number>,
  ao: number,
  B: ArrayLike<number>,
  bo: number,
  C: Float64Array,
  co: number,
): void {
  for (let i = 0; i < M; i++) {
    const arow = ao + i * K, crow = co + i * N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = bo + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const a = A[arow + k];
        s0 += a * B[b0 + k];
        s1 += a * B[b1 + k];
        s2 += a * B[b2 + k];
        s3 += a * B[b3 + k];
      }
      C[crow + j] += s0;
      C[crow + j + 1] += s1;
      C[crow + j + 2] += s2;
      C[crow + j + 3] += s3;
    }
    for (; j < N; j++) {
      const brow = bo + j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[arow + k] * B[brow + k];
      C[crow + j] += s;
    }
  }
}

/** col[(c*Ksz + t), p] = x[n, g*Cig + c, idx[t,p]] (0 in the padding). */
function im2col(q: Geo3, x: TypedArray, n: number, g: number, idx: Int32Array, col: Float64Array): void {
  const { Cig, Ssz, Ksz, Osz } = q;
  for (let c = 0; c < Cig; c++) {
    const xb = (n * q.Cin + g * Cig + c) * Ssz;
    for (let t = 0; t < Ksz; t++) {
      const cb = (c * Ksz + t) * Osz, tb = t * Osz;
      for (let p = 0; p < Osz; p++) {
        const i = idx[tb + p];
        col[cb + p] = i >= 0 ? x[xb + i] : 0;
      }
    }
  }
}

function im2colForward(q: Geo3, x: TypedArray, w: TypedArray, idx: Int32Array): Float64Array {
  const { N, G, Cig, Cog, Ksz, Osz } = q;
  const out = new Float64Array(N * q.Cout * Osz);
  const col = new Float64Array(Cig * Ksz * Osz);
  const R = Cig * Ksz;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      im2col(q, x, n, g, idx, col);
      gemm(Cog, Osz, R, w, g * Cog * R, col, 0, out, (n * q.Cout + g * Cog) * Osz);
    }
  }
  return out;
}

function im2colGradInput(q: Geo3, gy: TypedArray, w: TypedArray, idx: Int32Array): Float64Array {
  const { N, G, Cig, Cog, Ssz, Ksz, Osz } = q;
  const dx = new Float64Array(N * q.Cin * Ssz);
  const R = Cig * Ksz;
  const col = new Float64Array(R * Osz);
  // Wᵀ per group: wt[g][r, o] = w[g*Cog + o, r]
  const wt = new Float64Array(G * R * Cog);
  for (let g = 0; g < G; g++) {
    for (let o = 0; o < Cog; o++) {
      for (let r = 0; r < R; r++) wt[(g * R + r) * Cog + o] = w[(g * Cog + o) * R + r];
    }
  }
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      col.fill(0);
      // col[R, O] = W_gᵀ[R, Cog] · gy[Cog, O]
      gemm(R, Osz, Cog, wt, g * R * Cog, gy, (n * q.Cout + g * Cog) * Osz, col, 0);
      for (let c = 0; c < Cig; c++) {
        const xb = (n * q.Cin + g * Cig + c) * Ssz;
        for (let t = 0; t < Ksz; t++) {
          const cb = (c * Ksz + t) * Osz, tb = t * Osz;
          for (let p = 0; p < Osz; p++) {
            const i = idx[tb + p];
            if (i >= 0) dx[xb + i] += col[cb + p];
          }
        }
      }
    }
  }
  return dx;
}

function im2colGradWeight(q: Geo3, x: TypedArray, gy: TypedArray, idx: Int32Array): Float64Array {
  const { N, G, Cig, Cog, Ksz, Osz } = q;
  const R = Cig * Ksz;
  const dw = new Float64Array(q.Cout * R);
  const col = new Float64Array(R * Osz);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      im2col(q, x, n, g, idx, col);
      // dW_g[Cog, R] += gy[Cog, O] · colᵀ
      gemmNT(Cog, R, Osz, gy, (n * q.Cout + g * Cog) * Osz, col, 0, dw, g * Cog * R);
    }
  }
  return dw;
}

// ---------------------------------------------------------------- Winograd F(2x2, 3x3)

function winogradValid(q: Geo3): boolean {
  return q.S[0] === 1 && q.K[0] === 1 && q.O[0] === 1 && q.K[1] === 3 && q.K[2] === 3 &&
    q.stride[1] === 1 && q.stride[2] === 1 && q.dil[1] === 1 && q.dil[2] === 1;
}

function winogradForward(q: Geo3, x: TypedArray, w: TypedArray): Float64Array {
  const { N, G, Cig, Cog, Cin, Cout } = q;
  const H = q.S[1], W = q.S[2], OH = q.O[1], OW = q.O[2], ph = q.pad[1], pw = q.pad[2];
  const Osz = OH * OW, Ssz = H * W;
  // U[o, c, 16] = G g Gᵀ
  const U = new Float64Array(Cout * Cig * 16);
  for (let oc = 0; oc < Cout * Cig; oc++) {
    const g = oc * 9;
    const t = new Float64Array(12); // G g : 4x3
    for (let j = 0; j < 3; j++) {
      const g0 = w[g + j], g1 = w[g + 3 + j], g2 = w[g + 6 + j];
      t[j] = g0;
      t[3 + j] = 0.5 * (g0 + g1 + g2);
      t[6 + j] = 0.5 * (g0 - g1 + g2);
      t[9 + j] = g2;
    }
    const u = oc * 16;
    for (let i = 0; i < 4; i++) {
      const a0 = t[i * 3], a1 = t[i * 3 + 1], a2 = t[i * 3 + 2];
      U[u + i * 4] = a0;
      U[u + i * 4 + 1] = 0.5 * (a0 + a1 + a2);
      U[u + i * 4 + 2] = 0.5 * (a0 - a1 + a2);
      U[u + i * 4 + 3] = a2;
    }
  }
  const out = new Float64Array(N * Cout * Osz);
  const TH = Math.ceil(OH / 2), TW = Math.ceil(OW / 2);
  const V = new Float64Array(Cig * 16);
  const d = new Float64Array(16), tmp = new Float64Array(16), m = new Float64Array(16);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      for (let th = 0; th < TH; th++) {
        for (let tw = 0; tw < TW; tw++) {
          const y0 = th * 2 - ph, x0 = tw * 2 - pw;
          // V[c] = Bᵀ d B
          for (let c = 0; c < Cig; c++) {
            const xb = (n * Cin + g * Cig + c) * Ssz;
            for (let i = 0; i < 4; i++) {
              const yy = y0 + i;
              for (let j = 0; j < 4; j++) {
                const xx = x0 + j;
                d[i * 4 + j] = yy >= 0 && yy < H && xx >= 0 && xx < W ? x[xb + yy * W + xx] : 0;
              }
            }
            for (let j = 0; j < 4; j++) {
              const d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
              tmp[j] = d0 - d2;
              tmp[4 + j] = d1 + d2;
              tmp[8 + j] = d2 - d1;
              tmp[12 + j] = d1 - d3;
            }
            const vb = c * 16;
            for (let i = 0; i < 4; i++) {
              const a0 = tmp[i * 4], a1 = tmp[i * 4 + 1], a2 = tmp[i * 4 + 2], a3 = tmp[i * 4 + 3];
              V[vb + i * 4] = a0 - a2;
              V[vb + i * 4 + 1] = a1 + a2;
              V[vb + i * 4 + 2] = a2 - a1;
              V[vb + i * 4 + 3] = a1 - a3;
            }
          }
          for (let oo = 0; oo < Cog; oo++) {
            const o = g * Cog + oo;
            m.fill(0);
            const ub = o * Cig * 16;
            for (let c = 0; c < Cig; c++) {
              const u = ub + c * 16, vb = c * 16;
              for (let e = 0; e < 16; e++) m[e] += U[u + e] * V[vb + e];
            }
            // Y = Aᵀ m A, Aᵀ = [[1,1,1,0],[0,1,-1,-1]]
            const r0 = [m[0] + m[4] + m[8], m[1] + m[5] + m[9], m[2] + m[6] + m[10], m[3] + m[7] + m[11]];
            const r1 = [m[4] - m[8] - m[12], m[5] - m[9] - m[13], m[6] - m[10] - m[14], m[7] - m[11] - m[15]];
            const y00 = r0[0] + r0[1] + r0[2], y01 = r0[1] - r0[2] - r0[3];
            const y10 = r1[0] + r1[1] + r1[2], y11 = r1[1] - r1[2] - r1[3];
            const ob = (n * Cout + o) * Osz, oy = th * 2, ox = tw * 2;
            out[ob + oy * OW + ox] = y00;
            if (ox + 1 < OW) out[ob + oy * OW + ox + 1] = y01;
            if (oy + 1 < OH) {
              out[ob + (oy + 1) * OW + ox] = y10;
              if (ox + 1 < OW) out[ob + (oy + 1) * OW + ox + 1] = y11;
            }
          }
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- registration

function algo(geom: ConvGeometry, q: Geo3, forward: boolean): "direct" | "im2col" | "winograd" {
  const a = geom.algorithm;
  // Winograd is a forward 3x3 algorithm. The public ops reject invalid forced
  // uses eagerly; here (gradient primitives sharing the geometry through the
  // VJP rules, or geometries derived from a forced op) fall back to im2col.
  if (a === "winograd") return forward && winogradValid(q) ? "winograd" : "im2col";
  if (a === "direct" || a === "im2col") return a;
  if (forward && winogradValid(q) && q.Cig * q.Cog >= 64 && q.Osz >= 16) return "winograd";
  // depthwise-like (one input and one output channel per group): no GEMM to win
  if (q.Cig === 1 && q.Cog === 1) return "direct";
  return "im2col";
}

registerKernel("js", "conv", (node, [x, w]) => {
  const geom = (node as Node<"conv">).params;
  const [N, Cin] = node.inputs[0].shape, Cout = node.shape[1];
  const q = geo3(geom, N, Cin, Cout);
  const a = algo(geom, q, true);
  if (a === "winograd") return finish(node.dtype, winogradForward(q, x, w));
  const idx = tapTable(q);
  return finish(node.dtype, a === "direct" ? directForward(q, x, w, idx) : im2colForward(q, x, w, idx));
});

registerKernel("js", "convGradInput", (node, [gy, w]) => {
  const geom = (node as Node<"convGradInput">).params;
  const [N, Cin] = node.shape, Cout = node.inputs[0].shape[1];
  const q = geo3(geom, N, Cin, Cout);
  const a = algo(geom, q, false);
  const idx = tapTable(q);
  return finish(node.dtype, a === "direct" ? directGradInput(q, gy, w, idx) : im2colGradInput(q, gy, w, idx));
});

registerKernel("js", "convGradWeight", (node, [x, gy]) => {
  const geom = (node as Node<"convGradWeight">).params;
  const [N, Cin] = node.inputs[0].shape, Cout = node.shape[0];
  const q = geo3(geom, N, Cin, Cout);
  const a = algo(geom, q, false);
  const idx = tapTable(q);
  return finish(node.dtype, a === "direct" ? directGradWeight(q, x, gy, idx) : im2colGradWeight(q, x, gy, idx));
});
