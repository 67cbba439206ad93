// The lazy graph: one node per primitive application. A realized node holds a
// contiguous row-major buffer and (outside a trace) drops its inputs, so
// graphs never grow across training steps.
import type { DType, TypedArray } from "./_dtype.ts";

export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "log1p"
  | "expm1"
  | "sin"
  | "cos"
  | "tanh"
  | "sqrt"
  | "recip"
  | "abs"
  | "sign"
  | "floor"
  | "ceil"
  | "round"
  | "erf"
  | "erfinv"
  | "sigmoid"
  | "isnan"
  | "isfinite"
  | "not";
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "mod"
  | "idiv"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "eq"
  | "ne"
  | "and"
  | "or"
  | "xor"
  | "atan2";
export type ReduceOp = "sum" | "prod" | "max" | "min";

/** Per-axis window geometry of pooling: explicit start and tap count per output cell. */
export interface WindowAxis {
  /** input length */
  size: number;
  /** first tap position per output cell (may be negative = padding) */
  starts: Int32Array;
  /** number of taps per output cell */
  counts: Int32Array;
  /** distance between taps */
  dilation: number;
}

/** Convolution geometry shared by `conv`, `convGradInput` and `convGradWeight`. */
export interface ConvGeometry {
  /** spatial input size */
  inSize: number[];
  /** spatial kernel size */
  kernel: number[];
  /** spatial output size */
  outSize: number[];
  stride: number[];
  dilation: number[];
  /** padding before each spatial axis (after = implied by the sizes) */
  padBefore: number[];
  groups: number;
  /** forced algorithm, or automatic */
  algorithm: "auto" | "direct" | "im2col" | "winograd";
}

export interface PrimParams {
  buffer: Record<string, never>;
  fill: { value: number };
  alias: Record<string, never>;
  stopGradient: Record<string, never>;
  custom: { vjp: (cotangent: Node) => (Node | null)[] };
  unary: { op: UnaryOp };
  binary: { op: BinaryOp };
  where: Record<string, never>;
  cast: Record<string, never>;
  reduce: { op: ReduceOp; axes: number[] };
  argreduce: { op: "max" | "min"; axis: number };
  reshape: Record<string, never>;
  permute: { perm: number[] };
  expand: Record<string, never>;
  slice: { starts: number[]; steps: number[] };
  pad: { widths: [number, number][]; value: number };
  gather: { axis: number };
  scatterAdd: { axis: number };
  dot: Record<string, never>;
  conv: ConvGeometry;
  convGradInput: ConvGeometry;
  convGradWeight: ConvGeometry;
  windowSum: { axes: WindowAxis[] };
  windowSumT: { axes: WindowAxis[] };
  windowArgmax: { axes: WindowAxis[] };
  argsort: { axis: number; descending: boolean };
  cumsum: { axis: number; reverse: boolean };
  randomBits: Record<string, never>;
}

/** The closed set of primitives; each has exactly one VJP rule in `_vjp.ts`. */
export type Prim = keyof PrimParams;

let nextId = 0;

/**
 * What fast paths need to know of a node after its realization dropped its
 * inputs (see `_schedule.ts`): a window argmax's input node id; on a
 * condition node, the id and values of the relu it selects.
 */
export interface Noted {
  inputId?: number;
  reluId?: number;
  reluValues?: TypedArray;
}

export class Node<P extends Prim = Prim> {
  readonly id: number = nextId++;
  inputs: Node[];
  buffer: TypedArray | null = null;
  noted: Noted | null = null;
  constructor(
    readonly op: P,
    inputs: Node[],
    readonly params: PrimParams[P],
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    this.inputs = inputs;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  is<Q extends Prim>(op: Q): this is Node<Q> {
    return (this.op as Prim) === op;
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function bufferNode(buffer: TypedArray, shape: readonly number[], dtype: DType): Node<"buffer"> {
  const n = new Node("buffer", [], {}, shape, dtype);
  storeBuffer(n, buffer);
  return n;
}

// Backing stores of realized buffers: never written again (arrays are immutable), so a copy of one stays valid.
const stored = new WeakSet<ArrayBufferLike>();

/** Realize `node` with `buffer` (its value, which nothing writes to afterwards). */
export function storeBuffer(node: Node, buffer: TypedArray): void {
  node.buffer = buffer;
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) stored.add(buffer.buffer);
}

/** Whether `data` is the whole backing store of a realized buffer (and so never changes). */
export function isStored(data: ArrayBufferLike): boolean {
  return stored.has(data);
}

// While a trace (vjp/grad) is active, realized nodes keep their inputs so the
// tape stays whole; outside any trace they drop them.
let traceDepth = 0;
export function enterTrace(): void {
  traceDepth++;
}
export function exitTrace(): void {
  traceDepth--;
}
export function tracing(): boolean {
  return traceDepth > 0;
}
