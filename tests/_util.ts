// Shared helpers for the op tests: a seeded RNG, flat-index helpers and
// tolerant comparison against plain-JS reference results.
import { assert, assertEquals } from "@std/assert";
import * as ts from "../mod.ts";

/** Deterministic uniform values in [-2, 2) (mulberry32). */
export function rng(seed = 1): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 4 - 2;
  };
}

/** Run `f` on the named backend, restoring the previous one. */
export function withBackend<T>(name: string, f: () => T): T {
  const prev = ts.getBackend();
  ts.setBackend(name);
  try {
    return f();
  } finally {
    ts.setBackend(prev);
  }
}

export const sizeOf = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** Random array of `shape` plus its values as a plain number[]. */
export function randn(shape: number[], seed = 1, dtype: ts.DType = "float32"): [ts.NDArray, number[]] {
  const r = rng(seed);
  const vals = Array.from({ length: sizeOf(shape) }, () => {
    const v = r();
    if (dtype === "int32") return Math.round(v * 5);
    if (dtype === "bool") return v > 0 ? 1 : 0;
    return dtype === "float32" ? Math.fround(v) : v;
  });
  const x = dtype === "bool"
    ? ts.array(vals.map((v) => v === 1), { shape, dtype }).reshape(shape)
    : ts.array(vals, { dtype }).reshape(shape);
  return [x, vals];
}

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export function unravel(i: number, shape: number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

export function ravel(idx: number[], shape: number[]): number {
  let o = 0;
  for (let k = 0; k < shape.length; k++) o = o * shape[k] + idx[k];
  return o;
}

/** NumPy broadcast of two shapes (reference). */
export function bshape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const x = a[a.length - n + k] ?? 1, y = b[b.length - n + k] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Value of `vals` (of `shape`) read at broadcast index `idx` of a larger shape. */
export function bread(vals: number[], shape: number[], idx: number[]): number {
  const off = idx.length - shape.length;
  return vals[ravel(shape.map((d, k) => (d === 1 ? 0 : idx[k + off])), shape)];
}

export function flat(x: ts.NDArray): number[] {
  return Array.from(x.dataSync() as ArrayLike<number>, Number);
}

/** Elementwise comparison with relative+absolute tolerance; NaN equals NaN. */
export function assertClose(
  actual: ArrayLike<number> | ts.NDArray,
  expected: ArrayLike<number>,
  tol = 1e-5,
  msg = "",
): void {
  const a = actual instanceof ts.NDArray ? flat(actual) : Array.from(actual, Number);
  assertEquals(a.length, expected.length, `${msg} length`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = Number(expected[i]);
    if (Number.isNaN(y)) {
      assert(Number.isNaN(x), `${msg} [${i}]: expected NaN, got ${x}`);
      continue;
    }
    if (!Number.isFinite(y)) {
      assertEquals(x, y, `${msg} [${i}]`);
      continue;
    }
    assert(Math.abs(x - y) <= tol * (1 + Math.abs(y)), `${msg} [${i}]: expected ${y}, got ${x}`);
  }
}

/** Assert that `fn` throws and that the message contains every fragment. */
export function assertThrowsWith(fn: () => unknown, ...fragments: string[]): void {
  let err: unknown;
  try {
    const r = fn();
    if (r instanceof ts.NDArray) r.dataSync();
  } catch (e) {
    err = e;
  }
  assert(err instanceof Error, `expected an error containing ${fragments.join(", ")}`);
  for (const f of fragments) assert(err.message.includes(f), `message "${err.message}" lacks "${f}"`);
}

/** The kernel log of running `f` (debug on for the call only). */
export function kernelLogOf(f: () => unknown): string[] {
  ts.setDebug(true);
  try {
    f();
    return ts.kernelLog();
  } finally {
    ts.setDebug(false);
  }
}
