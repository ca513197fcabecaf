/**
 * A binary min-heap of entries ordered by `timeMs`, each entry knowing its own position so it
 * can be moved or removed in O(log n) without a search. The lessor keeps two: lease expiries
 * (one entry per lease, updated in place on renew) and due checkpoints.
 *
 * `siftSteps` counts every level an entry moves or is compared across; it is the measure of
 * work the scale tests bound (no timed assertions).
 */
import { assert } from '../pkg';
import type { LeaseId } from './lease-id';

/** One heap entry. `index` is its slot while queued and -1 once out of the heap. */
export interface HeapEntry {
  readonly id: LeaseId;
  timeMs: number;
  index: number;
}

export class TimeHeap {
  private items: HeapEntry[] = [];
  /** Levels walked by all sift operations so far (a work counter, never reset). */
  siftSteps = 0;

  get size(): number {
    return this.items.length;
  }

  /** The entry with the earliest time, or null when empty; O(1). */
  peek(): HeapEntry | null {
    return this.items.length === 0 ? null : this.items[0]!;
  }

  /** Adds a new entry; O(log n). */
  push(entry: HeapEntry): void {
    assert(entry.index === -1, 'heap entry pushed while already queued');
    entry.index = this.items.length;
    this.items.push(entry);
    this.up(entry.index);
  }

  /** Removes and returns the earliest entry; O(log n). */
  pop(): HeapEntry | null {
    const top = this.peek();
    if (top !== null) this.remove(top);
    return top;
  }

  /** Moves a queued entry after its time changed; O(log n). */
  update(entry: HeapEntry, timeMs: number): void {
    assert(this.items[entry.index] === entry, 'heap update of an entry not in this heap');
    entry.timeMs = timeMs;
    if (!this.up(entry.index)) this.down(entry.index);
  }

  /** Takes a queued entry out; O(log n). */
  remove(entry: HeapEntry): void {
    const i = entry.index;
    assert(this.items[i] === entry, 'heap remove of an entry not in this heap');
    const last = this.items.pop()!;
    entry.index = -1;
    if (last === entry) return;
    this.items[i] = last;
    last.index = i;
    if (!this.up(i)) this.down(i);
  }

  /** Drops every entry; O(n). */
  clear(): void {
    for (const e of this.items) e.index = -1;
    this.items.length = 0;
  }

  /**
   * Replaces the contents with `entries` in O(n) (Floyd's heap construction), for bulk loads
   * such as a promotion that schedules every lease at once. The heap takes the array over:
   * the caller must not use it afterwards.
   */
  rebuild(entries: HeapEntry[]): void {
    this.clear();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === -1, 'heap rebuild with an entry already queued');
      e.index = i;
    }
    this.items = entries;
    for (let i = (entries.length >>> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** O(n) check of the heap order and the back-pointers; for tests and FLOE_VERIFY runs. */
  check(): void {
    for (let i = 0; i < this.items.length; i++) {
      const e = this.items[i]!;
      assert(e.index === i, () => `heap entry ${e.id} at ${i} records index ${e.index}`);
      if (i > 0) {
        const parent = this.items[(i - 1) >>> 1]!;
        assert(parent.timeMs <= e.timeMs, () => `heap order broken at ${i}`);
      }
    }
  }

  /** Sifts slot i towards the root; returns whether it moved. */
  private up(i: number): boolean {
    const items = this.items;
    const e = items[i]!;
    const start = i;
    while (i > 0) {
      this.siftSteps++;
      const p = (i - 1) >>> 1;
      const parent = items[p]!;
      if (parent.timeMs <= e.timeMs) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = e;
    e.index = i;
    return i !== start;
  }

  /** Sifts slot i towards the leaves. */
  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      this.siftSteps++;
      const r = l + 1;
      const c = r < n && items[r]!.timeMs < items[l]!.timeMs ? r : l;
      const child = items[c]!;
      if (e.timeMs <= child.timeMs) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = e;
    e.index = i;
  }
}
