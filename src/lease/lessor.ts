/**
 * The lessor: every lease of the member, the keys attached to each, and when each expires.
 *
 * It is a plain data structure driven by calls (style.md principle 1): time comes from the
 * injected clock, persistence goes through the injected store (the server's batch transaction),
 * deleting a revoked lease's keys goes through the injected key deleter (the MVCC store). It
 * never proposes anything itself; the server pulls work out of it:
 *
 * - `expiredLeases(max)` yields leases whose time is up, at most `max` per call; the server
 *   proposes a revoke for each through Raft and, when it applies, calls `revoke(id)`.
 * - `dueCheckpoints(max)` yields remaining-TTL checkpoints to propose; when one applies the
 *   server calls `checkpoint(id, remainingTtlSec)`.
 *
 * Primary (etcd's term for the lessor on the Raft leader): only the primary tracks expiry and
 * renews. `promote(extendMs)` makes this lessor primary and restarts every lease's clock from
 * its remaining TTL (the checkpointed one if any, else the full TTL) plus `extendMs`;
 * `demote()` makes every lease live forever here until the next promotion.
 *
 * Restart: leases come back from the `lease` bucket with expiry "forever" until promotion. By
 * default the bucket holds only each lease's granted TTL, so a restarted lease gets its full
 * TTL again (etcd 3.4's default). With `checkpointPersist`, applied checkpoints are written to
 * the bucket too, so a restart resumes from the last checkpointed remaining TTL.
 */
import { assert, failpoint } from '../pkg';
import {
  DEFAULT_CHECKPOINT_BATCH,
  DEFAULT_EXPIRED_BATCH,
  FOREVER_TTL_SEC,
  MAX_LEASE_TTL_SEC,
  type LessorConfig,
  type LessorOptions,
  resolveOptions,
} from './config';
import { leaseExists, leaseExpired, leaseNotFound, leaseNotPrimary, leaseTtlTooLarge } from './errors';
import { Lease, leaseInfo, spreadExpiries } from './lease';
import { type LeaseId, NO_LEASE, isInt64 } from './lease-id';
import { deleteLeaseRecord, loadLeaseRecords, writeLeaseRecord } from './persist';
import { type HeapEntry, TimeHeap } from './time-heap';
import type {
  LeaseCheckpoint,
  LeaseClock,
  LeaseInfo,
  LeaseKeyDeleter,
  LeaseKeyTracker,
  LeaseStore,
  LeaseTimeToLive,
  LessorDeps,
  LessorStats,
} from './types';

const keyString = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const keyBuffer = (key: string): Buffer => Buffer.from(key, 'latin1');
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Every lease of one member: grant, revoke, renew, attach and detach keys, expiry and
 * checkpoints (see the top of this file). Not safe for re-entrant use except `detach` from
 * inside the key deleter during a revoke. Build one with `Lessor.open`.
 */
export class Lessor {
  private readonly leases = new Map<LeaseId, Lease>();
  /** Attached key -> its lease. */
  private readonly items = new Map<string, Lease>();
  private readonly expiries = new TimeHeap();
  private readonly checkpoints = new TimeHeap();
  /** Leases renewed while holding a checkpointed TTL: a zero checkpoint is owed for each. */
  private readonly clears = new Set<LeaseId>();
  private primary = false;

  private readonly store: LeaseStore;
  private readonly keyDeleter: LeaseKeyDeleter;
  private readonly clock: LeaseClock;
  /** The options in force, defaults filled in. */
  readonly config: LessorConfig;
  /**
   * The per-key view the MVCC store calls on every put and delete and while rebuilding at
   * start-up (structurally src/mvcc's LeaseAttacher). Like etcd's store it never fails: a key
   * attached to or detached from a lease that does not exist is ignored (etcd logs those; the
   * server checks a put's lease exists before the put reaches MVCC).
   */
  readonly keyTracker: LeaseKeyTracker;

  /**
   * Opens the lessor on `deps.store`: creates the `lease` bucket when missing and loads every
   * lease in it (expiry forever, no keys: the MVCC store re-attaches keys as it rebuilds).
   * Bad options are ERR_BAD_OPTION; a record that cannot be read is ERR_LEASE_BAD_RECORD.
   */
  static open(deps: LessorDeps, opts: LessorOptions = {}): Lessor {
    const lessor = new Lessor(deps, resolveOptions(opts));
    lessor.recover();
    return lessor;
  }

  private constructor(deps: LessorDeps, config: LessorConfig) {
    this.store = deps.store;
    this.keyDeleter = deps.keyDeleter;
    this.clock = deps.clock;
    this.config = config;
    this.keyTracker = {
      leaseOf: (key) => this.getLease(key),
      attach: (lease, key) => {
        const l = this.leases.get(lease);
        if (l !== undefined) this.attachKey(l, keyString(key));
      },
      detach: (lease, key) => {
        const l = this.leases.get(lease);
        if (l !== undefined) this.detachKey(l, keyString(key));
      },
    };
  }

  /** True while this lessor tracks expiry (the member leads). */
  get isPrimary(): boolean {
    return this.primary;
  }

  /** Number of leases. */
  get size(): number {
    return this.leases.size;
  }

  /**
   * Grants lease `id` with `ttlSec` seconds. Errors, checked in etcd's order: id 0
   * (ERR_LEASE_NOT_FOUND: the caller must choose an id first), TTL above MAX_LEASE_TTL_SEC
   * (ERR_LEASE_TTL_TOO_LARGE), id in use (ERR_LEASE_EXIST). A TTL below the minimum, zero or
   * negative included, is raised to the minimum. On the primary the lease starts expiring now.
   * Returns the TTL granted.
   */
  grant(id: LeaseId, ttlSec: number | bigint): number {
    assert(isInt64(id), () => `lease id out of int64 range: ${id}`);
    assert(typeof ttlSec === 'bigint' || Number.isInteger(ttlSec), () => `lease TTL must be an integer, not ${ttlSec}`);
    if (id === NO_LEASE) throw leaseNotFound();
    if (ttlSec > MAX_LEASE_TTL_SEC) throw leaseTtlTooLarge();
    if (this.leases.has(id)) throw leaseExists();
    const ttl = ttlSec < this.config.minTtlSec ? this.config.minTtlSec : Number(ttlSec);

    const l = new Lease(id, ttl, 0);
    this.leases.set(id, l);
    this.persist(l);
    if (this.primary) {
      const nowMs = this.clock.nowMs();
      l.expiryMs = nowMs + l.restartTtlSec() * 1000;
      l.timeMs = l.expiryMs;
      this.expiries.push(l);
      this.scheduleCheckpoint(l, nowMs);
    }
    return l.ttlSec;
  }

  /**
   * Revokes lease `id`: its attached keys are deleted through the key deleter (one write
   * transaction, sorted order), then the lease and its record are removed. ERR_LEASE_NOT_FOUND
   * when there is no such lease.
   *
   * Order matters for crash recovery: keys go first, the record after, as in etcd. Should the
   * two writes land in different backend commits and a crash fall between them, replaying the
   * revoke finds the lease and deletes its (already gone) keys again; the other order could
   * strand keys with no lease left to expire them.
   */
  revoke(id: LeaseId): void {
    const l = this.leases.get(id);
    if (l === undefined) throw leaseNotFound();
    if (l.keys !== null && l.keys.size > 0) {
      const keys = [...l.keys].sort(byString).map(keyBuffer);
      this.keyDeleter.deleteKeys(keys); // may call detach(id, ...) re-entrantly
      assert(this.leases.get(id) === l, 'lease changed while its keys were being deleted');
    }
    failpoint('lease.revoke.afterDeleteKeys');
    if (l.keys !== null) {
      for (const k of l.keys) {
        assert(this.items.get(k) === l, 'a key in a lease\'s set maps to another lease');
        this.items.delete(k);
      }
      l.keys = null;
    }
    this.leases.delete(id);
    if (l.index !== -1) this.expiries.remove(l);
    if (l.checkpoint !== null && l.checkpoint.index !== -1) this.checkpoints.remove(l.checkpoint);
    this.clears.delete(id);
    deleteLeaseRecord(this.store, id);
  }

  /**
   * Renews lease `id` (a keepalive): it now expires its full TTL from now. Returns the TTL.
   * Only the primary renews (ERR_LEASE_NOT_PRIMARY: forward to the leader). A lease whose time
   * is up is refused with ERR_LEASE_EXPIRED: its revocation is pending, and etcd answers the
   * keepalive only once that revoke applied (not found) or leadership moved (not primary).
   */
  renew(id: LeaseId): number {
    if (!this.primary) throw leaseNotPrimary();
    const l = this.leases.get(id);
    if (l === undefined) throw leaseNotFound();
    const nowMs = this.clock.nowMs();
    if (nowMs >= l.expiryMs) throw leaseExpired();
    // A checkpointed TTL no longer describes this lease: every member must forget it, so a
    // later leader does not restart the lease from the stale value. etcd proposes that zero
    // checkpoint synchronously; here it is owed and handed out first by dueCheckpoints.
    if (this.config.checkpointEnabled && l.remainingTtlSec > 0) this.clears.add(id);
    l.expiryMs = nowMs + l.ttlSec * 1000;
    this.expiries.update(l, l.expiryMs);
    return l.ttlSec;
  }

  /**
   * Applies a checkpoint (from the Raft log): lease `id` has `remainingTtlSec` left; 0 clears
   * the checkpoint. The running expiry is not changed (a promotion applies it). Written to the
   * backend only with `checkpointPersist`. A missing lease is ignored, as etcd does.
   */
  checkpoint(id: LeaseId, remainingTtlSec: number): void {
    assert(Number.isSafeInteger(remainingTtlSec), () => `remaining TTL must be an integer, not ${remainingTtlSec}`);
    const l = this.leases.get(id);
    if (l === undefined) return;
    l.remainingTtlSec = remainingTtlSec;
    if (this.config.checkpointPersist) this.persist(l);
    if (this.primary) this.scheduleCheckpoint(l, this.clock.nowMs());
  }

  /**
   * Attaches `keys` to lease `id` (ERR_LEASE_NOT_FOUND when missing). A key attached to another
   * lease moves to this one, so no lease ever deletes a key it no longer owns.
   */
  attach(id: LeaseId, keys: readonly Uint8Array[]): void {
    const l = this.leases.get(id);
    if (l === undefined) throw leaseNotFound();
    for (const key of keys) this.attachKey(l, keyString(key));
  }

  /**
   * Detaches `keys` from lease `id` (ERR_LEASE_NOT_FOUND when missing). A key that is not
   * attached to this lease is left alone.
   */
  detach(id: LeaseId, keys: readonly Uint8Array[]): void {
    const l = this.leases.get(id);
    if (l === undefined) throw leaseNotFound();
    for (const key of keys) this.detachKey(l, keyString(key));
  }

  /** The lease `key` is attached to, or NO_LEASE (0n). */
  getLease(key: Uint8Array): LeaseId {
    return this.items.get(keyString(key))?.id ?? NO_LEASE;
  }

  /** Lease `id`, or null. */
  lookup(id: LeaseId): LeaseInfo | null {
    const l = this.leases.get(id);
    return l === undefined ? null : leaseInfo(l);
  }

  /**
   * Every lease id, sorted by signed value (a defined order for the wire; etcd itself lists
   * them by remaining time). O(n log n).
   */
  leaseIds(): LeaseId[] {
    return [...this.leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** LeaseTimeToLive for lease `id`, with its keys when `withKeys`. ERR_LEASE_NOT_FOUND if missing. */
  timeToLive(id: LeaseId, withKeys: boolean): LeaseTimeToLive {
    const l = this.leases.get(id);
    if (l === undefined) throw leaseNotFound();
    const ttlSec = l.expiryMs === Infinity ? FOREVER_TTL_SEC : Math.trunc((l.expiryMs - this.clock.nowMs()) / 1000) || 0;
    const keys = withKeys && l.keys !== null ? [...l.keys].sort(byString).map(keyBuffer) : [];
    return { id, ttlSec, grantedTtlSec: l.ttlSec, keys };
  }

  /**
   * Makes this lessor primary. Every lease restarts its clock: it expires after its remaining
   * TTL (the checkpointed one when set, else the full TTL) plus `extendMs` (etcd passes the
   * election timeout, so clients get time to find the new leader). With at least
   * `revokeRatePerSec` leases, expiries that would pile up within one second are spread out so
   * no second holds more than 3/4 of the revocation budget. O(n + d log d) for d distinct
   * remaining TTLs; the expiry heap is rebuilt in O(n) rather than by n pushes.
   */
  promote(extendMs: number): void {
    assert(Number.isFinite(extendMs) && extendMs >= 0, () => `bad promotion extension ${extendMs}`);
    const nowMs = this.clock.nowMs();
    this.primary = true;
    this.expiries.clear();
    this.checkpoints.clear();
    this.clears.clear();
    const all: Lease[] = new Array<Lease>(this.leases.size);
    let n = 0;
    for (const l of this.leases.values()) {
      l.expiryMs = nowMs + extendMs + l.restartTtlSec() * 1000;
      all[n++] = l;
    }
    if (all.length >= this.config.revokeRatePerSec) spreadExpiries(all, nowMs, extendMs, this.config.revokeRatePerSec);
    const checkpointEntries: HeapEntry[] = [];
    for (const l of all) {
      l.timeMs = l.expiryMs;
      if (this.needsCheckpoint(l)) {
        l.checkpoint ??= { id: l.id, timeMs: 0, index: -1 };
        l.checkpoint.timeMs = nowMs + this.config.checkpointIntervalMs;
        checkpointEntries.push(l.checkpoint);
      }
    }
    this.expiries.rebuild(all); // the heap takes the array over
    this.checkpoints.rebuild(checkpointEntries);
  }

  /** Stops being primary: no lease expires here until the next promotion. O(n). */
  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) l.expiryMs = Infinity;
    for (const e of [this.expiries, this.checkpoints]) e.clear();
    this.clears.clear();
  }

  /**
   * Leases whose time is up, earliest first, at most `max` (the revocation rate limit, so a
   * mass expiry never stalls the loop). Each lease handed out is offered again only after
   * `expiredRetryMs`, in case its revoke is lost. Empty unless primary. O(max log n).
   */
  expiredLeases(max: number = DEFAULT_EXPIRED_BATCH): LeaseId[] {
    assert(Number.isSafeInteger(max) && max >= 1, () => `bad expired-lease batch ${max}`);
    const out: LeaseId[] = [];
    if (!this.primary) return out;
    const nowMs = this.clock.nowMs();
    while (out.length < max) {
      const top = this.expiries.peek();
      if (top === null || top.timeMs > nowMs) break;
      const l = this.leases.get(top.id);
      assert(l !== undefined && l === top, 'expiry heap holds a lease that is gone');
      assert(nowMs >= l.expiryMs, 'a lease came due in the expiry heap before its expiry');
      this.expiries.update(top, nowMs + this.config.expiredRetryMs);
      out.push(l.id);
    }
    return out;
  }

  /**
   * Checkpoints to propose now, at most `max`: first the zero checkpoints owed by renewals,
   * then leases whose checkpoint time came and whose remaining TTL is below their TTL. Empty
   * unless primary with checkpointing on. Scans at most 2*max queued checkpoints per call.
   */
  dueCheckpoints(max: number = DEFAULT_CHECKPOINT_BATCH): LeaseCheckpoint[] {
    assert(Number.isSafeInteger(max) && max >= 1, () => `bad checkpoint batch ${max}`);
    const out: LeaseCheckpoint[] = [];
    if (!this.primary || !this.config.checkpointEnabled) return out;
    for (const id of this.clears) {
      if (out.length >= max) return out;
      this.clears.delete(id); // deleting the visited entry is safe while iterating a Set
      out.push({ id, remainingTtlSec: 0 });
    }
    const nowMs = this.clock.nowMs();
    for (let scanned = 0; scanned < 2 * max && out.length < max; scanned++) {
      const top = this.checkpoints.peek();
      if (top === null || top.timeMs > nowMs) break;
      this.checkpoints.remove(top);
      const l = this.leases.get(top.id);
      assert(l !== undefined && l.checkpoint === top, 'checkpoint heap holds a lease that is gone');
      if (nowMs >= l.expiryMs) continue; // expired: its revoke is what matters now
      const remainingTtlSec = Math.ceil((l.expiryMs - nowMs) / 1000);
      if (remainingTtlSec >= l.ttlSec) continue; // just renewed: nothing worth recording
      out.push({ id: l.id, remainingTtlSec });
    }
    return out;
  }

  /** Counts for metrics and for the scale tests' work bounds. */
  stats(): LessorStats {
    return {
      leases: this.leases.size,
      attachedKeys: this.items.size,
      expiryQueue: this.expiries.size,
      checkpointQueue: this.checkpoints.size,
      heapSiftSteps: this.expiries.siftSteps + this.checkpoints.siftSteps,
    };
  }

  /** O(n) check of every internal invariant; for tests and FLOE_VERIFY runs. */
  checkInvariants(): void {
    this.expiries.check();
    this.checkpoints.check();
    let attached = 0;
    for (const [id, l] of this.leases) {
      assert(l.id === id, 'lease filed under another id');
      if (this.primary) {
        assert(l.index !== -1, () => `primary lessor lost lease ${id} from the expiry heap`);
        assert(l.timeMs >= l.expiryMs, () => `lease ${id} queued before its expiry`);
      } else {
        assert(l.index === -1 && l.expiryMs === Infinity, () => `lease ${id} expires on a non-primary lessor`);
        assert(l.checkpoint === null || l.checkpoint.index === -1, 'checkpoint queued on a non-primary lessor');
      }
      for (const k of l.keys ?? []) {
        assert(this.items.get(k) === l, () => `key ${JSON.stringify(k)} of lease ${id} not mapped back to it`);
        attached++;
      }
    }
    assert(attached === this.items.size, 'key map holds keys no lease owns');
    assert(this.expiries.size === (this.primary ? this.leases.size : 0), 'expiry heap size differs from lease count');
    for (const id of this.clears) assert(this.leases.has(id), 'owed checkpoint for a lease that is gone');
  }

  private attachKey(l: Lease, k: string): void {
    const prev = this.items.get(k);
    if (prev !== undefined && prev !== l) prev.keys!.delete(k);
    (l.keys ??= new Set()).add(k);
    this.items.set(k, l);
  }

  private detachKey(l: Lease, k: string): void {
    if (l.keys === null || !l.keys.delete(k)) return;
    assert(this.items.get(k) === l, 'a key in a lease\'s set maps to another lease');
    this.items.delete(k);
  }

  private needsCheckpoint(l: Lease): boolean {
    return this.config.checkpointEnabled && l.restartTtlSec() > Math.trunc(this.config.checkpointIntervalMs / 1000);
  }

  /** Queues lease l's next checkpoint one interval from now, when its TTL is long enough. */
  private scheduleCheckpoint(l: Lease, nowMs: number): void {
    if (!this.needsCheckpoint(l)) return;
    const timeMs = nowMs + this.config.checkpointIntervalMs;
    if (l.checkpoint === null) l.checkpoint = { id: l.id, timeMs, index: -1 };
    if (l.checkpoint.index === -1) {
      l.checkpoint.timeMs = timeMs;
      this.checkpoints.push(l.checkpoint);
    } else {
      this.checkpoints.update(l.checkpoint, timeMs);
    }
  }

  private persist(l: Lease): void {
    writeLeaseRecord(this.store, { id: l.id, ttlSec: l.ttlSec, remainingTtlSec: l.remainingTtlSec });
  }

  private recover(): void {
    loadLeaseRecords(this.store, (rec) => {
      assert(!this.leases.has(rec.id), 'backend returned one lease key twice');
      // etcd raises a stored TTL below the current minimum (the minimum may have grown since).
      const ttlSec = Math.max(rec.ttlSec, this.config.minTtlSec);
      this.leases.set(rec.id, new Lease(rec.id, ttlSec, rec.remainingTtlSec));
    });
  }
}
