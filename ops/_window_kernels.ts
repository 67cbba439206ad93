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
// in the reference's row-major window order and summed in a double from 0, so
// every result is bit-identical to the JS reference in `_js_kernels.ts`
// (first maximum wins, NaN wins as there).
import { allocate, type TypedArray } from "./_dtype.ts";
import { type Node, sizeOf, type WindowAxis } from "./_graph.ts";
import { backend, getBackend, registerKernel, setBackend } from "./_backend.ts";
import { registerPattern } from "./_schedule.ts";

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

function axisInfo(a: WindowAxis): AxisInfo {
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
 * window argmax; sumT: windowSumT (optionally of `div(g, D)`); argmaxT: the
 * scatterAdd of g at the window argmax onto a constant base.
 */
type Mode = "sum" | "argmax" | "max" | "sumT" | "argmaxT";

interface Options {
  /** divide by D[cell] (sum: after rounding the sum to the dtype; sumT: g / D rounded to the dtype) */
  div?: boolean;
  /** the dtype is float32: intermediate values round through Math.fround */
  f32?: boolean;
}

type KernelFn = (
  x: TypedArray,
  out: TypedArray,
  P: number,
  T: Int32Array[],
  scr: Float64Array,
  g: TypedArray | null,
  D: TypedArray | null,
  base: number,
) => void;

interface Plan {
  fn: KernelFn;
  /** input cells per plane */
  S: number;
  /** output cells per plane */
  O: number;
  tables: Int32Array[];
}

function geometryKey(axes: WindowAxis[]): string {
  return axes.map((a) => `${a.size}:${a.dilation}:${a.starts.join(",")}:${a.counts.join(",")}`).join("|");
}

const plans = new Map<string, Plan>();
const MAX_UNROLL = 64;

function plan(mode: Mode, axes: WindowAxis[], opts: Options = {}): Plan {
  const key = `${mode}|${opts.div ? 1 : 0}|${opts.f32 ? 1 : 0}|${geometryKey(axes)}`;
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
  const isMax = mode === "argmax" || mode === "max" || mode === "argmaxT";
  // argmaxT: direct stores when windows are disjoint, else a per-plane double accumulator
  const direct = mode === "argmaxT" && disjoint([A, B, C]);
  const scatter = mode === "sumT" || (mode === "argmaxT" && !direct);
  const L: string[] = [];
  const push = (s: string) => L.push(s);
  push(
    `const aS = T[0], aLo = T[1], aHi = T[2], bS = T[3], bLo = T[4], bHi = T[5], cS = T[6], cLo = T[7], cHi = T[8];`,
  );
  // What a cell does once its argmax is known.
  const finishMax = (arg: string): string => {
    const j = `(${arg} < 0 ? ${arg} + ${S} : ${arg})`;
    if (mode === "argmax") return `out[o] = ${arg};`;
    if (mode === "max") return `out[o] = x[xb + ${j}];`;
    return direct ? `out[xb + ${j}] = base + g[o];` : `scr[${j}] += g[o];`;
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
    g.push(`for (let tc = lc; tc < hc; tc++) { const i = rb + tc * ${C.d};`);
    if (mode === "sum") g.push(`s += x[xb + i];`);
    if (isMax) {
      g.push(`const v = x[xb + i]; if (arg < 0 || v > best || (v !== v && best === best)) { best = v; arg = i; }`);
    }
    if (mode === "sumT") g.push(`scr[i] += gv;`);
    g.push(`} } }`);
    if (mode === "sum") g.push(sumOut("s"));
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
      g.push(`{ const q = xb + w; const s = 0${offsets.map((k) => ` + x[q${off(k)}]`).join("")}; ${sumOut("s")} }`);
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
  if (scatter) push(mode === "sumT" ? `scr.fill(0, 0, ${S});` : `scr.fill(base, 0, ${S});`);
  push(`for (let oa = 0; oa < ${A.O}; oa++) { const sa = aS[oa], la = aLo[oa], ha = aHi[oa];`);
  push(`for (let ob = 0; ob < ${B.O}; ob++) { const sb = bS[ob], lb = bLo[ob], hb = bHi[ob];`);
  if (unroll) {
    push(`if (oa >= ${A.ilo} && oa < ${A.ihi} && ob >= ${B.ilo} && ob < ${B.ihi}) {`);
    push(`let oc = 0;`);
    push(`for (; oc < ${C.ilo}; oc++, o++) {`);
    L.push(...generic());
    push(`}`);
    push(`let w = (sa * ${B.L} + sb) * ${LC} + ${C.s0} + oc * ${C.s};`);
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
  const fn = new Function("x", "out", "P", "T", "scr", "g", "D", "base", L.join("\n")) as KernelFn;
  return { fn, S, O, tables };
}

let scratch = new Float64Array(4096);

/**
 * Run one window kernel: `x` is the window input (the cotangent for sumT),
 * `g` the updates of argmaxT, `D` the per-cell divisor, `base` argmaxT's
 * constant base value.
 */
function runWindow(
  mode: Mode,
  axes: WindowAxis[],
  dtype: Node["dtype"],
  x: TypedArray,
  opts: Options = {},
  g: TypedArray | null = null,
  D: TypedArray | null = null,
  base = 0,
): TypedArray {
  const p = plan(mode, axes, opts);
  const inner = mode === "sumT" ? p.O : p.S;
  const P = inner === 0 ? 0 : x.length / inner;
  const outInner = mode === "sumT" || mode === "argmaxT" ? p.S : p.O;
  const out = allocate(dtype, P * outInner);
  if (scratch.length < p.S) scratch = new Float64Array(p.S);
  if (mode === "argmaxT" && base !== 0) out.fill(base);
  if (P > 0) p.fn(x, out, P, p.tables, scratch, g, D, base);
  return out;
}

/** The generated source of one window kernel (for tests and debugging). */
export function _windowKernelSource(mode: Mode, axes: WindowAxis[], opts: Options = {}): string {
  return plan(mode, axes, opts).fn.toString();
}

const axesOf = (node: Node): WindowAxis[] => (node as Node<"windowSum">).params.axes;
registerKernel("wasm", "windowSum", (node, [x]) => runWindow("sum", axesOf(node), node.dtype, x));
registerKernel("wasm", "windowSumT", (node, [g]) => runWindow("sumT", axesOf(node), node.dtype, g));
registerKernel("wasm", "windowArgmax", (node, [x]) => runWindow("argmax", axesOf(node), "int32", x));

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

/** reshape(windowArgmax(x)) with the argmax unrealized and used once: the argmax node. */
function argmaxBehind(ir: Node, uses: (n: Node) => number): Node | null {
  if (ir.buffer || ir.op !== "reshape") return null;
  const am = ir.inputs[0];
  if (!am || am.buffer || am.op !== "windowArgmax" || uses(am) !== 1) return null;
  return am;
}

const last = (n: Node): number => n.shape[n.shape.length - 1];
const wasmActive = (): boolean => getBackend() === "wasm";

registerPattern((node, uses, input) => {
  if (node.op !== "gather" || !wasmActive()) return null;
  const axis = (node as Node<"gather">).params.axis;
  const [xr, ir] = node.inputs;
  if (axis !== node.shape.length - 1 || xr.buffer || xr.op !== "reshape") return null;
  const am = argmaxBehind(ir, uses);
  if (!am || xr.inputs[0] !== am.inputs[0] || xr.dtype !== node.dtype) return null;
  const axes = axesOf(am);
  if (last(xr) !== sizeOf(axes.map((a) => a.size)) || last(ir) !== cellsOf(am)) return null;
  const x = input(am.inputs[0]);
  return { buffer: runWindow("max", axes, node.dtype, x), name: "windowMax (gather of windowArgmax)" };
});

registerPattern((node, uses, input) => {
  if (node.op !== "scatterAdd" || !wasmActive() || !FLOAT.has(node.dtype)) return null;
  const axis = (node as Node<"scatterAdd">).params.axis;
  const [base, ir, upd] = node.inputs;
  if (axis !== node.shape.length - 1 || base.buffer || base.op !== "expand") return null;
  const fill = base.inputs[0];
  if (!fill || fill.buffer || fill.op !== "fill" || fill.shape.length !== 0) return null;
  const am = argmaxBehind(ir, uses);
  if (!am || upd.dtype !== node.dtype || upd.shape.join() !== ir.shape.join()) return null;
  const axes = axesOf(am);
  if (last(node) !== sizeOf(axes.map((a) => a.size)) || last(ir) !== cellsOf(am)) return null;
  const x = input(am.inputs[0]), g = input(upd);
  const v = (fill as Node<"fill">).params.value;
  return {
    buffer: runWindow("argmaxT", axes, node.dtype, x, {}, g, null, v),
    name: "windowArgmaxT (scatterAdd at windowArgmax)",
  };
});

registerPattern((node, uses, input) => {
  if (node.op !== "binary" || (node as Node<"binary">).params.op !== "div" || !wasmActive()) return null;
  const [a, b] = node.inputs;
  if (!FLOAT.has(node.dtype) || a.dtype !== node.dtype || b.dtype !== node.dtype) return null;
  if (a.buffer || a.op !== "windowSum" || uses(a) !== 1 || a.shape.join() !== node.shape.join()) return null;
  const O = cellsOf(a);
  const src = trailingDivisor(b, O);
  if (!src) return null;
  const D = input(src), x = input(a.inputs[0]);
  const opts = { div: true, f32: node.dtype === "float32" };
  return { buffer: runWindow("sum", axesOf(a), node.dtype, x, opts, null, D), name: "windowSum/div" };
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
  if (!src) return null;
  const D = input(src), g = input(a);
  const opts = { div: true, f32: node.dtype === "float32" };
  return { buffer: runWindow("sumT", axesOf(node), node.dtype, g, opts, null, D), name: "windowSumT of div" };
});

// ---------------------------------------------------------------- scatterAdd

// Per-slot stamps that detect a second update to one slot of a row; the
// fast path is exact only while every slot receives at most one update.
let stamps = new Int32Array(0);
let stampGen = 0;

registerKernel("wasm", "scatterAdd", (node, inputs) => {
  const [base, idx, upd] = inputs;
  const axis = (node as Node<"scatterAdd">).params.axis;
  const shape = node.inputs[1].shape, bshape = node.shape;
  const inner = sizeOf(shape.slice(axis + 1));
  if (inner !== 1) return reference(node, inputs);
  const outer = sizeOf(shape.slice(0, axis));
  const n = shape[axis], m = bshape[axis];
  const out = allocate(node.dtype, base.length);
  out.set(base);
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
      if (!(j >= 0 && j < m) || stamps[j] === gen) return reference(node, inputs);
      stamps[j] = gen;
      // one update per slot: base + update rounded once, as the reference's double accumulator
      out[dst + j] = base[dst + j] + upd[src + t];
    }
  }
  return out;
});
