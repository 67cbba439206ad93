/**
 * tessera — a Deno-first functional array library: immutable lazy arrays, an
 * autodiff tape over them, and forward and backward passes for every
 * convolution and pooling variant.
 *
 * @example
 * ```ts
 * import * as ts from "./mod.ts";
 * const x = ts.array([[1, 2], [3, 4]]);
 * console.log(x.mul(2).sum().item()); // 20
 * ```
 *
 * @module
 */
export * from "./ops/mod.ts";
export * as random from "./ops/random.ts";
