// Movement ops. reshape, transpose, broadcast, slice, flip and constant pad are
// lazy views (index remaps inside the consuming kernel); the rest compose them
// with the gather / scatter-add / argsort primitives.
import { sizeOf } from "./_graph.ts";
import {
  asArray,
  broadcastShapes,
  cast,
  checkArray,
  make,
  type NDArray,
  normAxes,
  normAxis,
  resultDType,
} from "./_prim.ts";
import type { SliceSpec } from "./ndarray.ts";
import { add, equal, logicalOr } from "./elementwise.ts";
import { arange, array } from "./creation.ts";
import type { DType } from "./_dtype.ts";

export type { SliceSpec };

function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d))) {
    throw new TypeError(`${op}: shape must be an array of integers, got ${JSON.stringify(shape)}`);
  }
  return shape;
}

/**
 * A view with a new shape; one entry may be -1 (inferred).
 *
 * @example
 * ```ts
 * import { arange, reshape } from "./mod.ts";
 * reshape(arange(6), [2, -1]).shape; // [2, 3]
 * ```
 */
export function reshape(x: NDArray, shape: number[]): NDArray {
  checkArray("reshape", "x", x);
  const s = checkShape("reshape", shape).slice();
  const infer = s.indexOf(-1);
  if (s.filter((d) => d === -1).length > 1 || s.some((d) => d < -1)) {
    throw new Error(`reshape: shape may hold one -1 and no other negative size, got [${shape}]`);
  }
  if (infer >= 0) {
    const known = sizeOf(s.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot infer -1 in [${shape}] for an array of size ${x.size} (shape [${x.shape}])`);
    }
    s[infer] = x.size / known;
  }
  if (sizeOf(s) !== x.size) {
    throw new Error(
      `reshape: shape [${shape}] has ${sizeOf(s)} elements, expected ${x.size} (input shape [${x.shape}])`,
    );
  }
  if (s.length === x.ndim && s.every((d, i) => d === x.shape[i])) return x;
  return make("reshape", [x], {}, s, x.dtype);
}

/**
 * Permute the axes (reverse them when `axes` is omitted).
 *
 * @example
 * ```ts
 * import { zeros, transpose } from "./mod.ts";
 * transpose(zeros([2, 3, 4]), [2, 0, 1]).shape; // [4, 2, 3]
 * ```
 */
export function transpose(x: NDArray, axes?: number[]): NDArray {
  checkArray("transpose", "x", x);
  const n = x.ndim;
  const perm = axes === undefined
    ? [...Array(n).keys()].reverse()
    : axes.map((a) => normAxis("transpose", a, n, "axes"));
  if (perm.length !== n || new Set(perm).size !== n) {
    throw new Error(`transpose: axes must be a permutation of ${n} axes, got [${axes}]`);
  }
  if (perm.every((p, i) => p === i)) return x;
  return make("permute", [x], { perm }, perm.map((p) => x.shape[p]), x.dtype);
}

/**
 * Broadcast to `shape` (NumPy rules: align right, size-1 axes stretch).
 *
 * @example
 * ```ts
 * import { array, broadcastTo } from "./mod.ts";
 * broadcastTo(array([1, 2]), [3, 2]).shape; // [3, 2]
 * ```
 */
export function broadcastTo(x: NDArray, shape: number[]): NDArray {
  checkArray("broadcastTo", "x", x);
  checkShape("broadcastTo", shape);
  const off = shape.length - x.ndim;
  if (off < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[i + off])) {
    throw new Error(`broadcastTo: cannot broadcast shape [${x.shape}] to [${shape}]`);
  }
  if (off === 0 && x.shape.every((d, i) => d === shape[i])) return x;
  // Only leading/size-1 axes added: the data is unchanged, so a reshape (a
  // free view of a realized buffer) beats an expand (a copy for heavy ops).
  if (sizeOf(shape) === x.size) return reshape(x, shape.slice());
  return make("expand", [x], {}, shape.slice(), x.dtype);
}

/**
 * Insert a size-1 axis at `axis` (negative counts from the end of the result).
 *
 * @example
 * ```ts
 * import { zeros, expandDims } from "./mod.ts";
 * expandDims(zeros([2, 3]), -1).shape; // [2, 3, 1]
 * ```
 */
export function expandDims(x: NDArray, axis: number): NDArray {
  checkArray("expandDims", "x", x);
  const a = normAxis("expandDims", axis, x.ndim + 1);
  const s = x.shape;
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/**
 * Remove size-1 axes: all of them, or those listed (which must have size 1).
 *
 * @example
 * ```ts
 * import { zeros, squeeze } from "./mod.ts";
 * squeeze(zeros([1, 3, 1])).shape; // [3]
 * ```
 */
export function squeeze(x: NDArray, axis?: number | number[]): NDArray {
  checkArray("squeeze", "x", x);
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes("squeeze", axis, x.ndim);
  for (const a of axes) {
    if (x.shape[a] !== 1) {
      throw new Error(`squeeze: axis ${a} must have size 1, got ${x.shape[a]} (shape [${x.shape}])`);
    }
  }
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Merge axes `start..end` (inclusive; default all) into one.
 *
 * @example
 * ```ts
 * import { zeros, flatten } from "./mod.ts";
 * flatten(zeros([2, 3, 4]), 1).shape; // [2, 12]
 * ```
 */
export function flatten(x: NDArray, start = 0, end = -1): NDArray {
  checkArray("flatten", "x", x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis("flatten", start, x.ndim, "start"), e = normAxis("flatten", end, x.ndim, "end");
  if (e < s) throw new Error(`flatten: end axis ${end} comes before start axis ${start}`);
  const shape = x.shape;
  return reshape(x, [...shape.slice(0, s), sizeOf(shape.slice(s, e + 1)), ...shape.slice(e + 1)]);
}

/**
 * Python-style slicing per axis: a number picks one index (dropping the axis),
 * `[start, stop, step]` takes a range (negative values count from the end,
 * null = default), null keeps the axis. Missing trailing specs keep their axes.
 *
 * @example
 * ```ts
 * import { arange, slice } from "./mod.ts";
 * slice(arange(10).reshape([2, 5]), [1, [null, null, -2]]).toArray(); // [9, 7, 5]
 * ```
 */
export function slice(x: NDArray, specs: SliceSpec[]): NDArray {
  checkArray("slice", "x", x);
  if (specs.length > x.ndim) {
    throw new Error(`slice: got ${specs.length} slice specs for an array of rank ${x.ndim}`);
  }
  const starts: number[] = [], steps: number[] = [], shape: number[] = [], keep: number[] = [];
  x.shape.forEach((n, k) => {
    const sp = specs[k] ?? null;
    if (typeof sp === "number") {
      if (!Number.isInteger(sp) || sp < -n || sp >= n) {
        throw new RangeError(`slice: index for axis ${k} must be an integer in [${-n}, ${n}), got ${sp}`);
      }
      starts.push(sp < 0 ? sp + n : sp), steps.push(1), shape.push(1);
      return;
    }
    const [a = null, b = null, c = null] = sp ?? [];
    const step = c ?? 1;
    if (!Number.isInteger(step) || step === 0) {
      throw new Error(`slice: step for axis ${k} must be a non-zero integer, got ${c}`);
    }
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    const norm = (v: number) => (v < 0 ? v + n : v);
    let start: number, stop: number;
    if (step > 0) {
      start = a === null ? 0 : clamp(norm(a), 0, n);
      stop = b === null ? n : clamp(norm(b), 0, n);
    } else {
      start = a === null ? n - 1 : clamp(norm(a), -1, n - 1);
      stop = b === null ? -1 : clamp(norm(b), -1, n - 1);
    }
    const len = Math.max(0, Math.ceil((stop - start) / step));
    starts.push(len === 0 ? 0 : start), steps.push(step), shape.push(len), keep.push(k);
  });
  const trivial = shape.every((d, k) => d === x.shape[k] && starts[k] === 0 && steps[k] === 1);
  const sliced = trivial ? x : make("slice", [x], { starts, steps }, shape, x.dtype);
  return keep.length === x.ndim ? sliced : reshape(sliced, keep.map((k) => shape[k]));
}

/**
 * Reverse the order of elements along `axis` (all axes when omitted).
 *
 * @example
 * ```ts
 * import { array, flip } from "./mod.ts";
 * flip(array([1, 2, 3])).toArray(); // [3, 2, 1]
 * ```
 */
export function flip(x: NDArray, axis?: number | number[]): NDArray {
  checkArray("flip", "x", x);
  const axes = normAxes("flip", axis ?? null, x.ndim);
  return slice(x, x.shape.map((_, k) => (axes.includes(k) ? [null, null, -1] : null)));
}

/** Options of {@linkcode pad}. */
export interface PadOptions {
  /** "constant" (default), "reflect" (mirror without the edge) or "edge" (repeat the edge). */
  mode?: "constant" | "reflect" | "edge";
  /** fill value for "constant" (default 0) */
  value?: number;
}

/**
 * Pad with `[before, after]` widths per axis (a single number pads every side).
 *
 * @example
 * ```ts
 * import { array, pad } from "./mod.ts";
 * pad(array([1, 2, 3]), [[2, 1]], { mode: "reflect" }).toArray(); // [3, 2, 1, 2, 3, 2]
 * ```
 */
export function pad(x: NDArray, widths: number | [number, number][], options: PadOptions = {}): NDArray {
  checkArray("pad", "x", x);
  const w: [number, number][] = typeof widths === "number" ? x.shape.map(() => [widths, widths]) : widths;
  if (
    !Array.isArray(w) || w.length !== x.ndim ||
    w.some((p) => !Array.isArray(p) || p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0))
  ) {
    throw new Error(
      `pad: widths must be ${x.ndim} pairs of non-negative integers [before, after], got ${JSON.stringify(widths)}`,
    );
  }
  const mode = options.mode ?? "constant";
  if (mode === "constant") {
    if (w.every(([a, b]) => a === 0 && b === 0)) return x;
    const shape = x.shape.map((d, k) => d + w[k][0] + w[k][1]);
    return make(
      "pad",
      [x],
      { widths: w.map(([a, b]) => [a, b] as [number, number]), value: options.value ?? 0 },
      shape,
      x.dtype,
    );
  }
  if (mode !== "reflect" && mode !== "edge") {
    throw new Error(`pad: mode must be "constant", "reflect" or "edge", got ${JSON.stringify(mode)}`);
  }
  let y = x;
  w.forEach(([before, after], k) => {
    if (before === 0 && after === 0) return;
    const n = y.shape[k];
    const sel = (spec: SliceSpec) => slice(y, y.shape.map((_, j) => (j === k ? spec : null)));
    if (mode === "reflect" && (before >= n || after >= n)) {
      throw new Error(
        `pad: reflect padding on axis ${k} must be smaller than its size ${n}, got [${before}, ${after}]`,
      );
    }
    if (mode === "edge" && n === 0) throw new Error(`pad: edge padding needs a non-empty axis ${k}`);
    const lo = mode === "reflect" ? sel([before, 0, -1]) : repeatAlong(sel([0, 1]), k, before);
    const hi = mode === "reflect"
      ? sel([n - 2, n - 2 - after < 0 ? null : n - 2 - after, -1])
      : repeatAlong(sel([n - 1, n]), k, after);
    y = concat([lo, y, hi].filter((p) => p.shape[k] > 0), k);
  });
  return y;
}

function repeatAlong(x: NDArray, axis: number, times: number): NDArray {
  const s = x.shape;
  s[axis] = times;
  return broadcastTo(x, s);
}

/**
 * Join arrays along an existing axis (dtypes promote).
 *
 * @example
 * ```ts
 * import { array, concat } from "./mod.ts";
 * concat([array([1, 2]), array([3])]).toArray(); // [1, 2, 3]
 * ```
 */
export function concat(arrays: NDArray[], axis = 0): NDArray {
  if (!Array.isArray(arrays) || arrays.length === 0) {
    throw new Error("concat: arrays must be a non-empty list of NDArrays");
  }
  arrays.forEach((a, i) => checkArray("concat", `arrays[${i}]`, a));
  const first = arrays[0];
  const ax = normAxis("concat", axis, first.ndim);
  arrays.forEach((a, i) => {
    if (a.ndim !== first.ndim || a.shape.some((d, k) => k !== ax && d !== first.shape[k])) {
      throw new Error(
        `concat: arrays[${i}] has shape [${a.shape}], expected [${first.shape.map((d, k) => (k === ax ? "*" : d))}]`,
      );
    }
  });
  if (arrays.length === 1) return first;
  const dtype = arrays.map((a) => a.dtype).reduce((p, q) => resultDType(asArray(0, p), asArray(0, q)));
  const total = arrays.reduce((s, a) => s + a.shape[ax], 0);
  let offset = 0;
  // each piece padded to the full extent; the zero pads add up to the join
  const parts = arrays.map((a) => {
    const widths = a.shape.map((_, k) =>
      (k === ax ? [offset, total - offset - a.shape[ax]] : [0, 0]) as [number, number]
    );
    offset += a.shape[ax];
    return pad(cast(a, dtype), widths);
  });
  return parts.reduce((p, q) => (dtype === "bool" ? logicalOr(p, q) : add(p, q)));
}

/**
 * Join arrays along a new axis.
 *
 * @example
 * ```ts
 * import { array, stack } from "./mod.ts";
 * stack([array([1, 2]), array([3, 4])], 1).shape; // [2, 2]
 * ```
 */
export function stack(arrays: NDArray[], axis = 0): NDArray {
  if (!Array.isArray(arrays) || arrays.length === 0) {
    throw new Error("stack: arrays must be a non-empty list of NDArrays");
  }
  arrays.forEach((a, i) => {
    checkArray("stack", `arrays[${i}]`, a);
    if (a.ndim !== arrays[0].ndim || a.shape.some((d, k) => d !== arrays[0].shape[k])) {
      throw new Error(`stack: arrays[${i}] has shape [${a.shape}], expected [${arrays[0].shape}]`);
    }
  });
  const ax = normAxis("stack", axis, arrays[0].ndim + 1);
  return concat(arrays.map((a) => expandDims(a, ax)), ax);
}

/**
 * Split along `axis` into `sections` equal parts, or at the given indices.
 *
 * @example
 * ```ts
 * import { arange, split } from "./mod.ts";
 * split(arange(6), [1, 4]).map((a) => a.shape[0]); // [1, 3, 2]
 * ```
 */
export function split(x: NDArray, sections: number | number[], axis = 0): NDArray[] {
  checkArray("split", "x", x);
  const ax = normAxis("split", axis, x.ndim);
  const n = x.shape[ax];
  let cuts: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0) {
      throw new Error(`split: sections must be a positive integer dividing axis ${ax} of size ${n}, got ${sections}`);
    }
    cuts = Array.from({ length: sections - 1 }, (_, i) => ((i + 1) * n) / sections);
  } else cuts = sections;
  const bounds = [0, ...cuts, n];
  return bounds.slice(1).map((end, i) => slice(x, x.shape.map((_, k) => (k === ax ? [bounds[i], end] : null))));
}

/**
 * Repeat the whole array `reps[k]` times along axis k.
 *
 * @example
 * ```ts
 * import { array, tile } from "./mod.ts";
 * tile(array([1, 2]), [2]).toArray(); // [1, 2, 1, 2]
 * ```
 */
export function tile(x: NDArray, reps: number[]): NDArray {
  checkArray("tile", "x", x);
  if (!Array.isArray(reps) || reps.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new Error(`tile: reps must be non-negative integers, got ${JSON.stringify(reps)}`);
  }
  const n = Math.max(x.ndim, reps.length);
  const shape = [...Array(n - x.ndim).fill(1), ...x.shape];
  const r = [...Array(n - reps.length).fill(1), ...reps];
  const inter = shape.flatMap((d) => [1, d]);
  const big = broadcastTo(reshape(x, inter), shape.flatMap((d, k) => [r[k], d]));
  return reshape(big, shape.map((d, k) => d * r[k]));
}

/**
 * Repeat each element `repeats` times along `axis` (flattening first when omitted).
 *
 * @example
 * ```ts
 * import { array, repeat } from "./mod.ts";
 * repeat(array([1, 2]), 2).toArray(); // [1, 1, 2, 2]
 * ```
 */
export function repeat(x: NDArray, repeats: number, axis?: number): NDArray {
  checkArray("repeat", "x", x);
  if (!Number.isInteger(repeats) || repeats < 0) {
    throw new Error(`repeat: repeats must be a non-negative integer, got ${repeats}`);
  }
  if (axis === undefined) return repeat(flatten(x), repeats, 0);
  const ax = normAxis("repeat", axis, x.ndim);
  const s = x.shape;
  const withOne = [...s.slice(0, ax + 1), 1, ...s.slice(ax + 1)];
  const big = [...s.slice(0, ax + 1), repeats, ...s.slice(ax + 1)];
  const out = s.slice();
  out[ax] *= repeats;
  return reshape(broadcastTo(reshape(x, withOne), big), out);
}

function indexArray(op: string, indices: NDArray | number[]): NDArray {
  if (Array.isArray(indices)) return array(indices, { dtype: "int32" });
  checkArray(op, "indices", indices);
  if (indices.dtype !== "int32") {
    throw new TypeError(`${op}: indices must have dtype int32, got ${indices.dtype}`);
  }
  return indices;
}

/**
 * Elements at `indices` along `axis` (NumPy `take`; flattened when `axis` is
 * omitted). Negative indices count from the end; out-of-range ones throw.
 *
 * @example
 * ```ts
 * import { array, take } from "./mod.ts";
 * take(array([[1, 2], [3, 4]]), [1, 0, 1], 1).toArray(); // [[2, 1, 2], [4, 3, 4]]
 * ```
 */
export function take(x: NDArray, indices: NDArray | number[], axis?: number): NDArray {
  checkArray("take", "x", x);
  const idx = indexArray("take", indices);
  if (axis === undefined) return take(flatten(x), idx, 0);
  const ax = normAxis("take", axis, x.ndim);
  const A = sizeOf(x.shape.slice(0, ax)), n = x.shape[ax], B = sizeOf(x.shape.slice(ax + 1));
  if (Array.isArray(indices)) {
    const bad = indices.find((v) => !(v >= -n && v < n));
    if (bad !== undefined) {
      throw new RangeError(
        `take: index out of range for axis ${ax} of size ${n}: expected an index in [-${n}, ${n}), got ${bad}`,
      );
    }
  }
  const m = idx.size;
  const x3 = reshape(x, [A, n, B]);
  const i3 = broadcastTo(reshape(idx, [1, m, 1]), [A, m, B]);
  const g = make("gather", [x3, i3], { axis: 1 }, [A, m, B], x.dtype);
  return reshape(g, [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)]);
}

/** Alias of {@linkcode take} (JAX/TF name).
 *
 * @example
 * ```ts
 * import { array, gather } from "./mod.ts";
 * gather(array([5, 6, 7]), [2, 0]).toArray(); // [7, 5]
 * ```
 */
export function gather(x: NDArray, indices: NDArray | number[], axis?: number): NDArray {
  return take(x, indices, axis);
}

/**
 * Pick along `axis` with an index array of the same rank (NumPy
 * `take_along_axis`); the other axes broadcast.
 *
 * @example
 * ```ts
 * import { array, takeAlongAxis } from "./mod.ts";
 * const x = array([[10, 30, 20]]);
 * takeAlongAxis(x, array([[1]], { dtype: "int32" }), 1).toArray(); // [[30]]
 * ```
 */
export function takeAlongAxis(x: NDArray, indices: NDArray, axis: number): NDArray {
  checkArray("takeAlongAxis", "x", x);
  const idx = indexArray("takeAlongAxis", indices);
  if (idx.ndim !== x.ndim) {
    throw new Error(`takeAlongAxis: indices must have the rank of x (${x.ndim}), got shape [${idx.shape}]`);
  }
  const ax = normAxis("takeAlongAxis", axis, x.ndim);
  const xs = x.shape, is = idx.shape;
  const common = broadcastShapes(
    "takeAlongAxis",
    xs.map((d, k) => (k === ax ? 1 : d)),
    is.map((d, k) => (k === ax ? 1 : d)),
  );
  const xt = common.map((d, k) => (k === ax ? xs[ax] : d));
  const it = common.map((d, k) => (k === ax ? is[ax] : d));
  return make("gather", [broadcastTo(x, xt), broadcastTo(idx, it)], { axis: ax }, it, x.dtype);
}

/**
 * `x` with `updates` added at `indices` along `axis` (PyTorch `scatter_add`):
 * `out[…, indices[…, t, …], …] += updates[…, t, …]`. `indices` and `updates`
 * share a shape that equals `x`'s except along `axis`. Repeated indices sum.
 *
 * @example
 * ```ts
 * import { zeros, array, scatterAdd } from "./mod.ts";
 * scatterAdd(zeros([3]), array([0, 2, 0], { dtype: "int32" }), array([1, 2, 3]), 0).toArray(); // [4, 0, 2]
 * ```
 */
export function scatterAdd(x: NDArray, indices: NDArray, updates: NDArray, axis: number): NDArray {
  checkArray("scatterAdd", "x", x);
  checkArray("scatterAdd", "updates", updates);
  const idx = indexArray("scatterAdd", indices);
  const ax = normAxis("scatterAdd", axis, x.ndim);
  if (idx.ndim !== x.ndim || idx.shape.some((d, k) => k !== ax && d !== x.shape[k])) {
    throw new Error(
      `scatterAdd: indices must have shape [${x.shape.map((d, k) => (k === ax ? "*" : d))}], got [${idx.shape}]`,
    );
  }
  const upd = broadcastTo(cast(updates, x.dtype), idx.shape);
  return make("scatterAdd", [x, idx, upd], { axis: ax }, x.shape, x.dtype);
}

/**
 * One-hot encoding: a new last axis of length `depth` (float32 unless `dtype`).
 *
 * @example
 * ```ts
 * import { array, oneHot } from "./mod.ts";
 * oneHot(array([0, 2], { dtype: "int32" }), 3).toArray(); // [[1, 0, 0], [0, 0, 1]]
 * ```
 */
export function oneHot(indices: NDArray, depth: number, dtype: DType = "float32"): NDArray {
  const idx = indexArray("oneHot", indices);
  if (!Number.isInteger(depth) || depth <= 0) throw new Error(`oneHot: depth must be a positive integer, got ${depth}`);
  return cast(equal(expandDims(idx, -1), arange(depth, undefined, undefined, { dtype: "int32" })), dtype);
}

/**
 * Indices that sort `x` along `axis` (stable; NaN last), int32.
 *
 * @example
 * ```ts
 * import { array, argsort } from "./mod.ts";
 * argsort(array([3, 1, 2])).toArray(); // [1, 2, 0]
 * ```
 */
export function argsort(x: NDArray, axis = -1, descending = false): NDArray {
  checkArray("argsort", "x", x);
  if (x.ndim === 0) return make("fill", [], { value: 0 }, [], "int32");
  const ax = normAxis("argsort", axis, x.ndim);
  return make("argsort", [x], { axis: ax, descending }, x.shape, "int32");
}

/**
 * Sorted copy along `axis` (stable; gradients flow to the original positions).
 *
 * @example
 * ```ts
 * import { array, sort } from "./mod.ts";
 * sort(array([3, 1, 2])).toArray(); // [1, 2, 3]
 * ```
 */
export function sort(x: NDArray, axis = -1, descending = false): NDArray {
  checkArray("sort", "x", x);
  if (x.ndim === 0) return x;
  return takeAlongAxis(x, argsort(x, axis, descending), axis);
}

/**
 * The `k` largest values along `axis` and their int32 indices, largest first
 * (ties keep the earlier index first).
 *
 * @example
 * ```ts
 * import { array, topk } from "./mod.ts";
 * topk(array([1, 5, 3]), 2).values.toArray(); // [5, 3]
 * ```
 */
export function topk(x: NDArray, k: number, axis = -1): { values: NDArray; indices: NDArray } {
  checkArray("topk", "x", x);
  const ax = normAxis("topk", axis, x.ndim);
  if (!Number.isInteger(k) || k < 0 || k > x.shape[ax]) {
    throw new RangeError(`topk: k must be an integer in [0, ${x.shape[ax]}], got ${k}`);
  }
  const order = argsort(x, ax, true);
  const indices = slice(order, x.shape.map((_, j) => (j === ax ? [0, k] : null)));
  return { values: takeAlongAxis(x, indices, ax), indices };
}
