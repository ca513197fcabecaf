import { assert } from '../../pkg';
import type { Pgid } from './types';

/** Pages per chunk: 2^16 pages (256 MiB of file at 4 KiB) cost 8 KiB of bits. */
const CHUNK_PAGES = 65536;
const CHUNK_WORDS = CHUNK_PAGES / 32;

/**
 * A set of page ids as bits, in chunks allocated on first touch, so memory follows the
 * touched part of the file (1 bit per page) and any safe-integer page id works.
 *
 * Both freelists keep one for free pages and one for pending pages: it answers `freed()` and
 * the double-free check in O(1), and lists ids in ascending order without sorting
 * (`ascendingIds`), which is what writing the freelist page at each commit needs.
 */
export class PageBits {
  private readonly chunks = new Map<number, Uint32Array>();
  // One-entry cache: consecutive operations nearly always hit the same chunk.
  private lastIndex = -1;
  private lastChunk: Uint32Array | undefined = undefined;

  /** True when page `p` is in the set. */
  has(p: Pgid): boolean {
    const c = this.chunk(Math.floor(p / CHUNK_PAGES), false);
    if (c === undefined) return false;
    const bit = p % CHUNK_PAGES;
    return (c[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Adds pages [start, start+n). */
  setRange(start: Pgid, n: number): void {
    for (let p = start; p < start + n; p++) {
      const c = this.chunk(Math.floor(p / CHUNK_PAGES), true)!;
      const bit = p % CHUNK_PAGES;
      c[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  /** Removes pages [start, start+n). */
  clearRange(start: Pgid, n: number): void {
    for (let p = start; p < start + n; p++) {
      const c = this.chunk(Math.floor(p / CHUNK_PAGES), false);
      if (c === undefined) continue;
      const bit = p % CHUNK_PAGES;
      c[bit >>> 5]! &= ~(1 << (bit & 31));
    }
  }

  /** First page of [start, start+n) that is in the set, or -1. */
  firstIn(start: Pgid, n: number): Pgid {
    for (let p = start; p < start + n; p++) if (this.has(p)) return p;
    return -1;
  }

  /** First page of [start, start+n) that is NOT in the set, or -1. */
  firstMissingIn(start: Pgid, n: number): Pgid {
    for (let p = start; p < start + n; p++) if (!this.has(p)) return p;
    return -1;
  }

  /** Removes everything. */
  clear(): void {
    this.chunks.clear();
    this.lastIndex = -1;
    this.lastChunk = undefined;
  }

  /** Number of pages in the set: O(touched pages / 32), for self-checks. */
  count(): number {
    let total = 0;
    for (const c of this.chunks.values()) for (let i = 0; i < c.length; i++) total += popcount(c[i]!);
    return total;
  }

  /**
   * Every page id in `a` or `b` (when given), ascending, without duplicates. Cost is
   * O(touched pages / 32 + result): a word scan, no sort, however the ids were added.
   * `count` must be the exact number of such ids: the result is allocated once at that size
   * (growing a large array by push costs several times more).
   */
  static ascendingIds(count: number, a: PageBits, b?: PageBits): Pgid[] {
    const keys = new Set<number>(a.chunks.keys());
    if (b !== undefined) for (const k of b.chunks.keys()) keys.add(k);
    const order = Float64Array.from(keys).sort();
    const out = new Array<Pgid>(count);
    let n = 0;
    for (const index of order) {
      const ca = a.chunks.get(index);
      const cb = b?.chunks.get(index);
      const base = index * CHUNK_PAGES;
      for (let w = 0; w < CHUNK_WORDS; w++) {
        let word = ((ca === undefined ? 0 : ca[w]!) | (cb === undefined ? 0 : cb[w]!)) >>> 0;
        while (word !== 0) {
          const low = word & -word;
          assert(n < count, 'page bits hold more ids than counted');
          out[n++] = base + w * 32 + (31 - Math.clz32(low));
          word = (word ^ low) >>> 0;
        }
      }
    }
    assert(n === count, () => `page bits hold ${n} ids, expected ${count}`);
    return out;
  }

  private chunk(index: number, create: boolean): Uint32Array | undefined {
    if (index === this.lastIndex) return this.lastChunk;
    let c = this.chunks.get(index);
    if (c === undefined) {
      if (!create) return undefined;
      c = new Uint32Array(CHUNK_WORDS);
      this.chunks.set(index, c);
    }
    assert(Number.isSafeInteger(index) && index >= 0, () => `page chunk ${index} out of range`);
    this.lastIndex = index;
    this.lastChunk = c;
    return c;
  }
}

function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
