/**
 * Seed architectures built only on the public API, each as `init(key,
 * options)` → parameter pytree and `apply(params, x)` → output.
 *
 * @example
 * ```ts
 * import { random } from "../mod.ts";
 * import { lenet } from "./mod.ts";
 * const params = lenet.init(random.key(0), { classes: 10 });
 * ```
 *
 * @module
 */
export * as lenet from "./lenet.ts";
