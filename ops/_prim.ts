// Internal builders: one function per primitive kind, with the shape/dtype
// rules and the checks that make error messages name op, argument, expected
// and actual. Public ops compose these.
import { type DType, isFloat, promote, weakDType } from "./_dtype.ts";
import { type BinaryOp, Node, type Prim, type PrimParams, type UnaryOp } from "./_graph.ts";
import { NDArray, nodeOf, type Operand, wrap } from "./ndarray.ts";

export function make<P extends Prim>(
  op: P,
  inputs: NDArray[],
  params: PrimParams[P],
  shape: readonly number[],
  dtype: DType,
): NDArray {
  return wrap(new Node(op, inputs.map(nodeOf), params, shape, dtype));
}

export function fill(value: number, shape: readonly number[], dtype: DType): NDArray {
  const v = dtype === "float32"
    ? Math.fround(value)
    : dtype === "int32"
    ? value | 0
    : dtype === "bool"
    ? (value ? 1 : 0)
    : value;
  return make("fill", [], { value: v }, [], dtype).broadcastTo(shape as number[]);
}

export function checkArray(op: string, name: string, x: unknown): NDArray {
  if (!(x instanceof NDArray)) {
    throw new TypeError(`${op}: ${name} must be an NDArray, got ${describe(x)}`);
  }
  return x;
}

export function describe(x: unknown): string {
  if (x instanceof NDArray) return `an array of shape [${x.shape}] and dtype ${x.dtype}`;
  if (Array.isArray(x)) return `a JS array of length ${x.length}`;
  return x === null ? "null" : typeof x === "object" ? "an object" : `${typeof x} ${String(x)}`;
}

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes [${a}] and [${b}] cannot be broadcast together (axis ${i - n}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Turn an operand into an array of dtype `dtype` (scalars become fills). */
export function asArray(x: Operand, dtype: DType): NDArray {
  if (x instanceof NDArray) return x.dtype === dtype ? x : cast(x, dtype);
  return fill(typeof x === "boolean" ? (x ? 1 : 0) : x, [], dtype);
}

export function cast(x: NDArray, dtype: DType): NDArray {
  return x.dtype === dtype ? x : make("cast", [x], {}, x.shape, dtype);
}

export function resultDType(a: Operand, b: Operand): DType {
  if (a instanceof NDArray && b instanceof NDArray) return promote(a.dtype, b.dtype);
  if (a instanceof NDArray) return weakDType(b as number, a.dtype);
  if (b instanceof NDArray) return weakDType(a as number, b.dtype);
  return typeof a === "boolean" && typeof b === "boolean" ? "bool" : "float32";
}

export function unary(op: UnaryOp, x: NDArray, dtype: DType = x.dtype): NDArray {
  return make("unary", [x], { op }, x.shape, dtype);
}

export type Kind = "arith" | "float" | "compare" | "logical" | "int";

/**
 * Binary primitive with promotion and broadcasting. `kind` says which dtypes
 * the op computes in: arith keeps ints (bool → int32), float promotes ints to
 * float32, compare returns bool, logical works on bools.
 */
export function binary(name: string, op: BinaryOp, a: Operand, b: Operand, kind: Kind): NDArray {
  if (!(a instanceof NDArray) && !(b instanceof NDArray)) a = asArray(a, resultDType(a, b));
  for (const [arg, v] of [["x", a], ["y", b]] as const) {
    if (!(v instanceof NDArray) && typeof v !== "number" && typeof v !== "boolean") {
      throw new TypeError(`${name}: ${arg} must be an NDArray, number or boolean, got ${describe(v)}`);
    }
  }
  let dt = resultDType(a, b);
  if (kind === "logical") dt = "bool";
  else if (kind === "float" && !isFloat(dt)) dt = "float32";
  else if ((kind === "arith" || kind === "int") && dt === "bool") dt = "int32";
  else if (kind === "int" && isFloat(dt)) {
    throw new TypeError(`${name}: operands must be integer or bool, got ${dt}`);
  }
  const x = asArray(a, dt), y = asArray(b, dt);
  const shape = broadcastShapes(name, x.shape, y.shape);
  const out = kind === "compare" || kind === "logical" ? "bool" : dt;
  return make("binary", [x.broadcastTo(shape), y.broadcastTo(shape)], { op }, shape, out);
}

export function normAxis(op: string, axis: number, ndim: number, name = "axis"): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new RangeError(`${op}: ${name} must be an integer in [${-ndim}, ${ndim}), got ${axis}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

export function normAxes(op: string, axis: number | number[] | null | undefined, ndim: number): number[] {
  if (axis === undefined || axis === null) return [...Array(ndim).keys()];
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(op, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`${op}: axis must not repeat, got [${axis}]`);
  return list.sort((p, q) => p - q);
}

export { isFloat, NDArray, nodeOf, wrap };
export type { Operand };
