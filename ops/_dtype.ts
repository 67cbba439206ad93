// dtypes, promotion and typed-array storage.

/** The element types an {@linkcode NDArray} can hold. */
export type DType = "float32" | "float64" | "int32" | "bool";

/** The typed array that stores each dtype (bool as 0/1 bytes). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["float32", "float64", "int32", "bool"];

export function isFloat(d: DType): boolean {
  return d === "float32" || d === "float64";
}

// glibc's malloc gives an allocation at or above its mmap threshold (128 KiB at
// first) fresh pages, which fault on first touch (~3 µs per 4 KiB page on the
// 2-vCPU guest of the bench), and gives freed memory at the heap's top back to
// the system once twice that threshold lies free there. V8 frees arrays in
// batches after a collection (one per ~64 MiB of new arrays), so a loop's
// outputs kept coming back as fresh pages: the heap grew by each new array and
// shrank by 64 MiB at each collection. Before the first large array:
// - one 31 MiB buffer allocated and freed raises both thresholds (freeing an
//   mmapped block sets them to its size, up to 32 MiB): arrays below 31 MiB
//   come from the heap;
// - 120 MiB allocated, a 16 MiB block above it that is never freed (never
//   touched: no memory), then the 120 MiB freed: glibc trims only the top, so
//   the heap below that block stays mapped, and arrays freed there are reused
//   without faulting again (the process keeps up to 120 MiB it has used).
// Other allocators just allocate and free the blocks.
let mallocPrimed = false;
// the block that pins the reserve, kept for the life of the process
const heapPins: ArrayBuffer[] = [];

/** Raise glibc's dynamic mmap and trim thresholds and pin a reserve of heap below a block (see above); idempotent. */
function primeMalloc(): void {
  if (mallocPrimed) return;
  mallocPrimed = true;
  if (typeof ArrayBuffer.prototype.transfer !== "function") return;
  const free = (b: ArrayBuffer) => b.transfer(0); // frees the block now (a collection would free it late)
  const reserve: ArrayBuffer[] = [];
  try {
    free(new ArrayBuffer(31 << 20));
    for (let i = 0; i < 4; i++) reserve.push(new ArrayBuffer(30 << 20));
    heapPins.push(new ArrayBuffer(16 << 20));
  } catch {
    // no room for them (a memory-capped engine): arrays are allocated as they come
  } finally {
    reserve.forEach(free);
  }
}

export function allocate(dtype: DType, size: number): TypedArray {
  if (!mallocPrimed && size >= 1 << 15) primeMalloc();
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
