import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DB } from './db';
import type { Cursor, Entry } from './cursor';
import { scratchDir } from './test-util';

const dir = scratchDir('cursor');
const k = (i: number): Buffer => Buffer.from(`k${String(i).padStart(5, '0')}`);
const B = Buffer.from('b');

function forward(c: Cursor): string[] {
  const out: string[] = [];
  for (let e: Entry | null = c.first(); e !== null; e = c.next()) out.push(e.key.toString());
  return out;
}
function backward(c: Cursor): string[] {
  const out: string[] = [];
  for (let e: Entry | null = c.last(); e !== null; e = c.prev()) out.push(e.key.toString());
  return out;
}

test('cursor walks every key both ways across many pages, and seek lands on the first key >= target', () => {
  const db = DB.open(path.join(dir, 'a.db'), { noSync: true });
  db.update((tx) => {
    const b = tx.createBucket(B);
    for (let i = 0; i < 3000; i += 2) b.put(k(i), Buffer.alloc(40, 1));
  });
  db.view((tx) => {
    const c = tx.bucket(B)!.cursor();
    const keys = forward(c);
    assert.equal(keys.length, 1500);
    assert.deepEqual(keys, [...keys].sort());
    assert.deepEqual(backward(c), [...keys].reverse());
    assert.equal(c.seek(k(1001))!.key.toString(), k(1002).toString());
    assert.equal(c.seek(k(1002))!.key.toString(), k(1002).toString());
    assert.equal(c.next()!.key.toString(), k(1004).toString());
    assert.equal(c.prev()!.key.toString(), k(1002).toString());
    assert.equal(c.seek(Buffer.from('a'))!.key.toString(), k(0).toString());
    assert.equal(c.seek(k(9999)), null);
    // After running off the end, prev() returns the last entry.
    assert.equal(c.prev()!.key.toString(), k(2998).toString());
  });
  db.close();
});

test('inside a write tx the cursor skips leaves emptied by deletes, in both directions', () => {
  const db = DB.open(path.join(dir, 'b.db'), { noSync: true });
  db.update((tx) => {
    const b = tx.createBucket(B);
    for (let i = 0; i < 2000; i++) b.put(k(i), Buffer.alloc(40, 2));
  });
  const tx = db.beginWrite();
  const b = tx.bucket(B)!;
  // Delete a long middle stretch: whole leaves become empty nodes until commit.
  for (let i = 100; i < 1900; i++) b.delete(k(i));
  b.put(k(1000), Buffer.from('lonely'));
  const expected = [...Array.from({ length: 100 }, (_, i) => k(i).toString()), k(1000).toString(), ...Array.from({ length: 100 }, (_, i) => k(1900 + i).toString())];
  assert.deepEqual(forward(b.cursor()), expected);
  assert.deepEqual(backward(b.cursor()), [...expected].reverse());
  assert.equal(b.cursor().seek(k(500))!.key.toString(), k(1000).toString());
  assert.equal(b.cursor().seek(k(1001))!.key.toString(), k(1900).toString());
  tx.commit();
  db.view((rtx) => assert.deepEqual(forward(rtx.bucket(B)!.cursor()), expected));
  assert.deepEqual(db.check(), []);
  db.close();
});

test('an empty bucket has no first, last or seek result; nested buckets come back with value null', () => {
  const db = DB.open(path.join(dir, 'c.db'), { noSync: true });
  db.update((tx) => {
    const b = tx.createBucket(B);
    assert.equal(b.cursor().first(), null);
    assert.equal(b.cursor().last(), null);
    assert.equal(b.cursor().seek(Buffer.from('x')), null);
    b.createBucket(Buffer.from('n'));
    b.put(Buffer.from('m'), Buffer.from('v'));
  });
  db.view((tx) => {
    const c = tx.bucket(B)!.cursor();
    assert.deepEqual(c.first(), { key: Buffer.from('m'), value: Buffer.from('v') });
    assert.deepEqual(c.next(), { key: Buffer.from('n'), value: null });
    assert.equal(c.next(), null);
    assert.deepEqual(tx.cursor().first(), { key: B, value: null });
  });
  const tx = db.beginRead();
  const c = tx.bucket(B)!.cursor();
  tx.rollback();
  assert.throws(() => c.first(), /tx closed/);
  db.close();
});

/** scanFrom(start) as (key, value) strings, stopping after `limit` entries. */
function scanned(c: Cursor, start: Buffer, limit = Infinity): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  c.scanFrom(start, (kb, ka, kl, vb, va, vl) => {
    if (out.length === limit) return false;
    out.push([kb.toString('latin1', ka, ka + kl), vb.toString('latin1', va, va + vl)]);
    return true;
  });
  return out;
}

/** The same through seek() and next(), without nested-bucket entries. */
function walked(c: Cursor, start: Buffer, limit = Infinity): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let e = c.seek(start); e !== null && out.length < limit; e = c.next()) {
    if (e.value !== null) out.push([e.key.toString('latin1'), e.value.toString('latin1')]);
  }
  return out;
}

test('scanFrom visits what seek and next visit, on pages and on changed nodes, skipping nested buckets', () => {
  const db = DB.open(path.join(dir, 'scan.db'), { noSync: true });
  db.update((tx) => {
    const b = tx.createBucket(B);
    for (let i = 0; i < 3000; i++) b.put(k(i), Buffer.from(`v${i}`.repeat(1 + (i % 7))));
    b.createBucket(k(1500.5)); // a nested bucket among the keys: never visited
  });
  const starts = [Buffer.from('a'), k(0), k(777), Buffer.from('k01500.'), k(2999), k(5000)];
  db.view((tx) => {
    const b = tx.bucket(B)!;
    for (const s of starts) {
      assert.deepEqual(scanned(b.cursor(), s), walked(b.cursor(), s), `from ${s}`);
      assert.deepEqual(scanned(b.cursor(), s, 5), walked(b.cursor(), s, 5), `from ${s}, 5 entries`);
    }
  });
  // Inside a write transaction: changed leaves are nodes, emptied ones are skipped.
  const tx = db.beginWrite();
  const b = tx.bucket(B)!;
  for (let i = 100; i < 1400; i++) b.delete(k(i));
  for (let i = 2000; i < 2100; i++) b.put(k(i), Buffer.from('changed'));
  for (const s of starts) assert.deepEqual(scanned(b.cursor(), s), walked(b.cursor(), s), `write tx, from ${s}`);
  assert.equal(scanned(b.cursor(), k(2050), 1)[0]![1], 'changed');
  tx.rollback();
  db.close();
});
