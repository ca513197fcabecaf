/**
 * The key bucket of an exported backend snapshot (backend/snapshot.ts) as a range window's
 * host, so that a big range's records can be swept and looked up in another thread
 * (server/range-offload.ts) while the store's thread goes on writing.
 *
 * KvStore.exportRecords() commits the batch first, so the snapshot holds every revision up to
 * the store's current one: a reader's wanted revisions are all at or below it, and the reader's
 * pin keeps a compaction from removing any of them.
 */
import { assert } from '../pkg';
import { openSnapshot, type RawVisitor, type ReadTx, type RunBuffers, type SnapshotHandle } from '../backend';
import { encodeRevisionInto, REVISION_BYTES, type Revision, type RevisionList } from './revision';
import { RecordWindow, type WindowHost } from './range-window';
import { KEY_BUCKET } from './schema';

/**
 * Pages read per miss: the key bucket's leaves are written in revision order, so a sweep's
 * next leaf is mostly near the last one in the file.
 */
export const SWEEP_READ_AHEAD_PAGES = 32;

/** A window host over the key bucket of `handle`'s snapshot; close() ends the snapshot's reader. */
export class SnapshotRecords implements WindowHost {
  private readonly tx: ReadTx;
  private readonly revKey = Buffer.allocUnsafe(REVISION_BYTES);

  constructor(handle: SnapshotHandle, cacheBytes: number, runs: RunBuffers | null = null) {
    this.tx = openSnapshot(handle, cacheBytes, SWEEP_READ_AHEAD_PAGES, runs);
  }

  scanRecords(from: Buffer, fn: RawVisitor): void {
    this.keyBucket().cursor().scanFrom(from, fn);
  }

  readRecords(revs: readonly Revision[], fn: (record: Buffer, i: number) => void): void {
    const bucket = this.keyBucket();
    readEachRecord((k) => bucket.get(k), this.revKey, revs, fn);
  }

  close(): void {
    this.tx.rollback();
  }

  private keyBucket() {
    const bucket = this.tx.bucket(KEY_BUCKET);
    assert(bucket !== null, 'mvcc: the key bucket is missing from the exported snapshot');
    return bucket;
  }
}

/**
 * Calls `fn` with the stored record of each of `revs`, in order, as `get` (a lookup in a key
 * bucket) finds it under its revision key, encoded into the scratch `revKey`. Every revision
 * must be there: the index named it.
 */
export function readEachRecord(
  get: (key: Buffer) => Buffer | null,
  revKey: Buffer,
  revs: readonly Revision[],
  fn: (record: Buffer, i: number) => void,
): void {
  for (let i = 0; i < revs.length; i++) {
    const rev = revs[i] as Revision;
    encodeRevisionInto(rev, revKey, 0);
    const data = get(revKey);
    assert(data !== null, () => `mvcc: revision ${rev.main}.${rev.sub} is in the index but not in the backend`);
    fn(data, i);
  }
}

/** Counts of a window fetched by fetchWindow. */
export interface FetchedWindow {
  readonly swept: number;
  readonly lookedUp: number;
}

/**
 * Fetches the records of `revs` (a window a RangeReader handed out with takeWindow()) from
 * `handle`'s snapshot in one go, calling `onRecord` with each in answer order (a view valid in
 * the call only), then ends the snapshot's reader, also when it throws. Read-ahead runs come
 * from `runs` when given, recycled at the end.
 */
export function fetchWindow(
  handle: SnapshotHandle,
  revs: RevisionList,
  sweepFactor: number,
  cacheBytes: number,
  onRecord: (record: Buffer) => void,
  runs: RunBuffers | null = null,
): FetchedWindow {
  const records = new SnapshotRecords(handle, cacheBytes, runs);
  try {
    const window = new RecordWindow(records, revs, sweepFactor);
    while (!window.done) window.step(WHOLE_PHASE_KEYS, onRecord);
    return { swept: window.swept, lookedUp: window.lookedUp };
  } finally {
    records.close();
    // Every record went out through onRecord (copied there): the runs read are free again.
    runs?.recycle();
  }
}

/** A step scale at which each of a window's phases runs to its end (a window holds fewer revisions). */
const WHOLE_PHASE_KEYS = 1 << 20;
