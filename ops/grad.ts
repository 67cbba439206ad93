// deno-lint-ignore-file no-explicit-any -- user functions and pytrees are untyped at this boundary
// Reverse-mode autodiff. The lazy graph is the tape: `vjp` traces `f` on
// aliases of its inputs, records the subgraph that depends on them (nodes
// with their inputs, saved before any realization can drop them), and the
// pullback walks it in reverse topological order applying one rule per
// primitive. Rules emit lazy ops, so value and gradients realize together,
// forward intermediates are computed once, and grad-of-grad works.
import { enterTrace, exitTrace, type Node, tracing } from "./_graph.ts";
import { realize } from "./_schedule.ts";
import { cast, isFloat, make, NDArray, nodeOf, wrap } from "./_prim.ts";
import { add } from "./elementwise.ts";
import { zeros } from "./creation.ts";
import { stopGradient as stop } from "./_stop.ts";
import { VJP_RULES } from "./_vjp.ts";

/** A pytree: arrays in nested plain objects and arrays. Other leaves pass through untouched. */
export type Tree = NDArray | number | boolean | string | null | undefined | Tree[] | { [key: string]: Tree };

interface Flat {
  leaves: NDArray[];
  rebuild(leaves: NDArray[]): Tree;
}

function flattenTree(tree: Tree): Flat {
  const leaves: NDArray[] = [];
  const visit = (t: Tree): (l: NDArray[]) => Tree => {
    if (t instanceof NDArray) {
      const i = leaves.push(t) - 1;
      return (l) => l[i];
    }
    if (Array.isArray(t)) {
      const parts = t.map(visit);
      return (l) => parts.map((p) => p(l));
    }
    if (t !== null && typeof t === "object") {
      if (Object.getPrototypeOf(t) !== Object.prototype) {
        throw new TypeError(
          `grad: pytree nodes must be plain objects or arrays, got ${t.constructor?.name ?? "an object"}`,
        );
      }
      const entries = Object.entries(t).map(([k, v]) => [k, visit(v)] as const);
      return (l) => Object.fromEntries(entries.map(([k, p]) => [k, p(l)]));
    }
    return () => t;
  };
  const build = visit(tree);
  return { leaves, rebuild: build };
}

interface TapeEntry {
  node: Node;
  inputs: Node[];
}

// Nodes between the aliases and the outputs, inputs saved, in topological order.
function record(outputs: Node[], aliases: Set<Node>): { tape: TapeEntry[]; depends: Set<Node> } {
  const depends = new Set<Node>();
  const state = new Map<Node, number>(); // 1 = open, 2 = done
  const tape: TapeEntry[] = [];
  const stack: [Node, number][] = outputs.map((n) => [n, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i === 0) {
      if (state.get(node) === 2) {
        stack.pop();
        continue;
      }
      state.set(node, 1);
      if (aliases.has(node)) {
        depends.add(node);
        state.set(node, 2);
        stack.pop();
        continue;
      }
    }
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i];
      if (state.get(child) !== 2) stack.push([child, 0]);
      continue;
    }
    stack.pop();
    state.set(node, 2);
    if (node.inputs.some((c) => depends.has(c))) {
      depends.add(node);
      tape.push({ node, inputs: node.inputs.slice() });
    }
  }
  return { tape, depends };
}

function backward(tape: TapeEntry[], depends: Set<Node>, seeds: Map<Node, NDArray>): Map<Node, NDArray> {
  const ct = new Map(seeds);
  for (let t = tape.length - 1; t >= 0; t--) {
    const { node, inputs } = tape[t];
    const g = ct.get(node);
    if (!g || !isFloat(node.dtype)) continue;
    const rule = VJP_RULES[node.op] as any;
    const grads: (NDArray | null)[] = rule(node, g, inputs.map(wrap), wrap(node));
    inputs.forEach((input, k) => {
      const gk = grads[k];
      if (!gk || !depends.has(input) || !isFloat(input.dtype)) return;
      const typed = gk.dtype === input.dtype ? gk : cast(gk, input.dtype);
      const prev = ct.get(input);
      ct.set(input, prev ? add(prev, typed) : typed);
    });
  }
  return ct;
}

/** The pullback of {@linkcode vjp}: cotangent(s) shaped like the output → gradients per primal. */
export type Pullback = (cotangent: Tree) => Tree[];

/**
 * Trace `f` at `primals` and return its output with a pullback that maps an
 * output cotangent to one gradient per primal (each shaped like its primal;
 * pytrees allowed both ways).
 *
 * @example
 * ```ts
 * import { array, onesLike, vjp } from "./mod.ts";
 * const x = array([1, 2, 3]);
 * const [y, pullback] = vjp((x) => x.mul(x), x);
 * const [gx] = pullback(onesLike(y));
 * console.log(gx.toString()); // array([2., 4., 6.])
 * ```
 */
export function vjp<Out extends Tree>(
  f: (...args: any[]) => Out,
  ...primals: Tree[]
): [Out, (cotangent: Tree) => any[]] {
  const flat = flattenTree(primals);
  flat.leaves.forEach((l, i) => {
    if (!isFloat(l.dtype)) {
      throw new TypeError(`vjp: only float arrays can be differentiated; primal leaf ${i} has dtype ${l.dtype}`);
    }
  });
  const aliasNodes = flat.leaves.map((l) => nodeOf(make("alias", [l], {}, l.shape, l.dtype)));
  enterTrace();
  let out: Out, tape: TapeEntry[], depends: Set<Node>, outFlat: Flat;
  try {
    out = f(...(flat.rebuild(aliasNodes.map(wrap)) as Tree[]));
    outFlat = flattenTree(out);
    ({ tape, depends } = record(outFlat.leaves.map(nodeOf), new Set(aliasNodes)));
  } finally {
    exitTrace();
  }
  const pullback = (cotangent: Tree): Tree[] => {
    const cots = flattenTree(cotangent).leaves;
    if (cots.length !== outFlat.leaves.length) {
      throw new Error(
        `vjp: the cotangent must have the structure of the output (${outFlat.leaves.length} arrays), got ${cots.length}`,
      );
    }
    const seeds = new Map<Node, NDArray>();
    outFlat.leaves.forEach((o, i) => {
      if (cots[i].shape.join() !== o.shape.join()) {
        throw new Error(`vjp: cotangent ${i} must have shape [${o.shape}], got [${cots[i].shape}]`);
      }
      const n = nodeOf(o), c = cast(cots[i], o.dtype);
      const prev = seeds.get(n);
      seeds.set(n, prev ? add(prev, c) : c);
    });
    const ct = backward(tape, depends, seeds);
    const grads = aliasNodes.map((a) => ct.get(a) ?? zeros(a.shape as number[], { dtype: a.dtype }));
    return flat.rebuild(grads) as Tree[];
  };
  return [out, pullback];
}

/** Options of {@linkcode grad} and {@linkcode valueAndGrad}. */
export interface GradOptions {
  /** which positional arguments to differentiate (default 0); an array gives a tuple of gradients */
  argnums?: number | number[];
  /** `f` returns `[value, aux]`; aux is passed through undifferentiated */
  hasAux?: boolean;
}

function checkScalar(name: string, v: unknown): NDArray {
  if (!(v instanceof NDArray) || v.size !== 1 || !isFloat(v.dtype)) {
    const got = v instanceof NDArray ? `shape [${v.shape}] and dtype ${v.dtype}` : typeof v;
    throw new TypeError(`${name}: f must return a float scalar array, got ${got}`);
  }
  return v;
}

/**
 * `valueAndGrad(f)(...args)` returns `[value, grads]`: `f`'s scalar value and
 * its gradient with respect to the `argnums` arguments (pytrees allowed).
 * Outside any trace the value and all gradients are realized with one
 * schedule, so forward intermediates are computed once.
 *
 * @example
 * ```ts
 * import { array, valueAndGrad } from "./mod.ts";
 * const f = (w: any, x: any) => w.mul(x).sum();
 * const [v, gw] = valueAndGrad(f)(array([1, 2]), array([3, 4]));
 * console.log(v.item(), gw.toArray()); // 11 [3, 4]
 * ```
 */
export function valueAndGrad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => [any, any] {
  const argnums = options.argnums ?? 0;
  const nums = Array.isArray(argnums) ? argnums : [argnums];
  return (...args: any[]) => {
    nums.forEach((n) => {
      if (!Number.isInteger(n) || n < 0 || n >= args.length) {
        throw new RangeError(`valueAndGrad: argnums must index the ${args.length} arguments, got ${n}`);
      }
    });
    // Arguments are realized first, so a loop like `p = p - lr·g` never
    // builds an ever longer expression for its parameters.
    if (!tracing()) realize(nums.flatMap((n) => flattenTree(args[n]).leaves).map(nodeOf));
    let aux: Tree = undefined;
    const inner = (...diff: Tree[]) => {
      const full = args.slice();
      nums.forEach((n, i) => (full[n] = diff[i]));
      const r = f(...full);
      if (options.hasAux) {
        if (!Array.isArray(r) || r.length !== 2) {
          throw new TypeError("valueAndGrad: with hasAux, f must return [value, aux]");
        }
        aux = r[1];
        return checkScalar("valueAndGrad", r[0]);
      }
      return checkScalar("valueAndGrad", r);
    };
    const [value, pullback] = vjp(inner, ...nums.map((n) => args[n]));
    const grads = pullback(make("fill", [], { value: 1 }, [], value.dtype).reshape(value.shape));
    if (!tracing()) realize([value, ...flattenTree(grads).leaves].map(nodeOf));
    const g = Array.isArray(argnums) ? grads : grads[0];
    return [options.hasAux ? [value, aux] : value, g];
  };
}

/**
 * `grad(f)(...args)`: the gradient of scalar-valued `f` with respect to the
 * `argnums` arguments. Composes: `grad(grad(f))` differentiates twice.
 *
 * @example
 * ```ts
 * import { array, grad } from "./mod.ts";
 * const df = grad((x: any) => x.pow(3).sum());
 * console.log(df(array([2])).toArray()); // [12]
 * console.log(grad((x: any) => df(x).sum())(array([2])).toArray()); // [12]
 * ```
 */
export function grad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => any {
  const vg = valueAndGrad(f, options);
  return (...args: any[]) => {
    const [, g] = vg(...args);
    return g;
  };
}

/**
 * Identity in the forward pass; its gradient is zero.
 *
 * @example
 * ```ts
 * import { array, grad, stopGradient } from "./mod.ts";
 * grad((x: any) => x.mul(stopGradient(x)).sum())(array([3])).toArray(); // [3]
 * ```
 */
export function stopGradient(x: NDArray): NDArray {
  if (!(x instanceof NDArray)) throw new TypeError(`stopGradient: x must be an NDArray, got ${typeof x}`);
  return stop(x);
}

/**
 * A function with a user-defined gradient. `fwd(...args)` returns
 * `[out, residuals]`; `bwd(residuals, g)` returns one gradient per argument
 * (pytrees like the arguments; null for none). The output is one array.
 *
 * @example
 * ```ts
 * import { array, customVjp, grad } from "./mod.ts";
 * // clip the gradient of identity to [-1, 1]
 * const clipGrad = customVjp((x: any) => [x, null], (_r: any, g: any) => [g.clip(-1, 1)]);
 * grad((x: any) => clipGrad(x).mul(5).sum())(array([1])).toArray(); // [1]
 * ```
 */
export function customVjp(
  fwd: (...args: any[]) => [NDArray, any],
  bwd: (residuals: any, g: NDArray) => Tree[],
): (...args: any[]) => NDArray {
  return (...args: any[]) => {
    const flat = flattenTree(args);
    const [out, residuals] = fwd(...args);
    if (!(out instanceof NDArray)) {
      throw new TypeError("customVjp: fwd must return [out, residuals] with out an NDArray");
    }
    const vjpFn = (gNode: Node): (Node | null)[] => {
      const grads = bwd(residuals, wrap(gNode));
      if (!Array.isArray(grads) || grads.length !== args.length) {
        throw new TypeError(
          `customVjp: bwd must return one gradient per argument (${args.length}), got ${
            Array.isArray(grads) ? grads.length : typeof grads
          }`,
        );
      }
      const gl: (Node | null)[] = [];
      grads.forEach((g, i) => {
        const n = flattenTree(args[i]).leaves.length;
        if (g === null || g === undefined) { for (let k = 0; k < n; k++) gl.push(null); }
        else for (const leaf of flattenTree(g).leaves) gl.push(nodeOf(leaf));
      });
      return [null, ...gl];
    };
    return make("custom", [stop(out), ...flat.leaves], { vjp: vjpFn }, out.shape, out.dtype);
  };
}
