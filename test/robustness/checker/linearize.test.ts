/**
 * Hand-written histories for the linearizability checker: each one either has a linearization
 * (verdict 'ok') or is a known anomaly (verdict 'illegal', with the blocked operation named).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { kv, lost, op, req, res } from './builders';
import type { Operation } from './history';
import { checkLinearizable, type CheckResult } from './linearize';
import { MODEL_ERRORS } from './model';

function verdict(ops: Operation[]): CheckResult['verdict'] {
  return checkLinearizable(ops, { timeLimitMs: 5_000 }).verdict;
}

test('a sequential history of puts and gets is linearizable and its writes are reported', () => {
  const r = checkLinearizable([
    op(1, 0, 10, req.put('a', '1'), res.put(2)),
    op(1, 20, 30, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)])),
    op(2, 40, 50, req.put('a', '2'), res.put(3)),
    op(2, 60, 70, req.get('a'), res.range(3, [kv('a', '2', 2, 3, 2)])),
  ]);
  assert.equal(r.verdict, 'ok');
  assert.ok(r.verdict === 'ok');
  assert.deepEqual(r.linearization, [0, 1, 2, 3]);
  assert.deepEqual(r.writes.map((w) => `${w.key}=${w.kv?.value}@${w.revision}`), ['a=1@2', 'a=2@3']);
});

test('concurrent puts may take effect in either order; reads inside the overlap may see either', () => {
  // Client 2's put returned revision 2, so it went first, although it was called later.
  const ops = [
    op(1, 0, 100, req.put('a', '1'), res.put(3)),
    op(2, 10, 50, req.put('a', '2'), res.put(2)),
    op(3, 20, 30, req.get('a'), res.range(2, [kv('a', '2', 2, 2, 1)])),
    op(3, 120, 130, req.get('a'), res.range(3, [kv('a', '1', 2, 3, 2)])),
  ];
  const r = checkLinearizable(ops);
  assert.ok(r.verdict === 'ok');
  assert.deepEqual(r.linearization, [1, 2, 0, 3]);
});

test('stale read: a get that starts after a put returned does not see it', () => {
  const put = op(1, 0, 10, req.put('a', '1'), res.put(2));
  const r = checkLinearizable([put, op(2, 20, 30, req.get('a'), res.range(1, []))]);
  assert.ok(r.verdict === 'illegal');
  assert.equal(r.blockedOp, 1);
  assert.deepEqual(r.longestPrefix, [0]);
  assert.match(r.explanation, /op 1 \(client 2, range a/);
  // The same stale answer with a fresh-looking header revision is just as wrong.
  assert.equal(verdict([put, op(2, 20, 30, req.get('a'), res.range(2, []))]), 'illegal');
  // Overlapping the put, either answer is fine.
  assert.equal(verdict([put, op(2, 5, 30, req.get('a'), res.range(1, []))]), 'ok');
});

test('lost write: after two acknowledged puts a read sees the first one as current', () => {
  const ops = [
    op(1, 0, 10, req.put('a', '1'), res.put(2)),
    op(1, 20, 30, req.put('a', '2'), res.put(3)),
    op(2, 40, 50, req.get('a'), res.range(3, [kv('a', '1', 2, 2, 1)])),
  ];
  assert.equal(verdict(ops), 'illegal');
});

test('duplicated write: one put seen as applied twice, or two puts claiming one revision', () => {
  const twice = [
    op(1, 0, 10, req.put('a', '1'), res.put(2)),
    op(2, 20, 30, req.get('a'), res.range(3, [kv('a', '1', 2, 3, 2)])),
  ];
  assert.equal(verdict(twice), 'illegal');
  const sameRevision = [op(1, 0, 10, req.put('a', '1'), res.put(2)), op(2, 0, 10, req.put('b', '2'), res.put(2))];
  assert.equal(verdict(sameRevision), 'illegal');
});

test('read of an uncommitted value: a refused put, or a put not yet called, is never visible', () => {
  const refused = [
    op(1, 0, 10, req.put('a', '1', 9), res.error(MODEL_ERRORS.leaseNotFound)),
    op(2, 20, 30, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1, 9)])),
  ];
  assert.equal(verdict(refused), 'illegal');
  assert.equal(verdict(refused.slice(0, 1)), 'ok', 'the refusal itself matches the model');
  const fromTheFuture = [
    op(2, 0, 10, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)])),
    op(1, 20, 30, req.put('a', '1'), res.put(2)),
  ];
  assert.equal(verdict(fromTheFuture), 'illegal');
});

test('range with rangeEnd and limit: exact kvs, count and more are checked', () => {
  const setup = [op(1, 0, 10, req.put('a', '1'), res.put(2)), op(1, 20, 30, req.put('b', '2'), res.put(3)), op(1, 40, 50, req.put('c', '3'), res.put(4))];
  const good = op(2, 60, 70, req.range('a', 'c', 1), res.range(4, [kv('a', '1', 2, 2, 1)], 2, true));
  assert.equal(verdict([...setup, good]), 'ok');
  assert.equal(verdict([...setup, op(2, 60, 70, req.range('a', 'c', 1), res.range(4, [kv('a', '1', 2, 2, 1)], 3, true))]), 'illegal');
  assert.equal(verdict([...setup, op(2, 60, 70, req.range('a', '\0'), res.range(4, [kv('a', '1', 2, 2, 1), kv('c', '3', 4, 4, 1)]))]), 'illegal');
});

test('a get of a past revision must show that revision, not the current one', () => {
  const setup = [op(1, 0, 10, req.put('a', '1'), res.put(2)), op(1, 20, 30, req.put('a', '2'), res.put(3))];
  assert.equal(verdict([...setup, op(2, 40, 50, req.get('a', 2), res.range(3, [kv('a', '1', 2, 2, 1)]))]), 'ok');
  assert.equal(verdict([...setup, op(2, 40, 50, req.get('a', 2), res.range(3, [kv('a', '2', 2, 3, 2)]))]), 'illegal');
  assert.equal(verdict([...setup, op(2, 40, 50, req.get('a', 9), res.error(MODEL_ERRORS.futureRevision))]), 'ok');
});

test('delete: the deleted count and prev kvs must match; deleting nothing keeps the revision', () => {
  const put = op(1, 0, 10, req.put('a', '1'), res.put(2));
  assert.equal(verdict([put, op(1, 20, 30, req.del('a', undefined, true), res.del(3, 1, [kv('a', '1', 2, 2, 1)]))]), 'ok');
  assert.equal(verdict([put, op(1, 20, 30, req.del('a'), res.del(3, 0))]), 'illegal');
  assert.equal(verdict([put, op(1, 20, 30, req.del('zz'), res.del(2, 0))]), 'ok');
  assert.equal(verdict([put, op(1, 20, 30, req.del('zz'), res.del(3, 0))]), 'illegal');
  assert.equal(verdict([put, op(1, 20, 30, req.del('a', undefined, true), res.del(3, 1, [kv('a', 'x', 2, 2, 1)]))]), 'illegal');
});

test('multi-op txn: the branch taken and every inner result are checked', () => {
  const put = op(1, 0, 10, req.put('a', '1'), res.put(2));
  const t = req.txn([{ key: 'a', target: 'value', result: '=', operand: '1' }], [{ type: 'put', key: 'b', value: 'x' }, { type: 'range', key: 'b' }], [{ type: 'range', key: 'a' }]);
  const ok = res.txn(3, true, [{ type: 'put', prevKv: null }, { type: 'range', kvs: [kv('b', 'x', 3, 3, 1)], count: 1, more: false }]);
  assert.equal(verdict([put, op(2, 20, 30, t, ok)]), 'ok');
  assert.equal(verdict([put, op(2, 20, 30, t, res.txn(2, false, [{ type: 'range', kvs: [kv('a', '1', 2, 2, 1)], count: 1, more: false }]))]), 'illegal');
  // Concurrent with the put, the else branch is a valid outcome too.
  assert.equal(verdict([put, op(2, 5, 30, t, res.txn(1, false, [{ type: 'range', kvs: [], count: 0, more: false }]))]), 'ok');
});

test('compare-and-set: two CAS on the same mod revision cannot both succeed', () => {
  const put = op(1, 0, 10, req.put('a', '0'), res.put(2));
  const casA = op(2, 20, 40, req.cas('a', 2, 'A'), res.txn(3, true, [{ type: 'put', prevKv: null }]));
  const casBWins = op(3, 20, 40, req.cas('a', 2, 'B'), res.txn(4, true, [{ type: 'put', prevKv: null }]));
  const casBLoses = op(3, 20, 40, req.cas('a', 2, 'B'), res.txn(3, false));
  assert.equal(verdict([put, casA, casBLoses]), 'ok');
  assert.equal(verdict([put, casA, casBWins]), 'illegal');
});

test('put with lease and lease revoke: revoked keys are gone and the revoke took a revision', () => {
  const grant = op(1, 0, 10, req.grant(5), res.grant(1, 5));
  const put = op(1, 20, 30, req.put('a', '1', 5), res.put(2));
  const revoke = op(1, 40, 50, req.revoke(5), res.revoke(3));
  assert.equal(verdict([grant, put, revoke, op(2, 60, 70, req.get('a'), res.range(3, []))]), 'ok');
  assert.equal(verdict([grant, put, revoke, op(2, 60, 70, req.get('a'), res.range(3, [kv('a', '1', 2, 2, 1, 5)]))]), 'illegal');
  assert.equal(verdict([grant, put, op(1, 40, 50, req.revoke(5), res.revoke(2))]), 'illegal', 'a revoke that deletes keys bumps the revision');
  assert.equal(verdict([grant, op(2, 20, 30, req.grant(5), res.error(MODEL_ERRORS.leaseExists))]), 'ok');
  assert.equal(verdict([grant, op(2, 20, 30, req.grant(5), res.grant(1, 5))]), 'illegal');
});

test('a failed put may have happened: a later read may see it or not, but not both in turn', () => {
  const failed = lost(1, 0, req.put('a', '1'));
  const sees = op(2, 20, 30, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)]));
  const seesNot = (t: number): Operation => op(2, t, t + 10, req.get('a'), res.range(1, []));
  const taken = checkLinearizable([failed, sees]);
  assert.ok(taken.verdict === 'ok');
  assert.deepEqual(taken.linearization, [0, 1], 'the failed put is linearized when it was seen');
  const skipped = checkLinearizable([failed, seesNot(20)]);
  assert.ok(skipped.verdict === 'ok');
  assert.deepEqual(skipped.linearization, [1]);
  assert.equal(verdict([failed, seesNot(20), sees]), 'ok', 'not yet, then applied');
  assert.equal(verdict([failed, op(2, 20, 30, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)])), seesNot(40)]), 'illegal');
});

test('a failed write must have happened when a later revision leaves a gap only it can fill', () => {
  const failed = lost(1, 0, req.put('a', '1'));
  const putB = op(2, 20, 30, req.put('b', '2'), res.put(3));
  assert.equal(verdict([failed, putB]), 'ok');
  assert.equal(verdict([failed, putB, op(2, 40, 50, req.get('a'), res.range(3, []))]), 'illegal');
  assert.equal(verdict([failed, putB, op(2, 40, 50, req.get('a'), res.range(3, [kv('a', '1', 2, 2, 1)]))]), 'ok');
  assert.equal(verdict([putB]), 'illegal', 'without any failed write revision 2 has no creator');
});

test('a failed lease grant counts as granted only if something needs it', () => {
  const grant = lost(1, 0, req.grant(5));
  const usesIt = op(2, 20, 30, req.put('a', '1', 5), res.put(2));
  const refused = op(2, 20, 30, req.put('a', '1', 5), res.error(MODEL_ERRORS.leaseNotFound));
  assert.equal(verdict([grant, usesIt]), 'ok');
  assert.equal(verdict([grant, refused]), 'ok');
  assert.equal(verdict([grant, usesIt, op(2, 40, 50, req.put('b', '2', 5), res.error(MODEL_ERRORS.leaseNotFound))]), 'illegal');
});

test('a failed txn may have taken effect as a whole, never in part', () => {
  const t = lost(1, 0, req.txn([], [{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }]));
  assert.equal(verdict([t, op(2, 20, 30, req.range('a', 'c'), res.range(2, [kv('a', '1', 2, 2, 1), kv('b', '2', 2, 2, 1)]))]), 'ok');
  assert.equal(verdict([t, op(2, 20, 30, req.range('a', 'c'), res.range(2, [kv('a', '1', 2, 2, 1)]))]), 'illegal');
});

test('operations that touch in time (one returns when the other is called) count as concurrent', () => {
  const ops = [op(1, 0, 10, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)])), op(2, 10, 20, req.put('a', '1'), res.put(2))];
  assert.equal(verdict(ops), 'ok');
  assert.equal(verdict([ops[0] as Operation, op(2, 11, 20, req.put('a', '1'), res.put(2))]), 'illegal');
});

test('a complete write record pins failed writes: one it does not contain did not happen', () => {
  const failed = lost(1, 0, req.put('a', '1'));
  const sees = op(2, 20, 30, req.get('a'), res.range(2, [kv('a', '1', 2, 2, 1)]));
  const record = [{ revision: 2, type: 'put' as const, key: 'a', kv: kv('a', '1', 2, 2, 1), prevKv: null }];
  assert.equal(checkLinearizable([failed, sees], { writes: record }).verdict, 'ok');
  assert.equal(checkLinearizable([failed, sees], { writes: [] }).verdict, 'illegal');
});

test('the time limit turns a search that would take too long into "unknown"', () => {
  // 18 failed puts on distinct keys, then a read at revision 21, which would need 19 writes:
  // proving no order works means trying every order, far beyond the limit.
  const ops: Operation[] = [];
  for (let i = 0; i < 18; i++) ops.push(lost(i, 0, req.put(`k${i}`, `v${i}`)));
  ops.push(op(99, 10, 20, req.get('zz'), res.range(21, [])));
  const r = checkLinearizable(ops, { timeLimitMs: 100 });
  assert.equal(r.verdict, 'unknown');
  assert.ok(r.elapsedMs < 2_000, `stopped after ${r.elapsedMs} ms`);
});

test('a malformed history is refused loudly', () => {
  assert.throws(() => checkLinearizable([op(1, 10, 5, req.get('a'), res.range(1, []))]), /returns \(5\) before its call/);
  assert.throws(() => checkLinearizable([{ ...lost(1, 0, req.get('a')), response: res.range(1, []) }]), /unknown outcome has no response/);
});
