// NumPy-style printing: `array([[1, 2], [3, 4]], dtype=int32)`, summarised
// with "..." past 1000 elements (3 items at each edge).
import type { DType, TypedArray } from "./_dtype.ts";
import { sizeOf } from "./_graph.ts";

function formatNumber(v: number, dtype: DType, digits: number): string {
  if (dtype === "bool") return v ? "true" : "false";
  if (dtype === "int32") return String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.`;
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) return v.toExponential(digits).replace(/e([+-])(\d)$/, "e$10$2");
  return String(Number(v.toFixed(digits)));
}

export function formatArray(buf: TypedArray, shape: readonly number[], dtype: DType): string {
  const size = sizeOf(shape);
  const summarize = size > 1000;
  const digits = dtype === "float64" ? 8 : 4;
  const items: string[] = [];
  for (let i = 0; i < buf.length; i++) items.push(formatNumber(buf[i], dtype, digits));
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
