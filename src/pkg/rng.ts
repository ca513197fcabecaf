/**
 * Seeded randomness: the same seed gives the same sequence, so a failing randomized test (or
 * a simulation) replays exactly. Not for anything that must be unpredictable.
 */

/** xorshift128+ over 32-bit halves: fast, deterministic from one integer seed. */
export class Rng {
  private a: number;
  private b: number;

  constructor(seed: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.b = (Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0 || 2;
    for (let i = 0; i < 8; i++) this.u32(); // spread nearby seeds apart
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let s1 = this.a;
    const s0 = this.b;
    this.a = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0;
    s1 ^= s0 >>> 26;
    this.b = s1 >>> 0;
    return (this.a + this.b) >>> 0;
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
