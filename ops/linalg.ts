// Linear algebra on the batched `dot` primitive ([B, M, K] x [B, K, N]).
import { sizeOf } from "./_graph.ts";
import { broadcastShapes, cast, checkArray, make, type NDArray, resultDType } from "./_prim.ts";
import { broadcastTo, expandDims, reshape, squeeze, transpose } from "./movement.ts";
import { mul } from "./elementwise.ts";
import { sum } from "./reduce.ts";

/**
 * Matrix product with NumPy `matmul` rules: 2-D × 2-D is the usual product,
 * leading axes are batch axes and broadcast, a 1-D left operand is a row
 * vector and a 1-D right operand a column vector (the added axis is removed).
 *
 * @example
 * ```ts
 * import { array, matmul } from "./mod.ts";
 * matmul(array([[1, 2], [3, 4]]), array([1, 1])).toArray(); // [3, 7]
 * ```
 */
export function matmul(a: NDArray, b: NDArray): NDArray {
  checkArray("matmul", "a", a);
  checkArray("matmul", "b", b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: operands must have rank >= 1, got shapes [${a.shape}] and [${b.shape}]`);
  }
  const a2 = a.ndim === 1 ? expandDims(a, 0) : a;
  const b2 = b.ndim === 1 ? expandDims(b, 1) : b;
  const [M, K] = a2.shape.slice(-2), [K2, N] = b2.shape.slice(-2);
  if (K !== K2) {
    throw new Error(
      `matmul: contraction sizes differ: a has shape [${a.shape}] (K = ${K}), b has shape [${b.shape}] (K = ${K2})`,
    );
  }
  const batch = broadcastShapes("matmul", a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const B = sizeOf(batch);
  // int32 products accumulate in float64 (exact below 2^53) and come back as int32, as in NumPy.
  const rdt = resultDType(a, b);
  const dt = rdt === "float64" || rdt === "int32" ? "float64" : "float32";
  const a3 = reshape(broadcastTo(cast(a2, dt), [...batch, M, K]), [B, M, K]);
  const b3 = reshape(broadcastTo(cast(b2, dt), [...batch, K, N]), [B, K, N]);
  let out = reshape(make("dot", [a3, b3], {}, [B, M, N], dt), [...batch, M, N]);
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return rdt === "int32" ? cast(out, "int32") : out;
}

/**
 * NumPy `dot` for rank ≤ 2: inner product of vectors, matrix-vector and
 * matrix-matrix products.
 *
 * @example
 * ```ts
 * import { array, dot } from "./mod.ts";
 * dot(array([1, 2, 3]), array([4, 5, 6])).item(); // 32
 * ```
 */
export function dot(a: NDArray, b: NDArray): NDArray {
  checkArray("dot", "a", a);
  checkArray("dot", "b", b);
  if (a.ndim > 2 || b.ndim > 2) {
    throw new Error(`dot: operands must have rank <= 2 (use matmul or einsum), got [${a.shape}] and [${b.shape}]`);
  }
  if (a.ndim === 0 || b.ndim === 0) return mul(a, b);
  const ka = a.shape[a.ndim - 1], kb = b.shape[0];
  if (ka !== kb) {
    throw new Error(
      `dot: contraction sizes differ: a has shape [${a.shape}] (last axis ${ka}), b has shape [${b.shape}] (first axis ${kb})`,
    );
  }
  return matmul(a, b);
}

/**
 * Outer product of two vectors: `out[i, j] = a[i]·b[j]`.
 *
 * @example
 * ```ts
 * import { array, outer } from "./mod.ts";
 * outer(array([1, 2]), array([3, 4])).toArray(); // [[3, 4], [6, 8]]
 * ```
 */
export function outer(a: NDArray, b: NDArray): NDArray {
  checkArray("outer", "a", a);
  checkArray("outer", "b", b);
  return mul(reshape(a, [a.size, 1]), reshape(b, [1, b.size]));
}

/**
 * Einstein summation, e.g. `"ij,jk->ik"`, `"bij,bjk->bik"`, `"nchw->nc"`.
 * Operands are contracted pairwise, left to right, each pair as one batched
 * matrix product; indices seen in one operand only (and not in the output)
 * are summed first. Every index letter may appear at most once per operand.
 *
 * @example
 * ```ts
 * import { array, einsum } from "./mod.ts";
 * einsum("ij,j->i", array([[1, 2], [3, 4]]), array([1, 1])).toArray(); // [3, 7]
 * ```
 */
export function einsum(spec: string, ...operands: NDArray[]): NDArray {
  const [lhs, rhsRaw] = spec.replace(/\s/g, "").split("->");
  const inputs = lhs.split(",");
  if (inputs.length !== operands.length) {
    throw new Error(`einsum: spec "${spec}" names ${inputs.length} operands, got ${operands.length}`);
  }
  const sizes = new Map<string, number>();
  inputs.forEach((ix, i) => {
    const x = checkArray("einsum", `operands[${i}]`, operands[i]);
    if (!/^[a-zA-Z]*$/.test(ix) || ix.length !== x.ndim || new Set(ix).size !== ix.length) {
      throw new Error(
        `einsum: subscripts "${ix}" must be ${x.ndim} distinct letters for operand ${i} of shape [${x.shape}]`,
      );
    }
    [...ix].forEach((c, k) => {
      const d = sizes.get(c);
      if (d !== undefined && d !== x.shape[k] && d !== 1 && x.shape[k] !== 1) {
        throw new Error(`einsum: index "${c}" has size ${d} in one operand and ${x.shape[k]} in operand ${i}`);
      }
      sizes.set(c, Math.max(d ?? 1, x.shape[k]));
    });
  });
  const counts = new Map<string, number>();
  for (const ix of inputs) for (const c of ix) counts.set(c, (counts.get(c) ?? 0) + 1);
  const rhs = rhsRaw ?? [...counts.keys()].filter((c) => counts.get(c) === 1).sort().join("");
  for (const c of rhs) if (!sizes.has(c)) throw new Error(`einsum: output index "${c}" does not appear in any operand`);

  let acc = operands[0], accIx = inputs[0];
  const needed = (i: number) => new Set([...rhs, ...inputs.slice(i).join("")]);
  [acc, accIx] = sumOut(acc, accIx, needed(1));
  for (let i = 1; i < operands.length; i++) {
    const [b, bIx] = sumOut(operands[i], inputs[i], new Set([...needed(i + 1), ...accIx]));
    [acc, accIx] = sumOut(acc, accIx, new Set([...needed(i + 1), ...bIx]));
    [acc, accIx] = contract(acc, accIx, b, bIx, needed(i + 1), sizes);
  }
  [acc, accIx] = sumOut(acc, accIx, new Set(rhs));
  return transpose(acc, [...rhs].map((c) => accIx.indexOf(c)));
}

function sumOut(x: NDArray, ix: string, keep: Set<string>): [NDArray, string] {
  const drop = [...ix].flatMap((c, k) => (keep.has(c) ? [] : [k]));
  if (drop.length === 0) return [x, ix];
  return [sum(x, drop), [...ix].filter((c) => keep.has(c)).join("")];
}

// One pairwise contraction as a batched matmul: batch = shared and kept,
// contracted = shared and not kept, free = in one operand only.
function contract(
  a: NDArray,
  aIx: string,
  b: NDArray,
  bIx: string,
  keep: Set<string>,
  sizes: Map<string, number>,
): [NDArray, string] {
  const shared = [...aIx].filter((c) => bIx.includes(c));
  const batch = shared.filter((c) => keep.has(c));
  const con = shared.filter((c) => !keep.has(c));
  const fa = [...aIx].filter((c) => !bIx.includes(c));
  const fb = [...bIx].filter((c) => !aIx.includes(c));
  const size = (cs: string[]) => sizeOf(cs.map((c) => sizes.get(c)!));
  const prep = (x: NDArray, ix: string, order: string[], shape: number[]) => {
    const t = transpose(x, order.map((c) => ix.indexOf(c)));
    return reshape(broadcastTo(t, order.map((c) => sizes.get(c)!)), shape);
  };
  const A = prep(a, aIx, [...batch, ...fa, ...con], [size(batch), size(fa), size(con)]);
  const B = prep(b, bIx, [...batch, ...con, ...fb], [size(batch), size(con), size(fb)]);
  const out = reshape(matmul(A, B), [...batch, ...fa, ...fb].map((c) => sizes.get(c)!));
  return [out, [...batch, ...fa, ...fb].join("")];
}
