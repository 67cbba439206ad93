// Convolutions (SPEC §4.1): conv1d/2d/3d, transposed convs, depthwise,
// separable, unfold/fold. Everything lowers to the three primitives `conv`,
// `convGradInput` and `convGradWeight`, whose VJPs are each other.
import type { ConvGeometry } from "./_graph.ts";
import { type DType, promote } from "./_dtype.ts";
import { checkArray, isFloat, make, type NDArray } from "./_prim.ts";
import { reshape, take, takeAlongAxis, transpose } from "./movement.ts";
import { add, cast as castOp, clip, floor, greaterEqual, less, logicalAnd, mul, sub } from "./elementwise.ts";
import { matmul } from "./linalg.ts";
import { stopGradient } from "./_stop.ts";
import { array } from "./creation.ts";

/** Convolution algorithm: "auto" (default), "direct", "im2col" or "winograd". */
export type ConvAlgorithm = "auto" | "direct" | "im2col" | "winograd";
/** Padding: one int, one per axis, per-side pairs, or "valid" / "same". */
export type ConvPadding = number | number[] | [number, number][] | "valid" | "same";

/** Options of `conv1d`, `conv2d`, `conv3d`. */
export interface ConvOptions {
  /** optional bias `[Cout]` */
  bias?: NDArray;
  /** stride, one int or one per spatial axis (default 1) */
  stride?: number | number[];
  /** zero padding: int, per-axis, per-side pairs `[[before, after], …]`, `"valid"` or `"same"` (default 0) */
  padding?: ConvPadding;
  /** rule for `padding: "same"` (SPEC §3.1) */
  convention?: "torch" | "tf";
  /** dilation, one int or one per spatial axis (default 1) */
  dilation?: number | number[];
  /** number of channel groups (default 1) */
  groups?: number;
  /** channels-first (default) or channels-last layout (SPEC §1) */
  dataFormat?: "NCHW" | "NHWC";
  /** kernel algorithm (default `"auto"`) */
  algorithm?: ConvAlgorithm;
}

/** Options of the transposed convolutions. */
export interface ConvTransposeOptions {
  /** optional bias `[Cout]`, added after the convolution */
  bias?: NDArray;
  /** stride, one int or one per spatial axis (default 1) */
  stride?: number | number[];
  /** zero padding, one int or one per spatial axis (default 0) */
  padding?: number | number[];
  /** extra output size at the end, `< max(stride, dilation)` (default 0) */
  outputPadding?: number | number[];
  /** dilation, one int or one per spatial axis (default 1) */
  dilation?: number | number[];
  /** number of channel groups (default 1) */
  groups?: number;
  /** channels-first (default) or channels-last layout (SPEC §1) */
  dataFormat?: "NCHW" | "NHWC";
  /** kernel algorithm (default `"auto"`) */
  algorithm?: ConvAlgorithm;
}

/** Options of `depthwiseConv2d` and `separableConv2d`. */
export interface DepthwiseConvOptions {
  /** optional bias `[Cout]`, added after the convolution */
  bias?: NDArray;
  /** stride, one int or one per spatial axis (default 1) */
  stride?: number | number[];
  /** zero padding: int, per-axis, per-side pairs `[[before, after], …]`, `"valid"` or `"same"` (default 0) */
  padding?: ConvPadding;
  /** rule for `padding: "same"` (SPEC §3.1, default `"torch"`) */
  convention?: "torch" | "tf";
  /** dilation, one int or one per spatial axis (default 1) */
  dilation?: number | number[];
  /** channel multiplier `m`; inferred from the weight, must agree if given */
  depthMultiplier?: number;
  /** channels-first (default) or channels-last layout (SPEC §1) */
  dataFormat?: "NCHW" | "NHWC";
  /** kernel algorithm (default `"auto"`) */
  algorithm?: ConvAlgorithm;
}

/** Options of `unfold` / `fold`. */
export interface UnfoldOptions {
  /** block size `[kH, kW]` or one int (required) */
  kernelSize: number | number[];
  /** dilation, one int or one per spatial axis (default 1) */
  dilation?: number | number[];
  /** zero padding, one int or one per spatial axis (default 0) */
  padding?: number | number[];
  /** stride, one int or one per spatial axis (default 1) */
  stride?: number | number[];
}

/** Options of `fold`. */
export interface FoldOptions extends UnfoldOptions {
  /** spatial size `[H, W]` of the folded output (required) */
  outputSize: number | number[];
}

// ------------------------------------------------------------------ helpers

function tuple(op: string, name: string, v: unknown, r: number, min: number): number[] {
  const list = typeof v === "number" ? Array(r).fill(v) : v;
  if (!Array.isArray(list) || list.length !== r || list.some((e) => !Number.isInteger(e) || e < min)) {
    throw new Error(
      `${op}: ${name} must be an integer >= ${min} or a list of ${r} such integers, got ${JSON.stringify(v)}`,
    );
  }
  return list as number[];
}

function checkFormat(op: string, f: unknown): "NCHW" | "NHWC" {
  if (f === undefined || f === "NCHW" || f === "NHWC") return (f ?? "NCHW") as "NCHW" | "NHWC";
  throw new Error(`${op}: dataFormat must be "NCHW" or "NHWC", got ${JSON.stringify(f)}`);
}

function checkAlgorithm(op: string, a: unknown): ConvAlgorithm {
  if (a === undefined) return "auto";
  if (a === "auto" || a === "direct" || a === "im2col" || a === "winograd") return a;
  throw new Error(`${op}: algorithm must be "auto", "direct", "im2col" or "winograd", got ${JSON.stringify(a)}`);
}

function floatDType(op: string, arrays: [string, NDArray][]): DType {
  let dt: DType | null = null;
  for (const [name, a] of arrays) {
    if (!isFloat(a.dtype)) throw new TypeError(`${op}: ${name} must have a float dtype, got ${a.dtype}`);
    dt = dt === null ? a.dtype : promote(dt, a.dtype);
  }
  return dt ?? "float32";
}

function castTo(a: NDArray, dt: DType): NDArray {
  return a.dtype === dt ? a : make("cast", [a], {}, a.shape, dt);
}

/** Per-axis [before, after] padding (SPEC §3.1). */
function resolvePadding(
  op: string,
  padding: unknown,
  convention: unknown,
  S: number[],
  K: number[],
  stride: number[],
  dil: number[],
): [number, number][] {
  const r = S.length;
  if (convention !== undefined && convention !== "torch" && convention !== "tf") {
    throw new Error(`${op}: convention must be "torch" or "tf", got ${JSON.stringify(convention)}`);
  }
  if (padding === undefined || padding === "valid") return S.map(() => [0, 0]);
  if (padding === "same") {
    if ((convention ?? "torch") === "torch") {
      if (stride.some((s) => s !== 1)) {
        throw new Error(
          `${op}: padding "same" with convention "torch" requires stride 1, got stride [${stride}] (use convention "tf")`,
        );
      }
      return K.map((k, i) => {
        const total = dil[i] * (k - 1), pb = Math.floor(total / 2);
        return [pb, total - pb];
      });
    }
    return S.map((L, i) => {
      const out = Math.ceil(L / stride[i]);
      const total = Math.max((out - 1) * stride[i] + (K[i] - 1) * dil[i] + 1 - L, 0);
      const pb = Math.floor(total / 2);
      return [pb, total - pb];
    });
  }
  if (Array.isArray(padding) && padding.length === r && padding.every((p) => Array.isArray(p))) {
    const ok = padding.every((p) =>
      p.length === 2 && p.every((v: unknown) => Number.isInteger(v) && (v as number) >= 0)
    );
    if (!ok) {
      throw new Error(
        `${op}: padding pairs must be ${r} pairs of non-negative integers, got ${JSON.stringify(padding)}`,
      );
    }
    return padding.map((p) => [p[0], p[1]] as [number, number]);
  }
  if (typeof padding === "string") {
    throw new Error(`${op}: padding must be an int, a list of ints, "valid" or "same", got ${JSON.stringify(padding)}`);
  }
  return tuple(op, "padding", padding, r, 0).map((p) => [p, p] as [number, number]);
}

function outSizes(
  op: string,
  S: number[],
  K: number[],
  stride: number[],
  dil: number[],
  pads: [number, number][],
): number[] {
  return S.map((L, i) => {
    const span = L + pads[i][0] + pads[i][1] - dil[i] * (K[i] - 1) - 1;
    if (span < 0) {
      throw new Error(
        `${op}: kernel larger than padded input on spatial axis ${i}: padded size ${L + pads[i][0] + pads[i][1]}, ` +
          `dilated kernel ${dil[i] * (K[i] - 1) + 1}`,
      );
    }
    return Math.floor(span / stride[i]) + 1;
  });
}

function toFirst(x: NDArray, r: number): NDArray {
  return transpose(x, [0, r + 1, ...Array.from({ length: r }, (_, i) => i + 1)]);
}
function toLast(x: NDArray, r: number): NDArray {
  return transpose(x, [0, ...Array.from({ length: r }, (_, i) => i + 2), 1]);
}
/** [*K, A, B] -> [B, A, *K] */
function kernelLastToFirst(w: NDArray, r: number): NDArray {
  return transpose(w, [r + 1, r, ...Array.from({ length: r }, (_, i) => i)]);
}

function addBias(op: string, y: NDArray, bias: NDArray | undefined, C: number, r: number): NDArray {
  if (bias === undefined) return y;
  checkArray(op, "bias", bias);
  if (bias.ndim !== 1 || bias.shape[0] !== C) {
    throw new Error(`${op}: bias must have shape [${C}], got [${bias.shape}]`);
  }
  return add(y, reshape(castTo(bias, y.dtype), [C, ...Array(r).fill(1)]));
}

function checkRank(op: string, name: string, a: NDArray, rank: number, what: string): void {
  checkArray(op, name, a);
  if (a.ndim !== rank) throw new Error(`${op}: ${name} must be ${rank}-D ${what}, got shape [${a.shape}]`);
}

/** The NCHW core of conv1d/2d/3d; `x`, `w` already channels-first. */
function convCore(op: string, x: NDArray, w: NDArray, r: number, o: ConvOptions): NDArray {
  const [N, Cin] = x.shape, [Cout, Cig] = w.shape;
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  }
  if (Cin % groups !== 0 || Cout % groups !== 0) {
    throw new Error(
      `${op}: input channels ${Cin} and output channels ${Cout} must both be divisible by groups ${groups}`,
    );
  }
  if (Cig * groups !== Cin) {
    throw new Error(
      `${op}: weight must have Cin/groups = ${
        Cin / groups
      } input channels (axis 1), got ${Cig} (weight shape [${w.shape}])`,
    );
  }
  const S = x.shape.slice(2), K = w.shape.slice(2);
  const stride = tuple(op, "stride", o.stride ?? 1, r, 1);
  const dil = tuple(op, "dilation", o.dilation ?? 1, r, 1);
  const pads = resolvePadding(op, o.padding ?? 0, o.convention, S, K, stride, dil);
  const O = outSizes(op, S, K, stride, dil, pads);
  const dt = floatDType(op, [["x", x], ["weight", w]]);
  const geom: ConvGeometry = {
    inSize: S,
    kernel: K,
    outSize: O,
    stride,
    dilation: dil,
    padBefore: pads.map((p) => p[0]),
    groups,
    algorithm: checkAlgorithm(op, o.algorithm),
  };
  if (
    geom.algorithm === "winograd" &&
    !(r === 2 && K[0] === 3 && K[1] === 3 && stride.every((s) => s === 1))
  ) {
    throw new Error(
      `${op}: algorithm "winograd" supports only 2-D 3x3 kernels with stride 1, got kernel [${K}], stride [${stride}]`,
    );
  }
  const y = make("conv", [castTo(x, dt), castTo(w, dt)], geom, [N, Cout, ...O], dt);
  return addBias(op, y, o.bias, Cout, r);
}

function convN(op: string, r: number, x: NDArray, w: NDArray, o: ConvOptions): NDArray {
  const fmt = checkFormat(op, o.dataFormat);
  const lay = fmt === "NHWC"
    ? `[N, ${["L", "H, W", "D, H, W"][r - 1]}, C]`
    : `[N, C, ${["L", "H, W", "D, H, W"][r - 1]}]`;
  checkRank(op, "x", x, r + 2, lay);
  checkRank(op, "weight", w, r + 2, fmt === "NHWC" ? "[*K, Cin/G, Cout]" : "[Cout, Cin/G, *K]");
  if (fmt === "NHWC") return toLast(convCore(op, toFirst(x, r), kernelLastToFirst(w, r), r, o), r);
  return convCore(op, x, w, r, o);
}

/**
 * 1-D convolution (cross-correlation) of `x [N, Cin, L]` with `weight [Cout, Cin/G, k]`.
 *
 * @example
 * ```ts
 * import { conv1d, ones } from "./mod.ts";
 * const y = conv1d(ones([1, 2, 5]), ones([3, 2, 3]), { padding: 1 });
 * console.log(y.shape); // [1, 3, 5]
 * ```
 */
export function conv1d(x: NDArray, weight: NDArray, options: ConvOptions = {}): NDArray {
  return convN("conv1d", 1, x, weight, options);
}

/**
 * 2-D convolution of `x [N, Cin, H, W]` with `weight [Cout, Cin/G, kH, kW]`
 * (NHWC: `x [N, H, W, C]`, weight HWIO).
 *
 * @example
 * ```ts
 * import { conv2d, ones } from "./mod.ts";
 * const y = conv2d(ones([1, 3, 8, 8]), ones([4, 3, 3, 3]), { stride: 2, padding: "same", convention: "tf" });
 * console.log(y.shape); // [1, 4, 4, 4]
 * ```
 */
export function conv2d(x: NDArray, weight: NDArray, options: ConvOptions = {}): NDArray {
  return convN("conv2d", 2, x, weight, options);
}

/**
 * 3-D convolution of `x [N, Cin, D, H, W]` with `weight [Cout, Cin/G, kD, kH, kW]`.
 *
 * @example
 * ```ts
 * import { conv3d, ones } from "./mod.ts";
 * const y = conv3d(ones([1, 2, 4, 4, 4]), ones([2, 2, 3, 3, 3]));
 * console.log(y.shape); // [1, 2, 2, 2, 2]
 * ```
 */
export function conv3d(x: NDArray, weight: NDArray, options: ConvOptions = {}): NDArray {
  return convN("conv3d", 3, x, weight, options);
}

function convTransposeN(op: string, r: number, x: NDArray, w: NDArray, o: ConvTransposeOptions): NDArray {
  const fmt = checkFormat(op, o.dataFormat);
  checkRank(op, "x", x, r + 2, fmt === "NHWC" ? "[N, *S, C]" : "[N, C, *S]");
  checkRank(op, "weight", w, r + 2, fmt === "NHWC" ? "[*K, Cout/G, Cin]" : "[Cin, Cout/G, *K]");
  if (fmt === "NHWC") {
    return toLast(convTransposeN(op, r, toFirst(x, r), kernelLastToFirst(w, r), { ...o, dataFormat: "NCHW" }), r);
  }
  const [N, Cin] = x.shape, [WCin, Cog] = w.shape;
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  }
  if (WCin !== Cin) {
    throw new Error(
      `${op}: weight axis 0 must equal the input channels ${Cin}, got ${WCin} (weight shape [${w.shape}])`,
    );
  }
  if (Cin % groups !== 0) throw new Error(`${op}: input channels ${Cin} must be divisible by groups ${groups}`);
  const Cout = Cog * groups;
  const S = x.shape.slice(2), K = w.shape.slice(2);
  const stride = tuple(op, "stride", o.stride ?? 1, r, 1);
  const dil = tuple(op, "dilation", o.dilation ?? 1, r, 1);
  const pad = tuple(op, "padding", o.padding ?? 0, r, 0);
  const opad = tuple(op, "outputPadding", o.outputPadding ?? 0, r, 0);
  opad.forEach((p, i) => {
    if (p >= Math.max(stride[i], dil[i])) {
      throw new Error(
        `${op}: outputPadding must be smaller than max(stride, dilation) = ${
          Math.max(stride[i], dil[i])
        } on axis ${i}, got ${p}`,
      );
    }
  });
  if (o.algorithm === "winograd") {
    throw new Error(
      `${op}: algorithm "winograd" applies only to forward convolutions, got it for a transposed convolution`,
    );
  }
  const L = S.map((s, i) => (s - 1) * stride[i] - 2 * pad[i] + dil[i] * (K[i] - 1) + opad[i] + 1);
  if (L.some((l) => l < 1)) throw new Error(`${op}: output size must be positive, got [${L}]`);
  const dt = floatDType(op, [["x", x], ["weight", w]]);
  // The weight [Cin, Cout/G, *K] is the weight of the conv (Cout -> Cin) whose adjoint this is.
  const geom: ConvGeometry = {
    inSize: L,
    kernel: K,
    outSize: S,
    stride,
    dilation: dil,
    padBefore: pad,
    groups,
    algorithm: checkAlgorithm(op, o.algorithm),
  };
  const y = make("convGradInput", [castTo(x, dt), castTo(w, dt)], geom, [N, Cout, ...L], dt);
  return addBias(op, y, o.bias, Cout, r);
}

/**
 * 1-D transposed convolution: `x [N, Cin, L]`, `weight [Cin, Cout/G, k]` (IOHW).
 *
 * @example
 * ```ts
 * import { convTranspose1d, ones } from "./mod.ts";
 * console.log(convTranspose1d(ones([1, 2, 4]), ones([2, 3, 3]), { stride: 2 }).shape); // [1, 3, 9]
 * ```
 */
export function convTranspose1d(x: NDArray, weight: NDArray, options: ConvTransposeOptions = {}): NDArray {
  return convTransposeN("convTranspose1d", 1, x, weight, options);
}

/**
 * 2-D transposed convolution: `x [N, Cin, H, W]`, `weight [Cin, Cout/G, kH, kW]` (IOHW).
 *
 * @example
 * ```ts
 * import { convTranspose2d, ones } from "./mod.ts";
 * const y = convTranspose2d(ones([1, 2, 4, 4]), ones([2, 3, 3, 3]), { stride: 2, padding: 1, outputPadding: 1 });
 * console.log(y.shape); // [1, 3, 8, 8]
 * ```
 */
export function convTranspose2d(x: NDArray, weight: NDArray, options: ConvTransposeOptions = {}): NDArray {
  return convTransposeN("convTranspose2d", 2, x, weight, options);
}

/**
 * 3-D transposed convolution: `x [N, Cin, D, H, W]`, `weight [Cin, Cout/G, kD, kH, kW]`.
 *
 * @example
 * ```ts
 * import { convTranspose3d, ones } from "./mod.ts";
 * console.log(convTranspose3d(ones([1, 2, 2, 2, 2]), ones([2, 1, 2, 2, 2]), { stride: 2 }).shape); // [1, 1, 4, 4, 4]
 * ```
 */
export function convTranspose3d(x: NDArray, weight: NDArray, options: ConvTransposeOptions = {}): NDArray {
  return convTransposeN("convTranspose3d", 3, x, weight, options);
}

/** Depthwise weight to [C·m, 1, kH, kW] plus multiplier checks. */
function depthwiseWeight(op: string, name: string, w: NDArray, C: number, fmt: string, m?: number): NDArray {
  checkRank(op, name, w, 4, fmt === "NHWC" ? "[kH, kW, C, m]" : "[C·m, 1, kH, kW]");
  let wf = w;
  if (fmt === "NHWC") {
    const [kH, kW, wc, wm] = w.shape;
    if (wc !== C) throw new Error(`${op}: ${name} axis 2 must equal the input channels ${C}, got ${wc}`);
    wf = reshape(transpose(w, [2, 3, 0, 1]), [C * wm, 1, kH, kW]);
  } else {
    if (w.shape[1] !== 1 || w.shape[0] % C !== 0) {
      throw new Error(`${op}: ${name} must have shape [C·m, 1, kH, kW] with C = ${C}, got [${w.shape}]`);
    }
  }
  const mult = wf.shape[0] / C;
  if (m !== undefined && m !== mult) {
    throw new Error(`${op}: depthMultiplier ${m} disagrees with ${name} shape [${w.shape}] (multiplier ${mult})`);
  }
  return wf;
}

/**
 * Depthwise 2-D convolution (= conv2d with groups = C): output channel `c·m + j`
 * comes from input channel `c`.
 *
 * @example
 * ```ts
 * import { depthwiseConv2d, ones } from "./mod.ts";
 * console.log(depthwiseConv2d(ones([1, 3, 5, 5]), ones([6, 1, 3, 3]), { padding: 1 }).shape); // [1, 6, 5, 5]
 * ```
 */
export function depthwiseConv2d(x: NDArray, weight: NDArray, options: DepthwiseConvOptions = {}): NDArray {
  const op = "depthwiseConv2d";
  const fmt = checkFormat(op, options.dataFormat);
  checkRank(op, "x", x, 4, fmt === "NHWC" ? "[N, H, W, C]" : "[N, C, H, W]");
  const xf = fmt === "NHWC" ? toFirst(x, 2) : x;
  const C = xf.shape[1];
  const wf = depthwiseWeight(op, "weight", weight, C, fmt, options.depthMultiplier);
  const { depthMultiplier: _m, dataFormat: _f, ...rest } = options;
  const y = convCore(op, xf, wf, 2, { ...rest, groups: C });
  return fmt === "NHWC" ? toLast(y, 2) : y;
}

/**
 * Separable 2-D convolution: depthwise (stride, padding, dilation) then a 1×1
 * pointwise conv; the only bias is after the pointwise step.
 *
 * @example
 * ```ts
 * import { separableConv2d, ones } from "./mod.ts";
 * const y = separableConv2d(ones([1, 3, 6, 6]), ones([3, 1, 3, 3]), ones([5, 3, 1, 1]), { padding: 1 });
 * console.log(y.shape); // [1, 5, 6, 6]
 * ```
 */
export function separableConv2d(
  x: NDArray,
  depthwiseWeight_: NDArray,
  pointwiseWeight: NDArray,
  options: DepthwiseConvOptions = {},
): NDArray {
  const op = "separableConv2d";
  const fmt = checkFormat(op, options.dataFormat);
  checkRank(op, "x", x, 4, fmt === "NHWC" ? "[N, H, W, C]" : "[N, C, H, W]");
  const xf = fmt === "NHWC" ? toFirst(x, 2) : x;
  const C = xf.shape[1];
  const dw = depthwiseWeight(op, "depthwiseWeight", depthwiseWeight_, C, fmt, options.depthMultiplier);
  checkRank(op, "pointwiseWeight", pointwiseWeight, 4, fmt === "NHWC" ? "[1, 1, C·m, Cout]" : "[Cout, C·m, 1, 1]");
  const pw = fmt === "NHWC" ? transpose(pointwiseWeight, [3, 2, 0, 1]) : pointwiseWeight;
  if (pw.shape[1] !== dw.shape[0] || pw.shape[2] !== 1 || pw.shape[3] !== 1) {
    throw new Error(
      `${op}: pointwiseWeight must have shape [Cout, ${dw.shape[0]}, 1, 1] (NCHW form), got [${pw.shape}]`,
    );
  }
  const { bias, depthMultiplier: _m, dataFormat: _f, ...rest } = options;
  const mid = convCore(op, xf, dw, 2, { ...rest, groups: C });
  const y = convCore(op, mid, pw, 2, { bias, algorithm: options.algorithm });
  return fmt === "NHWC" ? toLast(y, 2) : y;
}

/**
 * Spatially separable 2-D convolution (helper, not in PyTorch): a `kH×1`
 * convolution with `verticalWeight [Cmid, Cin/G, kH, 1]` followed by a `1×kW`
 * convolution with `horizontalWeight [Cout, Cmid/G, 1, kW]`. `stride`,
 * `padding` and `dilation` are split per axis between the two steps (height
 * options on the first, width options on the second); `groups` applies to
 * both; `bias` is added after the second. NCHW only.
 *
 * @example
 * ```ts
 * import { spatiallySeparableConv2d, ones } from "./mod.ts";
 * const y = spatiallySeparableConv2d(ones([1, 2, 6, 6]), ones([4, 2, 3, 1]), ones([3, 4, 1, 3]), { padding: 1 });
 * console.log(y.shape); // [1, 3, 6, 6]
 * ```
 */
export function spatiallySeparableConv2d(
  x: NDArray,
  verticalWeight: NDArray,
  horizontalWeight: NDArray,
  options: ConvOptions = {},
): NDArray {
  const op = "spatiallySeparableConv2d";
  if (options.dataFormat !== undefined && options.dataFormat !== "NCHW") {
    throw new Error(`${op}: dataFormat must be "NCHW", got ${JSON.stringify(options.dataFormat)}`);
  }
  checkRank(op, "x", x, 4, "[N, C, H, W]");
  checkRank(op, "verticalWeight", verticalWeight, 4, "[Cmid, Cin/G, kH, 1]");
  checkRank(op, "horizontalWeight", horizontalWeight, 4, "[Cout, Cmid/G, 1, kW]");
  if (verticalWeight.shape[3] !== 1 || horizontalWeight.shape[2] !== 1) {
    throw new Error(
      `${op}: verticalWeight must be [Cmid, Cin/G, kH, 1] and horizontalWeight [Cout, Cmid/G, 1, kW], got [${verticalWeight.shape}] and [${horizontalWeight.shape}]`,
    );
  }
  const K = [verticalWeight.shape[2], horizontalWeight.shape[3]];
  const stride = tuple(op, "stride", options.stride ?? 1, 2, 1);
  const dil = tuple(op, "dilation", options.dilation ?? 1, 2, 1);
  const pads = resolvePadding(op, options.padding ?? 0, options.convention, x.shape.slice(2), K, stride, dil);
  const base = { groups: options.groups, algorithm: options.algorithm };
  const mid = convCore(op, x, verticalWeight, 2, {
    ...base,
    stride: [stride[0], 1],
    dilation: [dil[0], 1],
    padding: [pads[0], [0, 0]],
  });
  return convCore(op, mid, horizontalWeight, 2, {
    ...base,
    bias: options.bias,
    stride: [1, stride[1]],
    dilation: [1, dil[1]],
    padding: [[0, 0], pads[1]],
  });
}

// ------------------------------------------------------------------ deformable

/** Options of `deformConv2d`. */
export interface DeformConvOptions {
  /** modulation mask `[N, Goff·kH·kW, Ho, Wo]` (DCNv2); absent ⇒ DCNv1 */
  mask?: NDArray;
  /** optional bias `[Cout]` */
  bias?: NDArray;
  /** stride, one int or `[h, w]` (default 1) */
  stride?: number | number[];
  /** zero padding, one int or `[h, w]` (default 0) */
  padding?: number | number[];
  /** dilation, one int or `[h, w]` (default 1) */
  dilation?: number | number[];
  /** weight groups; default `C / weight.shape[1]`, must agree if given */
  groups?: number;
  /** offset groups; default `offset.shape[1] / (2·kH·kW)`, must agree if given */
  offsetGroups?: number;
  /** channels-first (default) or channels-last layout (SPEC §1) */
  dataFormat?: "NCHW" | "NHWC";
}

/**
 * Deformable 2-D convolution (torchvision `deform_conv2d`, DCN v1 / v2): each
 * kernel tap samples `x` bilinearly (zero padding) at its regular position
 * plus a learned `offset` (interleaved `(dy, dx)` pairs per tap), optionally
 * scaled by `mask`. Built from differentiable gathers, so all inputs have
 * gradients (offset gradients use `⌊y⌋` corners, the SPEC convention).
 *
 * @example
 * ```ts
 * import { deformConv2d, ones, zeros } from "./mod.ts";
 * const y = deformConv2d(ones([1, 2, 5, 5]), zeros([1, 18, 5, 5]), ones([3, 2, 3, 3]), { padding: 1 });
 * console.log(y.shape); // [1, 3, 5, 5]
 * ```
 */
export function deformConv2d(x: NDArray, offset: NDArray, weight: NDArray, options: DeformConvOptions = {}): NDArray {
  const op = "deformConv2d";
  const fmt = checkFormat(op, options.dataFormat);
  checkRank(op, "x", x, 4, fmt === "NHWC" ? "[N, H, W, C]" : "[N, C, H, W]");
  checkRank(op, "offset", offset, 4, fmt === "NHWC" ? "[N, Ho, Wo, 2·Goff·kH·kW]" : "[N, 2·Goff·kH·kW, Ho, Wo]");
  checkRank(op, "weight", weight, 4, fmt === "NHWC" ? "[kH, kW, C/G, Cout]" : "[Cout, C/G, kH, kW]");
  if (fmt === "NHWC") {
    const mask = options.mask === undefined ? undefined : toFirst(checkArray(op, "mask", options.mask), 2);
    const y = deformConv2d(toFirst(x, 2), toFirst(offset, 2), kernelLastToFirst(weight, 2), {
      ...options,
      mask,
      dataFormat: "NCHW",
    });
    return toLast(y, 2);
  }
  const [N, C, H, W] = x.shape, [Cout, Cig, kH, kW] = weight.shape;
  const KK = kH * kW;
  if (Cig < 1 || C % Cig !== 0) {
    throw new Error(`${op}: weight axis 1 (C/G) must divide the input channels ${C}, got ${Cig}`);
  }
  const G = C / Cig;
  if (options.groups !== undefined && options.groups !== G) {
    throw new Error(`${op}: groups ${options.groups} disagrees with the shapes (C / weight.shape[1] = ${G})`);
  }
  if (Cout % G !== 0) throw new Error(`${op}: output channels ${Cout} must be divisible by groups ${G}`);
  const stride = tuple(op, "stride", options.stride ?? 1, 2, 1);
  const dil = tuple(op, "dilation", options.dilation ?? 1, 2, 1);
  const pad = tuple(op, "padding", options.padding ?? 0, 2, 0);
  const [Ho, Wo] = outSizes(op, [H, W], [kH, kW], stride, dil, pad.map((p) => [p, p]));
  if (offset.shape[0] !== N || offset.shape[1] % (2 * KK) !== 0 || offset.shape[2] !== Ho || offset.shape[3] !== Wo) {
    throw new Error(`${op}: offset must have shape [${N}, 2·Goff·${KK}, ${Ho}, ${Wo}], got [${offset.shape}]`);
  }
  const Goff = offset.shape[1] / (2 * KK);
  if (options.offsetGroups !== undefined && options.offsetGroups !== Goff) {
    throw new Error(
      `${op}: offsetGroups ${options.offsetGroups} disagrees with offset shape [${offset.shape}] (${Goff})`,
    );
  }
  if (C % Goff !== 0) throw new Error(`${op}: input channels ${C} must be divisible by offsetGroups ${Goff}`);
  const mask = options.mask;
  if (mask !== undefined) {
    checkArray(op, "mask", mask);
    const e = [N, Goff * KK, Ho, Wo];
    if (JSON.stringify(mask.shape) !== JSON.stringify(e)) {
      throw new Error(`${op}: mask must have shape [${e}], got [${mask.shape}]`);
    }
  }
  const named: [string, NDArray][] = [["x", x], ["offset", offset], ["weight", weight]];
  if (mask) named.push(["mask", mask]);
  const dt = floatDType(op, named);
  const L = Ho * Wo, P = KK * L;
  // regular sampling positions per (tap, ho, wo)
  const by = new Float64Array(P), bx = new Float64Array(P);
  for (let i = 0; i < kH; i++) {
    for (let j = 0; j < kW; j++) {
      for (let ho = 0; ho < Ho; ho++) {
        for (let wo = 0; wo < Wo; wo++) {
          const k = ((i * kW + j) * Ho + ho) * Wo + wo;
          by[k] = ho * stride[0] - pad[0] + i * dil[0];
          bx[k] = wo * stride[1] - pad[1] + j * dil[1];
        }
      }
    }
  }
  const off = reshape(castTo(offset, dt), [N, Goff, KK, 2, L]);
  const py = add(reshape(take(off, [0], 3), [N, Goff, P]), array(by, { shape: [P], dtype: dt }));
  const px = add(reshape(take(off, [1], 3), [N, Goff, P]), array(bx, { shape: [P], dtype: dt }));
  const y0 = stopGradient(floor(py)), x0 = stopGradient(floor(px));
  const ly = sub(py, y0), lx = sub(px, x0);
  const xg = reshape(castTo(x, dt), [N, Goff, C / Goff, H * W]);
  let val: NDArray | null = null;
  for (const a of [0, 1]) {
    for (const b of [0, 1]) {
      const yy = a ? add(y0, 1) : y0, xx = b ? add(x0, 1) : x0;
      const valid = logicalAnd(
        logicalAnd(greaterEqual(yy, 0), less(yy, H)),
        logicalAnd(greaterEqual(xx, 0), less(xx, W)),
      );
      const wgt = mul(mul(a ? ly : sub(1, ly), b ? lx : sub(1, lx)), castOp(valid, dt));
      const idx = castOp(add(mul(clip(yy, 0, H - 1), W), clip(xx, 0, W - 1)), "int32");
      const g = takeAlongAxis(xg, reshape(idx, [N, Goff, 1, P]), 3);
      const term = mul(g, reshape(wgt, [N, Goff, 1, P]));
      val = val === null ? term : add(val, term);
    }
  }
  let cols = val!;
  if (mask) cols = mul(cols, reshape(castTo(mask, dt), [N, Goff, 1, P]));
  // [N, C, KK, L] -> [N, G, Cig·KK, L]; weight [Cout, Cig, kH, kW] -> [G, Cout/G, Cig·KK]
  const colsG = reshape(cols, [N, G, Cig * KK, L]);
  const wG = reshape(castTo(weight, dt), [G, Cout / G, Cig * KK]);
  const y = reshape(matmul(wG, colsG), [N, Cout, Ho, Wo]);
  return addBias(op, y, options.bias, Cout, 2);
}

// ------------------------------------------------------------------ unfold / fold

function unfoldGeometry(op: string, o: UnfoldOptions, S: number[]): { K: number[]; geom: ConvGeometry } {
  if (o === undefined || o.kernelSize === undefined) throw new Error(`${op}: options.kernelSize is required`);
  const K = tuple(op, "kernelSize", o.kernelSize, 2, 1);
  const stride = tuple(op, "stride", o.stride ?? 1, 2, 1);
  const dil = tuple(op, "dilation", o.dilation ?? 1, 2, 1);
  const pad = tuple(op, "padding", o.padding ?? 0, 2, 0);
  const O = outSizes(op, S, K, stride, dil, pad.map((p) => [p, p]));
  return {
    K,
    geom: { inSize: S, kernel: K, outSize: O, stride, dilation: dil, padBefore: pad, groups: 1, algorithm: "auto" },
  };
}

/** One-hot weight [C·kk, 1, kH, kW]: filter c·kk + t picks tap t. */
function identityWeight(C: number, K: number[], dt: DType): NDArray {
  const kk = K[0] * K[1];
  const data = new Float64Array(C * kk * kk);
  for (let c = 0; c < C; c++) for (let t = 0; t < kk; t++) data[(c * kk + t) * kk + t] = 1;
  return array(data, { shape: [C * kk, 1, K[0], K[1]], dtype: dt });
}

/**
 * Extract sliding local blocks (im2col, `F.unfold`): `x [N, C, H, W]` →
 * `[N, C·kH·kW, L]`.
 *
 * @example
 * ```ts
 * import { unfold, arange, reshape } from "./mod.ts";
 * const x = reshape(arange(16), [1, 1, 4, 4]);
 * console.log(unfold(x, { kernelSize: 2, stride: 2 }).shape); // [1, 4, 4]
 * ```
 */
export function unfold(x: NDArray, options: UnfoldOptions): NDArray {
  const op = "unfold";
  checkRank(op, "x", x, 4, "[N, C, H, W]");
  const [N, C, H, W] = x.shape;
  const { K, geom } = unfoldGeometry(op, options, [H, W]);
  const dt = floatDType(op, [["x", x]]);
  const kk = K[0] * K[1];
  const y = make("conv", [x, identityWeight(C, K, dt)], { ...geom, groups: C }, [N, C * kk, ...geom.outSize], dt);
  return reshape(y, [N, C * kk, geom.outSize[0] * geom.outSize[1]]);
}

/**
 * Combine sliding local blocks into a tensor (col2im, `F.fold`), summing
 * overlaps: `x [N, C·kH·kW, L]` → `[N, C, H, W]`. The exact adjoint of `unfold`.
 *
 * @example
 * ```ts
 * import { fold, unfold, ones } from "./mod.ts";
 * const cols = unfold(ones([1, 1, 3, 3]), { kernelSize: 2 });
 * console.log(fold(cols, { outputSize: [3, 3], kernelSize: 2 }).toArray()); // [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
 * ```
 */
export function fold(x: NDArray, options: FoldOptions): NDArray {
  const op = "fold";
  checkRank(op, "x", x, 3, "[N, C·kH·kW, L]");
  if (options === undefined || options.outputSize === undefined) {
    throw new Error(`${op}: options.outputSize is required`);
  }
  const S = tuple(op, "outputSize", options.outputSize, 2, 1);
  const { K, geom } = unfoldGeometry(op, options, S);
  const [N, CK, L] = x.shape;
  const kk = K[0] * K[1];
  if (CK % kk !== 0) {
    throw new Error(`${op}: x axis 1 must be divisible by kH·kW = ${kk}, got ${CK} (x shape [${x.shape}])`);
  }
  const Lexp = geom.outSize[0] * geom.outSize[1];
  if (L !== Lexp) {
    throw new Error(`${op}: x axis 2 must equal the number of blocks ${Lexp} (${geom.outSize.join("×")}), got ${L}`);
  }
  const C = CK / kk;
  const dt = floatDType(op, [["x", x]]);
  const g = reshape(x, [N, CK, ...geom.outSize]);
  return make("convGradInput", [g, identityWeight(C, K, dt)], { ...geom, groups: C }, [N, C, ...S], dt);
}

// ------------------------------------------------------------------ sizes

/**
 * Output length of a convolution/unfold/floor-mode pool along one axis (SPEC §3).
 *
 * @example
 * ```ts
 * import { convOutputSize } from "./mod.ts";
 * console.log(convOutputSize(32, 3, { stride: 2, padding: 1 })); // 16
 * ```
 */
export function convOutputSize(
  inputSize: number,
  kernelSize: number,
  options: { stride?: number; padding?: number | [number, number]; dilation?: number } = {},
): number {
  const s = options.stride ?? 1, d = options.dilation ?? 1, p = options.padding ?? 0;
  const [pb, pa] = typeof p === "number" ? [p, p] : p;
  return Math.floor((inputSize + pb + pa - d * (kernelSize - 1) - 1) / s) + 1;
}

/**
 * Output length of a transposed convolution along one axis.
 *
 * @example
 * ```ts
 * import { convTransposeOutputSize } from "./mod.ts";
 * console.log(convTransposeOutputSize(16, 3, { stride: 2, padding: 1, outputPadding: 1 })); // 32
 * ```
 */
export function convTransposeOutputSize(
  inputSize: number,
  kernelSize: number,
  options: { stride?: number; padding?: number; dilation?: number; outputPadding?: number } = {},
): number {
  const s = options.stride ?? 1, d = options.dilation ?? 1, p = options.padding ?? 0, op = options.outputPadding ?? 0;
  return (inputSize - 1) * s - 2 * p + d * (kernelSize - 1) + op + 1;
}
