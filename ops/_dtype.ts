// dtypes, promotion and typed-array storage.

/** The element types an {@linkcode NDArray} can hold. */
export type DType = "float32" | "float64" | "int32" | "bool";

/** The typed array that stores each dtype (bool as 0/1 bytes). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool"];

export function isFloat(d: DType): boolean {
  return d === "float32" || d === "float64";
}

export function allocate(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

export function checkDType(op: string, d: unknown): DType {
  if (typeof d !== "string" || !DTYPES.includes(d as DType)) {
    throw new TypeError(`${op}: dtype must be one of ${DTYPES.join(", ")}, got ${String(d)}`);
  }
  return d as DType;
}

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

/** NumPy/JAX-like promotion: the wider kind wins (bool < int32 < float32 < float64). */
export function promote(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The dtype a JS number gets when it meets an array of dtype `d` (weak typing). */
export function weakDType(value: number | boolean, d: DType): DType {
  if (typeof value === "boolean") return d;
  if (Number.isInteger(value) || !Number.isFinite(value)) {
    return d === "bool" ? (Number.isInteger(value) ? "int32" : "float32") : d;
  }
  return isFloat(d) ? d : "float32";
}

/** Default dtype inferred from a JS value. */
export function inferDType(value: number | boolean): DType {
  return typeof value === "boolean" ? "bool" : "float32";
}
