import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DB } from './db';
import { MAX_KEY_SIZE_BYTES } from './page';
import { scratchDir } from './test-util';

const dir = scratchDir('bucket');
const b = (s: string): Buffer => Buffer.from(s);
let n = 0;
const fresh = (): DB => DB.open(path.join(dir, `t${n++}.db`), { noSync: true });

test('put/get/delete, overwrite, and missing keys', () => {
  const db = fresh();
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    x.put(b('a'), b('1'));
    x.put(b('b'), b('2'));
    x.put(b('a'), b('3'));
    x.put(b('empty'), Buffer.alloc(0));
    assert.equal(x.get(b('a'))!.toString(), '3');
    x.delete(b('b'));
    x.delete(b('never-there'));
    assert.equal(x.get(b('b')), null);
  });
  db.view((tx) => {
    const x = tx.bucket(b('x'))!;
    assert.equal(x.get(b('a'))!.toString(), '3');
    assert.equal(x.get(b('b')), null);
    assert.equal(x.get(b('empty'))!.length, 0);
    assert.equal(tx.bucket(b('y')), null);
  });
  db.close();
});

test('errors carry bbolt messages: exists, not found, name required, key required, incompatible, not writable', () => {
  const db = fresh();
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    assert.throws(() => tx.createBucket(b('x')), { message: 'bucket already exists', code: 'ERR_BUCKET_EXISTS' } as object);
    assert.throws(() => tx.createBucket(Buffer.alloc(0)), { message: 'bucket name required' });
    assert.throws(() => tx.deleteBucket(b('nope')), { message: 'bucket not found' });
    assert.throws(() => x.put(Buffer.alloc(0), b('v')), { message: 'key required' });
    x.createBucket(b('sub'));
    x.put(b('plain'), b('v'));
    assert.throws(() => x.put(b('sub'), b('v')), { message: 'incompatible value' });
    assert.throws(() => x.delete(b('sub')), { message: 'incompatible value' });
    assert.throws(() => x.createBucket(b('plain')), { message: 'incompatible value' });
    assert.throws(() => x.deleteBucket(b('plain')), { message: 'incompatible value' });
    assert.equal(x.get(b('sub')), null, 'get of a bucket name is null');
    assert.equal(x.bucket(b('plain')), null);
    assert.equal(tx.createBucketIfNotExists(b('x')).get(b('plain'))!.toString(), 'v');
  });
  db.view((tx) => {
    assert.throws(() => tx.bucket(b('x'))!.put(b('k'), b('v')), { message: 'tx not writable' });
  });
  db.close();
});

test('keys up to 32768 bytes are accepted and 32769 refused; 2^31-1 byte values refused; 1.5 MiB values round-trip', () => {
  const db = fresh();
  const bigKey = Buffer.alloc(MAX_KEY_SIZE_BYTES, 0x6b);
  const big = Buffer.alloc(1_572_864);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    x.put(bigKey, b('edge'));
    assert.throws(() => x.put(Buffer.alloc(MAX_KEY_SIZE_BYTES + 1, 1), b('v')), { message: 'key too large' });
    const huge = new Uint8Array(1);
    Object.defineProperty(huge, 'length', { value: 2 ** 31 - 1 });
    assert.throws(() => x.put(b('h'), huge), { message: 'value too large' });
    x.put(b('big'), big);
    for (let i = 0; i < 300; i++) x.put(b(`k${i}`), Buffer.alloc(100, i));
  });
  db.view((tx) => {
    const x = tx.bucket(b('x'))!;
    assert.equal(x.get(bigKey)!.toString(), 'edge');
    assert.ok(x.get(b('big'))!.equals(big));
  });
  assert.deepEqual(db.check(), []);
  const s = db.stats();
  assert.ok(s.overflowPages >= 384 + 8, `overflow pages ${s.overflowPages}`);
  db.close();
});

test('a small bucket is inline; it moves to pages when it outgrows pageSize/4 and back when it shrinks', () => {
  const db = fresh();
  const rootOf = (): number => db.view((tx) => tx.bucket(b('s'))!.root);
  db.update((tx) => {
    const s = tx.createBucket(b('s'));
    for (let i = 0; i < 5; i++) s.put(b(`k${i}`), Buffer.alloc(20, i));
  });
  assert.equal(rootOf(), 0);
  assert.equal(db.stats().inlineBucketCount, 1);
  db.update((tx) => {
    for (let i = 5; i < 40; i++) tx.bucket(b('s'))!.put(b(`k${i}`), Buffer.alloc(20, i));
  });
  assert.notEqual(rootOf(), 0);
  assert.equal(db.stats().inlineBucketCount, 0);
  db.update((tx) => {
    for (let i = 3; i < 40; i++) tx.bucket(b('s'))!.delete(b(`k${i}`));
  });
  assert.equal(rootOf(), 0, 'shrunk bucket is inline again');
  assert.deepEqual(db.check(), [], 'its pages were freed');
  db.view((tx) => assert.deepEqual(collect(tx.bucket(b('s'))!), ['k0', 'k1', 'k2']));
  // A bucket holding a sub-bucket is never inline, however small.
  db.update((tx) => tx.bucket(b('s'))!.createBucket(b('child')).put(b('q'), b('r')));
  assert.notEqual(rootOf(), 0);
  db.view((tx) => assert.equal(tx.bucket(b('s'))!.bucket(b('child'))!.root, 0, 'the child itself is inline'));
  assert.deepEqual(db.check(), []);
  db.close();
});

function collect(bk: { forEach(fn: (k: Buffer, v: Buffer | null) => void): void }): string[] {
  const out: string[] = [];
  bk.forEach((k) => out.push(k.toString()));
  return out;
}

test('deleting a bucket removes it and everything nested, and frees their pages', () => {
  const db = fresh();
  db.update((tx) => {
    const a = tx.createBucket(b('a'));
    for (let i = 0; i < 500; i++) a.put(b(`k${i}`), Buffer.alloc(64, 1));
    const nested = a.createBucket(b('n'));
    for (let i = 0; i < 500; i++) nested.put(b(`k${i}`), Buffer.alloc(64, 2));
    nested.createBucket(b('deeper')).put(b('x'), b('y'));
    tx.createBucket(b('keep')).put(b('1'), b('2'));
  });
  const before = db.stats();
  db.update((tx) => {
    const a = tx.bucket(b('a'))!;
    const nested = a.bucket(b('n'))!;
    tx.deleteBucket(b('a'));
    assert.equal(tx.bucket(b('a')), null);
    assert.throws(() => nested.put(b('z'), b('z')), { message: 'bucket not found' });
  });
  const after = db.stats();
  assert.equal(after.bucketCount, 1);
  assert.ok(after.leafPages < before.leafPages);
  assert.deepEqual(db.check(), []);
  db.update((tx) => tx.createBucket(b('a')).put(b('again'), b('1')));
  db.view((tx) => assert.deepEqual(collect(tx.bucket(b('a'))!), ['again']));
  db.close();
});

test('sequence numbers persist for inline and paged buckets, and across reopen', () => {
  const file = path.join(dir, 'seq.db');
  let db = DB.open(file, { noSync: true });
  db.update((tx) => {
    const s = tx.createBucket(b('inline'));
    assert.equal(s.nextSequence(), 1);
    assert.equal(s.nextSequence(), 2);
    const p = tx.createBucket(b('paged'));
    for (let i = 0; i < 200; i++) p.put(b(`k${i}`), Buffer.alloc(50));
    p.setSequence(2 ** 40);
  });
  db.update((tx) => assert.equal(tx.bucket(b('inline'))!.nextSequence(), 3));
  db.close();
  db = DB.open(file, { noSync: true });
  db.view((tx) => {
    assert.equal(tx.bucket(b('inline'))!.sequence(), 3);
    assert.equal(tx.bucket(b('paged'))!.sequence(), 2 ** 40);
    assert.equal(tx.bucket(b('inline'))!.root, 0);
  });
  assert.deepEqual(db.check(), []);
  db.close();
});
