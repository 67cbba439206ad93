// Resident copies in the WebAssembly heap (ops/_wasm_heap.ts): kernels that
// read an input where it is resident, or write their output into the ring,
// give the same bits as with every operand copied in; only realized arrays are
// ever taken as resident; a kernel's copies are never evicted while it runs.
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import * as ts from "../mod.ts";
import type { NDArray } from "../mod.ts";
import { bufferNode } from "../ops/_graph.ts";
import { _residentAtTopNext, growWasmHeap, residentAt, residentTuning, wasmHeap } from "../ops/_wasm_heap.ts";
import { rng } from "./_util.ts";

function data(shape: number[], seed: number): NDArray {
  const r = rng(seed), n = shape.reduce((a, b) => a * b, 1);
  return ts.array(Float32Array.from({ length: n }, () => r()), { shape });
}

/** The values of `f()` with resident copies on or off. */
function valuesWith(on: boolean, f: () => NDArray[]): Float32Array[] {
  const prev = residentTuning.on;
  residentTuning.on = on;
  try {
    return f().map((a) => a.dataSync() as Float32Array);
  } finally {
    residentTuning.on = prev;
  }
}

/** A small network's forward and gradients: Winograd and depthwise convs, fused ops, pools, sums, a matmul. */
function network(x: NDArray, w1: NDArray, w2: NDArray, d: NDArray): NDArray[] {
  const loss = (p: { w1: NDArray; w2: NDArray; d: NDArray }) => {
    let h = ts.conv2d(x, p.w1, { padding: 1 }).relu();
    h = ts.conv2d(h, p.w2, { padding: 1, groups: 16 }).relu();
    const m = ts.maxPool2d(h, { kernelSize: 2 }).add(ts.avgPool2d(h, { kernelSize: 2 }));
    const a = ts.adaptiveAvgPool2d(m, { outputSize: [3, 3] }).flatten(1);
    return ts.matmul(a, p.d).square().sum();
  };
  const [v, g] = ts.valueAndGrad(loss)({ w1, w2, d });
  return [v, g.w1, g.w2, g.d];
}

Deno.test("resident copies: a network's forward and gradients give the same bits as without them, on 1..3 threads", () => {
  const x = data([4, 16, 12, 12], 1), w1 = data([16, 16, 3, 3], 2), w2 = data([16, 1, 3, 3], 3);
  const d = data([144, 5], 4);
  const want = valuesWith(false, () => network(x, w1, w2, d));
  try {
    for (const T of [1, 2, 3]) {
      ts.setNumThreads(T);
      // twice: the second run finds its inputs (and the first run's outputs) resident
      for (let rep = 0; rep < 2; rep++) {
        const got = valuesWith(true, () => network(x, w1, w2, d));
        got.forEach((g, i) => assertEquals(g, want[i], `output ${i}, ${T} threads, run ${rep}`));
      }
    }
  } finally {
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
});

Deno.test("resident copies: exact under eviction (more live arrays than the ring holds)", () => {
  // 16 arrays of 6 MB (the ring holds 64 MB): later kernels read arrays whose copies were evicted
  const arrays = Array.from({ length: 16 }, (_, i) => {
    const v = new Float32Array(1536 * 1024);
    for (let j = 0, s = i + 1; j < v.length; j++) v[j] = (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    return ts.array(v, { shape: [1536, 1024] });
  });
  const f = () => arrays.map((a, i) => a.mul(2).add(arrays[(i * 7) % arrays.length]).relu().sum());
  const want = valuesWith(false, f);
  const got = valuesWith(true, f);
  got.forEach((g, i) => assertEquals(g, want[i], `sum ${i}`));
});

// Without shared memory there is no ring: these two are reported as ignored there.
Deno.test("resident copies: only realized arrays, found again without a copy", { ignore: !residentTuning.on }, () => {
  growWasmHeap(1 << 16);
  assertEquals(residentAt(new Float32Array(1024)), null, "a plain typed array may change: never resident");
  const stored = new Float32Array(1024).fill(3);
  bufferNode(stored, [1024], "float32");
  const at = residentAt(stored);
  assertNotEquals(at, null);
  const H = new Float32Array(wasmHeap().buffer);
  assertEquals(H[at! / 4 + 5], 3);
  H[at! / 4 + 5] = 7; // a marker: a second lookup must not copy again
  assertEquals(residentAt(stored), at);
  assertEquals(residentAt(stored.subarray(100)), at! + 400, "a view of a resident array is resident");
  assertEquals(H[at! / 4 + 5], 7);
  H[at! / 4 + 5] = 3;
});

Deno.test("resident copies: a kernel's copies are not evicted while it runs", { ignore: !residentTuning.on }, () => {
  const big = (v: number) => {
    const a = new Float32Array(15 << 18).fill(v); // 15 MB
    bufferNode(a, [a.length], "float32");
    return a;
  };
  growWasmHeap(1 << 16); // a kernel starts
  const first = [1, 2, 3, 4].map((v) => residentAt(big(v)));
  assert(first.every((a) => a !== null), "four 15 MB copies fit in the 64 MB ring");
  assertEquals(residentAt(big(5)), null, "a fifth would evict one the kernel uses");
  growWasmHeap(1 << 16); // the next kernel: the oldest copies make room
  const fifth = residentAt(big(6));
  assertNotEquals(fifth, null);
  const H = new Float32Array(wasmHeap().buffer);
  assertEquals(H[fifth! / 4], 6);
});

Deno.test("resident copies: an operand copied flush against the top of the ring (vector loads read a little past it)", {
  ignore: !residentTuning.on,
}, () => {
  const w = data([16, 1, 3, 3], 60), w3 = data([16, 16, 3, 3], 61), m = data([30, 24], 62);
  const ops: [string, (x: NDArray) => NDArray][] = [
    ["maxPool2d 2x2", (x) => ts.maxPool2d(x, { kernelSize: 2 })],
    ["avgPool2d 3x3 s2", (x) => ts.avgPool2d(x, { kernelSize: 3, stride: 2 })],
    ["adaptiveAvgPool2d", (x) => ts.adaptiveAvgPool2d(x, { outputSize: 7 })],
    ["depthwiseConv2d", (x) => ts.depthwiseConv2d(x, w, { padding: 1 })],
    ["conv2d (Winograd)", (x) => ts.conv2d(x, w3, { padding: 1 })],
    ["relu", (x) => x.relu()],
    ["matmul", (x) => ts.matmul(x, m)],
  ];
  ops.forEach(([name, op], i) => {
    const expected = valuesWith(false, () => [op(data([2, 16, 30, 30], 70 + i))])[0];
    const got = valuesWith(true, () => {
      const x = data([2, 16, 30, 30], 70 + i);
      _residentAtTopNext(x.size * 4);
      return [op(x)];
    })[0];
    assert(got.every((v, j) => Object.is(v, expected[j])), name);
  });
});
