/**
 * Linearizability checker for histories of etcd requests (Wing & Gong's search with Lowe's
 * just-in-time linearization and a memo of visited (linearized set, state) pairs).
 *
 * The search walks a doubly linked list of call and return entries in time order. At a call
 * it tries to linearize that operation now: the model must produce exactly the observed
 * response, and the pair (set of linearized operations, resulting state) must be new. At a
 * return whose operation is not yet linearized no order can work from here, so it backtracks.
 * The history is linearizable when every operation with a known outcome is linearized.
 *
 * Operations with an unknown outcome have a call entry and no return entry: the search may
 * linearize them at any point after their call (taking whatever effect the model gives) or
 * never (they did not happen). Both branches are explored; unknown reads are dropped up
 * front since they constrain nothing.
 *
 * Partitioning: none. Keys are not independent in etcd (every response carries the global
 * revision), so checking keys separately would have to drop the revision checks. It is not
 * needed for speed either: the header revisions pin every successful write to one place in
 * the order and every read between two writes, so a wrong choice fails at its first step and
 * the search stays close to linear; only operations with unknown outcomes branch.
 *
 * Memo keys are hashes (96 bits for the state, 64 for the linearized set): a collision could
 * wrongly prune a branch, with probability far below anything observable.
 */
import { assert, Rng, verifyEnabled } from '../../../src/pkg';
import type { KeyValue, OpResult, Operation, Request, WriteEvent } from './history';
import { UNKNOWN } from './history';
import { apply, initialState, kvEqual, possibleRevision, responseMismatch, step, writesOf, type ModelState } from './model';

/** Options for `checkLinearizable`. */
export interface CheckOptions {
  /** Give up with verdict 'unknown' after this long (default 30 000 ms). */
  readonly timeLimitMs?: number;
  /** The state before the first operation (default: a fresh etcd at revision 1). */
  readonly initial?: ModelState;
  /**
   * A complete record of every write of the run by revision (e.g. `mergeWatchEvents` over
   * watches that cover the whole key space from the first revision). With it an operation
   * with an unknown outcome may only take effect as exactly the write recorded at its
   * revision, and an unknown plain put whose value is nowhere in the record is dropped (it
   * did not happen). Without it unknown writes are placed by search alone, which can be slow
   * when many of them overlap. A wrong record makes a correct history fail.
   */
  readonly writes?: readonly WriteEvent[];
}

/** Verdict: a linearization exists. */
export interface CheckOk {
  readonly verdict: 'ok';
  /** Indices into the input, in linearization order; unknown operations listed here took effect. */
  readonly linearization: readonly number[];
  /** The model's state after the linearization. */
  readonly final: ModelState;
  /** The writes of that linearization in revision order, for the watch validators. */
  readonly writes: readonly WriteEvent[];
  readonly steps: number;
  readonly elapsedMs: number;
}

/** Verdict: no linearization exists. */
export interface CheckIllegal {
  readonly verdict: 'illegal';
  /** The longest linearizable prefix found (indices into the input, in order). */
  readonly longestPrefix: readonly number[];
  /** The operation that returned before it could be placed after that prefix. */
  readonly blockedOp: number;
  /** Human explanation: the blocked operation and how it differs from the model there. */
  readonly explanation: string;
  readonly steps: number;
  readonly elapsedMs: number;
}

/** Verdict: the time limit ran out before the search finished. */
export interface CheckUnknown {
  readonly verdict: 'unknown';
  readonly longestPrefix: readonly number[];
  readonly steps: number;
  readonly elapsedMs: number;
}

/** The result of `checkLinearizable`. */
export type CheckResult = CheckOk | CheckIllegal | CheckUnknown;

const DEFAULT_TIME_LIMIT_MS = 30_000;
/** How many search steps run between two looks at the clock. */
const CLOCK_EVERY_STEPS = 1024;

interface Entry {
  /** Index into the kept operations. */
  readonly op: number;
  readonly isCall: boolean;
  /** The return entry of a call with a known outcome; null otherwise. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

interface Frame {
  readonly entry: Entry;
  readonly state: ModelState;
  /** The pass that linearized `entry`; backtracking resumes that pass after it. */
  readonly unknownPass: boolean;
  /** The lease id when `entry` is an unknown operation whose only effect was on that lease. */
  readonly leaseOnly: number | null;
}

/**
 * Decides whether `operations` is linearizable against the etcd model. Throws an
 * AssertionError on a malformed history (return before call, response on an unknown op).
 */
export function checkLinearizable(operations: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const startMs = performance.now();
  const timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const kept: number[] = [];
  const recordedValues = options.writes === undefined ? null : new Set(options.writes.flatMap((w) => (w.kv === null ? [] : [w.kv.value])));
  operations.forEach((op, i) => {
    validate(op, i);
    if (op.returnMs === UNKNOWN && isReadOnly(op.request)) return;
    if (op.returnMs === UNKNOWN && op.request.type === 'put' && recordedValues !== null && !recordedValues.has(op.request.value)) return;
    kept.push(i);
  });
  const ops = kept.map((i) => operations[i] as Operation);
  const known = ops.map((op) => op.returnMs !== UNKNOWN);
  const head = buildEntries(ops);
  const evidence = gatherEvidence(ops, options.writes);

  // Zobrist keys of the linearized set: XOR of one random pair per operation.
  const rng = new Rng(0x5eed);
  const zobrist = ops.map(() => [rng.u32(), rng.u32()] as const);
  let z1 = 0;
  let z2 = 0;

  let state = options.initial ?? initialState();
  let pending = known.filter(Boolean).length;
  const memo = new Set<string>();
  const stack: Frame[] = [];
  let steps = 0;
  let bestPrefix: number[] = [];
  let blocked = -1;

  // Each state is explored in two passes over the calls before the first return entry: first
  // the known operations, then (only if the first pass is stuck) the unknown ones. Every
  // candidate is still tried, so the search stays complete; but an unknown operation is only
  // applied where no known one fits, which keeps wrong guesses about unknowns rare.
  let unknownPass = false;
  let unknownLeft = known.length - pending;
  let entry = head.next;
  while (pending > 0) {
    steps++;
    if (steps % CLOCK_EVERY_STEPS === 0 && performance.now() - startMs > timeLimitMs) {
      return { verdict: 'unknown', longestPrefix: bestPrefix.map((k) => kept[k] as number), steps, elapsedMs: performance.now() - startMs };
    }
    assert(entry !== null, 'walked past every return entry with operations pending');
    if (entry.isCall) {
      const op = ops[entry.op] as Operation;
      // After an unknown operation that only changed lease L, only an operation naming L may
      // follow. Such an operation commutes with everything that does not name L, so any
      // linearization can be rearranged to put it right before the next one that does (or
      // drop it if none does); without this rule the search tries every subset of them.
      const needLease = stack.length === 0 ? null : (stack[stack.length - 1] as Frame).leaseOnly;
      if (known[entry.op] === unknownPass || (needLease !== null && !namesLease(op.request, needLease))) {
        entry = entry.next;
        continue;
      }
      const next = tryStep(state, op, evidence);
      if (next !== null) {
        const z = zobrist[entry.op] as readonly [number, number];
        const n1 = (z1 ^ z[0]) >>> 0;
        const n2 = (z2 ^ z[1]) >>> 0;
        const leaseOnly = !known[entry.op] && next.revision === state.revision && (op.request.type === 'leaseGrant' || op.request.type === 'leaseRevoke') ? op.request.leaseId : null;
        // The lease rule above restricts what may follow, so it is part of the memo key.
        const key = `${n1}:${n2}|${next.key}|${leaseOnly ?? ''}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ entry, state, unknownPass, leaseOnly });
          state = next;
          z1 = n1;
          z2 = n2;
          lift(entry);
          if (known[entry.op]) pending--;
          else unknownLeft--;
          unknownPass = false;
          if (stack.length > bestPrefix.length) {
            bestPrefix = stack.map((f) => f.entry.op);
            blocked = -1;
          }
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
      continue;
    }
    // A return entry whose call is not linearized: nothing before it fits in this pass.
    if (!unknownPass && unknownLeft > 0) {
      unknownPass = true;
      entry = head.next;
      continue;
    }
    if (stack.length === bestPrefix.length && blocked < 0) blocked = entry.op;
    const top = stack.pop();
    if (top === undefined) {
      assert(blocked >= 0, 'illegal verdict without a blocked operation');
      const blockedOp = kept[blocked] as number;
      return {
        verdict: 'illegal',
        longestPrefix: bestPrefix.map((k) => kept[k] as number),
        blockedOp,
        explanation: explain(operations, blockedOp, bestPrefix.map((k) => kept[k] as number), options.initial ?? initialState()),
        steps,
        elapsedMs: performance.now() - startMs,
      };
    }
    state = top.state;
    const z = zobrist[top.entry.op] as readonly [number, number];
    z1 = (z1 ^ z[0]) >>> 0;
    z2 = (z2 ^ z[1]) >>> 0;
    unlift(top.entry);
    if (known[top.entry.op]) pending++;
    else unknownLeft++;
    unknownPass = top.unknownPass;
    entry = top.entry.next;
  }
  const linearization = stack.map((f) => kept[f.entry.op] as number);
  if (verifyEnabled) verifyLinearization(operations, linearization, options.initial ?? initialState());
  return { verdict: 'ok', linearization, final: state, writes: writesOf(state), steps, elapsedMs: performance.now() - startMs };
}

/**
 * What the history says about revisions, used to prune unknown operations. Each fact holds in
 * every linearization, so pruning by it loses none.
 */
interface Evidence {
  /** Revisions a known write reports creating: each revision has exactly one creator. */
  readonly claimed: ReadonlySet<number>;
  /**
   * The highest revision anyone saw: beyond it no known operation fits any more, so pushing
   * the state there is useless.
   */
  readonly max: number;
  /** revision -> key -> the kv some known response shows that revision wrote. */
  readonly seen: ReadonlyMap<number, ReadonlyMap<string, KeyValue>>;
  /** The caller's complete record of writes, grouped by revision, if given. */
  readonly record: ReadonlyMap<number, readonly WriteEvent[]> | null;
}

function gatherEvidence(ops: readonly Operation[], writes: readonly WriteEvent[] | undefined): Evidence {
  const claimed = new Set<number>();
  const seen = new Map<number, Map<string, KeyValue>>();
  let max = 0;
  const see = (kv: KeyValue | null): void => {
    if (kv === null) return;
    let m = seen.get(kv.modRevision);
    if (m === undefined) seen.set(kv.modRevision, (m = new Map()));
    m.set(kv.key, kv);
  };
  const seeResult = (res: OpResult): void => {
    if (res.type === 'range') res.kvs.forEach(see);
    else if (res.type === 'put') see(res.prevKv);
    else if (res.type === 'delete') res.prevKvs.forEach(see);
    else if (res.type === 'txn') res.results.forEach(seeResult);
  };
  for (const op of ops) {
    const r = op.response;
    if (r === null || r.type !== 'ok') continue;
    max = Math.max(max, r.revision);
    const res = r.result;
    seeResult(res);
    const created =
      res.type === 'put' ||
      (res.type === 'delete' && res.deleted > 0) ||
      (res.type === 'txn' && res.results.some((x) => x.type === 'put' || (x.type === 'delete' && x.deleted > 0)));
    if (created) claimed.add(r.revision);
  }
  let record: Map<number, WriteEvent[]> | null = null;
  if (writes !== undefined) {
    record = new Map();
    for (const w of writes) {
      let list = record.get(w.revision);
      if (list === undefined) record.set(w.revision, (list = []));
      list.push(w);
      max = Math.max(max, w.revision);
    }
  }
  return { claimed, max, seen, record };
}

/** True when an unknown operation could have created `next`'s revision, by the evidence. */
function fitsEvidence(next: ModelState, evidence: Evidence): boolean {
  const rev = next.revision;
  if (evidence.claimed.has(rev) || rev > evidence.max) return false;
  const created = new Map<string, WriteEvent>();
  for (let n = next.log; n !== null && n.event.revision === rev; n = n.prev) created.set(n.event.key, n.event);
  for (const [key, kv] of evidence.seen.get(rev) ?? []) {
    if (!kvEqual(created.get(key)?.kv, kv)) return false;
  }
  if (evidence.record === null) return true;
  const recorded = evidence.record.get(rev) ?? [];
  if (recorded.length !== created.size) return false;
  return recorded.every((w) => {
    const c = created.get(w.key);
    return c !== undefined && c.type === w.type && kvEqual(c.kv, w.kv);
  });
}

/** The state after `op` if it can take effect now with its observed response, else null. */
function tryStep(state: ModelState, op: Operation, evidence: Evidence): ModelState | null {
  const response = op.response;
  if (response === null) {
    const next = apply(state, op.request).next;
    // An unknown operation that changes nothing is the same as one that never happened.
    if (next === state) return null;
    if (next.revision !== state.revision && !fitsEvidence(next, evidence)) return null;
    return next;
  }
  if (response.type === 'ok' && !possibleRevision(state, op.request, response.revision)) return null;
  const r = step(state, op);
  return r.ok ? r.next : null;
}

/**
 * Self-check of a found linearization (tests only, behind verifyEnabled): replayed in order
 * it reproduces every known response, and no operation comes after one that was called only
 * after it returned.
 */
function verifyLinearization(operations: readonly Operation[], order: readonly number[], initial: ModelState): void {
  let state = initial;
  let latestCallMs = -Infinity;
  for (const i of order) {
    const op = operations[i] as Operation;
    const r = step(state, op);
    assert(r.ok, `verify: op ${i} does not replay`);
    state = r.next;
    if (op.returnMs !== UNKNOWN) assert(op.returnMs >= latestCallMs, `verify: op ${i} placed after an op called after it returned`);
    latestCallMs = Math.max(latestCallMs, op.callMs);
  }
  const placed = new Set(order);
  operations.forEach((op, i) => assert(op.returnMs === UNKNOWN || placed.has(i), `verify: op ${i} was not placed`));
}

/**
 * Says why `blocked` cannot be placed. Its mismatch is shown against the prefix state whose
 * revision its header revision points at (where it would have had to go), or, if no state of
 * the prefix has that revision, against the state after the whole prefix.
 */
function explain(operations: readonly Operation[], blocked: number, prefix: readonly number[], initial: ModelState): string {
  const op = operations[blocked] as Operation;
  const response = op.response;
  assert(response !== null, 'an unknown operation cannot block');
  const what = `op ${blocked} (client ${op.clientId}, ${describeRequest(op.request)}, called ${op.callMs} ms, returned ${op.returnMs} ms)`;
  const states = [initial];
  for (const i of prefix) states.push(apply(states[states.length - 1] as ModelState, (operations[i] as Operation).request).next);
  const last = states[states.length - 1] as ModelState;
  let at = last;
  if (response.type === 'ok') at = states.find((s) => possibleRevision(s, op.request, response.revision)) ?? last;
  const mismatch = responseMismatch(op.request, response, apply(at, op.request).response);
  const where = at === last ? `after the longest linearizable prefix (${prefix.length} ops, revision ${last.revision})` : `at revision ${at.revision}, inside the longest linearizable prefix (${prefix.length} ops)`;
  const why = mismatch === null ? 'its response fits there, but no order of the operations around it does' : mismatch;
  return `${what} cannot be linearized ${where}: ${why}`;
}

/** A one-line human form of a request, for explanations. */
export function describeRequest(r: Request): string {
  switch (r.type) {
    case 'range':
      return `range ${r.key}${r.rangeEnd ? `..${r.rangeEnd === '\0' ? '\\0' : r.rangeEnd}` : ''}${r.revision ? ` @${r.revision}` : ''}`;
    case 'put':
      return `put ${r.key}=${r.value}${r.leaseId ? ` lease ${r.leaseId}` : ''}`;
    case 'delete':
      return `delete ${r.key}${r.rangeEnd ? `..${r.rangeEnd === '\0' ? '\\0' : r.rangeEnd}` : ''}`;
    case 'txn':
      return `txn if [${r.compares.map((c) => `${c.target}(${c.key}) ${c.result} ${c.operand}`).join(', ')}] then [${r.success.map(describeRequest).join('; ')}] else [${r.failure.map(describeRequest).join('; ')}]`;
    case 'leaseGrant':
      return `lease grant ${r.leaseId} ttl ${r.ttlSec}s`;
    case 'leaseRevoke':
      return `lease revoke ${r.leaseId}`;
  }
}

/** True when `r` names lease `id` (grants or revokes it, or puts a key with it). */
function namesLease(r: Request, id: number): boolean {
  switch (r.type) {
    case 'leaseGrant':
    case 'leaseRevoke':
      return r.leaseId === id;
    case 'put':
      return (r.leaseId ?? 0) === id;
    case 'txn':
      return [...r.success, ...r.failure].some((op) => op.type === 'put' && (op.leaseId ?? 0) === id);
    default:
      return false;
  }
}

function isReadOnly(r: Request): boolean {
  if (r.type === 'range') return true;
  if (r.type === 'txn') return [...r.success, ...r.failure].every((op) => op.type === 'range');
  return false;
}

function validate(op: Operation, i: number): void {
  if (op.returnMs === UNKNOWN) {
    assert(op.response === null, `op ${i}: an unknown outcome has no response`);
  } else {
    assert(op.response !== null, `op ${i}: a returned operation needs its response`);
    assert(op.callMs <= op.returnMs, `op ${i}: returns (${op.returnMs}) before its call (${op.callMs})`);
  }
}

/**
 * The entry list in time order. At equal times calls come before returns, so operations that
 * touch in time count as concurrent (the weaker claim, never a false 'illegal').
 */
function buildEntries(ops: readonly Operation[]): Entry {
  const events: { timeMs: number; entry: Entry }[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, isCall: true, match: null, prev: null, next: null };
    events.push({ timeMs: op.callMs, entry: call });
    if (op.returnMs !== UNKNOWN) {
      const ret: Entry = { op: i, isCall: false, match: null, prev: null, next: null };
      call.match = ret;
      events.push({ timeMs: op.returnMs, entry: ret });
    }
  });
  events.sort((a, b) => a.timeMs - b.timeMs || Number(b.entry.isCall) - Number(a.entry.isCall) || a.entry.op - b.entry.op);
  const head: Entry = { op: -1, isCall: false, match: null, prev: null, next: null };
  let last = head;
  for (const { entry } of events) {
    entry.prev = last;
    last.next = entry;
    last = entry;
  }
  return head;
}

/** Removes a call and its return from the list (they stay linked to their old neighbours). */
function lift(call: Entry): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

/** Puts back what `lift` removed; lifts are undone in reverse order, so neighbours are intact. */
function unlift(call: Entry): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

function unlink(e: Entry): void {
  assert(e.prev !== null, 'unlink of the head');
  e.prev.next = e.next;
  if (e.next !== null) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  assert(e.prev !== null, 'relink of the head');
  e.prev.next = e;
  if (e.next !== null) e.next.prev = e;
}
