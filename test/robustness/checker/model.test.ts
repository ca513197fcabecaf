/**
 * The etcd model's rules, one per test: revisions, versions, txn semantics, leases, past reads
 * and the definite errors.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { kv, req } from './builders';
import type { Request, Response } from './history';
import { apply, initialState, MODEL_ERRORS, responseMismatch, writesOf, type ModelState } from './model';

/** Applies requests in order and returns every response and the last state. */
function run(requests: Request[], from: ModelState = initialState()): { responses: Response[]; state: ModelState } {
  let state = from;
  const responses: Response[] = [];
  for (const r of requests) {
    const a = apply(state, r);
    responses.push(a.response);
    state = a.next;
  }
  return { responses, state };
}

test('puts bump the revision by one; version counts puts since creation; create revision stays', () => {
  const { responses, state } = run([req.put('a', '1'), req.put('a', '2'), req.put('b', '3')]);
  assert.deepEqual(responses.map((r) => (r.type === 'ok' ? r.revision : -1)), [2, 3, 4]);
  assert.deepEqual(state.kvs.get('a'), kv('a', '2', 2, 3, 2));
  assert.equal(state.revision, 4);
});

test('a delete ends the generation: the next put creates the key again at version 1', () => {
  const { responses, state } = run([req.put('a', '1'), req.del('a'), req.put('a', '2')]);
  assert.deepEqual(responses[1], { type: 'ok', revision: 3, result: { type: 'delete', deleted: 1, prevKvs: [kv('a', '1', 2, 2, 1)] } });
  assert.deepEqual(state.kvs.get('a'), kv('a', '2', 4, 4, 1));
});

test('a delete that matches nothing keeps the revision', () => {
  const { responses, state } = run([req.put('a', '1'), req.del('zz')]);
  assert.deepEqual(responses[1], { type: 'ok', revision: 2, result: { type: 'delete', deleted: 0, prevKvs: [] } });
  assert.equal(state.revision, 2);
});

test('range honours rangeEnd, the all-keys form, limit and count, in key order', () => {
  const { state } = run([req.put('b', '1'), req.put('a', '2'), req.put('c', '3')]);
  const all = apply(state, req.range('\0', '\0')).response;
  assert.ok(all.type === 'ok' && all.result.type === 'range');
  assert.deepEqual(all.result.kvs.map((x) => x.key), ['a', 'b', 'c']);
  const limited = apply(state, req.range('a', 'c', 1)).response;
  assert.deepEqual(limited, { type: 'ok', revision: 4, result: { type: 'range', kvs: [kv('a', '2', 3, 3, 1)], count: 2, more: true } });
  const fromB = apply(state, req.range('b', '\0')).response;
  assert.ok(fromB.type === 'ok' && fromB.result.type === 'range');
  assert.deepEqual(fromB.result.kvs.map((x) => x.key), ['b', 'c']);
});

test('a read of a past revision sees the keys as they were, with the current header revision', () => {
  const { state } = run([req.put('a', '1'), req.put('a', '2'), req.del('a'), req.put('b', '3')]);
  assert.deepEqual(apply(state, req.get('a', 2)).response, { type: 'ok', revision: 5, result: { type: 'range', kvs: [kv('a', '1', 2, 2, 1)], count: 1, more: false } });
  assert.deepEqual(apply(state, req.get('a', 3)).response, { type: 'ok', revision: 5, result: { type: 'range', kvs: [kv('a', '2', 2, 3, 2)], count: 1, more: false } });
  assert.deepEqual(apply(state, req.get('a', 4)).response, { type: 'ok', revision: 5, result: { type: 'range', kvs: [], count: 0, more: false } });
  assert.deepEqual(apply(state, req.get('a', 6)).response, { type: 'error', message: MODEL_ERRORS.futureRevision });
});

test('a txn writes all its keys at one revision and its reads see its own earlier writes', () => {
  const t = req.txn([], [{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }, { type: 'range', key: 'a' }]);
  const { responses, state } = run([t]);
  assert.deepEqual(responses[0], {
    type: 'ok',
    revision: 2,
    result: {
      type: 'txn',
      succeeded: true,
      results: [
        { type: 'put', prevKv: null },
        { type: 'put', prevKv: null },
        { type: 'range', kvs: [kv('a', '1', 2, 2, 1)], count: 1, more: false },
      ],
    },
  });
  assert.equal(state.revision, 2);
  assert.deepEqual(writesOf(state).map((w) => `${w.key}@${w.revision}`), ['a@2', 'b@2']);
});

test('txn compares: a missing key has version/create/mod 0, and a value compare on it is false', () => {
  const eqZero = req.txn([{ key: 'a', target: 'version', result: '=', operand: 0 }], [], []);
  const valueNe = req.txn([{ key: 'a', target: 'value', result: '!=', operand: 'x' }], [], []);
  const r1 = apply(initialState(), eqZero).response;
  const r2 = apply(initialState(), valueNe).response;
  assert.ok(r1.type === 'ok' && r1.result.type === 'txn' && r1.result.succeeded);
  assert.ok(r2.type === 'ok' && r2.result.type === 'txn' && !r2.result.succeeded);
});

test('compare-and-set succeeds only on the current mod revision; a read-only or failed txn keeps the revision', () => {
  const { state } = run([req.put('a', '1')]);
  const hit = apply(state, req.cas('a', 2, '2'));
  const miss = apply(state, req.cas('a', 1, '2'));
  assert.ok(hit.response.type === 'ok' && hit.response.revision === 3);
  assert.ok(miss.response.type === 'ok' && miss.response.revision === 2 && miss.next === state);
});

test('leases: put needs a granted lease; revoke deletes its keys in one revision; revoke without keys keeps it', () => {
  assert.deepEqual(apply(initialState(), req.put('a', '1', 7)).response, { type: 'error', message: MODEL_ERRORS.leaseNotFound });
  const { responses, state } = run([req.grant(7), req.put('a', '1', 7), req.put('b', '2', 7), req.put('c', '3'), req.revoke(7)]);
  assert.deepEqual(responses[0], { type: 'ok', revision: 1, result: { type: 'leaseGrant', leaseId: 7, ttlSec: 60 } });
  assert.deepEqual(responses[4], { type: 'ok', revision: 5, result: { type: 'leaseRevoke' } });
  assert.deepEqual([...state.kvs.keys()], ['c']);
  assert.deepEqual(writesOf(state).slice(-2).map((w) => `${w.type} ${w.key}@${w.revision}`), ['delete a@5', 'delete b@5']);
  const empty = run([req.grant(8), req.revoke(8)]);
  assert.equal(empty.state.revision, 1);
  assert.deepEqual(apply(empty.state, req.revoke(8)).response, { type: 'error', message: MODEL_ERRORS.leaseNotFound });
  assert.deepEqual(apply(run([req.grant(9)]).state, req.grant(9)).response, { type: 'error', message: MODEL_ERRORS.leaseExists });
});

test('a put without a lease detaches the key from its lease', () => {
  const { state } = run([req.grant(7), req.put('a', '1', 7), req.put('a', '2'), req.revoke(7)]);
  assert.deepEqual(state.kvs.get('a'), kv('a', '2', 2, 3, 2));
});

test('a txn whose chosen branch names an unknown lease fails whole and changes nothing', () => {
  const s = run([req.put('a', '1')]).state;
  const t = req.txn([], [{ type: 'put', key: 'b', value: '2' }, { type: 'put', key: 'c', value: '3', leaseId: 5 }]);
  const a = apply(s, t);
  assert.deepEqual(a.response, { type: 'error', message: MODEL_ERRORS.leaseNotFound });
  assert.equal(a.next, s);
});

test('response comparison: prevKv is compared only when asked for; header revisions always', () => {
  const s = run([req.put('a', '1')]).state;
  const plain = apply(s, req.put('a', '2')).response;
  const withPrev = apply(s, req.putPrev('a', '2')).response;
  const lie: Response = { type: 'ok', revision: 3, result: { type: 'put', prevKv: kv('a', 'zzz', 2, 2, 1) } };
  assert.equal(responseMismatch(req.put('a', '2'), lie, plain), null);
  assert.match(responseMismatch(req.putPrev('a', '2'), lie, withPrev) ?? '', /prevKv/);
  assert.match(responseMismatch(req.put('a', '2'), { ...lie, revision: 4 }, plain) ?? '', /header revision 4, model 3/);
});

test('equal states reached in different write orders get different keys (past reads differ)', () => {
  const one = run([req.put('a', '1'), req.del('a'), req.put('b', '2'), req.del('b')]).state;
  const two = run([req.put('b', '2'), req.del('b'), req.put('a', '1'), req.del('a')]).state;
  assert.equal(one.revision, two.revision);
  assert.equal(one.kvs.size + two.kvs.size, 0);
  assert.notEqual(one.key, two.key);
  const same = run([req.put('a', '1'), req.del('a'), req.put('b', '2'), req.del('b')]).state;
  assert.equal(one.key, same.key);
});

test('a store with data at start: reads of it and of its past work', () => {
  const s = initialState({ revision: 10, kvs: [kv('x', 'old', 5, 9, 3)], leases: new Map([[4, 60]]) });
  const { state } = run([req.put('x', 'new', 4)], s);
  assert.deepEqual(state.kvs.get('x'), kv('x', 'new', 5, 11, 4, 4));
  assert.deepEqual(apply(state, req.get('x', 10)).response, { type: 'ok', revision: 11, result: { type: 'range', kvs: [kv('x', 'old', 5, 9, 3)], count: 1, more: false } });
});
