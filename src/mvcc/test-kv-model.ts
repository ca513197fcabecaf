/**
 * A plain model of the MVCC store for randomized tests (test code only): every record ever
 * written, in revision order, and answers computed by replaying them. It knows nothing of the
 * tree index; compaction is modelled by etcd's observable rule (after compacting at C the
 * backend holds every record above C and, for each key alive at C, the record of its value at
 * C), independent of how keyIndex implements it.
 */
import { encodeKeyValue, EventType, NO_LEASE, type Event, type KeyValue, type LeaseId } from './kv-codec';
import { encodeRevision } from './revision';

/** One backend record of the model. */
export interface ModelRecord {
  readonly main: number;
  readonly sub: number;
  readonly key: string;
  readonly tombstone: boolean;
  /** The stored pair (a tombstone holds only the key). */
  readonly kv: KeyValue;
  /** Consistent index of the transaction that wrote it. */
  readonly ci: number;
}

interface Live {
  readonly kv: KeyValue;
  readonly sub: number;
}

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Byte order of binary strings. */
export function cmpKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `k` is in the range (end as in the store: null single key, '' or '\0' from key). */
export function inRange(k: string, key: string, end: string | null): boolean {
  if (end === null) return k === key;
  if (end === '' || end === '\u0000') return k >= key;
  return k >= key && k < end;
}

/** The model; see the file comment. */
export class KvModel {
  records: ModelRecord[] = [];
  /** Every record ever written, never compacted or truncated: the event history watchers see. */
  log: ModelRecord[] = [];
  currentRev = 1;
  compactRev = -1;

  /** The live pairs at revision `rev` (after all its subs), by key. */
  stateAt(rev: number): Map<string, Live> {
    const m = new Map<string, Live>();
    for (const r of this.records) {
      if (r.main > rev) break;
      if (r.tombstone) m.delete(r.key);
      else m.set(r.key, { kv: r.kv, sub: r.sub });
    }
    return m;
  }

  /** Live pairs of the range at `rev`, in key order. */
  rangeAt(key: string, end: string | null, rev: number): KeyValue[] {
    const out: [string, KeyValue][] = [];
    for (const [k, l] of this.stateAt(rev)) if (inRange(k, key, end)) out.push([k, l.kv]);
    return out.sort((x, y) => cmpKeys(x[0], y[0])).map((x) => x[1]);
  }

  /** Starts a write transaction at the next revision. */
  begin(ci: number): ModelTxn {
    return new ModelTxn(this, ci);
  }

  /** Every event at revisions >= from, in revision order (what a watcher from `from` must see). */
  eventsFrom(from: number): Event[] {
    const out: Event[] = [];
    for (const r of this.log) {
      if (r.main < from) continue;
      out.push(r.tombstone ? { type: EventType.DELETE, kv: { ...r.kv, modRevision: r.main } } : { type: EventType.PUT, kv: r.kv });
    }
    return out;
  }

  /** The live pair of `key` at `rev` according to the full history, if any. */
  valueAt(key: string, rev: number): KeyValue | undefined {
    let kv: KeyValue | undefined;
    for (const r of this.log) {
      if (r.main > rev) break;
      if (r.key === key) kv = r.tombstone ? undefined : r.kv;
    }
    return kv;
  }

  /** Applies etcd's compaction rule at `rev` to the records (the compaction has completed). */
  compact(rev: number): void {
    const keep = new Set<string>();
    for (const [k, l] of this.stateAt(rev)) keep.add(`${l.kv.modRevision}.${l.sub}.${k}`);
    this.records = this.records.filter((r) => r.main > rev || (!r.tombstone && keep.has(`${r.main}.${r.sub}.${r.key}`)));
  }

  /** The backend key bucket the model expects, as [revision key, value] pairs in order. */
  backendRecords(): [Buffer, Buffer][] {
    return this.records.map((r) => [encodeRevision({ main: r.main, sub: r.sub }, r.tombstone), encodeKeyValue(r.kv)]);
  }

  /** Forgets every record written by transactions with consistent index above `ci` (a crash). */
  truncateAfter(ci: number): void {
    this.records = this.records.filter((r) => r.ci <= ci);
    this.log = this.log.filter((r) => r.ci <= ci);
    const last = this.records.length === 0 ? 1 : (this.records[this.records.length - 1] as ModelRecord).main;
    this.currentRev = Math.max(last, this.compactRev);
  }

  /** Live keys with a lease at the current revision: key -> lease. */
  leases(): Map<string, LeaseId> {
    const m = new Map<string, LeaseId>();
    for (const [k, l] of this.stateAt(this.currentRev)) if (l.kv.lease !== NO_LEASE) m.set(k, l.kv.lease);
    return m;
  }
}

/** A model write transaction: etcd's put and delete rules over the live state. */
export class ModelTxn {
  private readonly rev: number;
  private readonly added: ModelRecord[] = [];
  private readonly live: Map<string, Live>;

  constructor(
    private readonly model: KvModel,
    private readonly ci: number,
  ) {
    this.rev = model.currentRev + 1;
    this.live = model.stateAt(model.currentRev);
  }

  /** The current pair of `key` in this transaction's view. */
  get(key: string): KeyValue | undefined {
    return this.live.get(key)?.kv;
  }

  rangeNow(key: string, end: string | null): KeyValue[] {
    const out: [string, KeyValue][] = [];
    for (const [k, l] of this.live) if (inRange(k, key, end)) out.push([k, l.kv]);
    return out.sort((x, y) => cmpKeys(x[0], y[0])).map((x) => x[1]);
  }

  put(key: string, value: Buffer, lease: LeaseId): void {
    const prev = this.live.get(key);
    const sub = this.added.length;
    const kv: KeyValue = {
      key: bin(key),
      createRevision: prev === undefined ? this.rev : prev.kv.createRevision,
      modRevision: this.rev,
      version: prev === undefined ? 1 : prev.kv.version + 1,
      value,
      lease,
    };
    this.added.push({ main: this.rev, sub, key, tombstone: false, kv, ci: this.ci });
    this.live.set(key, { kv, sub });
  }

  deleteRange(key: string, end: string | null): number {
    const keys = [...this.live.keys()].filter((k) => inRange(k, key, end)).sort(cmpKeys);
    for (const k of keys) {
      const kv: KeyValue = { key: bin(k), createRevision: 0, modRevision: 0, version: 0, value: Buffer.alloc(0), lease: NO_LEASE };
      this.added.push({ main: this.rev, sub: this.added.length, key: k, tombstone: true, kv, ci: this.ci });
      this.live.delete(k);
    }
    return keys.length;
  }

  get changed(): boolean {
    return this.added.length > 0;
  }

  /** Commits the transaction into the model; returns the model's revision after it. */
  end(): number {
    if (this.added.length > 0) {
      this.model.records.push(...this.added);
      this.model.log.push(...this.added);
      this.model.currentRev = this.rev;
    }
    return this.model.currentRev;
  }
}
