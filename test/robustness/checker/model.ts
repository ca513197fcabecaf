/**
 * A sequential model of etcd's key space: keys with values, versions, create and mod
 * revisions, the global revision, and leases. States are immutable, so the search can keep
 * the state before each linearized operation and go back to it for free.
 *
 * Rules the model follows (facts of etcd 3.4's apply path):
 * - Every request that changes at least one key bumps the revision by exactly one; a txn's
 *   writes all share that one revision. A delete that matches nothing, a txn that changes
 *   nothing and a revoke of a lease without keys leave the revision alone.
 * - Every response's header revision is the revision after the request (for reads: the
 *   current one, also when reading a past revision).
 * - Reads inside a txn see the txn's own earlier writes.
 * - A compare on a missing key sees version, create, mod and lease as 0, and a 'value'
 *   compare on a missing key is false whatever the operator.
 * - A put naming an unknown lease, or a txn whose chosen branch does, fails as a whole.
 * Leases never expire in the model; a lease that may have expired must be recorded by the
 * traffic generator as a revoke with an unknown outcome.
 */
import { assert, unreachable } from '../../../src/pkg';
import type {
  Compare,
  DeleteRequest,
  DeleteResult,
  KeyValue,
  OpResult,
  Operation,
  PutRequest,
  PutResult,
  RangeRequest,
  RangeResult,
  Request,
  Response,
  TxnOp,
  WriteEvent,
} from './history';

/** The definite errors the model produces; their text is etcd's, which clients see. */
export const MODEL_ERRORS = {
  leaseNotFound: 'etcdserver: requested lease not found',
  leaseExists: 'etcdserver: lease already exists',
  futureRevision: 'etcdserver: mvcc: required revision is a future revision',
} as const;

/** The applied writes, newest first, shared between states (a persistent list). */
interface LogNode {
  readonly event: WriteEvent;
  readonly prev: LogNode | null;
}

/** One immutable state of the model. Build the first with `initialState`. */
export interface ModelState {
  readonly revision: number;
  readonly kvs: ReadonlyMap<string, KeyValue>;
  /** The keys of `kvs` in ascending order. */
  readonly sortedKeys: readonly string[];
  /** Lease id -> granted TTL in seconds. */
  readonly leases: ReadonlyMap<number, number>;
  /** Writes applied since the initial state, newest first. */
  readonly log: LogNode | null;
  /** Keys present in the initial state, for reads of revisions before any logged write. */
  readonly base: ReadonlyMap<string, KeyValue>;
  /** Hash chain over the initial keys and every logged write, two 32-bit lanes. */
  readonly chain: readonly [number, number];
  /**
   * Identifies the state together with how it was reached: the revision, a hash chain over
   * the log (two 32-bit lanes) and an order-free hash of the leases. Two states with equal
   * keys answer every read, including reads of past revisions, the same way (up to a 2^-96
   * hash collision).
   */
  readonly key: string;
}

/** Options for `initialState`: a store that already holds data. */
export interface InitialStateOptions {
  /** Current revision of the store; 1 for a fresh etcd. */
  readonly revision?: number;
  readonly kvs?: readonly KeyValue[];
  /** Lease id -> TTL in seconds. */
  readonly leases?: ReadonlyMap<number, number>;
}

/** The state of a fresh etcd (revision 1, no keys, no leases) unless options say otherwise. */
export function initialState(options: InitialStateOptions = {}): ModelState {
  const revision = options.revision ?? 1;
  assert(Number.isInteger(revision) && revision >= 1, 'initial revision must be an integer >= 1');
  const kvs = new Map<string, KeyValue>();
  for (const kv of options.kvs ?? []) {
    assert(kv.modRevision <= revision && !kvs.has(kv.key), `bad initial kv ${kv.key}`);
    kvs.set(kv.key, kv);
  }
  const leases = new Map(options.leases ?? []);
  return makeState(revision, kvs, [...kvs.keys()].sort(), leases, null, kvs, seedChain(kvs, revision));
}

/** The outcome of applying one request to a state. */
export interface Applied {
  readonly response: Response;
  /** The state after the request (the same object when nothing changed). */
  readonly next: ModelState;
}

/** Applies `request` to `state` and says what etcd would answer. */
export function apply(state: ModelState, request: Request): Applied {
  switch (request.type) {
    case 'range': {
      const r = readRange(state, request, state.revision);
      if (typeof r === 'string') return { response: { type: 'error', message: r }, next: state };
      return { response: { type: 'ok', revision: state.revision, result: r }, next: state };
    }
    case 'leaseGrant': {
      assert(request.leaseId > 0, 'the model needs client-chosen lease ids');
      if (state.leases.has(request.leaseId)) return { response: { type: 'error', message: MODEL_ERRORS.leaseExists }, next: state };
      const leases = new Map(state.leases);
      leases.set(request.leaseId, request.ttlSec);
      const next = makeState(state.revision, state.kvs, state.sortedKeys, leases, state.log, state.base, chainOf(state));
      const result = { type: 'leaseGrant', leaseId: request.leaseId, ttlSec: request.ttlSec } as const;
      return { response: { type: 'ok', revision: state.revision, result }, next };
    }
    case 'leaseRevoke': {
      if (!state.leases.has(request.leaseId)) return { response: { type: 'error', message: MODEL_ERRORS.leaseNotFound }, next: state };
      const draft = new Draft(state);
      // Attached keys go in ascending key order, like the server's revoke.
      for (const key of state.sortedKeys) if (state.kvs.get(key)?.lease === request.leaseId) draft.remove(key);
      draft.dropLease(request.leaseId);
      const next = draft.finish();
      return { response: { type: 'ok', revision: next.revision, result: { type: 'leaseRevoke' } }, next };
    }
    case 'put':
    case 'delete':
    case 'txn': {
      const ops: readonly TxnOp[] = request.type === 'txn' ? [] : [request];
      let succeeded = true;
      let chosen = ops;
      if (request.type === 'txn') {
        succeeded = request.compares.every((c) => compareHolds(state, c));
        chosen = succeeded ? request.success : request.failure;
      }
      // Checks before any write, so a refused request changes nothing.
      for (const op of chosen) {
        if (op.type === 'put' && (op.leaseId ?? 0) !== 0 && !state.leases.has(op.leaseId ?? 0)) {
          return { response: { type: 'error', message: MODEL_ERRORS.leaseNotFound }, next: state };
        }
        if (op.type === 'range' && (op.revision ?? 0) > state.revision) {
          return { response: { type: 'error', message: MODEL_ERRORS.futureRevision }, next: state };
        }
      }
      const draft = new Draft(state);
      const results = chosen.map((op) => draft.run(op));
      const next = draft.finish();
      const result: OpResult = request.type === 'txn' ? { type: 'txn', succeeded, results } : (results[0] as OpResult);
      return { response: { type: 'ok', revision: next.revision, result }, next };
    }
    default:
      return unreachable(request, 'unknown request type');
  }
}

/**
 * One step of the model against a recorded operation: `ok` when the model, from `state`,
 * gives exactly the observed response. An operation with an unknown outcome is always ok and
 * takes the model's effect (the caller decides whether to take that branch at all).
 */
export function step(state: ModelState, op: Operation): { readonly ok: boolean; readonly next: ModelState } {
  const applied = apply(state, op.request);
  if (op.response === null) return { ok: true, next: applied.next };
  const ok = responseMismatch(op.request, op.response, applied.response) === null;
  return { ok, next: ok ? applied.next : state };
}

/**
 * The revision an ok response to `request` could carry from `state`, as a cheap filter before
 * `apply`: reads and lease grants keep the revision, writes keep it or bump it by one.
 */
export function possibleRevision(state: ModelState, request: Request, revision: number): boolean {
  if (request.type === 'range' || request.type === 'leaseGrant') return revision === state.revision;
  if (request.type === 'put') return revision === state.revision + 1;
  return revision === state.revision || revision === state.revision + 1;
}

/**
 * Compares an observed response with the model's for the same request. Returns null when they
 * agree, otherwise what differs (for the checker's explanation).
 */
export function responseMismatch(request: Request, observed: Response, expected: Response): string | null {
  if (observed.type !== expected.type) return `observed ${observed.type}, model ${expected.type}${expected.type === 'error' ? ` (${expected.message})` : ''}`;
  if (observed.type === 'error' || expected.type === 'error') {
    const o = observed.type === 'error' ? observed.message : '';
    const e = expected.type === 'error' ? expected.message : '';
    return o === e ? null : `error '${o}', model '${e}'`;
  }
  if (observed.revision !== expected.revision) return `header revision ${observed.revision}, model ${expected.revision}`;
  return resultMismatch(request, observed.result, expected.result);
}

function resultMismatch(request: Request, o: OpResult, e: OpResult): string | null {
  if (o.type !== e.type) return `result ${o.type}, model ${e.type}`;
  switch (e.type) {
    case 'range': {
      const or = o as RangeResult;
      if (or.count !== e.count) return `count ${or.count}, model ${e.count}`;
      if (or.more !== e.more) return `more ${or.more}, model ${e.more}`;
      return kvsMismatch(or.kvs, e.kvs);
    }
    case 'put': {
      if (request.type !== 'put' || request.prevKv !== true) return null;
      return kvMismatch((o as PutResult).prevKv, e.prevKv, 'prevKv');
    }
    case 'delete': {
      const od = o as DeleteResult;
      if (od.deleted !== e.deleted) return `deleted ${od.deleted}, model ${e.deleted}`;
      if (request.type !== 'delete' || request.prevKv !== true) return null;
      return kvsMismatch(od.prevKvs, e.prevKvs);
    }
    case 'txn': {
      assert(request.type === 'txn', 'txn result for a non-txn request');
      const ot = o as typeof e;
      if (ot.succeeded !== e.succeeded) return `succeeded ${ot.succeeded}, model ${e.succeeded}`;
      const ops = e.succeeded ? request.success : request.failure;
      if (ot.results.length !== e.results.length) return `${ot.results.length} txn results, model ${e.results.length}`;
      for (let i = 0; i < ops.length; i++) {
        const m = resultMismatch(ops[i] as TxnOp, ot.results[i] as OpResult, e.results[i] as OpResult);
        if (m !== null) return `txn op ${i}: ${m}`;
      }
      return null;
    }
    case 'leaseGrant':
      return (o as typeof e).leaseId === e.leaseId ? null : `lease id ${(o as typeof e).leaseId}, model ${e.leaseId}`;
    case 'leaseRevoke':
      return null;
    default:
      return unreachable(e, 'unknown result type');
  }
}

function kvsMismatch(o: readonly KeyValue[], e: readonly KeyValue[]): string | null {
  if (o.length !== e.length) return `${o.length} kvs [${o.map((kv) => kv.key)}], model ${e.length} [${e.map((kv) => kv.key)}]`;
  for (let i = 0; i < e.length; i++) {
    const m = kvMismatch(o[i] as KeyValue, e[i] as KeyValue, `kv ${i}`);
    if (m !== null) return m;
  }
  return null;
}

function kvMismatch(o: KeyValue | null, e: KeyValue | null, what: string): string | null {
  if (kvEqual(o, e)) return null;
  return `${what} ${formatKv(o)}, model ${formatKv(e)}`;
}

/** True when two kvs (or two absences) are equal in every field. */
export function kvEqual(a: KeyValue | null | undefined, b: KeyValue | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return (
    a.key === b.key &&
    a.value === b.value &&
    a.createRevision === b.createRevision &&
    a.modRevision === b.modRevision &&
    a.version === b.version &&
    a.lease === b.lease
  );
}

/** A short human form of a kv, for explanations. */
export function formatKv(kv: KeyValue | null): string {
  if (kv === null) return 'none';
  return `${kv.key}=${kv.value}(c${kv.createRevision},m${kv.modRevision},v${kv.version}${kv.lease !== 0 ? `,l${kv.lease}` : ''})`;
}

/** The writes applied from the initial state to `state`, oldest first. */
export function writesOf(state: ModelState): WriteEvent[] {
  const out: WriteEvent[] = [];
  for (let n = state.log; n !== null; n = n.prev) out.push(n.event);
  return out.reverse();
}

/** True when `key` is in the range given by etcd's (key, rangeEnd) convention. */
export function inRange(key: string, start: string, rangeEnd: string | undefined): boolean {
  if (rangeEnd === undefined || rangeEnd === '') return key === start;
  if (rangeEnd === '\0') return key >= start;
  return key >= start && key < rangeEnd;
}

function compareHolds(state: ModelState, c: Compare): boolean {
  const kv = state.kvs.get(c.key);
  let diff: number;
  if (c.target === 'value') {
    if (kv === undefined) return false;
    const v = String(c.operand);
    diff = kv.value < v ? -1 : kv.value > v ? 1 : 0;
  } else {
    const field = c.target === 'version' ? 'version' : c.target === 'create' ? 'createRevision' : c.target === 'mod' ? 'modRevision' : 'lease';
    diff = (kv === undefined ? 0 : kv[field]) - Number(c.operand);
  }
  switch (c.result) {
    case '=':
      return diff === 0;
    case '!=':
      return diff !== 0;
    case '<':
      return diff < 0;
    case '>':
      return diff > 0;
    default:
      return unreachable(c.result, 'unknown compare result');
  }
}

/** Reads a range at `request.revision` (or the current one) of a state; an error string if refused. */
function readRange(state: ModelState, request: RangeRequest, current: number): RangeResult | string {
  const at = request.revision ?? 0;
  if (at > current) return MODEL_ERRORS.futureRevision;
  const matches = at === 0 || at >= state.revision ? currentRange(state.kvs, state.sortedKeys, request) : pastRange(state, request, at);
  return limitRange(matches, request.limit ?? 0);
}

function currentRange(kvs: ReadonlyMap<string, KeyValue>, sortedKeys: readonly string[], request: RangeRequest): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key of sortedKeys) {
    if (inRange(key, request.key, request.rangeEnd)) out.push(kvs.get(key) as KeyValue);
  }
  return out;
}

/** The range as it was at revision `at`: the newest logged change of each key at or before it wins. */
function pastRange(state: ModelState, request: RangeRequest, at: number): KeyValue[] {
  const decided = new Map<string, KeyValue | null>();
  for (let n = state.log; n !== null; n = n.prev) {
    const e = n.event;
    if (e.revision > at || decided.has(e.key) || !inRange(e.key, request.key, request.rangeEnd)) continue;
    decided.set(e.key, e.kv);
  }
  for (const [key, kv] of state.base) {
    if (!decided.has(key) && inRange(key, request.key, request.rangeEnd)) decided.set(key, kv);
  }
  const out = [...decided.values()].filter((kv): kv is KeyValue => kv !== null);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function limitRange(matches: KeyValue[], limit: number): RangeResult {
  const more = limit > 0 && matches.length > limit;
  return { type: 'range', kvs: more ? matches.slice(0, limit) : matches, count: matches.length, more };
}

/**
 * The writes of one request, applied to private copies made on the first write. All writes
 * get revision `base.revision + 1`; `finish` bumps the revision only if something changed.
 */
class Draft {
  private kvs: Map<string, KeyValue> | null = null;
  private sortedKeys: string[] | null = null;
  private leases: Map<number, number> | null = null;
  private log: LogNode | null;
  private chain: Lanes;
  private changed = false;
  private readonly writeRevision: number;

  constructor(private readonly base: ModelState) {
    this.log = base.log;
    this.chain = chainOf(base);
    this.writeRevision = base.revision + 1;
  }

  run(op: TxnOp): RangeResult | PutResult | DeleteResult {
    switch (op.type) {
      case 'range':
        return this.range(op);
      case 'put':
        return this.put(op);
      case 'delete':
        return this.delete(op);
      default:
        return unreachable(op, 'unknown txn op');
    }
  }

  private range(op: RangeRequest): RangeResult {
    const at = op.revision ?? 0;
    // A read of the revision before the txn, or older, does not see the txn's own writes;
    // a read of the current revision does.
    if (at !== 0 && at < this.base.revision) return limitRange(pastRange(this.base, op, at), op.limit ?? 0);
    if (at === this.base.revision) return limitRange(currentRange(this.base.kvs, this.base.sortedKeys, op), op.limit ?? 0);
    return limitRange(currentRange(this.kvsNow(), this.keysNow(), op), op.limit ?? 0);
  }

  private put(op: PutRequest): PutResult {
    const prev = this.kvsNow().get(op.key) ?? null;
    const kv: KeyValue = {
      key: op.key,
      value: op.value,
      createRevision: prev === null ? this.writeRevision : prev.createRevision,
      modRevision: this.writeRevision,
      version: prev === null ? 1 : prev.version + 1,
      lease: op.leaseId ?? 0,
    };
    this.write(op.key, kv, prev);
    return { type: 'put', prevKv: prev };
  }

  private delete(op: DeleteRequest): DeleteResult {
    const prevKvs = currentRange(this.kvsNow(), this.keysNow(), { type: 'range', key: op.key, rangeEnd: op.rangeEnd });
    for (const kv of prevKvs) this.remove(kv.key);
    return { type: 'delete', deleted: prevKvs.length, prevKvs };
  }

  remove(key: string): void {
    const prev = this.kvsNow().get(key);
    assert(prev !== undefined, `remove of absent key ${key}`);
    this.write(key, null, prev);
  }

  dropLease(id: number): void {
    this.leases ??= new Map(this.base.leases);
    this.leases.delete(id);
  }

  finish(): ModelState {
    if (!this.changed && this.leases === null) return this.base;
    const revision = this.changed ? this.writeRevision : this.base.revision;
    return makeState(
      revision,
      this.kvs ?? this.base.kvs,
      this.sortedKeys ?? this.base.sortedKeys,
      this.leases ?? this.base.leases,
      this.log,
      this.base.base,
      this.chain,
    );
  }

  private write(key: string, kv: KeyValue | null, prev: KeyValue | null): void {
    const kvs = this.kvsNow() as Map<string, KeyValue>;
    if (this.kvs === null) {
      this.kvs = new Map(kvs);
    }
    if (kv === null) {
      this.kvs.delete(key);
      this.sortedKeys = this.keysNow().filter((k) => k !== key);
    } else {
      if (prev === null) this.sortedKeys = insertSorted(this.keysNow(), key);
      this.kvs.set(key, kv);
    }
    const event: WriteEvent = { revision: this.writeRevision, type: kv === null ? 'delete' : 'put', key, kv, prevKv: prev };
    this.log = { event, prev: this.log };
    this.chain = chainEvent(this.chain, event);
    this.changed = true;
  }

  private kvsNow(): ReadonlyMap<string, KeyValue> {
    return this.kvs ?? this.base.kvs;
  }

  private keysNow(): readonly string[] {
    return this.sortedKeys ?? this.base.sortedKeys;
  }
}

function insertSorted(keys: readonly string[], key: string): string[] {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return [...keys.slice(0, lo), key, ...keys.slice(lo)];
}

/** Two independent 32-bit hash lanes. */
type Lanes = readonly [number, number];

function chainOf(state: ModelState): Lanes {
  return state.chain;
}

function makeState(
  revision: number,
  kvs: ReadonlyMap<string, KeyValue>,
  sortedKeys: readonly string[],
  leases: ReadonlyMap<number, number>,
  log: LogNode | null,
  base: ReadonlyMap<string, KeyValue>,
  chain: Lanes,
): ModelState {
  let l1 = 0;
  let l2 = 0;
  // XOR makes the lease hash independent of map order.
  for (const [id, ttl] of leases) {
    const s = `${id}/${ttl}`;
    l1 ^= hash32(s, 0x1234567);
    l2 ^= hash32(s, 0x7654321);
  }
  return { revision, kvs, sortedKeys, leases, log, base, chain, key: `${revision}:${chain[0]}:${chain[1]}:${l1}:${l2}` };
}

function seedChain(kvs: ReadonlyMap<string, KeyValue>, revision: number): Lanes {
  let c: Lanes = [revision, ~revision];
  for (const key of [...kvs.keys()].sort()) {
    const kv = kvs.get(key) as KeyValue;
    c = chainEvent(c, { revision: kv.modRevision, type: 'put', key, kv, prevKv: null });
  }
  return c;
}

function chainEvent(c: Lanes, e: WriteEvent): Lanes {
  const kv = e.kv;
  const s = kv === null ? `d\u0001${e.revision}\u0001${e.key}` : `p\u0001${e.revision}\u0001${e.key}\u0001${kv.value}\u0001${kv.createRevision}\u0001${kv.version}\u0001${kv.lease}`;
  return [hash32(s, c[0] ^ 0x9e3779b9), hash32(s, c[1] ^ 0x85ebca6b)];
}

/** A 32-bit string hash (FNV-1a over UTF-16 code units with a murmur finalizer), seeded. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
