/**
 * Randomized tests of the checker: histories made linearizable by construction must pass, and
 * the same histories with one response corrupted in a way no linearization can explain must
 * fail. Seeds come from FLOE_SEED (or the clock) and are printed on failure for replay.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { forSeeds, Rng } from '../../../src/pkg';
import type { KeyValue, Operation, OpResult, RangeResult, WriteEvent } from './history';
import { checkLinearizable } from './linearize';
import { randomHistory } from './random-history';
import { validateWatches, type WatchRecord, type WatchResponse } from './watch';

test('random concurrent histories from the model are linearizable, with and without a write record', () => {
  forSeeds(10, (seed) => {
    const h = randomHistory({ seed, operations: 300, unknownRate: 0.08 });
    const r = checkLinearizable(h.operations, { timeLimitMs: 20_000 });
    assert.equal(r.verdict, 'ok', JSON.stringify(r).slice(0, 500));
    const withRecord = checkLinearizable(h.operations, { timeLimitMs: 20_000, writes: h.writes });
    assert.equal(withRecord.verdict, 'ok');
    if (r.verdict === 'ok') {
      // Every operation with a known outcome is in the linearization exactly once.
      const placed = new Set(r.linearization);
      assert.equal(placed.size, r.linearization.length);
      h.operations.forEach((op, i) => {
        if (op.returnMs !== 'unknown') assert.ok(placed.has(i), `op ${i} missing from the linearization`);
      });
    }
  });
});

/** Kinds of corruption that no linearization can explain. */
type Mutation = 'stale read' | 'phantom value' | 'duplicate revision';

/**
 * Returns a copy of `ops` with one response corrupted, or null if this history has no
 * operation the mutation applies to. `knownRevisions` are the revisions created by writes with
 * a known outcome (a stale read is only certain to be wrong against one of those).
 */
function mutate(ops: readonly Operation[], writes: readonly WriteEvent[], kind: Mutation, rng: Rng): Operation[] | null {
  const knownRevisions = new Set<number>();
  for (const op of ops) {
    if (op.response?.type === 'ok' && (op.request.type === 'put' || op.request.type === 'txn' || op.request.type === 'delete')) knownRevisions.add(op.response.revision);
  }
  const reads: number[] = [];
  const puts: number[] = [];
  ops.forEach((op, i) => {
    const res = op.response;
    if (res?.type !== 'ok') return;
    if (res.result.type === 'range' && res.result.kvs.length > 0 && op.request.type === 'range' && !op.request.rangeEnd) reads.push(i);
    if (res.result.type === 'put') puts.push(i);
  });
  const out = [...ops];
  const withKv = (i: number, kv: KeyValue): Operation => {
    const op = ops[i] as Operation;
    assert.ok(op.response?.type === 'ok');
    const result: OpResult = { ...(op.response.result as RangeResult), kvs: [kv] };
    return { ...op, response: { ...op.response, result } };
  };
  if (kind === 'phantom value') {
    if (reads.length === 0) return null;
    const i = rng.pick(reads);
    const kv = ((ops[i] as Operation).response as { result: RangeResult }).result.kvs[0] as KeyValue;
    out[i] = withKv(i, { ...kv, value: 'never-written' });
    return out;
  }
  if (kind === 'stale read') {
    const candidates = reads.flatMap((i) => {
      const kv = ((ops[i] as Operation).response as { result: RangeResult }).result.kvs[0] as KeyValue;
      if (!knownRevisions.has(kv.modRevision)) return [];
      const older = writes.filter((w) => w.key === kv.key && w.kv !== null && w.revision < kv.modRevision);
      const prev = older[older.length - 1];
      return prev?.kv ? [{ i, prev: prev.kv }] : [];
    });
    if (candidates.length === 0) return null;
    const { i, prev } = rng.pick(candidates);
    out[i] = withKv(i, prev);
    return out;
  }
  if (puts.length < 2) return null;
  const a = rng.pick(puts);
  let b = rng.pick(puts);
  while (b === a) b = rng.pick(puts);
  const opA = ops[a] as Operation;
  const opB = ops[b] as Operation;
  assert.ok(opA.response?.type === 'ok' && opB.response?.type === 'ok');
  out[a] = { ...opA, response: { ...opA.response, revision: opB.response.revision } };
  return out;
}

test('one corrupted response (stale read, phantom value, duplicated revision) makes a random history illegal', () => {
  forSeeds(10, (seed) => {
    const rng = new Rng(seed);
    const h = randomHistory({ seed, operations: 200, unknownRate: 0.05 });
    for (const kind of ['stale read', 'phantom value', 'duplicate revision'] as const) {
      const bad = mutate(h.operations, h.writes, kind, rng);
      if (bad === null) continue;
      const r = checkLinearizable(bad, { timeLimitMs: 20_000 });
      assert.equal(r.verdict, 'illegal', `${kind}: verdict ${r.verdict}`);
    }
  });
});

/** Splits the writes into watch responses the way a correct server may: whole revisions. */
function honestWatch(name: string, writes: readonly WriteEvent[], rng: Rng, startRevision: number): WatchRecord {
  const responses: WatchResponse[] = [];
  let batch: WatchResponse['events'][number][] = [];
  let lastRev = 0;
  const flush = (): void => {
    if (batch.length > 0) responses.push({ revision: lastRev, events: batch });
    batch = [];
  };
  for (const w of writes) {
    if (w.revision < startRevision) continue;
    if (w.revision !== lastRev && rng.chance(0.5)) flush();
    if (w.revision !== lastRev && rng.chance(0.1)) {
      flush();
      responses.push({ revision: lastRev, events: [], progressNotify: true });
    }
    lastRev = w.revision;
    const kv = w.kv ?? { key: w.key, value: '', createRevision: 0, modRevision: w.revision, version: 0, lease: 0 };
    batch.push({ type: w.type, kv, prevKv: w.prevKv });
  }
  flush();
  // A final progress notification: the watch has been told everything, so a lost tail shows.
  responses.push({ revision: lastRev, events: [], progressNotify: true });
  return { name, key: '\0', rangeEnd: '\0', startRevision, createdRevision: 1, prevKv: true, responses };
}

test('watch streams cut from a random history pass; dropping or repeating one event fails', () => {
  forSeeds(10, (seed) => {
    const rng = new Rng(seed);
    const h = randomHistory({ seed, operations: 300, unknownRate: 0 });
    const start = 2 + rng.int(50);
    const good = honestWatch('all', h.writes, rng, start);
    assert.deepEqual(validateWatches([good], h.writes), []);
    const withEvents = good.responses.map((r, i) => [r, i] as const).filter(([r]) => r.events.length > 0);
    const [victim, at] = rng.pick(withEvents);
    const dropped = { ...good, responses: good.responses.map((r, i) => (i === at ? { ...r, events: victim.events.slice(1) } : r)) };
    assert.ok(validateWatches([dropped], h.writes).some((v) => v.property === 'reliable' || v.property === 'atomic' || v.property === 'resumable'));
    const repeated = { ...good, responses: [...good.responses, victim] };
    assert.ok(validateWatches([repeated], h.writes).some((v) => v.property === 'unique'));
  });
});

test('a 2,000-operation history of 5 clients on 10 keys checks in seconds', () => {
  const h = randomHistory({ seed: 2026, operations: 2000, clients: 5, keys: 10, unknownRate: 0.05 });
  const r = checkLinearizable(h.operations, { timeLimitMs: 20_000 });
  assert.equal(r.verdict, 'ok');
  const withRecord = checkLinearizable(h.operations, { timeLimitMs: 20_000, writes: h.writes });
  assert.equal(withRecord.verdict, 'ok');
  const exact = randomHistory({ seed: 2026, operations: 2000, clients: 5, keys: 10, unknownRate: 0 });
  const r0 = checkLinearizable(exact.operations, { timeLimitMs: 20_000 });
  assert.equal(r0.verdict, 'ok');
  console.log(
    `2000 ops, 5 clients, 10 keys: 5% unknown ${r.elapsedMs.toFixed(0)} ms (${r.steps} steps), ` +
      `with write record ${withRecord.elapsedMs.toFixed(0)} ms, no unknown ${r0.elapsedMs.toFixed(0)} ms`,
  );
  assert.ok(r.elapsedMs < 10_000 && r0.elapsedMs < 10_000, 'each check must finish in seconds');
});
