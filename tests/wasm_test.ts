import { assert, assertEquals, assertThrows } from "@std/assert";
import * as ts from "../mod.ts";
import { kernelLogOf, withBackend } from "./_util.ts";
import { FuncBuilder, HAS_RELAXED_SIMD, HAS_SIMD, ModuleBuilder, sleb, uleb } from "../ops/_wasm.ts";
import { WasmThreadPool } from "../ops/_pool_threads.ts";
import {
  _threadPoolSize,
  _useRelaxedSimd,
  dotF32,
  gemmBatchedF32,
  gemmF32,
  gemmGatherF32,
  THREAD_MIN_FLOPS,
  tuning,
} from "../ops/_wasm_gemm.ts";

// Deterministic pseudo-random floats in [-1, 1).
function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** max over elements of |x - ref| / (Σ_k |a||b|) — a relative error immune to cancellation. */
function checkClose(
  x: ArrayLike<number>,
  ref: ArrayLike<number>,
  scale: ArrayLike<number>,
  rtol: number,
  what: string,
): void {
  assertEquals(x.length, ref.length, what);
  for (let i = 0; i < x.length; i++) {
    const err = Math.abs(x[i] - ref[i]);
    if (!(err <= rtol * scale[i] + 1e-30)) {
      throw new Error(`${what}: element ${i}: got ${x[i]}, expected ${ref[i]} (|err| ${err}, scale ${scale[i]})`);
    }
  }
}

/** Σ_k |a[b,i,k]|·|b[b,k,j]| for the tolerance. */
function absScale(B: number, M: number, N: number, K: number, a: Float32Array, b: Float32Array): Float64Array {
  const s = new Float64Array(B * M * N);
  for (let q = 0; q < B; q++) {
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const av = Math.abs(a[(q * M + i) * K + k]);
        for (let j = 0; j < N; j++) s[(q * M + i) * N + j] += av * Math.abs(b[(q * K + k) * N + j]);
      }
    }
  }
  return s;
}

function matmulOn(name: string, a: ts.NDArray, b: ts.NDArray): ts.TypedArray {
  return withBackend(name, () => ts.matmul(a, b).dataSync());
}

Deno.test("wasm emitter: LEB128 encodings and feature probes", () => {
  assertEquals(uleb(0), [0]);
  assertEquals(uleb(127), [0x7f]);
  assertEquals(uleb(128), [0x80, 0x01]);
  assertEquals(uleb(0x105), [0x85, 0x02]);
  assertEquals(uleb(624485), [0xe5, 0x8e, 0x26]);
  assertEquals(sleb(0), [0]);
  assertEquals(sleb(-1), [0x7f]);
  assertEquals(sleb(63), [0x3f]);
  assertEquals(sleb(64), [0xc0, 0x00]);
  assertEquals(sleb(-64), [0x40]);
  assertEquals(sleb(-65), [0xbf, 0x7f]);
  assertEquals(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert(HAS_SIMD, "this engine should validate WebAssembly SIMD");
  assertEquals(typeof HAS_RELAXED_SIMD, "boolean");
});

Deno.test("wasm is the default backend; setBackend switches to js and back", () => {
  assertEquals(ts.getBackend(), "wasm");
  ts.setBackend("js");
  assertEquals(ts.getBackend(), "js");
  ts.setBackend("wasm");
  assertEquals(ts.getBackend(), "wasm");
  assertThrows(() => ts.setBackend("nope"), Error, "setBackend");
});

Deno.test("wasm dot equals the JS reference on random shapes (float32, rtol 1e-5)", () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 1, 7, 1],
    [1, 3, 5, 7],
    [1, 4, 8, 16],
    [1, 5, 9, 1],
    [1, 1, 33, 40],
    [1, 17, 33, 65],
    [3, 7, 13, 11],
    [2, 64, 64, 64],
    [1, 67, 130, 300],
    [1, 131, 9, 257],
    [4, 9, 31, 2],
    [1, 3, 1030, 5],
  ];
  let seed = 1;
  for (const [B, M, N, K] of shapes) {
    const a = rand(B * M * K, seed++), b = rand(B * K * N, seed++);
    const A = ts.array(a, { shape: [B, M, K] }), Bm = ts.array(b, { shape: [B, K, N] });
    const w = matmulOn("wasm", A, Bm), j = matmulOn("js", A, Bm);
    assert(w instanceof Float32Array);
    checkClose(w, j, absScale(B, M, N, K, a, b), 1e-5, `dot [${B},${M},${K}]x[${B},${K},${N}]`);
    // Direct entry point agrees with the backend kernel bit for bit.
    assertEquals(dotF32(B, M, N, K, a, b), w);
  }
});

Deno.test("wasm backend: float64 matmul is the JS reference exactly; vectors and broadcast batches", () => {
  const a = ts.array(rand(5 * 7, 3), { shape: [5, 7], dtype: "float64" });
  const b = ts.array(rand(7 * 4, 4), { shape: [7, 4], dtype: "float64" });
  assertEquals(matmulOn("wasm", a, b), matmulOn("js", a, b));
  const x = ts.array(rand(2 * 3 * 6 * 5, 5), { shape: [2, 3, 6, 5] });
  const y = ts.array(rand(5 * 4, 6), { shape: [5, 4] });
  const v = ts.array(rand(5, 7));
  for (const [p, q] of [[x, y], [x, v], [v, y]] as const) {
    const w = matmulOn("wasm", p, q), j = matmulOn("js", p, q);
    for (let i = 0; i < w.length; i++) assert(Math.abs(w[i] - j[i]) <= 1e-5 * (1 + Math.abs(j[i])), `elem ${i}`);
  }
});

function refGemm(
  M: number,
  N: number,
  K: number,
  A: (i: number, k: number) => number,
  B: (k: number, j: number) => number,
  c0: (i: number, j: number) => number,
): { val: Float64Array; scale: Float64Array } {
  const val = new Float64Array(M * N), scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = c0(i, j), t = Math.abs(s);
      for (let k = 0; k < K; k++) {
        s += A(i, k) * B(k, j);
        t += Math.abs(A(i, k) * B(k, j));
      }
      val[i * N + j] = s;
      scale[i * N + j] = t;
    }
  }
  return { val, scale };
}

Deno.test("gemmF32: offsets, leading dimensions, transposes and accumulate", () => {
  let seed = 100;
  for (const [M, N, K] of [[1, 1, 1], [5, 9, 3], [13, 17, 29], [70, 33, 260]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          const aOff = 3, bOff = 5, cOff = 2;
          const lda = (transA ? M : K) + 2, ldb = (transB ? K : N) + 1, ldc = N + 3;
          const a = rand(aOff + (transA ? K : M) * lda, seed++), b = rand(bOff + (transB ? N : K) * ldb, seed++);
          const c = rand(cOff + M * ldc, seed++), c0 = c.slice();
          gemmF32(M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, transA, transB);
          const { val, scale } = refGemm(
            M,
            N,
            K,
            (i, k) => transA ? a[aOff + k * lda + i] : a[aOff + i * lda + k],
            (k, j) => transB ? b[bOff + j * ldb + k] : b[bOff + k * ldb + j],
            (i, j) => accumulate ? c0[cOff + i * ldc + j] : 0,
          );
          const got = new Float64Array(M * N);
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) got[i * N + j] = c[cOff + i * ldc + j];
          checkClose(got, val, scale, 1e-5, `gemmF32 ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`);
          // Elements outside C are untouched.
          for (let i = 0; i < cOff; i++) assertEquals(c[i], c0[i]);
          for (let i = 0; i < M; i++) {
            for (let j = N; j < ldc && cOff + i * ldc + j < c.length; j++) {
              assertEquals(c[cOff + i * ldc + j], c0[cOff + i * ldc + j]);
            }
          }
        }
      }
    }
  }
});

Deno.test("wasm dot is bit-identical for 1..4 threads (and matches the reference)", () => {
  // Each case is above the threading threshold; row split, column split and batches.
  const cases: [number, number, number, number][] = [
    [1, 203, 161, 300],
    [1, 50, 70, 160],
    [9, 13, 21, 230],
    [2, 5, 700, 90],
    [1, 3, 2900, 1000],
    [3, 61, 97, 530],
    [1, 130, 1100, 70],
    [4, 20, 64, 300],
    [2, 7, 4096, 40],
  ];
  let seed = 7;
  const prevMin = tuning.threadMinFlops;
  tuning.threadMinFlops = Math.min(prevMin, 1 << 20);
  try {
    for (const [B, M, N, K] of cases) {
      assert(2 * B * M * N * K >= tuning.threadMinFlops && THREAD_MIN_FLOPS > 0);
      const a = rand(B * M * K, seed++), b = rand(B * K * N, seed++);
      ts.setNumThreads(1);
      const one = dotF32(B, M, N, K, a, b)!;
      const j = withBackend(
        "js",
        () => ts.matmul(ts.array(a, { shape: [B, M, K] }), ts.array(b, { shape: [B, K, N] })).dataSync(),
      );
      checkClose(one, j, absScale(B, M, N, K, a, b), 1e-5, `threads 1 [${B},${M},${N},${K}]`);
      for (const T of [2, 3, 4]) {
        ts.setNumThreads(T);
        const got = dotF32(B, M, N, K, a, b)!;
        assertEquals(_threadPoolSize() >= T - 1, true, `pool has ${_threadPoolSize()} workers for ${T} threads`);
        assertEquals(new Uint32Array(got.buffer), new Uint32Array(one.buffer), `threads ${T} [${B},${M},${N},${K}]`);
        // gemmF32 with a strided C agrees too.
        if (B === 1) {
          const c = new Float32Array(M * (N + 1));
          gemmF32(M, N, K, a, 0, K, b, 0, N, c, 0, N + 1);
          for (let i = 0; i < M; i++) {
            assertEquals(c.subarray(i * (N + 1), i * (N + 1) + N), one.subarray(i * N, (i + 1) * N));
          }
        }
      }
    }
  } finally {
    tuning.threadMinFlops = prevMin;
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
});

Deno.test("shutdownThreads stops the pool; it restarts on demand", () => {
  ts.setNumThreads(2);
  try {
    const M = 128, N = 128, K = 600;
    const a = rand(M * K, 11), b = rand(K * N, 12);
    const first = dotF32(1, M, N, K, a, b)!;
    ts.shutdownThreads();
    assertEquals(_threadPoolSize(), 0);
    assertEquals(dotF32(1, M, N, K, a, b), first);
    assert(_threadPoolSize() >= 1);
  } finally {
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
  assertThrows(() => ts.setNumThreads(0), RangeError, "setNumThreads");
});

Deno.test("gemmF32 with transposes and accumulate is bit-identical for 1..4 threads", () => {
  const M = 97, N = 75, K = 333;
  try {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      const lda = transA ? M + 1 : K + 2, ldb = transB ? K + 3 : N;
      const a = rand((transA ? K : M) * lda, 21), b = rand((transB ? N : K) * ldb, 22), c0 = rand(M * N, 23);
      let first: Float32Array | null = null;
      for (const T of [1, 2, 3, 4]) {
        ts.setNumThreads(T);
        const c = c0.slice();
        gemmF32(M, N, K, a, 0, lda, b, 0, ldb, c, 0, N, true, transA, transB);
        if (first === null) {
          first = c;
          const { val, scale } = refGemm(
            M,
            N,
            K,
            (i, k) => transA ? a[k * lda + i] : a[i * lda + k],
            (k, j) => transB ? b[j * ldb + k] : b[k * ldb + j],
            (i, j) => c0[i * N + j],
          );
          checkClose(c, val, scale, 1e-5, `accumulate tA=${transA} tB=${transB}`);
        } else {
          assertEquals(new Uint32Array(c.buffer), new Uint32Array(first.buffer), `T=${T} tA=${transA} tB=${transB}`);
        }
      }
    }
  } finally {
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
});

Deno.test("the mul+add kernel (no relaxed SIMD) matches the reference and is thread-count independent", () => {
  _useRelaxedSimd(false);
  try {
    for (const [B, M, N, K] of [[1, 7, 9, 5], [2, 61, 45, 300], [1, 130, 96, 520]]) {
      const a = rand(B * M * K, M), b = rand(B * K * N, N);
      ts.setNumThreads(1);
      const one = dotF32(B, M, N, K, a, b)!;
      const j = withBackend(
        "js",
        () => ts.matmul(ts.array(a, { shape: [B, M, K] }), ts.array(b, { shape: [B, K, N] })).dataSync(),
      );
      checkClose(one, j, absScale(B, M, N, K, a, b), 1e-5, `mul+add [${B},${M},${N},${K}]`);
      ts.setNumThreads(3);
      assertEquals(dotF32(B, M, N, K, a, b), one);
    }
  } finally {
    _useRelaxedSimd(true);
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
});

Deno.test("gemmBatchedF32: per-item strides, a shared operand (stride 0), accumulate; equals per-item gemmF32", () => {
  const prevMin = tuning.threadMinFlops;
  tuning.threadMinFlops = 1 << 16; // the threaded cases copy C out per batch item (column chunks) or per row chunk
  try {
    for (const T of [1, 2, 3]) {
      ts.setNumThreads(T);
      for (
        const [batch, M, N, K, sharedA, sharedB] of [
          [3, 16, 300, 27, true, false],
          [4, 70, 9, 40, false, true],
          [5, 6, 7, 8, false, false],
          [2, 130, 200, 100, true, false],
          [6, 12, 256, 64, true, false],
        ] as [number, number, number, number, boolean, boolean][]
      ) {
        for (const packedC of [false, true]) {
          const aStride = sharedA ? 0 : M * K + 5, bStride = sharedB ? 0 : K * N + 3;
          const ldc = packedC ? N : N + 2, cStride = packedC ? M * N : M * (N + 2) + 1;
          const a = rand(2 + (sharedA ? M * K : batch * aStride), 31),
            b = rand(1 + (sharedB ? K * N : batch * bStride), 32);
          const c0 = rand(4 + batch * cStride, 33);
          for (const acc of [true, false]) {
            const c = c0.slice(), want = c0.slice();
            gemmBatchedF32(batch, M, N, K, a, 2, aStride, K, b, 1, bStride, N, c, 4, cStride, ldc, acc);
            for (let q = 0; q < batch; q++) {
              gemmF32(M, N, K, a, 2 + q * aStride, K, b, 1 + q * bStride, N, want, 4 + q * cStride, ldc, acc);
            }
            assertEquals(c, want, `batched [${batch},${M},${N},${K}] T=${T} ldc=${ldc} acc=${acc}`);
          }
        }
      }
    }
  } finally {
    tuning.threadMinFlops = prevMin;
    ts.setNumThreads(navigator.hardwareConcurrency);
  }
});

Deno.test("gemmGatherF32: gathered B (contiguous runs, scattered columns, 4-row blocks) equals gemmF32 on the explicit matrix, 1..3 threads", () => {
  const prevT = ts.getNumThreads(), prevMin = tuning.threadMinFlops;
  let s = 12345;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const increasing = (n: number, runs: boolean) => {
    const t = new Int32Array(n);
    for (let i = 0, v = Math.floor(rnd() * 5); i < n; i++, v += runs && rnd() < 0.8 ? 1 : 1 + Math.floor(rnd() * 6)) {
      t[i] = v;
    }
    return t;
  };
  try {
    tuning.threadMinFlops = 1;
    for (const T of [1, 2, 3]) {
      ts.setNumThreads(T);
      for (let it = 0; it < 40; it++) {
        const M = 1 + Math.floor(rnd() * 20), N = 1 + Math.floor(rnd() * 40), K = 1 + Math.floor(rnd() * 60);
        const transA = it % 3 === 0, batch = 1 + (it % 3), acc = it % 4 === 0;
        const kT = increasing(K, it % 3 !== 0), jT = increasing(N, it % 2 === 0);
        if (it % 5 === 0) jT.forEach((_, i) => jT[i] = 3 + i);
        const L = kT[K - 1] + jT[N - 1] + 10;
        const f = (n: number) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
        const b = f(batch * L), a = f(batch * M * K), c = f(batch * M * N), c2 = c.slice();
        gemmGatherF32(batch, M, N, K, a, 0, M * K, transA ? M : K, transA, b, 0, L, kT, jT, c, 0, M * N, N, acc);
        for (let q = 0; q < batch; q++) {
          const bm = new Float32Array(K * N);
          for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bm[k * N + j] = b[q * L + kT[k] + jT[j]];
          gemmF32(M, N, K, a, q * M * K, transA ? M : K, bm, 0, N, c2, q * M * N, N, acc, transA);
        }
        assert(c.every((v, i) => Object.is(v, c2[i])), `T ${T} case ${it}: M${M} N${N} K${K}`);
      }
    }
    assertThrows(
      () =>
        gemmGatherF32(
          1,
          2,
          2,
          2,
          new Float32Array(4),
          0,
          0,
          2,
          false,
          new Float32Array(9),
          0,
          0,
          new Int32Array([1, 0]),
          new Int32Array([0, 1]),
          new Float32Array(4),
          0,
          0,
          2,
        ),
      Error,
      "increasing",
    );
  } finally {
    tuning.threadMinFlops = prevMin;
    ts.setNumThreads(prevT);
  }
});

Deno.test("thread pool: every share runs exactly once, also when the caller takes over a late worker's shares", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const stub = new ModuleBuilder();
  stub.importMemory({ module: "env", name: "mem", initial: 1, maximum: 1, shared: true });
  stub.func(new FuncBuilder([], []), "noop");
  // share s counts itself at slot 16 + s and records its thread at slot 32 + s; with params[0] = 1 the
  // first share claimed sleeps 3 ms (the workers join and take the others meanwhile)
  const setup = `return (params, s, S, thread) => {
    const I = new Int32Array(memory.buffer);
    if (params[0] === 1 && Atomics.add(I, 1, 1) === 0) Atomics.wait(I, 0, 0, 3);
    Atomics.add(I, 16 + s, 1);
    Atomics.store(I, 32 + s, thread);
  };`;
  const pool = new WasmThreadPool(new WebAssembly.Module(stub.bytes()), memory, setup, 3);
  const I = new Int32Array(memory.buffer);
  const local = new Function("exports", "memory", setup)({}, memory) as (
    p: Float64Array,
    s: number,
    S: number,
    thread: number,
  ) => void;
  try {
    let byCaller = 0, byWorkers = 0;
    for (let job = 0; job < 300; job++) {
      const T = 2 + (job % 3), S = T + (job % 5) * 3;
      // now and then the workers fall asleep first (they poll 1 ms), so they wake late for a job this small
      if (job % 10 === 0) Atomics.wait(I, 0, 0, 5);
      I.fill(0, 0, 48);
      I.fill(-1, 32, 48);
      pool.params[0] = job % 10 === 5 ? 1 : 0;
      pool.run(T, (s, thread) => local(pool.params, s, S, thread), S);
      for (let s = 0; s < 16; s++) {
        assertEquals(I[16 + s], s < S ? 1 : 0, `job ${job} (${S} shares, ${T} threads): share ${s}`);
      }
      for (let s = 0; s < S; s++) {
        assert(I[32 + s] >= 0 && I[32 + s] < T, `job ${job}: share ${s} ran on thread ${I[32 + s]} of ${T}`);
        if (I[32 + s] === 0) byCaller++;
        else byWorkers++;
      }
    }
    assert(byCaller > 0 && byWorkers > 0, `shares run by the caller ${byCaller}, by workers ${byWorkers}`);
  } finally {
    pool.close();
  }
});

Deno.test("dot of views: transposed, sliced and broadcast operands read in place give the bits of materialized ones", () => {
  const arr = (shape: number[], seed: number) => ts.array(rand(shape.reduce((a, b) => a * b, 1), seed), { shape });
  const materialized = (a: ts.NDArray) => ts.array(a.dataSync() as Float32Array, { shape: a.shape });
  const h = arr([32, 157], 1), g = arr([32, 10], 2), d = arr([10, 157], 3), x3 = arr([3, 40, 24], 4);
  const big = arr([50, 70], 5), w = arr([24, 33], 6);
  const cases: [string, () => [ts.NDArray, ts.NDArray]][] = [
    ["Aᵀ·B", () => [h.transpose(), g]],
    ["A·Bᵀ", () => [h, d.transpose()]],
    ["Aᵀ·Bᵀ", () => [g.transpose(), arr([20, 32], 9).transpose()]],
    ["sliced rows and columns", () => [big.slice([3, 43], [5, 37]), big.slice([10, 42], [2, 60])]],
    ["transposed slice", () => [big.slice([0, 40], [1, 33]).transpose(), big.slice([0, 40], [40, 69])]],
    ["batch against a shared matrix", () => [x3, w]],
    ["batch of transposes", () => [x3.transpose([0, 2, 1]), arr([3, 40, 5], 7)]],
  ];
  for (const [name, ops] of cases) {
    const [a, b] = ops();
    let got: Float32Array | null = null;
    const log = kernelLogOf(() => void (got = ts.matmul(a, b).dataSync() as Float32Array));
    assert(log.some((l) => l.startsWith("dot of views")), `${name}: ${log.join("; ")}`);
    const want = ts.matmul(materialized(a), materialized(b)).dataSync();
    assertEquals(got, want, name);
    const ref = withBackend("js", () => ts.matmul(materialized(a), materialized(b)).dataSync());
    for (let i = 0; i < ref.length; i++) assert(Math.abs(got![i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), name);
    // the same bits on every thread count (above the GEMM's threading threshold here)
    const prevMin = tuning.threadMinFlops;
    tuning.threadMinFlops = 1;
    try {
      for (const T of [1, 2, 3, 4]) {
        ts.setNumThreads(T);
        assertEquals(ts.matmul(...ops()).dataSync(), got!, `${name}, ${T} threads`);
      }
    } finally {
      tuning.threadMinFlops = prevMin;
      ts.setNumThreads(navigator.hardwareConcurrency);
    }
  }
  // contiguous operands: the dot kernel's bits; a padded operand is materialized, then read in place; a view
  // that is no strided matrix (a reshape across a transpose) takes the dot kernel on its materialized copy
  const e = arr([157, 9], 8);
  assertEquals(
    ts.matmul(h, e).dataSync(),
    dotF32(1, 32, 9, 157, h.dataSync() as Float32Array, e.dataSync() as Float32Array),
  );
  const padded = kernelLogOf(() => void ts.matmul(ts.pad(g, [[0, 0], [0, 3]]).transpose(), h).dataSync());
  assert(padded.some((l) => l.startsWith("fused [32,13]")), padded.join("; "));
  assert(padded.some((l) => l.startsWith("dot of views")), padded.join("; "));
  const mixed = () => [arr([4, 6], 10).transpose().reshape([2, 12]), arr([12, 7], 11)];
  const mixedLog = kernelLogOf(() => void ts.matmul(...mixed() as [ts.NDArray, ts.NDArray]).dataSync());
  assert(!mixedLog.some((l) => l.startsWith("dot of views")), mixedLog.join("; "));
  const [ma, mb] = mixed();
  assertEquals(ts.matmul(ma, mb).dataSync(), ts.matmul(materialized(ma), materialized(mb)).dataSync());
});

Deno.test("transposed dot of views: (A·B)ᵀ computed as Bᵀ·Aᵀ in the transposed layout gives the bits of the transpose", () => {
  const arr = (shape: number[], seed: number) => ts.array(rand(shape.reduce((a, b) => a * b, 1), seed), { shape });
  const h = arr([32, 1568], 1), g = arr([32, 10], 2), big = arr([300, 700], 3), c = arr([700, 40], 4);
  const cases: [string, () => ts.NDArray, () => Float32Array][] = [];
  // a linear layer's weight gradient (xᵀ·g)ᵀ; a long K (several K blocks); plain operands; a reshape around it
  const pairs: [string, () => [ts.NDArray, ts.NDArray]][] = [
    ["(hᵀ·g)ᵀ", () => [h.transpose(), g]],
    ["long K (depth blocks)", () => [big.slice([0, 30]), c]],
    ["transposed operands", () => [big.transpose().slice([0, 40]), big.slice([0, 300], [0, 90])]],
  ];
  for (const [name, ops] of pairs) {
    cases.push([name, () => ts.matmul(...ops()).transpose(), () => {
      const d = ts.matmul(...ops());
      return ts.array(d.dataSync() as Float32Array, { shape: d.shape }).transpose().dataSync() as Float32Array;
    }]);
  }
  cases.push(["reshaped to a row", () => ts.matmul(h.transpose(), g).transpose().reshape([1, 10, 1568]), () => {
    const d = ts.matmul(h.transpose(), g);
    return ts.array(d.dataSync() as Float32Array, { shape: d.shape }).transpose().dataSync() as Float32Array;
  }]);
  for (const [name, f, want] of cases) {
    let got: Float32Array | null = null;
    const log = kernelLogOf(() => void (got = f().dataSync() as Float32Array));
    assert(log.some((l) => l.startsWith("transposed dot of views")), `${name}: ${log.join("; ")}`);
    assertEquals(log.length, 1, `${name}: one kernel: ${log.join("; ")}`);
    assertEquals(got, want(), name);
    const prevMin = tuning.threadMinFlops;
    tuning.threadMinFlops = 1;
    try {
      for (const T of [1, 2, 3]) {
        ts.setNumThreads(T);
        assertEquals(f().dataSync(), got!, `${name}, ${T} threads`);
      }
    } finally {
      tuning.threadMinFlops = prevMin;
      ts.setNumThreads(navigator.hardwareConcurrency);
    }
  }
  // the dot also used as it is: computed as the dot (the transpose reads it)
  const d = ts.matmul(h.transpose(), g), t = d.transpose();
  const log = kernelLogOf(() => ts.realizeAll([d, t]));
  assert(!log.some((l) => l.startsWith("transposed dot")), log.join("; "));
});
