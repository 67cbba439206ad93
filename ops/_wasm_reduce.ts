// Float32 sums in WebAssembly SIMD (backend "wasm"): a sum over axes that end
// at the innermost one, of a buffer (realized, or one the JS kernel would
// materialize anyway), e.g. a bias gradient (axes 0, 2, 3 of NCHW), batch
// statistics, a loss. Bit-identical to the JS kernel (`_schedule.ts`,
// `#sum4`): per output, four double accumulators take the elements of each
// contiguous run in turn (lane k the elements at k mod 4 of every group of
// four, a run's remainder the first), runs in row-major order of the outer
// reduced axes, then (acc0 + acc1) + (acc2 + acc3) rounded once to float32.
import { getBackend } from "./_backend.ts";
import { type Node, sizeOf, stridesOf } from "./_graph.ts";
import { mustMaterialize, registerPattern } from "./_schedule.ts";
import { FuncBuilder, HAS_SIMD, I32, ModuleBuilder, Op, Simd, V128 } from "./_wasm.ts";
import { growWasmHeap, importHeap, placeInHeap, wasmHeap } from "./_wasm_heap.ts";

/** Inputs smaller than this stay on the JS kernel (call and copy overheads). */
export const reduceTuning: { minSize: number } = { minSize: 4096 };

/** The JS kernel's four-accumulator loop takes runs from this length on (shorter ones: one accumulator). */
const MIN_RUN = 16;

/**
 * `sum(x, runs, nRuns, L, bases, nOut, out)` (byte addresses): out[o] = the sum
 * of the nRuns runs of L floats at x + bases[o] + runs[j], as described above.
 */
function sumFunction(): FuncBuilder {
  const f = new FuncBuilder(new Array(7).fill(I32), []);
  const [x, runs, nRuns, L, bases, nOut, out] = [0, 1, 2, 3, 4, 5, 6];
  const o = f.local(I32), j = f.local(I32), base = f.local(I32), p = f.local(I32), end4 = f.local(I32);
  const end = f.local(I32), a = f.local(V128), b = f.local(V128), v = f.local(V128);
  const lane = (acc: number, l: number) => f.get(acc).simd(Simd.f64x2_extract_lane).emit(l);
  f.forRange(o, () => f.i32(0), () => f.get(nOut), 1, () => {
    f.get(o).i32(2).op(Op.i32_shl).get(bases).op(Op.i32_add).mem(Op.i32_load, 2).get(x).op(Op.i32_add).set(base);
    f.v128Zero().set(a).v128Zero().set(b);
    f.forRange(j, () => f.i32(0), () => f.get(nRuns), 1, () => {
      f.get(j).i32(2).op(Op.i32_shl).get(runs).op(Op.i32_add).mem(Op.i32_load, 2).get(base).op(Op.i32_add).set(p);
      f.get(L).i32(2).op(Op.i32_shl).get(p).op(Op.i32_add).set(end);
      f.get(L).i32(-4).op(Op.i32_and).i32(2).op(Op.i32_shl).get(p).op(Op.i32_add).set(end4);
      f.forRange(p, () => f.get(p), () => f.get(end4), 16, () => {
        f.get(p).simdMem(Simd.v128_load, 2).set(v);
        f.get(a).get(v).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(a);
        f.get(b).get(v).get(v).shuffle32([2, 3, 2, 3]).simd(Simd.f64x2_promote_low_f32x4).simd(Simd.f64x2_add).set(b);
      });
      f.forRange(p, () => f.get(p), () => f.get(end), 4, () => {
        f.get(a);
        lane(a, 0).get(p).mem(Op.f32_load, 0).op(Op.f64_promote_f32).op(Op.f64_add);
        f.simd(Simd.f64x2_replace_lane).emit(0).set(a);
      });
    });
    f.get(o).i32(2).op(Op.i32_shl).get(out).op(Op.i32_add);
    lane(a, 0);
    lane(a, 1).op(Op.f64_add);
    lane(b, 0);
    lane(b, 1).op(Op.f64_add).op(Op.f64_add);
    f.op(Op.f32_demote_f64).mem(Op.f32_store, 2);
  });
  return f;
}

let kernel: ((...args: number[]) => void) | null = null;

function sumKernel(): (...args: number[]) => void {
  if (kernel) return kernel;
  const m = importHeap(new ModuleBuilder());
  m.func(sumFunction(), "sum");
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.bytes()), { env: { mem: wasmHeap() } });
  return kernel = inst.exports.sum as (...args: number[]) => void;
}

/** Row-major byte offsets of every index combination over `axes` (strides of `shape`). */
function offsets(shape: readonly number[], axes: number[]): Int32Array {
  const st = stridesOf(shape), n = sizeOf(axes.map((a) => shape[a]));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let rest = i, off = 0;
    for (let k = axes.length - 1; k >= 0; k--) {
      const d = shape[axes[k]];
      off += (rest % d) * st[axes[k]];
      rest = Math.floor(rest / d);
    }
    out[i] = off * 4;
  }
  return out;
}

/** The sum `node` in wasm (its reduced axes from `first` on form the contiguous runs), or null. */
function sumWasm(node: Node<"reduce">, x: Float32Array, first: number): Float32Array | null {
  const src = node.inputs[0], nd = src.shape.length, axes = node.params.axes;
  const L = sizeOf(src.shape.slice(first));
  const outer = axes.filter((a) => a < first).sort((a, b) => a - b),
    kept = [...Array(nd).keys()].filter((a) => !axes.includes(a));
  const runs = offsets(src.shape, outer), bases = offsets(src.shape, kept);
  const al = (n: number) => (n + 15) & ~15;
  const X = 16, R = X + al(x.byteLength), B = R + al(runs.byteLength), OUT = B + al(bases.byteLength);
  const mem = growWasmHeap(OUT + bases.length * 4);
  if (!mem) return null;
  const run = sumKernel(), at = placeInHeap(x, X);
  new Int32Array(mem.buffer, R, runs.length).set(runs);
  new Int32Array(mem.buffer, B, bases.length).set(bases);
  run(at, R, runs.length, L, B, bases.length, OUT);
  return new Float32Array(mem.buffer, OUT, bases.length).slice();
}

if (HAS_SIMD) {
  registerPattern((node, uses, input) => {
    if (getBackend() !== "wasm" || node.op !== "reduce" || node.dtype !== "float32") return null;
    const { op, axes } = (node as Node<"reduce">).params, src = node.inputs[0];
    if (op !== "sum" || src.dtype !== "float32" || axes.length === 0 || src.size < reduceTuning.minSize) return null;
    const nd = src.shape.length;
    if (Math.max(...axes) !== nd - 1) return null;
    // an input the JS kernel would compute inline (summing unrounded doubles) stays there
    if (!src.buffer && !mustMaterialize(src, false, uses(src))) return null;
    let first = nd - 1;
    while (axes.includes(first - 1)) first--;
    if (sizeOf(src.shape.slice(first)) < MIN_RUN) return null;
    const out = sumWasm(node as Node<"reduce">, input(src) as Float32Array, first);
    return out && { buffer: out, name: "sum wasm" };
  });
}
