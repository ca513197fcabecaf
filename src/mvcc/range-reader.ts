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
 * compaction at or below R keeps what R sees). Between slices the reader keeps the key to
 * resume from, the revisions it gathered and not yet handed out, and the records it fetched
 * ahead (range-window.ts: a big range's records are fetched in revision order).
 *
 * Records are handed out as the backend stores them: mvccpb.KeyValue bytes, which are also
 * their wire form in a RangeResponse. A record is a view valid only inside the callback.
 */
import { assert } from '../pkg';
import { RevisionList, type Revision } from './revision';
import { DEFAULT_SWEEP_FACTOR, RecordWindow, type WindowHost } from './range-window';
import type { RangeEnd, TreeIndex } from './tree-index';

/** What a RangeReader needs from the store (kv-store.ts implements it). */
export interface RangeReaderHost extends WindowHost {
  readonly index: TreeIndex;
  /** Throws ERR_MVCC_CLOSED once the store is closed. */
  checkOpen(): void;
  /** Drops one pin of `rev` taken when the reader opened. */
  unpin(rev: number): void;
}

/** Options of a sliced range: the subset of RangeOptions it serves (no count-only read of records). */
export interface RangeReaderOptions {
  /** At most this many records; 0 or less: no limit. `count` still covers the whole range. */
  readonly limit?: number;
  /** Count the keys only: no record is read. */
  readonly countOnly?: boolean;
  /** Revisions gathered before their records are fetched (range-window.ts); default DEFAULT_WINDOW_REVS. */
  readonly windowRevs?: number;
  /** Fewer revisions than this are looked up one by one, never swept; default DEFAULT_SWEEP_MIN_REVS. */
  readonly sweepMinRevs?: number;
  /** A window is swept when its revisions span at most this many each (range-window.ts); default DEFAULT_SWEEP_FACTOR. */
  readonly sweepFactor?: number;
  /**
   * A window worth sweeping is handed to the caller instead of swept here: step() leaves it
   * for takeWindow(), and the caller fetches its records elsewhere (another thread reading
   * an exported snapshot, server/range-offload.ts) and reports back with finishWindow().
   */
  readonly offload?: boolean;
}

/**
 * Revisions gathered per window by default: the answer's records are fetched a window at a
 * time, so the revisions, slot table and record references of one window (a few tens of bytes
 * per record beyond the record itself) are what a reader holds at most besides the answer.
 */
export const DEFAULT_WINDOW_REVS = 1 << 17;
/** Below this many wanted revisions a sweep's setup costs more than it saves. */
export const DEFAULT_SWEEP_MIN_REVS = 256;

/** A pinned, resumable range read; see the file comment. */
export class RangeReader {
  private from: Buffer | null;
  private visible = 0;
  private fetched = 0;
  private swept = 0;
  private lookedUp = 0;
  private walked = false;
  private finished = false;
  private closed = false;
  /** Wanted revisions gathered, in key order; those before `nextLookup` were handed out. */
  private revs = new RevisionList();
  private nextLookup = 0;
  private readonly batch: Revision[] = [];
  private window: RecordWindow | null = null;
  /** The gathered revisions are being looked up one by one (not swept). */
  private lookingUp = false;
  private readonly wantRevs: number;
  private readonly windowRevs: number;
  private readonly sweepMinRevs: number;
  private readonly sweepFactor: number;
  private readonly offload: boolean;
  /** A window handed out by takeWindow() is being fetched elsewhere; steps wait for finishWindow(). */
  private offloaded = false;
  private offered: RevisionList | null = null;

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
    this.windowRevs = opts.windowRevs ?? DEFAULT_WINDOW_REVS;
    this.sweepMinRevs = opts.sweepMinRevs ?? DEFAULT_SWEEP_MIN_REVS;
    this.sweepFactor = opts.sweepFactor ?? DEFAULT_SWEEP_FACTOR;
    this.offload = opts.offload === true;
    assert(Number.isSafeInteger(this.sweepFactor) && this.sweepFactor >= 1, `rangeReader: sweep factor ${this.sweepFactor}`);
    assert(Number.isSafeInteger(this.windowRevs) && this.windowRevs >= 1, `rangeReader: window of ${this.windowRevs}`);
    assert(Number.isSafeInteger(this.sweepMinRevs) && this.sweepMinRevs >= 1, `rangeReader: sweep minimum ${this.sweepMinRevs}`);
  }

  /** Keys of the range visible at the revision read, so far (the whole range's once done). */
  get count(): number {
    return this.visible;
  }

  /** Records handed out so far. */
  get records(): number {
    return this.fetched;
  }

  /** Records fetched by sweeps of the backend (range-window.ts) so far, and by lookups. */
  get sweptRecords(): number {
    return this.swept;
  }

  get lookedUpRecords(): number {
    return this.lookedUp;
  }

  /** True once the whole range was walked and every record handed out. */
  get done(): boolean {
    return this.finished;
  }

  /**
   * One bounded step of the read, scaled by `maxKeys`: walks at most `maxKeys` more keys of
   * the index, or fetches or hands out a bounded number of records (range-window.ts). Calls
   * `onRecord` with stored records in key order, until the limit is reached (later keys are
   * only counted); a step may hand out none. A range of at most `maxKeys` keys, or one too
   * sparse to sweep, is read as before: records go out in the step that fetched them.
   * Returns true when the range is done. Throws ERR_MVCC_CLOSED when the store closed.
   */
  step(maxKeys: number, onRecord: (record: Buffer) => void): boolean {
    assert(!this.closed, 'rangeReader: step after close');
    assert(!this.offloaded, 'rangeReader: step while a window is fetched elsewhere');
    if (this.finished) return true;
    this.host.checkOpen();
    if (this.window !== null) {
      this.fetched += this.window.step(maxKeys, onRecord);
      if (this.window.done) {
        this.swept += this.window.swept;
        this.lookedUp += this.window.lookedUp;
        this.window = null;
        this.revs = new RevisionList();
        this.finished = this.walked;
      }
      return this.finished;
    }
    if (!this.lookingUp) {
      if (!this.walked) {
        this.gather(maxKeys);
        if (!this.walked && this.revs.length < this.windowRevs) return false;
      }
      // The window is complete: sweep for its records if they are dense enough.
      this.lookingUp = true;
      if (this.revs.length >= this.sweepMinRevs && this.startSweep()) return false;
    }
    // Looked up one by one, in key order, at most maxKeys per step.
    const revs = this.revs;
    const batch = this.batch;
    batch.length = 0;
    const end = Math.min(revs.length, this.nextLookup + maxKeys);
    for (let i = this.nextLookup; i < end; i++) batch.push(revs.at(i));
    if (batch.length > 0) this.host.readRecords(batch, onRecord);
    this.fetched += batch.length;
    this.lookedUp += batch.length;
    this.nextLookup = end;
    if (end === revs.length) {
      this.lookingUp = false;
      this.revs = new RevisionList();
      this.nextLookup = 0;
      this.finished = this.walked;
    }
    return this.finished;
  }

  /**
   * With `offload`: the window a step left for the caller to fetch (its wanted revisions, in
   * answer order), once; null when there is none. Steps are refused until finishWindow() or
   * sweepHere().
   */
  takeWindow(): RevisionList | null {
    const w = this.offered;
    this.offered = null;
    return w;
  }

  /**
   * The taken window's records were handed out by the caller, in order: `swept` of them found
   * by a sweep and `lookedUp` one by one.
   */
  finishWindow(swept: number, lookedUp: number): void {
    assert(this.offloaded && this.offered === null, 'rangeReader: finishWindow without a taken window');
    this.offloaded = false;
    this.fetched += swept + lookedUp;
    this.swept += swept;
    this.lookedUp += lookedUp;
    this.finished = this.walked;
  }

  /**
   * The taken window could not be fetched elsewhere (range-offload.ts: the worker is gone):
   * the following steps sweep it here, as without `offload`.
   */
  sweepHere(revs: RevisionList): void {
    assert(this.offloaded && this.offered === null, 'rangeReader: sweepHere without a taken window');
    this.offloaded = false;
    this.window = new RecordWindow(this.host, revs, this.sweepFactor);
  }

  /** The sweep factor windows are judged and swept with. */
  get windowSweepFactor(): number {
    return this.sweepFactor;
  }

  /** Starts a sweep over the gathered revisions when worth it (range-window.ts); false when not. */
  private startSweep(): boolean {
    if (!RecordWindow.worthSweeping(this.revs, this.sweepFactor)) return false;
    if (this.offload) {
      this.offered = this.revs;
      this.offloaded = true;
      this.revs = new RevisionList();
      this.lookingUp = false;
      return true;
    }
    this.window = new RecordWindow(this.host, this.revs, this.sweepFactor);
    this.lookingUp = false;
    return true;
  }

  /** Walks at most `maxKeys` more keys of the index, gathering their wanted revisions. */
  private gather(maxKeys: number): void {
    // revisionsSlice stops adding once the array holds this many; it holds unfetched ones only.
    const want = this.wantRevs - this.fetched;
    const slice = this.host.index.revisionsSlice(this.from as Buffer, this.end, this.atRevision, maxKeys, want, this.revs);
    this.visible += slice.visible;
    this.from = slice.next;
    if (slice.next === null) this.walked = true;
  }

  /** Releases the reader's pin; idempotent. Must be called, done or not. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.unpin(this.atRevision);
  }
}
