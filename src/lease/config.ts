/**
 * The lease layer's limits and options: etcd's constants, and the lessor's options with their
 * defaults and validation (every limit explicit, checked once at open).
 */
import { FloeError, assert } from '../pkg';

/** Largest TTL a grant may ask for, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;

/**
 * etcd's revocation budget per second (leaseRevokeRate). The server asks `expiredLeases` for
 * half of it every 500 ms, as etcd's lessor loop does; `promote` spreads expiries so that no
 * second holds more than three quarters of it.
 */
export const LEASE_REVOKE_RATE_PER_SEC = 1000;
/** Leases `expiredLeases` hands out per call by default (etcd: leaseRevokeRate / 2). */
export const DEFAULT_EXPIRED_BATCH = LEASE_REVOKE_RATE_PER_SEC / 2;
/** Checkpoints per call of `dueCheckpoints` by default (etcd: maxLeaseCheckpointBatchSize). */
export const DEFAULT_CHECKPOINT_BATCH = 1000;
/** How long an expired lease handed out for revocation waits before it is offered again. */
export const DEFAULT_EXPIRED_RETRY_MS = 3000;
/** How often a long lease's remaining TTL is checkpointed (etcd's default: 5 minutes). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;
/** What `timeToLive` reports for a lease that never expires here (etcd: MaxInt64 ns in s). */
export const FOREVER_TTL_SEC = 9_223_372_036;

/**
 * etcd's minimum lease TTL for an election timeout and heartbeat: 1.5 election timeouts, in
 * whole ticks, rounded up to a second. etcd's defaults (1000 ms, 100 ms) give 2 seconds.
 */
export function minLeaseTtlSec(electionMs: number, heartbeatMs: number): number {
  assert(heartbeatMs > 0 && electionMs >= heartbeatMs, 'election timeout must be at least one heartbeat');
  const electionTicks = Math.floor(electionMs / heartbeatMs);
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}
export const DEFAULT_MIN_LEASE_TTL_SEC = minLeaseTtlSec(1000, 100);

export interface LessorOptions {
  /** Grants below this TTL get this TTL (etcd: `minLeaseTtlSec` of the election timeout). */
  minTtlSec?: number;
  /** An expired lease handed out for revocation is offered again after this long. */
  expiredRetryMs?: number;
  /** Produce remaining-TTL checkpoints (etcd's --experimental-enable-lease-checkpoint). */
  checkpoint?: boolean;
  /** Write applied checkpoints to the backend (--experimental-enable-lease-checkpoint-persist). */
  checkpointPersist?: boolean;
  /** How often a lease is checkpointed while its remaining TTL exceeds this interval. */
  checkpointIntervalMs?: number;
  /** Revocations per second the cluster can absorb; `promote` spreads expiries below it. */
  revokeRatePerSec?: number;
}

/** LessorOptions with every default filled in. */
export interface LessorConfig {
  readonly minTtlSec: number;
  readonly expiredRetryMs: number;
  readonly checkpointEnabled: boolean;
  readonly checkpointPersist: boolean;
  readonly checkpointIntervalMs: number;
  readonly revokeRatePerSec: number;
}

/** The options with defaults filled in, validated; ERR_BAD_OPTION names the first bad one. */
export function resolveOptions(opts: LessorOptions): LessorConfig {
  const l: LessorConfig = {
    minTtlSec: opts.minTtlSec ?? DEFAULT_MIN_LEASE_TTL_SEC,
    expiredRetryMs: opts.expiredRetryMs ?? DEFAULT_EXPIRED_RETRY_MS,
    checkpointEnabled: opts.checkpoint ?? false,
    checkpointPersist: opts.checkpointPersist ?? false,
    checkpointIntervalMs: opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    revokeRatePerSec: opts.revokeRatePerSec ?? LEASE_REVOKE_RATE_PER_SEC,
  };
  const bad = (what: string): never => {
    throw new FloeError('ERR_BAD_OPTION', `lessor: ${what}`);
  };
  if (!(Number.isSafeInteger(l.minTtlSec) && l.minTtlSec >= 1 && l.minTtlSec <= MAX_LEASE_TTL_SEC)) bad(`minTtlSec must be an integer in [1, ${MAX_LEASE_TTL_SEC}], not ${l.minTtlSec}`);
  if (!(Number.isFinite(l.expiredRetryMs) && l.expiredRetryMs > 0)) bad(`expiredRetryMs must be > 0, not ${l.expiredRetryMs}`);
  if (!(Number.isFinite(l.checkpointIntervalMs) && l.checkpointIntervalMs >= 1000)) bad(`checkpointIntervalMs must be >= 1000, not ${l.checkpointIntervalMs}`);
  if (!(Number.isSafeInteger(l.revokeRatePerSec) && l.revokeRatePerSec >= 4)) bad(`revokeRatePerSec must be an integer >= 4, not ${l.revokeRatePerSec}`);
  if (l.checkpointPersist && !l.checkpointEnabled) {
    bad('setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint');
  }
  return l;
}
