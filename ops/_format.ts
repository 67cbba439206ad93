// NumPy-style printing: `array([[1, 2], [3, 4]], dtype=int32)`, summarised
// with "..." past 1000 elements (3 items at each edge).
import type { DType, TypedArray } from "./_dtype.ts";
import { sizeOf } from "./_graph.ts";

// Shortest decimal that reads back as the same value in `dtype` (NumPy's
// "unique" repr: float32 0.1 prints as 0.1, float32 1/3 as 0.33333334).
function shortest(v: number, dtype: DType): number {
  if (dtype !== "float32") return v;
  for (let p = 1; p < 10; p++) {
    const r = Number(v.toPrecision(p));
    if (Math.fround(r) === v) return r;
  }
  return v;
}

// NumPy's float formatting: one mode for the whole array — scientific when
// the largest non-zero magnitude is >= 1e8, the smallest < 1e-4 or their
// ratio > 1000 — at most 8 fraction digits, mantissas padded to one width.
function formatFloats(buf: TypedArray, dtype: DType): string[] {
  const vals = Array.from(buf as ArrayLike<number>, (v) => (Number.isFinite(v) ? shortest(v, dtype) : v));
  let lo = Infinity, hi = 0;
  for (const v of vals) {
    const a = Math.abs(v);
    if (Number.isFinite(a) && a !== 0) lo = Math.min(lo, a), hi = Math.max(hi, a);
  }
  const sci = hi > 0 && (hi >= 1e8 || lo < 1e-4 || hi / lo > 1000);
  const special = (v: number) => (Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");
  if (!sci) {
    return vals.map((v) => {
      if (!Number.isFinite(v)) return special(v);
      const t = String(Number(v.toFixed(8)));
      return t.includes(".") ? t : `${t}.`;
    });
  }
  let frac = 0;
  for (const v of vals) {
    if (!Number.isFinite(v)) continue;
    const m = v.toExponential().split("e")[0];
    frac = Math.max(frac, m.includes(".") ? Math.min(8, m.length - m.indexOf(".") - 1) : 0);
  }
  return vals.map((v) => {
    if (!Number.isFinite(v)) return special(v);
    const [m, e] = v.toExponential(frac).split("e");
    const sign = e[0] === "-" ? "-" : "+", digits = e.replace(/^[+-]/, "").padStart(2, "0");
    return `${m.includes(".") ? m : `${m}.`}e${sign}${digits}`;
  });
}

function formatNumber(v: number, dtype: DType): string {
  if (dtype === "bool") return v ? "true" : "false";
  return String(v);
}

export function formatArray(buf: TypedArray, shape: readonly number[], dtype: DType): string {
  const size = sizeOf(shape);
  const summarize = size > 1000;
  const isFloat = dtype === "float32" || dtype === "float64";
  const items: string[] = isFloat
    ? formatFloats(buf, dtype)
    : Array.from(buf as ArrayLike<number>, (v) => formatNumber(v, dtype));
  // NumPy aligns floats on the decimal point: integer parts padded left,
  // fractions padded right (`[0.  , 0.25, 1.5 ]`); nan/inf pad left.
  const decimal = (s: string) => /^-?\d+\.\d*$/.test(s);
  if (dtype === "float32" || dtype === "float64") {
    let ip = 0, fp = 0;
    for (const s of items) {
      if (!decimal(s)) continue;
      const d = s.indexOf(".");
      ip = Math.max(ip, d), fp = Math.max(fp, s.length - d - 1);
    }
    for (let i = 0; i < items.length; i++) {
      const s = items[i];
      if (!decimal(s)) continue;
      const d = s.indexOf(".");
      items[i] = s.slice(0, d).padStart(ip) + "." + s.slice(d + 1).padEnd(fp);
    }
  }
  const width = Math.max(0, ...items.map((s) => s.length));
  const pad = (s: string) => s.padStart(width);
  const rec = (axis: number, offset: number, indent: string): string => {
    if (axis === shape.length) return pad(items[offset]);
    const n = shape[axis];
    const step = sizeOf(shape.slice(axis + 1));
    const idx = summarize && n > 6 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : [...Array(n).keys()];
    const parts = idx.map((i) => (i < 0 ? "..." : rec(axis + 1, offset + i * step, indent + " ")));
    const sep = axis === shape.length - 1 ? ", " : ",\n" + "\n".repeat(shape.length - axis - 2) + indent + " ";
    return `[${parts.join(sep)}]`;
  };
  const body = rec(0, 0, "      ");
  const showDType = !(dtype === "float32" || dtype === "bool");
  const shapeNote = size === 0 && shape.length > 1 ? `, shape=(${shape.join(", ")})` : "";
  return `array(${body}${shapeNote}${showDType || size === 0 ? `, dtype=${dtype}` : ""})`;
}
