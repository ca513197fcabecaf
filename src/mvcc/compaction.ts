/**
 * The compaction job: first the index, then the backend, both in bounded batches with a turn
 * of the event loop (or a pause) between batches, so writes and reads go on meanwhile
 * (design.md §5; etcd's kvstore_compaction.go does the backend part the same way).
 *
 * Why writes may interleave: they are at revisions above the compaction revision, which
 * neither the index compaction nor the records it keeps depend on; reads below the compaction
 * revision are refused from the moment it was scheduled. Each batch itself runs between
 * transactions (asserted), never inside one.
 */
import { performance } from 'node:perf_hooks';
import type { BatchTx } from '../backend';
import { failpoint } from '../pkg';
import { decodeRevision, encodeRevision, RevisionSet } from './revision';
import { encodeCompactRevision, FINISHED_COMPACT_KEY, KEY_BUCKET, META_BUCKET } from './schema';
import type { TreeIndex } from './tree-index';

/** Batch size and pacing of compaction. */
export interface CompactionConfig {
  /** Keys per index batch and records per backend batch. */
  readonly batchKeys: number;
  /** Pause between batches; 0 waits one turn of the event loop (setImmediate). */
  readonly pauseMs: number;
  /** Where the job's timings and removed records are reported; none by default. */
  readonly metrics?: CompactionMetrics;
}

/**
 * etcd's compaction metrics (etcd_debugging_mvcc_*). etcd compacts its index in one step and
 * reports that pause; here each index batch is such a pause, and each is reported.
 */
export interface CompactionMetrics {
  /** index_compaction_pause_duration_milliseconds: one index batch. */
  readonly indexPauseMs: { observe(ms: number): void };
  /** db_compaction_pause_duration_milliseconds: one backend batch. */
  readonly dbPauseMs: { observe(ms: number): void };
  /** db_compaction_total_duration_milliseconds: the backend part, first batch to last. */
  readonly dbTotalMs: { observe(ms: number): void };
  /** db_compaction_keys_total: backend records removed. */
  readonly dbKeys: { inc(n: number): void };
}

/** What the job needs from the store. */
export interface CompactionHost {
  readonly index: TreeIndex;
  readonly batch: BatchTx;
  /** True once the store is closing: the job stops at the next batch boundary. */
  isStopped(): boolean;
  /** Asserts that no write transaction is open. */
  assertNoWrite(): void;
  /** Settles when no range reader pins a revision below the compaction revision. */
  readersBelow(): Promise<void>;
  /**
   * Told, before the turn ends, that a record at the compaction revision itself was removed (a
   * lower sub revision or a tombstone): history at that revision is no longer complete.
   */
  droppedAtCompactRev(): void;
}

/** Waits one turn of the event loop, or `ms` milliseconds. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

/**
 * Compacts the index and then the backend at main revision `rev`. The scheduled compaction
 * revision must already be committed. Returns false when stopped early (the compaction then
 * resumes on the next open), true when done; finishedCompactRev is then in the batch.
 */
export async function runCompaction(host: CompactionHost, rev: number, cfg: CompactionConfig): Promise<boolean> {
  // Range readers below `rev` still read revisions this job removes; no new ones can start,
  // since reads below `rev` are refused from the moment it was scheduled.
  await host.readersBelow();
  const keep = new RevisionSet();
  let from: Buffer | null = null;
  const m = cfg.metrics;
  for (;;) {
    if (host.isStopped()) return false;
    host.assertNoWrite();
    const batchStartMs = performance.now();
    from = host.index.compactBatch(rev, from, cfg.batchKeys, keep);
    m?.indexPauseMs.observe(performance.now() - batchStartMs);
    if (from === null) break;
    await pause(cfg.pauseMs);
  }

  // A crash from here on leaves the compaction scheduled but unfinished: a restart resumes it.
  failpoint('mvcc.compaction.beforeBackend');
  // Backend: every record at or below `rev` that the index did not keep goes, oldest first.
  const end = encodeRevision({ main: rev + 1, sub: 0 });
  let last = encodeRevision({ main: 0, sub: 0 });
  const dbStartMs = performance.now();
  for (;;) {
    if (host.isStopped()) return false;
    host.assertNoWrite();
    const batchStartMs = performance.now();
    const { keys } = host.batch.range(KEY_BUCKET, last, end, cfg.batchKeys);
    let lastRev = { main: 0, sub: 0 };
    let droppedAtRev = false;
    let removed = 0;
    for (const key of keys) {
      lastRev = decodeRevision(key).rev;
      if (keep.hasParts(lastRev.main, lastRev.sub)) continue;
      host.batch.delete(KEY_BUCKET, key);
      removed++;
      if (lastRev.main === rev) droppedAtRev = true;
    }
    if (droppedAtRev) host.droppedAtCompactRev();
    m?.dbKeys.inc(removed);
    if (keys.length < cfg.batchKeys) {
      host.batch.put(META_BUCKET, FINISHED_COMPACT_KEY, encodeCompactRevision(rev));
      m?.dbPauseMs.observe(performance.now() - batchStartMs);
      m?.dbTotalMs.observe(performance.now() - dbStartMs);
      return true;
    }
    // The next batch starts just after the last record seen, tombstone or not.
    last = encodeRevision({ main: lastRev.main, sub: lastRev.sub + 1 });
    // Commit each batch at once rather than letting deletes pile up in the open batch.
    host.batch.commit();
    m?.dbPauseMs.observe(performance.now() - batchStartMs);
    failpoint('mvcc.compaction.afterBatch');
    await pause(cfg.pauseMs);
  }
}
