// The kernel layer: one interface, interchangeable implementations. The plain
// JS backend is always complete and is the oracle the tests compare against;
// a faster backend registers the kernels it has and falls back to JS.
import type { TypedArray } from "./_dtype.ts";
import type { Node, Prim } from "./_graph.ts";

/** Computes a heavy (non-fused) primitive from its realized, contiguous inputs. */
export type Kernel = (node: Node, inputs: TypedArray[]) => TypedArray;

export interface Backend {
  readonly name: string;
  run(node: Node, inputs: TypedArray[]): TypedArray;
}

const tables = new Map<string, Map<Prim, Kernel>>([["js", new Map()]]);
let current = "js";

/** Register `kernel` for primitive `prim` in backend `name` (created on first use). */
export function registerKernel(name: string, prim: Prim, kernel: Kernel): void {
  let t = tables.get(name);
  if (!t) tables.set(name, t = new Map());
  t.set(prim, kernel);
}

const runner: Backend = {
  get name() {
    return current;
  },
  run(node, inputs) {
    const k = tables.get(current)!.get(node.op) ?? tables.get("js")!.get(node.op);
    if (!k) throw new Error(`internal: no kernel for primitive ${node.op}`);
    return k(node, inputs);
  },
};

export function backend(): Backend {
  return runner;
}

/**
 * Choose the kernel implementation: `"js"` (the plain reference, always
 * present) or another registered backend such as `"wasm"`.
 *
 * @example
 * ```ts
 * import { setBackend, getBackend } from "./mod.ts";
 * setBackend("js");
 * console.log(getBackend()); // "js"
 * ```
 */
export function setBackend(name: string): void {
  if (!tables.has(name)) {
    throw new Error(`setBackend: name must be one of ${[...tables.keys()].join(", ")}, got ${JSON.stringify(name)}`);
  }
  current = name;
}

/**
 * The name of the kernel implementation in use.
 *
 * @example
 * ```ts
 * import { getBackend } from "./mod.ts";
 * console.log(getBackend());
 * ```
 */
export function getBackend(): string {
  return current;
}
