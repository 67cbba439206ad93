// Pooling tests: naive references, PyTorch fixtures (forward + VJP), gradient
// checks, stochastic sampling statistics.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  array,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  bilinearPool,
  globalAvgPool2d,
  globalMaxPool2d,
  lpPool2d,
  maxPool1d,
  maxPool2d,
  maxPool3d,
  maxUnpool1d,
  maxUnpool2d,
  medianPool2d,
  mixedPool2d,
  type NDArray,
  spatialPyramidPool,
  sppf,
  stochasticPool2d,
  vjp,
  yoloSpp,
} from "../mod.ts";

// deno-lint-ignore no-explicit-any
type AnyOp = (...args: any[]) => any;
const OPS: Record<string, AnyOp> = {
  maxPool1d,
  maxPool2d,
  maxPool3d,
  avgPool1d,
  avgPool2d,
  avgPool3d,
  lpPool2d,
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  globalAvgPool2d,
  globalMaxPool2d,
  maxUnpool2d,
  spatialPyramidPool,
  yoloSpp,
  mixedPool2d,
  medianPool2d,
  stochasticPool2d,
  bilinearPool,
};

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}: element ${i}: got ${a}, expected ${e}`);
    }
  }
}

function vals(x: NDArray): number[] {
  return Array.from(x.dataSync() as ArrayLike<number>, Number);
}

// ---------------------------------------------------------------------------
// fixtures

interface Tensor {
  shape: number[];
  data: (number | string | null)[];
  dtype?: string;
}
interface Case {
  name: string;
  op: string;
  inputs: Record<string, Tensor>;
  options: Record<string, unknown>;
  output: Tensor;
  indices?: Tensor;
  cotangent?: Tensor;
  grads?: Record<string, Tensor>;
}

function num(v: number | string | null): number {
  if (typeof v === "number") return v;
  if (v === null || v === "nan" || v === "NaN") return NaN;
  if (v === "inf" || v === "Infinity") return Infinity;
  if (v === "-inf" || v === "-Infinity") return -Infinity;
  return Number(v);
}

function tensor(t: Tensor, dtype?: "float32" | "float64" | "int32"): NDArray {
  const dt = dtype ?? (t.dtype && t.dtype.includes("int") ? "int32" : "float32");
  const data = t.data.map(num);
  return array(dt === "int32" ? Int32Array.from(data) : dt === "float64" ? Float64Array.from(data) : Float32Array.from(data), {
    shape: t.shape,
    dtype: dt,
  });
}

const fixtures: Case[] = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/pool.json", import.meta.url))).cases;
const poolCases = fixtures.filter((c) => c.op in OPS);

for (const c of poolCases) {
  Deno.test(`pool fixture: ${c.name}`, () => {
    const op = OPS[c.op];
    const x = tensor(c.inputs.x);
    const extra = c.op === "maxUnpool2d" ? [tensor(c.inputs.indices, "int32")] : [];
    const f = (xx: NDArray) => op(xx, ...extra, c.options);
    const r = f(x);
    const values: NDArray = r && r.values ? r.values : r;
    assertEquals(values.shape, c.output.shape, `${c.name}: shape`);
    close(vals(values), c.output.data.map(num), 1e-4, 1e-5, `${c.name}: output`);
    if (c.indices) {
      assert(r.indices, `${c.name}: indices missing`);
      assertEquals(r.indices.dtype, "int32");
      assertEquals(vals(r.indices), c.indices.data.map(num), `${c.name}: indices`);
    }
    if (c.cotangent && c.grads && c.grads.x) {
      const g = (xx: NDArray) => {
        const o = f(xx);
        return o && o.values ? o.values : o;
      };
      const [, pull] = vjp(g, x);
      const [gx] = pull(tensor(c.cotangent));
      close(vals(gx as NDArray), c.grads.x.data.map(num), 1e-4, 1e-5, `${c.name}: grad x`);
    }
  });
}

Deno.test("pool fixtures: every pooling op is covered", () => {
  const seen = new Set(poolCases.map((c) => c.op));
  assert(seen.size >= 15, `only ${[...seen]}`);
});
