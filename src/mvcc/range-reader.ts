/**
 * A range read served in slices at one revision, so that a range over many keys does not hold
 * the event loop for its whole length (design.md §3: "Long reads ... yield").
 *
 *   const reader = store.openRange(key, end, { limit, revision });   // checks, then pins R
 *   try {
 *     while (!reader.step(RANGE_SLICE_KEYS, (record) => ...)) await nextTurn();
 *   } finally {
 *     reader.close();                                                  // unpins R
 *   }
 *
 * Why the result is the one a read in a single turn would give: the reader fixes its revision
 * R when it opens, and everything a read at R sees is immutable afterwards: writes only add
 * revisions above R (to the index and to the backend), and the only thing that removes
 * revisions is a compaction above R, which the store makes wait while R is pinned (a
 * compaction at or below R keeps what R sees). Between slices the reader keeps nothing but
 * the key to resume from.
 *
 * Records are handed out as the backend stores them: mvccpb.KeyValue bytes, which are also
 * their wire form in a RangeResponse. A record is a view valid only inside the callback.
 */
import { assert } from '../pkg';
import type { Revision } from './revision';
import type { RangeEnd, TreeIndex } from './tree-index';

/** What a RangeReader needs from the store (kv-store.ts implements it). */
export interface RangeReaderHost {
  readonly index: TreeIndex;
  /** Throws ERR_MVCC_CLOSED once the store is closed. */
  checkOpen(): void;
  /** Calls `fn` with the stored record of each revision, in order; records are views valid in `fn` only. */
  readRecords(revs: readonly Revision[], fn: (record: Buffer, i: number) => void): void;
  /** Drops one pin of `rev` taken when the reader opened. */
  unpin(rev: number): void;
}

/** Options of a sliced range: the subset of RangeOptions it serves (no count-only read of records). */
export interface RangeReaderOptions {
  /** At most this many records; 0 or less: no limit. `count` still covers the whole range. */
  readonly limit?: number;
  /** Count the keys only: no record is read. */
  readonly countOnly?: boolean;
}

/** A pinned, resumable range read; see the file comment. */
export class RangeReader {
  private from: Buffer | null;
  private visible = 0;
  private fetched = 0;
  private finished = false;
  private closed = false;
  private readonly revs: Revision[] = [];
  private readonly wantRevs: number;

  /** @internal Built by KvStore.openRange(), which has checked the revision and pinned it. */
  constructor(
    private readonly host: RangeReaderHost,
    key: Uint8Array,
    private readonly end: RangeEnd,
    /** The revision read (etcd's read revision, R). */
    readonly atRevision: number,
    /** The store's revision when the reader opened (the response header's revision). */
    readonly revision: number,
    opts: RangeReaderOptions,
  ) {
    this.from = Buffer.from(key);
    const limit = opts.limit ?? 0;
    if (opts.countOnly === true) this.wantRevs = 0;
    else this.wantRevs = limit > 0 && Number.isSafeInteger(limit) ? limit : Number.MAX_SAFE_INTEGER;
  }

  /** Keys of the range visible at the revision read, so far (the whole range's once done). */
  get count(): number {
    return this.visible;
  }

  /** Records handed out so far. */
  get records(): number {
    return this.fetched;
  }

  /** True once the whole range was walked. */
  get done(): boolean {
    return this.finished;
  }

  /**
   * Walks at most `maxKeys` more keys of the range and calls `onRecord` with the stored record
   * of each visible one, in key order, until the limit is reached (later keys are only
   * counted). Returns true when the range is done. Throws ERR_MVCC_CLOSED when the store closed.
   */
  step(maxKeys: number, onRecord: (record: Buffer) => void): boolean {
    assert(!this.closed, 'rangeReader: step after close');
    if (this.finished) return true;
    this.host.checkOpen();
    const revs = this.revs;
    revs.length = 0;
    const want = this.wantRevs - this.fetched;
    const slice = this.host.index.revisionsSlice(this.from as Buffer, this.end, this.atRevision, maxKeys, want, revs);
    this.visible += slice.visible;
    if (revs.length > 0) this.host.readRecords(revs, onRecord);
    this.fetched += revs.length;
    this.from = slice.next;
    if (slice.next === null) this.finished = true;
    return this.finished;
  }

  /** Releases the reader's pin; idempotent. Must be called, done or not. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.unpin(this.atRevision);
  }
}
