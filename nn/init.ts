// Parameter initializers (functional: explicit keys).
import { type DType, type NDArray, random } from "../mod.ts";

/**
 * He (Kaiming) normal init for ReLU networks: `N(0, 2 / fanIn)`, where fanIn
 * is the product of all dims but the first (OIHW conv weights, [out, in] dense).
 *
 * @example
 * ```ts
 * import { random } from "../mod.ts";
 * import { heNormal } from "./mod.ts";
 * heNormal(random.key(0), [16, 3, 3, 3]).shape; // [16, 3, 3, 3]
 * ```
 */
export function heNormal(key: NDArray, shape: number[], dtype: DType = "float32"): NDArray {
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return random.normal(key, shape, { dtype }).mul(Math.sqrt(2 / Math.max(fanIn, 1)));
}

/**
 * Glorot (Xavier) uniform init: `U(−l, l)`, `l = sqrt(6 / (fanIn + fanOut))`.
 *
 * @example
 * ```ts
 * import { random } from "../mod.ts";
 * import { glorotUniform } from "./mod.ts";
 * glorotUniform(random.key(0), [10, 20]).shape; // [10, 20]
 * ```
 */
export function glorotUniform(key: NDArray, shape: number[], dtype: DType = "float32"): NDArray {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  const fanOut = shape[0] * receptive, fanIn = (shape[1] ?? 1) * receptive;
  const l = Math.sqrt(6 / (fanIn + fanOut));
  return random.uniform(key, shape, { dtype, minval: -l, maxval: l });
}
