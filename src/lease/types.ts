/**
 * What the lessor is given (clock, store, key deleter) and what it hands back (plain, read-only
 * snapshots). The lessor imports nothing from MVCC: the MVCC store implements LeaseKeyDeleter and
 * the server passes it in at construction.
 */
import type { LeaseId } from './lease-id';

/** Milliseconds from an arbitrary origin; must never go backwards (a monotonic clock). */
export interface LeaseClock {
  nowMs(): number;
}

/**
 * Where lease records live: the server's batch transaction (src/backend BatchTx satisfies this),
 * so a lease's record changes in the same backend transaction as the keys it affects.
 */
export interface LeaseStore {
  createBucket(bucket: Uint8Array): void;
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: Uint8Array, key: Uint8Array): void;
  /** Entries with start <= key < end, at most `limit`, in key order. */
  range(bucket: Uint8Array, start: Uint8Array, end: Uint8Array | null, limit: number): { keys: Buffer[]; values: Buffer[] };
}

/**
 * Deletes the keys of a revoked lease; implemented by the MVCC store. It must delete all of
 * them in one write transaction, so they vanish at one revision. It may call back into the
 * lessor's `detach` for each key while doing so (the lease still exists then).
 */
export interface LeaseKeyDeleter {
  /** `keys` are distinct and sorted by bytes, so every member deletes in the same order. */
  deleteKeys(keys: readonly Buffer[]): void;
}

/**
 * Which lease each key is attached to, one key at a time: what the MVCC store calls on every
 * put and delete (src/mvcc's LeaseAttacher has this shape). `Lessor.keyTracker` implements it.
 */
export interface LeaseKeyTracker {
  /** The lease `key` is attached to, or 0n. */
  leaseOf(key: Uint8Array): LeaseId;
  attach(lease: LeaseId, key: Uint8Array): void;
  detach(lease: LeaseId, key: Uint8Array): void;
}

export interface LessorDeps {
  readonly store: LeaseStore;
  readonly keyDeleter: LeaseKeyDeleter;
  readonly clock: LeaseClock;
}

/** What a caller may see of a lease. TTLs are seconds; `expiryMs` is Infinity when never. */
export interface LeaseInfo {
  readonly id: LeaseId;
  /** The granted TTL (after raising to the minimum). */
  readonly ttlSec: number;
  /** The last checkpointed remaining TTL; 0 when none. */
  readonly remainingTtlSec: number;
  /** Clock time at which the lease expires; Infinity while this lessor is not primary. */
  readonly expiryMs: number;
  readonly keyCount: number;
}

/** A LeaseTimeToLive answer. */
export interface LeaseTimeToLive {
  readonly id: LeaseId;
  /** Whole seconds left, truncated towards zero as etcd does; FOREVER_TTL_SEC when never. */
  readonly ttlSec: number;
  readonly grantedTtlSec: number;
  /** Attached keys sorted by bytes; empty unless asked for. */
  readonly keys: Buffer[];
}

/** One remaining-TTL checkpoint to propose (etcd's LeaseCheckpoint). */
export interface LeaseCheckpoint {
  readonly id: LeaseId;
  readonly remainingTtlSec: number;
}

export interface LessorStats {
  readonly leases: number;
  readonly attachedKeys: number;
  readonly expiryQueue: number;
  readonly checkpointQueue: number;
  /** Heap levels walked since the lessor was opened (a work counter for scale tests). */
  readonly heapSiftSteps: number;
}
