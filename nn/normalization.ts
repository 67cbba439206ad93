// Normalization (SPEC §4.6).
import type { NDArray } from "../ops/mod.ts";

/** Options of {@linkcode batchNorm2d}. */
export interface BatchNormOptions {
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** running-statistics momentum (default 0.1); does not affect the output */
  momentum?: number;
  /** batch statistics (true, the default; evaluation mode is outside SPEC §4.6) */
  training?: boolean;
}

/**
 * Batch normalization over (N, H, W) per channel of `x [N, C, H, W]` with
 * biased batch variance: `(x − μ) / sqrt(σ² + eps) · gamma + beta`; gradients
 * flow through μ and σ².
 *
 * @example
 * ```ts
 * import { ones, zeros, arange } from "../mod.ts";
 * import { batchNorm2d } from "./mod.ts";
 * const y = batchNorm2d(arange(8).reshape([2, 1, 2, 2]), ones([1]), zeros([1]));
 * console.log(y.mean().item()); // ~0
 * ```
 */
export function batchNorm2d(x: NDArray, gamma: NDArray, beta: NDArray, options: BatchNormOptions = {}): NDArray {
  if (x.ndim !== 4) throw new Error(`batchNorm2d: x must have rank 4 (N, C, H, W), got [${x.shape}]`);
  const C = x.shape[1];
  for (const [name, p] of [["gamma", gamma], ["beta", beta]] as const) {
    if (p.ndim !== 1 || p.shape[0] !== C) {
      throw new Error(`batchNorm2d: ${name} must have shape [${C}], got [${p.shape}]`);
    }
  }
  if (options.training === false) {
    throw new Error("batchNorm2d: training: false (running statistics) is not part of this op; use training mode");
  }
  const eps = options.eps ?? 1e-5;
  const mu = x.mean([0, 2, 3], true);
  const d = x.sub(mu);
  const v = d.square().mean([0, 2, 3], true);
  return d.mul(v.add(eps).rsqrt()).mul(gamma.reshape([1, C, 1, 1])).add(beta.reshape([1, C, 1, 1]));
}
