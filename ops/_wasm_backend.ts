// The "wasm" backend: kernels on WebAssembly SIMD (see `_wasm_gemm.ts`),
// registered over the JS reference, which serves every primitive or dtype
// without a wasm kernel. Importing this module makes "wasm" the default
// backend when the engine validates WebAssembly SIMD.
import { backend, getBackend, registerKernel, setBackend } from "./_backend.ts";
import type { TypedArray } from "./_dtype.ts";
import type { Node } from "./_graph.ts";
import { registerPattern, STRIDED_VIEW } from "./_schedule.ts";
import { viewOf, viewOfStored } from "./_wasm_fuse.ts";
import { dotF32, GEMM_AVAILABLE, gemmBatchedF32 } from "./_wasm_gemm.ts";

export { getNumThreads, setNumThreads, shutdownThreads } from "./_wasm_gemm.ts";

/** Run `node` on the JS reference kernels. */
function reference(node: Node, inputs: TypedArray[]): TypedArray {
  const prev = getBackend();
  setBackend("js");
  try {
    return backend().run(node, inputs);
  } finally {
    setBackend(prev);
  }
}

/**
 * An R×C matrix at flat index coef·(q, r, c) + off in its buffer, as the GEMM
 * reads it: rows ld apart, or (trans) columns ld apart; null otherwise.
 */
function matrixOf(coef: number[], R: number, C: number): { ld: number; trans: boolean } | null {
  const [, cr, cc] = coef;
  if (coef.some((k) => k < 0)) return null;
  if ((C === 1 || cc === 1) && (R === 1 || cr >= C)) return { ld: R === 1 ? C : cr, trans: false };
  if ((R === 1 || cr === 1) && (C === 1 || cc >= R)) return { ld: C === 1 ? R : cc, trans: true };
  return null;
}

/** A dot operand read in place: its stored buffer, the offset of element (0, 0, 0) and the per-axis strides. */
interface Operand {
  buffer: Float32Array;
  off: number;
  coef: number[];
}

/** A dot's operands read in place from stored buffers, as the GEMM's strided matrices; null where one is not. */
function operandsOf(
  dot: Node,
  M: number,
  N: number,
  K: number,
  input: (n: Node) => TypedArray,
): { a: Operand; b: Operand; ma: { ld: number; trans: boolean }; mb: { ld: number; trans: boolean } } | null {
  const [a, b] = dot.inputs.map((n) => viewOfStored(n, input));
  if (!a || !b || !(a.buffer instanceof Float32Array) || !(b.buffer instanceof Float32Array)) return null;
  const ma = matrixOf(a.coef, M, K), mb = matrixOf(b.coef, K, N);
  if (!ma || !mb || a.off < 0 || b.off < 0) return null;
  return {
    a: { buffer: a.buffer, off: a.off, coef: a.coef },
    b: { buffer: b.buffer, off: b.off, coef: b.coef },
    ma,
    mb,
  };
}

/** Multiply-adds up to which a dot costs less in JS than a trip into wasm. */
const TINY_DOT = 64;

if (GEMM_AVAILABLE) {
  registerKernel("wasm", "dot", (node, inputs) => {
    const [a, b] = inputs;
    if (node.dtype !== "float32" || !(a instanceof Float32Array) || !(b instanceof Float32Array)) {
      return reference(node, inputs);
    }
    const [B, M, N] = node.shape as number[];
    const K = node.inputs[0].shape[2];
    if (M * N * K <= TINY_DOT) return reference(node, inputs);
    return dotF32(B, M, N, K, a, b) ?? reference(node, inputs);
  });
  // A dot whose operands are transposed, sliced or broadcast views of stored
  // arrays (a linear layer's x·wᵀ, the gradients' gᵀ·x and g·w) reads them in
  // place: the GEMM packs its panels from any row or column stride, in the same
  // order, so the result is the one of the materialized operands.
  registerPattern((node, _uses, input) => {
    if (node.op !== "dot" || node.dtype !== "float32" || getBackend() !== "wasm") return null;
    const [B, M, N] = node.shape as number[], K = node.inputs[0].shape[2];
    // tiny, or both operands realized as they are: the dot kernel's case
    if (M * N * K <= TINY_DOT || node.inputs.every((n) => n.buffer)) return null;
    const ops = operandsOf(node, M, N, K, input);
    if (!ops) return null;
    const { a, b, ma, mb } = ops;
    const out = new Float32Array(B * M * N);
    const [sa, sb] = [a, b].map((v) => (B === 1 ? 0 : v.coef[0]));
    gemmBatchedF32(
      B,
      M,
      N,
      K,
      a.buffer,
      a.off,
      sa,
      ma.ld,
      b.buffer,
      b.off,
      sb,
      mb.ld,
      out,
      0,
      M * N,
      N,
      false,
      ma.trans,
      mb.trans,
    );
    return { buffer: out, name: "dot of views" };
  });
  // The transpose of a dot's result (a linear layer's weight gradient (xᵀ·g)ᵀ, laid out as its weights) is the
  // dot of the swapped, transposed operands, Cᵀ = Bᵀ·Aᵀ, written in the transposed layout by one GEMM: every
  // element is the same products accumulated in the same order, so the bits are those of the dot transposed.
  registerPattern((node, uses, input) => {
    if (!STRIDED_VIEW.has(node.op) || node.dtype !== "float32" || getBackend() !== "wasm") return null;
    const v = viewOf(node), d = v?.base;
    if (!v || !d || d.op !== "dot" || d.buffer || v.off !== 0 || uses(d) !== uses(node)) return null;
    const [B, M, N] = d.shape as number[], K = d.inputs[0].shape[2];
    if (B !== 1 || M < 2 || N < 2 || M * N * K <= TINY_DOT) return null;
    // node's axes other than 1s: [N, M] at j + i·N of the dot's [M, N]
    const axes = node.shape.flatMap((s, k) => (s === 1 ? [] : [[s, v.coef[k]]]));
    if (axes.length !== 2 || axes[0].join() !== `${N},1` || axes[1].join() !== `${M},${N}`) return null;
    const ops = operandsOf(d, M, N, K, input);
    if (!ops) return null;
    const { a, b, ma, mb } = ops;
    const out = new Float32Array(M * N);
    // Bᵀ is N×K: B's rows ld apart are Bᵀ's columns (and the other way round); Aᵀ likewise
    gemmBatchedF32(
      1,
      N,
      M,
      K,
      b.buffer,
      b.off,
      0,
      mb.ld,
      a.buffer,
      a.off,
      0,
      ma.ld,
      out,
      0,
      M * N,
      M,
      false,
      !mb.trans,
      !ma.trans,
    );
    return { buffer: out, name: "transposed dot of views" };
  });
  setBackend("wasm");
}
