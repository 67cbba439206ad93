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

type Mode = "sum" | "argmax" | "sumT";

interface Plan {
  fn: (x: TypedArray, out: TypedArray, P: number, T: Int32Array[], scr: Float64Array) => void;
  S: number;
  O: number;
  tables: Int32Array[];
}

function geometryKey(axes: WindowAxis[]): string {
  return axes.map((a) => `${a.size}:${a.dilation}:${a.starts.join(",")}:${a.counts.join(",")}`).join("|");
}

const plans = new Map<string, Plan>();
const MAX_UNROLL = 64;

function plan(mode: Mode, axes: WindowAxis[]): Plan {
  const key = `${mode}|${geometryKey(axes)}`;
  let p = plans.get(key);
  if (!p) {
    p = build(mode, axes);
    if (plans.size > 256) plans.delete(plans.keys().next().value!);
    plans.set(key, p);
  }
  return p;
}

/** Build the kernel source for one mode and geometry. */
function build(mode: Mode, axesIn: WindowAxis[]): Plan {
  const lifted = [...Array(3 - axesIn.length).fill(TRIVIAL), ...axesIn] as WindowAxis[];
  const [A, B, C] = lifted.map(axisInfo);
  const S = A.L * B.L * C.L, O = A.O * B.O * C.O;
  const LBC = B.L * C.L, LC = C.L;
  const tables = [A.starts, A.lo, A.hi, B.starts, B.lo, B.hi, C.starts, C.lo, C.hi];
  const K = A.k * B.k * C.k;
  const unroll = A.regular && B.regular && C.regular && K <= MAX_UNROLL && C.ihi > C.ilo;
  const L: string[] = [];
  const push = (s: string) => L.push(s);
  push(
    `const aS = T[0], aLo = T[1], aHi = T[2], bS = T[3], bLo = T[4], bHi = T[5], cS = T[6], cLo = T[7], cHi = T[8];`,
  );
  // Body for one output cell o (flat over the plane's outputs at `ob_`), generic checked taps.
  // w = plane-local flat position of tap (0,0,0) is not used here; positions come from the tables.
  const generic = (): string[] => {
    const g: string[] = [];
    g.push(`{ const sc = cS[oc], lc = cLo[oc], hc = cHi[oc];`);
    if (mode === "sum") g.push(`let s = 0;`);
    if (mode === "argmax") g.push(`let best = -Infinity, arg = -1;`);
    if (mode === "sumT") g.push(`const gv = x[o];`);
    g.push(`for (let ta = la; ta < ha; ta++) { const ra = (sa + ta * ${A.d}) * ${B.L};`);
    g.push(`for (let tb = lb; tb < hb; tb++) { const rb = (ra + sb + tb * ${B.d}) * ${LC} + sc;`);
    g.push(`for (let tc = lc; tc < hc; tc++) { const i = rb + tc * ${C.d};`);
    if (mode === "sum") g.push(`s += x[xb + i];`);
    if (mode === "argmax") {
      g.push(`const v = x[xb + i]; if (arg < 0 || v > best || (v !== v && best === best)) { best = v; arg = i; }`);
    }
    if (mode === "sumT") g.push(`scr[i] += gv;`);
    g.push(`} } }`);
    if (mode === "sum") g.push(`out[o] = s;`);
    if (mode === "argmax") g.push(`out[o] = arg;`);
    g.push(`}`);
    return g;
  };
  // Unrolled interior body; w = plane-local position of tap (0,0,0).
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
      g.push(`{ const q = xb + w; out[o] = 0${offsets.map((k) => ` + x[q${off(k)}]`).join("")}; }`);
    } else if (mode === "argmax") {
      g.push(`{ const q = xb + w; let best = x[q${off(offsets[0])}], arg = ${offsets[0]}, v;`);
      for (let t = 1; t < offsets.length; t++) {
        g.push(
          `v = x[q${off(offsets[t])}]; if (v > best || (v !== v && best === best)) { best = v; arg = ${offsets[t]}; }`,
        );
      }
      g.push(`out[o] = w + arg; }`);
    } else {
      g.push(`{ const gv = x[o];${offsets.map((k) => ` scr[w${off(k)}] += gv;`).join("")} }`);
    }
    return g;
  };
  push(`for (let p = 0; p < P; p++) {`);
  push(mode === "sumT" ? `let o = p * ${O}; scr.fill(0, 0, ${S});` : `const xb = p * ${S}; let o = p * ${O};`);
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
  if (mode === "sumT") push(`out.set(scr.subarray(0, ${S}), p * ${S});`);
  push(`}`);
  const fn = new Function("x", "out", "P", "T", "scr", L.join("\n")) as Plan["fn"];
  return { fn, S, O, tables };
}

let scratch = new Float64Array(4096);

function runWindow(mode: Mode, node: Node, x: TypedArray): TypedArray {
  const axes = (node as Node<"windowSum">).params.axes;
  const p = plan(mode, axes);
  const inner = mode === "sumT" ? p.O : p.S;
  const P = inner === 0 ? 0 : x.length / inner;
  const out = allocate(node.dtype, P * (mode === "sumT" ? p.S : p.O));
  if (mode === "sumT" && scratch.length < p.S) scratch = new Float64Array(p.S);
  if (P > 0) p.fn(x, out, P, p.tables, scratch);
  return out;
}

/** The generated source of one window kernel (for tests and debugging). */
export function _windowKernelSource(mode: Mode, axes: WindowAxis[]): string {
  return plan(mode, axes).fn.toString();
}

registerKernel("wasm", "windowSum", (node, [x]) => runWindow("sum", node, x));
registerKernel("wasm", "windowSumT", (node, [g]) => runWindow("sumT", node, g));
registerKernel("wasm", "windowArgmax", (node, [x]) => runWindow("argmax", node, x));

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
