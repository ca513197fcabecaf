import { assert } from '../../pkg';
import type { Pgid } from './types';

const EMPTY = -1;
const MIN_CAPACITY = 16;

/**
 * A hash map from page id to a non-negative number (a span slot, a txid), open addressing
 * with linear probing in two Float64Arrays.
 *
 * Why not a JS Map: the freelists delete and insert boundary pages on every allocate and
 * release, and V8's Map keeps deleted entries until it rehashes the whole table, so that
 * churn measured 0.4 us per delete+insert at 100k entries and 1 us at 1M on our machines,
 * more than everything else an allocation does. Here deletion shifts the following entries
 * back (no tombstones), so churn never triggers a rehash; the table rehashes only when it
 * grows past half full. It never shrinks by itself (a batch that allocates and frees would
 * otherwise grow and shrink it every time): memory follows the peak entry count, about 32
 * bytes per entry at worst, until clear().
 */
export class PageMap {
  private keys = new Float64Array(MIN_CAPACITY).fill(EMPTY);
  private vals = new Float64Array(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** The value stored for `key`, or -1 when there is none. */
  get(key: Pgid): number {
    const keys = this.keys;
    for (let i = hash(key) & this.mask; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) return this.vals[i]!;
      if (k === EMPTY) return -1;
    }
  }

  /** True when `key` has an entry. */
  has(key: Pgid): boolean {
    return this.get(key) !== -1;
  }

  /** Stores `value` (>= 0) for `key` (>= 0), replacing any previous value. */
  set(key: Pgid, value: number): void {
    assert(key >= 0 && value >= 0, () => `page map: bad entry ${key} -> ${value}`);
    const keys = this.keys;
    let i = hash(key) & this.mask;
    for (; keys[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (keys[i] === key) {
        this.vals[i] = value;
        return;
      }
    }
    keys[i] = key;
    this.vals[i] = value;
    this.count++;
    if (this.count * 2 > keys.length) this.resize(keys.length * 2);
  }

  /** Removes `key`; returns false when it had no entry. */
  delete(key: Pgid): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let hole = hash(key) & mask;
    while (keys[hole] !== key) {
      if (keys[hole] === EMPTY) return false;
      hole = (hole + 1) & mask;
    }
    // Backward shift: walk the rest of the probe run and move back every entry whose home
    // slot does not lie cyclically in (hole, j], so no lookup ever stops early at the hole.
    for (let j = (hole + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = hash(keys[j]!) & mask;
      const stays = hole < j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      keys[hole] = keys[j]!;
      vals[hole] = vals[j]!;
      hole = j;
    }
    keys[hole] = EMPTY;
    this.count--;
    return true;
  }

  /** Removes every entry; sizes the table for `expected` entries (default: the minimum). */
  clear(expected = 0): void {
    let capacity = MIN_CAPACITY;
    while (capacity < expected * 2) capacity *= 2;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.vals = new Float64Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
  }

  /** Calls `fn` for every entry, in table order (not a defined order: do not let it reach disk). */
  forEach(fn: (key: Pgid, value: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) fn(keys[i]!, this.vals[i]!);
  }

  private resize(capacity: number): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.vals = new Float64Array(capacity);
    this.mask = capacity - 1;
    const keys = this.keys;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === EMPTY) continue;
      let j = hash(k) & this.mask;
      while (keys[j] !== EMPTY) j = (j + 1) & this.mask;
      keys[j] = k;
      this.vals[j] = oldVals[i]!;
    }
  }
}

/** Mixes all 53 bits of a page id into 32 (murmur3's finalizer), so runs of ids spread out. */
function hash(key: number): number {
  const lo = key >>> 0; // key mod 2^32
  const hi = (key / 4294967296) >>> 0;
  let h = lo ^ Math.imul(hi, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
