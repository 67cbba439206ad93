// Loading PyTorch fixtures (tests/fixtures/README.md) and checking an op's
// forward output and VJPs against them in float64.
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { assertClose } from "../ops/testing.ts";

export interface Tensor {
  shape: number[];
  data: number[];
  dtype?: "int32";
}
export interface FixtureCase {
  name: string;
  op: string;
  inputs: Record<string, Tensor>;
  options: Record<string, unknown>;
  output: Tensor;
  indices?: Tensor;
  cotangent: Tensor;
  grads: Record<string, Tensor>;
}

export function loadCases(file: "conv.json" | "pool.json"): FixtureCase[] {
  const url = new URL(`./fixtures/${file}`, import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url)).cases;
}

/** A fixture tensor as an array: int32 where the fixture says so, else `dtype` (default float64). */
export function tensor(t: Tensor, dtype: "float32" | "float64" | "int32" = "float64"): NDArray {
  return ts.array(t.data, { shape: t.shape, dtype: t.dtype ?? dtype });
}

/**
 * Run `op(...positional, options)` on the case's inputs (optional tensors by
 * name in options), compare the output and every VJP at float64 tolerance.
 */
export function checkCase(
  c: FixtureCase,
  op: (...args: unknown[]) => NDArray | { values: NDArray; indices: NDArray },
): void {
  const named = new Set(Object.values(c.options).filter((v) => typeof v === "string" && v in c.inputs) as string[]);
  const positional = Object.keys(c.inputs).filter((k) => !named.has(k));
  const diff = Object.keys(c.grads);
  const call = (...diffArgs: NDArray[]): NDArray => {
    const arrays: Record<string, NDArray> = {};
    for (const k of Object.keys(c.inputs)) arrays[k] = tensor(c.inputs[k]);
    diff.forEach((k, i) => (arrays[k] = diffArgs[i]));
    const options: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c.options)) options[k] = typeof v === "string" && v in c.inputs ? arrays[v] : v;
    const r = op(...positional.map((k) => arrays[k]), options);
    return "values" in r ? r.values : r;
  };
  const tol = { rtol: 1e-9, atol: 1e-12 };
  const [out, pullback] = ts.vjp(call, ...diff.map((k) => tensor(c.inputs[k])));
  assertClose(out, tensor(c.output), { ...tol, message: `${c.name}: output` });
  if (c.indices) {
    const r = op(...positional.map((k) => tensor(c.inputs[k])), {
      ...Object.fromEntries(
        Object.entries(c.options).map((
          [k, v],
        ) => [k, typeof v === "string" && v in c.inputs ? tensor(c.inputs[v]) : v]),
      ),
    });
    if (!("indices" in r)) throw new Error(`${c.name}: expected { values, indices }`);
    assertClose(r.indices, tensor(c.indices), { rtol: 0, atol: 0, message: `${c.name}: indices` });
  }
  const grads = pullback(tensor(c.cotangent)) as NDArray[];
  diff.forEach((k, i) =>
    assertClose(grads[i], tensor(c.grads[k]), { rtol: 1e-8, atol: 1e-10, message: `${c.name}: grad ${k}` })
  );
}
