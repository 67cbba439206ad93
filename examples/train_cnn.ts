// The main job: train a small CNN (conv → relu → maxPool → conv → relu →
// global average pool → linear) on a synthetic dataset made here, with
// valueAndGrad and plain SGD, printing loss and held-out accuracy per epoch.
//
//   deno task train
//
// The task: 16×16 grey images, each holding one of four shapes at a random
// place on a noisy background: a horizontal bar, a vertical bar, a diagonal
// line, or a hollow square. Position varies, so the net has to learn
// translation-invariant features; the global pool makes that natural.
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { crossEntropy, heNormal, sgd } from "../nn/mod.ts";

const SIZE = 16, CLASSES = 4;

function makeDataset(count: number, seed: number): { x: NDArray; y: NDArray } {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13, s ^= s >>> 17, s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const images = new Float32Array(count * SIZE * SIZE);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const img = images.subarray(n * SIZE * SIZE, (n + 1) * SIZE * SIZE);
    for (let i = 0; i < img.length; i++) img[i] = rnd() * 0.4;
    const label = n % CLASSES;
    labels[n] = label;
    const len = 5 + Math.floor(rnd() * 4);
    const r0 = Math.floor(rnd() * (SIZE - len)), c0 = Math.floor(rnd() * (SIZE - len));
    const set = (r: number, c: number) => (img[r * SIZE + c] = 0.8 + rnd() * 0.2);
    for (let t = 0; t < len; t++) {
      if (label === 0) set(r0 + (len >> 1), c0 + t);
      else if (label === 1) set(r0 + t, c0 + (len >> 1));
      else if (label === 2) set(r0 + t, c0 + t);
      else {
        set(r0, c0 + t), set(r0 + len - 1, c0 + t), set(r0 + t, c0), set(r0 + t, c0 + len - 1);
      }
    }
  }
  return { x: ts.array(images, { shape: [count, 1, SIZE, SIZE] }), y: ts.array(labels, { dtype: "int32" }) };
}

type Params = { w1: NDArray; b1: NDArray; w2: NDArray; b2: NDArray; w3: NDArray; b3: NDArray };

function init(seed: number): Params {
  const [k1, k2, k3] = ts.random.split(ts.random.key(seed), 3);
  return {
    w1: heNormal(k1, [8, 1, 3, 3]),
    b1: ts.zeros([8]),
    w2: heNormal(k2, [16, 8, 3, 3]),
    b2: ts.zeros([16]),
    w3: heNormal(k3, [CLASSES, 16]),
    b3: ts.zeros([CLASSES]),
  };
}

function apply(p: Params, x: NDArray): NDArray {
  let h = ts.conv2d(x, p.w1, { bias: p.b1, padding: 1 }).relu();
  h = ts.maxPool2d(h, { kernelSize: 2 });
  h = ts.conv2d(h, p.w2, { bias: p.b2, padding: 1 }).relu();
  h = ts.adaptiveAvgPool2d(h, { outputSize: 1 }).flatten(1);
  return ts.matmul(h, p.w3.transpose()).add(p.b3);
}

const loss = (p: Params, x: NDArray, y: NDArray) => crossEntropy(apply(p, x), y);

function accuracy(p: Params, x: NDArray, y: NDArray): number {
  return apply(p, x).argmax(1).equal(y).cast("float32").mean().item() as number;
}

export function train(
  options: { epochs?: number; batch?: number; lr?: number; log?: (s: string) => void } = {},
): number {
  const { epochs = 10, batch = 32, lr = 0.3, log = console.log } = options;
  const train = makeDataset(1024, 1), test = makeDataset(256, 2);
  let params = init(0);
  const step = ts.valueAndGrad(loss);
  const N = train.x.shape[0];
  let acc = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = ts.random.permutation(ts.random.key(epoch), N);
    let total = 0;
    const t0 = performance.now();
    for (let b = 0; b + batch <= N; b += batch) {
      const idx = order.slice([b, b + batch]);
      const [value, grads] = step(params, ts.take(train.x, idx, 0), ts.take(train.y, idx, 0));
      params = sgd(params, grads, lr);
      total += value.item() as number;
    }
    acc = accuracy(params, test.x, test.y);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    log(
      `epoch ${epoch}: loss ${(total / Math.floor(N / batch)).toFixed(4)}  held-out accuracy ${
        (acc * 100).toFixed(1)
      }%  (${secs}s)`,
    );
  }
  return acc;
}

if (import.meta.main) {
  const acc = train();
  if (acc < 0.95) {
    console.error(`held-out accuracy ${(acc * 100).toFixed(1)}% is below 95%`);
    Deno.exit(1);
  }
}
