/**
 * The MVCC key-value store: the in-memory TreeIndex over the backend's `key` bucket, written
 * through a BatchTx (etcd's store, kvstore.go).
 *
 * Revisions: the store starts at revision 1 with no keys (etcd's numbering, so the first write
 * is revision 2) and every write transaction that changes something adds one. The compaction
 * revision is -1 until the first compaction.
 *
 * Ordering rules:
 * - A write transaction's backend writes go to the batch at end(), after the changes, followed
 *   by the consistent index, in one run that a batch commit never splits (BatchTx.inOneCommit:
 *   a limit reached inside it commits after it). So every backend commit holds whole
 *   transactions, and a commit holding consistent index i holds every change applied up to
 *   entry i.
 * - compact(): the scheduled compaction revision is committed to the backend before any
 *   record is removed, so a crash in the middle resumes the same compaction on open. Records
 *   are removed in bounded batches, each committed, with a turn of the event loop between
 *   batches (writes and reads go on meanwhile); finishedCompactRev goes with the last batch.
 * - Jobs that walk the whole store (compaction, hashes) run one at a time, in call order.
 * - A sliced range read (openRange) pins its revision R until it closes. A compaction above R
 *   is scheduled (and refuses new reads below it) at once, but removes nothing, from the index
 *   or the backend, until every pin below its revision is released; pins at or above it do not
 *   hold it, since it keeps what a read there sees.
 *
 * Nothing here blocks on I/O except the backend's own synchronous reads and commits.
 */
import { assert, FloeError } from '../pkg';
import { closeSnapshotHandle, exportSnapshot, type BatchTx, type DB, type RawVisitor, type SnapshotHandle } from '../backend';
import { runCompaction, type CompactionConfig, type CompactionHost, type CompactionMetrics } from './compaction';
import { mvccError, ERR_COMPACTED, ERR_FUTURE_REV, ERR_MVCC_CLOSED } from './errors';
import { hashKV, hashBackend, type HashHost, type HashKVResult, type HashResult } from './hash';
import { decodeKeyValue, NO_LEASE, type Event, type KeyValue, type LeaseId } from './kv-codec';
import {
  rangeKeys,
  StoreTxnRead,
  StoreTxnWrite,
  type DeleteRangeOptions,
  type DeleteRangeResult,
  type LeaseAttacher,
  type PutOptions,
  type PutResult,
  type RangeOptions,
  type KvRangeResult,
  type TxnHost,
  type TxnRead,
  type TxnWrite,
} from './kv-txn';
import { decodeRevision, encodeRevisionInto, REVISION_BYTES, type Revision } from './revision';
import {
  CONSISTENT_INDEX_KEY,
  decodeCompactRevision,
  decodeConsistentIndex,
  encodeCompactRevision,
  encodeConsistentIndex,
  FINISHED_COMPACT_KEY,
  KEY_BUCKET,
  META_BUCKET,
  SCHEDULED_COMPACT_KEY,
} from './schema';
import { RangeReader, type RangeReaderHost, type RangeReaderOptions } from './range-reader';
import { readEachRecord } from './record-snapshot';
import { TreeIndex, type RangeEnd } from './tree-index';

/** Keys per compaction batch by default (etcd's --experimental-compaction-batch-limit). */
export const DEFAULT_COMPACTION_BATCH_KEYS = 1000;
/** Backend records hashed per turn of the event loop by default. */
export const DEFAULT_HASH_BATCH_RECORDS = 10_000;

/** Options of a KvStore; every limit is validated at construction. */
export interface KvStoreOptions {
  /** Lease tracking (the lessor). Without it leases are stored but nobody is told. */
  readonly leases?: LeaseAttacher | null;
  /** Keys per index-compaction batch and records per backend-compaction batch; >= 1. */
  readonly compactionBatchKeys?: number;
  /** Pause between compaction batches; 0 (default) waits one turn of the event loop. */
  readonly compactionPauseMs?: number;
  /** Records hashed per turn of the event loop by hashKV() and hash(); >= 1. */
  readonly hashBatchRecords?: number;
  /** Where compaction timings and removed records are reported (compaction.ts); none by default. */
  readonly compactionMetrics?: CompactionMetrics;
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 1) throw new FloeError('ERR_BAD_OPTION', `mvcc: ${name} must be an integer >= 1, not ${n}`);
  return n;
}

/** The MVCC store; see the file comment. */
export class KvStore implements TxnHost, RangeReaderHost {
  readonly index = new TreeIndex();
  readonly leases: LeaseAttacher | null;
  readonly db: DB;
  private currentRev = 1;
  private compactMainRev = -1;
  /** The compaction revision when this process removed records at it (see compactionLosesHistoryAt). */
  private droppedAtRev = -1;
  private consistentIdx = 0;
  /** Whether a consistent index was ever set or read: only then is it written (as etcd). */
  private consistentIdxKnown = false;
  private openWrite: StoreTxnWrite | null = null;
  private jobs: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly compaction: CompactionConfig;
  private readonly hashBatchRecords: number;
  private readonly revKey = Buffer.allocUnsafe(REVISION_BYTES);
  /** Revisions pinned by open range readers, with how many readers pin each. */
  private readonly pins = new Map<number, number>();
  /** Compactions waiting for pins below their revision to go: [revision, wake]. */
  private pinWaiters: Array<[number, () => void]> = [];

  /**
   * Opens the store over `batch`: creates the `key` and `meta` buckets when missing, rebuilds
   * the index from the `key` bucket and resumes a compaction that was scheduled but not
   * finished (its promise: compactionIdle()).
   */
  constructor(
    readonly batch: BatchTx,
    opts: KvStoreOptions = {},
  ) {
    this.db = batch.db;
    this.leases = opts.leases ?? null;
    const pauseMs = opts.compactionPauseMs ?? 0;
    if (!(Number.isFinite(pauseMs) && pauseMs >= 0)) throw new FloeError('ERR_BAD_OPTION', `mvcc: compactionPauseMs must be >= 0, not ${pauseMs}`);
    this.compaction = {
      batchKeys: positiveInt('compactionBatchKeys', opts.compactionBatchKeys, DEFAULT_COMPACTION_BATCH_KEYS),
      pauseMs,
      ...(opts.compactionMetrics === undefined ? {} : { metrics: opts.compactionMetrics }),
    };
    this.hashBatchRecords = positiveInt('hashBatchRecords', opts.hashBatchRecords, DEFAULT_HASH_BATCH_RECORDS);
    batch.createBucket(KEY_BUCKET);
    batch.createBucket(META_BUCKET);
    batch.commit();
    this.restore();
  }

  /** The revision of the last write transaction (1 in a new store). */
  get currentRevision(): number {
    return this.currentRev;
  }

  /** The revision of the last compaction requested; -1 when never compacted. */
  get compactRevision(): number {
    return this.compactMainRev;
  }

  /**
   * True when history at exactly revision `rev`, the compaction revision, is incomplete in the
   * backend: this process's compaction removed records at `rev` itself (a key changed twice in
   * that revision, or deleted in it). etcd serves a watcher starting there from what is left and
   * silently misses those events; the watchable store sends it a compacted response instead.
   * After a restart this is not known and the answer is false, as etcd behaves.
   */
  compactionLosesHistoryAt(rev: number): boolean {
    return rev === this.compactMainRev && rev === this.droppedAtRev;
  }

  /** The last consistent index set or read back from the backend; 0 when none. */
  get consistentIndex(): number {
    return this.consistentIdx;
  }

  /**
   * Sets the consistent index (the raft index of the entry being applied). It is written to
   * `meta` with the next write transaction's changes, in the same batch, or by commit().
   * Call it before applying the entry, as etcd does.
   */
  setConsistentIndex(index: number): void {
    assert(Number.isSafeInteger(index) && index >= 0, () => `mvcc: consistent index ${index}`);
    this.consistentIdx = index;
    this.consistentIdxKnown = true;
  }

  /** A read transaction at the current revision. */
  read(): TxnRead {
    this.checkOpen();
    return new StoreTxnRead(this, this.currentRev, this.compactMainRev);
  }

  /** A write transaction; only one may be open, and it must end in the same turn (kv-txn.ts). */
  write(): TxnWrite {
    this.checkOpen();
    assert(this.openWrite === null, 'mvcc: a write transaction is already open');
    this.openWrite = new StoreTxnWrite(this);
    return this.openWrite;
  }

  /** range() in a read transaction of its own. */
  range(key: Uint8Array, end: RangeEnd, opts: RangeOptions = {}): KvRangeResult {
    this.checkOpen();
    return rangeKeys(this, key, end, this.currentRev, opts);
  }

  /**
   * Opens a range read to be served in slices (range-reader.ts) at `opts.revision` (0 or less:
   * the current revision), with etcd's checks in etcd's order: ERR_FUTURE_REV above the current
   * revision, ERR_COMPACTED below the compaction revision. Pins the revision read until the
   * reader is closed: the caller must close it.
   */
  openRange(key: Uint8Array, end: RangeEnd, opts: RangeReaderOptions & { readonly revision?: number } = {}): RangeReader {
    this.checkOpen();
    const curRev = this.currentRev;
    let rev = opts.revision ?? 0;
    if (rev > curRev) throw mvccError(ERR_FUTURE_REV);
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw mvccError(ERR_COMPACTED);
    this.pins.set(rev, (this.pins.get(rev) ?? 0) + 1);
    return new RangeReader(this, key, end, rev, curRev, opts);
  }

  /** Number of open range readers (tests and diagnostics). */
  get openReaders(): number {
    let n = 0;
    for (const c of this.pins.values()) n += c;
    return n;
  }

  /** put() in a write transaction of its own. */
  put(key: Uint8Array, value: Uint8Array, opts: PutOptions = {}): PutResult {
    return this.inWrite((txn) => txn.put(key, value, opts));
  }

  /** deleteRange() in a write transaction of its own. */
  deleteRange(key: Uint8Array, end: RangeEnd, opts: DeleteRangeOptions = {}): DeleteRangeResult {
    return this.inWrite((txn) => txn.deleteRange(key, end, opts));
  }

  /** Runs `fn` in a write transaction and ends it, also when `fn` throws. */
  inWrite<T>(fn: (txn: TxnWrite) => T): T {
    const txn = this.write();
    try {
      return fn(txn);
    } finally {
      txn.end();
    }
  }

  /**
   * Compacts history at revision `rev`: afterwards reads below `rev` fail with ERR_COMPACTED
   * and the backend keeps, for each key, only what a read at `rev` or later can see. Checks
   * and records the request at once (throws ERR_COMPACTED when rev <= the compaction revision,
   * ERR_FUTURE_REV above the current revision); the returned promise settles when the records
   * are removed (etcd's physical compaction waits for it).
   */
  compact(rev: number): Promise<void> {
    this.checkOpen();
    this.scheduleCompaction(rev);
    return this.enqueue(async () => {
      await runCompaction(this.compactionHost(rev), rev, this.compaction);
    });
  }

  /** Settles when every compaction and hash requested so far is over. */
  compactionIdle(): Promise<void> {
    return this.jobs.then(() => undefined);
  }

  /**
   * etcd's HashKV: a CRC-32C of the `key` bucket up to revision `rev` (0: the current one), as
   * a compaction at `rev` would leave it; equal across members with equal histories and equal
   * to etcd's. Throws ERR_COMPACTED when 0 < rev <= the compaction revision, ERR_FUTURE_REV
   * above the current revision. Runs in bounded batches, after any compaction requested before.
   */
  hashKV(rev = 0): Promise<HashKVResult> {
    this.checkOpen();
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw mvccError(ERR_COMPACTED);
    if (rev > currentRev) throw mvccError(ERR_FUTURE_REV);
    const atRev = rev === 0 ? currentRev : rev;
    return this.enqueue(async () => {
      const hash = await hashKV(this.hashHost(), atRev, compactRev, this.hashBatchRecords);
      return { hash, revision: currentRev, compactRevision: compactRev };
    });
  }

  /** etcd's Maintenance Hash: a CRC-32C of every bucket but meta's consistent_index. */
  hash(): Promise<HashResult> {
    this.checkOpen();
    const revision = this.currentRev;
    return this.enqueue(async () => ({ hash: await hashBackend(this.hashHost(), this.hashBatchRecords), revision }));
  }

  /** Writes the consistent index (when known) and commits the backend batch now (etcd's Commit). */
  commit(): void {
    this.checkOpen();
    assert(this.openWrite === null, 'mvcc: commit() inside a write transaction');
    this.saveConsistentIndex();
    this.batch.commit();
  }

  /**
   * Stops background work: a running compaction or hash stops at its next batch boundary (a
   * stopped compaction resumes on the next open). Settles when it has stopped. Does not commit
   * or close the backend; the owner does.
   */
  close(): Promise<void> {
    this.closed = true;
    return this.compactionIdle();
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---- RangeReaderHost ----

  /** @internal Drops a pin taken by openRange() and wakes compactions it no longer holds. */
  unpin(rev: number): void {
    const n = this.pins.get(rev);
    assert(n !== undefined && n > 0, () => `mvcc: unpinning revision ${rev}, which is not pinned`);
    if (n === 1) this.pins.delete(rev);
    else this.pins.set(rev, n - 1);
    if (this.pinWaiters.length === 0) return;
    const still: Array<[number, () => void]> = [];
    for (const w of this.pinWaiters) {
      if (this.pinnedBelow(w[0])) still.push(w);
      else w[1]();
    }
    this.pinWaiters = still;
  }

  /**
   * @internal Calls `fn` with the stored record (mvccpb.KeyValue bytes) of each of `revs`, in
   * order, reading through the batch (committed or not, a revision's bytes are the same). Only
   * between write transactions: a reader's slice runs in a turn of its own.
   */
  readRecords(revs: readonly Revision[], fn: (record: Buffer, i: number) => void): void {
    assert(this.openWrite === null, 'mvcc: a range slice inside a write transaction');
    this.withKeyBucket((get) => readEachRecord(get, this.revKey, revs, fn));
  }

  /**
   * @internal Visits each entry of the key bucket (revision key, record; where their bytes
   * lie) from the revision key `from` on, in order, through the batch, until `fn` returns false.
   */
  scanRecords(from: Buffer, fn: RawVisitor): void {
    assert(this.openWrite === null, 'mvcc: a range slice inside a write transaction');
    this.batch.scan(KEY_BUCKET, from, fn);
  }

  /**
   * @internal A snapshot of the backend holding every revision up to the current one, for a
   * reader in another thread (record-snapshot.ts): commits the batch's pending writes, then
   * pins a read transaction until release() (which must come after that reader is done, and
   * also closes the handle's descriptor).
   */
  exportRecords(): { readonly handle: SnapshotHandle; release(): void } {
    this.checkOpen();
    assert(this.openWrite === null, 'mvcc: a snapshot export inside a write transaction');
    this.batch.commit();
    const tx = this.db.beginRead();
    try {
      const handle = exportSnapshot(tx);
      return {
        handle,
        release: () => {
          closeSnapshotHandle(handle);
          tx.rollback();
        },
      };
    } catch (e) {
      tx.rollback();
      throw e;
    }
  }

  private pinnedBelow(rev: number): boolean {
    for (const p of this.pins.keys()) if (p < rev) return true;
    return false;
  }

  /** Settles when no range reader pins a revision below `rev`. */
  private readersBelow(rev: number): Promise<void> {
    if (!this.pinnedBelow(rev)) return Promise.resolve();
    return new Promise((resolve) => this.pinWaiters.push([rev, resolve]));
  }

  // ---- TxnHost ----

  /** @internal Reads the pairs at `revs` (live revisions), from the open transaction or the backend. */
  readValues(revs: readonly Revision[], keysOnly: boolean): KeyValue[] {
    const out: KeyValue[] = new Array<KeyValue>(revs.length);
    const txn = this.openWrite;
    const txnMain = txn === null ? -1 : txn.beginRev + 1;
    this.withKeyBucket((get) => {
      for (let i = 0; i < revs.length; i++) {
        const rev = revs[i] as Revision;
        let data: Buffer | null;
        if (rev.main === txnMain) {
          data = (txn as StoreTxnWrite).writes[rev.sub]?.value ?? null;
        } else {
          encodeRevisionInto(rev, this.revKey, 0);
          data = get(this.revKey);
        }
        assert(data !== null, () => `mvcc: revision ${rev.main}.${rev.sub} is in the index but not in the backend`);
        const kv = decodeKeyValue(data);
        out[i] = keysOnly ? { ...kv, value: EMPTY } : kv;
      }
    });
    return out;
  }

  /** @internal Called by StoreTxnWrite.end(): see the file comment's first ordering rule. */
  finishWrite(txn: StoreTxnWrite): void {
    assert(this.openWrite === txn, 'mvcc: ending a write transaction that is not the open one');
    this.openWrite = null;
    const events = txn.changes;
    if (events.length === 0) return;
    assert(txn.beginRev === this.currentRev, 'mvcc: the revision moved under an open write transaction');
    this.batch.inOneCommit(() => {
      // Revision keys only grow: etcd's sequential put, pages filled to 90%.
      for (const w of txn.writes) this.batch.seqPut(KEY_BUCKET, w.revKey, w.value);
      this.saveConsistentIndex();
    });
    this.currentRev++;
    this.afterWrite(this.currentRev, events);
  }

  /**
   * Called after each write transaction that changed something, with the new revision and
   * its events in order. The watchable store feeds watchers from here.
   */
  protected afterWrite(_rev: number, _events: readonly Event[]): void {}

  /** The lease a key is attached to according to the lease tracker (NO_LEASE without one). */
  leaseOf(key: Buffer): LeaseId {
    return this.leases?.leaseOf(key) ?? NO_LEASE;
  }

  // ---- internals ----

  /** Throws FloeError ERR_MVCC_CLOSED once close() was called. */
  checkOpen(): void {
    if (this.closed) throw mvccError(ERR_MVCC_CLOSED);
  }

  private saveConsistentIndex(): void {
    if (this.consistentIdxKnown) this.batch.put(META_BUCKET, CONSISTENT_INDEX_KEY, encodeConsistentIndex(this.consistentIdx));
  }

  /** etcd's updateCompactRev: check, then persist the request before any record goes. */
  private scheduleCompaction(rev: number): void {
    if (rev <= this.compactMainRev) throw mvccError(ERR_COMPACTED);
    if (rev > this.currentRev) throw mvccError(ERR_FUTURE_REV);
    assert(this.openWrite === null, 'mvcc: compaction inside a write transaction');
    this.compactMainRev = rev;
    this.batch.put(META_BUCKET, SCHEDULED_COMPACT_KEY, encodeCompactRevision(rev));
    this.batch.commit();
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.jobs.then(job);
    // The chain goes on after a failed job; the failure reaches the caller through `run`.
    this.jobs = run.catch(() => undefined);
    return run;
  }

  private compactionHost(rev: number): CompactionHost {
    return {
      index: this.index,
      batch: this.batch,
      isStopped: () => this.closed,
      assertNoWrite: () => assert(this.openWrite === null, 'mvcc: compaction batch inside a write transaction'),
      readersBelow: () => this.readersBelow(rev),
      droppedAtCompactRev: () => {
        this.droppedAtRev = rev;
      },
    };
  }

  private hashHost(): HashHost {
    return { index: this.index, batch: this.batch, db: this.db, isStopped: () => this.closed };
  }

  /**
   * Reads through one backend view: the batch's open write transaction when it holds
   * uncommitted writes (so they are seen), else one read transaction for all the reads.
   */
  private withKeyBucket(fn: (get: (key: Buffer) => Buffer | null) => void): void {
    if (this.batch.pendingOps > 0) {
      fn((k) => this.batch.get(KEY_BUCKET, k));
      return;
    }
    this.db.view((tx) => {
      const bucket = tx.bucket(KEY_BUCKET);
      assert(bucket !== null, 'mvcc: the key bucket is missing');
      fn((k) => bucket.get(k));
    });
  }

  /** etcd's restore: compaction state, consistent index, then the index from every record. */
  private restore(): void {
    const finished = this.batch.get(META_BUCKET, FINISHED_COMPACT_KEY);
    if (finished !== null) this.compactMainRev = decodeCompactRevision(finished);
    const scheduledBytes = this.batch.get(META_BUCKET, SCHEDULED_COMPACT_KEY);
    let scheduled = scheduledBytes === null ? 0 : decodeCompactRevision(scheduledBytes);
    const ci = this.batch.get(META_BUCKET, CONSISTENT_INDEX_KEY);
    if (ci !== null) {
      this.consistentIdx = decodeConsistentIndex(ci);
      this.consistentIdxKnown = true;
    }

    // Revision order is key order in the bucket; the last live record of a key with a lease
    // decides its attachment.
    const keyToLease = new Map<string, LeaseId>();
    let lastMain = 1;
    this.db.view((tx) => {
      const bucket = tx.bucket(KEY_BUCKET);
      assert(bucket !== null, 'mvcc: the key bucket is missing');
      const c = bucket.cursor();
      for (let e = c.first(); e !== null; e = c.next()) {
        assert(e.value !== null, 'mvcc: a nested bucket inside the key bucket');
        const { rev, tombstone } = decodeRevision(e.key);
        const kv = decodeKeyValue(e.value);
        const k = kv.key.toString('latin1');
        if (tombstone || kv.lease === NO_LEASE) keyToLease.delete(k);
        else keyToLease.set(k, kv.lease);
        this.index.restore(kv.key, rev, { tombstone, createRevision: kv.createRevision, version: kv.version });
        lastMain = rev.main;
      }
    });
    // Compaction may have removed every record up to the compaction revision.
    this.currentRev = Math.max(lastMain, this.compactMainRev);
    if (scheduled <= this.compactMainRev) scheduled = 0;

    if (this.leases !== null) {
      for (const [k, lease] of keyToLease) this.leases.attach(lease, Buffer.from(k, 'latin1'));
    }
    if (scheduled !== 0 && scheduled <= this.currentRev) {
      // etcd resumes an interrupted compaction the same way, ignoring its own check errors.
      void this.compact(scheduled);
    }
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
