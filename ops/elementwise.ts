// Elementwise ops with NumPy broadcasting and promotion. Most are one
// primitive; activations compose primitives so their gradients come free.
import type { DType } from "./_dtype.ts";
import { checkDType } from "./_dtype.ts";
import {
  asArray,
  binary,
  broadcastShapes,
  cast as castPrim,
  checkArray,
  describe,
  isFloat,
  make,
  NDArray,
  type Operand,
  resultDType,
  unary,
} from "./_prim.ts";

export type { Operand };

function floatArg(op: string, x: NDArray): NDArray {
  checkArray(op, "x", x);
  return isFloat(x.dtype) ? x : castPrim(x, "float32");
}

function numArg(op: string, x: NDArray): NDArray {
  checkArray(op, "x", x);
  return x.dtype === "bool" ? castPrim(x, "int32") : x;
}

/**
 * `x + y` elementwise with broadcasting.
 *
 * @example
 * ```ts
 * import { array, add } from "./mod.ts";
 * add(array([1, 2]), 3); // [4, 5]
 * ```
 */
export function add(x: Operand, y: Operand): NDArray {
  return binary("add", "add", x, y, "arith");
}

/**
 * `x - y` elementwise with broadcasting.
 *
 * @example
 * ```ts
 * import { array, sub } from "./mod.ts";
 * sub(array([1, 2]), 1); // [0, 1]
 * ```
 */
export function sub(x: Operand, y: Operand): NDArray {
  return binary("sub", "sub", x, y, "arith");
}

/**
 * `x * y` elementwise with broadcasting.
 *
 * @example
 * ```ts
 * import { array, mul } from "./mod.ts";
 * mul(array([1, 2]), array([[3], [4]])); // [[3, 6], [4, 8]]
 * ```
 */
export function mul(x: Operand, y: Operand): NDArray {
  return binary("mul", "mul", x, y, "arith");
}

/**
 * `x / y` (true division; integer inputs give float32).
 *
 * @example
 * ```ts
 * import { array, div } from "./mod.ts";
 * div(array([1, 2]), 4); // [0.25, 0.5]
 * ```
 */
export function div(x: Operand, y: Operand): NDArray {
  return binary("div", "div", x, y, "float");
}

/**
 * `x ** y` elementwise.
 *
 * @example
 * ```ts
 * import { array, pow } from "./mod.ts";
 * pow(array([2, 3]), 2); // [4, 9]
 * ```
 */
export function pow(x: Operand, y: Operand): NDArray {
  return binary("pow", "pow", x, y, "arith");
}

/**
 * Floor division `⌊x / y⌋` (integer division by zero throws).
 *
 * @example
 * ```ts
 * import { array, floorDiv } from "./mod.ts";
 * floorDiv(array([7, -7], { dtype: "int32" }), 2); // [3, -4]
 * ```
 */
export function floorDiv(x: Operand, y: Operand): NDArray {
  return binary("floorDiv", "idiv", x, y, "arith");
}

/**
 * Remainder with the sign of the divisor (Python `%`).
 *
 * @example
 * ```ts
 * import { array, mod } from "./mod.ts";
 * mod(array([7, -7], { dtype: "int32" }), 3); // [1, 2]
 * ```
 */
export function mod(x: Operand, y: Operand): NDArray {
  return binary("mod", "mod", x, y, "arith");
}

/**
 * Elementwise maximum; NaN propagates.
 *
 * @example
 * ```ts
 * import { array, maximum } from "./mod.ts";
 * maximum(array([1, 5]), 3); // [3, 5]
 * ```
 */
export function maximum(x: Operand, y: Operand): NDArray {
  return binary("maximum", "maximum", x, y, "arith");
}

/**
 * Elementwise minimum; NaN propagates.
 *
 * @example
 * ```ts
 * import { array, minimum } from "./mod.ts";
 * minimum(array([1, 5]), 3); // [1, 3]
 * ```
 */
export function minimum(x: Operand, y: Operand): NDArray {
  return binary("minimum", "minimum", x, y, "arith");
}

/**
 * Four-quadrant `atan(y / x)` of `y` (first) and `x`.
 *
 * @example
 * ```ts
 * import { array, atan2 } from "./mod.ts";
 * atan2(array([1]), array([1])); // [π/4]
 * ```
 */
export function atan2(x: Operand, y: Operand): NDArray {
  return binary("atan2", "atan2", x, y, "float");
}

/**
 * `x < y` as bool.
 *
 * @example
 * ```ts
 * import { array, less } from "./mod.ts";
 * less(array([1, 3]), 2); // [true, false]
 * ```
 */
export function less(x: Operand, y: Operand): NDArray {
  return binary("less", "lt", x, y, "compare");
}

/**
 * `x <= y` as bool.
 *
 * @example
 * ```ts
 * import { array, lessEqual } from "./mod.ts";
 * lessEqual(array([1, 2]), 2); // [true, true]
 * ```
 */
export function lessEqual(x: Operand, y: Operand): NDArray {
  return binary("lessEqual", "le", x, y, "compare");
}

/**
 * `x > y` as bool.
 *
 * @example
 * ```ts
 * import { array, greater } from "./mod.ts";
 * greater(array([1, 3]), 2); // [false, true]
 * ```
 */
export function greater(x: Operand, y: Operand): NDArray {
  return binary("greater", "gt", x, y, "compare");
}

/**
 * `x >= y` as bool.
 *
 * @example
 * ```ts
 * import { array, greaterEqual } from "./mod.ts";
 * greaterEqual(array([1, 2]), 2); // [false, true]
 * ```
 */
export function greaterEqual(x: Operand, y: Operand): NDArray {
  return binary("greaterEqual", "ge", x, y, "compare");
}

/**
 * `x == y` as bool.
 *
 * @example
 * ```ts
 * import { array, equal } from "./mod.ts";
 * equal(array([1, 2]), 2); // [false, true]
 * ```
 */
export function equal(x: Operand, y: Operand): NDArray {
  return binary("equal", "eq", x, y, "compare");
}

/**
 * `x != y` as bool.
 *
 * @example
 * ```ts
 * import { array, notEqual } from "./mod.ts";
 * notEqual(array([1, 2]), 2); // [true, false]
 * ```
 */
export function notEqual(x: Operand, y: Operand): NDArray {
  return binary("notEqual", "ne", x, y, "compare");
}

/**
 * Logical and of truth values.
 *
 * @example
 * ```ts
 * import { array, logicalAnd } from "./mod.ts";
 * logicalAnd(array([true, false]), true); // [true, false]
 * ```
 */
export function logicalAnd(x: Operand, y: Operand): NDArray {
  return binary("logicalAnd", "and", x, y, "logical");
}

/**
 * Logical or of truth values.
 *
 * @example
 * ```ts
 * import { array, logicalOr } from "./mod.ts";
 * logicalOr(array([true, false]), false); // [true, false]
 * ```
 */
export function logicalOr(x: Operand, y: Operand): NDArray {
  return binary("logicalOr", "or", x, y, "logical");
}

/**
 * Logical xor of truth values.
 *
 * @example
 * ```ts
 * import { array, logicalXor } from "./mod.ts";
 * logicalXor(array([true, false]), true); // [false, true]
 * ```
 */
export function logicalXor(x: Operand, y: Operand): NDArray {
  return binary("logicalXor", "xor", x, y, "logical");
}

/**
 * `-x`.
 *
 * @example
 * ```ts
 * import { array, neg } from "./mod.ts";
 * neg(array([1, -2])); // [-1, 2]
 * ```
 */
export function neg(x: NDArray): NDArray {
  return unary("neg", numArg("neg", x));
}

/**
 * `e^x`.
 *
 * @example
 * ```ts
 * import { array, exp } from "./mod.ts";
 * exp(array([0, 1])); // [1, 2.718…]
 * ```
 */
export function exp(x: NDArray): NDArray {
  return unary("exp", floatArg("exp", x));
}

/**
 * Natural logarithm.
 *
 * @example
 * ```ts
 * import { array, log } from "./mod.ts";
 * log(array([1, Math.E])); // [0, 1]
 * ```
 */
export function log(x: NDArray): NDArray {
  return unary("log", floatArg("log", x));
}

/**
 * `log(1 + x)`, accurate near 0.
 *
 * @example
 * ```ts
 * import { array, log1p } from "./mod.ts";
 * log1p(array([0, 1e-8]));
 * ```
 */
export function log1p(x: NDArray): NDArray {
  return unary("log1p", floatArg("log1p", x));
}

/**
 * `e^x - 1`, accurate near 0.
 *
 * @example
 * ```ts
 * import { array, expm1 } from "./mod.ts";
 * expm1(array([0, 1e-8]));
 * ```
 */
export function expm1(x: NDArray): NDArray {
  return unary("expm1", floatArg("expm1", x));
}

/**
 * Square root.
 *
 * @example
 * ```ts
 * import { array, sqrt } from "./mod.ts";
 * sqrt(array([4, 9])); // [2, 3]
 * ```
 */
export function sqrt(x: NDArray): NDArray {
  return unary("sqrt", floatArg("sqrt", x));
}

/**
 * Sine.
 *
 * @example
 * ```ts
 * import { array, sin } from "./mod.ts";
 * sin(array([0, Math.PI / 2])); // [0, 1]
 * ```
 */
export function sin(x: NDArray): NDArray {
  return unary("sin", floatArg("sin", x));
}

/**
 * Cosine.
 *
 * @example
 * ```ts
 * import { array, cos } from "./mod.ts";
 * cos(array([0, Math.PI])); // [1, -1]
 * ```
 */
export function cos(x: NDArray): NDArray {
  return unary("cos", floatArg("cos", x));
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * import { array, tanh } from "./mod.ts";
 * tanh(array([0, 1]));
 * ```
 */
export function tanh(x: NDArray): NDArray {
  return unary("tanh", floatArg("tanh", x));
}

/**
 * Logistic sigmoid `1 / (1 + e^-x)`.
 *
 * @example
 * ```ts
 * import { array, sigmoid } from "./mod.ts";
 * sigmoid(array([0])); // [0.5]
 * ```
 */
export function sigmoid(x: NDArray): NDArray {
  return unary("sigmoid", floatArg("sigmoid", x));
}

/**
 * Error function.
 *
 * @example
 * ```ts
 * import { array, erf } from "./mod.ts";
 * erf(array([0, 1])); // [0, 0.8427…]
 * ```
 */
export function erf(x: NDArray): NDArray {
  return unary("erf", floatArg("erf", x));
}

/**
 * Inverse error function on (-1, 1).
 *
 * @example
 * ```ts
 * import { array, erfinv } from "./mod.ts";
 * erfinv(array([0, 0.5])); // [0, 0.4769…]
 * ```
 */
export function erfinv(x: NDArray): NDArray {
  return unary("erfinv", floatArg("erfinv", x));
}

/**
 * Absolute value.
 *
 * @example
 * ```ts
 * import { array, abs } from "./mod.ts";
 * abs(array([-1, 2])); // [1, 2]
 * ```
 */
export function abs(x: NDArray): NDArray {
  return unary("abs", numArg("abs", x));
}

/**
 * Sign: -1, 0 or 1 (NaN stays NaN).
 *
 * @example
 * ```ts
 * import { array, sign } from "./mod.ts";
 * sign(array([-3, 0, 2])); // [-1, 0, 1]
 * ```
 */
export function sign(x: NDArray): NDArray {
  return unary("sign", numArg("sign", x));
}

/**
 * Floor.
 *
 * @example
 * ```ts
 * import { array, floor } from "./mod.ts";
 * floor(array([1.5, -1.5])); // [1, -2]
 * ```
 */
export function floor(x: NDArray): NDArray {
  return unary("floor", numArg("floor", x));
}

/**
 * Ceiling.
 *
 * @example
 * ```ts
 * import { array, ceil } from "./mod.ts";
 * ceil(array([1.5, -1.5])); // [2, -1]
 * ```
 */
export function ceil(x: NDArray): NDArray {
  return unary("ceil", numArg("ceil", x));
}

/**
 * Round half to even (NumPy, PyTorch).
 *
 * @example
 * ```ts
 * import { array, round } from "./mod.ts";
 * round(array([0.5, 1.5, 2.5])); // [0, 2, 2]
 * ```
 */
export function round(x: NDArray): NDArray {
  return unary("round", numArg("round", x));
}

/**
 * `1 / sqrt(x)`.
 *
 * @example
 * ```ts
 * import { array, rsqrt } from "./mod.ts";
 * rsqrt(array([4])); // [0.5]
 * ```
 */
export function rsqrt(x: NDArray): NDArray {
  return reciprocal(sqrt(x));
}

/**
 * `1 / x` (integers promote to float32).
 *
 * @example
 * ```ts
 * import { array, reciprocal } from "./mod.ts";
 * reciprocal(array([2, 4])); // [0.5, 0.25]
 * ```
 */
export function reciprocal(x: NDArray): NDArray {
  return unary("recip", floatArg("reciprocal", x));
}

/**
 * `x * x`.
 *
 * @example
 * ```ts
 * import { array, square } from "./mod.ts";
 * square(array([3])); // [9]
 * ```
 */
export function square(x: NDArray): NDArray {
  return mul(x, x);
}

/**
 * Rectified linear unit `max(x, 0)`; the gradient at 0 is 0 (PyTorch).
 *
 * @example
 * ```ts
 * import { array, relu } from "./mod.ts";
 * relu(array([-1, 2])); // [0, 2]
 * ```
 */
export function relu(x: NDArray): NDArray {
  checkArray("relu", "x", x);
  return where(greater(x, 0), x, 0);
}

/**
 * `min(max(x, 0), 6)` (MobileNet).
 *
 * @example
 * ```ts
 * import { array, relu6 } from "./mod.ts";
 * relu6(array([-1, 3, 9])); // [0, 3, 6]
 * ```
 */
export function relu6(x: NDArray): NDArray {
  checkArray("relu6", "x", x);
  return where(greater(x, 0), where(less(x, 6), x, 6), 0);
}

/**
 * `x` where `x > 0`, else `alpha · x`.
 *
 * @example
 * ```ts
 * import { array, leakyRelu } from "./mod.ts";
 * leakyRelu(array([-10, 2]), 0.1); // [-1, 2]
 * ```
 */
export function leakyRelu(x: NDArray, alpha = 0.01): NDArray {
  checkArray("leakyRelu", "x", x);
  return where(greater(x, 0), x, mul(x, alpha));
}

/**
 * Exponential linear unit: `x` where `x > 0`, else `alpha · (e^x − 1)`.
 *
 * @example
 * ```ts
 * import { array, elu } from "./mod.ts";
 * elu(array([-1, 2])); // [-0.632…, 2]
 * ```
 */
export function elu(x: NDArray, alpha = 1): NDArray {
  const f = floatArg("elu", x);
  return where(greater(f, 0), f, mul(expm1(minimum(f, 0)), alpha));
}

/**
 * Gaussian error linear unit: `x · Φ(x)` with the exact erf form, or the tanh
 * approximation when `approximate` is true (PyTorch `approximate="tanh"`).
 *
 * @example
 * ```ts
 * import { array, gelu } from "./mod.ts";
 * gelu(array([0, 1])); // [0, 0.8413…]
 * ```
 */
export function gelu(x: NDArray, approximate = false): NDArray {
  const f = floatArg("gelu", x);
  if (approximate) {
    const inner = mul(add(f, mul(pow(f, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(f, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(f, 0.5), add(erf(mul(f, Math.SQRT1_2)), 1));
}

/**
 * `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)` so it never overflows.
 *
 * @example
 * ```ts
 * import { array, softplus } from "./mod.ts";
 * softplus(array([0, 100])); // [0.693…, 100]
 * ```
 */
export function softplus(x: NDArray): NDArray {
  const f = floatArg("softplus", x);
  return add(maximum(f, 0), log1p(exp(neg(abs(f)))));
}

/**
 * Clamp into `[lo, hi]`; a null bound is open. The gradient passes where
 * `lo <= x <= hi`.
 *
 * @example
 * ```ts
 * import { array, clip } from "./mod.ts";
 * clip(array([-2, 0.5, 3]), 0, 1); // [0, 0.5, 1]
 * ```
 */
export function clip(x: NDArray, lo: number | null, hi: number | null): NDArray {
  checkArray("clip", "x", x);
  let y = x;
  if (lo !== null) y = where(less(y, lo), asArray(lo, y.dtype), y);
  if (hi !== null) y = where(greater(y, hi), asArray(hi, y.dtype), y);
  return y;
}

/**
 * Logical not.
 *
 * @example
 * ```ts
 * import { array, logicalNot } from "./mod.ts";
 * logicalNot(array([true, false])); // [false, true]
 * ```
 */
export function logicalNot(x: NDArray): NDArray {
  checkArray("logicalNot", "x", x);
  return unary("not", castPrim(x, "bool"), "bool");
}

/**
 * True where `x` is NaN.
 *
 * @example
 * ```ts
 * import { array, isNaN } from "./mod.ts";
 * isNaN(array([1, NaN])); // [false, true]
 * ```
 */
export function isNaN(x: NDArray): NDArray {
  checkArray("isNaN", "x", x);
  return unary("isnan", x, "bool");
}

/**
 * True where `x` is neither infinite nor NaN.
 *
 * @example
 * ```ts
 * import { array, isFinite } from "./mod.ts";
 * isFinite(array([1, Infinity, NaN])); // [true, false, false]
 * ```
 */
export function isFinite(x: NDArray): NDArray {
  checkArray("isFinite", "x", x);
  return unary("isfinite", x, "bool");
}

/**
 * Convert to `dtype`. Float → int truncates toward zero; anything → bool is
 * `x != 0`.
 *
 * @example
 * ```ts
 * import { array, cast } from "./mod.ts";
 * cast(array([1.7, -1.7]), "int32"); // [1, -1]
 * ```
 */
export function cast(x: NDArray, dtype: DType): NDArray {
  checkArray("cast", "x", x);
  return castPrim(x, checkDType("cast", dtype));
}

/**
 * `x` where `cond` is true, else `y`, with broadcasting of all three.
 *
 * @example
 * ```ts
 * import { array, where } from "./mod.ts";
 * where(array([true, false]), array([1, 2]), 0); // [1, 0]
 * ```
 */
export function where(cond: Operand, x: Operand, y: Operand): NDArray {
  for (const [name, v] of [["cond", cond], ["x", x], ["y", y]] as const) {
    if (!(v instanceof NDArray) && typeof v !== "number" && typeof v !== "boolean") {
      throw new TypeError(`where: ${name} must be an NDArray, number or boolean, got ${describe(v)}`);
    }
  }
  const c = cond instanceof NDArray ? castPrim(cond, "bool") : asArray(cond, "bool");
  const dt = resultDType(x, y);
  const a = asArray(x, dt), b = asArray(y, dt);
  const shape = broadcastShapes("where", broadcastShapes("where", c.shape, a.shape), b.shape);
  return make("where", [c.broadcastTo(shape), a.broadcastTo(shape), b.broadcastTo(shape)], {}, shape, dt);
}
