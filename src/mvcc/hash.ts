/**
 * etcd's store hashes, computed the same way so the values compare across members and with
 * etcd itself (etcdctl endpoint hashkv, the corruption check):
 *
 * HashKV(rev): CRC-32C (Castagnoli) of the bytes "key" (the bucket name), then of each record
 * of the `key` bucket in revision order with main revision <= rev: its backend key (17 or 18
 * bytes) then its value. Records at or below the compaction revision are skipped unless a
 * compaction at `rev` would keep them (when that keep set is empty nothing is skipped: etcd's
 * rule, kept for equal values).
 *
 * Hash: CRC-32C over every top-level bucket in name order: its name, then each key and value,
 * skipping meta's consistent_index (it differs between members for reasons users cannot see).
 *
 * Both read one backend snapshot, taken right after committing the batch so it holds every
 * revision up to the one hashed, and walk it in bounded batches with a turn of the event loop
 * between them; the index's keep set is gathered in batches too.
 */
import { crc32c } from '../pkg';
import type { BatchTx, DB } from '../backend';
import { pause } from './compaction';
import { mvccError, ERR_MVCC_CLOSED } from './errors';
import { decodeRevision, RevisionSet } from './revision';
import { CONSISTENT_INDEX_KEY, KEY_BUCKET, META_BUCKET } from './schema';
import type { TreeIndex } from './tree-index';

/** etcd's HashKV answer. */
export interface HashKVResult {
  /** The CRC-32C described in the file comment. */
  readonly hash: number;
  /** The store's revision when the hash was asked for (the response header's revision). */
  readonly revision: number;
  /** The compaction revision then; -1 when never compacted (etcd sends -1 too). */
  readonly compactRevision: number;
}

/** etcd's Hash answer. */
export interface HashResult {
  readonly hash: number;
  /** The store's revision when the hash was asked for. */
  readonly revision: number;
}

/** What the hashes read. */
export interface HashHost {
  readonly index: TreeIndex;
  readonly batch: BatchTx;
  readonly db: DB;
  /** True once the store is closing: the hash is abandoned with ERR_MVCC_CLOSED. */
  isStopped(): boolean;
}

const INDEX_BATCH_KEYS = 1000;

function stopped(): Error {
  return mvccError(ERR_MVCC_CLOSED);
}

/** HashKV at main revision `rev` with the store compacted at `compactRev` (-1: never). */
export async function hashKV(host: HashHost, rev: number, compactRev: number, batchRecords: number): Promise<number> {
  host.batch.commit();
  const tx = host.db.beginRead();
  try {
    const keep = new RevisionSet();
    let from: Buffer | null = null;
    do {
      if (host.isStopped()) throw stopped();
      from = host.index.keepBatch(rev, from, INDEX_BATCH_KEYS, keep);
      if (from !== null) await pause(0);
    } while (from !== null);

    let crc = crc32c(KEY_BUCKET);
    const bucket = tx.bucket(KEY_BUCKET);
    if (bucket === null) return crc;
    const c = bucket.cursor();
    let n = 0;
    for (let e = c.first(); e !== null; e = c.next()) {
      const r = decodeRevision(e.key).rev;
      if (r.main > rev) break; // records come in revision order: nothing later counts
      if (r.main <= compactRev && keep.size > 0 && !keep.hasParts(r.main, r.sub)) continue;
      crc = crc32c(e.key, crc);
      if (e.value !== null) crc = crc32c(e.value, crc);
      if (++n % batchRecords === 0) {
        await pause(0);
        if (host.isStopped()) throw stopped();
      }
    }
    return crc;
  } finally {
    tx.rollback();
  }
}

/** etcd's backend Hash (Maintenance.Hash). */
export async function hashBackend(host: HashHost, batchRecords: number): Promise<number> {
  host.batch.commit();
  const tx = host.db.beginRead();
  try {
    let crc = 0;
    let n = 0;
    const names: Buffer[] = [];
    const rc = tx.cursor();
    for (let e = rc.first(); e !== null; e = rc.next()) names.push(Buffer.from(e.key));
    for (const name of names) {
      const bucket = tx.bucket(name);
      if (bucket === null) continue; // a plain key at the top level: bbolt files have none
      crc = crc32c(name, crc);
      const isMeta = name.equals(META_BUCKET);
      const c = bucket.cursor();
      for (let e = c.first(); e !== null; e = c.next()) {
        if (isMeta && e.key.equals(CONSISTENT_INDEX_KEY)) continue;
        crc = crc32c(e.key, crc);
        if (e.value !== null) crc = crc32c(e.value, crc);
        if (++n % batchRecords === 0) {
          await pause(0);
          if (host.isStopped()) throw stopped();
        }
      }
    }
    return crc;
  } finally {
    tx.rollback();
  }
}
