// The cnn_train_step_b32 workload of ../../shared/peers/workloads.json, shared
// by bench/peers.ts and bench/train_step_rss.ts: conv(1→16, 3x3, same) + bias
// + relu + maxPool 2 → conv(16→32) + bias + relu + maxPool 2 → linear(1568→10)
// + bias → softmax cross-entropy, batch 32, plain SGD (lr 0.01).
import * as ts from "../mod.ts";
import { crossEntropy, sgd } from "../nn/mod.ts";

/** A fresh model and batch; each call of the result runs one training step. */
export function trainStep(): () => void {
  const k = ts.random.split(ts.random.key(0), 4);
  let p = {
    c1: ts.random.normal(k[0], [16, 1, 3, 3], { std: 0.3 }),
    b1: ts.zeros([16]),
    c2: ts.random.normal(k[1], [32, 16, 3, 3], { std: 0.1 }),
    b2: ts.zeros([32]),
    d: ts.random.normal(k[2], [10, 1568], { std: 0.03 }),
    bd: ts.zeros([10]),
  };
  const x = ts.random.uniform(k[3], [32, 1, 28, 28]);
  const labels = ts.array(Array.from({ length: 32 }, (_, i) => (i * 7) % 10), { dtype: "int32" });
  const step = ts.valueAndGrad((q: typeof p) => {
    let h = ts.maxPool2d(ts.conv2d(x, q.c1, { bias: q.b1, padding: 1 }).relu(), { kernelSize: 2 });
    h = ts.maxPool2d(ts.conv2d(h, q.c2, { bias: q.b2, padding: 1 }).relu(), { kernelSize: 2 });
    return crossEntropy(ts.matmul(h.flatten(1), q.d.transpose()).add(q.bd), labels);
  });
  return () => {
    const [v, g] = step(p);
    p = sgd(p, g, 0.01);
    ts.realizeAll(Object.values(p));
    v.item();
  };
}
