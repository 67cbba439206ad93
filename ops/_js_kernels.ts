// Plain-JS reference kernels for the heavy primitives (conv kernels live in
// `_conv_kernels.ts`). Inputs arrive realized and contiguous.
import { allocate, type TypedArray } from "./_dtype.ts";
import { type Node, sizeOf, type WindowAxis } from "./_graph.ts";
import { registerKernel } from "./_backend.ts";
import { randomWords } from "./_threefry.ts";

// dot: [B, M, K] x [B, K, N] -> [B, M, N], i-k-j order over a row block.
registerKernel("js", "dot", (node, [a, b]) => {
  const [B, M, N] = node.shape as number[];
  const K = node.inputs[0].shape[2];
  const out = allocate(node.dtype, B * M * N);
  const row = new Float64Array(N);
  for (let bi = 0; bi < B; bi++) {
    const ao = bi * M * K, bo = bi * K * N, oo = bi * M * N;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const av = a[ao + i * K + k];
        if (av === 0) continue;
        const bk = bo + k * N;
        for (let j = 0; j < N; j++) row[j] += av * b[bk + j];
      }
      out.set(row, oo + i * N);
    }
  }
  return out;
});

// Window primitives see x as [P, *S] with up to 3 spatial axes; lower ranks
// are lifted to 3 with trivial axes so one loop nest serves 1-D, 2-D and 3-D.
const TRIVIAL: WindowAxis = { size: 1, starts: new Int32Array([0]), counts: new Int32Array([1]), dilation: 1 };
function lift(axes: WindowAxis[]): WindowAxis[] {
  return [...Array(3 - axes.length).fill(TRIVIAL), ...axes];
}
function outLen(a: WindowAxis): number {
  return a.starts.length;
}

/**
 * Visit every (output cell, valid tap) pair of plane p: f(outFlat, inFlat,
 * rowStart), rowStart true at the first valid tap of each window row (the
 * taps of one outer-tap combination along the last axis).
 */
function forEachTap(axes: WindowAxis[], f: (o: number, i: number, rowStart: boolean) => void): void {
  const [A, B, C] = lift(axes);
  const OB = outLen(B), OC = outLen(C);
  for (let oa = 0; oa < outLen(A); oa++) {
    for (let ob = 0; ob < OB; ob++) {
      for (let oc = 0; oc < OC; oc++) {
        const o = (oa * OB + ob) * OC + oc;
        for (let ta = 0; ta < A.counts[oa]; ta++) {
          const ia = A.starts[oa] + ta * A.dilation;
          if (ia < 0 || ia >= A.size) continue;
          for (let tb = 0; tb < B.counts[ob]; tb++) {
            const ib = B.starts[ob] + tb * B.dilation;
            if (ib < 0 || ib >= B.size) continue;
            let rowStart = true;
            for (let tc = 0; tc < C.counts[oc]; tc++) {
              const ic = C.starts[oc] + tc * C.dilation;
              if (ic < 0 || ic >= C.size) continue;
              f(o, (ia * B.size + ib) * C.size + ic, rowStart);
              rowStart = false;
            }
          }
        }
      }
    }
  }
}

function planes(axes: WindowAxis[], total: number): { P: number; S: number; O: number } {
  const S = sizeOf(axes.map((a) => a.size));
  const O = sizeOf(axes.map(outLen));
  return { P: S === 0 ? 0 : total / S, S, O };
}

/** All (output cell, valid tap) pairs of one plane, in row-major window order, and where window rows start. */
function tapList(axes: WindowAxis[]): { o: Int32Array; i: Int32Array; rowStart: Uint8Array; n: number } {
  let n = 0;
  forEachTap(axes, () => void n++);
  const o = new Int32Array(n), i = new Int32Array(n), rowStart = new Uint8Array(n);
  let k = 0;
  forEachTap(axes, (oo, ii, first) => {
    o[k] = oo;
    rowStart[k] = first ? 1 : 0;
    i[k++] = ii;
  });
  return { o, i, rowStart, n };
}

// Plane-outermost loops over a precomputed tap list keep each plane in cache.
// A window sums row by row: each row's taps (along the last axis) in a double
// r = x₀ + x₁ + …, then s = 0 + r₀ + r₁ + … in row-major order. The order fixes
// the rounding (a double holds most sums of a window's f32 values exactly);
// row by row lets a fast kernel share a row sum between overlapping windows.
registerKernel("js", "windowSum", (node, [x]) => {
  const axes = (node as Node<"windowSum">).params.axes;
  const { P, S, O } = planes(axes, x.length);
  const { o: to, i: ti, rowStart, n } = tapList(axes);
  const acc = new Float64Array(P * O);
  for (let p = 0; p < P; p++) {
    const xo = p * S, ao = p * O;
    let r = 0;
    for (let t = 0; t < n; t++) {
      if (rowStart[t]) {
        if (t > 0) acc[ao + to[t - 1]] += r;
        r = x[xo + ti[t]];
      } else r += x[xo + ti[t]];
    }
    if (n > 0) acc[ao + to[n - 1]] += r;
  }
  const out = allocate(node.dtype, P * O);
  out.set(acc);
  return out;
});

registerKernel("js", "windowSumT", (node, [g]) => {
  const axes = (node as Node<"windowSumT">).params.axes;
  const S = sizeOf(axes.map((a) => a.size));
  const O = sizeOf(axes.map(outLen));
  const P = O === 0 ? 0 : g.length / O;
  const { o: to, i: ti, n } = tapList(axes);
  const acc = new Float64Array(P * S);
  for (let p = 0; p < P; p++) {
    const go = p * O, ao = p * S;
    for (let t = 0; t < n; t++) acc[ao + ti[t]] += g[go + to[t]];
  }
  const out = allocate(node.dtype, P * S);
  out.set(acc);
  return out;
});

// First maximum in row-major window order (strict >); NaN wins (PyTorch CPU).
registerKernel("js", "windowArgmax", (node, [x]) => {
  const axes = (node as Node<"windowArgmax">).params.axes;
  const { P, S, O } = planes(axes, x.length);
  const { o: to, i: ti, n } = tapList(axes);
  const best = new Float64Array(P * O).fill(-Infinity);
  const arg = new Int32Array(P * O).fill(-1);
  for (let p = 0; p < P; p++) {
    const xo = p * S, ko = p * O;
    for (let t = 0; t < n; t++) {
      const v = x[xo + ti[t]], k = ko + to[t];
      if (arg[k] < 0 || v > best[k] || (v !== v && best[k] === best[k])) {
        best[k] = v;
        arg[k] = ti[t];
      }
    }
  }
  return arg;
});

// scatterAdd(base, index, updates) along `axis`; index and updates share a shape
// that equals base's except along axis.
registerKernel("js", "scatterAdd", (node, [base, idx, upd]) => {
  const axis = (node as Node<"scatterAdd">).params.axis;
  const shape = node.inputs[1].shape, bshape = node.shape;
  const outer = sizeOf(shape.slice(0, axis)), inner = sizeOf(shape.slice(axis + 1));
  const n = shape[axis], m = bshape[axis];
  const acc = Float64Array.from(base);
  for (let a = 0; a < outer; a++) {
    for (let t = 0; t < n; t++) {
      for (let c = 0; c < inner; c++) {
        const src = (a * n + t) * inner + c;
        let j = idx[src];
        if (j < 0) j += m;
        if (!(j >= 0 && j < m)) {
          throw new RangeError(`scatterAdd: index out of range: expected an index in [-${m}, ${m}), got ${idx[src]}`);
        }
        acc[(a * m + j) * inner + c] += upd[src];
      }
    }
  }
  const out = allocate(node.dtype, acc.length);
  out.set(acc);
  return out;
});

// Stable argsort along `axis`; NaN sorts last ascending (NumPy), first descending.
registerKernel("js", "argsort", (node, [x]) => {
  const { axis, descending } = (node as Node<"argsort">).params;
  const shape = node.shape;
  const outer = sizeOf(shape.slice(0, axis)), inner = sizeOf(shape.slice(axis + 1)), n = shape[axis];
  const out = new Int32Array(x.length);
  const order = new Array<number>(n);
  const vals = new Float64Array(n);
  const key = (v: number): number => (v !== v ? Infinity : v);
  for (let a = 0; a < outer; a++) {
    for (let c = 0; c < inner; c++) {
      for (let t = 0; t < n; t++) {
        order[t] = t;
        vals[t] = x[(a * n + t) * inner + c];
      }
      order.sort((i, j) => {
        const vi = vals[i], vj = vals[j];
        if (vi !== vi || vj !== vj) {
          const ni = vi !== vi ? 1 : 0, nj = vj !== vj ? 1 : 0;
          return (descending ? nj - ni : ni - nj) || i - j;
        }
        const d = descending ? key(vj) - key(vi) : key(vi) - key(vj);
        return d || i - j;
      });
      for (let t = 0; t < n; t++) out[(a * n + t) * inner + c] = order[t];
    }
  }
  return out;
});

registerKernel("js", "cumsum", (node, [x]) => {
  const { axis, reverse } = (node as Node<"cumsum">).params;
  const shape = node.shape;
  const outer = sizeOf(shape.slice(0, axis)), inner = sizeOf(shape.slice(axis + 1)), n = shape[axis];
  const out = allocate(node.dtype, x.length);
  for (let a = 0; a < outer; a++) {
    for (let c = 0; c < inner; c++) {
      let s = 0;
      for (let u = 0; u < n; u++) {
        const t = reverse ? n - 1 - u : u;
        const k = (a * n + t) * inner + c;
        s += x[k];
        out[k] = s;
      }
    }
  }
  return out;
});

registerKernel("js", "randomBits", (node, [key]) => randomWords(key[0], key[1], sizeOf(node.shape)));

export type { TypedArray };
