/**
 * etcd's recoverSnapshotBackend: a member that crashed while installing a leader's snapshot
 * has the snapshot in its WAL and the leader's backend file saved as `<index>.snap.db`, but
 * still the old backend in place. On restart, if the backend's consistent index is behind
 * the newest raft snapshot, the saved file takes its place before anything is opened.
 */
import * as fsp from 'node:fs/promises';
import { DB } from '../backend';
import { META_BUCKET, CONSISTENT_INDEX_KEY, decodeConsistentIndex } from '../mvcc/schema';
import type { Snapshotter, MemberLayout } from '../wal';
import type { MemberLogger } from './config';

/** The consistent index stored in the backend at `path` (0 when none). */
function backendConsistentIndex(path: string): number {
  const db = DB.open(path, { readOnly: true });
  try {
    return db.view((tx) => {
      const v = tx.bucket(META_BUCKET)?.get(CONSISTENT_INDEX_KEY) ?? null;
      return v === null ? 0 : decodeConsistentIndex(v);
    });
  } finally {
    db.close();
  }
}

/**
 * Moves the backend saved for the raft snapshot at `index` into place when the backend's
 * consistent index is behind it.
 */
export async function recoverSnapshotBackend(layout: MemberLayout, snapshotter: Snapshotter, index: number, logger: MemberLogger): Promise<void> {
  try {
    await fsp.access(layout.backendPath);
  } catch {
    return;
  }
  const ci = backendConsistentIndex(layout.backendPath);
  if (ci >= index) return;
  let dbFile: string;
  try {
    dbFile = await snapshotter.existingDbFilePath(index);
  } catch {
    return; // nothing saved: the ordinary restart path refuses with a clear error
  }
  logger.log('I', 'etcdserver', `recovering backend from snapshot at index ${index} (backend consistent index ${ci})`);
  await fsp.rename(dbFile, layout.backendPath);
}
