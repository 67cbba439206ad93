// The scheduler: turns the lazy graph below the nodes to realize into kernels.
// Elementwise, movement, gather and reduce nodes are emitted as straight-line
// JS inside one loop nest (`new Function`, cached by source), so fused
// intermediates never allocate. A node becomes its own kernel when it is a
// heavy primitive (dot, conv, window, sort, scatter, random), when several
// consumers would otherwise recompute it, or when it is a reduction that a
// broadcast would recompute per element.
import { allocate, type DType, type TypedArray } from "./_dtype.ts";
import { type Node, type Prim, sizeOf, storeBuffer, stridesOf, tracing } from "./_graph.ts";
import { backend } from "./_backend.ts";
import { HELPERS } from "./_scalar.ts";

const FUSIBLE: ReadonlySet<Prim> = new Set<Prim>([
  "fill",
  "alias",
  "stopGradient",
  "custom",
  "unary",
  "binary",
  "where",
  "cast",
  "reduce",
  "argreduce",
  "reshape",
  "permute",
  "expand",
  "slice",
  "pad",
  "gather",
]);
const ELEMENTWISE: ReadonlySet<Prim> = new Set<Prim>(["unary", "binary", "where", "cast"]);
const VIEW: ReadonlySet<Prim> = new Set<Prim>([
  "alias",
  "stopGradient",
  "custom",
  "reshape",
  "permute",
  "expand",
  "slice",
  "pad",
]);
/** Views whose element map is affine (every view but pad): what reads through them reads the stored buffer. */
export const STRIDED_VIEW: ReadonlySet<Prim> = new Set<Prim>([...VIEW].filter((op) => op !== "pad"));

// ---------------------------------------------------------------- debug log

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission
  }
}
let debug = env("TESSERA_DEBUG") === "1";
const showSource = env("TESSERA_DEBUG_SOURCE") === "1";
const kernelEntries: string[] = [];

/**
 * Turn the kernel log on or off. While on, every kernel the engine runs is
 * recorded (read it with {@linkcode kernelLog}); `TESSERA_DEBUG=1` turns it on
 * at start-up.
 *
 * @example
 * ```ts
 * import { setDebug, kernelLog, ones } from "./mod.ts";
 * setDebug(true);
 * ones([4]).mul(2).add(1).relu().sum().item();
 * setDebug(false);
 * console.log(kernelLog()); // one fused kernel
 * ```
 */
export function setDebug(on: boolean): void {
  debug = on;
  kernelEntries.length = 0;
}

/**
 * The kernels run since debugging was switched on, one line each with its
 * time (`fused [4] float32 <- 1 buffers (0.010 ms)`, `dot [1,64,64] <- … (0.2 ms)`);
 * empty when debugging is off.
 *
 * @example
 * ```ts
 * import { kernelLog } from "./mod.ts";
 * console.log(kernelLog().length);
 * ```
 */
export function kernelLog(): string[] {
  return kernelEntries.slice();
}

// Kernel times are exclusive: a kernel's inputs realized inside it (fused
// kernels, patterns) are logged and timed on their own lines.
let logged = 0; // ms of all logged kernels so far
type Clock = { t0: number; logged: number } | null;
function clock(): Clock {
  return debug ? { t0: performance.now(), logged } : null;
}

/** Record a kernel started at `c` with its exclusive time. */
function log(entry: string, c: Clock): void {
  if (debug && c) {
    const elapsed = performance.now() - c.t0, own = elapsed - (logged - c.logged);
    logged = c.logged + elapsed;
    kernelEntries.push(`${entry} (${own.toFixed(3)} ms)`);
    if (kernelEntries.length > 10_000) kernelEntries.shift();
  }
}

// ---------------------------------------------------------------- realize

/** Realize several nodes with one schedule, so shared intermediates are computed once. */
export function realize(targets: readonly Node[]): void {
  const todo = targets.filter((t) => !t.buffer);
  if (todo.length === 0) return;
  const uses = countUses(todo);
  for (const t of todo) realizeNode(t, uses);
}

function finish(node: Node, buffer: TypedArray): void {
  storeBuffer(node, buffer);
  if (tracing()) return;
  noteRelu(node);
  if (node.op === "windowArgmax" && node.inputs[0]) node.noted = { ...node.noted, inputId: node.inputs[0].id };
  node.inputs = [];
}

/** The value of `n` when it is an unrealized constant (a fill, or a broadcast of one), else undefined. */
export function fillValueOf(n: Node): number | undefined {
  const f = !n.buffer && n.op === "expand" ? n.inputs[0] : n;
  return f && !f.buffer && f.op === "fill" ? (f as Node<"fill">).params.value : undefined;
}

/** `n` is the constant +0 (a fill, or a broadcast of one). */
export function isPlusZero(n: Node): boolean {
  return Object.is(fillValueOf(n), 0);
}

/** `y` a relu `where(c, x, +0)` with `c = (x > 0)`: x, else null. */
export function reluInput(y: Node): Node | null {
  if (y.op !== "where") return null;
  const [c, x, z] = y.inputs;
  if (c.op !== "binary" || (c as Node<"binary">).params.op !== "gt" || !isPlusZero(z)) return null;
  return c.inputs[0] === x && isPlusZero(c.inputs[1]) && c.shape.join() === y.shape.join() ? x : null;
}

// A realized node drops its inputs; what a fast path needs to know afterwards is noted on the nodes that stay in
// the graph (plain fields: weak maps kept the values until a full collection and raised the training loop's peak
// RSS by 200+ MiB). relu y = where(c, x, +0) with c = (x > 0): y's values on c (c ⇔ value > 0 everywhere), and c
// now reads y (y > 0, the same values), so its later uses (relu's backward) need neither x nor what x fused (a
// convolution whose bias and relu ran as its epilogue is never materialized).
function noteRelu(y: Node): void {
  if (!reluInput(y)) return;
  const c = y.inputs[0];
  c.noted = { ...c.noted, reluId: y.id, reluValues: y.buffer! };
  if (!c.buffer) c.inputs = [y, c.inputs[1]];
}

/** The values of the realized relu whose condition is `c` (y = where(c, x, +0), c = (x > 0)): c ⇔ value > 0. */
export function reluValuesOf(c: Node): TypedArray | undefined {
  return c.noted?.reluValues;
}

/** The id of window argmax `am`'s input node (realized or not). */
export function argmaxInputId(am: Node): number | undefined {
  return am.inputs[0]?.id ?? am.noted?.inputId;
}

/**
 * Realize `node` with `buffer`, its exact value, which a fused fast path
 * computed on the way to another node (e.g. window argmax indices that a
 * later pullback of the same forward would otherwise compute again).
 */
export function materialize(node: Node, buffer: TypedArray): void {
  if (!node.buffer) finish(node, buffer);
}

// Ops that leave the row-major data unchanged: realized, they share the buffer.
const SAME_DATA: ReadonlySet<Prim> = new Set<Prim>(["reshape", "alias", "stopGradient", "custom"]);

/**
 * A fused fast path over a small subgraph (see `_window_kernels.ts`): given
 * an unrealized node, returns its buffer, computed without materializing the
 * intermediates it fuses, or null to leave the node to the normal schedule.
 * `uses(n)` is n's effective use count in this schedule; `input(n)` realizes
 * n and returns its buffer.
 */
export type Pattern = (
  node: Node,
  uses: (n: Node) => number,
  input: (n: Node) => TypedArray,
) => { buffer: TypedArray; name: string } | null;
const patterns: Pattern[] = [];

/** Register a fused fast path; it must produce exactly what the composition it replaces produces. */
export function registerPattern(p: Pattern): void {
  patterns.push(p);
}

function realizeNode(node: Node, uses: Uses): void {
  if (node.buffer) return;
  if (SAME_DATA.has(node.op)) {
    realizeNode(node.inputs[0], uses);
    return finish(node, node.inputs[0].buffer!);
  }
  const t0 = clock();
  const useCount = (n: Node) => uses.get(n) ?? 0,
    input = (n: Node) => {
      realizeNode(n, uses);
      return n.buffer!;
    };
  for (const pattern of patterns) {
    const r = pattern(node, useCount, input);
    if (r) {
      log(`${r.name} [${node.shape}]`, t0);
      return finish(node, r.buffer);
    }
  }
  if (FUSIBLE.has(node.op)) return runFused(node, uses);
  for (const input of node.inputs) realizeNode(input, uses);
  const buffers = node.inputs.map((i) => i.buffer!);
  const t1 = clock();
  finish(node, backend().run(node, buffers));
  log(`${node.op} [${node.shape}] <- ${node.inputs.map((i) => `[${i.shape}]`).join(" ")}`, t1);
}

// Effective uses: a view passes its uses on to what it views, so a value read
// twice through two views still counts as used twice. All elementwise
// consumers together count once: they read the same index and the emitter
// reuses the value inside a kernel (relu(x) = where(x > 0, x, 0) reads x once).
type Uses = Map<Node, number>;
function countUses(targets: readonly Node[]): Uses {
  const consumers = new Map<Node, Node[]>();
  const seen = new Set<Node>();
  const stack = [...targets];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.buffer) continue;
    for (const i of n.inputs) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
      stack.push(i);
    }
  }
  const targetSet = new Set(targets);
  const uses: Uses = new Map();
  const eff = (n: Node): number => {
    let u = uses.get(n);
    if (u !== undefined) return u;
    u = targetSet.has(n) ? 1 : 0;
    let elementwise = 0;
    for (const c of consumers.get(n) ?? []) {
      if (ELEMENTWISE.has(c.op)) elementwise = 1;
      else u += VIEW.has(c.op) ? eff(c) : 1;
    }
    u += elementwise;
    uses.set(n, u);
    return u;
  };
  for (const n of seen) eff(n);
  return uses;
}

/**
 * Whether a fused kernel reads `node` (an input of its root, used `uses`
 * times in the schedule) from its own buffer instead of recomputing it inline:
 * heavy primitives, reductions under a broadcast, and values several
 * consumers share (unless cheap to recompute).
 */
export function mustMaterialize(node: Node, expanded: boolean, uses: number): boolean {
  if (!FUSIBLE.has(node.op)) return true;
  if ((node.op === "reduce" || node.op === "argreduce") && expanded) return true;
  return uses > 1 && !isCheap(node);
}

/**
 * Whether a fused kernel reads `node`'s values as stored (from its buffer, or through views from the
 * buffer of what it views) rather than computing them inline in double: then a fast path that realizes
 * `node` first uses exactly the values the composition uses.
 */
export function readsStored(node: Node, expanded: boolean, uses: (n: Node) => number): boolean {
  for (let n = node, e = expanded;; n = n.inputs[0]) {
    if (n.buffer || mustMaterialize(n, e, uses(n))) return true;
    if (!STRIDED_VIEW.has(n.op)) return false;
    e ||= n.op === "expand";
  }
}

function isCheap(n: Node): boolean {
  if (n.buffer || n.op === "fill") return true;
  return STRIDED_VIEW.has(n.op) && isCheap(n.inputs[0]);
}

// ---------------------------------------------------------------- codegen

interface Index {
  shape: readonly number[];
  dims: string[];
  /** row-major flat index over `shape`, when known cheaply */
  flat: string | null;
}

class Block {
  readonly lines: string[] = [];
  constructor(readonly parent: Block | null, readonly indent: string) {}
  /** Whether what `b` binds is in scope here (`b` is this block or encloses it). */
  sees(b: Block): boolean {
    return b === this || (this.parent !== null && this.parent.sees(b));
  }
  child(): Block {
    return new Block(this, this.indent + "  ");
  }
  push(line: string): void {
    this.lines.push(this.indent + line);
  }
}

class Emitter {
  readonly args: TypedArray[] = [];
  readonly #argNames = new Map<TypedArray, string>();
  readonly parts: string[] = [];
  // what is bound to an expression text or a node@index key, and in which block: one map for the whole kernel
  // (blocks are emitted in order and never reopened, so the latest binding is the one in scope if any is)
  readonly #memo = new Map<string, { value: string; block: Block }>();
  #tmp = 0;
  constructor(readonly root: Node, readonly uses: Uses) {}

  fresh(prefix: string): string {
    return `${prefix}${this.#tmp++}`;
  }

  arg(buf: TypedArray): string {
    let name = this.#argNames.get(buf);
    if (!name) {
      name = `b${this.args.length}`;
      this.#argNames.set(buf, name);
      this.args.push(buf);
    }
    return name;
  }

  /** bind an expression to a const in `block` (memoized by text) */
  bind(block: Block, expr: string, prefix = "t"): string {
    if (/^[\w.]+$/.test(expr)) return expr;
    const found = this.#lookup(block, expr);
    if (found) return found;
    const name = this.fresh(prefix);
    block.push(`const ${name} = ${expr};`);
    this.#memo.set(expr, { value: name, block });
    return name;
  }

  flatOf(block: Block, idx: Index): string {
    if (idx.flat !== null) return idx.flat;
    const st = stridesOf(idx.shape);
    const terms: string[] = [];
    for (let k = 0; k < idx.dims.length; k++) {
      if (idx.shape[k] === 1 || idx.dims[k] === "0") continue;
      terms.push(st[k] === 1 ? idx.dims[k] : `${idx.dims[k]} * ${st[k]}`);
    }
    return this.bind(block, terms.length ? terms.join(" + ") : "0");
  }

  unravel(block: Block, flat: string, shape: readonly number[]): Index {
    const st = stridesOf(shape);
    const dims = shape.map((d, k) => {
      if (d === 1) return "0";
      const q = st[k] === 1 ? flat : `Math.floor(${flat} / ${st[k]})`;
      return this.bind(block, k === 0 ? q : `${q} % ${d}`);
    });
    return { shape, dims, flat };
  }

  value(node: Node, idx: Index, block: Block, expanded: boolean): string {
    if (!node.buffer && node !== this.root && this.#mustMaterialize(node, expanded)) {
      realizeNode(node, this.uses);
    }
    const key = `${node.id}@${idx.flat ?? idx.dims.join(",")}`;
    const memo = this.#lookup(block, key);
    if (memo) return memo;
    const v = this.#emit(node, idx, block, expanded);
    this.#memo.set(key, { value: v, block });
    return v;
  }

  #lookup(block: Block, key: string): string | undefined {
    const m = this.#memo.get(key);
    return m && block.sees(m.block) ? m.value : undefined;
  }

  #mustMaterialize(node: Node, expanded: boolean): boolean {
    return mustMaterialize(node, expanded, this.uses.get(node) ?? 0);
  }

  #emit(node: Node, idx: Index, block: Block, expanded: boolean): string {
    if (node.buffer) {
      return this.bind(block, `${this.arg(node.buffer)}[${this.flatOf(block, idx)}]`, "v");
    }
    const ins = node.inputs;
    switch (node.op) {
      case "fill":
        return literal((node as Node<"fill">).params.value);
      case "alias":
      case "stopGradient":
      case "custom":
        return this.value(ins[0], idx, block, expanded);
      case "unary": {
        const a = this.value(ins[0], idx, block, expanded);
        return this.bind(block, unaryExpr((node as Node<"unary">).params.op, a, node.dtype), "v");
      }
      case "binary": {
        const a = this.value(ins[0], idx, block, expanded);
        const b = this.value(ins[1], idx, block, expanded);
        return this.bind(block, binaryExpr((node as Node<"binary">).params.op, a, b, ins[0].dtype), "v");
      }
      case "where": {
        const c = this.value(ins[0], idx, block, expanded);
        const a = this.value(ins[1], idx, block, expanded);
        const b = this.value(ins[2], idx, block, expanded);
        return this.bind(block, `(${c} ? ${a} : ${b})`, "v");
      }
      case "cast":
        return this.bind(block, castExpr(this.value(ins[0], idx, block, expanded), ins[0].dtype, node.dtype), "v");
      case "reshape": {
        const flat = this.flatOf(block, idx);
        return this.value(ins[0], this.unravel(block, flat, ins[0].shape), block, expanded);
      }
      case "permute": {
        const perm = (node as Node<"permute">).params.perm;
        const dims = new Array<string>(perm.length);
        perm.forEach((p, k) => dims[p] = idx.dims[k]);
        return this.value(ins[0], { shape: ins[0].shape, dims, flat: null }, block, expanded);
      }
      case "expand": {
        const src = ins[0].shape;
        const off = idx.shape.length - src.length;
        const dims = src.map((d, k) => (d === 1 ? "0" : idx.dims[k + off]));
        const grows = src.some((d, k) => d !== idx.shape[k + off]) || off > 0;
        return this.value(ins[0], { shape: src, dims, flat: null }, block, expanded || grows);
      }
      case "slice": {
        const { starts, steps } = (node as Node<"slice">).params;
        const dims = idx.dims.map((d, k) => {
          if (steps[k] === 1 && starts[k] === 0) return d;
          const scaled = steps[k] === 1 ? d : `${d} * ${steps[k]}`;
          return this.bind(block, starts[k] === 0 ? scaled : `${starts[k]} + ${scaled}`);
        });
        return this.value(ins[0], { shape: ins[0].shape, dims, flat: null }, block, expanded);
      }
      case "pad": {
        const { widths, value } = (node as Node<"pad">).params;
        const src = ins[0].shape;
        const conds: string[] = [];
        const dims = idx.dims.map((d, k) => {
          const [before] = widths[k];
          if (before === 0 && widths[k][1] === 0) return d;
          const s = before === 0 ? d : this.bind(block, `${d} - ${before}`);
          if (before > 0) conds.push(`${s} >= 0`);
          if (widths[k][1] > 0 || before < 0) conds.push(`${s} < ${src[k]}`);
          if (before < 0) conds.push(`${s} >= 0`);
          return s;
        });
        if (conds.length === 0) return this.value(ins[0], { shape: src, dims, flat: null }, block, expanded);
        const out = this.fresh("p");
        block.push(`let ${out} = ${literal(value)};`);
        block.push(`if (${conds.join(" && ")}) {`);
        const inner = block.child();
        const v = this.value(ins[0], { shape: src, dims, flat: null }, inner, expanded);
        block.lines.push(...inner.lines);
        block.push(`  ${out} = ${v};`);
        block.push(`}`);
        return out;
      }
      case "gather": {
        const axis = (node as Node<"gather">).params.axis;
        const n = ins[0].shape[axis];
        const j = this.value(ins[1], idx, block, expanded);
        const jj = this.fresh("j");
        block.push(`let ${jj} = ${j};`);
        block.push(`if (${jj} < 0) ${jj} += ${n};`);
        block.push(`if (!(${jj} >= 0 && ${jj} < ${n})) H.indexError("gather (take/takeAlongAxis)", ${j}, ${n});`);
        const dims = idx.dims.slice();
        dims[axis] = jj;
        return this.value(ins[0], { shape: ins[0].shape, dims, flat: null }, block, true);
      }
      case "reduce":
      case "argreduce":
        return this.#reduce(node, idx, block);
      default:
        throw new Error(`internal: ${node.op} is not fusible`);
    }
  }

  #reduce(node: Node, idx: Index, block: Block): string {
    const src = node.inputs[0];
    const isArg = node.op === "argreduce";
    const axes = isArg ? [(node as Node<"argreduce">).params.axis] : (node as Node<"reduce">).params.axes;
    const op = (node as Node<"reduce" | "argreduce">).params.op;
    const acc = this.fresh("acc");
    const lastAxis = axes.length ? Math.max(...axes) : -1;
    if (!isArg && op === "sum" && FLOAT_SUM.has(src.dtype)) {
      const s = this.#sum4(src, axes, lastAxis, acc, idx, block);
      if (s) return s;
    }
    const arg = this.fresh("arg");
    block.push(`let ${acc} = ${reduceInit(op, src.dtype)};`);
    if (isArg) block.push(`let ${arg} = 0;`);
    const dims: string[] = [];
    let body = block;
    let k = 0;
    const loopVars: string[] = [];
    for (let a = 0; a < src.shape.length; a++) {
      if (axes.includes(a)) {
        const r = this.fresh("r");
        loopVars.push(r);
        body.push(`for (let ${r} = 0; ${r} < ${src.shape[a]}; ${r}++) {`);
        body = body.child();
        dims.push(r);
      } else dims.push(idx.dims[k++]);
    }
    const v = this.value(src, { shape: src.shape, dims, flat: null }, body, false);
    if (isArg) {
      const better = op === "max" ? ">" : "<";
      // first extremum wins; NaN counts as the extremum (PyTorch)
      body.push(
        `if (${v} ${better} ${acc} || (${v} !== ${v} && ${acc} === ${acc})) { ${acc} = ${v}; ${arg} = ${
          loopVars[0]
        }; }`,
      );
    } else body.push(`${acc} = ${reduceStep(op, acc, v, src.dtype)};`);
    this.#closeLoops(body, loopVars.length);
    return isArg ? arg : acc;
  }

  // A float sum with four accumulators over the innermost reduced axis (a
  // single double accumulator makes the loop wait on each add's latency).
  // On a realized (row-major) input, a run of adjacent reduced axes ending at
  // the innermost one is one loop: its index is linear in the run's position.
  // Null (nothing emitted) when that loop is short.
  #sum4(src: Node, axes: number[], lastAxis: number, acc: string, idx: Index, block: Block): string | null {
    if (!src.buffer && this.#mustMaterialize(src, false)) realizeNode(src, this.uses);
    let first = lastAxis;
    while (src.buffer && axes.includes(first - 1)) first--;
    const L = sizeOf(src.shape.slice(first, lastAxis + 1));
    if (L < 16) return null;
    const accs = [0, 1, 2, 3].map(() => this.fresh("acc"));
    block.push(`let ${accs.join(" = 0, ")} = 0;`);
    const dims: string[] = [];
    let body = block, k = 0, depth = 0, r = "";
    for (let a = 0; a < src.shape.length; a++) {
      if (a >= first && a < lastAxis) dims.push("0");
      else if (a === lastAxis) dims.push(r = this.fresh("r"));
      else if (axes.includes(a)) {
        const v = this.fresh("r");
        body.push(`for (let ${v} = 0; ${v} < ${src.shape[a]}; ${v}++) {`);
        body = body.child();
        depth++;
        dims.push(v);
      } else dims.push(idx.dims[k++]);
    }
    const at = (e: string) => dims.map((d) => (d === r ? e : d));
    body.push(`let ${r} = 0;`);
    body.push(`for (; ${r} < ${L - 3}; ${r} += 4) {`);
    let inner = body.child();
    for (let u = 0; u < 4; u++) {
      const v = this.value(src, { shape: src.shape, dims: at(u ? `(${r} + ${u})` : r), flat: null }, inner, false);
      inner.push(`${accs[u]} += ${v};`);
    }
    this.#closeLoops(inner, 1);
    body.push(`for (; ${r} < ${L}; ${r}++) {`);
    inner = body.child();
    inner.push(`${accs[0]} += ${this.value(src, { shape: src.shape, dims: at(r), flat: null }, inner, false)};`);
    this.#closeLoops(inner, 1);
    this.#closeLoops(body, depth);
    block.push(`const ${acc} = (${accs[0]} + ${accs[1]}) + (${accs[2]} + ${accs[3]});`);
    return acc;
  }

  // Loop bodies are written into nested child blocks; splice each into its
  // parent and close the brace.
  #closeLoops(inner: Block, depth: number): void {
    let b = inner;
    for (let d = 0; d < depth; d++) {
      const parent = b.parent!;
      parent.lines.push(...b.lines, parent.indent + "}");
      b = parent;
    }
  }

  compile(): { fn: (args: TypedArray[], out: TypedArray, H: typeof HELPERS) => void; source: string } {
    const node = this.root;
    const shape = node.shape;
    const top = new Block(null, "  ");
    let body = top;
    const dims: string[] = [];
    for (let k = 0; k < shape.length; k++) {
      const i = `i${k}`;
      dims.push(i);
      body.push(`for (let ${i} = 0; ${i} < ${shape[k]}; ${i}++) {`);
      body = body.child();
    }
    const v = this.value(node, { shape, dims, flat: "o" }, body, false);
    body.push(`out[o++] = ${v};`);
    this.#closeLoops(body, shape.length);
    const unpack = this.args.map((_, j) => `b${j} = args[${j}]`).join(", ");
    const source = `${unpack ? `const ${unpack};\n` : ""}let o = 0;\n${top.lines.join("\n")}`;
    return { fn: compileCached(source), source };
  }
}

const cache = new Map<string, (args: TypedArray[], out: TypedArray, H: typeof HELPERS) => void>();
function compileCached(source: string): (args: TypedArray[], out: TypedArray, H: typeof HELPERS) => void {
  let fn = cache.get(source);
  if (!fn) {
    fn = new Function("args", "out", "H", source) as (args: TypedArray[], out: TypedArray, H: typeof HELPERS) => void;
    if (cache.size > 4096) cache.delete(cache.keys().next().value!);
    cache.set(source, fn);
  }
  return fn;
}

function runFused(node: Node, uses: Uses): void {
  const t0 = clock();
  const em = new Emitter(node, uses);
  const { fn, source } = em.compile();
  const out = allocate(node.dtype, node.size);
  if (debug && showSource) console.log(source);
  fn(em.args, out, HELPERS);
  finish(node, out);
  log(`fused [${node.shape}] ${node.dtype} <- ${em.args.length} buffers`, t0);
}

// ---------------------------------------------------------------- scalar code

export function literal(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return v < 0 ? `(${v})` : String(v);
}

function unaryExpr(op: string, a: string, dtype: DType): string {
  const int = dtype === "int32";
  switch (op) {
    case "neg":
      return int ? `(-${a} | 0)` : `(-${a})`;
    case "exp":
      return `Math.exp(${a})`;
    case "log":
      return `Math.log(${a})`;
    case "log1p":
      return `Math.log1p(${a})`;
    case "expm1":
      return `Math.expm1(${a})`;
    case "sin":
      return `Math.sin(${a})`;
    case "cos":
      return `Math.cos(${a})`;
    case "tanh":
      return `Math.tanh(${a})`;
    case "sqrt":
      return `Math.sqrt(${a})`;
    case "recip":
      return `(1 / ${a})`;
    case "abs":
      return int ? `(Math.abs(${a}) | 0)` : `Math.abs(${a})`;
    case "sign":
      return `(${a} > 0 ? 1 : ${a} < 0 ? -1 : ${a})`;
    case "floor":
      return `Math.floor(${a})`;
    case "ceil":
      return `Math.ceil(${a})`;
    case "round":
      return `H.roundHalfEven(${a})`;
    case "erf":
      return `H.erf(${a})`;
    case "erfinv":
      return `H.erfinv(${a})`;
    case "sigmoid":
      return `(1 / (1 + Math.exp(-${a})))`;
    case "isnan":
      return `(${a} !== ${a} ? 1 : 0)`;
    case "isfinite":
      return `(${a} - ${a} === 0 ? 1 : 0)`;
    case "not":
      return `(${a} ? 0 : 1)`;
  }
  throw new Error(`internal: unary ${op}`);
}

function binaryExpr(op: string, a: string, b: string, dtype: DType): string {
  const int = dtype === "int32";
  switch (op) {
    case "add":
      return int ? `((${a} + ${b}) | 0)` : `(${a} + ${b})`;
    case "sub":
      return int ? `((${a} - ${b}) | 0)` : `(${a} - ${b})`;
    case "mul":
      return int ? `Math.imul(${a}, ${b})` : `(${a} * ${b})`;
    case "div":
      return `(${a} / ${b})`;
    case "pow":
      return int ? `(Math.pow(${a}, ${b}) | 0)` : `Math.pow(${a}, ${b})`;
    case "maximum":
      return `((${a} > ${b} || ${a} !== ${a}) ? ${a} : ${b})`;
    case "minimum":
      return `((${a} < ${b} || ${a} !== ${a}) ? ${a} : ${b})`;
    case "mod":
      return int ? `H.imod(${a}, ${b})` : `(${a} - Math.floor(${a} / ${b}) * ${b})`;
    case "idiv":
      return int ? `H.idiv(${a}, ${b})` : `Math.floor(${a} / ${b})`;
    case "lt":
      return `(${a} < ${b} ? 1 : 0)`;
    case "le":
      return `(${a} <= ${b} ? 1 : 0)`;
    case "gt":
      return `(${a} > ${b} ? 1 : 0)`;
    case "ge":
      return `(${a} >= ${b} ? 1 : 0)`;
    case "eq":
      return `(${a} === ${b} ? 1 : 0)`;
    case "ne":
      return `(${a} !== ${b} ? 1 : 0)`;
    case "and":
      return `(${a} & ${b})`;
    case "or":
      return `(${a} | ${b})`;
    case "xor":
      return `(${a} ^ ${b})`;
    case "atan2":
      return `Math.atan2(${a}, ${b})`;
  }
  throw new Error(`internal: binary ${op}`);
}

function castExpr(a: string, from: DType, to: DType): string {
  if (from === to) return a;
  if (to === "bool") return `(${a} !== 0 ? 1 : 0)`;
  if (to === "int32") return from === "bool" ? a : `(${a} | 0)`;
  if (to === "float32") return from === "float64" ? `Math.fround(${a})` : a;
  return a;
}

const FLOAT_SUM: ReadonlySet<DType> = new Set(["float32", "float64"]);

function reduceInit(op: string, dtype: DType): string {
  switch (op) {
    case "sum":
      return "0";
    case "prod":
      return "1";
    case "max":
      return dtype === "int32" ? "-2147483648" : dtype === "bool" ? "0" : "-Infinity";
    default:
      return dtype === "int32" ? "2147483647" : dtype === "bool" ? "1" : "Infinity";
  }
}

function reduceStep(op: string, acc: string, v: string, dtype: DType): string {
  const int = dtype === "int32";
  switch (op) {
    case "sum":
      return int ? `(${acc} + ${v}) | 0` : `${acc} + ${v}`;
    case "prod":
      return int ? `Math.imul(${acc}, ${v})` : `${acc} * ${v}`;
    case "max":
      return `(${v} > ${acc} || ${v} !== ${v}) ? ${v} : ${acc}`;
    default:
      return `(${v} < ${acc} || ${v} !== ${v}) ? ${v} : ${acc}`;
  }
}

export { sizeOf };
