// Depthwise convolutions (one input channel per group, `Cog` outputs each) in
// WebAssembly SIMD for float32 1-D/2-D data: the forward pass, the input
// gradient and the weight gradient, each as plane kernels over a zero-padded
// copy of one input plane (f32x4 across output columns at unit column
// stride), split across the worker pool by planes (forward, input gradient)
// or channels (weight gradient). Every output is computed by one thread in a
// fixed order, so results do not depend on the thread count.
//
// The input gradient at unit strides is the forward kernel on the padded
// output gradient with the flipped taps; at other strides it scatters each
// output cell's taps into a padded plane, then crops it.
import { flippedWeights, type Geo3, transposedGeo } from "./_conv_kernels.ts";
import { runThenCopyOut, sharesOf } from "./_pool_threads.ts";
import { F32, FuncBuilder, HAS_RELAXED_SIMD, HAS_SIMD, I32, ModuleBuilder, Op, Simd, V128 } from "./_wasm.ts";
import { getNumThreads, HEAP_MODULES, heapModulePool, onShutdownThreads } from "./_wasm_gemm.ts";
import { growWasmHeap, importHeap, outputSlot, placeInHeap, wasmHeap } from "./_wasm_heap.ts";
import { type Epilogue, EPILOGUE_WORK, epilogueFunction, epilogueParams } from "./_wasm_epilogue.ts";

/** A module's fixed geometry: kernel size, dilations and the padded row length. */
interface Fixed {
  KH: number;
  KW: number;
  d1: number;
  d2: number;
  Wp: number;
}

/** Byte offset of tap t in a padded plane. */
const tapOffset = (g: Fixed, t: number): number => (Math.floor(t / g.KW) * g.d1 * g.Wp + (t % g.KW) * g.d2) * 4;

/** acc = a·b + acc (f32x4; fused where relaxed SIMD fuses), with `a`, `b` pushed by the callbacks. */
function madd(f: FuncBuilder, acc: number, a: () => void, b: () => void): void {
  if (HAS_RELAXED_SIMD) {
    a();
    b();
    f.get(acc).simd(Simd.f32x4_relaxed_madd).set(acc);
  } else {
    f.get(acc);
    a();
    b();
    f.simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc);
  }
}

/**
 * `conv(xp, w, s1, s2, out, O1, O2, acc)`: out[oy·O2 + ox] (+= when acc)
 * Σ_t w[t]·xp[oy·s1·Wp + ox·s2 + offset(t)], taps in order, for the fixed
 * geometry `g` (taps unrolled with constant offsets, weights splatted once).
 */
function convFunction(g: Fixed): FuncBuilder {
  const f = new FuncBuilder(new Array(8).fill(I32), []);
  const [xp, w, s1, s2, out, O1, O2, acc] = f.params.map((_, i) => i);
  const oy = f.local(I32), ox = f.local(I32), rowIn = f.local(I32), rowOut = f.local(I32), r = f.local(I32);
  const a0 = f.local(V128), a1 = f.local(V128), s = f.local(F32);
  const KT = g.KH * g.KW, wv = Array.from({ length: KT }, () => f.local(V128));
  const ws = Array.from({ length: KT }, () => f.local(F32));
  for (let t = 0; t < KT; t++) {
    f.get(w).simdMem(Simd.v128_load32_splat, 2, 4 * t).set(wv[t]);
    f.get(w).mem(Op.f32_load, 2, 4 * t).set(ws[t]);
  }
  const init = (a: number, byteOff: number) => {
    f.get(acc).if_(V128);
    f.get(rowOut).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load, 2, byteOff);
    f.else_();
    f.v128();
    f.end().set(a);
  };
  const store = (a: number, byteOff: number) =>
    f.get(rowOut).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).get(a).simdMem(Simd.v128_store, 2, byteOff);
  f.forRange(oy, () => f.i32(0), () => f.get(O1), 1, () => {
    f.get(oy).get(s1).op(Op.i32_mul).i32(g.Wp * 4).op(Op.i32_mul).get(xp).op(Op.i32_add).set(rowIn);
    f.get(oy).get(O2).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(out).op(Op.i32_add).set(rowOut);
    f.i32(0).set(ox);
    f.get(s2).i32(1).op(Op.i32_eq).if_();
    // eight, then four output columns per step at unit column stride
    for (const width of [8, 4]) {
      f.forRange(ox, () => f.get(ox), () => f.get(O2).i32(width - 1).op(Op.i32_sub), width, () => {
        f.get(rowIn).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).set(r);
        init(a0, 0);
        if (width === 8) init(a1, 16);
        for (let t = 0; t < KT; t++) {
          const o = tapOffset(g, t);
          madd(f, a0, () => f.get(wv[t]), () => f.get(r).simdMem(Simd.v128_load, 2, o));
          if (width === 8) madd(f, a1, () => f.get(wv[t]), () => f.get(r).simdMem(Simd.v128_load, 2, o + 16));
        }
        store(a0, 0);
        if (width === 8) store(a1, 16);
      });
    }
    f.end();
    // the remaining columns one at a time
    f.forRange(ox, () => f.get(ox), () => f.get(O2), 1, () => {
      f.get(ox).get(s2).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(rowIn).op(Op.i32_add).set(r);
      f.get(acc).if_(F32);
      f.get(rowOut).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.f32_load, 2);
      f.else_().f32(0).end();
      for (let t = 0; t < KT; t++) {
        f.get(ws[t]).get(r).mem(Op.f32_load, 2, tapOffset(g, t)).op(Op.f32_mul).op(Op.f32_add);
      }
      f.set(s);
      f.get(rowOut).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).get(s).mem(Op.f32_store, 2);
    });
  });
  return f;
}

/**
 * `wgrad(xp, gy, s1, s2, O1, O2, dw)`: dw[t] += Σ_{oy,ox} gy[oy·O2 + ox]·
 * xp[oy·s1·Wp + ox·s2 + offset(t)] for every tap t at once (one accumulator of
 * four lanes per tap, added in lane order at the end), for the fixed geometry.
 */
function wgradFunction(g: Fixed): FuncBuilder {
  const f = new FuncBuilder(new Array(7).fill(I32), []);
  const [xp, gy, s1, s2, O1, O2, dw] = f.params.map((_, i) => i);
  const oy = f.local(I32), ox = f.local(I32), rx = f.local(I32), rg = f.local(I32), p = f.local(I32);
  const gv = f.local(V128), gs = f.local(F32);
  const KT = g.KH * g.KW, acc = Array.from({ length: KT }, () => f.local(V128));
  const sacc = Array.from({ length: KT }, () => f.local(F32));
  f.forRange(oy, () => f.i32(0), () => f.get(O1), 1, () => {
    f.get(oy).get(s1).op(Op.i32_mul).i32(g.Wp * 4).op(Op.i32_mul).get(xp).op(Op.i32_add).set(rx);
    f.get(oy).get(O2).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(gy).op(Op.i32_add).set(rg);
    f.i32(0).set(ox);
    f.get(s2).i32(1).op(Op.i32_eq).if_();
    f.forRange(ox, () => f.i32(0), () => f.get(O2).i32(3).op(Op.i32_sub), 4, () => {
      f.get(rg).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load, 2).set(gv);
      f.get(rx).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).set(p);
      for (let t = 0; t < KT; t++) {
        madd(f, acc[t], () => f.get(gv), () => f.get(p).simdMem(Simd.v128_load, 2, tapOffset(g, t)));
      }
    });
    f.end();
    f.forRange(ox, () => f.get(ox), () => f.get(O2), 1, () => {
      f.get(rg).get(ox).i32(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.f32_load, 2).set(gs);
      f.get(ox).get(s2).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(rx).op(Op.i32_add).set(p);
      for (let t = 0; t < KT; t++) {
        f.get(sacc[t]).get(gs).get(p).mem(Op.f32_load, 2, tapOffset(g, t)).op(Op.f32_mul).op(Op.f32_add).set(sacc[t]);
      }
    });
  });
  for (let t = 0; t < KT; t++) {
    f.get(dw).get(dw).mem(Op.f32_load, 2, 4 * t);
    for (let l = 0; l < 4; l++) f.get(acc[t]).simd(Simd.f32x4_extract_lane).emit(l).op(Op.f32_add);
    f.get(sacc[t]).op(Op.f32_add).mem(Op.f32_store, 2, 4 * t);
  }
  return f;
}

/**
 * `scatter(gy, O1, O2, w, K1, K2, d1, d2, s1, s2, dxp, Wp)`: for each output
 * cell in order and each tap, dxp[(oy·s1 + t1·d1)·Wp + ox·s2 + t2·d2] +=
 * w[t1·K2 + t2]·gy[oy·O2 + ox].
 */
function scatterFunction(): FuncBuilder {
  const f = new FuncBuilder(new Array(12).fill(I32), []);
  const [gy, O1, O2, w, K1, K2, d1, d2, s1, s2, dxp, Wp] = f.params.map((_, i) => i);
  const oy = f.local(I32), ox = f.local(I32), t1 = f.local(I32), t2 = f.local(I32);
  const r = f.local(I32), wp = f.local(I32), g = f.local(F32);
  const mul = (x: number, y: number) => f.get(x).get(y).op(Op.i32_mul);
  f.forRange(oy, () => f.i32(0), () => f.get(O1), 1, () => {
    f.forRange(ox, () => f.i32(0), () => f.get(O2), 1, () => {
      mul(oy, O2);
      f.get(ox).op(Op.i32_add).i32(2).op(Op.i32_shl).get(gy).op(Op.i32_add).mem(Op.f32_load, 2).set(g);
      f.get(w).set(wp);
      f.forRange(t1, () => f.i32(0), () => f.get(K1), 1, () => {
        mul(oy, s1);
        mul(t1, d1);
        f.op(Op.i32_add).get(Wp).op(Op.i32_mul);
        mul(ox, s2);
        f.op(Op.i32_add).i32(2).op(Op.i32_shl).get(dxp).op(Op.i32_add).set(r);
        f.forRange(t2, () => f.i32(0), () => f.get(K2), 1, () => {
          f.get(r).get(r).mem(Op.f32_load, 2).get(wp).mem(Op.f32_load, 2).get(g).op(Op.f32_mul).op(Op.f32_add);
          f.mem(Op.f32_store, 2);
          f.get(wp).i32(4).op(Op.i32_add).set(wp);
          f.get(r).get(d2).i32(2).op(Op.i32_shl).op(Op.i32_add).set(r);
        });
      });
    });
  });
  return f;
}

/**
 * `pad(src, S2, dst, Wp, n, p1, p2, y0, y1, x0, x1)`: dst[0, n) zero except,
 * for y0 <= iy < y1, src[iy·S2 + x0, iy·S2 + x1) at dst[(iy + p1)·Wp + x0 + p2]
 * (float addresses as bytes). Zeroes only what it does not copy over: the
 * rows above and below the copied ones in bulk, the copied rows' margins by
 * float; rows move four floats per v128 (planes are small: calls to the bulk
 * copy would cost more than the copy).
 */
export function padFunction(): FuncBuilder {
  const f = new FuncBuilder(new Array(11).fill(I32), []);
  const [src, S2, dst, Wp, n, p1, p2, y0, y1, x0, x1] = f.params.map((_, i) => i);
  const iy = f.local(I32), k = f.local(I32), d = f.local(I32), sp = f.local(I32), len = f.local(I32);
  const zeroFloats = (from: () => void, count: () => void) => {
    // count floats from byte address `from`
    from();
    f.i32(0);
    count();
    f.i32(2).op(Op.i32_shl).memoryFill();
  };
  // rows [0, y0 + p1) and [y1 + p1, n / Wp): zero in bulk
  zeroFloats(() => f.get(dst), () => {
    f.get(y0).get(p1).op(Op.i32_add).get(Wp).op(Op.i32_mul);
  });
  zeroFloats(() => {
    f.get(y1).get(p1).op(Op.i32_add).get(Wp).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(dst).op(Op.i32_add);
  }, () => {
    f.get(n).get(y1).get(p1).op(Op.i32_add).get(Wp).op(Op.i32_mul).op(Op.i32_sub);
  });
  f.get(x1).get(x0).op(Op.i32_sub).set(len);
  f.forRange(iy, () => f.get(y0), () => f.get(y1), 1, () => {
    // d = the dst row's first float (bytes); its left margin [0, x0 + p2), right margin [x1 + p2, Wp)
    f.get(iy).get(p1).op(Op.i32_add).get(Wp).op(Op.i32_mul).i32(2).op(Op.i32_shl).get(dst).op(Op.i32_add).set(d);
    f.forRange(k, () => f.i32(0), () => f.get(x0).get(p2).op(Op.i32_add), 1, () => {
      f.get(k).i32(2).op(Op.i32_shl).get(d).op(Op.i32_add).f32(0).mem(Op.f32_store, 2);
    });
    f.forRange(k, () => f.get(x1).get(p2).op(Op.i32_add), () => f.get(Wp), 1, () => {
      f.get(k).i32(2).op(Op.i32_shl).get(d).op(Op.i32_add).f32(0).mem(Op.f32_store, 2);
    });
    // the row: src[iy·S2 + x0 + k] -> dst row [x0 + p2 + k], four at a time, then one at a time
    f.get(iy).get(S2).op(Op.i32_mul).get(x0).op(Op.i32_add).i32(2).op(Op.i32_shl).get(src).op(Op.i32_add).set(sp);
    f.get(x0).get(p2).op(Op.i32_add).i32(2).op(Op.i32_shl).get(d).op(Op.i32_add).set(d);
    copyFloats(f, d, sp, len, k);
  });
  return f;
}

/**
 * Emit a copy of `len` floats from byte address `src` to `dst` (locals), four
 * per v128 then one at a time (`k`: a scratch local). Short rows: a bulk copy
 * call costs more than the copy.
 */
export function copyFloats(f: FuncBuilder, dst: number, src: number, len: number, k: number): void {
  f.forRange(k, () => f.i32(0), () => f.get(len).i32(3).op(Op.i32_sub), 4, () => {
    f.get(k).i32(2).op(Op.i32_shl).get(dst).op(Op.i32_add);
    f.get(k).i32(2).op(Op.i32_shl).get(src).op(Op.i32_add).simdMem(Simd.v128_load, 0);
    f.simdMem(Simd.v128_store, 0);
  });
  f.forRange(k, () => f.get(k), () => f.get(len), 1, () => {
    f.get(k).i32(2).op(Op.i32_shl).get(dst).op(Op.i32_add);
    f.get(k).i32(2).op(Op.i32_shl).get(src).op(Op.i32_add).mem(Op.f32_load, 2);
    f.mem(Op.f32_store, 2);
  });
}

// ---------------------------------------------------------------- runtime

function moduleBytes(g: Fixed): Uint8Array<ArrayBuffer> {
  const m = importHeap(new ModuleBuilder());
  m.func(convFunction(g), "conv");
  m.func(wgradFunction(g), "wgrad");
  m.func(scatterFunction(), "scatter");
  m.func(padFunction(), "pad");
  m.func(epilogueFunction(), "epi");
  return m.bytes();
}

// The work of one job on thread t of T; the same source runs on the calling
// thread and in the workers. params: [mode, N, C, Cog, S1, S2, O1, O2, K1, K2,
// s1, s2, d1, d2, p1, p2, x, w, out, gy, scratch, scratchStride, moduleId,
// codeByte, codeLength, bias (or -1), relu] (addresses in floats; a thread compiles the module of
// a kernel size from the bytes the job left in memory when it first sees it). Modes: 0 forward, 1 input gradient at unit strides (w holds the
// flipped taps, p the transposed padding), 2 weight gradient, 3 input
// gradient by scatter. The forward applies the epilogue (bias, relu) to each output plane it computes.
const WORK_SETUP = `
  // the S1 x S2 plane at src into the zeroed Hp x Wp plane at dst, shifted by (p1, p2)
  const pad = (ex, src, S1, S2, dst, Hp, Wp, p1, p2) => {
    const x0 = Math.max(0, -p2), x1 = Math.max(x0, Math.min(S2, Wp - p2));
    const y0 = Math.max(0, -p1), y1 = Math.max(y0, Math.min(S1, Hp - p1));
    ex.pad(src * 4, S2, dst * 4, Wp, Hp * Wp, p1, p2, y0, x1 > x0 ? y1 : y0, x0, x1);
  };
  ${HEAP_MODULES}
  ${EPILOGUE_WORK}
  return (P, t, T, th = t) => {
    const [mode, N, C, Cog, S1, S2, O1, O2, K1, K2, s1, s2, d1, d2, p1, p2, X, W, OUT, G, SCR, SS, id] = P;
    const B = P[25], relu = P[26];
    const exports = heapModule(id, P[23], P[24]);
    const H = new Float32Array(memory.buffer), K = K1 * K2, Ss = S1 * S2, Os = O1 * O2;
    // the weight gradient's unit is one filter (channel c, multiplier m), so first layers (C = 1) split too
    const units = mode === 2 ? C * Cog : N * C, u0 = Math.floor((units * t) / T), u1 = Math.floor((units * (t + 1)) / T);
    const scr = SCR + th * SS; // per-thread scratch
    const Hp = (O1 - 1) * s1 + (K1 - 1) * d1 + 1, Wp = (O2 - 1) * s2 + (K2 - 1) * d2 + 1;
    for (let u = u0; u < u1; u++) {
      if (mode === 0) {
        const n = Math.floor(u / C), c = u % C;
        pad(exports, X + (n * C + c) * Ss, S1, S2, scr, Hp, Wp, p1, p2);
        for (let m = 0; m < Cog; m++) {
          const o = (n * C + c) * Cog + m;
          exports.conv(scr * 4, (W + (c * Cog + m) * K) * 4, s1, s2, (OUT + o * Os) * 4, O1, O2, 0);
          epilogue(exports, B, relu, (OUT + o * Os) * 4, Os, c * Cog + m);
        }
      } else if (mode === 1) {
        // dx = Σ_m conv(pad(gy_m), flipped w_m): the roles of S and O swap
        const n = Math.floor(u / C), c = u % C, Hq = S1 + (K1 - 1) * d1, Wq = S2 + (K2 - 1) * d2;
        for (let m = 0; m < Cog; m++) {
          const o = (n * C + c) * Cog + m;
          pad(exports, G + o * Os, O1, O2, scr, Hq, Wq, p1, p2);
          exports.conv(scr * 4, (W + (c * Cog + m) * K) * 4, 1, 1, (OUT + (n * C + c) * Ss) * 4, S1, S2, m > 0 ? 1 : 0);
        }
      } else if (mode === 2) {
        // this share's filters of channel c, [u, ub): each input plane padded once for all of them (each filter
        // still sums its images in order)
        const c = Math.floor(u / Cog), ub = Math.min(u1, (c + 1) * Cog);
        H.fill(0, OUT + u * K, OUT + ub * K);
        for (let n = 0; n < N; n++) {
          pad(exports, X + (n * C + c) * Ss, S1, S2, scr, Hp, Wp, p1, p2);
          for (let v = u; v < ub; v++) {
            exports.wgrad(scr * 4, (G + ((n * C + c) * Cog + v % Cog) * Os) * 4, s1, s2, O1, O2, (OUT + v * K) * 4);
          }
        }
        u = ub - 1;
      } else {
        const n = Math.floor(u / C), c = u % C;
        H.fill(0, scr, scr + Hp * Wp);
        for (let m = 0; m < Cog; m++) {
          const o = (n * C + c) * Cog + m;
          exports.scatter((G + o * Os) * 4, O1, O2, (W + (c * Cog + m) * K) * 4, K1, K2, d1, d2, s1, s2, scr * 4, Wp);
        }
        // crop: dx[iy, ix] = dxp[iy + p1, ix + p2] (0 where no tap reached)
        const dx = OUT + (n * C + c) * Ss;
        H.fill(0, dx, dx + Ss);
        const x0 = Math.max(0, -p2), x1 = Math.min(S2, Wp - p2);
        for (let iy = 0; iy < S1 && iy + p1 < Hp && x1 > x0; iy++) {
          if (iy + p1 >= 0) H.copyWithin(dx + iy * S2 + x0, scr + (iy + p1) * Wp + x0 + p2, scr + (iy + p1) * Wp + x1 + p2);
        }
      }
    }
  };
`;

interface Runtime {
  memory: WebAssembly.Memory;
  work: (params: Float64Array, t: number, T: number, thread?: number) => void;
}
let rt: Runtime | null = null;
/** Module bytes per kernel size, with the id jobs name them by. */
const modules = new Map<string, { id: number; bytes: Uint8Array<ArrayBuffer> }>();
let nextId = 1;
const pool = heapModulePool(WORK_SETUP);
const localParams = new Float64Array(64);
/** Multiply-adds below which a depthwise kernel stays on the calling thread. */
export const depthwiseTuning: { threadMinWork: number } = { threadMinWork: 1 << 18 };

function runtime(): Runtime | null {
  if (rt) return rt;
  if (!HAS_SIMD) return null;
  const memory = wasmHeap();
  const work = new Function("exports", "memory", WORK_SETUP)(null, memory);
  rt = { memory, work };
  return rt;
}

/** Stop the depthwise kernels' worker threads (they restart on the next large kernel). */
export function _shutdownDepthwiseThreads(): void {
  pool.close();
}
onShutdownThreads(_shutdownDepthwiseThreads);

/** Whether `q` is a 1-D/2-D convolution with one input channel per group (kernels up to 49 taps) that these kernels take. */
export function depthwiseWasmApplies(q: Geo3): boolean {
  return HAS_SIMD && q.Cig === 1 && q.K[0] === 1 && q.S[0] === 1 && q.O[0] === 1 && q.stride[0] === 1 &&
    q.K[1] * q.K[2] <= 49;
}

type Mode = 0 | 1 | 2 | 3;

/**
 * Run one depthwise kernel: forward (x, w → y, then `epi` on y when given),
 * input gradient (gy, w → dx) or weight gradient (x, gy → dw). Null when the
 * heap cannot grow.
 */
export function depthwiseWasm(
  kind: "forward" | "gradInput" | "gradWeight",
  q: Geo3,
  a: Float32Array,
  b: Float32Array,
  epi: Epilogue | null = null,
): Float32Array | null {
  const r = runtime();
  if (!r) return null;
  const { N, Cin: C, Cog } = q;
  const [S1, S2] = [q.S[1], q.S[2]], [O1, O2] = [q.O[1], q.O[2]], [K1, K2] = [q.K[1], q.K[2]];
  const [s1, s2] = [q.stride[1], q.stride[2]], [d1, d2] = [q.dil[1], q.dil[2]];
  let [p1, p2] = [q.pad[1], q.pad[2]];
  const K = K1 * K2, Ss = S1 * S2, Os = O1 * O2;
  const x = kind === "gradInput" ? null : a, gy = kind === "forward" ? null : kind === "gradInput" ? a : b;
  let w = kind === "gradWeight" ? null : b;
  let mode: Mode = kind === "forward" ? 0 : kind === "gradWeight" ? 2 : 3;
  const qt = kind === "gradInput" ? transposedGeo(q) : null;
  if (qt) {
    // unit strides: the forward kernel with flipped taps and the transposed padding
    mode = 1;
    w = flippedWeights(q, w!);
    [p1, p2] = [qt.pad[1], qt.pad[2]];
  }
  const outLen = kind === "forward" ? N * C * Cog * Os : kind === "gradInput" ? N * C * Ss : C * Cog * K;
  const Hp = (O1 - 1) * s1 + (K1 - 1) * d1 + 1, Wp = (O2 - 1) * s2 + (K2 - 1) * d2 + 1;
  const scrFloats = Math.max(Hp * Wp, (S1 + (K1 - 1) * d1) * (S2 + (K2 - 1) * d2)) + 4;
  const units = mode === 2 ? C * Cog : N * C, work = N * C * Cog * Os * K;
  let T = work >= depthwiseTuning.threadMinWork ? Math.min(getNumThreads(), units) : 1;
  const p = pool.get(T);
  if (!p) T = 1;
  const al = (n: number) => (n + 3) & ~3;
  const fixed: Fixed = { KH: K1, KW: K2, d1, d2, Wp: mode === 1 ? S2 + (K2 - 1) * d2 : Wp };
  const key = JSON.stringify(fixed);
  let mod = modules.get(key);
  if (!mod) {
    if (modules.size > 256) modules.clear();
    modules.set(key, mod = { id: nextId++, bytes: moduleBytes(fixed) });
  }
  const G = 16, X = G + al(gy ? gy.length : 0), W = X + al(x ? x.length : 0), CODE = W + al(w ? w.length : 0);
  const fepi = kind === "forward" ? epi : null, BIAS = CODE + al(Math.ceil(mod.bytes.length / 4));
  const OUT = BIAS + al(fepi?.bias ? fepi.bias.length : 0), SCR = OUT + al(outLen), SS = al(scrFloats);
  if (!growWasmHeap((SCR + T * SS) * 4)) return null;
  // operands where they are resident, else copied into the layout; the output into a resident slot
  const place = (a: Float32Array | null, at: number) => (a ? placeInHeap(a, at * 4) / 4 : at);
  const xAt = place(x, X), wAt = place(w, W), gAt = place(gy, G);
  const slot = outputSlot(outLen * 4), outAt = slot ? slot.at / 4 : OUT;
  new Uint8Array(r.memory.buffer).set(mod.bytes, CODE * 4);
  const params = p ? p.params : localParams;
  params.set([mode, N, C, Cog, S1, S2, O1, O2, K1, K2, s1, s2, d1, d2, p1, p2, xAt, wAt, outAt, gAt, SCR, SS, mod.id]);
  params.set([CODE * 4, mod.bytes.length, ...epilogueParams(fepi, BIAS)], 23);
  const shares = sharesOf(units, T);
  const results = new Float32Array(r.memory.buffer, outAt * 4, outLen);
  const out = runThenCopyOut(p, T, shares, (s, S, th) => r.work(params, s, S, th), results);
  slot?.keep(out);
  return out;
}
