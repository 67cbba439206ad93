// The "wasm" backend: kernels on WebAssembly SIMD (see `_wasm_gemm.ts`),
// registered over the JS reference, which serves every primitive or dtype
// without a wasm kernel. Importing this module makes "wasm" the default
// backend when the engine validates WebAssembly SIMD.
import { backend, getBackend, registerKernel, setBackend } from "./_backend.ts";
import type { TypedArray } from "./_dtype.ts";
import type { Node } from "./_graph.ts";
import { dotF32, GEMM_AVAILABLE } from "./_wasm_gemm.ts";

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

if (GEMM_AVAILABLE) {
  registerKernel("wasm", "dot", (node, inputs) => {
    const [a, b] = inputs;
    if (node.dtype !== "float32" || !(a instanceof Float32Array) || !(b instanceof Float32Array)) {
      return reference(node, inputs);
    }
    const [B, M, N] = node.shape as number[];
    const K = node.inputs[0].shape[2];
    // Tiny products (a few multiply-adds each) cost less than a trip into wasm.
    if (M * N * K <= 64) return reference(node, inputs);
    return dotF32(B, M, N, K, a, b) ?? reference(node, inputs);
  });
  setBackend("wasm");
}
