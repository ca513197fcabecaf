/**
 * v3lockpb.Lock over the member's KV, Lease and Watch (etcd's v3lock server runs
 * concurrency.Mutex against itself). The lock on NAME is held by the key under `NAME/` with
 * the smallest create revision; each locker's key is `NAME/<lease id in hex>`, so a lease holds
 * a lock at most once, and the lock is released by deleting the key or ending the lease.
 */
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { createRevIs, deleteOf, firstCreated, int64, opPut, opRange, putOf, rangeKvs, rangeOf, sessionKey } from './kv-ops';
import { sessionLease } from './session';
import { waitDeletes } from './wait-deletes';

/**
 * Acquires the lock named `req.name` for `req.lease` and resolves with the key that holds it.
 * Waits, until `signal` aborts, for every earlier locker to let go; a wait that ends without
 * the lock deletes this locker's key again.
 */
export async function lock(api: EtcdServerApi, req: pb.LockRequest, signal: AbortSignal): Promise<pb.LockResponse> {
  const lease = await sessionLease(api, req.lease);
  const prefix = Buffer.concat([req.name, Buffer.from('/')]);
  const key = sessionKey(prefix, lease);
  // One txn: join the queue (or find this lease's key already there) and read the holder.
  const resp = await api.txn({
    compare: [createRevIs(key, 0n)],
    success: [opPut(putOf(key, Buffer.alloc(0), lease)), opRange(firstCreated(prefix))],
    failure: [opRange(rangeOf(key)), opRange(firstCreated(prefix))],
  });
  const myRev = resp.succeeded === true ? int64(resp.header.revision) : int64(rangeKvs(resp, 0)[0]?.create_revision);
  const owner = rangeKvs(resp, 1)[0];
  if (owner === undefined || int64(owner.create_revision) === myRev) return { header: resp.header, key };
  try {
    const header = await waitDeletes(api, prefix, myRev - 1n, signal);
    return { header, key };
  } catch (e) {
    // Leave the queue, as etcd does, whatever ended the wait; the first error is the answer.
    await api.deleteRange(deleteOf(key)).catch(() => undefined);
    throw e;
  }
}

/** Releases a lock: deletes its key (absent or not). */
export async function unlock(api: EtcdServerApi, req: pb.UnlockRequest): Promise<pb.UnlockResponse> {
  const resp = await api.deleteRange(deleteOf(req.key));
  return { header: resp.header };
}
