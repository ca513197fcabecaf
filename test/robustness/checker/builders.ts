/**
 * Short constructors for requests, responses and operations, so hand-written histories in
 * tests read like the scenario they describe.
 */
import type { Compare, KeyValue, OpResult, Operation, Request, Response, TxnOp } from './history';
import { UNKNOWN } from './history';

/** A kv; lease defaults to none. */
export function kv(key: string, value: string, createRevision: number, modRevision: number, version: number, lease = 0): KeyValue {
  return { key, value, createRevision, modRevision, version, lease };
}

/** Request builders. */
export const req = {
  get: (key: string, revision?: number): Request => ({ type: 'range', key, ...(revision !== undefined ? { revision } : {}) }),
  range: (key: string, rangeEnd: string, limit?: number): Request => ({ type: 'range', key, rangeEnd, ...(limit !== undefined ? { limit } : {}) }),
  put: (key: string, value: string, leaseId?: number): Request => ({ type: 'put', key, value, ...(leaseId !== undefined ? { leaseId } : {}) }),
  putPrev: (key: string, value: string): Request => ({ type: 'put', key, value, prevKv: true }),
  del: (key: string, rangeEnd?: string, prevKv?: boolean): Request => ({ type: 'delete', key, ...(rangeEnd !== undefined ? { rangeEnd } : {}), ...(prevKv ? { prevKv } : {}) }),
  txn: (compares: Compare[], success: TxnOp[], failure: TxnOp[] = []): Request => ({ type: 'txn', compares, success, failure }),
  /** Compare-and-set: put `value` if `key`'s mod revision is `modRevision`. */
  cas: (key: string, modRevision: number, value: string): Request => ({
    type: 'txn',
    compares: [{ key, target: 'mod', result: '=', operand: modRevision }],
    success: [{ type: 'put', key, value }],
    failure: [],
  }),
  grant: (leaseId: number, ttlSec = 60): Request => ({ type: 'leaseGrant', leaseId, ttlSec }),
  revoke: (leaseId: number): Request => ({ type: 'leaseRevoke', leaseId }),
};

/** Response builders; `revision` is the header revision. */
export const res = {
  range: (revision: number, kvs: KeyValue[], count = kvs.length, more = false): Response => ({ type: 'ok', revision, result: { type: 'range', kvs, count, more } }),
  put: (revision: number, prevKv: KeyValue | null = null): Response => ({ type: 'ok', revision, result: { type: 'put', prevKv } }),
  del: (revision: number, deleted: number, prevKvs: KeyValue[] = []): Response => ({ type: 'ok', revision, result: { type: 'delete', deleted, prevKvs } }),
  txn: (revision: number, succeeded: boolean, results: OpResult[] = []): Response => ({
    type: 'ok',
    revision,
    result: { type: 'txn', succeeded, results: results as Extract<OpResult, { type: 'range' | 'put' | 'delete' }>[] },
  }),
  grant: (revision: number, leaseId: number, ttlSec = 60): Response => ({ type: 'ok', revision, result: { type: 'leaseGrant', leaseId, ttlSec } }),
  revoke: (revision: number): Response => ({ type: 'ok', revision, result: { type: 'leaseRevoke' } }),
  error: (message: string): Response => ({ type: 'error', message }),
};

/** An operation of `clientId` called at `callMs` that returned `response` at `returnMs`. */
export function op(clientId: number, callMs: number, returnMs: number, request: Request, response: Response): Operation {
  return { clientId, callMs, returnMs, request, response };
}

/** An operation whose outcome is unknown (failed or timed out). */
export function lost(clientId: number, callMs: number, request: Request): Operation {
  return { clientId, callMs, returnMs: UNKNOWN, request, response: null };
}
