import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './registry';
import { createEtcdMetrics } from './etcd-families';
import { countDelete, countPut, countRange, countTxn, type OpShape } from './mvcc-counts';

const b = (s: string): Buffer => Buffer.from(s);
const put = (k: string, v: string): OpShape => ({ request: 'request_put', request_put: { key: b(k), value: b(v) } });
const range: OpShape = { request: 'request_range' };
const del: OpShape = { request: 'request_delete_range' };

test('single operations count once each, never as a txn; debugging twins move alike', () => {
  const m = createEtcdMetrics(new Registry()).mvcc;
  countPut(m, b('k'), b('vv'));
  countRange(m);
  countDelete(m);
  assert.deepEqual(
    [m.putTotal.value, m.rangeTotal.value, m.deleteTotal.value, m.txnTotal.value, m.totalPutSizeBytes.value],
    [1, 1, 1, 0, 3],
  );
  assert.deepEqual([m.debugPutTotal.value, m.debugRangeTotal.value, m.debugDeleteTotal.value], [1, 1, 1]);
});

test('a txn counts its compares as ranges and only the branch that ran, nested txns included', () => {
  const m = createEtcdMetrics(new Registry()).mvcc;
  const nested = { compare: [{}], success: [put('n', '1')], failure: [del, del] };
  const req = { compare: [{}, {}], success: [put('a', '1'), range], failure: [{ request: 'request_txn', request_txn: nested }] };
  // Failure branch ran; the nested txn's failure branch ran too.
  countTxn(m, req, { succeeded: false, responses: [{ response_txn: { succeeded: false, responses: [] } }] });
  assert.equal(m.rangeTotal.value, 3); // 2 compares + 1 nested compare
  assert.equal(m.deleteTotal.value, 2);
  assert.equal(m.putTotal.value, 0);
  assert.equal(m.txnTotal.value, 1);
  // Success branch: 2 compares + 1 range, 1 put of 2 bytes.
  countTxn(m, req, { succeeded: true, responses: [] });
  assert.equal(m.rangeTotal.value, 6);
  assert.equal(m.putTotal.value, 1);
  assert.equal(m.totalPutSizeBytes.value, 2);
  assert.equal(m.txnTotal.value, 2);
});

test('a txn of one operation is not counted as a txn (etcd: more than one)', () => {
  const m = createEtcdMetrics(new Registry()).mvcc;
  countTxn(m, { compare: [], success: [put('a', 'b')], failure: [] }, { succeeded: true });
  assert.equal(m.txnTotal.value, 0);
  assert.equal(m.putTotal.value, 1);
  countTxn(m, { compare: [], success: [], failure: [] }, { succeeded: true });
  assert.equal(m.txnTotal.value, 0);
});
