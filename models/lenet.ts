// LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, and an adaptive
// average pool before the classifier so any input size ≥ 12×12 works.
import { adaptiveAvgPool2d, conv2d, matmul, maxPool2d, type NDArray, random, zeros } from "../mod.ts";
import { heNormal } from "../nn/mod.ts";

/** LeNet parameters: two conv layers and three dense layers ([out, in] weights). */
export interface LeNetParams {
  /** [key: string]: NDArray makes the params a pytree for grad/optimizers */
  [key: string]: NDArray;
}

/** Options of {@linkcode init}. */
export interface LeNetOptions {
  /** number of classes (default 10) */
  classes?: number;
  /** input channels (default 1) */
  inChannels?: number;
}

/**
 * Fresh LeNet parameters from `key` (He-normal weights, zero biases).
 *
 * @example
 * ```ts
 * import { random } from "../mod.ts";
 * import { lenet } from "./mod.ts";
 * const p = lenet.init(random.key(0), { classes: 10 });
 * console.log(p.conv1.shape); // [6, 1, 5, 5]
 * ```
 */
export function init(key: NDArray, options: LeNetOptions = {}): LeNetParams {
  const classes = options.classes ?? 10, cin = options.inChannels ?? 1;
  const k = random.split(key, 5);
  return {
    conv1: heNormal(k[0], [6, cin, 5, 5]),
    conv1Bias: zeros([6]),
    conv2: heNormal(k[1], [16, 6, 5, 5]),
    conv2Bias: zeros([16]),
    fc1: heNormal(k[2], [120, 16 * 5 * 5]),
    fc1Bias: zeros([120]),
    fc2: heNormal(k[3], [84, 120]),
    fc2Bias: zeros([84]),
    fc3: heNormal(k[4], [classes, 84]),
    fc3Bias: zeros([classes]),
  };
}

/**
 * Logits `[N, classes]` for images `x [N, C, H, W]`.
 *
 * @example
 * ```ts
 * import { random } from "../mod.ts";
 * import { lenet } from "./mod.ts";
 * const p = lenet.init(random.key(0));
 * const logits = lenet.apply(p, random.normal(random.key(1), [2, 1, 28, 28]));
 * console.log(logits.shape); // [2, 10]
 * ```
 */
export function apply(p: LeNetParams, x: NDArray): NDArray {
  let h = conv2d(x, p.conv1, { bias: p.conv1Bias, padding: 2 }).relu();
  h = maxPool2d(h, { kernelSize: 2 });
  h = conv2d(h, p.conv2, { bias: p.conv2Bias }).relu();
  h = maxPool2d(h, { kernelSize: 2 });
  h = adaptiveAvgPool2d(h, { outputSize: 5 }).flatten(1);
  const dense = (h: NDArray, w: NDArray, b: NDArray) => matmul(h, w.transpose()).add(b);
  h = dense(h, p.fc1, p.fc1Bias).relu();
  h = dense(h, p.fc2, p.fc2Bias).relu();
  return dense(h, p.fc3, p.fc3Bias);
}
