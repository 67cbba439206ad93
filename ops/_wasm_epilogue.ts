// A convolution's output epilogue: `+ bias[channel]`, then relu, applied to its
// output where it is still in the WebAssembly heap (per output plane in the
// depthwise and Winograd kernels, per GEMM row before it is copied out), so the
// composition `relu(conv(x, w) + bias)` never materializes the convolution.
// The same values as the composition: the float32 add, then where(v > 0, v, 0).
import { F32, FuncBuilder, I32, ModuleBuilder, Op, Simd, V128 } from "./_wasm.ts";
import { importHeap, wasmHeap } from "./_wasm_heap.ts";

/** A conv's output epilogue: `+ bias[channel]`, then relu. */
export interface Epilogue {
  /** the bias, one value per output channel, or null */
  bias: Float32Array | null;
  /** relu after the bias: `v > 0 ? v : +0` (where(v > 0, v, 0): NaN and -0 give +0) */
  relu: boolean;
}

/** An epilogue on a [N, C, plane] output written in rows: a row at output offset o is in channel ⌊o / plane⌋ mod C. */
export interface OutputEpilogue extends Epilogue {
  plane: number;
  channels: number;
}

/**
 * `epi(at, n, b, relu)`: the n floats at byte address `at`, in place, v = v + b (float32, as the composition's add),
 * then, when relu, v > 0 ? v : +0 (a mask of v > 0: NaN and -0 give +0).
 */
export function epilogueFunction(): FuncBuilder {
  const f = new FuncBuilder([I32, I32, F32, I32], []);
  const [at, n, b, relu] = f.params.map((_, i) => i);
  const k = f.local(I32), bv = f.local(V128), v = f.local(V128), s = f.local(F32);
  f.get(b).simd(Simd.f32x4_splat).set(bv);
  f.forRange(k, () => f.i32(0), () => f.get(n).i32(3).op(Op.i32_sub), 4, () => {
    f.get(k).i32(2).op(Op.i32_shl).get(at).op(Op.i32_add);
    f.get(k).i32(2).op(Op.i32_shl).get(at).op(Op.i32_add).simdMem(Simd.v128_load, 0).get(bv).simd(Simd.f32x4_add)
      .set(v);
    f.get(relu).if_(V128).get(v).get(v).v128Zero().simd(Simd.f32x4_gt).simd(Simd.v128_and).else_().get(v).end();
    f.simdMem(Simd.v128_store, 0);
  });
  f.forRange(k, () => f.get(k), () => f.get(n), 1, () => {
    f.get(k).i32(2).op(Op.i32_shl).get(at).op(Op.i32_add);
    f.get(k).i32(2).op(Op.i32_shl).get(at).op(Op.i32_add).mem(Op.f32_load, 2).get(b).op(Op.f32_add).tee(s);
    f.f32(0).get(s).f32(0).op(Op.f32_gt).get(relu).op(Op.i32_eqz).op(Op.i32_or).op(Op.select);
    f.mem(Op.f32_store, 2);
  });
  return f;
}

/**
 * A kernel job's epilogue params: the bias copied into the heap at float index `at` (or -1 without one) and relu
 * (0 or 1), read by {@linkcode EPILOGUE_WORK} in the workers.
 */
export function epilogueParams(epi: Epilogue | null, at: number): [number, number] {
  if (epi?.bias) new Float32Array(wasmHeap().buffer).set(epi.bias, at);
  return [epi?.bias ? at : -1, epi?.relu ? 1 : 0];
}

/**
 * Work-source helper (a kernel family's workers and calling thread): `epilogue(ex, B, relu, at, n, ch)` applies a
 * job's epilogue params (bias index B, relu) to the n floats at byte `at` of output channel ch, with the module
 * exports `ex` (its `epi` from {@linkcode epilogueFunction}); nothing without either.
 */
export const EPILOGUE_WORK = `
  let epiHeap = new Float32Array(0); // the heap's floats, viewed again only after it grew
  const epilogue = (ex, B, relu, at, n, ch) => {
    if (B < 0 && !relu) return;
    if (B >= 0 && epiHeap.buffer !== memory.buffer) epiHeap = new Float32Array(memory.buffer);
    ex.epi(at, n, B >= 0 ? epiHeap[B + ch] : 0, relu);
  };
`;

type Epi = (at: number, n: number, b: number, relu: number) => void;
let onHeap: Epi | null = null;

/** Apply `epi` to the n floats of output offset `o` at byte address `at` of the heap (on the calling thread). */
export function epilogueInHeap(epi: OutputEpilogue, at: number, n: number, o: number): void {
  if (!onHeap) {
    const m = importHeap(new ModuleBuilder());
    m.func(epilogueFunction(), "epi");
    const code = new WebAssembly.Module(m.bytes());
    onHeap = new WebAssembly.Instance(code, { env: { mem: wasmHeap() } }).exports.epi as Epi;
  }
  onHeap(at, n, biasAt(epi, o), epi.relu ? 1 : 0);
}

/** Apply `epi` to c[o, o + n) in JS (the kernels' fallbacks; the same values as the wasm function). */
export function epilogueJs(epi: OutputEpilogue, c: Float32Array, o: number, n: number): void {
  const b = biasAt(epi, o);
  for (let k = o; k < o + n; k++) {
    const v = Math.fround(c[k] + b);
    c[k] = epi.relu && !(v > 0) ? 0 : v;
  }
}

const biasAt = (epi: OutputEpilogue, o: number): number =>
  epi.bias ? epi.bias[Math.floor(o / epi.plane) % epi.channels] : 0;
