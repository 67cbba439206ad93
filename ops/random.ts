/**
 * Counter-based random numbers with explicit, functional keys (the JAX model).
 *
 * A **key** is an int32 {@linkcode NDArray} of shape `[2]`. Nothing is
 * stateful: the same key always gives the same numbers, on every platform,
 * backend and thread count. To get fresh randomness, derive new keys with
 * {@linkcode split} or {@linkcode foldIn}; never reuse a key for two purposes.
 *
 * ## Algorithm
 *
 * Bits come from **Threefry-2x32 with 20 rounds** (Salmon et al. 2011,
 * "Parallel random numbers: as easy as 1, 2, 3"; the generator JAX uses): a
 * keyed bijection on pairs of 32-bit words, computed with integer arithmetic
 * only.
 *
 * - Random words for a key `(k0, k1)`: the stream `w[0], w[1], …` where
 *   `(w[2i], w[2i+1]) = threefry2x32((k0, k1), counter = (0, i))`. Element `j`
 *   of a sample (row-major) uses word `j` (two streams for float64, below).
 * - `key(seed)`: `[hi, lo]` = the high and low 32 bits of the seed as a 64-bit
 *   two's-complement integer.
 * - `split(key, n)`: key `i` is words `2i, 2i+1` of the key's stream.
 * - `foldIn(key, data)`: `threefry2x32(key, counter = (1, data mod 2^32))`;
 *   counters with a high word of 1 are never used by the word stream, so
 *   folded keys are independent of split keys.
 * - float32 uniforms in `[0, 1)`: the top 24 bits of a word, times `2^-24`
 *   (every value is exactly representable).
 * - float64 uniforms in `[0, 1)`: `(w_a >>> 5) * 2^26 + (w_b >>> 6)` times
 *   `2^-53`, where `w_a` is word `j` and `w_b` word `size + j` of the stream.
 * - `normal`: inverse CDF, `sqrt(2) * erfinv(v)` with `v` uniform on the open
 *   interval `(-1, 1)` (float32: the midpoints `(2k + 1) / 2^24 - 1`).
 * - `truncatedNormal`: inverse CDF restricted to `[erf(lower/√2), erf(upper/√2)]`.
 * - `categorical`: Gumbel-max, `argmax(logits - log(-log(u)))`.
 * - `randint`: `minval + floor(u * (maxval - minval))` with a 53-bit uniform
 *   `u` (bias below `2^-21` for any int32 range).
 * - `permutation` / `shuffle`: a stable argsort of 53-bit uniform sort keys.
 *
 * Samples are computed in float64 and rounded to the requested dtype at the
 * end. Everything is lazy: a sampler builds graph nodes (one `randomBits`
 * primitive plus elementwise ops that fuse) and computes nothing until read.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const key = ts.random.key(0);
 * const [k1, k2] = ts.random.split(key);
 * const x = ts.random.normal(k1, [2, 3]);
 * const y = ts.random.uniform(k2, [4], { minval: -1, maxval: 1 });
 * console.log(x.shape, y.shape); // [2, 3] [4]
 * ```
 *
 * @module
 */
import { checkDType, type DType, isFloat } from "./_dtype.ts";
import { sizeOf } from "./_graph.ts";
import { cast, checkArray, describe, make, NDArray, normAxis } from "./_prim.ts";
import { erf as erfScalar } from "./_scalar.ts";
import { threefry2x32 } from "./_threefry.ts";
import { arange, array } from "./creation.ts";
import * as ew from "./elementwise.ts";
import { argmax } from "./reduce.ts";
import { argsort, take } from "./movement.ts";

const TWO_32 = 4294967296;

// ---------------------------------------------------------------------------
// keys

function checkKey(op: string, key: unknown): NDArray {
  if (!(key instanceof NDArray) || key.dtype !== "int32" || key.shape.length !== 1 || key.shape[0] !== 2) {
    throw new TypeError(
      `${op}: key must be an int32 array of shape [2] (from random.key/split/foldIn), got ${describe(key)}`,
    );
  }
  return key;
}

function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape as number[];
}

function checkFloatDType(op: string, dtype: unknown): DType {
  const d = checkDType(op, dtype);
  if (!isFloat(d)) throw new TypeError(`${op}: dtype must be float32 or float64, got ${d}`);
  return d;
}

/**
 * A key from an integer seed (any safe integer, negative allowed): the high and
 * low 32-bit words of the seed as a 64-bit two's-complement integer.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const k = ts.random.key(42);
 * console.log(k.shape, k.dtype, k.toArray()); // [2] int32 [0, 42]
 * ```
 */
export function key(seed: number): NDArray {
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`random.key: seed must be an integer with |seed| <= 2^53 - 1, got ${seed}`);
  }
  const b = BigInt.asUintN(64, BigInt(seed));
  const hi = Number(b >> 32n) | 0, lo = Number(b & 0xffffffffn) | 0;
  return array(new Int32Array([hi, lo]), { shape: [2] });
}

/** The raw int32 word stream of `key`, shaped `shape`. */
function rawBits(key: NDArray, shape: number[]): NDArray {
  return make("randomBits", [key], {}, shape, "int32");
}

/** Words of the stream as unsigned values in float64 (exact). */
function unsignedWords(key: NDArray, shape: number[]): NDArray {
  return ew.mod(cast(rawBits(key, shape), "float64"), TWO_32);
}

/**
 * `n` new keys derived from `key` (default 2), independent of each other and
 * of `key`'s own samples.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const [a, b, c] = ts.random.split(ts.random.key(0), 3);
 * console.log(a.shape, ts.random.uniform(b, [2]).shape); // [2] [2]
 * ```
 */
export function split(key: NDArray, n = 2): NDArray[] {
  checkKey("random.split", key);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`random.split: n must be a non-negative integer, got ${n}`);
  const all = rawBits(key, [n, 2]);
  return Array.from({ length: n }, (_, i) => all.slice(i));
}

/**
 * A new key from `key` and an integer `data` (taken modulo 2^32): e.g. a
 * step or layer index. Different `data` give independent keys; folded keys
 * are independent of split keys too.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const base = ts.random.key(0);
 * const step3 = ts.random.foldIn(base, 3);
 * console.log(step3.shape); // [2]
 * ```
 */
export function foldIn(key: NDArray, data: number): NDArray {
  checkKey("random.foldIn", key);
  if (!Number.isSafeInteger(data)) throw new TypeError(`random.foldIn: data must be an integer, got ${data}`);
  const k = key.dataSync();
  const c1 = Number(BigInt.asUintN(32, BigInt(data)));
  const [a, b] = threefry2x32(k[0], k[1], 1, c1);
  return array(new Int32Array([a | 0, b | 0]), { shape: [2] });
}

// ---------------------------------------------------------------------------
// uniform bits → floats

/** float64 array of uniform values in [0, 1) with 24 (float32) or 53 (float64) random bits. */
function unit(key: NDArray, shape: number[], precision: DType): NDArray {
  if (precision === "float64") {
    const n = sizeOf(shape);
    const w = unsignedWords(key, [2, n]);
    const hi = ew.floor(ew.div(w.slice(0), 32)), lo = ew.floor(ew.div(w.slice(1), 64));
    return ew.mul(ew.add(ew.mul(hi, 67108864), lo), 2 ** -53).reshape(shape);
  }
  return ew.mul(ew.floor(ew.div(unsignedWords(key, shape), 256)), 2 ** -24);
}

/** float64 uniform on the open interval (-1, 1), symmetric. */
function openSigned(key: NDArray, shape: number[], precision: DType): NDArray {
  if (precision === "float64") {
    // 2u - 1 is exact on the 2^-52 grid; only -1 itself must be excluded
    return ew.maximum(ew.sub(ew.mul(unit(key, shape, "float64"), 2), 1), -1 + 2 ** -52);
  }
  const k = ew.floor(ew.div(unsignedWords(key, shape), 256));
  return ew.sub(ew.mul(ew.add(ew.mul(k, 2), 1), 2 ** -24), 1);
}

/** The largest `dtype` value strictly below `v`. */
function below(v: number, dtype: DType): number {
  if (dtype === "float32") {
    const f = new Float32Array([v]);
    if (f[0] >= v) {
      const i = new Int32Array(f.buffer);
      if (f[0] === 0) i[0] = -2147483647; // -min subnormal
      else if (f[0] > 0) i[0]--;
      else i[0]++;
    }
    return f[0];
  }
  if (v === 0) return -Number.MIN_VALUE;
  const f = new Float64Array([v]), i = new BigInt64Array(f.buffer);
  i[0] += v > 0 ? -1n : 1n;
  return f[0];
}

// ---------------------------------------------------------------------------
// samplers

/** Options of {@linkcode uniform}. */
export interface UniformOptions {
  /** float32 (default) or float64 */
  dtype?: DType;
  /** lower bound, inclusive (default 0) */
  minval?: number;
  /** upper bound, exclusive (default 1) */
  maxval?: number;
}

/**
 * Uniform samples on `[minval, maxval)` (default `[0, 1)`). float32 samples
 * carry 24 random bits, float64 samples 53.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const u = ts.random.uniform(ts.random.key(1), [1000], { minval: 2, maxval: 3 });
 * console.log(Number(u.min().item()) >= 2, Number(u.max().item()) < 3); // true true
 * ```
 */
export function uniform(key: NDArray, shape: number[] = [], options: UniformOptions = {}): NDArray {
  checkKey("random.uniform", key);
  checkShape("random.uniform", shape);
  const dtype = checkFloatDType("random.uniform", options.dtype ?? "float32");
  const lo = options.minval ?? 0, hi = options.maxval ?? 1;
  if (typeof lo !== "number" || typeof hi !== "number" || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new RangeError(`random.uniform: need finite minval < maxval, got minval=${lo}, maxval=${hi}`);
  }
  const u = unit(key, shape, dtype);
  const scaled = lo === 0 && hi === 1 ? u : ew.add(ew.mul(u, hi - lo), lo);
  // rounding of lo + u * (hi - lo) must not reach maxval
  const clamped = lo === 0 && hi === 1 ? scaled : ew.minimum(ew.maximum(scaled, lo), below(hi, dtype));
  return cast(clamped, dtype);
}

/** Options of {@linkcode normal}. */
export interface NormalOptions {
  /** float32 (default) or float64 */
  dtype?: DType;
  /** mean (default 0) */
  mean?: number;
  /** standard deviation (default 1) */
  std?: number;
}

/**
 * Normal samples (mean 0 and standard deviation 1 unless given), by the
 * inverse CDF: `sqrt(2) * erfinv(v)` with `v` uniform on `(-1, 1)`.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const z = ts.random.normal(ts.random.key(0), [3, 4], { std: 0.1 });
 * console.log(z.shape, z.dtype); // [3, 4] float32
 * ```
 */
export function normal(key: NDArray, shape: number[] = [], options: NormalOptions = {}): NDArray {
  checkKey("random.normal", key);
  checkShape("random.normal", shape);
  const dtype = checkFloatDType("random.normal", options.dtype ?? "float32");
  const mean = options.mean ?? 0, std = options.std ?? 1;
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
    throw new RangeError(`random.normal: need a finite mean and std >= 0, got mean=${mean}, std=${std}`);
  }
  let z = ew.mul(ew.erfinv(openSigned(key, shape, dtype)), Math.SQRT2);
  if (std !== 1) z = ew.mul(z, std);
  if (mean !== 0) z = ew.add(z, mean);
  return cast(z, dtype);
}

/** Options of {@linkcode truncatedNormal}. */
export interface TruncatedNormalOptions {
  /** lower bound in standard deviations (default -2) */
  lower?: number;
  /** upper bound in standard deviations (default 2) */
  upper?: number;
  /** float32 (default) or float64 */
  dtype?: DType;
}

/**
 * Standard normal samples conditioned on `lower < x < upper` (default
 * `(-2, 2)`), by the inverse CDF: `sqrt(2) * erfinv(u)` with `u` uniform on
 * `[erf(lower/√2), erf(upper/√2))`, clamped inside the bounds.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const t = ts.random.truncatedNormal(ts.random.key(0), [1000]);
 * console.log(Number(t.abs().max().item()) < 2); // true
 * ```
 */
export function truncatedNormal(key: NDArray, shape: number[] = [], options: TruncatedNormalOptions = {}): NDArray {
  checkKey("random.truncatedNormal", key);
  checkShape("random.truncatedNormal", shape);
  const dtype = checkFloatDType("random.truncatedNormal", options.dtype ?? "float32");
  const lower = options.lower ?? -2, upper = options.upper ?? 2;
  if (
    typeof lower !== "number" || typeof upper !== "number" || Number.isNaN(lower) || Number.isNaN(upper) ||
    !(lower < upper)
  ) {
    throw new RangeError(`random.truncatedNormal: need lower < upper, got lower=${lower}, upper=${upper}`);
  }
  const a = erfScalar(lower / Math.SQRT2), b = erfScalar(upper / Math.SQRT2);
  const u = ew.add(ew.mul(unit(key, shape, dtype), b - a), a);
  const z = ew.mul(ew.erfinv(u), Math.SQRT2);
  const lo = -below(-lower, dtype), hi = below(upper, dtype);
  return cast(ew.minimum(ew.maximum(z, lo), hi), dtype);
}

/**
 * Boolean samples that are true with probability `p` (a number or an array
 * broadcast to `shape`; `shape` defaults to `p`'s shape).
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const mask = ts.random.bernoulli(ts.random.key(0), 0.9, [8]);
 * console.log(mask.dtype, mask.shape); // bool [8]
 * ```
 */
export function bernoulli(key: NDArray, p: number | NDArray = 0.5, shape?: number[]): NDArray {
  checkKey("random.bernoulli", key);
  if (shape !== undefined) checkShape("random.bernoulli", shape);
  if (p instanceof NDArray) {
    const s = shape ?? p.shape;
    const prec = p.dtype === "float64" ? "float64" : "float32";
    return ew.less(unit(key, s, prec), cast(p, "float64").broadcastTo(s));
  }
  if (typeof p !== "number" || Number.isNaN(p)) {
    throw new TypeError(`random.bernoulli: p must be a number or an NDArray, got ${describe(p)}`);
  }
  return ew.less(unit(key, shape ?? [], "float32"), p);
}

/** Options of {@linkcode categorical}. */
export interface CategoricalOptions {
  /** the category axis of `logits` (default -1) */
  axis?: number;
  /**
   * output shape (default: `logits`' shape without `axis`); must end with a
   * shape that `logits`' batch shape broadcasts to
   */
  shape?: number[];
}

/**
 * Category indices (int32) drawn with probabilities `softmax(logits, axis)`,
 * by the Gumbel-max trick.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const logits = ts.array([[0, 0, 10], [10, 0, 0]]);
 * const c = ts.random.categorical(ts.random.key(0), logits);
 * console.log(c.toArray()); // [2, 0]
 * ```
 */
export function categorical(key: NDArray, logits: NDArray, options: CategoricalOptions = {}): NDArray {
  checkKey("random.categorical", key);
  checkArray("random.categorical", "logits", logits);
  if (logits.ndim === 0) throw new Error("random.categorical: logits must have at least one axis");
  const ax = normAxis("random.categorical", options.axis ?? -1, logits.ndim);
  const batch = logits.shape.filter((_, i) => i !== ax);
  const outShape = options.shape === undefined ? batch : checkShape("random.categorical", options.shape);
  const lead = outShape.length - batch.length;
  const compatible = lead >= 0 && batch.every((d, i) => d === 1 || d === outShape[lead + i]);
  if (!compatible) {
    throw new Error(
      `random.categorical: shape [${outShape}] must end with a shape that logits' batch shape [${batch}] broadcasts to`,
    );
  }
  const n = logits.shape[ax];
  const full = [...outShape.slice(0, lead + ax), n, ...outShape.slice(lead + ax)];
  const lg = cast(logits, "float64").reshape([...Array(lead).fill(1), ...logits.shape]).broadcastTo(full);
  // u on the open interval (0, 1): (k + 0.5) 2^-24
  const k = ew.floor(ew.div(unsignedWords(key, full), 256));
  const u = ew.mul(ew.add(k, 0.5), 2 ** -24);
  const gumbel = ew.neg(ew.log(ew.neg(ew.log(u))));
  return argmax(ew.add(lg, gumbel), lead + ax);
}

/**
 * Integers (int32) uniform on `[minval, maxval)`.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const dice = ts.random.randint(ts.random.key(0), [10], 1, 7);
 * console.log(dice.dtype, Number(dice.min().item()) >= 1, Number(dice.max().item()) <= 6); // int32 true true
 * ```
 */
export function randint(key: NDArray, shape: number[], minval: number, maxval: number): NDArray {
  checkKey("random.randint", key);
  checkShape("random.randint", shape);
  const int32 = (v: number) => Number.isInteger(v) && v >= -2147483648 && v <= 2147483648;
  if (!int32(minval) || !int32(maxval) || !(minval < maxval)) {
    throw new RangeError(
      `random.randint: need integers minval < maxval within the int32 range, got [${minval}, ${maxval})`,
    );
  }
  const span = maxval - minval;
  const idx = ew.minimum(ew.floor(ew.mul(unit(key, shape, "float64"), span)), span - 1);
  return cast(ew.add(idx, minval), "int32");
}

/**
 * A random permutation: of `arange(n)` for a number, or of `x`'s entries along
 * axis 0 for an array.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const p = ts.random.permutation(ts.random.key(0), 5);
 * console.log([...p.dataSync()].sort()); // [0, 1, 2, 3, 4]
 * ```
 */
export function permutation(key: NDArray, x: number | NDArray): NDArray {
  checkKey("random.permutation", key);
  if (x instanceof NDArray) return shuffle(key, x, 0);
  if (!Number.isInteger(x) || x < 0) {
    throw new TypeError(`random.permutation: x must be a non-negative integer or an NDArray, got ${describe(x)}`);
  }
  if (x === 0) return arange(0, 0, 1, { dtype: "int32" });
  return argsort(unit(key, [x], "float64"));
}

/**
 * `x` with its entries along `axis` (default 0) in random order (the same
 * order for every position on the other axes).
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const x = ts.arange(6).reshape([3, 2]);
 * const y = ts.random.shuffle(ts.random.key(0), x);
 * console.log(y.shape, y.sum().item()); // [3, 2] 15
 * ```
 */
export function shuffle(key: NDArray, x: NDArray, axis = 0): NDArray {
  checkKey("random.shuffle", key);
  checkArray("random.shuffle", "x", x);
  if (x.ndim === 0) throw new Error("random.shuffle: x must have at least one axis");
  const ax = normAxis("random.shuffle", axis, x.ndim);
  return take(x, permutation(key, x.shape[ax]), ax);
}

/**
 * Raw random 32-bit words (int32, two's complement) of the key's stream,
 * shaped `shape`: element `j` is word `j`.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * const w = ts.random.bits(ts.random.key(0), [2]);
 * console.log(w.dtype); // int32
 * ```
 */
export function bits(key: NDArray, shape: number[]): NDArray {
  checkKey("random.bits", key);
  checkShape("random.bits", shape);
  return rawBits(key, shape);
}
