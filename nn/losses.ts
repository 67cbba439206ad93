// Losses (SPEC §4.6).
import { expandDims, logSoftmax, type NDArray, takeAlongAxis } from "../ops/mod.ts";

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** "mean" (default and only value) */
  reduction?: "mean";
}

/**
 * Softmax cross-entropy with int32 class targets, class axis 1 (PyTorch):
 * `logits [N, K]` or `[N, K, d1, …]`, `target [N]` or `[N, d1, …]`; the mean
 * over all positions of `−logSoftmax(logits, 1)[target]`. Gradient
 * `(softmax − onehot) / count`.
 *
 * @example
 * ```ts
 * import { array } from "../mod.ts";
 * import { crossEntropy } from "./mod.ts";
 * const loss = crossEntropy(array([[2, 0], [0, 2]]), array([0, 1], { dtype: "int32" }));
 * console.log(loss.item()); // 0.1269…
 * ```
 */
export function crossEntropy(logits: NDArray, target: NDArray, options: CrossEntropyOptions = {}): NDArray {
  if (options.reduction !== undefined && options.reduction !== "mean") {
    throw new Error(`crossEntropy: reduction must be "mean", got ${JSON.stringify(options.reduction)}`);
  }
  if (logits.ndim < 2) {
    throw new Error(`crossEntropy: logits must have rank >= 2 (N, K, …), got shape [${logits.shape}]`);
  }
  if (target.dtype !== "int32") throw new TypeError(`crossEntropy: target must have dtype int32, got ${target.dtype}`);
  const expected = logits.shape.filter((_, i) => i !== 1);
  if (target.ndim !== expected.length || target.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`crossEntropy: target must have shape [${expected}], got [${target.shape}]`);
  }
  const K = logits.shape[1];
  const bad = target.lessEqual(-1).logicalOr(target.greaterEqual(K)).any().item();
  if (bad) throw new RangeError(`crossEntropy: target values must be in [0, ${K})`);
  const picked = takeAlongAxis(logSoftmax(logits, { dim: 1 }), expandDims(target, 1), 1);
  return picked.mean().neg();
}
