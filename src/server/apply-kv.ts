/**
 * KV requests against MVCC views, with etcd 3.4's applier semantics (etcdserver/apply.go):
 * range with sorting and revision filters, put, delete-range, txn with compares, branches and
 * nested txns. Responses are built without their header (the member adds it).
 *
 * Ordering: a txn's ops are checked first (leases exist; ignore_value/ignore_lease keys exist)
 * over the chosen branch, nested txns included, before anything changes, so a refused txn
 * changes nothing, as etcd's checkRequests does.
 */
import { FloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import type { ReadView, TxnWrite, KvRangeResult as MvccRangeResult } from '../mvcc/kv-txn';
import type { KeyValue } from '../mvcc/kv-codec';
import type { RangeEnd } from '../mvcc/tree-index';

type Header = pb.ResponseHeader;

/** etcd's mkGteRange: an empty range_end names the single key. */
export function rangeEnd(end: Buffer): RangeEnd {
  return end.length === 0 ? null : end;
}

/** int64 decimal string to number; values beyond 2^53 saturate (revisions never get there). */
export function int64(s: string | number): number {
  const n = typeof s === 'number' ? s : Number(s);
  return Number.isFinite(n) ? n : 0;
}

/** A 64-bit value for the encoder: a number when safe, else the exact decimal string. */
export function wireInt(v: bigint | number): pb.Int64Like | undefined {
  if (typeof v === 'number') return v === 0 ? undefined : v;
  if (v === 0n) return undefined;
  return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString();
}

/** An MVCC pair as etcd's mvccpb.KeyValue (zero fields left out). */
export function toPbKv(kv: KeyValue): pb.KeyValue {
  const out: pb.KeyValue = { key: kv.key };
  if (kv.createRevision !== 0) out.create_revision = kv.createRevision;
  if (kv.modRevision !== 0) out.mod_revision = kv.modRevision;
  if (kv.version !== 0) out.version = kv.version;
  if (kv.value.length !== 0) out.value = kv.value;
  const lease = wireInt(kv.lease);
  if (lease !== undefined) out.lease = lease;
  return out;
}

/** What the apply step needs from the lessor to check puts. */
export interface LeaseLookup {
  exists(id: bigint): boolean;
}

function leaseNotFound(): FloeError {
  return new FloeError('ERR_LEASE_NOT_FOUND', 'etcdserver: requested lease not found');
}

function keyNotFound(): FloeError {
  return new FloeError('ERR_KEY_NOT_FOUND', 'etcdserver: key not found');
}

/** The parts of a RangeRequest that shape the result after the store's read. */
export interface RangeShape {
  /** The request's limit (0: none). */
  readonly reqLimit: number;
  readonly minMod: number;
  readonly maxMod: number;
  readonly minCreate: number;
  readonly maxCreate: number;
  /** Sorting or a revision filter needs every pair of the range before the limit applies. */
  readonly needAll: boolean;
  /** The sort comparison (the request's order applied), or null for key order. */
  readonly compare: ((a: KeyValue, b: KeyValue) => number) | null;
}

/** etcd's applier Range settings for `r` (see applyRange). */
export function rangeShape(r: pb.RangeRequest): RangeShape {
  const minMod = int64(r.min_mod_revision);
  const maxMod = int64(r.max_mod_revision);
  const minCreate = int64(r.min_create_revision);
  const maxCreate = int64(r.max_create_revision);
  let order: number = r.sort_order;
  // etcd 3.4: a sort target other than the key with no order sorts ascending.
  if (r.sort_target !== 0 && order === 0) order = 1;
  let compare: RangeShape['compare'] = null;
  if (order !== 0) {
    const key = sortKey(r.sort_target);
    compare = order === 2 ? (a, b) => -key(a, b) : key;
  }
  return {
    reqLimit: int64(r.limit),
    minMod,
    maxMod,
    minCreate,
    maxCreate,
    needAll: r.sort_order !== 0 || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0,
    compare,
  };
}

/** True when `kv` passes the request's revision filters. */
export function passesFilters(s: RangeShape, kv: KeyValue): boolean {
  if (s.maxMod !== 0 && kv.modRevision > s.maxMod) return false;
  if (s.minMod !== 0 && kv.modRevision < s.minMod) return false;
  if (s.maxCreate !== 0 && kv.createRevision > s.maxCreate) return false;
  if (s.minCreate !== 0 && kv.createRevision < s.minCreate) return false;
  return true;
}

/** etcd's applier Range: filters and sort need every pair, then the limit is applied. */
export function applyRange(view: ReadView, r: pb.RangeRequest): pb.RangeResponse {
  const shape = rangeShape(r);
  const reqLimit = shape.reqLimit;
  let limit = shape.needAll ? 0 : reqLimit;
  if (limit > 0) limit += 1; // one more than asked for tells whether there are more
  const rr: MvccRangeResult = view.range(r.key, rangeEnd(r.range_end), {
    limit,
    revision: int64(r.revision),
    countOnly: r.count_only,
    keysOnly: r.keys_only,
  });
  let kvs = rr.kvs;
  if (shape.needAll) kvs = kvs.filter((kv) => passesFilters(shape, kv));
  const compare = shape.compare;
  // Stable sort: ties keep key order (etcd's sort is not stable; any order of ties is valid).
  if (compare !== null) kvs = [...kvs].sort(compare);
  let more = false;
  if (reqLimit > 0 && kvs.length > reqLimit) {
    kvs = kvs.slice(0, reqLimit);
    more = true;
  }
  const resp: pb.RangeResponse = { header: {} };
  if (kvs.length > 0) resp.kvs = kvs.map(toPbKv);
  if (more) resp.more = true;
  if (rr.count !== 0) resp.count = rr.count;
  return resp;
}

function sortKey(target: number): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case 1:
      return (a, b) => a.version - b.version;
    case 2:
      return (a, b) => a.createRevision - b.createRevision;
    case 3:
      return (a, b) => a.modRevision - b.modRevision;
    case 4:
      return (a, b) => Buffer.compare(a.value, b.value);
    default:
      return (a, b) => Buffer.compare(a.key, b.key);
  }
}

/** Puts and returns the response (header revision set by the caller from the store). */
export function applyPut(txn: TxnWrite, r: pb.PutRequest): pb.PutResponse {
  const res = txn.put(r.key, r.value, {
    lease: BigInt(r.lease),
    prevKv: r.prev_kv,
    ignoreValue: r.ignore_value,
    ignoreLease: r.ignore_lease,
  });
  const resp: pb.PutResponse = { header: {} };
  if (res.prevKv !== null) resp.prev_kv = toPbKv(res.prevKv);
  return resp;
}

export function applyDeleteRange(txn: TxnWrite, r: pb.DeleteRangeRequest): pb.DeleteRangeResponse {
  const res = txn.deleteRange(r.key, rangeEnd(r.range_end), { prevKv: r.prev_kv });
  const resp: pb.DeleteRangeResponse = { header: {} };
  if (res.deleted !== 0) resp.deleted = res.deleted;
  if (r.prev_kv && res.prevKvs.length > 0) resp.prev_kvs = res.prevKvs.map(toPbKv);
  return resp;
}

/** etcd's applyCompare: every key of the range must satisfy it; a value compare on no key fails. */
export function applyCompare(view: ReadView, c: pb.Compare): boolean {
  const rr = view.range(c.key, rangeEnd(c.range_end), {});
  if (rr.kvs.length === 0) {
    if (c.target === 3) return false;
    return compareKv(c, null);
  }
  return rr.kvs.every((kv) => compareKv(c, kv));
}

function compareKv(c: pb.Compare, kv: KeyValue | null): boolean {
  let res: number;
  const u = c as unknown as Record<string, unknown>;
  switch (c.target) {
    case 3: {
      const want = (u['value'] as Buffer | undefined) ?? Buffer.alloc(0);
      res = Buffer.compare(kv?.value ?? Buffer.alloc(0), want);
      break;
    }
    case 0:
      res = cmpBig(BigInt(kv?.version ?? 0), BigInt((u['version'] as string | undefined) ?? '0'));
      break;
    case 1:
      res = cmpBig(BigInt(kv?.createRevision ?? 0), BigInt((u['create_revision'] as string | undefined) ?? '0'));
      break;
    case 2:
      res = cmpBig(BigInt(kv?.modRevision ?? 0), BigInt((u['mod_revision'] as string | undefined) ?? '0'));
      break;
    case 4:
      res = cmpBig(kv?.lease ?? 0n, BigInt((u['lease'] as string | undefined) ?? '0'));
      break;
    default:
      return false;
  }
  switch (c.result) {
    case 0:
      return res === 0;
    case 1:
      return res > 0;
    case 2:
      return res < 0;
    case 3:
      return res !== 0;
    default:
      return false;
  }
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * etcd's compareToPath: the branch of the txn and of every nested txn on the chosen branches,
 * in depth-first order, all decided against `view` before any op runs.
 */
function txnPath(view: ReadView, r: pb.TxnRequest, out: boolean[] = []): boolean[] {
  const succeeded = r.compare.every((c) => applyCompare(view, c));
  out.push(succeeded);
  for (const op of succeeded ? r.success : r.failure) {
    if (op.request === 'request_txn') txnPath(view, op.request_txn, out);
  }
  return out;
}

/** etcd's checkRequests over the chosen branch (recursively): leases exist, keys exist for ignore_*. */
function checkOps(view: ReadView, r: pb.TxnRequest, leases: LeaseLookup, path: boolean[], at: { i: number }): void {
  const ops = path[at.i++] === true ? r.success : r.failure;
  for (const op of ops) {
    if (op.request === 'request_put') {
      const p = op.request_put;
      const lease = BigInt(p.lease);
      if (lease !== 0n && !leases.exists(lease)) throw leaseNotFound();
      if (p.ignore_value || p.ignore_lease) {
        if (view.range(p.key, null, {}).kvs.length === 0) throw keyNotFound();
      }
    } else if (op.request === 'request_txn') {
      checkOps(view, op.request_txn, leases, path, at);
    } else if (op.request === 'request_range') {
      // etcd checks the range's revision up front too (compacted / future).
      const rev = int64(op.request_range.revision);
      if (rev > view.revision) throw new FloeError('ERR_FUTURE_REV', 'etcdserver: mvcc: required revision is a future revision');
      if (rev > 0 && rev < view.compactRevision) throw new FloeError('ERR_COMPACTED', 'etcdserver: mvcc: required revision has been compacted');
    }
  }
}

/** A read-only txn (no puts or deletes anywhere): evaluated against a read view. */
export function applyTxnRead(view: ReadView, r: pb.TxnRequest): pb.TxnResponse {
  return runTxn(view, null, r, txnPath(view, r), { i: 0 });
}

/** A txn that may write: checks first, then runs the branch in `txn`. */
export function applyTxnWrite(txn: TxnWrite, r: pb.TxnRequest, leases: LeaseLookup): pb.TxnResponse {
  const path = txnPath(txn, r);
  checkOps(txn, r, leases, path, { i: 0 });
  return runTxn(txn, txn, r, path, { i: 0 });
}

function runTxn(view: ReadView, txn: TxnWrite | null, r: pb.TxnRequest, path: boolean[], at: { i: number }): pb.TxnResponse {
  const succeeded = path[at.i++] === true;
  const ops = succeeded ? r.success : r.failure;
  const responses: pb.ResponseOp[] = [];
  for (const op of ops) {
    switch (op.request) {
      case 'request_range': {
        const rr = applyRange(view, op.request_range);
        // etcd: a range sees the revision the txn has reached when it runs (the begin
        // revision, or the next one once an earlier op in the txn changed something).
        rr.header = { revision: view.revision };
        responses.push({ response_range: rr });
        break;
      }
      case 'request_put':
        responses.push({ response_put: applyPut(mustWrite(txn), op.request_put) });
        break;
      case 'request_delete_range':
        responses.push({ response_delete_range: applyDeleteRange(mustWrite(txn), op.request_delete_range) });
        break;
      case 'request_txn':
        responses.push({ response_txn: runTxn(view, txn, op.request_txn, path, at) });
        break;
      default:
        break;
    }
  }
  const resp: pb.TxnResponse = { header: {}, responses };
  if (succeeded) resp.succeeded = true;
  return resp;
}

function mustWrite(txn: TxnWrite | null): TxnWrite {
  if (txn === null) throw new FloeError('ERR_INTERNAL', 'txn: a write op in a read-only txn');
  return txn;
}

/** etcd's isTxnReadonly: no put or delete anywhere, nested txns included. */
export function isTxnReadonly(r: pb.TxnRequest): boolean {
  for (const ops of [r.success, r.failure]) {
    for (const op of ops) {
      if (op.request === 'request_put' || op.request === 'request_delete_range') return false;
      if (op.request === 'request_txn' && !isTxnReadonly(op.request_txn)) return false;
    }
  }
  return true;
}

/**
 * Sets `header` on a txn response and `inner` (revision only, as etcd) on every nested put,
 * delete and txn. Ranges keep the revision runTxn gave them when they ran.
 */
export function fillTxnHeaders(resp: pb.TxnResponse, header: Header, inner: Header): void {
  resp.header = header;
  for (const op of resp.responses ?? []) {
    if ('response_put' in op) op.response_put.header = inner;
    else if ('response_delete_range' in op) op.response_delete_range.header = inner;
    else if ('response_txn' in op) fillTxnHeaders(op.response_txn, inner, inner);
  }
}
