import { make, type NDArray } from "./_prim.ts";

/** Identity whose gradient is zero (the public, documented form lives in grad.ts). */
export function stopGradient(x: NDArray): NDArray {
  return make("stopGradient", [x], {}, x.shape, x.dtype);
}
