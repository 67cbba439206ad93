/**
 * Functional neural-network pieces on top of the array core: losses,
 * normalization, initializers and optimizers over parameter pytrees.
 *
 * @example
 * ```ts
 * import { array } from "../mod.ts";
 * import { crossEntropy } from "./mod.ts";
 * crossEntropy(array([[1, 0]]), array([0], { dtype: "int32" })).item();
 * ```
 *
 * @module
 */
export * from "./losses.ts";
export * from "./normalization.ts";
export * from "./init.ts";
export * from "./optim.ts";
