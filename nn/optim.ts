// Optimizers as pure functions over parameter pytrees.
import type { NDArray, Tree } from "../mod.ts";

function mapTree(f: (...leaves: NDArray[]) => NDArray, tree: Tree, ...others: Tree[]): Tree {
  if (Array.isArray(tree)) return tree.map((t, i) => mapTree(f, t, ...others.map((o) => (o as Tree[])[i])));
  if (tree !== null && typeof tree === "object" && !("dtype" in tree)) {
    return Object.fromEntries(
      Object.entries(tree).map(([k, v]) => [k, mapTree(f, v, ...others.map((o) => (o as Record<string, Tree>)[k]))]),
    );
  }
  if (tree !== null && typeof tree === "object") return f(tree as NDArray, ...(others as NDArray[]));
  return tree;
}

/**
 * One step of plain stochastic gradient descent: `p − lr · g` for every leaf
 * of the parameter pytree (gradients shaped like the parameters).
 *
 * @example
 * ```ts
 * import { array } from "../mod.ts";
 * import { sgd } from "./mod.ts";
 * const p = sgd({ w: array([1, 2]) }, { w: array([10, 10]) }, 0.1) as any;
 * console.log(p.w.toArray()); // [0, 1]
 * ```
 */
export function sgd<T extends Tree>(params: T, grads: Tree, lr: number): T {
  return mapTree((p, g) => p.sub(g.mul(lr)), params, grads) as T;
}
