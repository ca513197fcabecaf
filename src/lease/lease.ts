/**
 * The lessor's record of one lease, and the promotion's expiry spreading (etcd's pile-up
 * avoidance), which works on these records directly.
 */
import type { LeaseId } from './lease-id';
import type { HeapEntry } from './time-heap';
import type { LeaseInfo } from './types';

/**
 * One lease's mutable state; private to the lessor. The lease is its own entry in the expiry
 * heap (queued exactly while the lessor is primary), which saves an object per lease: with a
 * million leases allocation is what costs. `timeMs` is when the heap next offers the lease: its
 * expiry, or a retry time once it was handed out for revocation.
 */
export class Lease implements HeapEntry {
  remainingTtlSec: number;
  expiryMs = Infinity;
  timeMs = Infinity;
  index = -1;
  /** Attached keys as latin1 strings (one char per byte); null until the first attach. */
  keys: Set<string> | null = null;
  /** Slot in the checkpoint heap; queued while a checkpoint is scheduled. */
  checkpoint: HeapEntry | null = null;

  constructor(
    readonly id: LeaseId,
    readonly ttlSec: number,
    remainingTtlSec: number,
  ) {
    this.remainingTtlSec = remainingTtlSec;
  }

  /** The TTL a promotion restarts the clock from: the checkpointed one when set. */
  restartTtlSec(): number {
    return this.remainingTtlSec > 0 ? this.remainingTtlSec : this.ttlSec;
  }
}

/** A snapshot of `l` for callers. */
export function leaseInfo(l: Lease): LeaseInfo {
  return { id: l.id, ttlSec: l.ttlSec, remainingTtlSec: l.remainingTtlSec, expiryMs: l.expiryMs, keyCount: l.keys?.size ?? 0 };
}

/**
 * The leases in expiry order; leases with equal expiries keep their order in `all` (the lease
 * map's insertion order), so every member computes the same spread. Right after a promotion
 * leases that share a restart TTL share an expiry, so grouping by expiry and sorting the
 * distinct values is O(n + d log d) for d distinct TTLs, where a comparison sort of a million
 * objects would dominate the promotion.
 */
function* byExpiry(all: readonly Lease[]): Generator<Lease> {
  const groups = new Map<number, Lease[]>();
  for (const l of all) {
    const g = groups.get(l.expiryMs);
    if (g === undefined) groups.set(l.expiryMs, [l]);
    else g.push(l);
  }
  const times = Float64Array.from(groups.keys()).sort();
  for (const t of times) yield* groups.get(t)!;
}

/**
 * etcd's promotion pile-up avoidance. Leases are walked in expiry order in windows of one
 * second starting at the earliest; once a window holds more than 3/4 of the revocation
 * budget, each further lease in it is pushed to base + (count / target) seconds, and the
 * window stretches to that point.
 */
export function spreadExpiries(all: readonly Lease[], nowMs: number, extendMs: number, revokeRatePerSec: number): void {
  const target = Math.floor((3 * revokeRatePerSec) / 4);
  let baseMs = 0;
  let nextMs = -Infinity; // the first lease opens the first window
  let expires = 0;
  for (const l of byExpiry(all)) {
    const remainingMs = l.expiryMs - nowMs;
    if (remainingMs > nextMs) {
      baseMs = remainingMs;
      nextMs = baseMs + 1000;
      expires = 1;
      continue;
    }
    expires++;
    if (expires <= target) continue;
    const delayMs = (1000 * expires) / target - (remainingMs - baseMs);
    nextMs = baseMs + delayMs;
    l.expiryMs = nowMs + delayMs + extendMs + l.restartTtlSec() * 1000;
  }
}

