// Fused elementwise kernels in WebAssembly SIMD (backend "wasm"): a float32
// elementwise expression whose inputs are buffers read through affine views
// (reshape, permute, expand, slice) and constants runs as one generated wasm
// loop nest, two elements per step in f64x2 lanes. Arithmetic is in double,
// as in the JS kernels (`_schedule.ts`), so results are bit-identical to
// them; selects are bit masks instead of branches (a JS `v > 0 ? v : 0` on
// random signs costs a mispredicted branch per element). Anything else (pad,
// gather, reductions, transcendental functions, integer arithmetic) is left
// to the JS kernels. Modules are cached by the kernel's structure. Large
// kernels split their outermost loop across the worker threads (each element
// is computed the same way whatever the split: bit-identical for any count).
import { getBackend } from "./_backend.ts";
import type { TypedArray } from "./_dtype.ts";
import { type Node, stridesOf } from "./_graph.ts";
import { mustMaterialize, registerPattern, STRIDED_VIEW } from "./_schedule.ts";
import { FuncBuilder, HAS_SIMD, I32, ModuleBuilder, Op, Simd, V128, type ValType } from "./_wasm.ts";
import { getNumThreads, HEAP_MODULES, heapModulePool, onShutdownThreads } from "./_wasm_gemm.ts";
import { PARAM_SLOTS, runThenCopyOut, sharesOf } from "./_pool_threads.ts";
import { growWasmHeap, importHeap, outputSlot, placeInHeap } from "./_wasm_heap.ts";

/**
 * Outputs smaller than `minSize` stay on the JS kernels (call and copy overheads); from `threadMinSize`
 * elements the outermost loop is split across the threads.
 */
export const tuning: { minSize: number; threadMinSize: number } = { minSize: 2048, threadMinSize: 1 << 16 };

// ---------------------------------------------------------------- expressions

/**
 * An affine index map over the root's loop indices i: either coordinate k of
 * a node = Σ_j A[k][j]·i_j + b[k], or (below a reshape, until a view needs
 * coordinates) the node's row-major flat index = Σ_j flat.a[j]·i_j + flat.b.
 */
type Affine = { A: number[][]; b: number[] } | { flat: Flat };
type Coords = Extract<Affine, { A: number[][] }>;
interface Flat {
  a: number[];
  b: number;
}

type Kind = "f" | "m"; // an f64x2 value, or an i64x2 lane mask
type Expr =
  | { t: "leaf"; kind: Kind; buf: number; coef: number[]; off: number }
  | { t: "const"; kind: "f"; v: number }
  | { t: "un"; kind: Kind; op: string; a: Expr }
  | { t: "bin"; kind: Kind; op: string; a: Expr; b: Expr }
  | { t: "where"; kind: "f"; c: Expr; a: Expr; b: Expr }
  | { t: "cast"; kind: Kind; op: "toF" | "toM" | "fround"; a: Expr };

const COMPARE = new Set(["lt", "le", "gt", "ge", "eq", "ne"]);
const ARITH = new Set(["add", "sub", "mul", "div", "maximum", "minimum"]);
const LOGIC = new Set(["and", "or", "xor"]);
const UN_F = new Set(["neg", "abs", "sqrt", "recip", "floor", "ceil", "sign"]);
const UN_M = new Set(["isnan", "isfinite", "not"]);
const FLOATS = new Set(["float32", "float64"]);
const BYTES: Record<string, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

class Bail extends Error {}
const bail = (): never => {
  throw new Bail();
};

/** Affine map of an input of `node` from the map of `node` (null: not affine). */
function through(node: Node, map: Affine, root: readonly number[]): Affine {
  const src = node.inputs[0].shape;
  switch (node.op) {
    case "alias":
    case "stopGradient":
    case "custom":
      return map;
    case "reshape": // the same row-major data
      return { flat: flatOf(map, node.shape) };
  }
  const m = "flat" in map ? unravel(map.flat, node.shape, root) : map, R = root.length;
  switch (node.op) {
    case "permute": {
      const perm = (node as Node<"permute">).params.perm, A: number[][] = [], b: number[] = [];
      perm.forEach((p, k) => {
        A[p] = m.A[k];
        b[p] = m.b[k];
      });
      return { A, b };
    }
    case "expand": {
      const off = node.shape.length - src.length;
      return {
        A: src.map((d, k) => (d === 1 ? new Array(R).fill(0) : m.A[k + off])),
        b: src.map((d, k) => (d === 1 ? 0 : m.b[k + off])),
      };
    }
    case "slice": {
      const { starts, steps } = (node as Node<"slice">).params;
      return { A: m.A.map((row, k) => row.map((a) => a * steps[k])), b: m.b.map((v, k) => starts[k] + v * steps[k]) };
    }
  }
  return bail();
}

/** The row-major flat index over `shape` as an affine function. */
function flatOf(m: Affine, shape: readonly number[]): Flat {
  if ("flat" in m) return m.flat;
  const st = stridesOf(shape), R = m.A[0]?.length ?? 0, a = new Array(R).fill(0);
  let b = 0;
  shape.forEach((_, k) => {
    for (let j = 0; j < R; j++) a[j] += m.A[k][j] * st[k];
    b += m.b[k] * st[k];
  });
  return { a, b };
}

/** The identity map over `shape` (a node read at its own indices). */
function identityOf(shape: readonly number[]): Coords {
  return { A: shape.map((_, k) => shape.map((_, j) => (j === k ? 1 : 0))), b: shape.map(() => 0) };
}

/**
 * `node` read through its views (reshapes, permutes, slices, expands,
 * aliases): the first node down the chain that is realized or is not a view,
 * and the flat index into it as an affine function of node's indices (`coef`
 * per axis, `off`). Null where a view is not affine over node's shape.
 */
export function viewOf(node: Node): { base: Node; coef: number[]; off: number } | null {
  let n = node, m: Affine = identityOf(node.shape);
  try {
    while (!n.buffer && STRIDED_VIEW.has(n.op)) {
      m = through(n, m, node.shape);
      n = n.inputs[0];
    }
    const { a, b } = flatOf(m, n.shape);
    return { base: n, coef: a, off: b };
  } catch (e) {
    if (e instanceof Bail) return null;
    throw e;
  }
}

/**
 * `node` read through its views from a stored buffer: {@linkcode viewOf}, its
 * base realized with `input`.
 */
export function viewOfStored(
  node: Node,
  input: (n: Node) => TypedArray,
): { buffer: TypedArray; coef: number[]; off: number } | null {
  const v = viewOf(node);
  return v && { buffer: v.base.buffer ?? input(v.base), coef: v.coef, off: v.off };
}

/**
 * Coordinates over `shape` of an affine flat index, when each root index moves
 * exactly one coordinate and no coordinate ever leaves its range (so no carry
 * between coordinates can occur); bails otherwise.
 */
function unravel(f: Flat, shape: readonly number[], root: readonly number[]): Coords {
  const st = stridesOf(shape), R = f.a.length;
  const A = shape.map(() => new Array(R).fill(0));
  let rest = f.b;
  const b = shape.map((_, k) => {
    const q = Math.floor(rest / st[k]);
    rest -= q * st[k];
    return q;
  });
  for (let j = 0; j < R; j++) {
    const a = f.a[j];
    if (a === 0 || root[j] === 1) continue;
    const k = shape.findIndex((_, k) => a % st[k] === 0 && Math.abs(a) < st[k] * shape[k]);
    if (k < 0) bail();
    A[k][j] = a / st[k];
  }
  shape.forEach((d, k) => {
    let lo = b[k], hi = b[k];
    for (let j = 0; j < R; j++) {
      const v = A[k][j] * (root[j] - 1);
      if (v < 0) lo += v;
      else hi += v;
    }
    if (lo < 0 || hi >= d) bail();
  });
  return { A, b };
}

interface Built {
  expr: Expr;
  buffers: TypedArray[];
  dtypes: string[];
}

/** The expression of `root` over its own shape, or null when some part needs the JS kernels. */
function build(root: Node, uses: (n: Node) => number, input: (n: Node) => TypedArray): Built | null {
  const buffers: TypedArray[] = [], dtypes: string[] = [];
  // per index map (elementwise nodes pass theirs on unchanged), per node
  const memo = new Map<Affine, Map<Node, Expr>>();
  const bufIndex = (n: Node, buf: TypedArray): number => {
    const i = buffers.indexOf(buf);
    if (i >= 0) return i;
    if (!(n.dtype in BYTES)) bail();
    buffers.push(buf);
    dtypes.push(n.dtype);
    return buffers.length - 1;
  };
  const visit = (node: Node, m: Affine, expanded: boolean): Expr => {
    let byNode = memo.get(m);
    if (!byNode) memo.set(m, byNode = new Map());
    const seen = byNode.get(node);
    if (seen) return seen;
    const e = make(node, m, expanded);
    byNode.set(node, e);
    return e;
  };
  const make = (node: Node, m: Affine, expanded: boolean): Expr => {
    if (!node.buffer && node !== root && mustMaterialize(node, expanded, uses(node))) input(node);
    if (node.buffer) {
      const { a: coef, b: off } = flatOf(m, node.shape);
      return { t: "leaf", kind: node.dtype === "bool" ? "m" : "f", buf: bufIndex(node, node.buffer), coef, off };
    }
    const ins = node.inputs, dt = node.dtype;
    if (dt !== "bool" && !FLOATS.has(dt)) bail();
    switch (node.op) {
      case "fill":
        return { t: "const", kind: "f", v: (node as Node<"fill">).params.value };
      case "unary": {
        const op = (node as Node<"unary">).params.op, a = visit(ins[0], m, expanded);
        if (UN_M.has(op)) return { t: "un", kind: "m", op, a };
        if (!UN_F.has(op) || a.kind !== "f") bail();
        return { t: "un", kind: "f", op, a };
      }
      case "binary": {
        const op = (node as Node<"binary">).params.op;
        const a = visit(ins[0], m, expanded), b = visit(ins[1], m, expanded);
        if (LOGIC.has(op) && a.kind === "m" && b.kind === "m") return { t: "bin", kind: "m", op, a, b };
        if (a.kind !== "f" || b.kind !== "f") bail();
        if (COMPARE.has(op)) return { t: "bin", kind: "m", op, a, b };
        if (!ARITH.has(op)) bail();
        return { t: "bin", kind: "f", op, a, b };
      }
      case "where": {
        const c = visit(ins[0], m, expanded), a = visit(ins[1], m, expanded), b = visit(ins[2], m, expanded);
        if (a.kind !== "f" || b.kind !== "f") bail();
        return { t: "where", kind: "f", c, a, b };
      }
      case "cast": {
        const a = visit(ins[0], m, expanded), from = ins[0].dtype;
        if (dt === "bool") return a.kind === "m" ? a : { t: "cast", kind: "m", op: "toM", a };
        if (a.kind === "m") return { t: "cast", kind: "f", op: "toF", a };
        return dt === "float32" && from === "float64" ? { t: "cast", kind: "f", op: "fround", a } : a;
      }
      case "alias":
      case "stopGradient":
      case "custom":
      case "reshape":
      case "permute":
      case "slice":
        return visit(ins[0], through(node, m, root.shape), expanded);
      case "expand": {
        const src = ins[0].shape, off = node.shape.length - src.length;
        const grows = off > 0 || src.some((d, k) => d !== node.shape[k + off]);
        return visit(ins[0], through(node, m, root.shape), expanded || grows);
      }
    }
    return bail();
  };
  try {
    const expr = visit(root, identityOf(root.shape), false);
    return expr.kind === "f" ? { expr, buffers, dtypes } : null;
  } catch (e) {
    if (e instanceof Bail) return null;
    throw e;
  }
}

// ---------------------------------------------------------------- loop nest

/** Loop dims after dropping size-1 axes and merging axes every leaf walks contiguously. */
function loops(shape: readonly number[], leaves: Extract<Expr, { t: "leaf" }>[]): { n: number[]; coef: number[][] } {
  const n: number[] = [], coef: number[][] = leaves.map(() => []);
  shape.forEach((d, j) => {
    if (d === 1) return;
    const last = n.length - 1;
    if (last >= 0 && leaves.every((l, i) => coef[i][last] === l.coef[j] * d)) {
      n[last] *= d;
      leaves.forEach((l, i) => coef[i][last] = l.coef[j]);
      return;
    }
    n.push(d);
    leaves.forEach((l, i) => coef[i].push(l.coef[j]));
  });
  if (n.length === 0) {
    n.push(1);
    coef.forEach((c) => c.push(0));
  }
  return { n, coef };
}

/**
 * The kernel `run(base_0, .., base_{L-1}, out, count)` (byte addresses) over
 * the loop nest `n` with `count` iterations of the outermost loop (a thread's
 * range: the caller offsets the bases), leaf l at base_l + Σ_d i_d·coef[l][d]
 * (elements).
 */
function kernelBytes(expr: Expr, dtypes: string[], n: number[], coef: number[][], leaves: Expr[]): Uint8Array {
  const L = leaves.length, D = n.length, count = L + 1;
  const f = new FuncBuilder(leaves.map((): ValType => I32).concat(I32, I32), []);
  const outP = f.local(I32);
  const ptr = leaves.map(() => n.map(() => f.local(I32)));
  const ctr = n.map(() => f.local(I32));
  const lanes = new Map<Expr, number>();
  const bytesOf = (l: number) => BYTES[dtypes[(leaves[l] as Extract<Expr, { t: "leaf" }>).buf]];
  const v128 = (bytes: number[]) => f.v128(bytes);
  const f64Bytes = (v: number) => [...new Uint8Array(new Float64Array([v]).buffer)];
  const splat = (v: number) => v128([...f64Bytes(v), ...f64Bytes(v)]);
  const zeroLocal = f.local(V128);
  splat(0).set(zeroLocal);

  // one scalar of leaf l at ptr + off bytes, as f64
  const scalar = (l: number, p: number, off: number) => {
    const dt = dtypes[(leaves[l] as Extract<Expr, { t: "leaf" }>).buf];
    f.get(p);
    if (off < 0) f.i32(off).op(Op.i32_add);
    const o = Math.max(0, off);
    if (dt === "float32") f.mem(Op.f32_load, 2, o).op(Op.f64_promote_f32);
    else if (dt === "float64") f.mem(Op.f64_load, 3, o);
    else if (dt === "bool") f.mem(Op.i32_load8_u, 0, o).op(Op.f64_convert_i32_u);
    else f.mem(Op.i32_load, 2, o).op(Op.f64_convert_i32_s);
  };
  // the value of leaf l for the current step (pair: 2 lanes) into its local
  const loadLeaf = (l: number, pair: boolean) => {
    const e = leaves[l] as Extract<Expr, { t: "leaf" }>, p = ptr[l][D - 1], s = coef[l][D - 1] * bytesOf(l);
    const dst = lanes.get(e)!;
    if (pair && s === 4 && dtypes[e.buf] === "float32") {
      f.get(p).simdMem(Simd.v128_load64_zero, 2).simd(Simd.f64x2_promote_low_f32x4);
    } else {
      scalar(l, p, 0);
      f.simd(Simd.f64x2_splat);
      if (pair && s !== 0) {
        scalar(l, p, s);
        f.simd(Simd.f64x2_replace_lane).emit(1);
      }
    }
    if (e.kind === "m") f.get(zeroLocal).simd(Simd.f64x2_ne);
    f.set(dst);
  };
  // expression locals (each subexpression once per step)
  const order: Expr[] = [];
  const topo = (e: Expr) => {
    if (lanes.has(e)) return;
    lanes.set(e, f.local(V128));
    if (e.t === "un" || e.t === "cast") topo(e.a);
    else if (e.t === "bin") [e.a, e.b].forEach(topo);
    else if (e.t === "where") [e.c, e.a, e.b].forEach(topo);
    if (e.t !== "leaf") order.push(e);
  };
  topo(expr);
  for (const e of order) if (e.t === "const") splat(e.v).set(lanes.get(e)!);
  const g = (e: Expr) => f.get(lanes.get(e)!);
  const mask = (e: Expr) => {
    // JS truthiness of a number: neither 0 nor NaN
    if (e.kind === "m") return g(e);
    g(e).get(zeroLocal).simd(Simd.f64x2_ne);
    g(e);
    g(e);
    return f.simd(Simd.f64x2_eq).simd(Simd.v128_and);
  };
  const compute = () => {
    for (const e of order) {
      if (e.t === "const") continue;
      switch (e.t) {
        case "un":
          switch (e.op) {
            case "neg":
              g(e.a).simd(Simd.f64x2_neg);
              break;
            case "abs":
              g(e.a).simd(Simd.f64x2_abs);
              break;
            case "sqrt":
              g(e.a).simd(Simd.f64x2_sqrt);
              break;
            case "recip":
              splat(1);
              g(e.a).simd(Simd.f64x2_div);
              break;
            case "floor":
              g(e.a).simd(Simd.f64x2_floor);
              break;
            case "ceil":
              g(e.a).simd(Simd.f64x2_ceil);
              break;
            case "sign": // a > 0 ? 1 : a < 0 ? -1 : a
              splat(1);
              splat(-1);
              g(e.a);
              g(e.a).get(zeroLocal).simd(Simd.f64x2_lt).simd(Simd.v128_bitselect);
              g(e.a).get(zeroLocal).simd(Simd.f64x2_gt).simd(Simd.v128_bitselect);
              break;
            case "isnan":
              g(e.a);
              g(e.a).simd(Simd.f64x2_ne);
              break;
            case "isfinite": // a - a === 0
              g(e.a);
              g(e.a).simd(Simd.f64x2_sub).get(zeroLocal).simd(Simd.f64x2_eq);
              break;
            case "not":
              mask(e.a).simd(Simd.v128_not);
              break;
          }
          break;
        case "bin": {
          const { a, b } = e;
          if (e.op === "maximum" || e.op === "minimum") {
            // (a > b || a !== a) ? a : b (as the JS kernels, including ±0)
            g(a);
            g(b);
            g(a);
            g(b).simd(e.op === "maximum" ? Simd.f64x2_gt : Simd.f64x2_lt);
            g(a);
            g(a).simd(Simd.f64x2_ne).simd(Simd.v128_or).simd(Simd.v128_bitselect);
            break;
          }
          g(a);
          g(b);
          f.simd(
            {
              add: Simd.f64x2_add,
              sub: Simd.f64x2_sub,
              mul: Simd.f64x2_mul,
              div: Simd.f64x2_div,
              lt: Simd.f64x2_lt,
              le: Simd.f64x2_le,
              gt: Simd.f64x2_gt,
              ge: Simd.f64x2_ge,
              eq: Simd.f64x2_eq,
              ne: Simd.f64x2_ne,
              and: Simd.v128_and,
              or: Simd.v128_or,
              xor: Simd.v128_xor,
            }[e.op]!,
          );
          break;
        }
        case "where":
          g(e.a);
          g(e.b);
          mask(e.c).simd(Simd.v128_bitselect);
          break;
        case "cast":
          if (e.op === "toF") {
            splat(1);
            g(e.a).simd(Simd.v128_and); // mask & bits of 1.0: 1.0 or +0
          } else if (e.op === "toM") g(e.a).get(zeroLocal).simd(Simd.f64x2_ne);
          else g(e.a).simd(Simd.f32x4_demote_f64x2_zero).simd(Simd.f64x2_promote_low_f32x4);
          break;
      }
      f.set(lanes.get(e)!);
    }
  };
  const inner = leaves.map((_, l) => coef[l][D - 1] !== 0);

  // loop nest
  f.get(L).set(outP);
  for (let l = 0; l < L; l++) f.get(l).set(ptr[l][0]);
  // the outermost loop runs `count` times (pairs: count >> 1, then the odd one)
  const open = (d: number, len: number, pairs: boolean, body: () => void) =>
    f.forRange(
      ctr[d],
      () => f.i32(0),
      () => {
        if (d > 0) f.i32(pairs ? len >> 1 : len);
        else if (pairs) f.get(count).i32(1).op(Op.i32_shr_u);
        else f.get(count);
      },
      1,
      body,
    );
  const level = (d: number) => {
    if (d < D - 1) {
      open(d, n[d], false, () => {
        for (let l = 0; l < L; l++) f.get(ptr[l][d]).set(ptr[l][d + 1]);
        level(d + 1);
        for (let l = 0; l < L; l++) {
          if (coef[l][d]) f.get(ptr[l][d]).i32(coef[l][d] * bytesOf(l)).op(Op.i32_add).set(ptr[l][d]);
        }
      });
      return;
    }
    for (let l = 0; l < L; l++) if (!inner[l]) loadLeaf(l, false); // broadcast along the inner loop
    const step = (pair: boolean) => {
      for (let l = 0; l < L; l++) if (inner[l]) loadLeaf(l, pair);
      compute();
      f.get(outP);
      g(expr).simd(Simd.f32x4_demote_f64x2_zero);
      if (pair) f.simdMem(Simd.v128_store64_lane, 2).emit(0);
      else f.simd(Simd.f32x4_extract_lane).emit(0).mem(Op.f32_store, 2);
      f.get(outP).i32(pair ? 8 : 4).op(Op.i32_add).set(outP);
      for (let l = 0; l < L; l++) {
        if (inner[l]) f.get(ptr[l][d]).i32(coef[l][d] * bytesOf(l) * (pair ? 2 : 1)).op(Op.i32_add).set(ptr[l][d]);
      }
    };
    if (d > 0) {
      if (n[d] >= 2) open(d, n[d], true, () => step(true));
      if (n[d] % 2) step(false);
      return;
    }
    open(d, n[d], true, () => step(true));
    f.get(count).i32(1).op(Op.i32_and).if_();
    step(false);
    f.end();
  };
  level(0);
  const m = importHeap(new ModuleBuilder());
  m.func(f, "run");
  return m.bytes();
}

// ---------------------------------------------------------------- runtime

interface Kernel {
  id: number;
  bytes: Uint8Array;
  run: (...a: number[]) => void;
}
const modules = new Map<string, Kernel>();
let nextId = 1;

// A worker's share of a job: rows [r0, r1) of the outermost loop. params: [id, codePtr, codeLen, rows,
// L, out, outStep, base_0.., step_0..] (bytes; a worker compiles module `id` from the bytes the job left
// in the heap the first time it sees it).
const WORK_SETUP = `${HEAP_MODULES}
  return (params, s, S) => {
    const run = heapModule(params[0], params[1], params[2]).run;
    const rows = params[3], L = params[4], r0 = Math.floor((rows * s) / S), r1 = Math.floor((rows * (s + 1)) / S);
    if (r1 <= r0) return;
    const args = [];
    for (let l = 0; l < L; l++) args.push(params[7 + l] + r0 * params[7 + L + l]);
    run(...args, params[5] + r0 * params[6], r1 - r0);
  };
`;
const pool = heapModulePool(WORK_SETUP);
onShutdownThreads(() => pool.close());
/** The work function on the calling thread (its shares of a threaded job). */
let localWork: ((params: Float64Array, s: number, S: number) => void) | null = null;

function describe(e: Expr, ids: Map<Expr, number>): string {
  let id = ids.get(e);
  if (id !== undefined) return `#${id}`;
  ids.set(e, id = ids.size);
  switch (e.t) {
    case "leaf":
      return `L${e.buf}${e.kind}`;
    case "const":
      return `C${Object.is(e.v, -0) ? "-0" : e.v}`;
    case "un":
    case "cast":
      return `${e.op}(${describe(e.a, ids)})`;
    case "bin":
      return `${e.op}(${describe(e.a, ids)},${describe(e.b, ids)})`;
    case "where":
      return `?(${describe(e.c, ids)},${describe(e.a, ids)},${describe(e.b, ids)})`;
  }
}

/** Run `root` as a fused wasm kernel; null when it is not one this file handles. */
export function fusedWasm(
  root: Node,
  uses: (n: Node) => number,
  input: (n: Node) => TypedArray,
): Float32Array | null {
  const b = build(root, uses, input);
  if (!b) return null;
  const leaves: Extract<Expr, { t: "leaf" }>[] = [];
  const walk = (e: Expr, seen: Set<Expr>) => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.t === "leaf") leaves.push(e);
    else if (e.t === "un" || e.t === "cast") walk(e.a, seen);
    else if (e.t === "bin") [e.a, e.b].forEach((x) => walk(x, seen));
    else if (e.t === "where") [e.c, e.a, e.b].forEach((x) => walk(x, seen));
  };
  walk(b.expr, new Set());
  const { n, coef } = loops(root.shape, leaves);
  // buffers in the heap, 16-byte aligned, then the output
  const at: number[] = [];
  let top = 16;
  for (const buf of b.buffers) {
    at.push(top);
    top += (buf.byteLength + 15) & ~15;
  }
  const layoutOut = top, size = root.size, codeAt = (layoutOut + size * 4 + 15) & ~15;
  const key = `${describe(b.expr, new Map())}|${b.dtypes}|${n}|${coef.map((c) => c.join(",")).join(";")}|${
    leaves.map((l) => l.buf)
  }`;
  let k = modules.get(key);
  // threads need room for the module bytes after the output; without it, one thread
  let T = size >= tuning.threadMinSize ? Math.min(getNumThreads(), n[0]) : 1;
  let mem = T > 1 ? growWasmHeap(codeAt + (k?.bytes.length ?? 1 << 16)) : null;
  if (!mem) {
    T = 1;
    mem = growWasmHeap(codeAt);
  }
  if (!mem) return null;
  if (!k) {
    const bytes = kernelBytes(b.expr, b.dtypes, n, coef, leaves);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { mem } });
    k = { id: nextId++, bytes, run: inst.exports.run as (...a: number[]) => void };
    if (modules.size > 1024) modules.delete(modules.keys().next().value!);
    modules.set(key, k);
  }
  // inputs where they are resident, else copied into the layout; the output into a resident slot
  b.buffers.forEach((buf, i) => at[i] = placeInHeap(buf, at[i]));
  const slot = outputSlot(size * 4), outAt = slot?.at ?? layoutOut;
  const bases = leaves.map((l) => at[l.buf] + l.off * BYTES[b.dtypes[l.buf]]);
  const p = T > 1 && k.bytes.length <= 1 << 16 && 7 + 2 * leaves.length <= PARAM_SLOTS ? pool.get(T) : null;
  if (p) {
    // rows of the outermost loop: a leaf moves coef·bytes per row, the output the inner loops' size
    const steps = leaves.map((l, i) => coef[i][0] * BYTES[b.dtypes[l.buf]]), outStep = (size / n[0]) * 4;
    new Uint8Array(mem.buffer).set(k.bytes, codeAt);
    p.params.set([k.id, codeAt, k.bytes.length, n[0], leaves.length, outAt, outStep, ...bases, ...steps]);
    localWork ??= new Function("exports", "memory", WORK_SETUP)(null, mem) as typeof localWork;
  }
  const work = p ? (s: number, S: number) => localWork!(p.params, s, S) : () => k.run(...bases, outAt, n[0]);
  const out = runThenCopyOut(p, T, sharesOf(n[0], T), work, new Float32Array(mem.buffer, outAt, size));
  slot?.keep(out);
  return out;
}

if (HAS_SIMD) {
  registerPattern((node, uses, input) => {
    if (getBackend() !== "wasm" || node.dtype !== "float32" || node.size < tuning.minSize) return null;
    if (node.op !== "unary" && node.op !== "binary" && node.op !== "where" && node.op !== "cast") return null;
    const out = fusedWasm(node, uses, input);
    return out && { buffer: out, name: "fused wasm" };
  });
}
