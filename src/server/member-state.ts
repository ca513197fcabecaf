/**
 * The state a member keeps in its backend file, opened as one unit: the bbolt-format DB, the
 * batch every apply writes through, MVCC, the lessor, membership and alarms. A member swaps the
 * whole unit when it installs a snapshot from its leader (the file is replaced, so everything
 * read from it is rebuilt), which is why these live together instead of as separate fields.
 */
import { performance } from 'node:perf_hooks';
import { DB, BatchTx } from '../backend';
import { assert } from '../pkg';
import { Lessor, minLeaseTtlSec } from '../lease';
import { WatchableStore } from '../mvcc/watchable-store';
import type { MemberConfig } from './config';
import { Membership } from './membership';
import { AlarmStore } from './alarms';
import { openAuthStore } from './auth-state';
import type { AuthStore, TokenProvider } from '../auth';

/** Everything read from, and written to, one backend file. */
export interface MemberState {
  readonly db: DB;
  readonly batch: BatchTx;
  readonly store: WatchableStore;
  readonly lessor: Lessor;
  readonly membership: Membership;
  readonly alarms: AlarmStore;
  /** Users, roles and the auth revision (tokens live in the provider, which outlives a state). */
  readonly auth: AuthStore;
}

/**
 * A member's backend page cache. etcd reads its file through mmap, so the kernel keeps every
 * page it touched; ours is a bounded cache in the heap, and a range read over a file larger
 * than it reads every page back from the file (a 100k-key range of 256-byte values, a 66 MiB
 * file, cost 0.7 s of CPU with 64 MiB, 0.5 s with the file cached). 128 MiB holds the file of
 * about 150k such keys; every MiB more is resident memory on a large member (a 1M-key member
 * was at 1.39x etcd's with 256 MiB, 0.92x with 64 MiB; issue 3 allows 1.5x).
 */
export const MEMBER_PAGE_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * Opens the backend at `backendPath` and rebuilds the in-memory state from it (key index,
 * leases, members, alarms, auth), creating etcd's buckets in a new file.
 */
export function openMemberState(cfg: MemberConfig, backendPath: string, tokens: TokenProvider): MemberState {
  const db = DB.open(backendPath, {
    freelistType: cfg.freelistType === 'map' ? 'hashmap' : 'array',
    noSync: cfg.unsafeNoFsync,
    pageCacheBytes: MEMBER_PAGE_CACHE_BYTES,
  });
  try {
    // Pipelined: the WAL makes applied entries durable; a backend commit must not stall the
    // event loop on its fdatasyncs (a crash replays from the consistent index).
    const batch = new BatchTx(db, { intervalMs: cfg.backendBatchIntervalMs, limit: cfg.backendBatchLimit, pipelined: true, commitSeconds: cfg.metrics.disk.backendCommitSeconds });
    // The lessor and the store need each other: the lessor deletes keys through the store,
    // the store tells the lessor which keys it holds. The lessor opens first (the store
    // re-attaches keys to leases as it rebuilds its index), the deleter reaches the store
    // only once both exist.
    let storeRef: WatchableStore | null = null;
    const lessor = Lessor.open(
      {
        store: batch,
        keyDeleter: {
          deleteKeys: (keys) => {
            const store = storeRef;
            assert(store !== null, 'member: lease revoke before the store opened');
            store.inWrite((txn) => {
              for (const k of keys) txn.deleteRange(k, null);
            });
          },
        },
        clock: { nowMs: () => performance.now() },
      },
      { minTtlSec: minLeaseTtlSec(cfg.electionMs, cfg.heartbeatMs) },
    );
    const store = new WatchableStore(batch, {
      compactionMetrics: cfg.metrics.mvcc.compaction,
      leases: {
        leaseOf: (k) => lessor.getLease(k),
        // A key may name a lease that is gone (etcd's restore ignores those too).
        attach: (l, k) => {
          if (lessor.lookup(l) !== null) lessor.attach(l, [k]);
        },
        detach: (l, k) => {
          if (lessor.lookup(l) !== null) lessor.detach(l, [k]);
        },
      },
    });
    storeRef = store;
    const membership = new Membership(batch);
    const alarms = new AlarmStore(batch);
    const auth = openAuthStore(batch, tokens, cfg.logger);
    batch.commit();
    return { db, batch, store, lessor, membership, alarms, auth };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Closes a state: `flush` commits what the batch holds first (a clean stop); without it the
 * batch is dropped (the file is about to be replaced, or a fatal error stopped the member).
 */
export async function closeMemberState(st: MemberState, flush: boolean): Promise<void> {
  try {
    if (flush) st.store.commit();
    await st.store.close();
    if (flush) {
      st.batch.close();
      await st.db.flush();
    } else {
      await st.db.flush().catch(() => undefined); // already failed: closing is all that is left
    }
  } finally {
    st.db.close();
  }
}
