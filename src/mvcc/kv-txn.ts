/**
 * Read and write transactions over the store: small views in etcd's shape (storeTxnRead,
 * storeTxnWrite). Everything here is synchronous; a transaction must be ended (end()) in the
 * same turn of the event loop that began it, so no other write can interleave with it.
 *
 * A write transaction holds one main revision, `beginRev + 1`, and numbers its changes with
 * increasing sub revisions from 0: every change of one transaction becomes visible at once,
 * when end() makes `beginRev + 1` the store's revision. Until then the changes live in the
 * index and in this transaction's own list of backend writes (the index points at them; reads
 * inside the transaction find them there). end() hands them to the backend batch in one go,
 * together with the consistent index, so a batch commit never splits a transaction.
 */
import { assert } from '../pkg';
import { mvccError, ERR_COMPACTED, ERR_EMPTY_KEY, ERR_FUTURE_REV, ERR_KEY_NOT_FOUND } from './errors';
import { encodeKeyValue, encodeKeyValueParts, EventType, NO_LEASE, type Event, type KeyValue, type LeaseId } from './kv-codec';
import { encodeRevision, type Revision } from './revision';
import type { RangeEnd, TreeIndex } from './tree-index';

/** Options of a range read (the part of etcd's RangeRequest that the store serves). */
export interface RangeOptions {
  /** At most this many pairs; 0 or less: no limit. `count` and `more` still cover the whole range. */
  readonly limit?: number;
  /** Read at this revision; 0 or less: at the current revision. */
  readonly revision?: number;
  /** Count the keys only; `kvs` stays empty. */
  readonly countOnly?: boolean;
  /** Return pairs without their values. */
  readonly keysOnly?: boolean;
}

/** What a range read finds. */
export interface KvRangeResult {
  /** The pairs, in key order, at most `limit`. */
  readonly kvs: KeyValue[];
  /** Keys in the range at the revision read, whatever the limit (etcd's RangeResponse.count). */
  readonly count: number;
  /** True when the limit left pairs out (etcd's RangeResponse.more). */
  readonly more: boolean;
  /** The store's revision as the read saw it (the response header's revision). */
  readonly revision: number;
}

/** Options of a put (etcd's PutRequest flags). */
export interface PutOptions {
  /** Lease to attach the key to; NO_LEASE (default) for none. Ignored with ignoreLease. */
  readonly lease?: LeaseId;
  /** Return the pair as it was before the put. */
  readonly prevKv?: boolean;
  /** Keep the current value (the value argument is not used). Needs the key to exist. */
  readonly ignoreValue?: boolean;
  /** Keep the current lease. Needs the key to exist. */
  readonly ignoreLease?: boolean;
}

/** What a put did. */
export interface PutResult {
  /** The revision of the put (the response header's revision). */
  readonly revision: number;
  /** The pair before the put, when asked for and the key existed. */
  readonly prevKv: KeyValue | null;
}

/** Options of a delete-range. */
export interface DeleteRangeOptions {
  /** Return the pairs deleted. */
  readonly prevKv?: boolean;
}

/** What a delete-range did. */
export interface DeleteRangeResult {
  /** Number of keys deleted. */
  readonly deleted: number;
  /** The store's revision after the delete, as far as this transaction goes (response header). */
  readonly revision: number;
  /** The pairs deleted, when asked for, in key order. */
  readonly prevKvs: KeyValue[];
}

/** Reads at one revision of the store. */
export interface ReadView {
  /** The revision this view reads at by default (etcd's Rev()). */
  readonly revision: number;
  /** The store's compaction revision when the view opened; -1 when never compacted (etcd's FirstRev()). */
  readonly compactRevision: number;
  /**
   * Pairs of the range at `opts.revision` (default: this view's revision). `end`: null for the
   * single key `key`; empty or the one byte 0x00 for every key >= key; else [key, end).
   * Throws FloeError ERR_FUTURE_REV above the view's revision, ERR_COMPACTED below the
   * compaction revision.
   */
  range(key: Uint8Array, end: RangeEnd, opts?: RangeOptions): KvRangeResult;
}

/** A read transaction: a ReadView to end when done. */
export interface TxnRead extends ReadView {
  /** Ends the transaction (required; a no-op for reads, kept for symmetry with writes). */
  end(): void;
}

/** A write transaction; see the file comment for its rules. */
export interface TxnWrite extends TxnRead {
  /** Puts `key` = `value` at this transaction's revision. Throws ERR_EMPTY_KEY, ERR_KEY_NOT_FOUND. */
  put(key: Uint8Array, value: Uint8Array, opts?: PutOptions): PutResult;
  /** Deletes the keys of the range (end as in range()). */
  deleteRange(key: Uint8Array, end: RangeEnd, opts?: DeleteRangeOptions): DeleteRangeResult;
  /** The changes so far, in order (sub revision order). */
  readonly changes: readonly Event[];
  /**
   * Ends the transaction: makes its changes visible as the next revision and hands them to the
   * backend batch and to watchers. Must be called exactly once.
   */
  end(): void;
}

/**
 * Tracks which lease each key is attached to (implemented by the lease layer, passed in at
 * construction). The store calls it on every put and delete, and once per key with a lease
 * when it rebuilds itself from the backend at start-up; the lessor must exist and have its
 * leases loaded by then. attach() of a lease the lessor does not know should be ignored, as
 * etcd's restore does.
 */
export interface LeaseAttacher {
  /** The lease `key` is attached to, or NO_LEASE. Keys may be views into larger buffers: copy what you keep. */
  leaseOf(key: Buffer): LeaseId;
  attach(lease: LeaseId, key: Buffer): void;
  detach(lease: LeaseId, key: Buffer): void;
}

/** What the transactions need from the store (kv-store.ts implements it). */
export interface TxnHost {
  readonly index: TreeIndex;
  readonly currentRevision: number;
  readonly compactRevision: number;
  readonly leases: LeaseAttacher | null;
  /** Pairs at the given revisions (puts, never tombstones), in order. */
  readValues(revs: readonly Revision[], keysOnly: boolean): KeyValue[];
  /** Called by TxnWrite.end(). */
  finishWrite(txn: StoreTxnWrite): void;
}

/** A backend write the transaction will hand to the batch at end(). */
export interface PendingWrite {
  readonly revKey: Buffer;
  readonly value: Buffer;
}

/**
 * The store's range end for a request's `range_end` field: proto3 cannot tell an absent field
 * from an empty one, and etcd reads both as "the single key", so empty becomes null; the one
 * byte 0x00 (every key from `key` on) and real ends pass through.
 */
export function rangeEndFromRequest(rangeEnd: Uint8Array): RangeEnd {
  return rangeEnd.length === 0 ? null : rangeEnd;
}

function normalizeLimit(limit: number | undefined): number {
  if (limit === undefined || !(limit > 0)) return 0;
  return Number.isSafeInteger(limit) ? limit : Number.MAX_SAFE_INTEGER;
}

/** etcd's rangeKeys: the checks in etcd's order, then index, then backend. */
export function rangeKeys(host: TxnHost, key: Uint8Array, end: RangeEnd, curRev: number, opts: RangeOptions): KvRangeResult {
  let rev = opts.revision ?? 0;
  if (rev > curRev) throw mvccError(ERR_FUTURE_REV);
  if (rev <= 0) rev = curRev;
  // Reading at the compaction revision itself is allowed: compaction keeps what it shows.
  if (rev < host.compactRevision) throw mvccError(ERR_COMPACTED);
  if (opts.countOnly === true) {
    return { kvs: [], count: host.index.countRevisions(key, end, rev), more: false, revision: curRev };
  }
  const limit = normalizeLimit(opts.limit);
  const { revs, total } = host.index.revisions(key, end, rev, limit);
  const kvs = revs.length === 0 ? [] : host.readValues(revs, opts.keysOnly === true);
  return { kvs, count: total, more: kvs.length < total, revision: curRev };
}

/** A read transaction: the revision and compaction revision are fixed when it opens. */
export class StoreTxnRead implements TxnRead {
  constructor(
    protected readonly host: TxnHost,
    readonly revision: number,
    readonly compactRevision: number,
  ) {}

  range(key: Uint8Array, end: RangeEnd, opts: RangeOptions = {}): KvRangeResult {
    return rangeKeys(this.host, key, end, this.revision, opts);
  }

  end(): void {}
}

/** A write transaction (see the file comment). */
export class StoreTxnWrite implements TxnWrite {
  /** The store's revision when the transaction began; it writes at beginRev + 1. */
  readonly beginRev: number;
  /** Backend writes, one per change, index = sub revision. */
  readonly writes: PendingWrite[] = [];
  private readonly events: Event[] = [];
  private ended = false;

  constructor(private readonly host: TxnHost) {
    this.beginRev = host.currentRevision;
  }

  /** The revision reads in this transaction see: beginRev, or beginRev + 1 once it changed something. */
  get revision(): number {
    return this.events.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  get compactRevision(): number {
    return this.host.compactRevision;
  }

  get changes(): readonly Event[] {
    return this.events;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  range(key: Uint8Array, end: RangeEnd, opts: RangeOptions = {}): KvRangeResult {
    this.checkOpen();
    return rangeKeys(this.host, key, end, this.revision, opts);
  }

  put(key: Uint8Array, value: Uint8Array, opts: PutOptions = {}): PutResult {
    this.checkOpen();
    if (key.length === 0) throw mvccError(ERR_EMPTY_KEY);
    const ignoreValue = opts.ignoreValue === true;
    const ignoreLease = opts.ignoreLease === true;
    let prev: KeyValue | null = null;
    if (ignoreValue || ignoreLease || opts.prevKv === true) {
      prev = this.range(key, null).kvs[0] ?? null;
      // Checked before anything changes: a refused op leaves the transaction as it was.
      if ((ignoreValue || ignoreLease) && prev === null) throw mvccError(ERR_KEY_NOT_FOUND);
    }
    const val = ignoreValue && prev !== null ? prev.value : value;
    const lease = ignoreLease && prev !== null ? prev.lease : (opts.lease ?? NO_LEASE);
    this.putRaw(key, val, lease);
    return { revision: this.beginRev + 1, prevKv: opts.prevKv === true ? prev : null };
  }

  deleteRange(key: Uint8Array, end: RangeEnd, opts: DeleteRangeOptions = {}): DeleteRangeResult {
    this.checkOpen();
    const prevKvs = opts.prevKv === true ? this.range(key, end).kvs : [];
    const { keys } = this.host.index.range(key, end, this.revision);
    for (const k of keys) this.deleteKey(k);
    const revision = keys.length !== 0 || this.events.length > 0 ? this.beginRev + 1 : this.beginRev;
    return { deleted: keys.length, revision, prevKvs };
  }

  end(): void {
    this.checkOpen();
    this.ended = true;
    this.host.finishWrite(this);
  }

  /** etcd's storeTxnWrite.put: created revision and version from the index, then record. */
  private putRaw(keyIn: Uint8Array, valueIn: Uint8Array, lease: LeaseId): void {
    const rev: Revision = { main: this.beginRev + 1, sub: this.writes.length };
    const found = this.host.index.get(keyIn, rev.main);
    const createRevision = found === null ? rev.main : found.created.main;
    const version = found === null ? 1 : found.version + 1;
    // One copy of key and value: the encoded record; the event's pair points into it.
    const enc = encodeKeyValueParts(keyIn, createRevision, rev.main, version, valueIn, lease);
    const key = enc.key;
    let oldLease = NO_LEASE;
    if (found !== null) oldLease = this.host.leases?.leaseOf(key) ?? NO_LEASE;
    const kv: KeyValue = { key, createRevision, modRevision: rev.main, version, value: enc.value, lease };
    this.writes.push({ revKey: encodeRevision(rev), value: enc.bytes });
    this.host.index.put(key, rev);
    this.events.push({ type: EventType.PUT, kv });
    const leases = this.host.leases;
    if (leases !== null) {
      if (oldLease !== NO_LEASE) leases.detach(oldLease, key);
      if (lease !== NO_LEASE) leases.attach(lease, key);
    }
  }

  /** etcd's storeTxnWrite.delete: a tombstone record holding only the key. */
  private deleteKey(key: Buffer): void {
    const rev: Revision = { main: this.beginRev + 1, sub: this.writes.length };
    const stored: KeyValue = { key, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: NO_LEASE };
    this.writes.push({ revKey: encodeRevision(rev, true), value: encodeKeyValue(stored) });
    this.host.index.tombstone(key, rev);
    // The event carries the deletion's revision; the stored record does not (etcd's shapes).
    this.events.push({ type: EventType.DELETE, kv: { ...stored, modRevision: rev.main } });
    const leases = this.host.leases;
    if (leases !== null) {
      const lease = leases.leaseOf(key);
      if (lease !== NO_LEASE) leases.detach(lease, key);
    }
  }

  private checkOpen(): void {
    assert(!this.ended, 'mvcc: write transaction used after end()');
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
