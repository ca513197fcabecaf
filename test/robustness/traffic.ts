/**
 * Robustness traffic in the manner of etcd's: clients pinned to one member and a few that use
 * every member, on a small key set, each put writing a value no other put writes. Operations:
 * linearizable and serializable reads (one key and ranges), puts, 32 KiB puts, deletes,
 * multi-op txns, compare-and-set, puts with leases, lease grants (client-chosen ids) and
 * revokes. A compactor compacts behind the complete watchers.
 *
 * Leases: long ones (never expire during a run) and short ones (expire during it). A short
 * lease's expiry is not a client call, so when it is granted the recorder also gets a revoke
 * with an unknown outcome from the grant's call time on: the checker may place the expiry
 * anywhere after that, or never.
 */
import type { Etcd3 } from 'etcd3';
import { Rng } from '../../src/pkg';
import type { Compare, TxnOp } from './checker';
import { endpointClient, Recorder } from './client';
import { sleep } from '../cluster/cluster';

/** Keys the traffic touches: a small set under `key/`, one with a non-ASCII byte. */
export const KEYS: readonly string[] = [...Array.from({ length: 9 }, (_, i) => `key/${i}`), 'key/\xff'];
/** [KEY_PREFIX, KEY_RANGE_END) holds every traffic key. */
export const KEY_PREFIX = 'key/';
export const KEY_RANGE_END = 'key0';
/** Size of a large put's value. */
export const LARGE_VALUE_BYTES = 32 * 1024;
/** TTL of a lease that must not expire during a run. */
export const LONG_LEASE_TTL_SEC = 3_600;
/** TTL of a lease meant to expire during a run (above etcd's minimum for 1 s elections). */
export const SHORT_LEASE_TTL_SEC = 3;
/** A client's pause after a call that failed. */
const FAILURE_PAUSE_MS = 150;
/** Client id of the synthetic revokes that stand for lease expiries. */
export const EXPIRY_CLIENT_ID = 9_999;

/** Options of a traffic run. */
export interface TrafficOptions {
  readonly seed: number;
  /** Every member's endpoint; clients are pinned to these or use all of them. */
  readonly endpoints: readonly string[];
  /** Clients pinned to one member each (round robin over endpoints). */
  readonly pinnedClients: number;
  /** Clients that pick a random member per call. */
  readonly clusterClients: number;
  /** Deadline of one call. */
  readonly callTimeoutMs: number;
  /** Pause between a client's calls (keeps a shared 2-core machine usable). */
  readonly pauseMs: number;
}

/** What one run of traffic did, for the report. */
export interface TrafficStats {
  readonly calls: number;
  readonly byKind: Record<string, number>;
}

/** A granted (or maybe granted) lease. */
export interface LeaseRecord {
  readonly id: number;
  readonly ttlSec: number;
  readonly grantCallMs: number;
}

/** One traffic client: its own rng, clients, value counter and leases. */
class TrafficClient {
  private readonly rng: Rng;
  private next = 0;
  /** Last mod revision seen per key, for compare-and-set. */
  private readonly seenMod = new Map<string, number>();
  private readonly leases: number[] = [];

  constructor(
    private readonly id: number,
    private readonly clients: readonly { endpoint: string; client: Etcd3 }[],
    private readonly traffic: Traffic,
  ) {
    this.rng = new Rng(traffic.options.seed * 131 + id);
  }

  private value(): string {
    return `c${this.id}-${this.next++}`;
  }

  private pickClient(): { endpoint: string; client: Etcd3 } {
    return this.rng.pick(this.clients);
  }

  async run(): Promise<void> {
    const t = this.traffic;
    while (!t.stopped) {
      const failuresBefore = t.recorder.failures;
      await this.once();
      // Back off after a failure: a down member fails calls at once, and a flood of unknown
      // outcomes only slows the checker down.
      const pauseMs = t.recorder.failures > failuresBefore ? FAILURE_PAUSE_MS : t.options.pauseMs;
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  private newLeaseId(): number {
    // Unique per run: client id in the high part, a counter below. Stays a safe integer.
    return (this.id + 1) * 1_000_000 + this.next++;
  }

  private async once(): Promise<void> {
    const t = this.traffic;
    const rec = t.recorder;
    const { endpoint, client } = this.pickClient();
    const key = this.rng.pick(KEYS);
    const roll = this.rng.int(100);
    const kind =
      roll < 16 ? 'get' : roll < 26 ? 'serializableGet' : roll < 32 ? 'range' : roll < 52 ? 'put' : roll < 54 ? 'largePut' : roll < 60 ? 'delete' : roll < 70 ? 'txn' : roll < 80 ? 'cas' : roll < 88 ? 'leasePut' : roll < 95 ? 'grant' : 'revoke';
    t.count(kind);
    switch (kind) {
      case 'get': {
        const r = await rec.call(this.id, client, { type: 'range', key });
        this.noteRead(r);
        return;
      }
      case 'serializableGet':
        return rec.serializableRead(this.id, client, endpoint, this.rng.chance(0.5) ? { type: 'range', key } : { type: 'range', key: KEY_PREFIX, rangeEnd: KEY_RANGE_END });
      case 'range': {
        const limit = this.rng.chance(0.3) ? 1 + this.rng.int(4) : undefined;
        const r = await rec.call(this.id, client, { type: 'range', key: KEY_PREFIX, rangeEnd: KEY_RANGE_END, ...(limit === undefined ? {} : { limit }) });
        this.noteRead(r);
        return;
      }
      case 'put':
        await rec.call(this.id, client, { type: 'put', key, value: this.value(), ...(this.rng.chance(0.3) ? { prevKv: true } : {}) });
        return;
      case 'largePut': {
        const head = this.value();
        await rec.call(this.id, client, { type: 'put', key, value: head + '.'.repeat(LARGE_VALUE_BYTES - head.length) });
        return;
      }
      case 'delete':
        await rec.call(this.id, client, { type: 'delete', key, ...(this.rng.chance(0.3) ? { prevKv: true } : {}) });
        return;
      case 'txn': {
        // Distinct keys per txn: the watch record cannot order two changes of one key in one revision.
        const [a, b, c] = this.distinctKeys(3);
        const compares: Compare[] = [{ key: a!, target: this.rng.pick(['version', 'mod', 'create'] as const), result: this.rng.pick(['=', '!=', '<', '>'] as const), operand: this.rng.int(4) === 0 ? 0 : (this.seenMod.get(a!) ?? 1) }];
        const success: TxnOp[] = [
          { type: 'put', key: a!, value: this.value() },
          this.rng.chance(0.5) ? { type: 'put', key: b!, value: this.value() } : { type: 'delete', key: b! },
          { type: 'range', key: c! },
        ];
        const failure: TxnOp[] = [{ type: 'range', key: a! }, ...(this.rng.chance(0.5) ? [{ type: 'put', key: c!, value: this.value() } as TxnOp] : [])];
        await rec.call(this.id, client, { type: 'txn', compares, success, failure });
        return;
      }
      case 'cas': {
        const mod = this.seenMod.get(key) ?? 0;
        await rec.call(this.id, client, { type: 'txn', compares: [{ key, target: 'mod', result: '=', operand: mod }], success: [{ type: 'put', key, value: this.value() }], failure: [{ type: 'range', key }] });
        return;
      }
      case 'leasePut': {
        const lease = this.leases.length > 0 ? this.rng.pick(this.leases) : t.anyLease(this.rng);
        if (lease === undefined) return this.grant(client);
        await rec.call(this.id, client, { type: 'put', key, value: this.value(), leaseId: lease });
        return;
      }
      case 'grant':
        return this.grant(client);
      case 'revoke': {
        if (this.leases.length === 0) return this.grant(client);
        const at = this.rng.int(this.leases.length);
        const lease = this.leases[at]!;
        this.leases.splice(at, 1);
        await rec.call(this.id, client, { type: 'leaseRevoke', leaseId: lease });
        return;
      }
    }
  }

  private async grant(client: Etcd3): Promise<void> {
    const t = this.traffic;
    const short = this.rng.chance(0.4);
    const id = this.newLeaseId();
    const ttlSec = short ? SHORT_LEASE_TTL_SEC : LONG_LEASE_TTL_SEC;
    const callMs = t.recorder.now();
    // The expiry may come any time after the grant is applied.
    if (short) t.recorder.recordUnknown(EXPIRY_CLIENT_ID, callMs, { type: 'leaseRevoke', leaseId: id });
    t.leases.push({ id, ttlSec, grantCallMs: callMs });
    this.leases.push(id);
    if (this.leases.length > 4) this.leases.shift();
    await t.recorder.call(this.id, client, { type: 'leaseGrant', leaseId: id, ttlSec });
  }

  private distinctKeys(n: number): string[] {
    const out: string[] = [];
    while (out.length < n) {
      const k = this.rng.pick(KEYS);
      if (!out.includes(k)) out.push(k);
    }
    return out;
  }

  private noteRead(r: Awaited<ReturnType<Recorder['call']>>): void {
    if (r === undefined || r.result.type !== 'range') return;
    for (const kv of r.result.kvs) this.seenMod.set(kv.key, kv.modRevision);
  }
}

/** A running set of traffic clients; `stop()` ends them. */
export class Traffic {
  stopped = false;
  readonly leases: LeaseRecord[] = [];
  readonly kinds: Record<string, number> = {};
  private readonly etcdClients: Etcd3[] = [];
  private readonly runs: Promise<void>[] = [];

  constructor(
    readonly options: TrafficOptions,
    readonly recorder: Recorder,
  ) {
    const perEndpoint = options.endpoints.map((endpoint) => ({ endpoint, client: this.client(endpoint) }));
    let id = 0;
    for (let i = 0; i < options.pinnedClients; i++) {
      const pinned = perEndpoint[i % perEndpoint.length]!;
      this.runs.push(new TrafficClient(id++, [pinned], this).run());
    }
    for (let i = 0; i < options.clusterClients; i++) this.runs.push(new TrafficClient(id++, perEndpoint, this).run());
  }

  private client(endpoint: string): Etcd3 {
    const c = endpointClient(endpoint, this.options.callTimeoutMs);
    this.etcdClients.push(c);
    return c;
  }

  count(kind: string): void {
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
  }

  /** Any long lease granted so far (a short one may be gone). */
  anyLease(rng: Rng): number | undefined {
    const long = this.leases.filter((l) => l.ttlSec === LONG_LEASE_TTL_SEC);
    return long.length === 0 ? undefined : rng.pick(long).id;
  }

  /** Stops the clients; resolves when their last calls have ended. */
  async stop(): Promise<TrafficStats> {
    this.stopped = true;
    await Promise.all(this.runs);
    for (const c of this.etcdClients) c.close();
    const calls = Object.values(this.kinds).reduce((a, b) => a + b, 0);
    return { calls, byKind: { ...this.kinds } };
  }
}

/**
 * Puts to a few `fill/` keys as fast as `concurrency` allows, recorded like any traffic, until
 * `count` puts were made or `stopped()` says so: enough entries to make a member that is cut
 * off need a snapshot. Client ids start at `firstClientId`.
 */
export async function fill(recorder: Recorder, endpoints: readonly string[], options: { count: number; concurrency: number; firstClientId: number; callTimeoutMs: number; stopped: () => boolean }): Promise<number> {
  const clients = endpoints.map((e) => endpointClient(e, options.callTimeoutMs));
  let n = 0;
  let acked = 0;
  const worker = async (w: number): Promise<void> => {
    while (n < options.count && !options.stopped()) {
      const i = n++;
      const r = await recorder.call(options.firstClientId + w, clients[i % clients.length]!, { type: 'put', key: `fill/${w}`, value: `f${w}-${i}` });
      if (r !== undefined) acked++;
      else await sleep(50);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  } finally {
    for (const c of clients) c.close();
  }
  return acked;
}

/**
 * Compacts every `everyMs` to `keepBehind` revisions below `safeRevision()` (the least
 * revision the complete watchers have heard of, so they never lose their place). Not part of
 * the history: compaction changes no key and no revision.
 */
export class Compactor {
  private stopped = false;
  compactions = 0;
  lastCompacted = 0;
  private readonly safeRevision: () => number;
  private readonly done: Promise<void>;

  /**
   * `safeRevision()`: the least revision a watcher still needs (etcd gives no prevKv for an
   * event whose previous version is compacted away, and cancels a watch behind compaction).
   */
  constructor(endpoints: readonly string[], options: { everyMs: number; keepBehind: number; callTimeoutMs: number; seed: number; safeRevision: () => number }) {
    this.safeRevision = options.safeRevision;
    const rng = new Rng(options.seed ^ 0xc0c0);
    const clients = endpoints.map((e) => endpointClient(e, options.callTimeoutMs));
    this.done = (async () => {
      while (!this.stopped) {
        await sleep(options.everyMs);
        if (this.stopped) continue;
        const rev = this.claim(options.keepBehind);
        if (rev === null) continue;
        try {
          await rng.pick(clients).kv.compact({ revision: rev });
          this.compactions++;
        } catch {
          // A compaction that fails (member down, already compacted) is retried next time.
        }
      }
      for (const c of clients) c.close();
    })();
  }

  /**
   * A revision `keepBehind` below the safe one to compact to, noted as compacted before any call
   * (watchers started from now on start above it); null when it would not pass the last one.
   * Faults that compact (the compaction failpoints) take their revision here too.
   */
  claim(keepBehind: number): number | null {
    const rev = this.safeRevision() - keepBehind;
    if (!Number.isFinite(rev) || rev <= this.lastCompacted) return null;
    this.lastCompacted = rev;
    return rev;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }
}

