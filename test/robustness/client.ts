/**
 * The wire side of the robustness traffic: etcd3 (npm) clients without retries, conversion of
 * the checker's requests to gRPC calls and of the answers back to the checker's results, and
 * the recorder that stamps every call with call and return times on one shared clock.
 *
 * Keys and values travel as latin1 strings (one char per byte), so the checker's string order
 * is etcd's byte order.
 */
import type { Etcd3, ICompare, IKeyValue, IRangeResponse, IRequestOp, IResponseOp } from 'etcd3';
import { MODEL_ERRORS, UNKNOWN, type KeyValue, type Operation, type OpResult, type RangeRequest, type RangeResult, type Request, type Response, type TxnOp } from './checker';
import { singleEndpointClient } from '../cluster/load';

/** A client of one endpoint whose unary calls end within `callTimeoutMs` (no retries). */
export function endpointClient(endpoint: string, callTimeoutMs: number): Etcd3 {
  return singleEndpointClient(endpoint, callTimeoutMs);
}

/** latin1 string -> bytes. */
export function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A kv from the wire in the checker's form (64-bit fields fit: revisions and our lease ids are small). */
export function kvFromWire(kv: IKeyValue | null | undefined): KeyValue | null {
  if (kv === null || kv === undefined) return null;
  return {
    key: Buffer.from(kv.key ?? []).toString('latin1'),
    value: Buffer.from(kv.value ?? []).toString('latin1'),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    lease: Number(kv.lease ?? 0),
  };
}

const TARGETS = { value: 'Value', version: 'Version', create: 'Create', mod: 'Mod', lease: 'Lease' } as const;
const RESULTS = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

function rangeToWire(r: RangeRequest, serializable: boolean): Record<string, unknown> {
  return {
    key: bytes(r.key),
    ...(r.rangeEnd === undefined || r.rangeEnd === '' ? {} : { range_end: bytes(r.rangeEnd) }),
    ...(r.limit === undefined ? {} : { limit: r.limit }),
    ...(r.revision === undefined ? {} : { revision: r.revision }),
    ...(serializable ? { serializable: true } : {}),
  };
}

function opToWire(op: TxnOp): IRequestOp {
  switch (op.type) {
    case 'range':
      return { request_range: rangeToWire(op, false) };
    case 'put':
      return { request_put: { key: bytes(op.key), value: bytes(op.value), lease: op.leaseId ?? 0, prev_kv: op.prevKv === true } };
    case 'delete':
      return { request_delete_range: { key: bytes(op.key), ...(op.rangeEnd === undefined ? {} : { range_end: bytes(op.rangeEnd) }), prev_kv: op.prevKv === true } };
  }
}

function rangeResult(r: IRangeResponse): RangeResult {
  return { type: 'range', kvs: (r.kvs ?? []).map((kv) => kvFromWire(kv) as KeyValue), count: Number(r.count ?? 0), more: r.more === true };
}

function opResult(op: TxnOp, r: IResponseOp): OpResult {
  switch (op.type) {
    case 'range':
      return rangeResult(r.response_range);
    case 'put':
      return { type: 'put', prevKv: kvFromWire(r.response_put?.prev_kv) };
    case 'delete':
      return { type: 'delete', deleted: Number(r.response_delete_range?.deleted ?? 0), prevKvs: (r.response_delete_range?.prev_kvs ?? []).map((kv) => kvFromWire(kv) as KeyValue) };
  }
}

/**
 * Sends one request and returns the ok response; throws what the client threw otherwise.
 * `serializable` only applies to a plain range.
 */
export async function send(client: Etcd3, request: Request, serializable = false): Promise<Response & { type: 'ok' }> {
  switch (request.type) {
    case 'range': {
      const r = await client.kv.range(rangeToWire(request, serializable));
      return { type: 'ok', revision: Number(r.header.revision), result: rangeResult(r) };
    }
    case 'put': {
      const r = await client.kv.put({ key: bytes(request.key), value: bytes(request.value), lease: request.leaseId ?? 0, prev_kv: request.prevKv === true });
      return { type: 'ok', revision: Number(r.header.revision), result: { type: 'put', prevKv: kvFromWire(r.prev_kv) } };
    }
    case 'delete': {
      const w = opToWire(request).request_delete_range!;
      const r = await client.kv.deleteRange(w);
      return { type: 'ok', revision: Number(r.header.revision), result: { type: 'delete', deleted: Number(r.deleted ?? 0), prevKvs: (r.prev_kvs ?? []).map((kv) => kvFromWire(kv) as KeyValue) } };
    }
    case 'txn': {
      const compare: ICompare[] = request.compares.map((c) => ({
        key: bytes(c.key),
        target: TARGETS[c.target],
        result: RESULTS[c.result],
        ...(c.target === 'value' ? { value: bytes(String(c.operand)) } : {}),
        ...(c.target === 'version' ? { version: Number(c.operand) } : {}),
        ...(c.target === 'create' ? { create_revision: Number(c.operand) } : {}),
        ...(c.target === 'mod' ? { mod_revision: Number(c.operand) } : {}),
        ...(c.target === 'lease' ? { lease: Number(c.operand) } : {}),
      }));
      const r = await client.kv.txn({ compare, success: request.success.map(opToWire), failure: request.failure.map(opToWire) });
      const branch = r.succeeded ? request.success : request.failure;
      const results = branch.map((op, i) => opResult(op, (r.responses ?? [])[i] as IResponseOp)) as Extract<OpResult, { type: 'range' | 'put' | 'delete' }>[];
      return { type: 'ok', revision: Number(r.header.revision), result: { type: 'txn', succeeded: r.succeeded === true, results } };
    }
    case 'leaseGrant': {
      const r = await client.leaseClient.leaseGrant({ ID: request.leaseId, TTL: request.ttlSec });
      return { type: 'ok', revision: Number(r.header.revision), result: { type: 'leaseGrant', leaseId: Number(r.ID), ttlSec: Number(r.TTL) } };
    }
    case 'leaseRevoke': {
      const r = await client.leaseClient.leaseRevoke({ ID: request.leaseId });
      return { type: 'ok', revision: Number(r.header.revision), result: { type: 'leaseRevoke' } };
    }
  }
}

/** The model's definite error a client error carries, or undefined (outcome unknown). */
export function definiteError(e: unknown): string | undefined {
  const text = e instanceof Error ? `${e.message} ${(e as { details?: string }).details ?? ''}` : String(e);
  return Object.values(MODEL_ERRORS).find((m) => text.includes(m));
}

/** A serializable read: checked against the linearized writes at its own header revision. */
export interface SerializableRead {
  readonly clientId: number;
  readonly endpoint: string;
  readonly request: RangeRequest;
  readonly revision: number;
  readonly result: RangeResult;
}

/**
 * The shared clock and the history of one run. Times are milliseconds since the recorder was
 * made (performance.now, monotonic).
 */
export class Recorder {
  readonly operations: Operation[] = [];
  readonly serializableReads: SerializableRead[] = [];
  /** Calls that failed with an unknown outcome, by short error text (for the report). */
  readonly errors = new Map<string, number>();
  private readonly t0 = performance.now();

  now(): number {
    return performance.now() - this.t0;
  }

  /**
   * Sends `request` and records it: an ok answer or a definite model error with its return
   * time, anything else as an unknown outcome. Returns the ok response or undefined.
   */
  async call(clientId: number, client: Etcd3, request: Request): Promise<(Response & { type: 'ok' }) | undefined> {
    const callMs = this.now();
    try {
      const response = await send(client, request);
      this.operations.push({ clientId, callMs, returnMs: Math.max(callMs, this.now()), request, response });
      return response;
    } catch (e) {
      const returnMs = Math.max(callMs, this.now());
      const definite = definiteError(e);
      if (definite !== undefined) this.operations.push({ clientId, callMs, returnMs, request, response: { type: 'error', message: definite } });
      else {
        this.operations.push({ clientId, callMs, returnMs: UNKNOWN, request, response: null });
        this.countError(e);
      }
      return undefined;
    }
  }

  /** A serializable range: recorded beside the history, not in it (it may be stale). */
  async serializableRead(clientId: number, client: Etcd3, endpoint: string, request: RangeRequest): Promise<void> {
    try {
      const r = await send(client, request, true);
      this.serializableReads.push({ clientId, endpoint, request, revision: r.revision, result: r.result as RangeResult });
    } catch (e) {
      this.countError(e);
    }
  }

  /** Records an operation whose outcome is unknown from `callMs` on (a lease that may expire). */
  recordUnknown(clientId: number, callMs: number, request: Request): void {
    this.operations.push({ clientId, callMs, returnMs: UNKNOWN, request, response: null });
  }

  /** Failed calls so far (unknown outcomes and failed serializable reads). */
  failures = 0;

  countError(e: unknown): void {
    this.failures++;
    const text = (e instanceof Error ? e.message : String(e)).replace(/\d+/g, 'N').slice(0, 80);
    this.errors.set(text, (this.errors.get(text) ?? 0) + 1);
  }
}
