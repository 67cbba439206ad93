/**
 * Testing helpers: {@linkcode assertClose} compares arrays elementwise with
 * NumPy `allclose` tolerances and names the worst element; {@linkcode checkGrad}
 * checks a function's reverse-mode gradient against float64 central
 * differences.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * import { assertClose, checkGrad } from "./testing.ts";
 * assertClose(ts.array([1, 2]).mul(3), [3, 6]);
 * checkGrad((x) => x.tanh().mul(x).sum(), [ts.array([0.5, -1, 2])]);
 * ```
 *
 * @module
 */
import { NDArray, type NestedArray, type TypedArray } from "./mod.ts";
import { array } from "./creation.ts";
import { vjp } from "./grad.ts";
import { foldIn, key, normal } from "./random.ts";

/** What {@linkcode assertClose} accepts: an array, a (nested) JS array or number, or a typed array. */
export type ArrayInput = NDArray | NestedArray | TypedArray;

/** Options of {@linkcode assertClose}. */
export interface CloseOptions {
  /** relative tolerance (default 1e-5) */
  rtol?: number;
  /** absolute tolerance (default 1e-8) */
  atol?: number;
  /** whether NaN equals NaN (default true) */
  equalNan?: boolean;
  /** prefix for the error message */
  message?: string;
}

interface Flat {
  values: ArrayLike<number>;
  shape: number[] | null; // null: a flat typed array, shape taken from the other side
}

function isTyped(x: unknown): x is TypedArray {
  return x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array || x instanceof Uint8Array;
}

function flatten(name: string, x: ArrayInput): Flat {
  if (x instanceof NDArray) return { values: x.dataSync(), shape: x.shape };
  if (isTyped(x)) return { values: x, shape: null };
  if (typeof x === "number" || typeof x === "boolean") return { values: [Number(x)], shape: [] };
  if (!Array.isArray(x)) {
    throw new TypeError(`assertClose: ${name} must be an NDArray, a JS array, a number or a typed array`);
  }
  const shape: number[] = [];
  for (let v: NestedArray = x; Array.isArray(v); v = v[0]) shape.push(v.length);
  const values: number[] = [];
  const visit = (v: NestedArray, depth: number) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new Error(`assertClose: ${name} is a ragged nested array`);
      values.push(Number(v));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new Error(`assertClose: ${name} is a ragged nested array`);
    }
    for (const e of v) visit(e, depth + 1);
  };
  visit(x, 0);
  return { values, shape };
}

function multiIndex(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = flat % shape[k];
    flat = Math.floor(flat / shape[k]);
  }
  return idx;
}

function fmt(v: number): string {
  return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : v.toPrecision(8).replace(/\.?0+(e|$)/, "$1");
}

/**
 * Throw unless `actual` and `expected` have the same shape and every element
 * satisfies `|actual - expected| <= atol + rtol * |expected|` (NumPy
 * `allclose`). A scalar `expected` broadcasts; a flat typed array matches any
 * shape of the same size. The error names the worst element, its
 * (multi-)index, both values and how many elements differ.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * import { assertClose } from "./testing.ts";
 * assertClose(ts.array([[1, 2], [3, 4]]).div(3), [[1 / 3, 2 / 3], [1, 4 / 3]]);
 * try {
 *   assertClose([1, 2, 3], [1, 2, 3.1]);
 * } catch (e) {
 *   console.log((e as Error).message.includes("index [2]")); // true
 * }
 * ```
 */
export function assertClose(actual: ArrayInput, expected: ArrayInput, options: CloseOptions = {}): void {
  const rtol = options.rtol ?? 1e-5, atol = options.atol ?? 1e-8, equalNan = options.equalNan ?? true;
  const prefix = options.message ? `${options.message}: ` : "";
  const a = flatten("actual", actual), e = flatten("expected", expected);
  const scalarExpected = e.shape !== null && e.shape.length === 0 && a.values.length !== 1;
  const shape = a.shape ?? e.shape ?? [a.values.length];
  if (scalarExpected) {
    // broadcast below
  } else if (a.shape && e.shape) {
    if (a.shape.join() !== e.shape.join()) {
      throw new Error(
        `${prefix}assertClose: shape mismatch: actual [${a.shape.join(", ")}], expected [${e.shape.join(", ")}]`,
      );
    }
  } else if (a.values.length !== e.values.length) {
    throw new Error(
      `${prefix}assertClose: size mismatch: actual has ${a.values.length} elements, expected ${e.values.length}`,
    );
  }
  let bad = 0, worst = -1, worstScore = -Infinity;
  const n = a.values.length;
  for (let i = 0; i < n; i++) {
    const x = Number(a.values[i]), y = Number(scalarExpected ? e.values[0] : e.values[i]);
    let score: number;
    if (Number.isNaN(x) || Number.isNaN(y)) score = Number.isNaN(x) && Number.isNaN(y) && equalNan ? -1 : Infinity;
    else if (x === y) score = -1; // equal, including infinities
    else if (!Number.isFinite(x) || !Number.isFinite(y)) score = Infinity;
    else score = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (score > 0) {
      bad++;
      if (score > worstScore) worstScore = score, worst = i;
    }
  }
  if (bad === 0) return;
  const x = Number(a.values[worst]), y = Number(scalarExpected ? e.values[0] : e.values[worst]);
  const tol = atol + rtol * Math.abs(y);
  throw new Error(
    `${prefix}assertClose: ${bad} of ${n} elements are not close (rtol=${rtol}, atol=${atol}); ` +
      `worst at index [${multiIndex(worst, shape).join(", ")}]: actual ${fmt(x)}, expected ${fmt(y)} ` +
      `(|diff| ${fmt(Math.abs(x - y))} > tolerance ${fmt(tol)})`,
  );
}

/** Options of {@linkcode checkGrad}. */
export interface CheckGradOptions {
  /** finite-difference step, scaled by `max(1, |x|)` (default 1e-6) */
  eps?: number;
  /** relative tolerance (default 1e-5) */
  rtol?: number;
  /** absolute tolerance (default 1e-8) */
  atol?: number;
  /** random directions per input too large for the per-element check (default 3) */
  directions?: number;
  /** inputs with at most this many elements are checked element by element (default 64) */
  perElementLimit?: number;
  /** seed of the random cotangent and directions (default 0) */
  seed?: number;
}

/**
 * Check the reverse-mode gradient of `f` (one NDArray out) at `inputs`
 * against float64 central differences. Inputs are cast to float64. With a
 * random cotangent `c`, the scalar `φ(x) = Σ f(x) · c` is differentiated two
 * ways: the VJP of `f` (from {@linkcode vjp}) against
 * `(φ(x + h e) - φ(x - h e)) / 2h`, per element `e` for inputs of at most
 * `perElementLimit` elements and along `directions` random normal directions
 * for larger ones (`h = eps · max(1, |x|)`). A pair passes when
 * `|fd - vjp| <= atol + rtol · max(|fd|, |vjp|)` plus the float64 rounding
 * noise of the difference quotient. Throws naming the input, the worst
 * element (or direction) and both values.
 *
 * @example
 * ```ts
 * import * as ts from "../mod.ts";
 * import { checkGrad } from "./testing.ts";
 * const w = ts.array([[1, 2], [3, 4]]), x = ts.array([0.5, -0.5]);
 * checkGrad((w, x) => ts.matmul(w, x.reshape([2, 1])).tanh(), [w, x]);
 * ```
 */
export function checkGrad(
  f: (...inputs: NDArray[]) => NDArray,
  inputs: NDArray[],
  options: CheckGradOptions = {},
): void {
  const eps = options.eps ?? 1e-6, rtol = options.rtol ?? 1e-5, atol = options.atol ?? 1e-8;
  const directions = options.directions ?? 3, limit = options.perElementLimit ?? 64;
  const root = key(options.seed ?? 0);
  if (typeof f !== "function") throw new TypeError("checkGrad: f must be a function");
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new TypeError("checkGrad: inputs must be a non-empty array of NDArrays");
  }
  const base = inputs.map((x, i) => {
    if (!(x instanceof NDArray)) throw new TypeError(`checkGrad: input ${i} must be an NDArray`);
    return Float64Array.from(x.dataSync() as ArrayLike<number>);
  });
  const shapes = inputs.map((x) => x.shape);
  const make = (i: number, v: Float64Array) => array(v, { shape: shapes[i], dtype: "float64" });
  const xs = base.map((v, i) => make(i, v));

  const call = (args: NDArray[]): NDArray => {
    const out = f(...args);
    if (!(out instanceof NDArray)) throw new TypeError("checkGrad: f must return one NDArray");
    if (out.dtype !== "float32" && out.dtype !== "float64") {
      throw new TypeError(`checkGrad: f must return a float array, got dtype ${out.dtype}`);
    }
    return out;
  };
  const [out, pullback] = vjp((...args: NDArray[]) => call(args), ...xs);
  const cot = normal(foldIn(root, 0), out.shape, { dtype: "float64" });
  const c = cot.dataSync();
  const grads = (pullback(cot) as (NDArray | null | undefined)[]).map((g, i) => {
    if (!g) return new Float64Array(base[i].length);
    if (g.shape.join() !== shapes[i].join()) {
      throw new Error(
        `checkGrad: the gradient of input ${i} has shape [${g.shape.join(", ")}], expected [${shapes[i].join(", ")}]`,
      );
    }
    return g.dataSync();
  });

  // φ and the magnitude of its terms (for the rounding noise of the quotient)
  const phi = (i: number, v: Float64Array): [number, number] => {
    const args = xs.slice();
    args[i] = make(i, v);
    const o = call(args).dataSync();
    let s = 0, m = 0;
    for (let k = 0; k < o.length; k++) s += o[k] * c[k], m += Math.abs(o[k] * c[k]);
    return [s, m];
  };
  const quotient = (i: number, dir: (v: Float64Array, h: number) => void, h: number): [number, number] => {
    const plus = base[i].slice(), minus = base[i].slice();
    dir(plus, h), dir(minus, -h);
    const [sp, mp] = phi(i, plus), [sm, mm] = phi(i, minus);
    const noise = 16 * Number.EPSILON * (mp + mm) / (2 * h);
    return [(sp - sm) / (2 * h), noise];
  };
  const describeInput = (i: number) => `input ${i} (shape [${shapes[i].join(", ")}])`;

  base.forEach((x, i) => {
    const g = grads[i];
    for (let j = 0; j < g.length; j++) {
      if (Number.isNaN(g[j])) {
        throw new Error(
          `checkGrad: ${describeInput(i)}: the gradient has NaN at index [${multiIndex(j, shapes[i]).join(", ")}]`,
        );
      }
    }
    if (x.length <= limit) {
      let worst = -1, worstScore = 0, worstFd = 0, worstTol = 0;
      for (let j = 0; j < x.length; j++) {
        const h = eps * Math.max(1, Math.abs(x[j]));
        const [fd, noise] = quotient(i, (v, d) => (v[j] += d), h);
        const tol = atol + rtol * Math.max(Math.abs(fd), Math.abs(g[j])) + noise;
        const score = Number.isNaN(fd) ? 0 : Math.abs(fd - g[j]) / tol;
        if (score > 1 && score > worstScore) worst = j, worstScore = score, worstFd = fd, worstTol = tol;
      }
      if (worst >= 0) {
        throw new Error(
          `checkGrad: ${describeInput(i)}: gradient mismatch, worst at index [${
            multiIndex(worst, shapes[i]).join(", ")
          }]: ` +
            `vjp ${fmt(g[worst])}, finite difference ${fmt(worstFd)} ` +
            `(|diff| ${fmt(Math.abs(worstFd - g[worst]))} > tolerance ${fmt(worstTol)}; x = ${fmt(x[worst])})`,
        );
      }
      return;
    }
    let xmax = 1;
    for (let j = 0; j < x.length; j++) xmax = Math.max(xmax, Math.abs(x[j]));
    for (let r = 0; r < directions; r++) {
      const d = normal(foldIn(root, 1 + i * 1000 + r), [x.length], { dtype: "float64" }).dataSync();
      let ana = 0;
      for (let j = 0; j < x.length; j++) ana += g[j] * d[j];
      const [fd, noise] = quotient(i, (v, s) => {
        for (let j = 0; j < v.length; j++) v[j] += s * d[j];
      }, eps * xmax);
      const tol = atol + rtol * Math.max(Math.abs(fd), Math.abs(ana)) + noise;
      if (!(Math.abs(fd - ana) <= tol)) {
        throw new Error(
          `checkGrad: ${describeInput(i)}: directional derivative along random direction ${r} differs: ` +
            `vjp ${fmt(ana)}, finite difference ${fmt(fd)} (|diff| ${fmt(Math.abs(fd - ana))} > tolerance ${
              fmt(tol)
            }); ` +
            `raise perElementLimit to ${x.length} to locate the element`,
        );
      }
    }
  });
}
