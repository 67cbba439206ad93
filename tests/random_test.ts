import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";

const r = ts.random;
const vals = (x: NDArray): number[] => Array.from(x.dataSync() as ArrayLike<number>);

function moments(x: NDArray): { mean: number; variance: number } {
  const v = vals(x);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, variance };
}

// |observed - expected| within z standard errors
function within(observed: number, expected: number, stderr: number, z = 5): void {
  assert(Math.abs(observed - expected) <= z * stderr, `${observed} vs ${expected} (stderr ${stderr})`);
}

Deno.test("random.key: seed words, negative and large seeds", () => {
  assertEquals(r.key(0).toArray(), [0, 0]);
  assertEquals(r.key(42).toArray(), [0, 42]);
  assertEquals(r.key(2 ** 40 + 5).toArray(), [256, 5]);
  assertEquals(r.key(-1).toArray(), [-1, -1]);
  assertEquals(r.key(2 ** 32 - 1).toArray(), [0, -1]);
  const k = r.key(7);
  assertEquals([k.dtype, k.shape], ["int32", [2]]);
  assertThrows(() => r.key(1.5), TypeError, "seed");
  assertThrows(() => r.key(2 ** 60), TypeError, "seed");
});

Deno.test("random: Threefry-2x32 known answer (Random123 KAT, key 0 counter 0)", () => {
  const w = vals(r.bits(r.key(0), [2])).map((v) => (v >>> 0).toString(16));
  assertEquals(w, ["6b200159", "99ba4efe"]);
});

Deno.test("random: same key same numbers, across samplers and repeated calls", () => {
  const k = r.key(123);
  for (
    const f of [
      () => r.uniform(k, [5, 7]),
      () => r.uniform(k, [9], { dtype: "float64" }),
      () => r.normal(k, [33]),
      () => r.truncatedNormal(k, [10]),
      () => r.bernoulli(k, 0.5, [20]),
      () => r.categorical(k, ts.zeros([4, 6])),
      () => r.randint(k, [12], 0, 100),
      () => r.permutation(k, 20),
      () => r.shuffle(k, ts.arange(10)),
    ]
  ) {
    assertEquals(vals(f()), vals(f()));
  }
  // a key rebuilt from the same seed is the same key
  assertEquals(vals(r.normal(r.key(5), [8])), vals(r.normal(r.key(5), [8])));
});

Deno.test("random: different keys give different numbers", () => {
  const a = vals(r.uniform(r.key(0), [64])), b = vals(r.uniform(r.key(1), [64]));
  assertNotEquals(a, b);
  assert(a.filter((v, i) => v === b[i]).length === 0);
});

Deno.test("random: samples are a prefix-stable function of the shape's size", () => {
  // element j uses word j: a larger sample starts with the smaller one
  const k = r.key(3);
  assertEquals(vals(r.uniform(k, [5])), vals(r.uniform(k, [10])).slice(0, 5));
  assertEquals(vals(r.uniform(k, [2, 3])), vals(r.uniform(k, [6])));
});

Deno.test("random.split / foldIn: keys are distinct and independent", () => {
  const k = r.key(0);
  const ks = r.split(k, 4);
  assertEquals(ks.length, 4);
  assertEquals(r.split(k).length, 2);
  const rows = ks.map((x) => {
    assertEquals([x.dtype, x.shape], ["int32", [2]]);
    return vals(x).join();
  });
  assertEquals(new Set(rows).size, 4);
  // deterministic
  assertEquals(vals(r.split(k, 4)[2]), vals(ks[2]));
  // split(k, n) keys are a prefix of split(k, m) for m > n
  assertEquals(vals(r.split(k, 2)[1]), vals(ks[1]));
  // child keys differ from the parent and from its own samples
  assert(!rows.includes(vals(k).join()));
  const folded = [0, 1, 2, 3].map((d) => vals(r.foldIn(k, d)).join());
  assertEquals(new Set([...folded, ...rows]).size, 8, "fold-in keys must not collide with split keys");
  assertEquals(vals(r.foldIn(k, 2)), vals(r.foldIn(k, 2)));
  assertEquals(vals(r.foldIn(k, -1)), vals(r.foldIn(k, 2 ** 32 - 1)));
  // samples from sibling keys are uncorrelated
  const a = vals(r.normal(ks[0], [20000])), b = vals(r.normal(ks[1], [20000]));
  let c = 0;
  for (let i = 0; i < a.length; i++) c += a[i] * b[i];
  within(c / a.length, 0, 1 / Math.sqrt(a.length));
  const f0 = vals(r.normal(r.foldIn(k, 0), [20000]));
  c = 0;
  for (let i = 0; i < a.length; i++) c += a[i] * f0[i];
  within(c / a.length, 0, 1 / Math.sqrt(a.length));
  // lazy keys work as inputs
  const lazy = r.split(r.split(k)[1], 3)[2];
  assertEquals(r.uniform(lazy, [3]).shape, [3]);
  assertThrows(() => r.uniform(ts.array([1, 2]), [2]), TypeError, "key must be an int32 array of shape [2]");
  assertThrows(() => r.split(k, -1), RangeError);
});

Deno.test("random.uniform: range, dtype and moments", () => {
  const n = 100000;
  for (const dtype of ["float32", "float64"] as const) {
    const u = r.uniform(r.key(11), [n], { dtype });
    assertEquals(u.dtype, dtype);
    const v = vals(u);
    assert(v.every((x) => x >= 0 && x < 1));
    const { mean, variance } = moments(u);
    within(mean, 0.5, Math.sqrt(1 / 12 / n));
    within(variance, 1 / 12, Math.sqrt(1 / 180 / n));
  }
  // float32 values sit on the 2^-24 grid, float64 values use more bits
  assert(vals(r.uniform(r.key(1), [100])).every((x) => Number.isInteger(x * 2 ** 24)));
  assert(vals(r.uniform(r.key(1), [100], { dtype: "float64" })).some((x) => !Number.isInteger(x * 2 ** 24)));
  const s = r.uniform(r.key(2), [20000], { minval: -3, maxval: 5 });
  const sv = vals(s);
  assert(sv.every((x) => x >= -3 && x < 5));
  within(moments(s).mean, 1, 8 * Math.sqrt(1 / 12 / 20000));
  assertEquals(r.uniform(r.key(0)).shape, []);
  assertEquals(r.uniform(r.key(0), [0, 3]).shape, [0, 3]);
  // maxval is exclusive even when rounding would reach it
  assert(vals(r.uniform(r.key(0), [1000], { minval: 1, maxval: 1 + 2 ** -23 })).every((x) => x === 1));
  assertThrows(() => r.uniform(r.key(0), [2], { minval: 1, maxval: 1 }), RangeError);
  assertThrows(() => r.uniform(r.key(0), [2], { dtype: "int32" }), TypeError, "float32 or float64");
  assertThrows(() => r.uniform(r.key(0), [-1]), TypeError, "shape");
});

Deno.test("random.normal: moments, tails, mean/std options", () => {
  const n = 100000;
  for (const dtype of ["float32", "float64"] as const) {
    const z = r.normal(r.key(21), [n], { dtype });
    assertEquals(z.dtype, dtype);
    const v = vals(z);
    assert(v.every(Number.isFinite));
    const { mean, variance } = moments(z);
    within(mean, 0, Math.sqrt(1 / n));
    within(variance, 1, Math.sqrt(2 / n));
    // tail mass beyond 2 sigma: 0.0455
    const p = v.filter((x) => Math.abs(x) > 2).length / n;
    within(p, 0.0455, Math.sqrt(0.0455 * 0.9545 / n));
    // skewness ~ 0 and kurtosis ~ 3
    const m3 = v.reduce((a, x) => a + (x - mean) ** 3, 0) / n, m4 = v.reduce((a, x) => a + (x - mean) ** 4, 0) / n;
    within(m3, 0, Math.sqrt(15 / n));
    within(m4, 3, Math.sqrt(96 / n));
  }
  const s = r.normal(r.key(4), [50000], { mean: 10, std: 0.5 });
  const m = moments(s);
  within(m.mean, 10, 0.5 / Math.sqrt(50000));
  within(m.variance, 0.25, 0.25 * Math.sqrt(2 / 50000));
  assertThrows(() => r.normal(r.key(0), [2], { std: -1 }), RangeError);
});

Deno.test("random.truncatedNormal: bounds and moments", () => {
  const n = 50000;
  const t = r.truncatedNormal(r.key(5), [n]);
  const v = vals(t);
  assert(v.every((x) => x > -2 && x < 2));
  // variance of N(0,1) truncated to (-2, 2)
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const Z = 0.9544997361036416;
  const variance = 1 - (2 * 2 * phi(2)) / Z;
  const mo = moments(t);
  within(mo.mean, 0, Math.sqrt(variance / n));
  within(mo.variance, variance, 0.01);
  const a = r.truncatedNormal(r.key(6), [20000], { lower: 1, upper: 3, dtype: "float64" });
  assertEquals(a.dtype, "float64");
  assert(vals(a).every((x) => x > 1 && x < 3));
  // mean of N(0,1) truncated to (1, 3): (phi(1) - phi(3)) / (Phi(3) - Phi(1))
  const Phi = (x: number) => 0.5 * (1 + ts.erf(ts.array([x / Math.SQRT2], { dtype: "float64" })).dataSync()[0]);
  within(moments(a).mean, (phi(1) - phi(3)) / (Phi(3) - Phi(1)), 0.01);
  // far tail stays inside its bounds
  assert(vals(r.truncatedNormal(r.key(7), [1000], { lower: 4, upper: 5 })).every((x) => x > 4 && x < 5));
  assertThrows(() => r.truncatedNormal(r.key(0), [2], { lower: 1, upper: 0 }), RangeError);
});

Deno.test("random.bernoulli: frequency, array p, shapes", () => {
  const n = 100000;
  const b = r.bernoulli(r.key(8), 0.3, [n]);
  assertEquals([b.dtype, b.shape], ["bool", [n]]);
  const freq = vals(b).filter((x) => x).length / n;
  within(freq, 0.3, Math.sqrt(0.3 * 0.7 / n));
  assert(vals(r.bernoulli(r.key(0), 0, [100])).every((x) => !x));
  assert(vals(r.bernoulli(r.key(0), 1, [100])).every((x) => x));
  const p = ts.array([0.1, 0.9]);
  const m = r.bernoulli(r.key(9), p, [20000, 2]);
  const c = ts.cast(m, "float32").mean(0).dataSync();
  within(c[0], 0.1, Math.sqrt(0.09 / 20000));
  within(c[1], 0.9, Math.sqrt(0.09 / 20000));
  assertEquals(r.bernoulli(r.key(0), p).shape, [2]);
  assertEquals(r.bernoulli(r.key(0)).shape, []);
});

Deno.test("random.categorical: chi-square against softmax probabilities", () => {
  const probs = [0.1, 0.2, 0.3, 0.4];
  const logits = ts.array(probs.map(Math.log));
  const n = 40000;
  const c = r.categorical(r.key(10), logits, { shape: [n] });
  assertEquals([c.dtype, c.shape], ["int32", [n]]);
  const counts = [0, 0, 0, 0];
  for (const v of vals(c)) counts[v]++;
  const chi2 = counts.reduce((a, o, i) => a + (o - n * probs[i]) ** 2 / (n * probs[i]), 0);
  assert(chi2 < 16.27, `chi-square ${chi2} with 3 dof (p = 0.001 critical value 16.27), counts ${counts}`);
  // batched logits along axis 0, with a leading sample shape
  const lg = ts.array([[0, 100], [100, 0], [0, 0]]); // axis 0 is the category axis: batch [2]
  const s = r.categorical(r.key(1), lg, { axis: 0, shape: [5, 2] });
  assertEquals(s.shape, [5, 2]);
  const sv = vals(s);
  for (let i = 0; i < 5; i++) assertEquals([sv[2 * i], sv[2 * i + 1]], [1, 0]);
  assertEquals(r.categorical(r.key(0), ts.zeros([3, 7])).shape, [3]);
  assertThrows(() => r.categorical(r.key(0), ts.zeros([3, 7]), { shape: [4] }), Error, "broadcasts");
});

Deno.test("random.randint: range, dtype and uniformity", () => {
  const n = 60000;
  const x = r.randint(r.key(12), [n], -3, 3);
  assertEquals(x.dtype, "int32");
  const counts = new Map<number, number>();
  for (const v of vals(x)) counts.set(v, (counts.get(v) ?? 0) + 1);
  assertEquals([...counts.keys()].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2]);
  const chi2 = [...counts.values()].reduce((a, o) => a + (o - n / 6) ** 2 / (n / 6), 0);
  assert(chi2 < 20.52, `chi-square ${chi2} with 5 dof`);
  const big = vals(r.randint(r.key(1), [1000], -(2 ** 31), 2 ** 31 - 1));
  assert(big.every((v) => v >= -(2 ** 31) && v < 2 ** 31 - 1));
  assert(big.some((v) => v < 0) && big.some((v) => v > 0));
  assert(vals(r.randint(r.key(0), [50], 5, 6)).every((v) => v === 5));
  assertThrows(() => r.randint(r.key(0), [2], 3, 3), RangeError);
  assertThrows(() => r.randint(r.key(0), [2], 0.5, 3), RangeError);
});

Deno.test("random.permutation / shuffle: permutations, uniform positions", () => {
  const p = vals(r.permutation(r.key(13), 100));
  assertEquals([...p].sort((a, b) => a - b), [...Array(100).keys()]);
  assertNotEquals(p, [...Array(100).keys()]);
  assertEquals(r.permutation(r.key(0), 0).shape, [0]);
  // every element lands in every slot about equally often
  const n = 4, trials = 4000;
  const ks = r.split(r.key(14), trials);
  const slot0 = [0, 0, 0, 0];
  for (const k of ks) slot0[vals(r.permutation(k, n))[0]]++;
  const chi2 = slot0.reduce((a, o) => a + (o - trials / n) ** 2 / (trials / n), 0);
  assert(chi2 < 16.27, `chi-square ${chi2}, counts ${slot0}`);
  // arrays: permutation along axis 0, shuffle along any axis, rows/columns intact
  const x = ts.arange(12).reshape([4, 3]);
  const px = r.permutation(r.key(15), x);
  assertEquals(px.shape, [4, 3]);
  const rows = px.toArray() as number[][];
  assertEquals(rows.map((row) => row[0]).sort((a, b) => a - b), [0, 3, 6, 9]);
  for (const row of rows) assertEquals(row, [row[0], row[0] + 1, row[0] + 2]);
  assertEquals(vals(px), vals(r.shuffle(r.key(15), x)));
  const sx = r.shuffle(r.key(16), x, 1).toArray() as number[][];
  const cols = sx[0].slice();
  assertEquals([...cols].sort((a, b) => a - b), [0, 1, 2]);
  sx.forEach((row, i) => assertEquals(row, cols.map((c) => c + 3 * i)));
  assertThrows(() => r.shuffle(r.key(0), ts.array(3)), Error, "at least one axis");
  assertThrows(() => r.permutation(r.key(0), -2), TypeError);
});

Deno.test("random: golden values pin the algorithm (same numbers on every run and platform)", () => {
  const k = r.key(2024);
  assertEquals(vals(r.bits(k, [4])), [1982900149, 1742385569, -1245793169, -1474264064]);
  // float32: top 24 bits of each word times 2^-24
  assertEquals(vals(r.uniform(k, [2])), [7745703 / 2 ** 24, (1742385569 >>> 8) / 2 ** 24]);
  assertEquals(vals(r.uniform(k, [4])), [
    0.4616798758506775,
    0.40568071603775024,
    0.7099411487579346,
    0.6567461490631104,
  ]);
  assertEquals(vals(r.uniform(k, [3], { dtype: "float64" })), [
    0.4616799179967206,
    0.405680757009955,
    0.7099411759695576,
  ]);
  const z = vals(r.normal(k, [3], { dtype: "float64" }));
  [-0.0962023858227454, -0.23866995751199754, 0.5532128804224001].forEach((v, i) => assert(Math.abs(z[i] - v) < 1e-12));
  assertEquals(vals(r.randint(k, [6], 0, 10)), [4, 4, 7, 6, 4, 6]);
  assertEquals(vals(r.permutation(k, 8)), [7, 6, 1, 0, 4, 5, 3, 2]);
  assertEquals(r.split(k).map(vals), [[1982900149, 1742385569], [-1245793169, -1474264064]]);
  assertEquals(vals(r.foldIn(k, 7)), [-1469416276, -353055882]);
});
