// The input gradient of a strided convolution (and so every transposed
// convolution) in the wasm heap: patches = Wᵀ·gy by the GEMM, left in the heap,
// then col2im (each patch entry added to the input element it came from) as
// wasm over (image, channel) planes split across the worker threads. Each
// plane is summed by one thread in one fixed order (taps, then output rows,
// then columns), so results do not depend on the thread count.
import type { Geo3, Taps } from "./_conv_kernels.ts";
import { familyPool, sharesOf } from "./_pool_threads.ts";
import { FuncBuilder, HAS_SHARED_MEMORY, I32, ModuleBuilder, Op } from "./_wasm.ts";
import { gemmInHeap, gemmTileRows, getNumThreads, NR, onShutdownThreads } from "./_wasm_gemm.ts";
import { growWasmHeap, importHeap, wasmHeap } from "./_wasm_heap.ts";

/**
 * `col2im(col, ldBytes, r0, dx, Ssz, tA, tB, tOff, tLo, tHi, K0, K1, K2, O0, O1, S1, S2, s2, O2)`:
 * the plane at dx (Ssz floats) = Σ over taps t (rows r0 + t of col, ldBytes apart) and output
 * positions of the patch entries that came from each element; table addresses in bytes.
 */
function col2imFunction(): FuncBuilder {
  const f = new FuncBuilder(new Array(19).fill(I32), []);
  const [col, ld, r0, dx, Ssz, tA, tB, tOff, tLo, tHi, K0, K1, K2, O0, O1, S1, S2, s2, O2] = f.params.map((_, i) => i);
  const t0 = f.local(I32), t1 = f.local(I32), t2 = f.local(I32), r = f.local(I32), p0 = f.local(I32), p1 = f.local(I32);
  const i0 = f.local(I32), i1 = f.local(I32), l = f.local(I32), h = f.local(I32), d = f.local(I32), sp = f.local(I32);
  const dp = f.local(I32), p = f.local(I32), step = f.local(I32);
  const load32 = (table: number, index: () => void) => {
    f.get(table);
    index();
    f.i32(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2);
  };
  f.get(dx).i32(0).get(Ssz).i32(2).op(Op.i32_shl).memoryFill();
  f.get(s2).i32(2).op(Op.i32_shl).set(step);
  f.get(r0).set(r);
  f.forRange(t0, () => f.i32(0), () => f.get(K0), 1, () => {
    f.forRange(t1, () => f.i32(0), () => f.get(K1), 1, () => {
      f.forRange(t2, () => f.i32(0), () => f.get(K2), 1, () => {
        load32(tLo, () => f.get(t2));
        f.set(l);
        load32(tHi, () => f.get(t2));
        f.set(h);
        f.get(r).get(ld).op(Op.i32_mul).get(col).op(Op.i32_add).set(d);
        f.forRange(p0, () => f.i32(0), () => f.get(O0), 1, () => {
          load32(tA, () => f.get(t0).get(O0).op(Op.i32_mul).get(p0).op(Op.i32_add));
          f.set(i0);
          f.forRange(p1, () => f.i32(0), () => f.get(O1), 1, () => {
            load32(tB, () => f.get(t1).get(O1).op(Op.i32_mul).get(p1).op(Op.i32_add));
            f.set(i1);
            f.get(i0).get(i1).op(Op.i32_or).i32(0).op(Op.i32_ge_s).if_();
            // sp = dx + ((i0·S1 + i1)·S2 + off[t2] + l·s2)·4, dp = d + l·4
            f.get(i0).get(S1).op(Op.i32_mul).get(i1).op(Op.i32_add).get(S2).op(Op.i32_mul);
            load32(tOff, () => f.get(t2));
            f.op(Op.i32_add).get(l).get(s2).op(Op.i32_mul).op(Op.i32_add).i32(2).op(Op.i32_shl).get(dx).op(Op.i32_add);
            f.set(sp);
            f.get(l).i32(2).op(Op.i32_shl).get(d).op(Op.i32_add).set(dp);
            f.forRange(p, () => f.get(l), () => f.get(h), 1, () => {
              f.get(sp).get(sp).mem(Op.f32_load, 2).get(dp).mem(Op.f32_load, 2).op(Op.f32_add).mem(Op.f32_store, 2);
              f.get(sp).get(step).op(Op.i32_add).set(sp);
              f.get(dp).i32(4).op(Op.i32_add).set(dp);
            });
            f.end();
            f.get(d).get(O2).i32(2).op(Op.i32_shl).op(Op.i32_add).set(d);
          });
        });
        f.get(r).i32(1).op(Op.i32_add).set(r);
      });
    });
  });
  return f;
}

// params (float indices): [units, Cin, Ksz, C, cStride, ld, DX, Ssz, TA, TB, TOFF, TLO, THI, K0, K1, K2, O0, O1,
// S1, S2, s2, O2]; unit u = (image u / Cin, channel u % Cin).
const WORK_SETUP = `
  return (P, t, T) => {
    const [units, Cin, Ksz, C, cStride, ld, DX, Ssz, TA, TB, TOFF, TLO, THI, K0, K1, K2, O0, O1, S1, S2, s2, O2] = P;
    const u0 = Math.floor((units * t) / T), u1 = Math.floor((units * (t + 1)) / T);
    for (let u = u0; u < u1; u++) {
      const n = Math.floor(u / Cin), c = u % Cin;
      exports.col2im((C + n * cStride) * 4, ld * 4, c * Ksz, (DX + u * Ssz) * 4, Ssz, TA * 4, TB * 4, TOFF * 4,
        TLO * 4, THI * 4, K0, K1, K2, O0, O1, S1, S2, s2, O2);
    }
  };
`;

type Work = (params: Float64Array, t: number, T: number, thread?: number) => void;
let rt: { module: WebAssembly.Module; work: Work } | null = null;

function runtime(memory: WebAssembly.Memory): { module: WebAssembly.Module; work: Work } {
  if (rt) return rt;
  const m = importHeap(new ModuleBuilder());
  m.func(col2imFunction(), "col2im");
  const module = new WebAssembly.Module(m.bytes());
  const exports = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
  rt = { module, work: new Function("exports", "memory", WORK_SETUP)(exports, memory) as Work };
  return rt;
}

const pool = familyPool(
  () => ({ module: runtime(wasmHeap()).module, memory: wasmHeap(), setup: WORK_SETUP }),
  HAS_SHARED_MEMORY,
);
onShutdownThreads(() => pool.close());
const localParams = new Float64Array(32);

/** Floats of heap per chunk of images (patches, output gradient and input gradient). */
export const col2imTuning: { budget: number; threadMinWork: number } = { budget: 1 << 22, threadMinWork: 1 << 16 };

const al4 = (n: number) => (n + 3) & ~3;

/**
 * dx ([N, Cin, S]) = col2im(Wᵀ · gy) for one group (G = 1), in the heap; false
 * when the heap cannot hold one image's work (the caller takes the JS col2im).
 */
export function col2imGradInput(q: Geo3, gy: Float32Array, w: Float32Array, tp: Taps, dx: Float32Array): boolean {
  const { N, Cin, Cout, Ssz, Ksz, Osz } = q;
  const R = Cin * Ksz, mr = gemmTileRows(R), Mp = Math.ceil(R / mr) * mr, ld = Math.ceil(Osz / NR) * NR;
  const perImage = Mp * ld + Cout * Osz + Cin * Ssz;
  const nb = Math.max(1, Math.min(N, Math.floor(col2imTuning.budget / perImage)));
  const tables = [tp.A, tp.B, tp.off, tp.lo, tp.hi];
  const W = 64, TAB = W + al4(w.length), GY = TAB + al4(tables.reduce((s, t) => s + t.length, 0) + 8);
  const C = GY + al4(nb * Cout * Osz), DX = C + al4(nb * Mp * ld), free = DX + al4(nb * Cin * Ssz);
  const memory = growWasmHeap(free * 4);
  if (!memory) return false;
  const H = new Float32Array(memory.buffer), I = new Int32Array(memory.buffer);
  H.set(w, W);
  const at: number[] = [];
  for (let o = TAB, i = 0; i < tables.length; o += tables[i++].length) {
    I.set(tables[i], o);
    at.push(o);
  }
  const r = runtime(memory);
  for (let n0 = 0; n0 < N; n0 += nb) {
    const m = Math.min(nb, N - n0);
    new Float32Array(memory.buffer).set(gy.subarray(n0 * Cout * Osz, (n0 + m) * Cout * Osz), GY);
    // patches[n][R, O] = Wᵀ[R, Cout] · gy[n][Cout, O]
    if (!gemmInHeap(m, R, Osz, Cout, W, 0, R, true, GY, Cout * Osz, Osz, false, C, Mp * ld, ld, false, free)) {
      return false;
    }
    const units = m * Cin, T = Math.min(getNumThreads(), units), shares = sharesOf(units, T);
    const p = units * R * Osz >= col2imTuning.threadMinWork ? pool.get(T) : null;
    const params = p ? p.params : localParams;
    params.set([units, Cin, Ksz, C, Mp * ld, ld, DX, Ssz, ...at, q.K[0], q.K[1], q.K[2], q.O[0], q.O[1]]);
    params.set([q.S[1], q.S[2], q.stride[2], q.O[2]], 18);
    if (p) p.run(T, (s, th) => r.work(params, s, shares, th), shares);
    else r.work(params, 0, 1);
    dx.set(new Float32Array(memory.buffer, DX * 4, m * Cin * Ssz), n0 * Cin * Ssz);
  }
  return true;
}
