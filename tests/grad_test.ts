import { assert, assertEquals, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";

// deterministic pseudo-random float64 data without ties
function data(shape: number[], seed: number, scale = 1): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  let s = seed * 7919 + 17;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    v[i] = ((s / 2147483647) * 2 - 1) * scale + i * 1e-3;
  }
  return ts.array(v, { shape });
}

// The per-op finite-difference sweep lives in testing_test.ts (checkGrad over every op).

Deno.test("grad of grad: Hessian-vector product matches finite differences of the gradient", () => {
  const f = (x: NDArray) => x.mul(x).sin().sum().add(ts.matmul(x.reshape([1, 4]), x.reshape([4, 1])).sum().pow(2));
  const x = data([4], 7), v = data([4], 8);
  const g = ts.grad(f);
  const hvp = ts.grad((x: NDArray) => g(x).mul(v).sum())(x).dataSync();
  const eps = 1e-5;
  const gp = g(x.add(v.mul(eps))).dataSync(), gm = g(x.sub(v.mul(eps))).dataSync();
  for (let i = 0; i < 4; i++) {
    const fd = (gp[i] - gm[i]) / (2 * eps);
    assert(Math.abs(fd - hvp[i]) < 1e-5 * Math.max(1, Math.abs(fd)), `hvp[${i}] = ${hvp[i]}, fd ${fd}`);
  }
});

Deno.test("grad of grad through reductions and matmul", () => {
  const x = data([3], 5);
  // f = (Σx)^3, f' = 3(Σx)^2, f'' summed over all = 6Σx·3
  const d2 = ts.grad((x: NDArray) => ts.grad((y: NDArray) => y.sum().pow(3))(x).sum())(x).dataSync();
  const s = x.sum().item() as number;
  for (const v of d2) assert(Math.abs(v - 18 * s) < 1e-9);
});

Deno.test("MLP gradients equal hand-derived formulas", () => {
  const x = data([5, 3], 11), w1 = data([3, 4], 12), b1 = data([4], 13), w2 = data([4, 2], 14);
  const y = data([5, 2], 15);
  const loss = (p: { w1: NDArray; b1: NDArray; w2: NDArray }) => {
    const h = ts.tanh(ts.matmul(x, p.w1).add(p.b1));
    return ts.matmul(h, p.w2).sub(y).square().sum().mul(0.5);
  };
  const g = ts.grad(loss)({ w1, b1, w2 });
  // by hand: r = h w2 - y; dw2 = hᵀ r; dh = r w2ᵀ; dz = dh ⊙ (1 - h²); dw1 = xᵀ dz; db1 = Σ_n dz
  const h = ts.tanh(ts.matmul(x, w1).add(b1));
  const r = ts.matmul(h, w2).sub(y);
  const dz = ts.matmul(r, w2.transpose()).mul(ts.sub(1, h.square()));
  const close = (a: NDArray, b: NDArray) => {
    const p = a.dataSync(), q = b.dataSync();
    for (let i = 0; i < p.length; i++) assert(Math.abs(p[i] - q[i]) < 1e-12, `${p[i]} vs ${q[i]}`);
  };
  close(g.w2, ts.matmul(h.transpose(), r));
  close(g.w1, ts.matmul(x.transpose(), dz));
  close(g.b1, dz.sum(0));
});

Deno.test("logistic regression converges on a separable synthetic problem", () => {
  const key = ts.array([3]);
  void key;
  const n = 200;
  const xs = new Float32Array(n * 2), ys = new Float32Array(n);
  let s = 12345;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < n; i++) {
    xs[2 * i] = rnd() * 4 - 2;
    xs[2 * i + 1] = rnd() * 4 - 2;
    ys[i] = xs[2 * i] + 2 * xs[2 * i + 1] > 0.3 ? 1 : 0;
  }
  const X = ts.array(xs, { shape: [n, 2] }), Y = ts.array(ys);
  let w = ts.zeros([2]), b = ts.zeros([]);
  const loss = (w: NDArray, b: NDArray) => {
    const z = ts.matmul(X, w).add(b);
    // mean(softplus(z) - y z) = binary cross-entropy with logits
    return z.softplus().sub(z.mul(Y)).mean();
  };
  const vg = ts.valueAndGrad(loss, { argnums: [0, 1] });
  let first = 0, last = 0;
  for (let step = 0; step < 200; step++) {
    const [v, [gw, gb]] = vg(w, b);
    if (step === 0) first = v.item() as number;
    last = v.item() as number;
    w = w.sub(gw.mul(1));
    b = b.sub(gb.mul(1));
  }
  assert(last < first * 0.3, `loss ${first} -> ${last}`);
  const pred = ts.matmul(X, w).add(b).greater(0).cast("float32");
  const acc = pred.equal(Y).cast("float32").mean().item() as number;
  assert(acc > 0.95, `accuracy ${acc}`);
});

Deno.test("valueAndGrad: argnums tuple, hasAux, pytrees, stopGradient, customVjp", () => {
  const f = (p: { a: NDArray; b: NDArray[] }, x: NDArray) => [p.a.mul(x).sum().add(p.b[0].mul(p.b[1]).sum()), x.mul(2)];
  const p = { a: ts.array([1, 2]), b: [ts.array([3]), ts.array([4])] };
  const x = ts.array([5, 6]);
  const [[v, aux], [gp, gx]] = ts.valueAndGrad(f, { argnums: [0, 1], hasAux: true })(p, x);
  assertEquals(v.item(), 5 + 12 + 12);
  assertEquals(aux.toArray(), [10, 12]);
  assertEquals(gp.a.toArray(), [5, 6]);
  assertEquals(gp.b[0].toArray(), [4]);
  assertEquals(gp.b[1].toArray(), [3]);
  assertEquals(gx.toArray(), [1, 2]);
  assertEquals(ts.grad((x: NDArray) => x.mul(ts.stopGradient(x)).sum())(ts.array([3])).toArray(), [3]);
  const clip = ts.customVjp((x: NDArray) => [x.mul(1), null], (_r: unknown, g: NDArray) => [g.clip(-1, 1)]);
  assertEquals(ts.grad((x: NDArray) => clip(x).mul(5).sum())(ts.array([1, 2])).toArray(), [1, 1]);
  // customVjp result still differentiates inside an outer computation
  assertEquals(ts.grad((x: NDArray) => clip(x.mul(3)).sum())(ts.array([1])).toArray(), [3]);
});

Deno.test("cast passes the gradient through in the input's dtype", () => {
  const g = ts.grad((x: NDArray) => x.cast("float32").mul(2).sum())(ts.array([1.5, 2], { dtype: "float64" }));
  assertEquals(g.dtype, "float64");
  assertEquals(g.toArray(), [2, 2]);
});

Deno.test("grad errors: non-scalar output, integer input, bad argnums", () => {
  assertThrows(() => ts.grad((x: NDArray) => x)(ts.array([1, 2])), TypeError, "float scalar");
  assertThrows(() => ts.grad((x: NDArray) => x.sum())(ts.array([1], { dtype: "int32" })), TypeError, "int32");
  assertThrows(() => ts.grad((x: NDArray) => x.sum(), { argnums: 2 })(ts.array([1])), RangeError, "argnums");
});

Deno.test("non-differentiable ops give zero gradients", () => {
  const g = ts.grad((x: NDArray) => x.floor().add(x.round()).sum().add(x.argmax().cast("float32")))(
    ts.array([1.5, 2.5]),
  );
  assertEquals(g.toArray(), [0, 0]);
});

Deno.test("nothing from the trace is retained: 1,000 training steps keep the heap flat", () => {
  const gc = (globalThis as unknown as { gc?: () => void }).gc;
  let w = data([16, 16], 21).cast("float32");
  const x = data([8, 16], 22).cast("float32");
  const step = () => {
    const [, g] = ts.valueAndGrad((w: NDArray) => ts.matmul(x, w).relu().square().mean())(w);
    w = w.sub(g.mul(0.01));
    w.dataSync();
  };
  for (let i = 0; i < 100; i++) step();
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 1000; i++) step();
  gc?.();
  const growth = Deno.memoryUsage().heapUsed - before;
  assert(growth < 8e6, `heap grew by ${growth} bytes over 1,000 steps`);
});
