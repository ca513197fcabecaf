import { assert, verifyEnabled } from '../../pkg';
import { PageBits } from './page-bits';
import { PageMap } from './page-map';
import type { Freelist, FreelistKind, Pgid, Txid } from './types';

/**
 * What the two freelists share: pending frees per transaction, the bit sets that answer
 * `freed()` and list ids in order, counts, and argument checks. A subclass only keeps the free
 * set in its own structure: take a run of n pages (`takeRun`), add released spans
 * (`addFreeSpans`), replace everything (`resetFree`), and check itself (`verifyStructure`).
 *
 * Range release (bbolt's rule): a page freed by T in [begin, end] becomes free only when the
 * transaction that allocated it is also in [begin, end]; otherwise a reader older than `begin`
 * may still see it. Pages whose allocator is unknown (allocated before the file was opened, or
 * by growing the file) count as allocated by txid 0, so a range release keeps them pending.
 */
export abstract class FreelistBase implements Freelist {
  abstract readonly kind: FreelistKind;

  protected readonly freeBits = new PageBits();
  private readonly pendingBits = new PageBits();
  /** Freeing txid -> flat [start, n, allocTxid] triples, in the order they were freed. */
  private readonly pending = new Map<Txid, number[]>();
  /** First page of each allocation -> the txid that allocated it (for releaseRange). */
  private readonly allocs = new PageMap();
  private freePages = 0;
  private pendingPages = 0;

  /** Takes a run of `n` free pages out of the subclass's structure; 0 when there is none. */
  protected abstract takeRun(n: number): Pgid;
  /** Adds the released spans (flat [start, n] pairs, disjoint, in no order) to the free set. */
  protected abstract addFreeSpans(spans: readonly number[]): void;
  /** Replaces the free set with `ids` (ascending, unique). */
  protected abstract resetFree(ids: readonly Pgid[]): void;
  /** Asserts the subclass's structure holds exactly the pages of `freeBits`. O(n). */
  protected abstract verifyStructure(): void;

  allocate(txid: Txid, n: number): Pgid {
    assert(Number.isSafeInteger(n) && n >= 1, () => `allocate: bad page count ${n}`);
    const start = this.takeRun(n);
    if (start === 0) return 0;
    assert(start >= 2, () => `allocate: returned meta page ${start}`);
    const missing = this.freeBits.firstMissingIn(start, n);
    assert(missing === -1, () => `allocate: page ${missing} was not free`);
    this.freeBits.clearRange(start, n);
    this.freePages -= n;
    this.allocs.set(start, txid);
    return start;
  }

  free(txid: Txid, start: Pgid, n: number): void {
    assert(Number.isSafeInteger(n) && n >= 1, () => `free: bad page count ${n}`);
    assert(Number.isSafeInteger(start) && start >= 2, () => `cannot free page 0 or 1: ${start}`);
    assert(Number.isSafeInteger(start + n), () => `free: page ${start}+${n} out of range`);
    let dup = this.freeBits.firstIn(start, n);
    if (dup === -1) dup = this.pendingBits.firstIn(start, n);
    assert(dup === -1, () => `page ${dup} already freed`);
    this.pendingBits.setRange(start, n);
    this.pendingPages += n;
    const allocTxid = Math.max(this.allocs.get(start), 0);
    this.allocs.delete(start);
    let list = this.pending.get(txid);
    if (list === undefined) {
      list = [];
      this.pending.set(txid, list);
    }
    list.push(start, n, allocTxid);
  }

  release(txid: Txid): void {
    const spans: number[] = [];
    // Deleting the entry being visited is safe in a Map iteration.
    for (const [tid, list] of this.pending) {
      if (tid > txid) continue;
      for (let i = 0; i < list.length; i += 3) spans.push(list[i]!, list[i + 1]!);
      this.pending.delete(tid);
    }
    this.moveToFree(spans);
  }

  releaseRange(begin: Txid, end: Txid): void {
    if (begin > end) return;
    const spans: number[] = [];
    for (const [tid, list] of this.pending) {
      if (tid < begin || tid > end) continue;
      const kept: number[] = [];
      for (let i = 0; i < list.length; i += 3) {
        const allocTxid = list[i + 2]!;
        if (allocTxid >= begin && allocTxid <= end) spans.push(list[i]!, list[i + 1]!);
        else kept.push(list[i]!, list[i + 1]!, allocTxid);
      }
      if (kept.length === 0) this.pending.delete(tid);
      else this.pending.set(tid, kept);
    }
    this.moveToFree(spans);
  }

  rollback(txid: Txid): void {
    const list = this.pending.get(txid);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i += 3) {
      const start = list[i]!;
      const n = list[i + 1]!;
      const allocTxid = list[i + 2]!;
      this.pendingBits.clearRange(start, n);
      this.pendingPages -= n;
      // The page is live again: remember who allocated it, for a later range release.
      if (allocTxid !== 0 && allocTxid !== txid) this.allocs.set(start, allocTxid);
    }
    this.pending.delete(txid);
    if (verifyEnabled) this.verify();
  }

  freeCount(): number {
    return this.freePages;
  }

  pendingCount(): number {
    return this.pendingPages;
  }

  freed(pgid: Pgid): boolean {
    return this.freeBits.has(pgid) || this.pendingBits.has(pgid);
  }

  allIds(): Pgid[] {
    return PageBits.ascendingIds(this.freePages + this.pendingPages, this.freeBits, this.pendingBits);
  }

  freeIds(): Pgid[] {
    return PageBits.ascendingIds(this.freePages, this.freeBits);
  }

  readIds(ids: readonly Pgid[]): void {
    checkAscending(ids);
    this.pending.clear();
    this.pendingBits.clear();
    this.pendingPages = 0;
    this.allocs.clear();
    this.setFree(ids);
  }

  reload(ids: readonly Pgid[]): void {
    checkAscending(ids);
    this.setFree(this.pendingPages === 0 ? ids : ids.filter((id) => !this.pendingBits.has(id)));
  }

  /** Asserts every internal invariant: counts, bit sets and the subclass's structure agree. */
  verify(): void {
    assert(this.freeBits.count() === this.freePages, 'free bits disagree with the free count');
    assert(this.pendingBits.count() === this.pendingPages, 'pending bits disagree with the pending count');
    let listed = 0;
    for (const list of this.pending.values()) {
      assert(list.length > 0 && list.length % 3 === 0, 'pending list malformed');
      for (let i = 0; i < list.length; i += 3) {
        const start = list[i]!;
        const n = list[i + 1]!;
        listed += n;
        assert(this.pendingBits.firstMissingIn(start, n) === -1, () => `pending span ${start}+${n} not marked`);
        assert(this.freeBits.firstIn(start, n) === -1, () => `pending span ${start}+${n} also free`);
      }
    }
    assert(listed === this.pendingPages, 'pending lists disagree with the pending count');
    this.verifyStructure();
  }

  private setFree(ids: readonly Pgid[]): void {
    this.freeBits.clear();
    for (const id of ids) this.freeBits.setRange(id, 1);
    this.freePages = ids.length;
    this.resetFree(ids);
    if (verifyEnabled) this.verify();
  }

  private moveToFree(spans: number[]): void {
    if (spans.length === 0) return;
    for (let i = 0; i < spans.length; i += 2) {
      const start = spans[i]!;
      const n = spans[i + 1]!;
      this.pendingBits.clearRange(start, n);
      this.freeBits.setRange(start, n);
      this.pendingPages -= n;
      this.freePages += n;
    }
    this.addFreeSpans(spans);
    if (verifyEnabled) this.verify();
  }
}

/** Asserts `ids` is a valid free set: ascending, unique, no meta page, safe integers. */
function checkAscending(ids: readonly Pgid[]): void {
  let prev = 1;
  for (const id of ids) {
    assert(Number.isSafeInteger(id) && id > prev, () => `freelist ids not ascending, unique and >= 2 at ${id}`);
    prev = id;
  }
}
