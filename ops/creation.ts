// Creating arrays: from JS data, constants and ranges.
import { allocate, checkDType, type DType, type TypedArray } from "./_dtype.ts";
import { bufferNode, sizeOf } from "./_graph.ts";
import { checkArray, fill, type NDArray, wrap } from "./_prim.ts";
import type { NestedArray } from "./ndarray.ts";

/** Options of {@linkcode array}. */
export interface ArrayOptions {
  /** element type (default: float32, or bool for booleans, int32 for an Int32Array) */
  dtype?: DType;
  /** shape for flat data (default: the nesting of `data`) */
  shape?: number[];
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
  }
  return shape;
}

function defaultDType(data: unknown): DType {
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint8Array) return "bool";
  let d = data;
  while (Array.isArray(d)) d = d[0];
  return typeof d === "boolean" ? "bool" : "float32";
}

/**
 * An array from nested JS arrays, a number, or a typed array (with `shape`).
 * The data is copied.
 *
 * @example
 * ```ts
 * import { array } from "./mod.ts";
 * array([[1, 2], [3, 4]]).shape; // [2, 2]
 * array(new Float32Array(6), { shape: [2, 3] }).shape; // [2, 3]
 * array([1, 2], { dtype: "int32" }).dtype; // "int32"
 * ```
 */
export function array(data: NestedArray | TypedArray | ArrayLike<number>, options: ArrayOptions = {}): NDArray {
  const dtype = options.dtype === undefined ? defaultDType(data) : checkDType("array", options.dtype);
  const isTyped = ArrayBuffer.isView(data);
  const shape = options.shape ?? (isTyped ? [(data as TypedArray).length] : inferShape(data as NestedArray));
  const size = sizeOf(shape);
  const buf = allocate(dtype, size);
  if (isTyped || (!Array.isArray(data) && typeof data === "object")) {
    const src = data as ArrayLike<number>;
    if (src.length !== size) throw new Error(`array: data has ${src.length} elements, shape [${shape}] needs ${size}`);
    for (let i = 0; i < size; i++) buf[i] = dtype === "bool" ? (src[i] ? 1 : 0) : src[i];
  } else {
    let i = 0;
    const walk = (d: NestedArray, axis: number) => {
      if (axis === shape.length && options.shape === undefined) {
        if (Array.isArray(d)) {
          throw new Error(`array: ragged nested data: expected a scalar at depth ${axis}, got an array`);
        }
        buf[i++] = typeof d === "boolean" ? (d ? 1 : 0) : (d as number);
        return;
      }
      if (!Array.isArray(d)) {
        if (options.shape !== undefined) {
          buf[i++] = typeof d === "boolean" ? (d ? 1 : 0) : (d as number);
          return;
        }
        throw new Error(
          `array: ragged nested data: expected an array of length ${shape[axis]} at depth ${axis}, got ${typeof d}`,
        );
      }
      if (options.shape === undefined && d.length !== shape[axis]) {
        throw new Error(`array: ragged nested data: expected length ${shape[axis]} at depth ${axis}, got ${d.length}`);
      }
      for (const e of d) walk(e, axis + 1);
    };
    walk(data as NestedArray, 0);
    if (i !== size) throw new Error(`array: data has ${i} elements, shape [${shape}] needs ${size}`);
  }
  return wrap(bufferNode(buf, shape, dtype));
}

/** Options with a dtype (default float32). */
export interface DTypeOptions {
  /** element type (default float32) */
  dtype?: DType;
}

function checkShapeArg(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape;
}

/**
 * An array filled with `value` (lazy: no memory until used).
 *
 * @example
 * ```ts
 * import { full } from "./mod.ts";
 * full([2], 7).toArray(); // [7, 7]
 * ```
 */
export function full(shape: number[], value: number | boolean, options: DTypeOptions = {}): NDArray {
  const dtype = checkDType("full", options.dtype ?? (typeof value === "boolean" ? "bool" : "float32"));
  return fill(Number(value), checkShapeArg("full", shape), dtype);
}

/**
 * Zeros of `shape`.
 *
 * @example
 * ```ts
 * import { zeros } from "./mod.ts";
 * zeros([2, 3]).shape; // [2, 3]
 * ```
 */
export function zeros(shape: number[], options: DTypeOptions = {}): NDArray {
  const dtype = checkDType("zeros", options.dtype ?? "float32");
  return fill(0, checkShapeArg("zeros", shape), dtype);
}

/**
 * Ones of `shape`.
 *
 * @example
 * ```ts
 * import { ones } from "./mod.ts";
 * ones([3]).toArray(); // [1, 1, 1]
 * ```
 */
export function ones(shape: number[], options: DTypeOptions = {}): NDArray {
  const dtype = checkDType("ones", options.dtype ?? "float32");
  return fill(1, checkShapeArg("ones", shape), dtype);
}

/**
 * An array like `x` (shape, and dtype unless given) filled with `value`.
 *
 * @example
 * ```ts
 * import { array, fullLike } from "./mod.ts";
 * fullLike(array([1, 2]), 5).toArray(); // [5, 5]
 * ```
 */
export function fullLike(x: NDArray, value: number | boolean, options: DTypeOptions = {}): NDArray {
  checkArray("fullLike", "x", x);
  return full(x.shape, value, { dtype: options.dtype ?? x.dtype });
}

/**
 * Zeros shaped like `x`.
 *
 * @example
 * ```ts
 * import { array, zerosLike } from "./mod.ts";
 * zerosLike(array([1, 2])).toArray(); // [0, 0]
 * ```
 */
export function zerosLike(x: NDArray, options: DTypeOptions = {}): NDArray {
  return fullLike(x, 0, options);
}

/**
 * Ones shaped like `x`.
 *
 * @example
 * ```ts
 * import { array, onesLike } from "./mod.ts";
 * onesLike(array([1, 2])).toArray(); // [1, 1]
 * ```
 */
export function onesLike(x: NDArray, options: DTypeOptions = {}): NDArray {
  return fullLike(x, 1, options);
}

/**
 * Evenly spaced values in `[start, stop)` (`arange(n)` = `0 … n−1`).
 * Integer arguments without a dtype give float32, as `linspace`.
 *
 * @example
 * ```ts
 * import { arange } from "./mod.ts";
 * arange(5).toArray(); // [0, 1, 2, 3, 4]
 * arange(1, 2, 0.25).toArray(); // [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, options: DTypeOptions = {}): NDArray {
  if (stop === undefined) [start, stop] = [0, start];
  if (!Number.isFinite(start) || !Number.isFinite(stop) || !Number.isFinite(step) || step === 0) {
    throw new Error(`arange: start, stop and a non-zero step must be finite numbers, got ${start}, ${stop}, ${step}`);
  }
  const dtype = checkDType("arange", options.dtype ?? "float32");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const buf = allocate(dtype, n);
  for (let i = 0; i < n; i++) buf[i] = start + i * step;
  return wrap(bufferNode(buf, [n], dtype));
}

/**
 * `num` evenly spaced values from `start` to `stop` (inclusive unless `endpoint: false`).
 *
 * @example
 * ```ts
 * import { linspace } from "./mod.ts";
 * linspace(0, 1, 5).toArray(); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(
  start: number,
  stop: number,
  num: number,
  options: DTypeOptions & { endpoint?: boolean } = {},
): NDArray {
  if (!Number.isInteger(num) || num < 0) throw new Error(`linspace: num must be a non-negative integer, got ${num}`);
  const dtype = checkDType("linspace", options.dtype ?? "float32");
  const endpoint = options.endpoint ?? true;
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const buf = allocate(dtype, num);
  for (let i = 0; i < num; i++) buf[i] = start + i * step;
  if (endpoint && num > 1) buf[num - 1] = stop;
  return wrap(bufferNode(buf, [num], dtype));
}

/**
 * An `n × m` identity matrix (ones on the diagonal shifted by `k`).
 *
 * @example
 * ```ts
 * import { eye } from "./mod.ts";
 * eye(2).toArray(); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, m: number = n, options: DTypeOptions & { k?: number } = {}): NDArray {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(m) || m < 0) {
    throw new Error(`eye: n and m must be non-negative integers, got ${n} and ${m}`);
  }
  const dtype = checkDType("eye", options.dtype ?? "float32");
  const k = options.k ?? 0;
  const buf = allocate(dtype, n * m);
  for (let i = 0; i < n; i++) if (i + k >= 0 && i + k < m) buf[i * m + i + k] = 1;
  return wrap(bufferNode(buf, [n, m], dtype));
}
