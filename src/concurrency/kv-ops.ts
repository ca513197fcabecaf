/**
 * The KV requests the lock and election recipes are built from, in the member's message
 * shapes (every scalar present, int64 as decimal strings), and small readers of their answers.
 */
import { CompareResult, CompareTarget, SortOrder, SortTarget } from '../etcdpb/messages';
import type * as pb from '../etcdpb/messages';
import { assert } from '../pkg';

/** The end of the range holding every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: no upper bound; "\0" means every key from `prefix` on.
  return Buffer.from([0]);
}

/** A range request with every field at its default, then `more`. */
export function rangeOf(key: Buffer, more: Partial<pb.RangeRequest> = {}): pb.RangeRequest {
  return {
    key,
    range_end: Buffer.alloc(0),
    limit: '0',
    revision: '0',
    sort_order: SortOrder.NONE,
    sort_target: SortTarget.KEY,
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: '0',
    max_mod_revision: '0',
    min_create_revision: '0',
    max_create_revision: '0',
    ...more,
  };
}

/** The key under `prefix` created first (clientv3's WithFirstCreate). */
export function firstCreated(prefix: Buffer): pb.RangeRequest {
  return rangeOf(prefix, { range_end: prefixEnd(prefix), limit: '1', sort_target: SortTarget.CREATE, sort_order: SortOrder.ASCEND });
}

/** The key under `prefix` created last at or below `maxCreateRev` (WithLastCreate + WithMaxCreateRev). */
export function lastCreatedUpTo(prefix: Buffer, maxCreateRev: bigint): pb.RangeRequest {
  return rangeOf(prefix, {
    range_end: prefixEnd(prefix),
    limit: '1',
    sort_target: SortTarget.CREATE,
    sort_order: SortOrder.DESCEND,
    max_create_revision: maxCreateRev.toString(),
  });
}

export function putOf(key: Buffer, value: Buffer, lease: bigint): pb.PutRequest {
  return { key, value, lease: lease.toString(), prev_kv: false, ignore_value: false, ignore_lease: false };
}

export function deleteOf(key: Buffer): pb.DeleteRangeRequest {
  return { key, range_end: Buffer.alloc(0), prev_kv: false };
}

/** Guard: `key`'s create revision equals `rev` (0: the key does not exist). */
export function createRevIs(key: Buffer, rev: bigint): pb.Compare {
  return {
    result: CompareResult.EQUAL,
    target: CompareTarget.CREATE,
    key,
    range_end: Buffer.alloc(0),
    target_union: 'create_revision',
    create_revision: rev.toString(),
  };
}

export const opRange = (r: pb.RangeRequest): pb.RequestOp => ({ request: 'request_range', request_range: r });
export const opPut = (r: pb.PutRequest): pb.RequestOp => ({ request: 'request_put', request_put: r });
export const opDelete = (r: pb.DeleteRangeRequest): pb.RequestOp => ({ request: 'request_delete_range', request_delete_range: r });

/** The kvs of a txn's `i`th response, which must be a range. */
export function rangeKvs(resp: pb.TxnResponse, i: number): pb.KeyValue[] {
  const op = resp.responses?.[i];
  assert(op !== undefined && 'response_range' in op, `txn response ${i} is not a range`);
  return op.response_range.kvs ?? [];
}

/** An int64 field of a response (number or decimal string; absent is 0). */
export function int64(v: pb.Int64Like | undefined): bigint {
  return v === undefined ? 0n : BigInt(v);
}

/** `prefix` followed by the lease id in lowercase hex: the key one session holds (etcd's "%s%x"). */
export function sessionKey(prefix: Buffer, lease: bigint): Buffer {
  return Buffer.concat([prefix, Buffer.from(lease.toString(16), 'latin1')]);
}
