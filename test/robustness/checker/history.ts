/**
 * The recorded history of a run against an etcd-compatible cluster: what each client asked,
 * when, and what it was told. The traffic generator records into these types; the
 * linearizability checker and the watch validators read them.
 *
 * Keys and values are JS strings compared with `<`, which orders them by UTF-16 code unit.
 * A recorder that needs etcd's byte order for arbitrary bytes should store them as latin1
 * strings (one char per byte), where code-unit order and byte order agree.
 */

/** One stored key as etcd reports it (mvccpb.KeyValue, without the byte encoding). */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** 1 on creation, +1 on every put to the key since; a delete ends the generation. */
  readonly version: number;
  /** The attached lease id, 0 for none. */
  readonly lease: number;
}

/**
 * Read one key or a range. `rangeEnd` follows etcd: absent or '' means the single key `key`,
 * '\0' means every key >= `key`, anything else the half-open range [key, rangeEnd).
 * `revision` 0 or absent reads the current revision; otherwise a past one.
 * `limit` 0 or absent means no limit.
 */
export interface RangeRequest {
  readonly type: 'range';
  readonly key: string;
  readonly rangeEnd?: string;
  readonly revision?: number;
  readonly limit?: number;
}

/** Write `value` under `key`, attached to `leaseId` (0 or absent: no lease). */
export interface PutRequest {
  readonly type: 'put';
  readonly key: string;
  readonly value: string;
  readonly leaseId?: number;
  /** Ask for the previous kv in the response (it is then compared). */
  readonly prevKv?: boolean;
}

/** Delete one key or a range (same `rangeEnd` rules as RangeRequest). */
export interface DeleteRequest {
  readonly type: 'delete';
  readonly key: string;
  readonly rangeEnd?: string;
  /** Ask for the deleted kvs in the response (they are then compared). */
  readonly prevKv?: boolean;
}

/** What a txn compare looks at. */
export type CompareTarget = 'value' | 'version' | 'create' | 'mod' | 'lease';

/** One txn guard on a single key, with etcd's rules for a missing key (see model.ts). */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly result: '=' | '!=' | '<' | '>';
  /** A string for target 'value', a number for every other target. */
  readonly operand: string | number;
}

/** An operation inside a txn branch. Nested txns are not modelled. */
export type TxnOp = RangeRequest | PutRequest | DeleteRequest;

/**
 * A multi-op transaction: if every compare holds, `success` runs, otherwise `failure`; the ops
 * of the chosen branch run in order and all writes share one revision.
 * Compare-and-set is a txn with one compare and one put.
 */
export interface TxnRequest {
  readonly type: 'txn';
  readonly compares: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** Grant a lease with a client-chosen, non-zero id (the model cannot guess server-chosen ids). */
export interface LeaseGrantRequest {
  readonly type: 'leaseGrant';
  readonly leaseId: number;
  readonly ttlSec: number;
}

/** Revoke a lease: its keys are deleted in one revision (none if it has no keys). */
export interface LeaseRevokeRequest {
  readonly type: 'leaseRevoke';
  readonly leaseId: number;
}

/** Every request the model knows. A "get" is a RangeRequest without rangeEnd. */
export type Request = RangeRequest | PutRequest | DeleteRequest | TxnRequest | LeaseGrantRequest | LeaseRevokeRequest;

/** Result of a range: kvs in key order, `count` of all matches (before limit), `more` if cut. */
export interface RangeResult {
  readonly type: 'range';
  readonly kvs: readonly KeyValue[];
  readonly count: number;
  readonly more: boolean;
}

/** Result of a put; `prevKv` is only compared when the request asked for it. */
export interface PutResult {
  readonly type: 'put';
  readonly prevKv: KeyValue | null;
}

/** Result of a delete; `prevKvs` is only compared when the request asked for it. */
export interface DeleteResult {
  readonly type: 'delete';
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

/** Result of a txn: which branch ran and one result per op of that branch, in order. */
export interface TxnResult {
  readonly type: 'txn';
  readonly succeeded: boolean;
  readonly results: readonly (RangeResult | PutResult | DeleteResult)[];
}

/** Result of a lease grant. The granted TTL is not compared (servers may raise it). */
export interface LeaseGrantResult {
  readonly type: 'leaseGrant';
  readonly leaseId: number;
  readonly ttlSec: number;
}

/** Result of a lease revoke. */
export interface LeaseRevokeResult {
  readonly type: 'leaseRevoke';
}

/** Any successful result. */
export type OpResult = RangeResult | PutResult | DeleteResult | TxnResult | LeaseGrantResult | LeaseRevokeResult;

/**
 * What the client was told. `ok`: the header revision and the result. `error`: a definite
 * refusal that changed nothing and that the model reproduces (see MODEL_ERRORS in model.ts);
 * any other failure (timeout, lost connection, unavailable) must be recorded as unknown.
 */
export type Response =
  | { readonly type: 'ok'; readonly revision: number; readonly result: OpResult }
  | { readonly type: 'error'; readonly message: string };

/** Return time of an operation whose outcome is not known. */
export const UNKNOWN = 'unknown';

/**
 * One client call. Times are monotonic milliseconds from one clock shared by all clients.
 * An operation with `returnMs` 'unknown' (failed or timed out) may or may not have taken
 * effect, at any point after its call; its `response` is null. Every other operation has a
 * response and `callMs <= returnMs`.
 */
export interface Operation {
  readonly clientId: number;
  readonly callMs: number;
  readonly returnMs: number | typeof UNKNOWN;
  readonly request: Request;
  readonly response: Response | null;
}

/**
 * One key's change in the merged history of writes. For a put `kv` is the new kv; for a
 * delete `kv` is null. `prevKv` is the kv before the change (null if the key did not exist).
 */
export interface WriteEvent {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly kv: KeyValue | null;
  readonly prevKv: KeyValue | null;
}
