import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DB } from './db';
import { BatchTx } from './batch-tx';
import { scratchDir } from './test-util';

const dir = scratchDir('batch');
const b = (s: string): Buffer => Buffer.from(s);
let n = 0;
const fresh = (): DB => DB.open(path.join(dir, `b${n++}.db`), { noSync: true });

test('reads through the batch see its uncommitted writes; other readers see the last commit', () => {
  const db = fresh();
  const batch = new BatchTx(db, { intervalMs: 60_000, limit: 1000 });
  batch.createBucket(b('kv'));
  batch.put(b('kv'), b('a'), b('1'));
  batch.put(b('kv'), b('b'), b('2'));
  batch.put(b('kv'), b('c'), b('3'));
  batch.delete(b('kv'), b('b'));
  assert.equal(batch.get(b('kv'), b('a'))!.toString(), '1');
  assert.equal(batch.get(b('kv'), b('b')), null);
  assert.deepEqual(batch.range(b('kv'), b('a'), b('z'), 0).keys.map(String), ['a', 'c']);
  assert.deepEqual(batch.range(b('kv'), b('a'), b('z'), 1).keys.map(String), ['a']);
  assert.deepEqual(batch.range(b('kv'), b('c'), null, 0).values.map(String), ['3']);
  assert.equal(db.view((tx) => tx.bucket(b('kv'))), null, 'a concurrent reader sees only committed data');
  assert.equal(batch.pendingOps, 5);
  batch.commit();
  assert.equal(batch.pendingOps, 0);
  assert.equal(db.view((tx) => tx.bucket(b('kv'))!.get(b('c'))!.toString()), '3');
  assert.throws(() => batch.put(b('missing'), b('k'), b('v')), { message: 'bucket not found' });
  batch.deleteBucket(b('missing')); // tolerated, as in etcd
  batch.close();
  assert.throws(() => batch.put(b('kv'), b('k'), b('v')), { message: 'tx closed' });
  db.close();
});

test('the batch commits by itself when `limit` operations are pending', () => {
  const db = fresh();
  const batch = new BatchTx(db, { intervalMs: 60_000, limit: 10 });
  batch.createBucket(b('kv'));
  for (let i = 0; i < 8; i++) batch.put(b('kv'), b(`k${i}`), b('v'));
  assert.equal(batch.commits, 0);
  batch.put(b('kv'), b('k8'), b('v')); // the 10th operation
  assert.equal(batch.commits, 1);
  assert.equal(db.view((tx) => tx.bucket(b('kv'))!.get(b('k8'))!.toString()), 'v');
  assert.throws(() => new BatchTx(db, { limit: 0 }), /limit/);
  batch.close();
  db.close();
});

test('the batch commits by itself once intervalMs has passed since the first pending write', async () => {
  const db = fresh();
  const batch = new BatchTx(db, { intervalMs: 30, limit: 10_000 });
  batch.createBucket(b('kv'));
  batch.put(b('kv'), b('k'), b('v'));
  assert.equal(db.view((tx) => tx.bucket(b('kv'))), null);
  await sleep(150);
  assert.equal(batch.commits, 1);
  assert.equal(db.view((tx) => tx.bucket(b('kv'))!.get(b('k'))!.toString()), 'v');
  // Nothing pending: no timer, no empty commits.
  await sleep(100);
  assert.equal(batch.commits, 1);
  batch.close();
  db.close();
});
