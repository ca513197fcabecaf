/**
 * BatchTx: the write path of the layers above (etcd's batch transaction). Writes go into one
 * open write transaction and are committed together when `intervalMs` has passed since the
 * first uncommitted write, when `limit` operations have accumulated, or on commit(). Reads made
 * through the BatchTx see its uncommitted writes; read transactions opened on the db meanwhile
 * see the last commit.
 *
 * While writes are pending the BatchTx holds the db's single write transaction; other writers
 * get ERR_TX_WRITE_OPEN until it commits. Commits are synchronous (fdatasync on the calling
 * thread, or on the timer's turn of the event loop), unless `pipelined`: then a commit writes
 * its pages and returns, and its syncs run off the event loop behind it (WriteTx's
 * commitPipelined; db.flush() waits for them) — for owners whose durability comes from
 * elsewhere (a member's WAL), so that a backend commit never stalls the event loop.
 */
import { performance } from 'node:perf_hooks';
import { FloeError, assert } from '../pkg';
import type { Bucket } from './bucket';
import type { RawVisitor } from './cursor';
import { asBuffer } from './bucket';
import { backendError } from './errors';
import type { DB } from './db';
import type { ReadTx, WriteTx } from './tx';

export interface BatchTxOptions {
  /** Commit this long after the first uncommitted write; default 100 ms. */
  intervalMs?: number;
  /** Commit when this many operations are pending; default 10 000. */
  limit?: number;
  /** Commit with WriteTx.commitPipelined (syncs off the event loop); default false. */
  pipelined?: boolean;
  /**
   * etcd_disk_backend_commit_duration_seconds: each commit's time from its start until it is
   * durable (for a pipelined commit, when its syncs finish); none by default.
   */
  commitSeconds?: { observe(seconds: number): void };
}

/** Keys and values of a range read, in key order. */
export interface RangeResult {
  readonly keys: Buffer[];
  readonly values: Buffer[];
}

export const DEFAULT_BATCH_INTERVAL_MS = 100;
export const DEFAULT_BATCH_LIMIT = 10_000;
/**
 * Pipelined commits that may wait for their syncs at once. A commit falling due while that
 * many wait is put off until they are durable, its batch growing meanwhile (etcd's commits
 * are synchronous: the same backpressure). Unbounded, a small limit outran the disk
 * (--backend-batch-limit 100 at ~10k puts/s): every page freed by a commit not yet durable
 * stays pending, the file grew to 586 MB where etcd's was 38, and puts slowed fourfold.
 */
export const MAX_UNDURABLE_COMMITS = 1;
/** How full seqPut() fills a bucket's pages (etcd's UnsafeSeqPut sets the same on its bucket). */
export const SEQ_FILL_PERCENT = 0.9;

export class BatchTx {
  readonly intervalMs: number;
  readonly limit: number;
  readonly pipelined: boolean;
  private tx: WriteTx | null = null;
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Commits made so far (auto and on demand). */
  commits = 0;
  /** Due commits put off until earlier pipelined commits were durable (MAX_UNDURABLE_COMMITS). */
  deferredCommits = 0;
  private awaitingSync = false;
  /** Inside inOneCommit(): the limit commits after the run. */
  private inRun = false;
  private readonly commitSeconds: { observe(seconds: number): void } | null;

  constructor(readonly db: DB, opts: BatchTxOptions = {}) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_BATCH_INTERVAL_MS;
    this.limit = opts.limit ?? DEFAULT_BATCH_LIMIT;
    this.pipelined = opts.pipelined ?? false;
    this.commitSeconds = opts.commitSeconds ?? null;
    if (!(Number.isFinite(this.intervalMs) && this.intervalMs > 0)) {
      throw new FloeError('ERR_BAD_OPTION', `batch intervalMs must be > 0, not ${this.intervalMs}`);
    }
    if (!(Number.isSafeInteger(this.limit) && this.limit >= 1)) {
      throw new FloeError('ERR_BAD_OPTION', `batch limit must be an integer >= 1, not ${this.limit}`);
    }
  }

  /** Operations written but not yet committed. */
  get pendingOps(): number {
    return this.pending;
  }

  /** Sets `key` in the top-level bucket `bucket` (which must exist). */
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): void {
    this.writeBucket(bucket).put(key, value);
    this.counted();
  }

  /**
   * put() of a key that sorts after every key of `bucket` (etcd's UnsafeSeqPut: revision keys):
   * the bucket's pages are then filled to SEQ_FILL_PERCENT at this commit, as etcd fills them,
   * instead of being split half full and never written into again.
   */
  seqPut(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): void {
    const b = this.writeBucket(bucket);
    b.fillPercent = SEQ_FILL_PERCENT;
    b.put(key, value);
    this.counted();
  }

  /** Removes `key` from `bucket` (which must exist); a missing key is not an error. */
  delete(bucket: Uint8Array, key: Uint8Array): void {
    this.writeBucket(bucket).delete(key);
    this.counted();
  }

  /** Creates the top-level bucket; an existing one is left as it is (etcd's behaviour). */
  createBucket(bucket: Uint8Array): void {
    this.writeTx().createBucketIfNotExists(bucket);
    this.counted();
  }

  /** Deletes the top-level bucket; a missing one is not an error (etcd's behaviour). */
  deleteBucket(bucket: Uint8Array): void {
    try {
      this.writeTx().deleteBucket(bucket);
    } catch (e) {
      if (!(e instanceof FloeError && e.code === 'ERR_BUCKET_NOT_FOUND')) throw e;
    }
    this.counted();
  }

  /** The value of `key` in `bucket`, including uncommitted writes; null when missing. */
  get(bucket: Uint8Array, key: Uint8Array): Buffer | null {
    return this.read((tx) => tx.bucket(bucket)?.get(key) ?? null);
  }

  /**
   * Entries of `bucket` with start <= key < end, at most `limit` of them (limit <= 0: no
   * limit), including uncommitted writes. With `end` null only `start` itself is looked up
   * (etcd's UnsafeRange). Nested-bucket entries are skipped.
   */
  range(bucket: Uint8Array, start: Uint8Array, end: Uint8Array | null, limit: number): RangeResult {
    return this.read((tx) => {
      const keys: Buffer[] = [];
      const values: Buffer[] = [];
      const b = tx.bucket(bucket);
      if (b === null) return { keys, values };
      if (end === null) {
        const v = b.get(start);
        if (v !== null) {
          keys.push(Buffer.from(asBuffer(start)));
          values.push(v);
        }
        return { keys, values };
      }
      const c = b.cursor();
      const e = asBuffer(end);
      for (let it = c.seek(start); it !== null && Buffer.compare(it.key, e) < 0; it = c.next()) {
        if (it.value === null) continue;
        keys.push(it.key);
        values.push(it.value);
        if (limit > 0 && keys.length >= limit) break;
      }
      return { keys, values };
    });
  }

  /**
   * Visits each entry of `bucket` from `start` on (inclusive), in key order and including
   * uncommitted writes, until `fn` returns false or the bucket ends (Cursor.scanFrom: the
   * bytes where they lie, valid inside `fn` only). A missing bucket has no entries.
   */
  scan(bucket: Uint8Array, start: Uint8Array, fn: RawVisitor): void {
    this.read((tx) => tx.bucket(bucket)?.cursor().scanFrom(start, fn));
  }

  /** Commits the pending writes now (nothing to do when there are none). */
  commit(): void {
    this.clearTimer();
    const tx = this.tx;
    if (tx === null) return;
    this.tx = null;
    this.pending = 0;
    const startMs = this.commitSeconds === null ? 0 : performance.now();
    if (this.pipelined) tx.commitPipelined();
    else tx.commit();
    this.commits++;
    if (this.commitSeconds !== null) this.observeCommit(startMs);
  }

  /** Reports a commit's duration once it is durable (a failed one is not reported). */
  private observeCommit(startMs: number): void {
    const h = this.commitSeconds as { observe(seconds: number): void };
    if (!this.pipelined) h.observe((performance.now() - startMs) / 1000);
    else this.db.flush().then(() => h.observe((performance.now() - startMs) / 1000), () => undefined);
  }

  /** Commits what is pending and stops the timer; the BatchTx refuses further writes. */
  close(): void {
    if (this.closed) return;
    this.commit();
    this.closed = true;
  }

  private read<T>(fn: (tx: ReadTx) => T): T {
    if (this.tx !== null) return fn(this.tx);
    return this.db.view(fn);
  }

  private writeTx(): WriteTx {
    if (this.closed) throw backendError('ERR_TX_CLOSED');
    this.tx ??= this.db.beginWrite();
    return this.tx;
  }

  private writeBucket(name: Uint8Array): Bucket {
    const b = this.writeTx().bucket(name);
    if (b === null) throw backendError('ERR_BUCKET_NOT_FOUND');
    return b;
  }

  /**
   * Runs `fn` and commits its writes together: a limit reached inside it commits after it, as
   * etcd's batch commits on unlock, after a transaction's writes. The batch can so exceed its
   * limit by one run.
   */
  inOneCommit(fn: () => void): void {
    assert(!this.inRun, 'batchTx: inOneCommit inside another');
    this.inRun = true;
    try {
      fn();
    } finally {
      this.inRun = false;
    }
    if (this.pending >= this.limit) this.commitWhenSynced();
  }

  private counted(): void {
    this.pending++;
    if (this.pending >= this.limit) {
      if (!this.inRun) this.commitWhenSynced();
      return;
    }
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.commitWhenSynced();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * A commit that is due (limit or interval): now, or, while MAX_UNDURABLE_COMMITS pipelined
   * commits still wait for their syncs, once they are durable (the batch grows meanwhile).
   */
  private commitWhenSynced(): void {
    if (!this.pipelined || this.db.pendingDurable < MAX_UNDURABLE_COMMITS) {
      this.commit();
      return;
    }
    if (this.awaitingSync) return;
    this.awaitingSync = true;
    this.deferredCommits++;
    const due = (): void => {
      this.awaitingSync = false;
      if (!this.closed && this.tx !== null) this.commitWhenSynced();
    };
    // A failed sync fails the db: the next write reports it, nothing is committed here.
    this.db.flush().then(due, () => {
      this.awaitingSync = false;
    });
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
