/**
 * The array core: NDArray, creation, elementwise, reductions, movement,
 * linear algebra, autodiff, random, convolution and pooling.
 *
 * @module
 */
import "./_js_kernels.ts";
import "./_conv_kernels.ts";
import "./_window_kernels.ts";
import "./_wasm_conv.ts";
import "./_wasm_fuse.ts";
import "./_wasm_reduce.ts";
export { NDArray, realizeAll } from "./ndarray.ts";
export type { DType, NestedArray, Operand, SliceSpec, TypedArray } from "./ndarray.ts";
export * from "./creation.ts";
export * from "./elementwise.ts";
export * from "./reduce.ts";
export * from "./movement.ts";
export * from "./linalg.ts";
export * from "./conv.ts";
export * from "./pool.ts";
export { kernelLog, setDebug } from "./_schedule.ts";
export { getBackend, setBackend } from "./_backend.ts";
export { customVjp, grad, stopGradient, valueAndGrad, vjp } from "./grad.ts";
export type { GradOptions, Pullback, Tree } from "./grad.ts";
export { getNumThreads, setNumThreads, shutdownThreads } from "./_wasm_backend.ts";
