// Reductions over axes. sum/prod/max/min/argmax/argmin are primitives; the
// rest compose them (and fuse: an elementwise prologue runs inside the
// reduction's loop, an elementwise epilogue on its accumulator).
import type { ReduceOp } from "./_graph.ts";
import { sizeOf } from "./_graph.ts";
import { cast, checkArray, isFloat, make, type NDArray, normAxes, normAxis } from "./_prim.ts";
import { add, div, equal, exp, isFinite, log, mul, notEqual, sqrt, sub, where } from "./elementwise.ts";
import { flatten, reshape } from "./movement.ts";
import { stopGradient } from "./_stop.ts";

/** Axes to reduce: one, several, or null/undefined for all. */
export type Axis = number | number[] | null | undefined;

function reduceWith(name: string, op: ReduceOp, x: NDArray, axis: Axis, keepDims: boolean): NDArray {
  checkArray(name, "x", x);
  const axes = normAxes(name, axis, x.ndim);
  if (axes.some((a) => x.shape[a] === 0) && (name === "all" || name === "any")) {
    // NumPy: all() of nothing is true, any() of nothing is false.
    const zeros = sum(cast(x, "int32"), axes, keepDims);
    return name === "all" ? equal(zeros, 0) : notEqual(zeros, 0);
  }
  if ((op === "max" || op === "min") && axes.some((a) => x.shape[a] === 0)) {
    throw new Error(`${name}: cannot reduce over an empty axis (shape [${x.shape}])`);
  }
  let src = x;
  if (op === "sum" || op === "prod") src = x.dtype === "bool" ? cast(x, "int32") : x;
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const r = axes.length === 0 ? src : make("reduce", [src], { op, axes }, outShape, src.dtype);
  return keepDims ? reshape(r, x.shape.map((d, i) => (axes.includes(i) ? 1 : d))) : r;
}

/**
 * Sum over `axis` (all axes when omitted or null). Bool and int32 sum to int32.
 *
 * @example
 * ```ts
 * import { array, sum } from "./mod.ts";
 * sum(array([[1, 2], [3, 4]]), 0).toArray(); // [4, 6]
 * ```
 */
export function sum(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  return reduceWith("sum", "sum", x, axis, keepDims);
}

/**
 * Product over `axis`.
 *
 * @example
 * ```ts
 * import { array, prod } from "./mod.ts";
 * prod(array([2, 3, 4])).item(); // 24
 * ```
 */
export function prod(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  return reduceWith("prod", "prod", x, axis, keepDims);
}

/**
 * Maximum over `axis` (NaN propagates). Tied maxima share the gradient equally
 * (JAX, PyTorch `amax`); the max-type pooling ops route it to the first maximum.
 *
 * @example
 * ```ts
 * import { array, max } from "./mod.ts";
 * max(array([[1, 5], [3, 4]]), 1).toArray(); // [5, 4]
 * ```
 */
export function max(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  return reduceWith("max", "max", x, axis, keepDims);
}

/**
 * Minimum over `axis` (NaN propagates).
 *
 * @example
 * ```ts
 * import { array, min } from "./mod.ts";
 * min(array([3, 1, 2])).item(); // 1
 * ```
 */
export function min(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  return reduceWith("min", "min", x, axis, keepDims);
}

/**
 * Mean over `axis` (ints give float32).
 *
 * @example
 * ```ts
 * import { array, mean } from "./mod.ts";
 * mean(array([1, 2, 3, 4])).item(); // 2.5
 * ```
 */
export function mean(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  checkArray("mean", "x", x);
  const axes = normAxes("mean", axis, x.ndim);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const f = isFloat(x.dtype) ? x : cast(x, "float32");
  return div(sum(f, axes, keepDims), n);
}

function argReduce(
  name: string,
  op: "max" | "min",
  x: NDArray,
  axis: number | null | undefined,
  keepDims: boolean,
): NDArray {
  checkArray(name, "x", x);
  if (axis === undefined || axis === null) {
    const r = argReduce(name, op, flatten(x), 0, false);
    return keepDims ? reshape(r, x.shape.map(() => 1)) : r;
  }
  const ax = normAxis(name, axis, x.ndim);
  if (x.shape[ax] === 0) throw new Error(`${name}: cannot reduce over an empty axis (shape [${x.shape}])`);
  const shape = x.shape.filter((_, i) => i !== ax);
  const r = make("argreduce", [x], { op, axis: ax }, shape, "int32");
  return keepDims ? reshape(r, x.shape.map((d, i) => (i === ax ? 1 : d))) : r;
}

/**
 * Index of the first maximum along `axis` (of the flattened array when
 * omitted), int32. NaN counts as the maximum.
 *
 * @example
 * ```ts
 * import { array, argmax } from "./mod.ts";
 * argmax(array([[1, 5], [7, 4]]), 1).toArray(); // [1, 0]
 * ```
 */
export function argmax(x: NDArray, axis?: number | null, keepDims = false): NDArray {
  return argReduce("argmax", "max", x, axis, keepDims);
}

/**
 * Index of the first minimum along `axis`, int32.
 *
 * @example
 * ```ts
 * import { array, argmin } from "./mod.ts";
 * argmin(array([3, 1, 1])).item(); // 1
 * ```
 */
export function argmin(x: NDArray, axis?: number | null, keepDims = false): NDArray {
  return argReduce("argmin", "min", x, axis, keepDims);
}

/**
 * Variance `Σ(x − mean)² / (n − ddof)` over `axis`.
 *
 * @example
 * ```ts
 * import { array, variance } from "./mod.ts";
 * variance(array([1, 2, 3, 4])).item(); // 1.25
 * ```
 */
export function variance(x: NDArray, axis?: Axis, keepDims = false, ddof = 0): NDArray {
  checkArray("variance", "x", x);
  const axes = normAxes("variance", axis, x.ndim);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const f = isFloat(x.dtype) ? x : cast(x, "float32");
  const d = sub(f, mean(f, axes, true));
  return div(sum(mul(d, d), axes, keepDims), n - ddof);
}

/**
 * Standard deviation over `axis`.
 *
 * @example
 * ```ts
 * import { array, std } from "./mod.ts";
 * std(array([1, 3])).item(); // 1
 * ```
 */
export function std(x: NDArray, axis?: Axis, keepDims = false, ddof = 0): NDArray {
  return sqrt(variance(x, axis, keepDims, ddof));
}

function shiftOf(x: NDArray, axes: number[]): NDArray {
  const m = stopGradient(max(x, axes, true));
  return where(isFinite(m), m, 0);
}

/**
 * `log(Σ exp(x))` over `axis`, shifted by the maximum so it never overflows.
 *
 * @example
 * ```ts
 * import { array, logSumExp } from "./mod.ts";
 * logSumExp(array([1000, 1000])).item(); // 1000.693…
 * ```
 */
export function logSumExp(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  checkArray("logSumExp", "x", x);
  const f = isFloat(x.dtype) ? x : cast(x, "float32");
  const axes = normAxes("logSumExp", axis, x.ndim);
  const m = shiftOf(f, axes);
  const r = add(log(sum(exp(sub(f, m)), axes, true)), m);
  return keepDims ? r : reshape(r, x.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Softmax along `axis`: `exp(x − max) / Σ exp(x − max)`.
 *
 * @example
 * ```ts
 * import { array, softmax } from "./mod.ts";
 * softmax(array([0, 0])).toArray(); // [0.5, 0.5]
 * ```
 */
export function softmax(x: NDArray, axis = -1): NDArray {
  checkArray("softmax", "x", x);
  const f = isFloat(x.dtype) ? x : cast(x, "float32");
  const ax = normAxis("softmax", axis, x.ndim);
  const e = exp(sub(f, shiftOf(f, [ax])));
  return div(e, sum(e, ax, true));
}

/** Options of {@linkcode logSoftmax}. */
export interface LogSoftmaxOptions {
  /** the class axis (default -1; negative counts from the end) */
  dim?: number;
}

/**
 * `x − max − log Σ exp(x − max)` along `dim` (SPEC §4.6); gradient
 * `g − softmax(x)·Σ g`.
 *
 * @example
 * ```ts
 * import { array, logSoftmax } from "./mod.ts";
 * logSoftmax(array([[0, 0]]), { dim: 1 }).toArray(); // [[-0.693…, -0.693…]]
 * ```
 */
export function logSoftmax(x: NDArray, options: LogSoftmaxOptions = {}): NDArray {
  checkArray("logSoftmax", "x", x);
  const ax = normAxis("logSoftmax", options.dim ?? -1, x.ndim, "dim");
  const f = isFloat(x.dtype) ? x : cast(x, "float32");
  const shifted = sub(f, shiftOf(f, [ax]));
  return sub(shifted, log(sum(exp(shifted), ax, true)));
}

/**
 * True if every element along `axis` is non-zero (bool).
 *
 * @example
 * ```ts
 * import { array, all } from "./mod.ts";
 * all(array([true, false])).item(); // false
 * ```
 */
export function all(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  checkArray("all", "x", x);
  return reduceWith("all", "min", cast(x, "bool"), axis, keepDims);
}

/**
 * True if some element along `axis` is non-zero (bool).
 *
 * @example
 * ```ts
 * import { array, any } from "./mod.ts";
 * any(array([true, false])).item(); // true
 * ```
 */
export function any(x: NDArray, axis?: Axis, keepDims = false): NDArray {
  checkArray("any", "x", x);
  return reduceWith("any", "max", cast(x, "bool"), axis, keepDims);
}

/**
 * Cumulative sum along `axis` (from the end when `reverse`). Bool and int32 give int32.
 *
 * @example
 * ```ts
 * import { array, cumsum } from "./mod.ts";
 * cumsum(array([1, 2, 3])).toArray(); // [1, 3, 6]
 * ```
 */
export function cumsum(x: NDArray, axis = 0, reverse = false): NDArray {
  checkArray("cumsum", "x", x);
  const ax = normAxis("cumsum", axis, x.ndim);
  const src = x.dtype === "bool" ? cast(x, "int32") : x;
  return make("cumsum", [src], { axis: ax, reverse }, x.shape, src.dtype);
}
