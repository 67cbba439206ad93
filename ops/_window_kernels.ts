// Fast kernels for the window primitives (windowSum, windowSumT,
// windowArgmax) and for scatterAdd, registered for the "wasm" backend.
//
// Each window kernel is JS generated per geometry with `new Function` and
// cached by geometry: x is seen as [P, A, B, C] (lower ranks lifted with
// trivial axes, as in the reference), the sizes, strides and dilations are
// baked in as constants, and the output cells whose taps all lie inside the
// input on every axis (the interior of a regular window, starts[o] =
// start0 + o·stride with a constant count) run a fully unrolled tap sequence
// with constant offsets and no bounds checks. Border cells and irregular
// (adaptive) axes take a checked loop over per-axis tables. Taps are visited
// in the reference's row-major window order and summed in a double as it sums
// them (row sums along the last axis, then the rows from 0), so every result
// is bit-identical to the JS reference in `_js_kernels.ts` (first maximum
// wins, NaN wins as there).
import { allocate, type TypedArray } from "./_dtype.ts";
import { type Node, sizeOf, type WindowAxis } from "./_graph.ts";
import { backend, getBackend, registerKernel, setBackend } from "./_backend.ts";
import {
  argmaxInputId,
  fillValueOf,
  isPlusZero,
  materialize,
  readsStored,
  registerPattern,
  reluValuesOf,
} from "./_schedule.ts";
import { F64, FuncBuilder, HAS_SIMD, I32, ModuleBuilder, Op, Simd, V128 } from "./_wasm.ts";
import { copyOut, runThenCopyOut, sharesOf, type WasmThreadPool } from "./_pool_threads.ts";
import { getNumThreads, HEAP_MODULES, heapModulePool, onShutdownThreads } from "./_wasm_gemm.ts";
import { growWasmHeap, importHeap, outputSlot, placeInHeap, wasmHeap } from "./_wasm_heap.ts";

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

// ---------------------------------------------------------------- geometry

interface AxisInfo {
  L: number;
  O: number;
  d: number;
  /** first tap position per output cell */
  starts: Int32Array;
  /** first and one-past-last valid tap per output cell */
  lo: Int32Array;
  hi: Int32Array;
  /** regular: constant count k and starts[o] = s0 + o·s */
  regular: boolean;
  k: number;
  s: number;
  s0: number;
  /** output cells whose k taps are all valid: [ilo, ihi) (empty when irregular) */
  ilo: number;
  ihi: number;
}

const TRIVIAL: WindowAxis = { size: 1, starts: new Int32Array([0]), counts: new Int32Array([1]), dilation: 1 };

// a node's axes are immutable params; a pullback run again meets the same objects
const axisInfos = new WeakMap<WindowAxis, AxisInfo>();

function axisInfo(a: WindowAxis): AxisInfo {
  let info = axisInfos.get(a);
  if (!info) axisInfos.set(a, info = computeAxisInfo(a));
  return info;
}

function computeAxisInfo(a: WindowAxis): AxisInfo {
  const O = a.starts.length, L = a.size, d = a.dilation;
  const lo = new Int32Array(O), hi = new Int32Array(O);
  for (let o = 0; o < O; o++) {
    const st = a.starts[o], n = a.counts[o];
    let l = 0;
    while (l < n && st + l * d < 0) l++;
    let h = n;
    while (h > l && st + (h - 1) * d >= L) h--;
    lo[o] = l;
    hi[o] = Math.max(h, l);
  }
  const k = O > 0 ? a.counts[0] : 0, s0 = O > 0 ? a.starts[0] : 0, s = O > 1 ? a.starts[1] - a.starts[0] : 1;
  let regular = O > 0 && k > 0;
  for (let o = 0; o < O && regular; o++) regular = a.counts[o] === k && a.starts[o] === s0 + o * s;
  let ilo = 0, ihi = 0;
  if (regular) {
    // first/last o with s0 + o·s >= 0 and s0 + o·s + (k-1)·d <= L-1, scanned (O is small)
    ilo = O;
    for (let o = 0; o < O; o++) {
      const st = s0 + o * s;
      if (st >= 0 && st + (k - 1) * d <= L - 1) {
        if (ilo === O) ilo = o;
        ihi = o + 1;
      } else if (ilo < O) break;
    }
    if (ilo === O) ilo = ihi = 0;
  }
  return { L, O, d, starts: a.starts, lo, hi, regular, k, s, s0, ilo, ihi };
}

/**
 * sum: windowSum (optionally divided by a per-cell divisor, as
 * `div(windowSum(x), D)`); argmax: windowArgmax; max: the gather of x at the
 * window argmax; sumT: windowSumT (optionally of `div(g, D)`).
 */
type Mode = "sum" | "argmax" | "max" | "sumT";

interface Options {
  /** divide by D[cell] (sum: after rounding the sum to the dtype; sumT: g / D rounded to the dtype) */
  div?: boolean;
  /** the dtype is float32: intermediate values round through Math.fround */
  f32?: boolean;
  /**
   * 4-cell groups at the start of each interior row that the wasm kernel has
   * computed (their results already copied into `out`); the JS kernel skips them.
   */
  pre?: number;
}

type KernelFn = (
  x: TypedArray,
  out: TypedArray,
  P: number,
  T: Int32Array[],
  scr: Float64Array,
  D: TypedArray | null,
) => void;

interface Plan {
  fn: KernelFn;
  /** input cells per plane */
  S: number;
  /** output cells per plane */
  O: number;
  tables: Int32Array[];
  A: AxisInfo;
  B: AxisInfo;
  C: AxisInfo;
}

function geometryKey(axes: WindowAxis[]): string {
  return axes.map((a) => `${a.size}:${a.dilation}:${a.starts.join(",")}:${a.counts.join(",")}`).join("|");
}

const plans = new Map<string, Plan>();
const MAX_UNROLL = 64;

function plan(mode: Mode, axes: WindowAxis[], opts: Options = {}): Plan {
  const key = `${mode}|${opts.div ? 1 : 0}|${opts.f32 ? 1 : 0}|${opts.pre ?? 0}|${geometryKey(axes)}`;
  let p = plans.get(key);
  if (!p) {
    p = build(mode, axes, opts);
    if (plans.size > 256) plans.delete(plans.keys().next().value!);
    plans.set(key, p);
  }
  return p;
}

/** True when no input cell lies in two windows and no window is empty (a scatter needs no accumulator). */
function disjoint(axes: AxisInfo[]): boolean {
  return axes.every((a) => {
    for (let o = 0; o < a.O; o++) if (a.lo[o] >= a.hi[o]) return false;
    if (a.O <= 1) return true;
    if (!a.regular) return false;
    return a.d === 1 ? a.s >= a.k : a.k === 1 || a.s >= (a.k - 1) * a.d + 1;
  });
}

/** Build the kernel source for one mode and geometry. */
function build(mode: Mode, axesIn: WindowAxis[], opts: Options): Plan {
  const lifted = [...Array(3 - axesIn.length).fill(TRIVIAL), ...axesIn] as WindowAxis[];
  const [A, B, C] = lifted.map(axisInfo);
  const S = A.L * B.L * C.L, O = A.O * B.O * C.O;
  const LBC = B.L * C.L, LC = C.L;
  const tables = [A.starts, A.lo, A.hi, B.starts, B.lo, B.hi, C.starts, C.lo, C.hi];
  const K = A.k * B.k * C.k;
  const unroll = A.regular && B.regular && C.regular && K <= MAX_UNROLL && C.ihi > C.ilo;
  const FR = (e: string) => (opts.f32 ? `Math.fround(${e})` : e);
  const isMax = mode === "argmax" || mode === "max";
  const scatter = mode === "sumT";
  const L: string[] = [];
  const push = (s: string) => L.push(s);
  push(
    `const aS = T[0], aLo = T[1], aHi = T[2], bS = T[3], bLo = T[4], bHi = T[5], cS = T[6], cLo = T[7], cHi = T[8];`,
  );
  // What a cell does once its argmax is known.
  const finishMax = (arg: string): string => {
    const j = `(${arg} < 0 ? ${arg} + ${S} : ${arg})`;
    return mode === "argmax" ? `out[o] = ${arg};` : `out[o] = x[xb + ${j}];`;
  };
  const sumOut = (s: string) => (opts.div ? `out[o] = ${FR(s)} / D[o - ob0];` : `out[o] = ${s};`);
  const gvalue = opts.div ? FR(`x[o] / D[o - ob0]`) : `x[o]`;
  // One output cell, checked taps over the per-axis tables.
  const generic = (): string[] => {
    const g: string[] = [];
    g.push(`{ const sc = cS[oc], lc = cLo[oc], hc = cHi[oc];`);
    if (mode === "sum") g.push(`let s = 0;`);
    if (isMax) g.push(`let best = -Infinity, arg = -1;`);
    if (mode === "sumT") g.push(`const gv = ${gvalue};`);
    g.push(`for (let ta = la; ta < ha; ta++) { const ra = (sa + ta * ${A.d}) * ${B.L};`);
    g.push(`for (let tb = lb; tb < hb; tb++) { const rb = (ra + sb + tb * ${B.d}) * ${LC} + sc;`);
    if (mode === "sum") {
      // the reference's row-by-row sum: r over the row's taps, then s += r
      g.push(`if (lc < hc) { let r = x[xb + rb + lc * ${C.d}];`);
      g.push(`for (let tc = lc + 1; tc < hc; tc++) r += x[xb + rb + tc * ${C.d}];`);
      g.push(`s += r; } } }`);
      g.push(sumOut("s"), `}`);
      return g;
    }
    g.push(`for (let tc = lc; tc < hc; tc++) { const i = rb + tc * ${C.d};`);
    if (isMax) {
      g.push(`const v = x[xb + i]; if (arg < 0 || v > best || (v !== v && best === best)) { best = v; arg = i; }`);
    }
    if (mode === "sumT") g.push(`scr[i] += gv;`);
    g.push(`} } }`);
    if (isMax) g.push(finishMax("arg"));
    g.push(`}`);
    return g;
  };
  // Unrolled interior cell; w = plane-local position of tap (0,0,0).
  const offsets: number[] = [];
  for (let ta = 0; ta < A.k; ta++) {
    for (let tb = 0; tb < B.k; tb++) {
      for (let tc = 0; tc < C.k; tc++) offsets.push(ta * A.d * LBC + tb * B.d * LC + tc * C.d);
    }
  }
  const off = (k: number) => (k === 0 ? "" : ` + ${k}`);
  const interior = (): string[] => {
    const g: string[] = [];
    if (mode === "sum") {
      const rows = Array.from({ length: K / C.k }, (_, r) => offsets.slice(r * C.k, (r + 1) * C.k));
      const row = (ks: number[]) => `(${ks.map((k) => `x[q${off(k)}]`).join(" + ")})`;
      g.push(`{ const q = xb + w; const s = 0${rows.map((ks) => ` + ${row(ks)}`).join("")}; ${sumOut("s")} }`);
    } else if (isMax) {
      g.push(`{ const q = xb + w; let best = x[q${off(offsets[0])}], arg = ${offsets[0]}, v;`);
      for (let t = 1; t < offsets.length; t++) {
        g.push(
          `v = x[q${off(offsets[t])}]; if (v > best || (v !== v && best === best)) { best = v; arg = ${offsets[t]}; }`,
        );
      }
      g.push(`${finishMax("(w + arg)")} }`);
    } else {
      g.push(`{ const gv = ${gvalue};${offsets.map((k) => ` scr[w${off(k)}] += gv;`).join("")} }`);
    }
    return g;
  };
  push(`for (let p = 0; p < P; p++) {`);
  push(`const xb = p * ${S}, ob0 = p * ${O}; let o = ob0;`);
  if (scatter) push(`scr.fill(0, 0, ${S});`);
  push(`for (let oa = 0; oa < ${A.O}; oa++) { const sa = aS[oa], la = aLo[oa], ha = aHi[oa];`);
  push(`for (let ob = 0; ob < ${B.O}; ob++) { const sb = bS[ob], lb = bLo[ob], hb = bHi[ob];`);
  if (unroll) {
    push(`if (oa >= ${A.ilo} && oa < ${A.ihi} && ob >= ${B.ilo} && ob < ${B.ihi}) {`);
    push(`let oc = 0;`);
    push(`for (; oc < ${C.ilo}; oc++, o++) {`);
    L.push(...generic());
    push(`}`);
    push(`let w = (sa * ${B.L} + sb) * ${LC} + ${C.s0} + oc * ${C.s};`);
    const pre = 4 * (opts.pre ?? 0);
    if (pre > 0) push(`oc += ${pre}; o += ${pre}; w += ${pre * C.s};`);
    push(`for (; oc < ${C.ihi}; oc++, o++, w += ${C.s}) {`);
    L.push(...interior());
    push(`}`);
    push(`for (; oc < ${C.O}; oc++, o++) {`);
    L.push(...generic());
    push(`}`);
    push(`} else {`);
  }
  push(`for (let oc = 0; oc < ${C.O}; oc++, o++) {`);
  L.push(...generic());
  push(`}`);
  if (unroll) push(`}`);
  push(`} }`);
  if (scatter) push(`out.set(scr.subarray(0, ${S}), xb);`);
  push(`}`);
  const fn = new Function("x", "out", "P", "T", "scr", "D", L.join("\n")) as KernelFn;
  return { fn, S, O, tables, A, B, C };
}

let scratch = new Float64Array(4096);

/**
 * Run one window kernel: `x` is the window input (the cotangent for sumT),
 * `D` the per-cell divisor. Float32 sum / max / argmax run the interior 4-cell
 * groups in wasm SIMD when the geometry allows, the rest in JS; sumT runs in
 * wasm as a stride-1 window sum or a scatter.
 */
function runWindow(
  mode: Mode,
  axes: WindowAxis[],
  dtype: Node["dtype"],
  x: TypedArray,
  opts: Options = {},
  D: TypedArray | null = null,
): TypedArray {
  let p = plan(mode, axes, opts);
  const inner = mode === "sumT" ? p.O : p.S;
  const P = inner === 0 ? 0 : x.length / inner, n = P * (mode === "sumT" ? p.S : p.O);
  if (scratch.length < p.S) scratch = new Float64Array(p.S);
  if (P === 0) return allocate(dtype, n);
  if (mode === "sumT" && x instanceof Float32Array && dtype === "float32" && useWasm) {
    // stride 1: a window sum over the transposed geometry; else a scatter
    const tAxes = transposedAxes(axes);
    const wk = tAxes
      ? wasmKernel("sum", tAxes, plan("sum", tAxes), opts.div ? "pre" : "none", "fold")
      : scatterKernel(axes, p, opts.div === true);
    const res = wk?.complete ? wk.run(x, P, D, true, false) : null;
    if (res) {
      res.keep();
      return res.out;
    }
  }
  let out: TypedArray | null = null;
  if (mode !== "sumT" && x instanceof Float32Array && dtype === (mode === "argmax" ? "int32" : "float32") && useWasm) {
    const wk = wasmKernel(mode, axes, p, opts.div ? "post" : "none");
    const res = wk ? wk.run(x, P, D, wk.complete, mode === "argmax") : null;
    if (wk && res) {
      if (wk.complete) {
        res.keep();
        return res.out;
      }
      out = res.out;
      p = plan(mode, axes, { ...opts, pre: wk.groups });
    }
  }
  out ??= allocate(dtype, n);
  p.fn(x, out, P, p.tables, scratch, D);
  return out;
}

/** The window argmax of x and the maxima at it from one wasm kernel; null when no complete wasm kernel applies. */
function argmaxWithMaxima(axes: WindowAxis[], x: Float32Array): { indices: Int32Array; maxima: Float32Array } | null {
  const p = plan("argmax", axes), P = p.S === 0 ? 0 : x.length / p.S;
  if (!useWasm || P === 0) return null;
  const wk = wasmKernel("argmax", axes, p, "none", "rows", true);
  const res = wk?.complete ? wk.run(x, P, null, false, true) : null;
  return res?.maxima ? { indices: res.out as Int32Array, maxima: res.maxima } : null;
}

/**
 * windowSumT of a stride-1 window as a windowSum: input position i collects
 * the cells o = i − s0 − t·d, i.e. the window of cell i' in a geometry of
 * input size O with start i − s0 − (k−1)·d and the taps reversed, so taps in
 * order visit the cells in increasing order, as the reference accumulates
 * them. Null unless every axis is regular with stride 1 (or one cell).
 */
function transposedAxes(axes: WindowAxis[]): WindowAxis[] | null {
  const out: WindowAxis[] = [];
  for (const a of axes) {
    const info = axisInfo(a);
    if (!info.regular || (info.s !== 1 && info.O !== 1)) return null;
    const shift = info.s0 + (info.k - 1) * info.d;
    out.push({
      size: info.O,
      starts: Int32Array.from({ length: info.L }, (_, i) => i - shift),
      counts: new Int32Array(info.L).fill(info.k),
      dilation: info.d,
    });
  }
  return out;
}

/**
 * out[p, j] = base + Σ g[p, o] over cells o (in order) whose argmax is j,
 * accumulated in double like the reference scatterAdd; `out` holds `base`.
 */
function scatterAt(
  out: Float32Array,
  R: Int32Array,
  g: TypedArray,
  P: number,
  S: number,
  O: number,
  base: number,
  direct: boolean,
): void {
  if (direct) {
    for (let p = 0, o = 0; p < P; p++) {
      const xb = p * S;
      for (const e = o + O; o < e; o++) out[xb + R[o]] = base + g[o];
    }
    return;
  }
  for (let p = 0, o = 0; p < P; p++) {
    scratch.fill(base, 0, S);
    for (const e = o + O; o < e; o++) scratch[R[o]] += g[o];
    out.set(scratch.subarray(0, S), p * S);
  }
}

/** The generated source of one window kernel (for tests and debugging). */
export function _windowKernelSource(mode: Mode, axes: WindowAxis[], opts: Options = {}): string {
  return plan(mode, axes, opts).fn.toString();
}

const axesOf = (node: Node): WindowAxis[] => (node as Node<"windowSum">).params.axes;
registerKernel("wasm", "windowSum", (node, [x]) => runWindow("sum", axesOf(node), node.dtype, x));
registerKernel("wasm", "windowSumT", (node, [g]) => runWindow("sumT", axesOf(node), node.dtype, g));
registerKernel("wasm", "windowArgmax", (node, [x]) => runWindow("argmax", axesOf(node), "int32", x));

// ---------------------------------------------------------------- wasm SIMD
//
// For float32 windows whose three axes are regular, a wasm module per
// geometry computes the interior cells of each interior row, four adjacent
// cells per step (lanes = cells along the last axis; each tap is one v128
// load for stride 1, two loads and a shuffle for stride 2, lane inserts
// otherwise). Sums accumulate in two f64x2 registers from +0 in tap order and
// round once (the reference's double accumulator); with a divisor the sum is
// rounded to f32 first, then divided in double and rounded (the fused JS
// divide). Max keeps the first maximum with the reference's NaN rule by
// compare-and-select, so the value is the bit pattern of the chosen element;
// argmax selects the plane-local index the same way.

let useWasm = HAS_SIMD;

/** Turn the wasm SIMD window path off or on (tests compare both against the reference). */
export function _useWasmWindows(on: boolean): void {
  useWasm = on && HAS_SIMD;
}

const SHUF_EVEN = [0, 2, 4, 6], SHUF_HIGH = [2, 3, 2, 3], SHUF_LOWS = [0, 1, 4, 5]; // f32 lanes

// The work function of one job, on the calling thread and in the workers
// (thread t of T takes a contiguous range of planes). A job names its module
// by id; a thread that has not seen the id compiles the module from the bytes
// the job left in the shared memory. params: [id, codePtr, codeLen, P, Sp, S,
// O, rawPtr, xPtr, outPtr, dPtr, scratchPtr, scratchBytes, vOff] (Sp and O: the
// run's input and output floats per plane; share t's scratch at scratchPtr +
// t·scratchBytes: the scatter kernels' double plane, the row sums of a sum;
// vOff: bytes from the argmax indices to the maxima an argmax kernel also
// stores, or from the indices to the cotangent of a dense scatter; params[14]:
// bytes from a dense scatter's results to its mask).
const WORK_SETUP = `${HEAP_MODULES}
  return (params, t, T) => {
    const ex = heapModule(params[0], params[1], params[2]);
    const P = params[3], p0 = Math.floor((P * t) / T), p1 = Math.floor((P * (t + 1)) / T);
    if (p1 <= p0) return;
    const Sp = params[4], S = params[5], O = params[6];
    const x = params[8] + p0 * Sp * 4;
    if (ex.prediv) ex.prediv(p1 - p0, params[7] + p0 * S * 4, params[10]);
    if (ex.pad) ex.pad(p1 - p0, params[7] + p0 * S * 4, x);
    ex.run(p1 - p0, x, params[9] + p0 * O * 4, params[10], params[11] + t * params[12], params[13], params[14]);
  };
`;

let localWork: ((params: Float64Array, t: number, T: number) => void) | null = null;
const localParams = new Float64Array(16);
const windowPool = heapModulePool(WORK_SETUP);
/**
 * Tap-cells (cells × taps) below which a window kernel stays on the calling
 * thread (adaptive 13→6 average on 8×256 planes, 663K, runs ~30% faster on two).
 */
export const WINDOW_THREAD_MIN_WORK = 1 << 18;
/** Tunables (tests lower the threading threshold). */
export const windowTuning: { threadMinWork: number } = { threadMinWork: WINDOW_THREAD_MIN_WORK };

/** The threads of a job over P planes of `work` tap-cells: the pool from `windowTuning.threadMinWork` on. */
function jobThreads(P: number, work: number): { T: number; pool: WasmThreadPool | null; shares: number } {
  const T = Math.min(getNumThreads(), P), pool = work >= windowTuning.threadMinWork ? windowPool.get(T) : null;
  return { T, pool, shares: pool ? sharesOf(P, T) : 1 };
}

/**
 * Run a window job: module `id` from its `code` written at byte `codePtr`, then
 * `params` (WORK_SETUP's, from P on); a fresh copy of its results `view`.
 */
function runJob<A extends Float32Array | Int32Array>(
  job: { T: number; pool: WasmThreadPool | null; shares: number },
  id: number,
  code: Uint8Array,
  codePtr: number,
  params: number[],
  view: A,
): A {
  const heap = wasmHeap();
  new Uint8Array(heap.buffer, codePtr, code.length).set(code);
  const p = job.pool ? job.pool.params : localParams;
  p.set([id, codePtr, code.length, ...params]);
  localWork ??= new Function("exports", "memory", WORK_SETUP)(null, heap) as typeof localWork;
  return runThenCopyOut(job.pool, job.T, job.shares, (s, S) => localWork!(p, s, S), view);
}

/** The n values at byte `at` of the heap (int32 argmax indices, else float32). */
function heapView(int: boolean, at: number, n: number): Float32Array | Int32Array {
  return int ? new Int32Array(wasmHeap().buffer, at, n) : new Float32Array(wasmHeap().buffer, at, n);
}

/** Stop the window kernels' worker threads (they restart on the next large kernel). */
export function _shutdownWindowThreads(): void {
  windowPool.close();
}
onShutdownThreads(_shutdownWindowThreads);

let nextModuleId = 1;

interface WasmKernel {
  /** every cell computed (no JS pass needed); else only the first `groups` 4-cell groups of interior rows */
  complete: boolean;
  /** 4-cell groups per interior row (when not complete) */
  groups: number;
  /**
   * Run on the P planes of x; `out` is a fresh copy of the results (int32
   * with `int`, else float32), and `keep()` records it as resident (with
   * `resident`, which puts the results in a resident slot when the ring takes
   * them). Null when the heap cannot hold the job.
   */
  run(
    x: Float32Array,
    P: number,
    D: TypedArray | null,
    resident: boolean,
    int: boolean,
  ): { out: Float32Array | Int32Array; maxima?: Float32Array; keep(): void } | null;
}

const wasmKernels = new Map<string, WasmKernel | null>();

/** The kernel cached under `key` in `cache`, built on first use (null, also cached, when it cannot be built). */
function cachedIn<K>(cache: Map<string, K | null>, key: string, build: () => K | null): K | null {
  let k = cache.get(key);
  if (k === undefined) {
    try {
      k = build();
    } catch {
      k = null;
    }
    if (cache.size > 256) cache.delete(cache.keys().next().value!);
    cache.set(key, k);
  }
  return k;
}

const cachedKernel = (key: string, build: () => WasmKernel | null) => cachedIn(wasmKernels, key, build);

/** "post": divide each cell's sum by D[cell]; "pre": divide each input by D[position] first. */
type DivMode = "none" | "post" | "pre";
/**
 * How a wasm window sum adds its taps: "rows" as the windowSum reference (row
 * sums, then the rows from 0); "fold" one tap after the other from 0, as the
 * windowSumT reference accumulates the cells of a transposed window.
 */
type SumOrder = "rows" | "fold";

function wasmKernel(
  mode: "sum" | "max" | "argmax",
  axes: WindowAxis[],
  p: Plan,
  divMode: DivMode,
  order: SumOrder = "rows",
  maxima = false,
): WasmKernel | null {
  const key = `${mode}|${divMode}|${mode === "sum" ? order : ""}|${maxima}|${geometryKey(axes)}`;
  return cachedKernel(key, () => buildWasm(mode, p, divMode, order, maxima));
}

/**
 * Emit `for (i = from; i < to; i++) body()` as a loop that runs at least once
 * (to > from); `to` a constant, or code that pushes it.
 */
function countUp(f: FuncBuilder, i: number, from: number, to: number | (() => void), body: () => void): void {
  f.i32(from).set(i);
  f.loop();
  body();
  f.get(i).i32(1).op(Op.i32_add).tee(i);
  if (typeof to === "number") f.i32(to);
  else to();
  f.op(Op.i32_lt_s).brIf(0);
  f.end();
}

/** Padding a regular axis needs so that every tap of every cell lies inside: [before, after]. */
function padsOf(a: AxisInfo): [number, number] {
  const last = a.s0 + (a.O - 1) * a.s + (a.k - 1) * a.d;
  return [Math.max(0, -a.s0), Math.max(0, last - (a.L - 1))];
}

/**
 * Two layouts. "full": the input is copied into a padded plane layout (pad
 * value 0 for sums, −∞ for max; a padded tap then leaves the double sum and
 * the chosen value unchanged; argmax only when no padding is needed, since
 * its indices are positions in the unpadded plane), every cell is computed,
 * and a row whose cell count is not a multiple of 4 ends with a group that
 * overlaps the previous one. "interior": the unpadded input, only the
 * interior cells of interior rows in whole groups; the JS kernel does the
 * rest.
 */
function buildWasm(
  mode: "sum" | "max" | "argmax",
  p: Plan,
  divMode: DivMode,
  order: SumOrder,
  maxima: boolean,
): WasmKernel | null {
  const { A, B, C, S, O } = p;
  const div = divMode === "post";
  if (!(A.regular && B.regular && C.regular)) return null;
  const K = A.k * B.k * C.k;
  if (K > MAX_UNROLL || K === 0) return null;
  const pads = [A, B, C].map(padsOf);
  const padded = pads.some(([lo, hi]) => lo > 0 || hi > 0);
  const full = C.O >= 4 && (mode !== "argmax" || !padded);
  const groups = full ? Math.ceil(C.O / 4) : Math.floor((C.ihi - C.ilo) / 4);
  if (!full && (groups < 1 || A.ihi <= A.ilo || B.ihi <= B.ilo)) return null;
  const [LA, LB, LC] = full ? [A, B, C].map((a, i) => a.L + pads[i][0] + pads[i][1]) : [A.L, B.L, C.L];
  const Sp = LA * LB * LC;
  const [oa0, oa1, ob0, ob1, oc0] = full ? [0, A.O, 0, B.O, 0] : [A.ilo, A.ihi, B.ilo, B.ihi, C.ilo];
  // plane-local position of tap (0,0,0) of cell (oa, ob, oc0): ((sA0 + oa·sA)·LB + sB0 + ob·sB)·LC + sC0 + oc0·sC
  const [sA0, sB0, sC0] = full ? [A.s0 + pads[0][0], B.s0 + pads[1][0], C.s0 + pads[2][0]] : [A.s0, B.s0, C.s0];
  const sC = C.s;
  const offsets: number[] = [];
  for (let ta = 0; ta < A.k; ta++) {
    for (let tb = 0; tb < B.k; tb++) {
      for (let tc = 0; tc < C.k; tc++) offsets.push(ta * A.d * LB * LC + tb * B.d * LC + tc * C.d);
    }
  }
  // Row sums shared: when the windows overlap along A or B enough, all row sums of a plane first (each once), then
  // each cell adds its rows; else each cell sums its own rows.
  const rows = mode === "sum" && order === "rows", RK = A.k * B.k, rowBytes = C.O * 8;
  const shared = rows && full && C.k > 1 && RK > 1 && LA * LB * rowBytes <= 1 << 20 &&
    LA * LB * C.k + A.O * B.O * RK <= 0.75 * A.O * B.O * K;
  const m = importHeap(new ModuleBuilder());
  // run(P, xPtr, outPtr, dPtr, rPtr, vOff): x (padded layout when full) at xPtr, results at outPtr, divisor at
  // dPtr, a plane's row sums at rPtr; with `maxima`, an argmax kernel also stores each cell's maximum vOff bytes
  // after its index
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const [Pp, xPtr, outPtr, dPtr, rPtr, vOff] = [0, 1, 2, 3, 4, 5];
  const pl = f.local(I32), oa = f.local(I32), ob = f.local(I32), j = f.local(I32), rp = f.local(I32);
  const addr = f.local(I32), optr = f.local(I32), dptr = f.local(I32), xbase = f.local(I32), obase = f.local(I32);
  const wv = f.local(V128), v = f.local(V128), mask = f.local(V128);
  const vconst = (bytes: number[]) => f.simd(Simd.v128_const).emit(...bytes);
  const i32x4 = (a: number[]) => vconst([...new Uint8Array(Int32Array.from(a).buffer)]);
  const shuffle = (lanes: number[]) => f.shuffle32(lanes);
  const loadTap = (off: number) => {
    const b = off * 4;
    if (sC === 1) f.get(addr).simdMem(Simd.v128_load, 0, b);
    else if (sC === 2) {
      f.get(addr).simdMem(Simd.v128_load, 0, b).get(addr).simdMem(Simd.v128_load, 0, b + 16);
      shuffle(SHUF_EVEN);
    } else {
      f.get(addr).simdMem(Simd.v128_load32_zero, 0, b);
      for (let l = 1; l < 4; l++) f.get(addr).mem(Op.f32_load, 0, b + 4 * l * sC).simd(Simd.f32x4_replace_lane).emit(l);
    }
  };
  // n groups of 4 cells at addr / optr / dptr (wv = the first group's tap-(0,0,0) positions for argmax), group g
  // 4·g cells on; their taps interleaved so that the groups' dependency chains overlap
  const slots = [0, 1].map(() => ({
    lo: f.local(V128),
    hi: f.local(V128),
    rlo: f.local(V128),
    rhi: f.local(V128),
    best: f.local(V128),
    idx: f.local(V128),
  }));
  type Slot = (typeof slots)[number];
  const cell = (g: number) => 4 * g * sC;
  const add = (dst: number, first: boolean) => {
    if (!first) f.get(dst).simd(Simd.f64x2_add);
    f.set(dst);
  };
  // the 4 cells' tap at `off` as doubles into lo / hi (set when first, else added)
  const addTap = (off: number, lo: number, hi: number, first: boolean) => {
    if (sC === 1) {
      // two cells per 64-bit load, promoted straight from memory (x64: one cvtps2pd from memory per pair;
      // ~20% faster than a 128-bit load, a shuffle for the high pair and two promotes)
      f.get(addr).simdMem(Simd.v128_load64_zero, 0, off * 4).simd(Simd.f64x2_promote_low_f32x4);
      add(lo, first);
      f.get(addr).simdMem(Simd.v128_load64_zero, 0, off * 4 + 8).simd(Simd.f64x2_promote_low_f32x4);
      add(hi, first);
      return;
    }
    loadTap(off);
    f.tee(v).simd(Simd.f64x2_promote_low_f32x4);
    add(lo, first);
    f.get(v).get(v);
    shuffle(SHUF_HIGH);
    f.simd(Simd.f64x2_promote_low_f32x4);
    add(hi, first);
  };
  // row r's sum (taps r·C.k …) into rlo / rhi
  const sumRow = (gs: Slot[], r: number) => {
    for (let tc = 0; tc < C.k; tc++) {
      gs.forEach(({ rlo, rhi }, g) => addTap(offsets[r * C.k + tc] + cell(g), rlo, rhi, tc === 0));
    }
  };
  // f32(s) / D rounded once: an f32 division is the double quotient rounded (53 ≥ 2·24 + 2 bits), so one
  // f32x4.div replaces two f64x2 ones bit for bit
  const storeSums = (gs: Slot[]) =>
    gs.forEach(({ lo, hi }, g) => {
      f.get(optr);
      f.get(lo).simd(Simd.f32x4_demote_f64x2_zero).get(hi).simd(Simd.f32x4_demote_f64x2_zero);
      shuffle(SHUF_LOWS);
      if (div) f.get(dptr).simdMem(Simd.v128_load, 0, 16 * g).simd(Simd.f32x4_div);
      f.simdMem(Simd.v128_store, 0, 16 * g);
    });
  const group = (n: number) => {
    const gs = slots.slice(0, n);
    if (mode === "sum") {
      for (const { lo, hi } of gs) f.v128Zero().set(lo).v128Zero().set(hi);
      if (rows) {
        for (let r = 0; r < RK; r++) {
          sumRow(gs, r);
          gs.forEach(({ lo, hi, rlo, rhi }) => {
            f.get(rlo);
            add(lo, false);
            f.get(rhi);
            add(hi, false);
          });
        }
      } else for (const off of offsets) gs.forEach(({ lo, hi }, g) => addTap(off + cell(g), lo, hi, false));
      storeSums(gs);
      return;
    }
    gs.forEach(({ best, idx }, g) => {
      loadTap(offsets[0] + cell(g));
      f.set(best);
      if (mode === "argmax") {
        f.get(wv);
        i32x4(Array(4).fill(offsets[0] + cell(g)));
        f.simd(Simd.i32x4_add).set(idx);
      }
    });
    for (let t = 1; t < offsets.length; t++) {
      gs.forEach(({ best, idx }, g) => {
        loadTap(offsets[t] + cell(g));
        // mask = v > best | (v ≠ v & !(best ≠ best))
        f.tee(v).get(best).simd(Simd.f32x4_gt);
        f.get(v).get(v).simd(Simd.f32x4_ne).get(best).get(best).simd(Simd.f32x4_ne).simd(Simd.v128_andnot);
        f.simd(Simd.v128_or).set(mask);
        f.get(v).get(best).get(mask).simd(Simd.v128_bitselect).set(best);
        if (mode === "argmax") {
          f.get(wv);
          i32x4(Array(4).fill(offsets[t] + cell(g)));
          f.simd(Simd.i32x4_add).get(idx).get(mask).simd(Simd.v128_bitselect).set(idx);
        }
      });
    }
    gs.forEach(({ best, idx }, g) => {
      f.get(optr).get(mode === "argmax" ? idx : best).simdMem(Simd.v128_store, 0, 16 * g);
      if (maxima) f.get(optr).get(vOff).op(Op.i32_add).get(best).simdMem(Simd.v128_store, 0, 16 * g);
    });
  };
  // advance addr / optr / dptr / wv by `cells` cells along C
  const advance = (cells: number) => {
    f.get(addr).i32(4 * cells * sC).op(Op.i32_add).set(addr);
    f.get(optr).i32(4 * cells).op(Op.i32_add).set(optr);
    if (div) f.get(dptr).i32(4 * cells).op(Op.i32_add).set(dptr);
    if (mode === "argmax") {
      f.get(wv);
      i32x4([cells * sC, cells * sC, cells * sC, cells * sC]);
      f.simd(Simd.i32x4_add).set(wv);
    }
  };
  // along C: pairs of groups, then the odd one, then (rest > 0) a last group overlapping the previous one
  const alongC = (whole: number, rest: number, step: (n: number) => void, adv: (cells: number) => void) => {
    const pairs = Math.floor(whole / 2);
    if (pairs > 0) {
      f.i32(pairs).set(j);
      f.loop();
      step(2);
      adv(8);
      f.get(j).i32(1).op(Op.i32_sub).tee(j).brIf(0);
      f.end(); // j
    }
    if (whole % 2 === 1) {
      step(1);
      adv(4);
    }
    if (rest > 0) {
      adv(rest - 4);
      step(1);
    }
  };
  const count = (i: number, from: number, to: number, body: () => void) => countUp(f, i, from, to, body);
  const whole = full ? Math.floor(C.O / 4) : groups, rest = full ? C.O - 4 * whole : 0;
  f.i32(0).set(pl);
  f.loop();
  f.get(pl).i32(Sp * 4).op(Op.i32_mul).get(xPtr).op(Op.i32_add).set(xbase);
  f.get(pl).i32(O * 4).op(Op.i32_mul).get(outPtr).op(Op.i32_add).set(obase);
  if (shared) {
    // the plane's row sums: R[rr][oc] = Σ_tc x[rr][sC0 + oc·sC + tc·dC] (f64) at rPtr + (rr·C.O + oc)·8
    const rowOffsets: number[] = [];
    for (let ta = 0; ta < A.k; ta++) {
      for (let tb = 0; tb < B.k; tb++) rowOffsets.push((ta * A.d * LB + tb * B.d) * rowBytes);
    }
    count(oa, 0, LA * LB, () => {
      f.get(oa).i32(LC).op(Op.i32_mul).i32(sC0).op(Op.i32_add).i32(4).op(Op.i32_mul).get(xbase).op(Op.i32_add);
      f.set(addr);
      f.get(oa).i32(rowBytes).op(Op.i32_mul).get(rPtr).op(Op.i32_add).set(rp);
      alongC(whole, rest, (n) => {
        const gs = slots.slice(0, n);
        sumRow(gs, 0);
        gs.forEach(({ rlo, rhi }, g) => {
          f.get(rp).get(rlo).simdMem(Simd.v128_store, 0, 32 * g);
          f.get(rp).get(rhi).simdMem(Simd.v128_store, 0, 32 * g + 16);
        });
      }, (cells) => {
        f.get(addr).i32(4 * cells * sC).op(Op.i32_add).set(addr);
        f.get(rp).i32(8 * cells).op(Op.i32_add).set(rp);
      });
    });
    // each cell: s = 0 + its rows' sums in row-major order
    count(oa, 0, A.O, () => {
      count(ob, 0, B.O, () => {
        f.get(oa).i32(A.s).op(Op.i32_mul).i32(sA0).op(Op.i32_add).i32(LB).op(Op.i32_mul);
        f.get(ob).i32(B.s).op(Op.i32_mul).op(Op.i32_add).i32(sB0).op(Op.i32_add).i32(rowBytes).op(Op.i32_mul);
        f.get(rPtr).op(Op.i32_add).set(rp);
        f.get(oa).i32(B.O).op(Op.i32_mul).get(ob).op(Op.i32_add).i32(C.O * 4).op(Op.i32_mul).tee(dptr);
        f.get(obase).op(Op.i32_add).set(optr);
        f.get(dptr).get(dPtr).op(Op.i32_add).set(dptr);
        alongC(whole, rest, (n) => {
          const gs = slots.slice(0, n);
          for (const { lo, hi } of gs) f.v128Zero().set(lo).v128Zero().set(hi);
          for (const ro of rowOffsets) {
            gs.forEach(({ lo, hi }, g) => {
              f.get(rp).simdMem(Simd.v128_load, 0, ro + 32 * g);
              add(lo, false);
              f.get(rp).simdMem(Simd.v128_load, 0, ro + 32 * g + 16);
              add(hi, false);
            });
          }
          storeSums(gs);
        }, (cells) => {
          f.get(rp).i32(8 * cells).op(Op.i32_add).set(rp);
          f.get(optr).i32(4 * cells).op(Op.i32_add).set(optr);
          if (div) f.get(dptr).i32(4 * cells).op(Op.i32_add).set(dptr);
        });
      });
    });
  } else {
    count(oa, oa0, oa1, () => {
      count(ob, ob0, ob1, () => {
        f.get(oa).i32(A.s).op(Op.i32_mul).i32(sA0).op(Op.i32_add).i32(LB).op(Op.i32_mul);
        f.get(ob).i32(B.s).op(Op.i32_mul).op(Op.i32_add).i32(sB0).op(Op.i32_add).i32(LC).op(Op.i32_mul);
        f.i32(sC0 + oc0 * sC).op(Op.i32_add);
        if (mode === "argmax") {
          f.tee(j).simd(Simd.i32x4_splat);
          i32x4([0, sC, 2 * sC, 3 * sC]);
          f.simd(Simd.i32x4_add).set(wv);
          f.get(j);
        }
        f.i32(4).op(Op.i32_mul).get(xbase).op(Op.i32_add).set(addr);
        f.get(oa).i32(B.O).op(Op.i32_mul).get(ob).op(Op.i32_add).i32(C.O).op(Op.i32_mul).i32(oc0).op(Op.i32_add);
        f.i32(4).op(Op.i32_mul).tee(dptr).get(obase).op(Op.i32_add).set(optr);
        f.get(dptr).get(dPtr).op(Op.i32_add).set(dptr);
        alongC(whole, rest, group, advance);
      });
    });
  }
  f.get(pl).i32(1).op(Op.i32_add).tee(pl).get(Pp).op(Op.i32_lt_s).brIf(0);
  f.end(); // p
  m.func(f, "run");
  if (full && padded) m.func(padFunction(A.L, B.L, C.L, LA, LB, LC, pads, mode === "sum" ? 0 : -Infinity), "pad");
  if (divMode === "pre") m.func(predivFunction(S), "prediv");
  const code = m.bytes(), id = nextModuleId++;
  new WebAssembly.Module(code); // validate now: an invalid module turns the wasm path off for this geometry
  const hasPad = full && padded;
  return {
    complete: full,
    groups,
    run(x, P, D, resident, int) {
      // [padded x][raw x][results (indices, then maxima)][divisor][row sums per share][module bytes], 16-byte
      // aligned; the maxima are not kept resident (a slot holds the indices alone)
      const al = (n: number) => (n + 15) & ~15;
      const job = jobThreads(P, P * O * K), rBytes = shared ? al(LA * LB * rowBytes) : 0;
      const xPtr = 0, rawPtr = hasPad ? al(P * Sp * 4) : 0, vBytes = maxima ? P * O * 4 : 0;
      const nD = divMode === "post" ? O : divMode === "pre" ? S : 0;
      const outPtr = al(rawPtr + P * S * 4), dPtr = al(outPtr + P * O * 4 + vBytes), rPtr = al(dPtr + nD * 4);
      const codePtr = rPtr + job.shares * rBytes;
      const mm = growWasmHeap(codePtr + code.length + 16);
      if (!mm) return null; // too large for the heap: the JS kernel does it
      const raw = placeInHeap(x, rawPtr), slot = resident && !maxima ? outputSlot(P * O * 4) : null;
      const o = slot?.at ?? outPtr;
      if (nD > 0) new Float32Array(mm.buffer, dPtr, nD).set(D!);
      const params = [P, Sp, S, O, raw, hasPad ? xPtr : raw, o, dPtr, rPtr, rBytes, vBytes];
      const out = runJob(job, id, code, codePtr, params, heapView(int, o, P * O));
      const values = maxima ? copyOut(new Float32Array(mm.buffer, o + vBytes, P * O)) : undefined;
      return { out, maxima: values, keep: () => slot?.keep(out) };
    },
  };
}

/** The scatter kernel of a windowSumT (of `div(g, D)` with `div`). */
function scatterKernel(axes: WindowAxis[], p: Plan, div: boolean): WasmKernel | null {
  return cachedKernel(`scatter|${div}|${geometryKey(axes)}`, () => buildScatter(p, div));
}

/**
 * windowSumT of any regular geometry (strides, dilations, padding) as the
 * reference computes it: per plane, a zeroed double plane (padded so that
 * every tap lies inside), each cell's value (g, or the f32 quotient g / D)
 * added at its taps, cells in order, then the unpadded part rounded to f32.
 * Each share of planes has its own scratch in the heap (two planes' doubles,
 * interleaved: the kernel runs planes in pairs on f64x2 lanes).
 */
function buildScatter(p: Plan, div: boolean): WasmKernel | null {
  const { A, B, C, S, O } = p;
  if (!(A.regular && B.regular && C.regular)) return null;
  const K = A.k * B.k * C.k;
  if (K > MAX_UNROLL || K === 0 || O === 0 || S === 0) return null;
  const pads = [A, B, C].map(padsOf);
  const [LA, LB, LC] = [A, B, C].map((a, i) => a.L + pads[i][0] + pads[i][1]);
  const Sp = LA * LB * LC;
  const offsets: number[] = [];
  for (let ta = 0; ta < A.k; ta++) {
    for (let tb = 0; tb < B.k; tb++) {
      for (let tc = 0; tc < C.k; tc++) offsets.push(ta * A.d * LB * LC + tb * B.d * LC + tc * C.d);
    }
  }
  const m = importHeap(new ModuleBuilder());
  // run(P, xPtr, outPtr, dPtr, scrPtr): g [P][O] at xPtr, results [P][S] at outPtr, D [O] at dPtr. Planes go in
  // pairs, one per f64x2 lane (the scratch interleaves their double planes: each lane adds what the reference adds,
  // in its order), then a last odd plane alone.
  const f = new FuncBuilder([I32, I32, I32, I32, I32], []);
  const [Pp, xPtr, outPtr, dPtr, scr] = [0, 1, 2, 3, 4];
  const pl = f.local(I32), oa = f.local(I32), ob = f.local(I32), oc = f.local(I32), ia = f.local(I32);
  const xa = f.local(I32), da = f.local(I32), addr = f.local(I32), dst = f.local(I32), g = f.local(F64);
  const gv = f.local(V128), pr = f.local(I32);
  // for (i = 0; i < n; i++) body, n ≥ 1 a constant or pushed by n()
  const count = (i: number, n: number | (() => void), body: () => void) => countUp(f, i, 0, n, body);
  // plane pl (and pl + 1 with two), its g at xa
  const planes = (two: boolean) => {
    const W = two ? 16 : 8; // scratch bytes per position
    // a cell's value (g, or the f32 quotient g / D) in plane pl + k, as a double
    const value = (k: number) => {
      f.get(xa).mem(Op.f32_load, 2, k * O * 4);
      if (div) f.get(da).mem(Op.f32_load, 2).op(Op.f32_div);
      f.op(Op.f64_promote_f32);
    };
    f.get(scr).i32(0).i32(Sp * W).memoryFill();
    f.get(dPtr).set(da);
    count(oa, A.O, () => {
      count(ob, B.O, () => {
        // addr = scr + W·(((A.s0 + padA + oa·sA)·LB + B.s0 + padB + ob·sB)·LC + C.s0 + padC)
        f.get(oa).i32(A.s).op(Op.i32_mul).i32(A.s0 + pads[0][0]).op(Op.i32_add).i32(LB).op(Op.i32_mul);
        f.get(ob).i32(B.s).op(Op.i32_mul).op(Op.i32_add).i32(B.s0 + pads[1][0]).op(Op.i32_add);
        f.i32(LC).op(Op.i32_mul).i32(C.s0 + pads[2][0]).op(Op.i32_add).i32(W).op(Op.i32_mul);
        f.get(scr).op(Op.i32_add).set(addr);
        count(oc, C.O, () => {
          if (two) {
            value(0);
            f.simd(Simd.f64x2_splat);
            value(1);
            f.simd(Simd.f64x2_replace_lane).emit(1).set(gv);
            for (const off of offsets) {
              f.get(addr).get(addr).simdMem(Simd.v128_load, 3, off * W).get(gv).simd(Simd.f64x2_add);
              f.simdMem(Simd.v128_store, 3, off * W);
            }
          } else {
            value(0);
            f.set(g);
            for (const off of offsets) {
              f.get(addr).get(addr).mem(Op.f64_load, 3, off * W).get(g).op(Op.f64_add).mem(Op.f64_store, 3, off * W);
            }
          }
          f.get(addr).i32(C.s * W).op(Op.i32_add).set(addr);
          f.get(xa).i32(4).op(Op.i32_add).set(xa);
          f.get(da).i32(4).op(Op.i32_add).set(da);
        });
      });
    });
    if (two) f.get(xa).i32(O * 4).op(Op.i32_add).set(xa); // past plane pl + 1's cells
    // the unpadded positions, rounded to f32, to out[pl] (and out[pl + 1])
    f.get(pl).i32(S * 4).op(Op.i32_mul).get(outPtr).op(Op.i32_add).set(dst);
    count(ia, A.L, () => {
      count(ob, B.L, () => {
        f.get(ia).i32(pads[0][0]).op(Op.i32_add).i32(LB).op(Op.i32_mul).get(ob).op(Op.i32_add);
        f.i32(pads[1][0]).op(Op.i32_add).i32(LC).op(Op.i32_mul).i32(pads[2][0]).op(Op.i32_add);
        f.i32(W).op(Op.i32_mul).get(scr).op(Op.i32_add).set(addr);
        count(oc, C.L, () => {
          if (two) {
            f.get(addr).simdMem(Simd.v128_load, 3).simd(Simd.f32x4_demote_f64x2_zero).set(gv);
            f.get(dst).get(gv).simd(Simd.f32x4_extract_lane).emit(0).mem(Op.f32_store, 2);
            f.get(dst).get(gv).simd(Simd.f32x4_extract_lane).emit(1).mem(Op.f32_store, 2, S * 4);
          } else {
            f.get(dst).get(addr).mem(Op.f64_load, 3).op(Op.f32_demote_f64).mem(Op.f32_store, 2);
          }
          f.get(dst).i32(4).op(Op.i32_add).set(dst);
          f.get(addr).i32(W).op(Op.i32_add).set(addr);
        });
      });
    });
  };
  f.get(xPtr).set(xa);
  f.get(Pp).i32(2).op(Op.i32_ge_s).if_();
  count(pr, () => f.get(Pp).i32(1).op(Op.i32_shr_u), () => {
    f.get(pr).i32(1).op(Op.i32_shl).set(pl);
    planes(true);
  });
  f.end();
  f.get(Pp).i32(1).op(Op.i32_and).if_();
  f.get(Pp).i32(1).op(Op.i32_sub).set(pl);
  planes(false);
  f.end();
  m.func(f, "run");
  const code = m.bytes(), id = nextModuleId++;
  new WebAssembly.Module(code); // validate now: an invalid module turns the wasm path off for this geometry
  return {
    complete: true,
    groups: 0,
    run(x, P, D, resident, int) {
      // [g][results][divisor][a double plane per share][module bytes], 16-byte aligned
      const al = (n: number) => (n + 15) & ~15;
      const job = jobThreads(P, P * O * K);
      const xPtr = 0, outPtr = al(P * O * 4), dPtr = al(outPtr + P * S * 4), scrPtr = al(dPtr + (div ? O * 4 : 0));
      const codePtr = al(scrPtr + job.shares * Sp * 16);
      const mm = growWasmHeap(codePtr + code.length + 16);
      if (!mm) return null; // too large for the heap: the JS kernel does it
      const g = placeInHeap(x, xPtr), slot = resident ? outputSlot(P * S * 4) : null, o = slot?.at ?? outPtr;
      if (div) new Float32Array(mm.buffer, dPtr, O).set(D!);
      const params = [P, O, S, S, 0, g, o, dPtr, scrPtr, Sp * 16];
      const out = runJob(job, id, code, codePtr, params, heapView(int, o, P * S));
      return { out, keep: () => slot?.keep(out) };
    },
  };
}

interface TilingScatter {
  /**
   * out[p, j] = j is the argmax R[p, o] of its window o (and, with `mask`, mask[p, j] > 0) ? g[p, o] + 0 : +0;
   * null when the heap cannot hold it
   */
  run(R: Int32Array, g: Float32Array, P: number, mask?: Float32Array): Float32Array | null;
}

const tilingKernels = new Map<string, TilingScatter | null>();

/** The dense argmax scatter of a geometry whose windows tile the input (see {@linkcode buildTilingScatter}). */
function tilingScatterKernel(axes: WindowAxis[], p: Plan, masked = false): TilingScatter | null {
  return cachedIn(tilingKernels, `${masked}|${geometryKey(axes)}`, () => buildTilingScatter(p, masked));
}

/**
 * The argmax scatter onto +0 of a max pool whose windows tile the input
 * (stride = window, no padding, nothing left over: 2×2 stride 2 on even
 * sizes), computed densely: every input position is written once, with its
 * window's cotangent plus 0 where it is the window's argmax and +0 elsewhere,
 * four lanes at a time. No zeroed output, no scatter: the results go to a
 * resident slot and leave the heap in one uninitialized copy. Null unless the
 * last axis' window is 1, 2 or 4 wide and its rows a multiple of 4.
 */
function buildTilingScatter(p: Plan, masked: boolean): TilingScatter | null {
  const { A, B, C, S, O } = p;
  const tiles = (a: AxisInfo) =>
    a.regular && a.s0 === 0 && a.s === a.k && (a.k === 1 || a.d === 1) && a.O * a.k === a.L;
  const tail = C.L % 4; // 2: each row ends with a half step (two lanes stored)
  if (![A, B, C].every(tiles) || ![1, 2, 4].includes(C.k) || (tail !== 0 && tail !== 2) || O === 0) return null;
  const m = importHeap(new ModuleBuilder());
  // run(P, rPtr, outPtr, _, _, gOff, mOff): indices [P][O] at rPtr, the cotangent gOff bytes after them, results
  // [P][S] at outPtr, with `masked` a mask [P][S] mOff bytes after them
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32], []);
  const [Pp, rPtr, outPtr, gOff, mOff] = [0, 1, 2, 5, 6];
  const pl = f.local(I32), oa = f.local(I32), ta = f.local(I32), ob = f.local(I32), tb = f.local(I32);
  const x = f.local(I32), cp = f.local(I32), op = f.local(I32), row = f.local(I32), rbase = f.local(I32);
  const pos = f.local(V128), tmp = f.local(V128);
  // for (i = 0; i < n; i++) body, n ≥ 1 a constant or pushed by n()
  const count = (i: number, n: number | (() => void), body: () => void) => countUp(f, i, 0, n, body);
  const lanes = (a: number[]) => f.v128([...new Uint8Array(Int32Array.from(a).buffer)]);
  // the cells of four lanes at cp (+ gOff: the cotangent), lane l from cell ⌊l / C.k⌋; `half`: lanes 0 and 1 only
  // (nothing read past them)
  const cellsOf4 = (cotangent: boolean, half: boolean) => {
    f.get(cp);
    if (cotangent) f.get(gOff).op(Op.i32_add);
    if (C.k === 1) f.simdMem(half ? Simd.v128_load64_zero : Simd.v128_load, 0);
    else if (C.k === 2 && half) f.simdMem(Simd.v128_load32_splat, 0);
    else if (C.k === 2) f.simdMem(Simd.v128_load64_zero, 0).tee(tmp).get(tmp).shuffle32([0, 0, 1, 1]);
    else f.simdMem(Simd.v128_load32_splat, 0);
  };
  count(pl, () => f.get(Pp), () => {
    f.get(pl).i32(O * 4).op(Op.i32_mul).get(rPtr).op(Op.i32_add).set(rbase);
    f.get(pl).i32(S * 4).op(Op.i32_mul).get(outPtr).op(Op.i32_add).set(op);
    f.i32(0).set(row); // the plane-local position of the input row's first element: rows come in order
    count(oa, A.O, () =>
      count(ta, A.k, () =>
        count(ob, B.O, () =>
          count(tb, B.k, () => {
            f.get(oa).i32(B.O).op(Op.i32_mul).get(ob).op(Op.i32_add).i32(C.O * 4).op(Op.i32_mul);
            f.get(rbase).op(Op.i32_add).set(cp);
            f.get(row).simd(Simd.i32x4_splat);
            lanes([0, 1, 2, 3]);
            f.simd(Simd.i32x4_add).set(pos);
            // four lanes: (cotangent + 0) where the argmax is the lane's position (and the mask > 0), else +0
            const step = (half: boolean) => {
              cellsOf4(true, half);
              f.v128Zero().simd(Simd.f32x4_add); // g + 0: −0 becomes +0, as base + g does
              cellsOf4(false, half);
              f.get(pos).simd(Simd.i32x4_eq).simd(Simd.v128_and);
              if (masked) {
                f.get(op).get(mOff).op(Op.i32_add).simdMem(half ? Simd.v128_load64_zero : Simd.v128_load, 0);
                f.v128Zero().simd(Simd.f32x4_gt).simd(Simd.v128_and);
              }
            };
            const advance = () => {
              f.get(op).i32(16).op(Op.i32_add).set(op);
              f.get(cp).i32(16 / C.k).op(Op.i32_add).set(cp);
              f.get(pos);
              lanes([4, 4, 4, 4]);
              f.simd(Simd.i32x4_add).set(pos);
            };
            if (C.L >= 4) {
              count(x, Math.floor(C.L / 4), () => {
                f.get(op);
                step(false);
                f.simdMem(Simd.v128_store, 0);
                advance();
              });
            }
            if (tail === 2) {
              // the last two positions: lanes 0 and 1 (2 and 3 are neither read nor stored)
              f.get(op);
              step(true);
              f.simdMem(Simd.v128_store64_lane, 0).emit(0);
              f.get(op).i32(8).op(Op.i32_add).set(op);
            }
            f.get(row).i32(C.L).op(Op.i32_add).set(row);
          }))));
  });
  m.func(f, "run");
  const code = m.bytes(), id = nextModuleId++;
  new WebAssembly.Module(code); // validate now: an invalid module leaves this geometry to the JS scatter
  return {
    run(R, g, P, mask) {
      // [indices][cotangent][results][mask][module bytes], 16-byte aligned
      const al = (n: number) => (n + 15) & ~15;
      const gPtr = al(P * O * 4), outPtr = al(gPtr + P * O * 4), mPtr = al(outPtr + P * S * 4);
      const codePtr = al(mPtr + (masked ? P * S * 4 : 0));
      const mm = growWasmHeap(codePtr + code.length + 16);
      if (!mm || masked !== (mask !== undefined)) return null;
      const rAt = placeInHeap(R, 0), gAt = placeInHeap(g, gPtr), mAt = mask ? placeInHeap(mask, mPtr) : 0;
      const slot = outputSlot(P * S * 4), o = slot?.at ?? outPtr;
      const params = [P, O, S, S, rAt, rAt, o, 0, 0, 0, gAt - rAt, mask ? mAt - o : 0];
      const out = runJob(jobThreads(P, P * S), id, code, codePtr, params, new Float32Array(mm.buffer, o, P * S));
      slot?.keep(out);
      return out;
    },
  };
}

/** prediv(P, x, d): x[p, j] = x[p, j] / d[j] for j < S (f32 division = the double quotient rounded once). */
function predivFunction(S: number): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32], []);
  const [P, x, d] = [0, 1, 2];
  const pl = f.local(I32), j = f.local(I32), a = f.local(I32), b = f.local(I32);
  const whole = Math.floor(S / 4), rest = S - 4 * whole;
  f.block();
  f.get(P).op(Op.i32_eqz).brIf(0);
  f.i32(0).set(pl);
  f.loop();
  f.get(pl).i32(S * 4).op(Op.i32_mul).get(x).op(Op.i32_add).set(a);
  f.get(d).set(b);
  if (whole > 0) {
    f.i32(whole).set(j);
    f.loop();
    f.get(a).get(a).simdMem(Simd.v128_load, 0).get(b).simdMem(Simd.v128_load, 0).simd(Simd.f32x4_div);
    f.simdMem(Simd.v128_store, 0);
    f.get(a).i32(16).op(Op.i32_add).set(a);
    f.get(b).i32(16).op(Op.i32_add).set(b);
    f.get(j).i32(1).op(Op.i32_sub).tee(j).brIf(0);
    f.end();
  }
  for (let r = 0; r < rest; r++) {
    f.get(a).get(a).mem(Op.f32_load, 0, 4 * r).get(b).mem(Op.f32_load, 0, 4 * r).op(Op.f32_div);
    f.mem(Op.f32_store, 0, 4 * r);
  }
  f.get(pl).i32(1).op(Op.i32_add).tee(pl).get(P).op(Op.i32_lt_s).brIf(0);
  f.end();
  f.end();
  return f;
}

/** Rows up to this many v128s long are copied by unrolled loads and stores, longer ones in bulk. */
const MAX_ROW_VECTORS = 64;

/** pad(P, src, dst): copy P planes [LA0, LB0, LC0] into the padded layout [LA, LB, LC] filled with `value`. */
function padFunction(
  LA0: number,
  LB0: number,
  LC0: number,
  LA: number,
  LB: number,
  LC: number,
  pads: [number, number][],
  value: number,
): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32], []);
  const [P, src, dst] = [0, 1, 2];
  const pl = f.local(I32), ia = f.local(I32), ib = f.local(I32), i = f.local(I32), end = f.local(I32);
  const d = f.local(I32), sp = f.local(I32);
  const fill = (from: () => void, count: number) => {
    // store `value` at count floats from the address `from` pushes
    if (count <= 0) return;
    from();
    f.set(i);
    f.get(i).i32(count * 4).op(Op.i32_add).set(end);
    f.loop();
    f.get(i).f32(value).mem(Op.f32_store, 0);
    f.get(i).i32(4).op(Op.i32_add).tee(i).get(end).op(Op.i32_lt_u).brIf(0);
    f.end();
  };
  f.block();
  f.get(P).op(Op.i32_eqz).brIf(0);
  f.i32(0).set(pl);
  f.loop();
  f.i32(0).set(ia);
  f.loop();
  f.i32(0).set(ib);
  f.loop();
  // dst row start = dst + (((pl·LA + ia)·LB + ib)·LC)·4 -> kept on the stack via local end? use i as scratch base
  const rowStart = () =>
    f.get(pl).i32(LA).op(Op.i32_mul).get(ia).op(Op.i32_add).i32(LB).op(Op.i32_mul)
      .get(ib).op(Op.i32_add).i32(LC * 4).op(Op.i32_mul).get(dst).op(Op.i32_add);
  // inside = ia - padA in [0, LA0) and ib - padB in [0, LB0)
  f.get(ia).i32(pads[0][0]).op(Op.i32_sub).i32(LA0).op(Op.i32_lt_u);
  f.get(ib).i32(pads[1][0]).op(Op.i32_sub).i32(LB0).op(Op.i32_lt_u);
  f.op(Op.i32_and);
  f.if_();
  fill(rowStart, pads[2][0]);
  // copy LC0 floats from src + (((pl·LA0 + ia - padA)·LB0 + ib - padB)·LC0)·4 to dstRow + padC·4, four per
  // v128 at constant offsets (a row is short: a bulk-copy call per row costs more than the copy)
  rowStart();
  f.i32(pads[2][0] * 4).op(Op.i32_add).set(d);
  f.get(pl).i32(LA0).op(Op.i32_mul).get(ia).op(Op.i32_add).i32(pads[0][0]).op(Op.i32_sub).i32(LB0).op(Op.i32_mul);
  f.get(ib).op(Op.i32_add).i32(pads[1][0]).op(Op.i32_sub).i32(LC0 * 4).op(Op.i32_mul).get(src).op(Op.i32_add).set(sp);
  if (LC0 > 4 * MAX_ROW_VECTORS) {
    f.get(d).get(sp).i32(LC0 * 4).memoryCopy();
  } else {
    for (let c = 0; c + 4 <= LC0; c += 4) {
      f.get(d).get(sp).simdMem(Simd.v128_load, 0, 4 * c).simdMem(Simd.v128_store, 0, 4 * c);
    }
    for (let c = LC0 & ~3; c < LC0; c++) f.get(d).get(sp).mem(Op.f32_load, 2, 4 * c).mem(Op.f32_store, 2, 4 * c);
  }
  fill(() => {
    rowStart();
    f.i32((pads[2][0] + LC0) * 4).op(Op.i32_add);
  }, pads[2][1]);
  f.else_();
  fill(rowStart, LC);
  f.end();
  f.get(ib).i32(1).op(Op.i32_add).tee(ib).i32(LB).op(Op.i32_lt_s).brIf(0);
  f.end();
  f.get(ia).i32(1).op(Op.i32_add).tee(ia).i32(LA).op(Op.i32_lt_s).brIf(0);
  f.end();
  f.get(pl).i32(1).op(Op.i32_add).tee(pl).get(P).op(Op.i32_lt_s).brIf(0);
  f.end();
  f.end(); // block
  return f;
}

// ---------------------------------------------------------------- fused fast paths
//
// The pooling ops compose window primitives with gather, scatterAdd and a
// divide (ops/pool.ts); realized one by one each intermediate is a full-size
// buffer. These patterns compute the composition in one pass, with the same
// arithmetic as the composed kernels (tests/window_kernels_test.ts checks
// them against the JS reference, which never fuses):
//   gather(reshape(x), reshape(windowArgmax(x)))         -> "max"
//   scatterAdd(fill(v), reshape(windowArgmax(x)), g)      -> "argmaxT"
//   div(windowSum(x), D)                                  -> "sum" with divisor
//   windowSumT(div(g, D))                                 -> "sumT" with divisor
// D is a per-window-cell constant broadcast over the leading axes. A pattern
// applies only when the intermediate it skips has no other use in the
// schedule and is not already realized.

const FLOAT = new Set(["float32", "float64"]);

/** The per-plane output count of a window node. */
function cellsOf(n: Node): number {
  return sizeOf(axesOf(n).map((a) => a.starts.length));
}

/** `n` is an unrealized broadcast of an array of exactly the trailing dims of n with `O` cells. */
function trailingDivisor(n: Node, O: number): Node | null {
  if (n.buffer || n.op !== "expand") return null;
  const src = n.inputs[0];
  if (!src || sizeOf(src.shape) !== O) return null;
  const off = n.shape.length - src.shape.length;
  if (off < 0) return null;
  for (let k = 0; k < src.shape.length; k++) if (src.shape[k] !== n.shape[off + k]) return null;
  return src;
}

/**
 * The windowArgmax behind an index array `ir` (an unrealized reshape of it),
 * realized or not, or null. Its other uses do not matter: the gather's values
 * can be recomputed by a window max even while the indices are also needed
 * elsewhere (e.g. by the backward pass).
 */
function argmaxBehind(ir: Node): Node | null {
  if (ir.buffer || ir.op !== "reshape") return null;
  const am = ir.inputs[0];
  return am?.op === "windowArgmax" ? am : null;
}

const last = (n: Node): number => n.shape[n.shape.length - 1];

/**
 * `node` a scatterAdd along its last axis at the indices of a window argmax
 * (behind a reshape), one update per cell of planes of the argmax's input
 * size: its base, argmax, updates and window axes; else null.
 */
function argmaxScatter(node: Node): { base: Node; am: Node; upd: Node; axes: WindowAxis[] } | null {
  if (node.op !== "scatterAdd" || (node as Node<"scatterAdd">).params.axis !== node.shape.length - 1) return null;
  const [base, ir, upd] = node.inputs;
  const am = argmaxBehind(ir);
  if (!am || upd.dtype !== node.dtype || upd.shape.join() !== ir.shape.join()) return null;
  const axes = axesOf(am);
  if (last(node) !== sizeOf(axes.map((a) => a.size)) || last(ir) !== cellsOf(am)) return null;
  return { base, am, upd, axes };
}

/** The argmax indices of `am`: the ones kept on it, else computed from its input `x()` and kept. */
function argmaxIndices(am: Node, x: () => TypedArray): Int32Array {
  const R = (am.buffer as Int32Array | null) ?? runWindow("argmax", axesOf(am), "int32", x()) as Int32Array;
  materialize(am, R);
  return R;
}
const wasmActive = (): boolean => getBackend() === "wasm";

registerPattern((node, useCount, input) => {
  if (node.op !== "gather" || !wasmActive()) return null;
  const axis = (node as Node<"gather">).params.axis;
  const [xr, ir] = node.inputs;
  if (axis !== node.shape.length - 1 || xr.buffer || xr.op !== "reshape") return null;
  const am = argmaxBehind(ir);
  if (!am || am.buffer || xr.inputs[0] !== am.inputs[0] || xr.dtype !== node.dtype) return null;
  const axes = axesOf(am);
  if (last(xr) !== sizeOf(axes.map((a) => a.size)) || last(ir) !== cellsOf(am)) return null;
  const x = input(am.inputs[0]);
  if (useCount(am) > 1 && !am.buffer && x instanceof Float32Array && node.dtype === "float32") {
    // the indices are read elsewhere too (a pullback's scatter in the same realization): one argmax kernel
    // that also stores the maxima (the values the max kernel returns), its indices kept on the node
    const both = argmaxWithMaxima(axes, x);
    if (both) {
      materialize(am, both.indices);
      return { buffer: both.maxima, name: "windowArgmax and its maxima" };
    }
  }
  return { buffer: runWindow("max", axes, node.dtype, x), name: "windowMax (gather of windowArgmax)" };
});

// The indices are kept on the windowArgmax node (realized with them), so a
// later pullback of the same forward scatters at them without recomputing
// the argmax (PyTorch's max_pool saves its indices the same way).
registerPattern((node, _uses, input) => {
  if (!wasmActive() || !FLOAT.has(node.dtype)) return null;
  const sc = argmaxScatter(node);
  if (!sc) return null;
  const { base, am, upd, axes } = sc;
  // onto a broadcast scalar
  const v = fillValueOf(base);
  if (base.buffer || base.op !== "expand" || base.inputs[0].shape.length !== 0 || v === undefined) return null;
  const saved = am.buffer !== null, R = argmaxIndices(am, () => input(am.inputs[0]));
  const [A, B, C] = [...Array(3 - axes.length).fill(TRIVIAL), ...axes].map(axisInfo);
  const S = A.L * B.L * C.L, O = A.O * B.O * C.O, P = O === 0 ? 0 : R.length / O;
  const g = input(upd);
  if (Object.is(v, 0) && g instanceof Float32Array && node.dtype === "float32" && useWasm) {
    const dense = tilingScatterKernel(axes, plan("argmax", axes))?.run(R, g, P);
    if (dense) return { buffer: dense, name: `${saved ? "dense scatter at saved" : "dense scatter at"} windowArgmax` };
  }
  const out = allocate(node.dtype, P * S) as Float32Array;
  if (!Object.is(v, 0)) out.fill(v); // a -0 base too
  scatterAt(out, R, g, P, S, O, v, disjoint([A, B, C]));
  return {
    buffer: out,
    name: saved ? "scatterAdd at saved windowArgmax" : "windowArgmaxT (scatterAdd at windowArgmax)",
  };
});

// relu's backward after max pooling's: where(c, S, 0) with S the argmax scatter onto +0 of a pool whose input is
// the relu y = where(c, x, 0), c = (x > 0), with the same c. There c ⇔ y > 0, so the dense scatter masked by y
// gives it in one pass: c true: S (g + 0 at the argmax, +0 elsewhere); c false: +0.
registerPattern((node, uses, input) => {
  if (node.op !== "where" || node.dtype !== "float32" || !wasmActive() || !useWasm) return null;
  const [c, a, z] = node.inputs;
  if (!isPlusZero(z) || a.buffer) return null;
  const s = a.op === "reshape" ? a.inputs[0] : a;
  const sc = !s.buffer && uses(s) === 1 ? argmaxScatter(s) : null;
  if (!sc || !isPlusZero(sc.base)) return null;
  const { am, upd, axes } = sc;
  // the pool's input is the relu (its values noted on c when it was realized, its id on a realized argmax)
  const y = reluValuesOf(c);
  if (!(y instanceof Float32Array) || y.length !== node.size || argmaxInputId(am) !== c.noted?.reluId) return null;
  const p = plan("argmax", axes), k = tilingScatterKernel(axes, p, true);
  if (!k) return null;
  const R = argmaxIndices(am, () => y);
  const g = input(upd);
  if (!(g instanceof Float32Array)) return null;
  const out = k.run(R, g, R.length / p.O, y);
  return out && { buffer: out, name: "dense scatter at windowArgmax, masked by the relu" };
});

registerPattern((node, uses, input) => {
  if (node.op !== "binary" || (node as Node<"binary">).params.op !== "div" || !wasmActive()) return null;
  const [a, b] = node.inputs;
  if (!FLOAT.has(node.dtype) || a.dtype !== node.dtype || b.dtype !== node.dtype) return null;
  if (a.buffer || a.op !== "windowSum" || uses(a) !== 1 || a.shape.join() !== node.shape.join()) return null;
  const O = cellsOf(a);
  const src = trailingDivisor(b, O);
  // (an elementwise divisor the composition fuses into the division stays in double there)
  if (!src || !readsStored(src, true, uses)) return null;
  const D = input(src), x = input(a.inputs[0]);
  const opts = { div: true, f32: node.dtype === "float32" };
  return { buffer: runWindow("sum", axesOf(a), node.dtype, x, opts, D), name: "windowSum/div" };
});

registerPattern((node, uses, input) => {
  if (node.op !== "windowSumT" || !wasmActive() || !FLOAT.has(node.dtype)) return null;
  const c = node.inputs[0];
  if (c.buffer || c.op !== "binary" || (c as Node<"binary">).params.op !== "div" || uses(c) !== 1) return null;
  const [a, b] = c.inputs;
  if (c.dtype !== node.dtype || a.dtype !== node.dtype || b.dtype !== node.dtype) return null;
  if (a.shape.join() !== c.shape.join()) return null;
  const O = cellsOf(node);
  const src = trailingDivisor(b, O);
  if (!src || !readsStored(src, true, uses) || !readsStored(a, false, uses)) return null;
  const D = input(src), g = input(a);
  const opts = { div: true, f32: node.dtype === "float32" };
  return { buffer: runWindow("sumT", axesOf(node), node.dtype, g, opts, D), name: "windowSumT of div" };
});

// ---------------------------------------------------------------- scatterAdd

// Per-slot stamps that detect a second update to one slot of a row; the
// fast path is exact only while every slot receives at most one update.
let stamps = new Int32Array(0);
let stampGen = 0;

/**
 * scatterAdd along an axis with inner size 1 when every slot of a row gets at
 * most one update: out = base (an array, or a constant `v` when base is a
 * fill), out[a, idx] = base + update (one rounding, as the reference's double
 * accumulator). Null at the first repeated or out-of-range index (the caller
 * then takes the reference path, which accumulates or reports the error).
 */
function scatterUnique(node: Node, base: TypedArray | number, idx: TypedArray, upd: TypedArray): TypedArray | null {
  const axis = (node as Node<"scatterAdd">).params.axis;
  const shape = node.inputs[1].shape, bshape = node.shape;
  if (sizeOf(shape.slice(axis + 1)) !== 1) return null;
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis], m = bshape[axis];
  const out = allocate(node.dtype, node.size);
  if (typeof base !== "number") out.set(base);
  else if (base !== 0) out.fill(base);
  if (stamps.length < m) stamps = new Int32Array(m);
  for (let a = 0; a < outer; a++) {
    if (++stampGen > 0x3fffffff) {
      stamps.fill(0);
      stampGen = 1;
    }
    const gen = stampGen, src = a * n, dst = a * m;
    for (let t = 0; t < n; t++) {
      let j = idx[src + t];
      if (j < 0) j += m;
      if (!(j >= 0 && j < m) || stamps[j] === gen) return null;
      stamps[j] = gen;
      out[dst + j] = (typeof base === "number" ? base : base[dst + j]) + upd[src + t];
    }
  }
  return out;
}

registerKernel("wasm", "scatterAdd", (node, inputs) => {
  const [base, idx, upd] = inputs;
  return scatterUnique(node, base, idx, upd) ?? reference(node, inputs);
});

// onto a constant base (the zeros of a gather's adjoint): no base buffer at all
registerPattern((node, _uses, input) => {
  if (node.op !== "scatterAdd" || !wasmActive() || !FLOAT.has(node.dtype)) return null;
  const v = fillValueOf(node.inputs[0]);
  if (v === undefined) return null;
  const base0 = node.dtype === "float32" ? Math.fround(v) : v;
  const out = scatterUnique(node, base0, input(node.inputs[1]), input(node.inputs[2]));
  return out && { buffer: out, name: "scatterAdd onto a constant" };
});
