/**
 * The auth store's on-disk state as etcd 3.4 leaves it when auth was never used: its three
 * buckets exist and `auth/authRevision` is 1 (8 bytes, big-endian). etcd creates both when
 * its server opens the backend; snapshot tools count and hash them, so a Floe backend must
 * hold them too (etcdctl snapshot status then reports the same keys and hash as for etcd).
 * Users, roles and enabling auth are the auth issue's; this only lays the ground.
 */
import type { BatchTx } from '../backend';
import { AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET } from '../mvcc';

const AUTH_REVISION_KEY = Buffer.from('authRevision');

/** Creates the auth buckets and the initial auth revision where they are missing. */
export function ensureAuthState(batch: BatchTx): void {
  batch.createBucket(AUTH_BUCKET);
  batch.createBucket(AUTH_USERS_BUCKET);
  batch.createBucket(AUTH_ROLES_BUCKET);
  if (batch.get(AUTH_BUCKET, AUTH_REVISION_KEY) === null) {
    const rev = Buffer.alloc(8);
    rev.writeBigUInt64BE(1n);
    batch.put(AUTH_BUCKET, AUTH_REVISION_KEY, rev);
  }
}
