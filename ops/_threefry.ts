// Threefry-2x32 with 20 rounds (Salmon et al. 2011, "Parallel random numbers:
// as easy as 1, 2, 3"), the counter-based generator JAX uses. Pure integer
// arithmetic, so the same key gives the same bits on every platform and
// thread count.

const ROT = [13, 15, 26, 6, 17, 29, 16, 24];

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Encrypt the counter pair (c0, c1) with key (k0, k1); returns two uint32 words. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (0x1bd11bda ^ k0 ^ k1) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0, x1 = (c1 + ks[1]) >>> 0;
  for (let block = 0; block < 5; block++) {
    for (let i = 0; i < 4; i++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, ROT[(block % 2) * 4 + i]) ^ x0;
    }
    x0 = (x0 + ks[(block + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [x0, x1 >>> 0];
}

/** `n` random uint32 words (stored as int32) from `key`: word 2i, 2i+1 = threefry(key, (0, i)). */
export function randomWords(k0: number, k1: number, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; 2 * i < n; i++) {
    const [a, b] = threefry2x32(k0, k1, 0, i);
    out[2 * i] = a | 0;
    if (2 * i + 1 < n) out[2 * i + 1] = b | 0;
  }
  return out;
}
