/** stats(): figures about a committed state, JSON-able. */
import type { Freelist, FreelistKind } from './freelist';
import type { ReadTx } from './tx';
import { inspect } from './walk';

export interface DbStats {
  readonly pageSize: number;
  /** Pages below the high-water mark (file pages in use, free ones included). */
  readonly pageCount: number;
  readonly fileSizeBytes: number;
  /** The last committed transaction. */
  readonly txid: number;
  readonly freelistType: FreelistKind;
  readonly branchPages: number;
  readonly leafPages: number;
  /** Extra pages of multi-page branch and leaf pages. */
  readonly overflowPages: number;
  /** Pages the freelist page spans. */
  readonly freelistPages: number;
  /** Pages free for reuse now. */
  readonly freePages: number;
  /** Pages freed but still visible to an open reader (or to the last commit). */
  readonly pendingPages: number;
  /** The deepest top-level bucket: B+tree levels plus nested buckets' depth (bbolt's definition). */
  readonly depth: number;
  /** All buckets, nested ones included. */
  readonly bucketCount: number;
  readonly inlineBucketCount: number;
  /** Key/value pairs in all buckets (bucket entries not counted). */
  readonly keyCount: number;
}

/**
 * Walks the snapshot of `tx`. Every page below the high-water mark is one of: the 2 metas,
 * branch, leaf, overflow, freelist, free or pending, so these add up to pageCount on a consistent
 * file with no write in progress.
 */
export function collectStats(tx: ReadTx, freelist: Freelist, fileSizeBytes: number): DbStats {
  const m = tx.meta;
  const ins = inspect(m, (id) => tx.file.read(id));
  return {
    pageSize: m.pageSize,
    pageCount: m.pgid,
    fileSizeBytes,
    txid: m.txid,
    freelistType: freelist.kind,
    branchPages: ins.branchPages,
    leafPages: ins.leafPages,
    overflowPages: ins.overflowPages,
    freelistPages: ins.freelistPages,
    freePages: freelist.freeCount(),
    pendingPages: freelist.pendingCount(),
    depth: ins.depth,
    bucketCount: ins.bucketCount,
    inlineBucketCount: ins.inlineBucketCount,
    keyCount: ins.keyCount,
  };
}
