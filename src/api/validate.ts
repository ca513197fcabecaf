/**
 * The checks etcd's v3rpc layer makes before a request reaches the server (etcd 3.4
 * `etcdserver/api/v3rpc/key.go`, `member.go`), with the same outcome and the same error for
 * each bad request. Each check throws a FloeError from the one error table; the services
 * turn it into etcd's gRPC status with `toServiceError`.
 *
 * Order matters where a request breaks several rules, because only the first error is sent:
 * the order below is etcd's.
 */
import { assert, varintSize } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { etcdError } from './errors';

/** etcd's checkRangeRequest: a range needs a key. */
export function checkRangeRequest(r: pb.RangeRequest): void {
  if (r.key.length === 0) throw etcdError('EMPTY_KEY');
}

/** etcd's checkPutRequest: a key; no value with ignore_value; no lease with ignore_lease. */
export function checkPutRequest(r: pb.PutRequest): void {
  if (r.key.length === 0) throw etcdError('EMPTY_KEY');
  if (r.ignore_value && r.value.length !== 0) throw etcdError('VALUE_PROVIDED');
  if (r.ignore_lease && r.lease !== '0') throw etcdError('LEASE_PROVIDED');
}

/** etcd's checkDeleteRequest: a delete needs a key. */
export function checkDeleteRequest(r: pb.DeleteRangeRequest): void {
  if (r.key.length === 0) throw etcdError('EMPTY_KEY');
}

/**
 * etcd's checkTxnRequest: the largest of compare, success and failure counts is at most
 * `maxTxnOps`; every compare has a key; every op is valid. A nested txn is checked against
 * what is left of the budget after its parent's own count (etcd passes `maxTxnOps - opc`).
 */
export function checkTxnRequest(r: pb.TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) throw etcdError('TOO_MANY_OPS');
  for (const c of r.compare) {
    if (c.key.length === 0) throw etcdError('EMPTY_KEY');
  }
  for (const op of r.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of r.failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: pb.RequestOp, maxTxnOps: number): void {
  switch (op.request) {
    case 'request_range':
      return checkRangeRequest(op.request_range);
    case 'request_put':
      return checkPutRequest(op.request_put);
    case 'request_delete_range':
      return checkDeleteRequest(op.request_delete_range);
    case 'request_txn':
      return checkTxnRequest(op.request_txn, maxTxnOps);
    default:
      // An op with no member set: etcd answers "key not found" for it.
      throw etcdError('KEY_NOT_FOUND');
  }
}

/** A key as a binary string: JS string order on latin1 text is byte order. */
const bin = (b: Buffer): string => b.toString('latin1');

/**
 * A delete's key interval [begin, end). etcd builds it as an "affine" string interval in which
 * the empty end means +infinity; here end is null for that case.
 */
interface Interval {
  readonly begin: string;
  readonly end: string | null;
}

function deleteInterval(d: pb.DeleteRangeRequest): Interval {
  const begin = bin(d.key);
  // No range end: the single key, i.e. [key, key + "\0").
  return d.range_end.length === 0 ? { begin, end: begin + '\0' } : { begin, end: bin(d.range_end) };
}

/**
 * Whether `key` lies in one of `dels`. etcd asks its interval tree whether the point
 * [key, key+"\0") overlaps an interval; for the intervals a txn can hold that is exactly
 * begin <= key < end. Consequence kept on purpose: a from-key delete (range_end "\0") is the
 * interval [key, "\0"), which no non-empty key falls in, so etcd 3.4 never reports a put as
 * overlapping it, and neither do we.
 */
function intersects(dels: readonly Interval[], key: string): boolean {
  for (const d of dels) {
    if (d.begin <= key && (d.end === null || key < d.end)) return true;
  }
  return false;
}

/**
 * etcd's checkIntervals: within one branch of a txn, including txns nested in it, no key may
 * be put twice and no put may fall in a deleted range. The two branches of a nested txn
 * exclude each other, so a key put in both its then and its else branch is fine. Returns the
 * keys put and the deleted intervals, for the level above.
 *
 * Cost: each put is tested against every delete interval of its level, O(puts x deletes); both
 * are bounded by the txn op limit, which checkTxnRequest enforces first.
 */
export function checkIntervals(reqs: readonly pb.RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  // This level's deletes first, so that puts found below can be checked against them.
  const dels: Interval[] = [];
  for (const op of reqs) {
    if (op.request === 'request_delete_range') dels.push(deleteInterval(op.request_delete_range));
  }

  const puts = new Set<string>();
  for (const op of reqs) {
    if (op.request !== 'request_txn') continue;
    const then = checkIntervals(op.request_txn.success);
    const otherwise = checkIntervals(op.request_txn.failure);
    for (const k of then.puts) {
      if (puts.has(k) || intersects(dels, k)) throw etcdError('DUPLICATE_KEY');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // A key from the then branch may repeat here: only one of the two branches runs.
      if (puts.has(k) && !then.puts.has(k)) throw etcdError('DUPLICATE_KEY');
      if (intersects(dels, k)) throw etcdError('DUPLICATE_KEY');
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }

  for (const op of reqs) {
    if (op.request !== 'request_put') continue;
    const k = bin(op.request_put.key);
    if (puts.has(k) || intersects(dels, k)) throw etcdError('DUPLICATE_KEY');
    puts.add(k);
  }
  return { puts, dels };
}

/** etcd's isTxnReadonly: every op of both branches is a range (so it never goes through raft). */
export function isTxnReadonly(r: pb.TxnRequest): boolean {
  return r.success.every((op) => op.request === 'request_range') && r.failure.every((op) => op.request === 'request_range');
}

// ---- request size -------------------------------------------------------------------------

/**
 * Bytes the raft entry adds around a request: etcd wraps each write in an InternalRaftRequest
 * (a RequestHeader in field 100 carrying a 64-bit request id, and the request in a field
 * below 16) and refuses the write when that encoding exceeds --max-request-bytes. The header
 * takes 2 (tag) + 1 (length) + 1 (id tag) + up to 10 (id varint) bytes; we count the id at its
 * longest, so a request etcd accepts by a byte may be refused here, never the reverse.
 */
export const RAFT_HEADER_OVERHEAD_BYTES = 14;


/** Size of the raft entry etcd would build for a write whose request encodes to `wireBytes`. */
export function raftEntrySizeBytes(wireBytes: number): number {
  assert(Number.isSafeInteger(wireBytes) && wireBytes >= 0, `raftEntrySizeBytes(${wireBytes})`);
  return RAFT_HEADER_OVERHEAD_BYTES + 1 + varintSize(wireBytes) + wireBytes;
}

/** etcd's ErrRequestTooLarge check, made where its raft entry would be built. */
export function checkRequestSize(wireBytes: number, maxRequestBytes: number): void {
  if (raftEntrySizeBytes(wireBytes) > maxRequestBytes) throw etcdError('REQUEST_TOO_LARGE');
}

// ---- member URLs --------------------------------------------------------------------------

/**
 * etcd's types.NewURLs as MemberAdd applies it: at least one URL; each (trimmed) with scheme
 * http, https, unix or unixs, a "host:port" authority and no path. Returns the reason a URL is
 * bad, or null when all are good.
 */
export function badUrlReason(urls: readonly string[]): string | null {
  if (urls.length === 0) return 'no valid URLs given';
  for (const raw of urls) {
    const s = raw.trim();
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(s);
    const scheme = m?.[1]?.toLowerCase() ?? '';
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) return `URL scheme must be http, https, unix, or unixs: ${s}`;
    const rest = m![2]!;
    const authority = rest.startsWith('//') ? /^\/\/([^/?#]*)/.exec(rest)![1]! : '';
    const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
    if (!isHostPort(hostPort)) return `URL address does not have the form "host:port": ${s}`;
    const path = rest.startsWith('//') ? rest.slice(2 + authority.length).replace(/[?#].*$/s, '') : rest;
    if (path !== '') return `URL must not contain a path: ${s}`;
  }
  return null;
}

/** Go's net.SplitHostPort succeeds: "host:port" or "[ipv6]:port" (the port may be empty). */
export function isHostPort(s: string): boolean {
  if (s.startsWith('[')) return /^\[[^\][]*\]:[^:[\]]*$/.test(s);
  const colon = s.lastIndexOf(':');
  return colon >= 0 && s.indexOf(':') === colon && !/[[\]]/.test(s);
}
