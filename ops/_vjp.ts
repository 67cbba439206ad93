// One VJP rule per primitive, in a table typed over the primitive set, so a
// new primitive without a rule does not compile. Rules emit ordinary lazy
// ops: gradients fuse and realize with everything else.
import type { Node, Prim } from "./_graph.ts";
import { cast, isFloat, make, type NDArray, nodeOf, wrap } from "./_prim.ts";
import { add, cos, div, equal, exp, floor, greater, log, mul, neg, pow, sign, sin, sub, where } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { broadcastTo, flip, pad, reshape, slice, transpose } from "./movement.ts";
import { zeros } from "./creation.ts";

/** Gradient per input (null = none) from the cotangent `g` of `node`'s output. */
type Rule<P extends Prim> = (node: Node<P>, g: NDArray, inputs: NDArray[], out: NDArray) => (NDArray | null)[];

const TWO_OVER_SQRT_PI = 1.1283791670955126;

function unaryRule(node: Node<"unary">, g: NDArray, [x]: NDArray[], out: NDArray): (NDArray | null)[] {
  switch (node.params.op) {
    case "neg":
      return [neg(g)];
    case "exp":
      return [mul(g, out)];
    case "log":
      return [div(g, x)];
    case "log1p":
      return [div(g, add(x, 1))];
    case "expm1":
      return [mul(g, add(out, 1))];
    case "sin":
      return [mul(g, cos(x))];
    case "cos":
      return [neg(mul(g, sin(x)))];
    case "tanh":
      return [mul(g, sub(1, mul(out, out)))];
    case "sqrt":
      return [div(g, mul(out, 2))];
    case "recip":
      return [neg(mul(g, mul(out, out)))];
    case "abs":
      return [mul(g, sign(x))];
    case "erf":
      return [mul(g, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI))];
    case "erfinv":
      return [mul(g, mul(exp(mul(out, out)), 1 / TWO_OVER_SQRT_PI))];
    case "sigmoid":
      return [mul(g, mul(out, sub(1, out)))];
    case "sign":
    case "floor":
    case "ceil":
    case "round":
      return [mul(g, 0)];
    default:
      return [null];
  }
}

function binaryRule(node: Node<"binary">, g: NDArray, [a, b]: NDArray[], out: NDArray): (NDArray | null)[] {
  switch (node.params.op) {
    case "add":
      return [g, g];
    case "sub":
      return [g, neg(g)];
    case "mul":
      return [mul(g, b), mul(g, a)];
    case "div":
      return [div(g, b), neg(div(mul(g, out), b))];
    case "pow": {
      // PyTorch: no NaN from 0^(b-1) when b = 0, and log(0) contributes 0
      const ga = where(equal(b, 0), 0, mul(g, mul(b, pow(a, sub(b, 1)))));
      const gb = mul(g, mul(out, where(equal(a, 0), 0, log(a))));
      return [ga, gb];
    }
    case "maximum":
    case "minimum": {
      const pick = node.params.op === "maximum" ? greater(a, b) : greater(b, a);
      const half = mul(cast(equal(a, b), g.dtype), 0.5);
      const wa = add(cast(pick, g.dtype), half);
      return [mul(g, wa), mul(g, sub(1, wa))];
    }
    case "mod":
      return [g, neg(mul(g, floor(div(a, b))))];
    case "atan2": {
      const r = add(mul(a, a), mul(b, b));
      return [div(mul(g, b), r), neg(div(mul(g, a), r))];
    }
    case "idiv":
      return [mul(g, 0), mul(g, 0)];
    default:
      return [null, null];
  }
}

// Sum the cotangent of a broadcast back to the source shape: the one place
// where unbroadcasting happens.
function unbroadcast(g: NDArray, shape: readonly number[]): NDArray {
  const off = g.ndim - shape.length;
  const axes = g.shape.flatMap((d, k) => (k < off || (shape[k - off] === 1 && d !== 1) ? [k] : []));
  return reshape(axes.length ? sum(g, axes) : g, shape as number[]);
}

// Adjoint of a strided slice along every axis: place g back into zeros.
function unslice(g: NDArray, node: Node<"slice">, inShape: readonly number[]): NDArray {
  const { starts, steps } = node.params;
  let y = g;
  inShape.forEach((n, k) => {
    const m = y.shape[k];
    if (m === 0) {
      y = zeros(y.shape.map((d, j) => (j === k ? n : d)), { dtype: g.dtype });
      return;
    }
    let step = steps[k], first = starts[k];
    if (step < 0) {
      y = flip(y, k);
      first = starts[k] + (m - 1) * step;
      step = -step;
    }
    if (step > 1) {
      const s = y.shape;
      const withOne = [...s.slice(0, k + 1), 1, ...s.slice(k + 1)];
      const spread = pad(
        reshape(y, withOne),
        withOne.map((_, j) => (j === k + 1 ? [0, step - 1] : [0, 0]) as [number, number]),
      );
      y = reshape(spread, s.map((d, j) => (j === k ? d * step : d)));
      y = slice(y, s.map((_, j) => (j === k ? [0, (m - 1) * step + 1] : null)));
    }
    const len = y.shape[k];
    y = pad(y, y.shape.map((_, j) => (j === k ? [first, n - first - len] : [0, 0]) as [number, number]));
  });
  return y;
}

function windowLike<P extends "windowSum" | "windowSumT">(
  op: P,
  x: NDArray,
  node: Node<"windowSum" | "windowSumT">,
  shape: number[],
): NDArray {
  return make(op, [x], { axes: node.params.axes }, shape, x.dtype);
}

export const VJP_RULES: { [P in Prim]: Rule<P> } = {
  buffer: () => [],
  fill: () => [],
  alias: (_n, g) => [g],
  stopGradient: () => [null],
  custom: (node, g) => node.params.vjp(nodeOf(g)).map((n) => (n ? wrap(n) : null)),
  unary: unaryRule,
  binary: binaryRule,
  where: (_n, g, [c]) => [null, where(c, g, 0), where(c, 0, g)],
  cast: (_n, g, [x]) => [isFloat(x.dtype) && isFloat(g.dtype) ? cast(g, x.dtype) : null],
  reduce: (node, g, [x], out) => {
    const keep = x.shape.map((d, k) => (node.params.axes.includes(k) ? 1 : d));
    const gb = broadcastTo(reshape(g, keep), x.shape);
    switch (node.params.op) {
      case "sum":
        return [gb];
      case "prod":
        return [div(mul(gb, broadcastTo(reshape(out, keep), x.shape)), x)];
      default: {
        // tied extrema share the cotangent equally (JAX, PyTorch amax)
        const hit = cast(equal(x, broadcastTo(reshape(out, keep), x.shape)), g.dtype);
        const count = broadcastTo(sum(hit, node.params.axes, true), x.shape);
        return [div(mul(gb, hit), count)];
      }
    }
  },
  argreduce: () => [null],
  reshape: (_n, g, [x]) => [reshape(g, x.shape)],
  permute: (node, g) => {
    const inv = new Array<number>(node.params.perm.length);
    node.params.perm.forEach((p, k) => (inv[p] = k));
    return [transpose(g, inv)];
  },
  expand: (_n, g, [x]) => [unbroadcast(g, x.shape)],
  slice: (node, g, [x]) => [unslice(g, node, x.shape)],
  pad: (node, g) => [slice(g, node.params.widths.map(([b], k) => [b, b + node.inputs[0].shape[k]]))],
  gather: (
    node,
    g,
    [x, idx],
  ) => [
    make("scatterAdd", [zeros(x.shape, { dtype: g.dtype }), idx, g], { axis: node.params.axis }, x.shape, g.dtype),
    null,
  ],
  scatterAdd: (node, g, [, idx]) => [g, null, make("gather", [g, idx], { axis: node.params.axis }, idx.shape, g.dtype)],
  dot: (_n, g, [a, b]) => [
    make("dot", [g, transpose(b, [0, 2, 1])], {}, a.shape, g.dtype),
    make("dot", [transpose(a, [0, 2, 1]), g], {}, b.shape, g.dtype),
  ],
  conv: (node, g, [x, w]) => [
    make("convGradInput", [g, w], node.params, x.shape, g.dtype),
    make("convGradWeight", [x, g], node.params, w.shape, g.dtype),
  ],
  convGradInput: (node, h, [g, w]) => [
    make("conv", [h, w], node.params, g.shape, h.dtype),
    make("convGradWeight", [h, g], node.params, w.shape, h.dtype),
  ],
  convGradWeight: (node, h, [x, g]) => [
    make("convGradInput", [g, h], node.params, x.shape, h.dtype),
    make("conv", [x, h], node.params, g.shape, h.dtype),
  ],
  windowSum: (node, g, [x]) => [windowLike("windowSumT", g, node, x.shape)],
  windowSumT: (node, h, [g]) => [windowLike("windowSum", h, node, g.shape)],
  windowArgmax: () => [null],
  argsort: () => [null],
  cumsum: (
    node,
    g,
  ) => [make("cumsum", [g], { axis: node.params.axis, reverse: !node.params.reverse }, g.shape, g.dtype)],
  randomBits: () => [null],
};
