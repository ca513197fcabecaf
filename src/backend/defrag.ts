/**
 * Copying live data into a fresh file: the heart of defragment() and compact(). Every bucket is
 * copied in key order (so the destination's pages are filled left to right and come out
 * dense), with its sequence number, nested buckets included. The copy commits every
 * `maxTxBytes` / `maxTxKeys` so memory stays bounded on large files.
 */
import type { Bucket } from './bucket';
import type { DB } from './db';
import type { ReadTx, WriteTx } from './tx';

export interface CopyLimits {
  /** Commit after this many bytes of keys and values. */
  readonly maxTxBytes: number;
  /** Commit after this many keys. */
  readonly maxTxKeys: number;
}

export const DEFAULT_COPY_LIMITS: CopyLimits = { maxTxBytes: 32 * 1024 * 1024, maxTxKeys: 100_000 };

/** Copies everything `src` sees into `dst` (which should be empty). */
export function copyTree(src: ReadTx, dst: DB, limits: CopyLimits = DEFAULT_COPY_LIMITS): void {
  let tx: WriteTx = dst.beginWrite();
  // The destination path being filled: names from the top level down, and the open buckets
  // for it in the current transaction (reopened after each intermediate commit).
  const names: Buffer[] = [];
  let open: Bucket[] = [];
  let bytes = 0;
  let keys = 0;

  const reopen = (): void => {
    open = [];
    for (let i = 0; i < names.length; i++) open.push(i === 0 ? tx.bucket(names[0]!)! : open[i - 1]!.bucket(names[i]!)!);
  };
  const maybeCommit = (): void => {
    if (bytes < limits.maxTxBytes && keys < limits.maxTxKeys) return;
    tx.commit();
    tx = dst.beginWrite();
    bytes = 0;
    keys = 0;
    reopen();
  };
  /** Copies `from` into the innermost open destination bucket. */
  const copyBucket = (from: Bucket): void => {
    if (from.sequence() !== 0) open[open.length - 1]!.setSequence(from.sequence());
    const c = from.cursor();
    for (let e = c.first(); e !== null; e = c.next()) {
      if (e.value === null) {
        const sub = open[open.length - 1]!.createBucket(e.key);
        names.push(Buffer.from(e.key));
        open.push(sub);
        copyBucket(from.bucket(e.key)!);
        names.pop();
        open.pop();
        bytes += e.key.length;
      } else {
        open[open.length - 1]!.put(e.key, e.value);
        bytes += e.key.length + e.value.length;
      }
      keys++;
      maybeCommit();
    }
  };

  try {
    const c = src.cursor();
    for (let e = c.first(); e !== null; e = c.next()) {
      const top = tx.createBucket(e.key);
      names.push(Buffer.from(e.key));
      open.push(top);
      copyBucket(src.bucket(e.key)!);
      names.pop();
      open.pop();
    }
    tx.commit();
  } catch (e) {
    tx.rollback();
    throw e;
  }
}
