import { assert } from '../../pkg';
import { FreelistBase } from './base';
import { PageMap } from './page-map';
import type { Pgid } from './types';

/**
 * The seed's segregated-hashmap freelist. The free set is kept as maximal spans (runs of
 * consecutive free pages; no two spans touch). Each span lives in a slot of a small pool and is
 * found three ways:
 *  - `byStart`: first page -> slot, `byLast`: last page -> slot (the neighbour lookups), in
 *    PageMaps (page-map.ts: a JS Map's delete+insert churn costs more than the rest of an
 *    allocation);
 *  - `buckets`: size -> slots of that size (an unordered array; a slot knows its position,
 *    so removal is a swap with the last entry);
 *  - `sizes`: the sizes that have a non-empty bucket, ascending.
 *
 * Costs, with D distinct span sizes (D <= sqrt(2F) for F free pages, small in practice):
 *  - allocate(n), exact size: O(1): pop a span from bucket n.
 *  - allocate(n), larger size: O(log D) binary search in `sizes` for the smallest size > n
 *    (best fit, never a scan of all sizes), split the span: O(1) map work plus O(D) when a
 *    bucket appears or empties (a splice of `sizes`).
 *  - release of a span: O(1) map lookups to merge with both neighbours (plus the same O(D)
 *    bucket bookkeeping); a batch of S spans is O(S), independent of F.
 *  - freeIds/allIds: a word scan of the free bit set (base class), O(pages / 32 + F), no sort.
 * Choices are deterministic (the last span of a bucket is taken), so the same calls give the
 * same page ids.
 */
export class HashmapFreelist extends FreelistBase {
  readonly kind = 'hashmap' as const;

  private readonly byStart = new PageMap();
  private readonly byLast = new PageMap();
  private readonly buckets = new Map<number, number[]>();
  private sizes: number[] = [];
  // The slot pool: parallel arrays indexed by slot, plus a stack of unused slots.
  private spanStart: number[] = [];
  private spanSize: number[] = [];
  private spanPos: number[] = [];
  private unusedSlots: number[] = [];

  protected takeRun(n: number): Pgid {
    const exact = this.buckets.get(n);
    if (exact !== undefined) {
      const slot = exact[exact.length - 1]!;
      const start = this.spanStart[slot]!;
      this.removeSpan(slot);
      return start;
    }
    const i = lowerBound(this.sizes, n + 1);
    if (i === this.sizes.length) return 0;
    const size = this.sizes[i]!;
    const bucket = this.buckets.get(size)!;
    const slot = bucket[bucket.length - 1]!;
    const start = this.spanStart[slot]!;
    this.removeSpan(slot);
    // The remainder keeps the old span's last page and still touches no other span.
    this.addSpan(start + n, size - n);
    return start;
  }

  protected addFreeSpans(spans: readonly number[]): void {
    for (let i = 0; i < spans.length; i += 2) this.mergeSpan(spans[i]!, spans[i + 1]!);
  }

  protected resetFree(ids: readonly Pgid[]): void {
    // Size the maps once: the span count is at most the id count.
    this.byStart.clear(ids.length);
    this.byLast.clear(ids.length);
    this.buckets.clear();
    this.sizes = [];
    this.spanStart = [];
    this.spanSize = [];
    this.spanPos = [];
    this.unusedSlots = [];
    let i = 0;
    while (i < ids.length) {
      let j = i + 1;
      while (j < ids.length && ids[j] === ids[j - 1]! + 1) j++;
      this.addSpan(ids[i]!, j - i);
      i = j;
    }
  }

  protected verifyStructure(): void {
    let pages = 0;
    let spans = 0;
    this.byStart.forEach((start, slot) => {
      const size = this.spanSize[slot]!;
      assert(this.spanStart[slot] === start && size >= 1 && start >= 2, () => `span slot ${slot} inconsistent`);
      assert(this.byLast.get(start + size - 1) === slot, () => `span ${start}+${size} missing from byLast`);
      assert(!this.byStart.has(start + size), () => `spans at ${start}+${size} touch but were not merged`);
      const bucket = this.buckets.get(size);
      assert(bucket !== undefined && bucket[this.spanPos[slot]!] === slot, () => `span ${start}+${size} not in its bucket`);
      assert(this.freeBits.firstMissingIn(start, size) === -1, () => `span ${start}+${size} not marked free`);
      pages += size;
      spans++;
    });
    assert(pages === this.freeCount(), 'hashmap spans disagree with the free count');
    assert(this.byLast.size === spans, 'byLast has stale entries');
    let bucketed = 0;
    for (const bucket of this.buckets.values()) bucketed += bucket.length;
    assert(bucketed === spans, 'buckets hold stale slots');
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    assert(keys.length === this.sizes.length && keys.every((k, i) => k === this.sizes[i]), 'sizes disagree with buckets');
    assert(this.unusedSlots.length + spans === this.spanStart.length, 'slot pool leaks');
  }

  /** Adds [start, start+n) to the free spans, merged with the spans just before and after. */
  private mergeSpan(start: Pgid, n: number): void {
    let newStart = start;
    let newSize = n;
    const prev = this.byLast.get(start - 1);
    if (prev !== -1) {
      newStart = this.spanStart[prev]!;
      newSize += this.spanSize[prev]!;
      this.removeSpan(prev);
    }
    const next = this.byStart.get(start + n);
    if (next !== -1) {
      newSize += this.spanSize[next]!;
      this.removeSpan(next);
    }
    this.addSpan(newStart, newSize);
  }

  private addSpan(start: Pgid, size: number): void {
    const slot = this.unusedSlots.length > 0 ? this.unusedSlots.pop()! : this.spanStart.length;
    let bucket = this.buckets.get(size);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(size, bucket);
      this.sizes.splice(lowerBound(this.sizes, size), 0, size);
    }
    this.spanStart[slot] = start;
    this.spanSize[slot] = size;
    this.spanPos[slot] = bucket.length;
    bucket.push(slot);
    this.byStart.set(start, slot);
    this.byLast.set(start + size - 1, slot);
  }

  private removeSpan(slot: number): void {
    const start = this.spanStart[slot]!;
    const size = this.spanSize[slot]!;
    this.byStart.delete(start);
    this.byLast.delete(start + size - 1);
    const bucket = this.buckets.get(size)!;
    const last = bucket.pop()!;
    if (last !== slot) {
      const pos = this.spanPos[slot]!;
      bucket[pos] = last;
      this.spanPos[last] = pos;
    }
    if (bucket.length === 0) {
      this.buckets.delete(size);
      this.sizes.splice(lowerBound(this.sizes, size), 1);
    }
    this.unusedSlots.push(slot);
  }
}

/** Index of the first element of ascending `a` that is >= `x` (a.length when none). */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
