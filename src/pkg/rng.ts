/**
 * Seeded randomness: the same seed gives the same sequence, so a failing randomized test (or
 * a simulation) replays exactly. Not for anything that must be unpredictable.
 */

/**
 * xoshiro128** (Blackman and Vigna): four 32-bit words of state, period 2^128 - 1, seeded from
 * one integer through splitmix32. (The generator before it, a 64-bit xorshift squeezed into
 * 32-bit halves, repeated itself after about 4096 draws: every randomized test and simulation
 * explored one short cycle over and over.)
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // The one state the generator must not start from (splitmix32 never gives four zeros, but say so).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  /** `n` bytes drawn from an alphabet of `alphabet` distinct values (small -> collisions). */
  bytes(n: number, alphabet = 256): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = alphabet === 256 ? this.u32() & 0xff : 0x61 + this.int(alphabet);
    return b;
  }
}

/** The base seed of this run: FLOE_SEED when set, otherwise derived from the clock. */
export const baseSeed: number = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);

/**
 * Runs `fn(seed)` for `runs` consecutive seeds from the base seed; a failure's message is
 * prefixed with its seed and how to replay it, then rethrown.
 */
export function forSeeds(runs: number, fn: (seed: number) => void): void {
  for (let i = 0; i < runs; i++) {
    const seed = baseSeed + i;
    try {
      fn(seed);
    } catch (e) {
      if (e instanceof Error) e.message = `seed ${seed} (replay: FLOE_SEED=${seed}): ${e.message}`;
      throw e;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
