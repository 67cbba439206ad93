// The public array handle. Immutable and lazy: every op builds a graph node,
// reading data realizes it.
import { allocate, type DType, type TypedArray } from "./_dtype.ts";
import { type Node, sizeOf } from "./_graph.ts";
import { realize } from "./_schedule.ts";
import * as ew from "./elementwise.ts";
import * as rd from "./reduce.ts";
import * as mv from "./movement.ts";
import * as la from "./linalg.ts";
import { formatArray } from "./_format.ts";

export type { DType, TypedArray };

/** A nested JS array of numbers or booleans, as returned by {@linkcode NDArray.toArray}. */
export type NestedArray = number | boolean | NestedArray[];

/** What binary ops accept as an operand: an array or a JS scalar (weakly typed). */
export type Operand = NDArray | number | boolean;

/** Per-axis slice: an index, `[start, stop, step?]` (null = default), or null for the whole axis. */
export type SliceSpec = number | null | [number | null, (number | null)?, (number | null)?];

let wrapNode: (node: Node) => NDArray;
let nodeOfArray: (a: NDArray) => Node;

/**
 * An immutable n-dimensional array. Ops build a lazy graph; nothing is
 * computed until the data is read with {@linkcode NDArray.data},
 * {@linkcode NDArray.dataSync}, {@linkcode NDArray.toArray},
 * {@linkcode NDArray.item} or by printing. Memory is the garbage collector's
 * job: there is no `dispose()`.
 *
 * @example
 * ```ts
 * import { array } from "./mod.ts";
 * const x = array([[1, 2], [3, 4]]);
 * const y = x.mul(2).add(1).relu().sum();
 * console.log(y.item()); // 24
 * ```
 */
export class NDArray {
  #node: Node;

  private constructor(node: unknown) {
    this.#node = node as Node;
  }

  static {
    wrapNode = (node) => new NDArray(node);
    nodeOfArray = (a) => a.#node;
  }

  /** The shape (a fresh copy). */
  get shape(): number[] {
    return this.#node.shape.slice();
  }
  /** The element type. */
  get dtype(): DType {
    return this.#node.dtype;
  }
  /** The number of axes. */
  get ndim(): number {
    return this.#node.shape.length;
  }
  /** The number of elements. */
  get size(): number {
    return sizeOf(this.#node.shape);
  }

  /** Compute (if needed) and return a copy of the data, row-major. */
  dataSync(): TypedArray {
    realize([this.#node]);
    const buf = this.#node.buffer!;
    // allocate + set is several times faster than slice() on large buffers
    const out = allocate(this.dtype, buf.length);
    out.set(buf);
    return out;
  }
  /** Like {@linkcode NDArray.dataSync}, as a promise. */
  data(): Promise<TypedArray> {
    return Promise.resolve().then(() => this.dataSync());
  }
  /** The data as nested JS arrays (booleans for bool arrays). */
  toArray(): NestedArray {
    realize([this.#node]);
    const buf = this.#node.buffer!;
    const conv = this.dtype === "bool" ? (v: number) => v !== 0 : (v: number) => v;
    const build = (axis: number, offset: number): NestedArray => {
      const shape = this.#node.shape;
      if (axis === shape.length) return conv(buf[offset]);
      const step = sizeOf(shape.slice(axis + 1));
      return Array.from({ length: shape[axis] }, (_, i) => build(axis + 1, offset + i * step));
    };
    return build(0, 0);
  }
  /** The single element of a size-1 array as a JS number (or boolean). */
  item(): number | boolean {
    if (this.size !== 1) throw new Error(`item: array must have exactly one element, got shape [${this.shape}]`);
    realize([this.#node]);
    const v = this.#node.buffer![0];
    return this.dtype === "bool" ? v !== 0 : v;
  }
  /** NumPy-style text: values, dtype, summarised when large. */
  toString(): string {
    realize([this.#node]);
    return formatArray(this.#node.buffer!, this.#node.shape, this.dtype);
  }
  /** Printing in Deno's console shows {@linkcode NDArray.toString}. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  // elementwise
  /** `this + other` with broadcasting. */
  add(other: Operand): NDArray {
    return ew.add(this, other);
  }
  /** `this - other`. */
  sub(other: Operand): NDArray {
    return ew.sub(this, other);
  }
  /** `this * other`. */
  mul(other: Operand): NDArray {
    return ew.mul(this, other);
  }
  /** `this / other` (true division; integers promote to float32). */
  div(other: Operand): NDArray {
    return ew.div(this, other);
  }
  /** `this ** other`. */
  pow(other: Operand): NDArray {
    return ew.pow(this, other);
  }
  /** Floor division. */
  floorDiv(other: Operand): NDArray {
    return ew.floorDiv(this, other);
  }
  /** Remainder with the sign of the divisor (Python `%`). */
  mod(other: Operand): NDArray {
    return ew.mod(this, other);
  }
  /** Elementwise maximum (NaN propagates). */
  maximum(other: Operand): NDArray {
    return ew.maximum(this, other);
  }
  /** Elementwise minimum (NaN propagates). */
  minimum(other: Operand): NDArray {
    return ew.minimum(this, other);
  }
  /** `-this`. */
  neg(): NDArray {
    return ew.neg(this);
  }
  /** `e^this`. */
  exp(): NDArray {
    return ew.exp(this);
  }
  /** Natural logarithm. */
  log(): NDArray {
    return ew.log(this);
  }
  /** `log(1 + this)`. */
  log1p(): NDArray {
    return ew.log1p(this);
  }
  /** `e^this - 1`. */
  expm1(): NDArray {
    return ew.expm1(this);
  }
  /** Square root. */
  sqrt(): NDArray {
    return ew.sqrt(this);
  }
  /** `1 / sqrt(this)`. */
  rsqrt(): NDArray {
    return ew.rsqrt(this);
  }
  /** `this * this`. */
  square(): NDArray {
    return ew.square(this);
  }
  /** Absolute value. */
  abs(): NDArray {
    return ew.abs(this);
  }
  /** -1, 0 or 1. */
  sign(): NDArray {
    return ew.sign(this);
  }
  /** `1 / this`. */
  reciprocal(): NDArray {
    return ew.reciprocal(this);
  }
  /** Sine. */
  sin(): NDArray {
    return ew.sin(this);
  }
  /** Cosine. */
  cos(): NDArray {
    return ew.cos(this);
  }
  /** Hyperbolic tangent. */
  tanh(): NDArray {
    return ew.tanh(this);
  }
  /** Logistic sigmoid. */
  sigmoid(): NDArray {
    return ew.sigmoid(this);
  }
  /** `max(this, 0)`. */
  relu(): NDArray {
    return ew.relu(this);
  }
  /** `min(max(this, 0), 6)`. */
  relu6(): NDArray {
    return ew.relu6(this);
  }
  /** `this` where positive, `alpha * this` elsewhere. */
  leakyRelu(alpha = 0.01): NDArray {
    return ew.leakyRelu(this, alpha);
  }
  /** Exponential linear unit. */
  elu(alpha = 1): NDArray {
    return ew.elu(this, alpha);
  }
  /** Gaussian error linear unit (exact erf form, or tanh approximation). */
  gelu(approximate = false): NDArray {
    return ew.gelu(this, approximate);
  }
  /** `log(1 + e^this)`, computed stably. */
  softplus(): NDArray {
    return ew.softplus(this);
  }
  /** Clamp into `[lo, hi]` (either may be null). */
  clip(lo: number | null, hi: number | null): NDArray {
    return ew.clip(this, lo, hi);
  }
  /** Floor. */
  floor(): NDArray {
    return ew.floor(this);
  }
  /** Ceiling. */
  ceil(): NDArray {
    return ew.ceil(this);
  }
  /** Round half to even. */
  round(): NDArray {
    return ew.round(this);
  }
  /** `this < other` (bool). */
  less(other: Operand): NDArray {
    return ew.less(this, other);
  }
  /** `this <= other` (bool). */
  lessEqual(other: Operand): NDArray {
    return ew.lessEqual(this, other);
  }
  /** `this > other` (bool). */
  greater(other: Operand): NDArray {
    return ew.greater(this, other);
  }
  /** `this >= other` (bool). */
  greaterEqual(other: Operand): NDArray {
    return ew.greaterEqual(this, other);
  }
  /** `this == other` (bool). */
  equal(other: Operand): NDArray {
    return ew.equal(this, other);
  }
  /** `this != other` (bool). */
  notEqual(other: Operand): NDArray {
    return ew.notEqual(this, other);
  }
  /** Logical and (bool). */
  logicalAnd(other: Operand): NDArray {
    return ew.logicalAnd(this, other);
  }
  /** Logical or (bool). */
  logicalOr(other: Operand): NDArray {
    return ew.logicalOr(this, other);
  }
  /** Logical xor (bool). */
  logicalXor(other: Operand): NDArray {
    return ew.logicalXor(this, other);
  }
  /** Logical not (bool). */
  logicalNot(): NDArray {
    return ew.logicalNot(this);
  }
  /** True where NaN. */
  isNaN(): NDArray {
    return ew.isNaN(this);
  }
  /** True where finite. */
  isFinite(): NDArray {
    return ew.isFinite(this);
  }
  /** Convert to another dtype (float → int truncates toward zero). */
  cast(dtype: DType): NDArray {
    return ew.cast(this, dtype);
  }

  // reductions
  /** Sum over `axis` (all axes when omitted). */
  sum(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.sum(this, axis, keepDims);
  }
  /** Mean over `axis`. */
  mean(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.mean(this, axis, keepDims);
  }
  /** Product over `axis`. */
  prod(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.prod(this, axis, keepDims);
  }
  /** Maximum over `axis`. */
  max(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.max(this, axis, keepDims);
  }
  /** Minimum over `axis`. */
  min(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.min(this, axis, keepDims);
  }
  /** Index of the first maximum along `axis` (flattened when omitted), int32. */
  argmax(axis?: number | null, keepDims = false): NDArray {
    return rd.argmax(this, axis, keepDims);
  }
  /** Index of the first minimum along `axis`, int32. */
  argmin(axis?: number | null, keepDims = false): NDArray {
    return rd.argmin(this, axis, keepDims);
  }
  /** Variance over `axis` (`ddof` 0 by default). */
  variance(axis?: number | number[] | null, keepDims = false, ddof = 0): NDArray {
    return rd.variance(this, axis, keepDims, ddof);
  }
  /** Standard deviation over `axis`. */
  std(axis?: number | number[] | null, keepDims = false, ddof = 0): NDArray {
    return rd.std(this, axis, keepDims, ddof);
  }
  /** `log(sum(exp(this)))` over `axis`, computed stably. */
  logSumExp(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.logSumExp(this, axis, keepDims);
  }
  /** Softmax along `axis` (default -1). */
  softmax(axis = -1): NDArray {
    return rd.softmax(this, axis);
  }
  /** Log-softmax along `axis` (default -1). */
  logSoftmax(axis = -1): NDArray {
    return rd.logSoftmax(this, { dim: axis });
  }
  /** True if all elements along `axis` are non-zero. */
  all(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.all(this, axis, keepDims);
  }
  /** True if any element along `axis` is non-zero. */
  any(axis?: number | number[] | null, keepDims = false): NDArray {
    return rd.any(this, axis, keepDims);
  }
  /** Cumulative sum along `axis`. */
  cumsum(axis = 0, reverse = false): NDArray {
    return rd.cumsum(this, axis, reverse);
  }

  // movement
  /** A view with a new shape (one axis may be -1). */
  reshape(shape: number[]): NDArray {
    return mv.reshape(this, shape);
  }
  /** Permute axes (reverse them when omitted). */
  transpose(axes?: number[]): NDArray {
    return mv.transpose(this, axes);
  }
  /** Alias of {@linkcode NDArray.transpose} with required axes. */
  permute(axes: number[]): NDArray {
    return mv.transpose(this, axes);
  }
  /** Insert a size-1 axis at `axis`. */
  expandDims(axis: number): NDArray {
    return mv.expandDims(this, axis);
  }
  /** Remove size-1 axes (all, or the given ones). */
  squeeze(axis?: number | number[]): NDArray {
    return mv.squeeze(this, axis);
  }
  /** Merge axes `start..end` (default: all) into one. */
  flatten(start = 0, end = -1): NDArray {
    return mv.flatten(this, start, end);
  }
  /** Broadcast to `shape`. */
  broadcastTo(shape: number[]): NDArray {
    return mv.broadcastTo(this, shape);
  }
  /** Slice per axis: index, `[start, stop, step]` or null. */
  slice(...specs: SliceSpec[]): NDArray {
    return mv.slice(this, specs);
  }
  /** Pad with per-axis `[before, after]` widths. */
  pad(widths: number | [number, number][], options?: mv.PadOptions): NDArray {
    return mv.pad(this, widths, options);
  }
  /** Reverse the order along `axis` (all axes when omitted). */
  flip(axis?: number | number[]): NDArray {
    return mv.flip(this, axis);
  }
  /** Repeat the whole array `reps` times per axis. */
  tile(reps: number[]): NDArray {
    return mv.tile(this, reps);
  }
  /** Repeat each element `repeats` times along `axis`. */
  repeat(repeats: number, axis?: number): NDArray {
    return mv.repeat(this, repeats, axis);
  }
  /** Elements at `indices` along `axis` (NumPy `take`). */
  take(indices: NDArray | number[], axis?: number): NDArray {
    return mv.take(this, indices, axis);
  }
  /** Matrix product (NumPy `matmul` rules). */
  matmul(other: NDArray): NDArray {
    return la.matmul(this, other);
  }
}

/** @internal wrap a graph node. */
export function wrap(node: Node): NDArray {
  return wrapNode(node);
}

/** @internal the graph node of an array. */
export function nodeOf(a: NDArray): Node {
  return nodeOfArray(a);
}

/**
 * Realize several arrays with one schedule, so shared intermediates are
 * computed once (what `valueAndGrad` does for its outputs).
 *
 * @example
 * ```ts
 * import { array, realizeAll } from "./mod.ts";
 * const x = array([1, 2, 3]).exp();
 * realizeAll([x.sum(), x.max()]);
 * ```
 */
export function realizeAll(arrays: NDArray[]): void {
  realize(arrays.map(nodeOf));
}
