/**
 * TEST DOUBLE — for tests only; never used by `floe`.
 *
 * An in-memory implementation of the member contract (EtcdServerApi) so the API layer and the
 * serve command can be tested without the real member (src/server). It keeps keys in a Map and
 * one history list for watchers; it has no raft, no WAL, no backend file, and supports only
 * what the API tests need (reads at the current revision, single-member cluster calls). Real
 * behaviour is tested against the real member and against etcd elsewhere.
 */
import { createHash } from 'node:crypto';
import { FloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi, SnapshotStream, WatchStream } from '../server';
import { etcdServices } from '../etcdpb';
import { attachWireKvs } from '../server/range-wire';
import { etcdError } from './errors';

/** Pairs per wire chunk of a range answer (the member's chunks are slices; small here so tests see many). */
const WIRE_CHUNK_PAIRS = 7;

/** The identities of etcd's default single member (name `default`, default peer URL). */
export const DOUBLE_CLUSTER_ID = '14841639068965178418'; // cdf818194e3a8c32
export const DOUBLE_MEMBER_ID = '10276657743932975437'; // 8e9e05c52164694d
const RAFT_TERM = 2;

interface Rec {
  value: Buffer;
  create: number;
  mod: number;
  version: number;
  lease: string;
}

interface Watcher {
  readonly key: string;
  /** null: one key; '': every key from `key` on; else the end (exclusive). */
  readonly end: string | null;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
}

/** Settings of the double. */
export interface DoubleOptions {
  readonly maxRequestBytes?: number;
  readonly maxTxnOps?: number;
  /** Size of the fake backend file the snapshot streams. */
  readonly snapshotBytes?: number;
  /** Every write waits this long first (process tests of draining in-flight calls). */
  readonly writeDelayMs?: number;
}

const bin = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const buf = (s: string): Buffer => Buffer.from(s, 'latin1');

/** TEST DOUBLE of the member; see the file comment. */
export class MemberDouble implements EtcdServerApi {
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
  /** A test may make the double a learner. */
  isLearner = false;
  /**
   * A test may have range answers lie in lent memory (as the member's range worker lends
   * them): this gives each answer's release, given its chunks.
   */
  lend: ((chunks: Buffer[]) => () => void) | null = null;
  /** A test may make the double lose its leader. */
  hasLeader = true;
  revision = 1;
  compactRevision = 0;
  private readonly kvs = new Map<string, Rec>();
  private readonly leases = new Map<string, { ttl: number; keys: Set<string> }>();
  /** Every revision's events, in order (for watchers starting in the past). */
  private readonly history: { rev: number; events: pb.Event[] }[] = [];
  private readonly streams = new Set<DoubleWatchStream>();
  private readonly snapshotBytes: number;
  /** When set, writes wait for it (tests of draining in-flight calls). */
  writeGate: Promise<void> | null = null;
  private readonly writeDelayMs: number;
  /** The serve command's life cycle (src/cli/serve.ts ServedMember): ready at once. */
  readonly ready: Promise<void> = Promise.resolve();
  closed = false;
  /** Calls that reached the double, by method name. */
  readonly calls = new Map<string, number>();

  constructor(opts: DoubleOptions = {}) {
    this.limits = { maxRequestBytes: opts.maxRequestBytes ?? 1.5 * 1024 * 1024, maxTxnOps: opts.maxTxnOps ?? 128 };
    this.snapshotBytes = opts.snapshotBytes ?? 100 * 1024;
    this.writeDelayMs = opts.writeDelayMs ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async beforeWrite(): Promise<void> {
    if (this.writeDelayMs > 0) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    await this.writeGate;
  }

  get openWatchStreams(): number {
    return this.streams.size;
  }

  /** Watch responses held back because a stream's sink said it was full. */
  get heldWatchResponses(): number {
    let n = 0;
    for (const s of this.streams) n += s.heldResponses;
    return n;
  }

  header(rev = this.revision): pb.ResponseHeader {
    return { cluster_id: DOUBLE_CLUSTER_ID, member_id: DOUBLE_MEMBER_ID, revision: rev, raft_term: RAFT_TERM };
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  private kv(key: string, r: Rec, keysOnly = false): pb.KeyValue {
    return {
      key: buf(key),
      create_revision: r.create,
      mod_revision: r.mod,
      version: r.version,
      value: keysOnly || r.value.length === 0 ? undefined : r.value,
      lease: r.lease === '0' ? undefined : r.lease,
    };
  }

  private keysIn(key: Buffer, end: Buffer): string[] {
    const k = bin(key);
    if (end.length === 0) return this.kvs.has(k) ? [k] : [];
    const e = end.length === 1 && end[0] === 0 ? null : bin(end);
    return [...this.kvs.keys()].filter((x) => x >= k && (e === null || x < e)).sort();
  }

  // ---- KV -----------------------------------------------------------------------------

  async range(req: pb.RangeRequest): Promise<pb.RangeResponse> {
    this.count('range');
    const resp = this.rangeNow(req);
    if (resp.kvs === undefined || resp.kvs.length === 0) return resp;
    // As the member answers a range: the pairs in wire form, in chunks (one per slice).
    const encode = etcdServices().kv.Range.responseSerialize as (r: Partial<pb.RangeResponse>) => Buffer;
    const chunks: Buffer[] = [];
    for (let i = 0; i < resp.kvs.length; i += WIRE_CHUNK_PAIRS) chunks.push(encode({ kvs: resp.kvs.slice(i, i + WIRE_CHUNK_PAIRS) }));
    const { kvs: _kvs, ...rest } = resp;
    return attachWireKvs(rest as pb.RangeResponse, chunks, this.lend?.(chunks));
  }

  private rangeNow(req: pb.RangeRequest): pb.RangeResponse {
    const rev = Number(req.revision);
    if (rev > this.revision) throw etcdError('FUTURE_REV');
    if (rev !== 0 && rev < this.compactRevision) throw etcdError('COMPACTED');
    if (rev !== 0 && rev !== this.revision) throw new FloeError('ERR_DOUBLE_UNSUPPORTED', 'test double reads only the current revision');
    const keys = this.keysIn(req.key, req.range_end);
    const limit = Number(req.limit);
    const shown = limit > 0 ? keys.slice(0, limit) : keys;
    return {
      header: this.header(),
      kvs: req.count_only ? undefined : shown.map((k) => this.kv(k, this.kvs.get(k)!, req.keys_only)),
      more: shown.length < keys.length ? true : undefined,
      count: keys.length === 0 ? undefined : keys.length,
    };
  }

  async put(req: pb.PutRequest): Promise<pb.PutResponse> {
    this.count('put');
    await this.beforeWrite();
    const events: pb.Event[] = [];
    const resp = this.putNow(req, this.revision + 1, events);
    this.commit(events);
    return resp;
  }

  private putNow(req: pb.PutRequest, rev: number, events: pb.Event[]): pb.PutResponse {
    const key = bin(req.key);
    const prev = this.kvs.get(key);
    if ((req.ignore_value || req.ignore_lease) && prev === undefined) throw etcdError('KEY_NOT_FOUND');
    const lease = req.ignore_lease ? prev!.lease : req.lease;
    if (lease !== '0' && !this.leases.has(lease)) throw etcdError('LEASE_NOT_FOUND');
    const next: Rec = {
      value: req.ignore_value ? prev!.value : req.value,
      create: prev?.create ?? rev,
      mod: rev,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    if (prev !== undefined && prev.lease !== '0') this.leases.get(prev.lease)?.keys.delete(key);
    if (lease !== '0') this.leases.get(lease)!.keys.add(key);
    this.kvs.set(key, next);
    events.push({ kv: this.kv(key, next), prev_kv: prev === undefined ? undefined : this.kv(key, prev) });
    return { header: this.header(rev), prev_kv: req.prev_kv && prev !== undefined ? this.kv(key, prev) : undefined };
  }

  async deleteRange(req: pb.DeleteRangeRequest): Promise<pb.DeleteRangeResponse> {
    this.count('deleteRange');
    await this.beforeWrite();
    const events: pb.Event[] = [];
    const resp = this.deleteNow(req, this.revision + 1, events);
    this.commit(events);
    return resp;
  }

  private deleteNow(req: pb.DeleteRangeRequest, rev: number, events: pb.Event[]): pb.DeleteRangeResponse {
    const keys = this.keysIn(req.key, req.range_end);
    const prevs = keys.map((k) => this.kv(k, this.kvs.get(k)!));
    for (const k of keys) {
      const r = this.kvs.get(k)!;
      if (r.lease !== '0') this.leases.get(r.lease)?.keys.delete(k);
      this.kvs.delete(k);
      events.push({ type: 1, kv: { key: buf(k), mod_revision: rev }, prev_kv: this.kv(k, r) });
    }
    return {
      header: this.header(keys.length > 0 ? rev : this.revision),
      deleted: keys.length === 0 ? undefined : keys.length,
      prev_kvs: req.prev_kv ? prevs : undefined,
    };
  }

  async txn(req: pb.TxnRequest): Promise<pb.TxnResponse> {
    this.count('txn');
    await this.beforeWrite();
    const events: pb.Event[] = [];
    const resp = this.txnNow(req, this.revision + 1, events);
    this.commit(events);
    if (events.length > 0) resp.header = this.header();
    return resp;
  }

  private txnNow(req: pb.TxnRequest, rev: number, events: pb.Event[]): pb.TxnResponse {
    const succeeded = req.compare.every((c) => this.compare(c));
    const responses: pb.ResponseOp[] = [];
    for (const op of succeeded ? req.success : req.failure) {
      switch (op.request) {
        case 'request_range':
          responses.push({ response_range: this.rangeNow(op.request_range) });
          break;
        case 'request_put':
          responses.push({ response_put: this.putNow(op.request_put, rev, events) });
          break;
        case 'request_delete_range':
          responses.push({ response_delete_range: this.deleteNow(op.request_delete_range, rev, events) });
          break;
        case 'request_txn':
          responses.push({ response_txn: this.txnNow(op.request_txn, rev, events) });
          break;
        default:
          throw etcdError('KEY_NOT_FOUND');
      }
    }
    return { header: this.header(), succeeded: succeeded ? true : undefined, responses };
  }

  private compare(c: pb.Compare): boolean {
    const keys = c.range_end.length === 0 ? [bin(c.key)] : this.keysIn(c.key, c.range_end);
    return keys.every((k) => {
      const r = this.kvs.get(k);
      let cmp: number;
      switch (c.target_union) {
        case 'value':
          if (r === undefined) return false;
          cmp = Buffer.compare(r.value, c.value);
          break;
        case 'version':
          cmp = Math.sign((r?.version ?? 0) - Number(c.version));
          break;
        case 'create_revision':
          cmp = Math.sign((r?.create ?? 0) - Number(c.create_revision));
          break;
        case 'mod_revision':
          cmp = Math.sign((r?.mod ?? 0) - Number(c.mod_revision));
          break;
        case 'lease':
          cmp = Math.sign(Number(r?.lease ?? 0) - Number(c.lease));
          break;
        default:
          return false;
      }
      return [cmp === 0, cmp > 0, cmp < 0, cmp !== 0][c.result] ?? false;
    });
  }

  async compact(req: pb.CompactionRequest): Promise<pb.CompactionResponse> {
    this.count('compact');
    const rev = Number(req.revision);
    if (rev <= this.compactRevision) throw etcdError('COMPACTED');
    if (rev > this.revision) throw etcdError('FUTURE_REV');
    this.compactRevision = rev;
    while (this.history.length > 0 && this.history[0]!.rev < rev) this.history.shift();
    return { header: this.header() };
  }

  /** Makes a write's events one revision and hands them to the watchers. */
  private commit(events: pb.Event[]): void {
    if (events.length === 0) return;
    this.revision++;
    this.history.push({ rev: this.revision, events });
    for (const s of this.streams) s.publish(this.revision, events);
  }

  // ---- Watch --------------------------------------------------------------------------

  newWatchStream(): WatchStream {
    const s = new DoubleWatchStream(this, () => this.streams.delete(s));
    this.streams.add(s);
    return s;
  }

  /** @internal The events after `fromRev` (inclusive), per revision. */
  historyFrom(fromRev: number): readonly { rev: number; events: pb.Event[] }[] {
    return this.history.filter((h) => h.rev >= fromRev);
  }

  // ---- Lease --------------------------------------------------------------------------

  async leaseGrant(req: pb.LeaseGrantRequest): Promise<pb.LeaseGrantResponse> {
    this.count('leaseGrant');
    let id = req.ID;
    if (id === '0') id = String(0x694d71ba6c3bd000n + BigInt(this.leases.size + 1));
    if (this.leases.has(id)) throw etcdError('LEASE_EXIST');
    this.leases.set(id, { ttl: Number(req.TTL), keys: new Set() });
    return { header: this.header(), ID: id, TTL: req.TTL };
  }

  async leaseRevoke(req: pb.LeaseRevokeRequest): Promise<pb.LeaseRevokeResponse> {
    this.count('leaseRevoke');
    const l = this.leases.get(req.ID);
    if (l === undefined) throw etcdError('LEASE_NOT_FOUND');
    const events: pb.Event[] = [];
    for (const k of [...l.keys].sort()) {
      this.deleteNow({ key: buf(k), range_end: Buffer.alloc(0), prev_kv: false }, this.revision + 1, events);
    }
    this.leases.delete(req.ID);
    this.commit(events);
    return { header: this.header() };
  }

  async leaseKeepAlive(req: pb.LeaseKeepAliveRequest): Promise<pb.LeaseKeepAliveResponse> {
    this.count('leaseKeepAlive');
    const l = this.leases.get(req.ID);
    if (l === undefined) throw etcdError('LEASE_NOT_FOUND');
    return { header: this.header(), ID: req.ID, TTL: l.ttl };
  }

  async leaseTimeToLive(req: pb.LeaseTimeToLiveRequest): Promise<pb.LeaseTimeToLiveResponse> {
    this.count('leaseTimeToLive');
    const l = this.leases.get(req.ID);
    if (l === undefined) throw etcdError('LEASE_NOT_FOUND');
    return { header: this.header(), ID: req.ID, TTL: l.ttl, grantedTTL: l.ttl, keys: req.keys ? [...l.keys].sort().map(buf) : undefined };
  }

  async leaseLeases(): Promise<pb.LeaseLeasesResponse> {
    return { header: this.header(), leases: [...this.leases.keys()].map((ID) => ({ ID })) };
  }

  // ---- Cluster ------------------------------------------------------------------------

  private member(): pb.Member {
    return { ID: DOUBLE_MEMBER_ID, name: 'default', peerURLs: ['http://localhost:2380'], clientURLs: ['http://localhost:2379'] };
  }

  private clusterHeader(): pb.ResponseHeader {
    return { cluster_id: DOUBLE_CLUSTER_ID, member_id: DOUBLE_MEMBER_ID, raft_term: RAFT_TERM };
  }

  async memberList(): Promise<pb.MemberListResponse> {
    this.count('memberList');
    return { header: this.clusterHeader(), members: [this.member()] };
  }

  async memberAdd(): Promise<pb.MemberAddResponse> {
    this.count('memberAdd');
    throw etcdError('NOT_CAPABLE');
  }

  async memberRemove(): Promise<pb.MemberRemoveResponse> {
    throw etcdError('MEMBER_NOT_FOUND');
  }

  async memberUpdate(): Promise<pb.MemberUpdateResponse> {
    throw etcdError('MEMBER_NOT_FOUND');
  }

  async memberPromote(): Promise<pb.MemberPromoteResponse> {
    throw etcdError('MEMBER_NOT_FOUND');
  }

  // ---- Maintenance --------------------------------------------------------------------

  async status(): Promise<pb.StatusResponse> {
    return {
      header: this.header(),
      version: '3.4.23',
      dbSize: this.snapshotBytes,
      leader: DOUBLE_MEMBER_ID,
      raftIndex: this.revision + 3,
      raftTerm: RAFT_TERM,
      raftAppliedIndex: this.revision + 3,
      dbSizeInUse: this.snapshotBytes,
    };
  }

  async hash(): Promise<pb.HashResponse> {
    return { header: { revision: this.revision }, hash: 12345 };
  }

  async hashKV(): Promise<pb.HashKVResponse> {
    return { header: { revision: this.revision }, hash: 6789, compact_revision: this.compactRevision || undefined };
  }

  async defragment(): Promise<pb.DefragmentResponse> {
    this.count('defragment');
    return { header: this.header() };
  }

  /** The alarms Alarm reports (tests set them). */
  alarms: pb.AlarmMember[] = [];

  async alarm(): Promise<pb.AlarmResponse> {
    return { header: this.header(), alarms: this.alarms };
  }

  async moveLeader(): Promise<pb.MoveLeaderResponse> {
    return { header: this.header() };
  }

  /** The fake file: deterministic bytes, in 32 KiB chunks, then their sha256 (etcd's framing). */
  async snapshot(): Promise<SnapshotStream> {
    const file = Buffer.alloc(this.snapshotBytes);
    for (let i = 0; i < file.length; i++) file[i] = (i * 31 + 7) & 0xff;
    const chunkBytes = 32 * 1024;
    return {
      sizeBytes: file.length,
      async *chunks() {
        for (let off = 0; off < file.length; off += chunkBytes) yield file.subarray(off, off + chunkBytes);
        yield createHash('sha256').update(file).digest();
      },
    };
  }
}

/** TEST DOUBLE of one watch stream: unbounded queue, held while the sink says it is full. */
class DoubleWatchStream implements WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private sink: ((resp: pb.WatchResponse) => boolean) | null = null;
  private readonly queue: pb.WatchResponse[] = [];
  private held = false;
  private closed = false;

  constructor(
    private readonly m: MemberDouble,
    private readonly onClose: () => void,
  ) {}

  create(req: pb.WatchCreateRequest): number {
    let id = Number(req.watch_id);
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      throw new FloeError('ERR_WATCHER_DUPLICATE_ID', 'mvcc: duplicate watch ID provided on the WatchStream');
    }
    const key = bin(req.key);
    const end = req.range_end.length === 0 ? null : req.range_end.length === 1 && req.range_end[0] === 0 ? '' : bin(req.range_end);
    if (end !== null && end !== '' && end <= key) throw new FloeError('ERR_EMPTY_WATCHER_RANGE', 'mvcc: watcher range is empty');
    const w: Watcher = { key, end, noPut: req.filters.includes(0), noDelete: req.filters.includes(1), prevKv: req.prev_kv };
    this.push({ header: this.m.header(), watch_id: id, created: true });
    const start = Number(req.start_revision);
    if (start > 0 && start <= this.m.compactRevision) {
      this.push({ header: this.m.header(), watch_id: id, canceled: true, compact_revision: this.m.compactRevision });
      return id;
    }
    this.watchers.set(id, w);
    if (start > 0) for (const h of this.m.historyFrom(start)) this.deliver(id, w, h.rev, h.events);
    return id;
  }

  cancel(watchId: number): boolean {
    if (!this.watchers.delete(watchId)) return false;
    this.push({ header: this.m.header(), watch_id: watchId, canceled: true });
    return true;
  }

  requestProgress(): void {
    this.push({ header: this.m.header(), watch_id: -1 });
  }

  requestWatcherProgress(watchId: number): void {
    if (this.watchers.has(watchId)) this.push({ header: this.m.header(), watch_id: watchId });
  }

  onResponse(sink: (resp: pb.WatchResponse) => boolean): void {
    this.sink = sink;
    this.flush();
  }

  resume(): void {
    this.held = false;
    this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    this.queue.length = 0;
    this.onClose();
  }

  /** Responses queued and not yet taken by the sink. */
  get heldResponses(): number {
    return this.queue.length;
  }

  publish(rev: number, events: readonly pb.Event[]): void {
    for (const [id, w] of this.watchers) this.deliver(id, w, rev, events);
  }

  private deliver(id: number, w: Watcher, rev: number, events: readonly pb.Event[]): void {
    const mine = events
      .filter((ev) => {
        const k = bin(ev.kv.key);
        const inRange = w.end === null ? k === w.key : k >= w.key && (w.end === '' || k < w.end);
        const isDelete = ev.type === 1;
        return inRange && !(isDelete ? w.noDelete : w.noPut);
      })
      .map((ev) => (w.prevKv ? ev : { ...ev, prev_kv: undefined }));
    if (mine.length > 0) this.push({ header: this.m.header(rev), watch_id: id, events: mine });
  }

  private push(resp: pb.WatchResponse): void {
    if (this.closed) return;
    this.queue.push(resp);
    this.flush();
  }

  private flush(): void {
    while (!this.held && this.sink !== null && this.queue.length > 0) {
      const resp = this.queue.shift()!;
      if (!this.sink(resp)) this.held = true;
    }
  }
}
