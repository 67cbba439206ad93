// Pooling ops (SPEC §4.2, §4.3, §4.5), all composed from the window
// primitives (windowSum / windowArgmax), gather and scatterAdd so their
// gradients come from the VJP table: max pools route the cotangent to the
// first maximum through takeAlongAxis, average pools use a constant divisor
// (the same forward and backward), unpooling is a scatterAdd.
import type { WindowAxis } from "./_graph.ts";
import { checkArray, describe, make, NDArray } from "./_prim.ts";
import { uniform } from "./random.ts";
import { array, zeros } from "./creation.ts";
import { abs, add, div, greater, maximum, mul, pow, sign, sqrt, where } from "./elementwise.ts";
import { argsort, concat, pad, reshape, scatterAdd, slice, take, takeAlongAxis, transpose } from "./movement.ts";
import { mean, sum } from "./reduce.ts";
import { matmul } from "./linalg.ts";

/** Activation layout: channels-first (default) or channels-last. */
export type DataFormat = "NCHW" | "NHWC";

/** A max-type pooling result with its int32 flat indices inside each (n, c) plane. */
export interface PoolWithIndices {
  /** pooled values (differentiable) */
  values: NDArray;
  /** int32 flat index of the selected element inside the un-padded input plane */
  indices: NDArray;
}

/** Options of {@linkcode maxPool1d}, {@linkcode maxPool2d} and {@linkcode maxPool3d}. */
export interface MaxPoolOptions {
  /** window size per spatial axis */
  kernelSize: number | number[];
  /** step per spatial axis (default `kernelSize`) */
  stride?: number | number[];
  /** −∞ padding per spatial axis (default 0) */
  padding?: number | number[];
  /** distance between taps (default 1) */
  dilation?: number | number[];
  /** PyTorch ceil mode (default false) */
  ceilMode?: boolean;
  /** also return int32 indices (default false) */
  returnIndices?: boolean;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/** Options of {@linkcode avgPool1d}, {@linkcode avgPool2d} and {@linkcode avgPool3d}. */
export interface AvgPoolOptions {
  /** window size per spatial axis */
  kernelSize: number | number[];
  /** step per spatial axis (default `kernelSize`) */
  stride?: number | number[];
  /** zero padding per spatial axis (default 0) */
  padding?: number | number[];
  /** PyTorch ceil mode (default false) */
  ceilMode?: boolean;
  /** count padding cells in the divisor (default true) */
  countIncludePad?: boolean;
  /** fixed divisor (default null) */
  divisorOverride?: number | null;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/** Options of {@linkcode lpPool2d}. */
export interface LpPoolOptions {
  /** the exponent p */
  normType: number;
  /** window size */
  kernelSize: number | number[];
  /** step (default `kernelSize`) */
  stride?: number | number[];
  /** PyTorch ceil mode (default false) */
  ceilMode?: boolean;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/** Options of the adaptive pools. */
export interface AdaptivePoolOptions {
  /** output length per spatial axis */
  outputSize: number | number[];
  /** also return indices (adaptive max pools only) */
  returnIndices?: boolean;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/** Options of {@linkcode globalAvgPool2d} and {@linkcode globalMaxPool2d}. */
export interface GlobalPoolOptions {
  /** keep the two spatial axes with length 1 (default false) */
  keepDims?: boolean;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/** Options of {@linkcode maxUnpool1d} and {@linkcode maxUnpool2d}. */
export interface MaxUnpoolOptions {
  /** kernel size of the max pool */
  kernelSize: number | number[];
  /** stride of the max pool (default `kernelSize`) */
  stride?: number | number[];
  /** padding of the max pool (default 0) */
  padding?: number | number[];
  /** spatial output size (default from the formula) */
  outputSize?: number[] | null;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

// ---------------------------------------------------------------------------
// helpers

function tuple(op: string, name: string, v: number | number[] | undefined, n: number, min: number): number[] {
  const t = typeof v === "number" ? new Array<number>(n).fill(v) : v;
  if (!Array.isArray(t) || t.length !== n || t.some((e) => !Number.isInteger(e) || e < min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or ${n} such integers, got ${JSON.stringify(v)}`);
  }
  return t;
}

function checkInput(op: string, x: unknown, nd: number, fmt: DataFormat | undefined): NDArray {
  const a = checkArray(op, "x", x);
  if (a.ndim !== nd + 2) {
    const names = nd === 1 ? "[N, C, L]" : nd === 2 ? "[N, C, H, W]" : "[N, C, D, H, W]";
    throw new Error(`${op}: x must have rank ${nd + 2} ${names}, got shape [${a.shape}]`);
  }
  if (fmt !== undefined && fmt !== "NCHW" && fmt !== "NHWC") {
    throw new Error(`${op}: dataFormat must be "NCHW" or "NHWC", got ${JSON.stringify(fmt)}`);
  }
  return fmt === "NHWC" ? toFirst(a, nd) : a;
}

function toFirst(x: NDArray, nd: number): NDArray {
  return transpose(x, [0, nd + 1, ...Array.from({ length: nd }, (_, i) => i + 1)]);
}

function toLast(x: NDArray, nd: number, fmt: DataFormat | undefined): NDArray {
  return fmt === "NHWC" ? transpose(x, [0, ...Array.from({ length: nd }, (_, i) => i + 2), 1]) : x;
}

function poolOut(op: string, L: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((L + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= L + p) out--;
  if (out < 1) {
    throw new Error(
      `${op}: kernel larger than input: effective kernel ${d * (k - 1) + 1} exceeds padded input ${
        L + 2 * p
      } (input ${L}, padding ${p})`,
    );
  }
  return out;
}

function axisOf(size: number, starts: number[], counts: number[], dilation: number): WindowAxis {
  return { size, starts: Int32Array.from(starts), counts: Int32Array.from(counts), dilation };
}

interface Geometry {
  axes: WindowAxis[];
  out: number[];
}

function slidingGeometry(
  op: string,
  spatial: number[],
  k: number[],
  s: number[],
  p: number[],
  d: number[],
  ceil: boolean,
): Geometry {
  const axes: WindowAxis[] = [], out: number[] = [];
  spatial.forEach((L, i) => {
    const o = poolOut(op, L, k[i], s[i], p[i], d[i], ceil);
    out.push(o);
    axes.push(axisOf(L, Array.from({ length: o }, (_, j) => j * s[i] - p[i]), new Array(o).fill(k[i]), d[i]));
  });
  return { axes, out };
}

function adaptiveGeometry(spatial: number[], O: number[]): Geometry {
  const axes = spatial.map((L, i) => {
    const o = O[i];
    const starts = Array.from({ length: o }, (_, j) => Math.floor((j * L) / o));
    const counts = starts.map((st, j) => Math.floor(((j + 1) * L + o - 1) / o) - st);
    return axisOf(L, starts, counts, 1);
  });
  return { axes, out: O };
}

function windowSum(x: NDArray, g: Geometry): NDArray {
  return make("windowSum", [x], { axes: g.axes }, [x.shape[0], x.shape[1], ...g.out], x.dtype);
}

/** First-maximum selection: int32 plane indices and the gathered values. */
function windowMax(x: NDArray, g: Geometry): PoolWithIndices {
  const [N, C] = x.shape;
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const O = g.out.reduce((a, b) => a * b, 1);
  const indices = make("windowArgmax", [x], { axes: g.axes }, [N, C, ...g.out], "int32");
  const flat = takeAlongAxis(reshape(x, [N, C, S]), reshape(indices, [N, C, O]), 2);
  return { values: reshape(flat, [N, C, ...g.out]), indices };
}

function constant(data: Float64Array, shape: number[], dtype: NDArray["dtype"]): NDArray {
  return array(data, { shape, dtype: dtype === "float64" ? "float64" : "float32" });
}

// ---------------------------------------------------------------------------
// max pooling

function maxPoolN(op: string, nd: number, x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices {
  if (options === undefined || options === null) throw new Error(`${op}: options with kernelSize are required`);
  const xc = checkInput(op, x, nd, options.dataFormat);
  const k = tuple(op, "kernelSize", options.kernelSize, nd, 1);
  const s = tuple(op, "stride", options.stride ?? k, nd, 1);
  const p = tuple(op, "padding", options.padding ?? 0, nd, 0);
  const d = tuple(op, "dilation", options.dilation ?? 1, nd, 1);
  p.forEach((pi, i) => {
    const lim = Math.floor((d[i] * (k[i] - 1) + 1) / 2);
    if (pi > lim) {
      throw new Error(
        `${op}: padding too large: padding ${pi} must be at most half the effective kernel size (${lim}) on spatial axis ${i}`,
      );
    }
  });
  const g = slidingGeometry(op, xc.shape.slice(2), k, s, p, d, options.ceilMode ?? false);
  const r = windowMax(xc, g);
  const values = toLast(r.values, nd, options.dataFormat);
  if (!options.returnIndices) return values;
  return { values, indices: toLast(r.indices, nd, options.dataFormat) };
}

/**
 * 1-D max pooling of `x [N, C, L]` (PyTorch `max_pool1d`): first maximum in
 * window order, −∞ padding, ceil mode with PyTorch's last-window rule.
 *
 * @example
 * ```ts
 * import { array, maxPool1d } from "./mod.ts";
 * maxPool1d(array([[[1, 3, 2, 5]]]), { kernelSize: 2 }).toArray(); // [[[3, 5]]]
 * ```
 */
export function maxPool1d(x: NDArray, options: MaxPoolOptions & { returnIndices: true }): PoolWithIndices;
/** `maxPool1d` without indices: the pooled values. */
export function maxPool1d(x: NDArray, options: MaxPoolOptions & { returnIndices?: false }): NDArray;
/** `maxPool1d` with `returnIndices` decided at run time. */
export function maxPool1d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices;
export function maxPool1d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices {
  return maxPoolN("maxPool1d", 1, x, options);
}

/**
 * 2-D max pooling of `x [N, C, H, W]` (PyTorch `max_pool2d`). With
 * `returnIndices` also returns int32 flat indices `h·W + w` per plane.
 *
 * @example
 * ```ts
 * import { array, maxPool2d } from "./mod.ts";
 * const { values, indices } = maxPool2d(array([[[[1, 2], [4, 3]]]]), { kernelSize: 2, returnIndices: true });
 * values.toArray(); // [[[[4]]]]
 * indices.toArray(); // [[[[2]]]]
 * ```
 */
export function maxPool2d(x: NDArray, options: MaxPoolOptions & { returnIndices: true }): PoolWithIndices;
/** `maxPool2d` without indices: the pooled values. */
export function maxPool2d(x: NDArray, options: MaxPoolOptions & { returnIndices?: false }): NDArray;
/** `maxPool2d` with `returnIndices` decided at run time. */
export function maxPool2d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices;
export function maxPool2d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices {
  return maxPoolN("maxPool2d", 2, x, options);
}

/**
 * 3-D max pooling of `x [N, C, D, H, W]` (PyTorch `max_pool3d`).
 *
 * @example
 * ```ts
 * import { arange, maxPool3d } from "./mod.ts";
 * maxPool3d(arange(8).reshape([1, 1, 2, 2, 2]), { kernelSize: 2 }).toArray(); // [[[[[7]]]]]
 * ```
 */
export function maxPool3d(x: NDArray, options: MaxPoolOptions & { returnIndices: true }): PoolWithIndices;
/** `maxPool3d` without indices: the pooled values. */
export function maxPool3d(x: NDArray, options: MaxPoolOptions & { returnIndices?: false }): NDArray;
/** `maxPool3d` with `returnIndices` decided at run time. */
export function maxPool3d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices;
export function maxPool3d(x: NDArray, options: MaxPoolOptions): NDArray | PoolWithIndices {
  return maxPoolN("maxPool3d", 3, x, options);
}

// ---------------------------------------------------------------------------
// average pooling

function avgPoolN(op: string, nd: number, x: NDArray, options: AvgPoolOptions): NDArray {
  if (options === undefined || options === null) throw new Error(`${op}: options with kernelSize are required`);
  const xc = checkInput(op, x, nd, options.dataFormat);
  const k = tuple(op, "kernelSize", options.kernelSize, nd, 1);
  const s = tuple(op, "stride", options.stride ?? k, nd, 1);
  const p = tuple(op, "padding", options.padding ?? 0, nd, 0);
  p.forEach((pi, i) => {
    if (pi > Math.floor(k[i] / 2)) {
      throw new Error(
        `${op}: padding too large: padding ${pi} must be at most half the kernel size (${
          Math.floor(k[i] / 2)
        }) on spatial axis ${i}`,
      );
    }
  });
  const spatial = xc.shape.slice(2);
  const g = slidingGeometry(op, spatial, k, s, p, spatial.map(() => 1), options.ceilMode ?? false);
  const override = options.divisorOverride ?? null;
  if (override !== null && (!Number.isFinite(override) || override === 0)) {
    throw new Error(`${op}: divisorOverride must be a non-zero number, got ${override}`);
  }
  const include = options.countIncludePad ?? true;
  // Per axis and output cell: poolSize and clipped count factors (SPEC §4.2).
  const poolF: number[][] = [], countF: number[][] = [];
  g.axes.forEach((a, i) => {
    const L = spatial[i];
    poolF.push(Array.from(a.starts, (st) => Math.min(st + k[i], L + p[i]) - st));
    countF.push(Array.from(a.starts, (st) => Math.min(st + k[i], L + p[i], L) - Math.max(st, 0)));
  });
  const O = g.out.reduce((q, r) => q * r, 1);
  const divisor = new Float64Array(O);
  for (let f = 0; f < O; f++) {
    let rem = f, ps = 1, cs = 1;
    for (let i = nd - 1; i >= 0; i--) {
      const j = rem % g.out[i];
      rem = Math.floor(rem / g.out[i]);
      ps *= poolF[i][j];
      cs *= countF[i][j];
    }
    divisor[f] = override ?? (include ? ps : cs);
  }
  const out = div(windowSum(xc, g), constant(divisor, g.out, xc.dtype));
  return toLast(out, nd, options.dataFormat);
}

/**
 * 1-D average pooling of `x [N, C, L]` (PyTorch `avg_pool1d`, plus `divisorOverride`).
 *
 * @example
 * ```ts
 * import { array, avgPool1d } from "./mod.ts";
 * avgPool1d(array([[[1, 3, 2, 6]]]), { kernelSize: 2 }).toArray(); // [[[2, 4]]]
 * ```
 */
export function avgPool1d(x: NDArray, options: AvgPoolOptions): NDArray {
  return avgPoolN("avgPool1d", 1, x, options);
}

/**
 * 2-D average pooling of `x [N, C, H, W]` (PyTorch `avg_pool2d`); the divisor
 * per output cell follows `countIncludePad` / `divisorOverride` and is the same
 * in the gradient.
 *
 * @example
 * ```ts
 * import { array, avgPool2d } from "./mod.ts";
 * avgPool2d(array([[[[1, 2], [3, 6]]]]), { kernelSize: 2 }).toArray(); // [[[[3]]]]
 * ```
 */
export function avgPool2d(x: NDArray, options: AvgPoolOptions): NDArray {
  return avgPoolN("avgPool2d", 2, x, options);
}

/**
 * 3-D average pooling of `x [N, C, D, H, W]` (PyTorch `avg_pool3d`).
 *
 * @example
 * ```ts
 * import { arange, avgPool3d } from "./mod.ts";
 * avgPool3d(arange(8).reshape([1, 1, 2, 2, 2]), { kernelSize: 2 }).toArray(); // [[[[[3.5]]]]]
 * ```
 */
export function avgPool3d(x: NDArray, options: AvgPoolOptions): NDArray {
  return avgPoolN("avgPool3d", 3, x, options);
}

/**
 * Power-average pooling (PyTorch `lp_pool2d`):
 * `(avgPool2d(x^p, countIncludePad) · kH·kW)^(1/p)`, including PyTorch's
 * ceil-mode quirk for partial windows.
 *
 * @example
 * ```ts
 * import { array, lpPool2d } from "./mod.ts";
 * lpPool2d(array([[[[3, 4], [0, 0]]]]), { normType: 2, kernelSize: 2 }).toArray(); // [[[[5]]]]
 * ```
 */
export function lpPool2d(x: NDArray, options: LpPoolOptions): NDArray {
  const op = "lpPool2d";
  if (options === undefined || options === null) {
    throw new Error(`${op}: options with normType and kernelSize are required`);
  }
  const pn = options.normType;
  if (typeof pn !== "number" || !(pn > 0) || !Number.isFinite(pn)) {
    throw new Error(`${op}: normType must be a positive finite number, got ${pn}`);
  }
  checkInput(op, x, 2, options.dataFormat);
  const k = tuple(op, "kernelSize", options.kernelSize, 2, 1);
  const xp = pn === 2 ? mul(x, x) : pow(x, pn);
  const avg = avgPoolN(op, 2, xp, {
    kernelSize: k,
    stride: options.stride,
    ceilMode: options.ceilMode,
    countIncludePad: true,
    dataFormat: options.dataFormat,
  });
  const total = mul(avg, k[0] * k[1]);
  return pn === 1 ? total : pn === 2 ? sqrt(total) : pow(total, 1 / pn);
}

// ---------------------------------------------------------------------------
// adaptive and global pooling

function adaptiveN(
  op: string,
  nd: number,
  x: NDArray,
  options: AdaptivePoolOptions,
  kind: "avg" | "max",
): NDArray | PoolWithIndices {
  if (options === undefined || options === null) throw new Error(`${op}: options with outputSize are required`);
  const xc = checkInput(op, x, nd, options.dataFormat);
  const O = tuple(op, "outputSize", options.outputSize, nd, 1);
  const spatial = xc.shape.slice(2);
  spatial.forEach((L, i) => {
    if (L < 1) throw new Error(`${op}: spatial axis ${i} of x must be non-empty, got shape [${x.shape}]`);
  });
  const g = adaptiveGeometry(spatial, O);
  if (kind === "avg") {
    const Osz = O.reduce((q, r) => q * r, 1);
    const divisor = new Float64Array(Osz);
    for (let f = 0; f < Osz; f++) {
      let rem = f, c = 1;
      for (let i = nd - 1; i >= 0; i--) {
        c *= g.axes[i].counts[rem % O[i]];
        rem = Math.floor(rem / O[i]);
      }
      divisor[f] = c;
    }
    return toLast(div(windowSum(xc, g), constant(divisor, O, xc.dtype)), nd, options.dataFormat);
  }
  const r = windowMax(xc, g);
  const values = toLast(r.values, nd, options.dataFormat);
  return options.returnIndices ? { values, indices: toLast(r.indices, nd, options.dataFormat) } : values;
}

/**
 * Adaptive average pooling of `x [N, C, L]` to `outputSize` bins
 * `[⌊iL/O⌋, ⌈(i+1)L/O⌉)` (PyTorch `adaptive_avg_pool1d`).
 *
 * @example
 * ```ts
 * import { array, adaptiveAvgPool1d } from "./mod.ts";
 * adaptiveAvgPool1d(array([[[1, 2, 3, 4]]]), { outputSize: 2 }).toArray(); // [[[1.5, 3.5]]]
 * ```
 */
export function adaptiveAvgPool1d(x: NDArray, options: AdaptivePoolOptions): NDArray {
  return adaptiveN("adaptiveAvgPool1d", 1, x, options, "avg") as NDArray;
}

/**
 * Adaptive average pooling of `x [N, C, H, W]` (PyTorch `adaptive_avg_pool2d`).
 *
 * @example
 * ```ts
 * import { arange, adaptiveAvgPool2d } from "./mod.ts";
 * adaptiveAvgPool2d(arange(4).reshape([1, 1, 2, 2]), { outputSize: 1 }).toArray(); // [[[[1.5]]]]
 * ```
 */
export function adaptiveAvgPool2d(x: NDArray, options: AdaptivePoolOptions): NDArray {
  return adaptiveN("adaptiveAvgPool2d", 2, x, options, "avg") as NDArray;
}

/**
 * Adaptive max pooling of `x [N, C, L]` (PyTorch `adaptive_max_pool1d`).
 *
 * @example
 * ```ts
 * import { array, adaptiveMaxPool1d } from "./mod.ts";
 * adaptiveMaxPool1d(array([[[1, 5, 3, 4]]]), { outputSize: 2 }).toArray(); // [[[5, 4]]]
 * ```
 */
export function adaptiveMaxPool1d(x: NDArray, options: AdaptivePoolOptions & { returnIndices: true }): PoolWithIndices;
/** `adaptiveMaxPool1d` without indices: the pooled values. */
export function adaptiveMaxPool1d(x: NDArray, options: AdaptivePoolOptions & { returnIndices?: false }): NDArray;
/** `adaptiveMaxPool1d` with `returnIndices` decided at run time. */
export function adaptiveMaxPool1d(x: NDArray, options: AdaptivePoolOptions): NDArray | PoolWithIndices;
export function adaptiveMaxPool1d(x: NDArray, options: AdaptivePoolOptions): NDArray | PoolWithIndices {
  return adaptiveN("adaptiveMaxPool1d", 1, x, options, "max");
}

/**
 * Adaptive max pooling of `x [N, C, H, W]` (PyTorch `adaptive_max_pool2d`);
 * indices are flat `h·W + w`.
 *
 * @example
 * ```ts
 * import { arange, adaptiveMaxPool2d } from "./mod.ts";
 * adaptiveMaxPool2d(arange(4).reshape([1, 1, 2, 2]), { outputSize: 1 }).toArray(); // [[[[3]]]]
 * ```
 */
export function adaptiveMaxPool2d(x: NDArray, options: AdaptivePoolOptions & { returnIndices: true }): PoolWithIndices;
/** `adaptiveMaxPool2d` without indices: the pooled values. */
export function adaptiveMaxPool2d(x: NDArray, options: AdaptivePoolOptions & { returnIndices?: false }): NDArray;
/** `adaptiveMaxPool2d` with `returnIndices` decided at run time. */
export function adaptiveMaxPool2d(x: NDArray, options: AdaptivePoolOptions): NDArray | PoolWithIndices;
export function adaptiveMaxPool2d(x: NDArray, options: AdaptivePoolOptions): NDArray | PoolWithIndices {
  return adaptiveN("adaptiveMaxPool2d", 2, x, options, "max");
}

/**
 * Mean over H and W of `x [N, C, H, W]` → `[N, C]` (or `[N, C, 1, 1]` with `keepDims`).
 *
 * @example
 * ```ts
 * import { arange, globalAvgPool2d } from "./mod.ts";
 * globalAvgPool2d(arange(4).reshape([1, 1, 2, 2])).toArray(); // [[1.5]]
 * ```
 */
export function globalAvgPool2d(x: NDArray, options: GlobalPoolOptions = {}): NDArray {
  const xc = checkInput("globalAvgPool2d", x, 2, options.dataFormat);
  const m = mean(xc, [2, 3], options.keepDims ?? false);
  return options.keepDims ? toLast(m, 2, options.dataFormat) : m;
}

/**
 * Max over H and W of `x [N, C, H, W]` (first maximum gets the gradient).
 *
 * @example
 * ```ts
 * import { arange, globalMaxPool2d } from "./mod.ts";
 * globalMaxPool2d(arange(4).reshape([1, 1, 2, 2]), { keepDims: true }).shape; // [1, 1, 1, 1]
 * ```
 */
export function globalMaxPool2d(x: NDArray, options: GlobalPoolOptions = {}): NDArray {
  const xc = checkInput("globalMaxPool2d", x, 2, options.dataFormat);
  const [N, C, H, W] = xc.shape;
  if (H * W === 0) throw new Error(`globalMaxPool2d: spatial size must be non-empty, got shape [${x.shape}]`);
  const v = windowMax(xc, adaptiveGeometry([H, W], [1, 1])).values;
  return options.keepDims ? toLast(v, 2, options.dataFormat) : reshape(v, [N, C]);
}

// ---------------------------------------------------------------------------
// unpooling

function maxUnpoolN(op: string, nd: number, x: NDArray, indices: NDArray, options: MaxUnpoolOptions): NDArray {
  if (options === undefined || options === null) throw new Error(`${op}: options with kernelSize are required`);
  const xc = checkInput(op, x, nd, options.dataFormat);
  const ic = checkInput(op, checkArray(op, "indices", indices), nd, options.dataFormat);
  if (ic.dtype !== "int32") throw new TypeError(`${op}: indices must be int32, got ${ic.dtype}`);
  if (ic.shape.some((dd, i) => dd !== xc.shape[i])) {
    throw new Error(`${op}: indices must have the shape of x [${x.shape}], got [${indices.shape}]`);
  }
  const k = tuple(op, "kernelSize", options.kernelSize, nd, 1);
  const s = tuple(op, "stride", options.stride ?? k, nd, 1);
  const p = tuple(op, "padding", options.padding ?? 0, nd, 0);
  const inSp = xc.shape.slice(2);
  const def = inSp.map((h, i) => (h - 1) * s[i] - 2 * p[i] + k[i]);
  let outSp = def;
  if (options.outputSize !== undefined && options.outputSize !== null) {
    let os = options.outputSize;
    if (Array.isArray(os) && os.length === nd + 2) os = os.slice(2);
    if (!Array.isArray(os) || os.length !== nd || os.some((v) => !Number.isInteger(v))) {
      throw new Error(`${op}: outputSize must be ${nd} integers, got ${JSON.stringify(options.outputSize)}`);
    }
    os.forEach((v, i) => {
      if (!(v > def[i] - s[i] && v < def[i] + s[i])) {
        throw new Error(
          `${op}: invalid outputSize ${JSON.stringify(options.outputSize)}: axis ${i} must be in (${def[i] - s[i]}, ${
            def[i] + s[i]
          }), got ${v}`,
        );
      }
    });
    outSp = os;
  }
  if (outSp.some((v) => v < 1)) throw new Error(`${op}: output size [${outSp}] must be positive`);
  const [N, C] = xc.shape;
  const iS = inSp.reduce((a, b) => a * b, 1), oS = outSp.reduce((a, b) => a * b, 1);
  const iv = ic.dataSync();
  for (let i = 0; i < iv.length; i++) {
    if (!(iv[i] >= 0 && iv[i] < oS)) {
      throw new RangeError(
        `${op}: invalid max index ${
          iv[i]
        } at flat position ${i}: expected an index in [0, ${oS}) for output size [${outSp}]`,
      );
    }
  }
  const out = scatterAdd(zeros([N, C, oS], { dtype: xc.dtype }), reshape(ic, [N, C, iS]), reshape(xc, [N, C, iS]), 2);
  return toLast(reshape(out, [N, C, ...outSp]), nd, options.dataFormat);
}

/**
 * Inverse of {@linkcode maxPool1d} (PyTorch `max_unpool1d`): zeros except the
 * values at their indices; the gradient is the gather at the indices.
 *
 * @example
 * ```ts
 * import { array, maxPool1d, maxUnpool1d } from "./mod.ts";
 * const { values, indices } = maxPool1d(array([[[1, 3, 2, 5]]]), { kernelSize: 2, returnIndices: true });
 * maxUnpool1d(values, indices, { kernelSize: 2 }).toArray(); // [[[0, 3, 0, 5]]]
 * ```
 */
export function maxUnpool1d(x: NDArray, indices: NDArray, options: MaxUnpoolOptions): NDArray {
  return maxUnpoolN("maxUnpool1d", 1, x, indices, options);
}

/**
 * Inverse of {@linkcode maxPool2d} (PyTorch `max_unpool2d`); `outputSize` must
 * lie strictly within one stride of the default size.
 *
 * @example
 * ```ts
 * import { array, maxPool2d, maxUnpool2d } from "./mod.ts";
 * const { values, indices } = maxPool2d(array([[[[1, 2], [4, 3]]]]), { kernelSize: 2, returnIndices: true });
 * maxUnpool2d(values, indices, { kernelSize: 2 }).toArray(); // [[[[0, 0], [4, 0]]]]
 * ```
 */
export function maxUnpool2d(x: NDArray, indices: NDArray, options: MaxUnpoolOptions): NDArray {
  return maxUnpoolN("maxUnpool2d", 2, x, indices, options);
}

// ---------------------------------------------------------------------------
// composites

/** Options of {@linkcode spatialPyramidPool}. */
export interface SpatialPyramidPoolOptions {
  /** grid sizes, e.g. `[4, 2, 1]` */
  levels: number[];
  /** pooling kind (default "max") */
  mode?: "max" | "avg";
  /** input layout (default "NCHW"); the output is the same for both */
  dataFormat?: DataFormat;
}

/**
 * Spatial pyramid pooling (adaptive definition): per level `n` an adaptive
 * pool to `n×n`, flattened to `[N, C·n·n]`, concatenated → `[N, C·Σn²]`.
 *
 * @example
 * ```ts
 * import { ones, spatialPyramidPool } from "./mod.ts";
 * spatialPyramidPool(ones([2, 3, 5, 5]), { levels: [2, 1] }).shape; // [2, 15]
 * ```
 */
export function spatialPyramidPool(x: NDArray, options: SpatialPyramidPoolOptions): NDArray {
  const op = "spatialPyramidPool";
  if (options === undefined || options === null) throw new Error(`${op}: options with levels are required`);
  const xc = checkInput(op, x, 2, options.dataFormat);
  const mode = options.mode ?? "max";
  if (mode !== "max" && mode !== "avg") {
    throw new Error(`${op}: mode must be "max" or "avg", got ${JSON.stringify(mode)}`);
  }
  const levels = options.levels;
  if (!Array.isArray(levels) || levels.length === 0 || levels.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${op}: levels must be a non-empty list of positive integers, got ${JSON.stringify(levels)}`);
  }
  const [N, C] = xc.shape;
  const parts = levels.map((n) => {
    const y = mode === "max" ? adaptiveMaxPool2d(xc, { outputSize: n }) : adaptiveAvgPool2d(xc, { outputSize: n });
    return reshape(y, [N, C * n * n]);
  });
  return parts.length === 1 ? parts[0] : concat(parts, 1);
}

/** Options of {@linkcode yoloSpp}. */
export interface YoloSppOptions {
  /** odd kernel sizes (default `[5, 9, 13]`) */
  kernelSizes?: number[];
  /** "darknet": `[pool_kn … pool_k1, x]` (default); "ultralytics": `[x, pool_k1 … pool_kn]` */
  order?: "darknet" | "ultralytics";
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

function sameMax(x: NDArray, k: number): NDArray {
  return maxPool2d(x, { kernelSize: k, stride: 1, padding: Math.floor(k / 2) });
}

/**
 * YOLOv3-SPP block: stride-1 "same" max pools concatenated with the input
 * along channels; darknet order `[pool13, pool9, pool5, x]` by default.
 *
 * @example
 * ```ts
 * import { ones, yoloSpp } from "./mod.ts";
 * yoloSpp(ones([1, 2, 8, 8])).shape; // [1, 8, 8, 8]
 * ```
 */
export function yoloSpp(x: NDArray, options: YoloSppOptions = {}): NDArray {
  const op = "yoloSpp";
  const xc = checkInput(op, x, 2, options.dataFormat);
  const ks = options.kernelSizes ?? [5, 9, 13];
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1 || k % 2 === 0)) {
    throw new Error(`${op}: kernelSizes must be a non-empty list of odd positive integers, got ${JSON.stringify(ks)}`);
  }
  const order = options.order ?? "darknet";
  if (order !== "darknet" && order !== "ultralytics") {
    throw new Error(`${op}: order must be "darknet" or "ultralytics", got ${JSON.stringify(order)}`);
  }
  const pools = ks.map((k) => sameMax(xc, k));
  const parts = order === "darknet" ? [...pools.reverse(), xc] : [xc, ...pools];
  return toLast(concat(parts, 1), 2, options.dataFormat);
}

/** Options of {@linkcode sppf}. */
export interface SppfOptions {
  /** kernel size of the chained max pool (default 5) */
  kernelSize?: number;
  /** number of chained pools (default 3) */
  repeats?: number;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/**
 * SPPF (YOLOv5): `[x, m(x), m(m(x)), m(m(m(x)))]` with `m` a stride-1 5×5 max
 * pool; the values equal `yoloSpp(x, { order: "ultralytics" })` with `[5, 9, 13]`.
 *
 * @example
 * ```ts
 * import { ones, sppf } from "./mod.ts";
 * sppf(ones([1, 2, 8, 8])).shape; // [1, 8, 8, 8]
 * ```
 */
export function sppf(x: NDArray, options: SppfOptions = {}): NDArray {
  const op = "sppf";
  const xc = checkInput(op, x, 2, options.dataFormat);
  const k = options.kernelSize ?? 5, r = options.repeats ?? 3;
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) {
    throw new Error(`${op}: kernelSize must be an odd positive integer, got ${k}`);
  }
  if (!Number.isInteger(r) || r < 1) throw new Error(`${op}: repeats must be a positive integer, got ${r}`);
  const parts = [xc];
  for (let i = 0; i < r; i++) parts.push(sameMax(parts[i], k));
  return toLast(concat(parts, 1), 2, options.dataFormat);
}

/** Options of {@linkcode mixedPool2d}. */
export interface MixedPoolOptions {
  /** adaptive output size */
  outputSize: number | number[];
  /** "add": 0.5·(avg + max); "cat": channels [avg, max]; "random": avg or max drawn from `key` in training */
  mode: "add" | "cat" | "random";
  /** training mode (only matters for "random"; default false) */
  training?: boolean;
  /** PRNG key (`random.key(seed)`), required for "random" in training */
  key?: NDArray;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

function drawUniform(op: string, key: NDArray | undefined, shape: number[]): Float64Array {
  if (!(key instanceof NDArray)) {
    throw new Error(
      `${op}: training mode needs a PRNG key (random.key(seed), an int32 array of shape [2]), got ${describe(key)}`,
    );
  }
  return Float64Array.from(uniform(key, shape, { dtype: "float64" }).dataSync() as Float64Array);
}

/**
 * Mixed average/max adaptive pooling (timm "avgmax" / "catavgmax"). Mode
 * "random" (mixed pooling, Yu et al. 2014): in training one λ ∈ {0, 1} per
 * call: λ = 1 (max) if `random.uniform(key, [])` < 0.5, else 0 (avg); at
 * inference it returns the expectation `0.5·(avg + max)` (= mode "add").
 *
 * @example
 * ```ts
 * import { arange, mixedPool2d } from "./mod.ts";
 * mixedPool2d(arange(4).reshape([1, 1, 2, 2]), { outputSize: 1, mode: "add" }).toArray(); // [[[[2.25]]]]
 * ```
 */
export function mixedPool2d(x: NDArray, options: MixedPoolOptions): NDArray {
  const op = "mixedPool2d";
  if (options === undefined || options === null) {
    throw new Error(`${op}: options with outputSize and mode are required`);
  }
  const xc = checkInput(op, x, 2, options.dataFormat);
  const mode = options.mode;
  if (mode !== "add" && mode !== "cat" && mode !== "random") {
    throw new Error(`${op}: mode must be "add", "cat" or "random", got ${JSON.stringify(mode)}`);
  }
  const o = { outputSize: options.outputSize };
  if (mode === "random" && options.training) {
    const lambda = drawUniform(op, options.key, [])[0] < 0.5 ? 1 : 0;
    return toLast(lambda ? adaptiveMaxPool2d(xc, o) : adaptiveAvgPool2d(xc, o), 2, options.dataFormat);
  }
  const a = adaptiveAvgPool2d(xc, o), m = adaptiveMaxPool2d(xc, o);
  const out = mode === "cat" ? concat([a, m], 1) : mul(add(a, m), 0.5);
  return toLast(out, 2, options.dataFormat);
}

/** Options of {@linkcode stochasticPool2d} and {@linkcode medianPool2d}. */
export interface StochasticPoolOptions {
  /** window size */
  kernelSize: number | number[];
  /** step (default `kernelSize`) */
  stride?: number | number[];
  /** zero padding (default 0) */
  padding?: number | number[];
  /** sample (true) or probability-weighted average (false, default) */
  training?: boolean;
  /** PRNG key, required in training */
  key?: NDArray;
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/**
 * Stochastic pooling (Zeiler & Fergus 2013) of non-negative `x`. Inference:
 * `Σa²/Σa` (0 for an all-zero window, with zero gradient). Training: one cell
 * per window sampled with probability `a_i/Σa` using
 * `u = random.uniform(key, [N, C, oh, ow], float64)` (deterministic per key
 * and shape): the first cell whose running sum reaches `u·Σa`; the gradient
 * goes to the sampled cell.
 *
 * @example
 * ```ts
 * import { array, stochasticPool2d } from "./mod.ts";
 * stochasticPool2d(array([[[[1, 1], [2, 0]]]]), { kernelSize: 2 }).toArray(); // [[[[1.5]]]]
 * ```
 */
export function stochasticPool2d(x: NDArray, options: StochasticPoolOptions): NDArray {
  const op = "stochasticPool2d";
  if (options === undefined || options === null) throw new Error(`${op}: options with kernelSize are required`);
  const xc = checkInput(op, x, 2, options.dataFormat);
  const k = tuple(op, "kernelSize", options.kernelSize, 2, 1);
  const s = tuple(op, "stride", options.stride ?? k, 2, 1);
  const p = tuple(op, "padding", options.padding ?? 0, 2, 0);
  const g = slidingGeometry(op, xc.shape.slice(2), k, s, p, [1, 1], false);
  if (!options.training) {
    const S = windowSum(xc, g), Q = windowSum(mul(xc, xc), g);
    const pos = greater(S, 0);
    return toLast(where(pos, div(Q, where(pos, S, 1)), 0), 2, options.dataFormat);
  }
  const [N, C, H, W] = xc.shape;
  const [oh, ow] = g.out, P = N * C, HW = H * W, O = oh * ow;
  const u = drawUniform(op, options.key, [N, C, oh, ow]);
  const data = xc.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] !== data[i]) {
      throw new Error(
        `${op}: training mode needs non-negative inputs (e.g. after relu), got ${data[i]} at flat index ${i}`,
      );
    }
  }
  const idx = new Int32Array(P * O);
  const cells: number[] = [];
  let draw = 0;
  for (let pl = 0; pl < P; pl++) {
    const base = pl * HW;
    for (let a = 0; a < oh; a++) {
      for (let b = 0; b < ow; b++) {
        cells.length = 0;
        let S = 0;
        for (let ta = 0; ta < k[0]; ta++) {
          for (let tb = 0; tb < k[1]; tb++) {
            const ih = a * s[0] - p[0] + ta, iw = b * s[1] - p[1] + tb;
            const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
            const f = inside ? ih * W + iw : HW; // HW = the padding zero
            cells.push(f);
            if (inside) S += data[base + f];
          }
        }
        const t = u[draw++] * S;
        let sel = cells[0];
        if (S > 0) {
          let run = 0, lastPos = -1, found = -1;
          for (const f of cells) {
            const v = f === HW ? 0 : data[base + f];
            if (v > 0) lastPos = f;
            run += v;
            if (v > 0 && run >= t && found < 0) found = f;
          }
          sel = found >= 0 ? found : lastPos;
        }
        idx[pl * O + a * ow + b] = sel;
      }
    }
  }
  const flat = concat([reshape(xc, [N, C, HW]), zeros([N, C, 1], { dtype: xc.dtype })], 2);
  const vals = takeAlongAxis(flat, array(idx, { shape: [N, C, O], dtype: "int32" }), 2);
  return toLast(reshape(vals, [N, C, oh, ow]), 2, options.dataFormat);
}

/** Options of {@linkcode medianPool2d}. */
export interface MedianPoolOptions {
  /** window size */
  kernelSize: number | number[];
  /** step (default `kernelSize`) */
  stride?: number | number[];
  /** zero padding; the zeros take part in the median (default 0) */
  padding?: number | number[];
  /** layout (default "NCHW") */
  dataFormat?: DataFormat;
}

/**
 * Median pooling: lower median (sorted index `⌊(n−1)/2⌋`, stable order) of each
 * zero-padded window; the gradient goes to the selected element.
 *
 * @example
 * ```ts
 * import { array, medianPool2d } from "./mod.ts";
 * medianPool2d(array([[[[4, 1], [3, 2]]]]), { kernelSize: 2 }).toArray(); // [[[[2]]]]
 * ```
 */
export function medianPool2d(x: NDArray, options: MedianPoolOptions): NDArray {
  const op = "medianPool2d";
  if (options === undefined || options === null) throw new Error(`${op}: options with kernelSize are required`);
  const xc = checkInput(op, x, 2, options.dataFormat);
  const k = tuple(op, "kernelSize", options.kernelSize, 2, 1);
  const s = tuple(op, "stride", options.stride ?? k, 2, 1);
  const p = tuple(op, "padding", options.padding ?? 0, 2, 0);
  const [N, C, H, W] = xc.shape;
  const Hp = H + 2 * p[0], Wp = W + 2 * p[1];
  const oh = poolOut(op, H, k[0], s[0], p[0], 1, false), ow = poolOut(op, W, k[1], s[1], p[1], 1, false);
  const K = k[0] * k[1];
  const pos = new Int32Array(oh * ow * K);
  let n = 0;
  for (let a = 0; a < oh; a++) {
    for (let b = 0; b < ow; b++) {
      for (let ta = 0; ta < k[0]; ta++) {
        for (let tb = 0; tb < k[1]; tb++) pos[n++] = (a * s[0] + ta) * Wp + b * s[1] + tb;
      }
    }
  }
  const xp = pad(xc, [[0, 0], [0, 0], [p[0], p[0]], [p[1], p[1]]]);
  const win = reshape(take(reshape(xp, [N, C, Hp * Wp]), array(pos, { dtype: "int32" }), 2), [N, C, oh * ow, K]);
  const m = Math.floor((K - 1) / 2);
  const sel = slice(argsort(win, -1), [null, null, null, [m, m + 1]]);
  const v = takeAlongAxis(win, sel, 3);
  return toLast(reshape(v, [N, C, oh, ow]), 2, options.dataFormat);
}

/** Options of {@linkcode bilinearPool}. */
export interface BilinearPoolOptions {
  /** added inside the signed square root (default 1e-5) */
  eps?: number;
  /** input layout (default "NCHW"); the output is the same for both */
  dataFormat?: DataFormat;
}

/**
 * Bilinear pooling (bilinear CNN): `G = X·Xᵀ/(H·W)` per sample, signed square
 * root `sign(G)·sqrt(|G| + eps)`, then L2 normalization → `[N, D·D]`.
 *
 * @example
 * ```ts
 * import { ones, bilinearPool } from "./mod.ts";
 * bilinearPool(ones([2, 3, 4, 4])).shape; // [2, 9]
 * ```
 */
export function bilinearPool(x: NDArray, options: BilinearPoolOptions = {}): NDArray {
  const op = "bilinearPool";
  const xc = checkInput(op, x, 2, options.dataFormat);
  const eps = options.eps ?? 1e-5;
  if (typeof eps !== "number" || !(eps >= 0)) throw new Error(`${op}: eps must be a non-negative number, got ${eps}`);
  const [N, D, H, W] = xc.shape;
  const X = reshape(xc, [N, D, H * W]);
  const G = reshape(div(matmul(X, transpose(X, [0, 2, 1])), H * W), [N, D * D]);
  const z = mul(sign(G), sqrt(add(abs(G), eps)));
  const norm = sqrt(sum(mul(z, z), 1, true));
  return div(z, maximum(norm, 1e-12));
}
