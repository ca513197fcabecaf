import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB, compact } from './db';
import { dbDump, floeDump } from './test-model';
import { scratchDir } from './test-util';

const dir = scratchDir('db');
const b = (s: string): Buffer => Buffer.from(s);
let n = 0;
const fileName = (): string => path.join(dir, `d${n++}.db`);

/** A db with several buckets, nested and inline ones, overflow values, then half deleted. */
function populated(file: string): DB {
  const db = DB.open(file, { noSync: true });
  db.update((tx) => {
    for (const name of ['a', 'b', 'c']) {
      const bk = tx.createBucket(b(name));
      for (let i = 0; i < 1500; i++) bk.put(b(`${name}${i}`), Buffer.alloc(90, i & 0xff));
      bk.createBucket(b('tiny')).put(b('1'), b('2'));
      bk.setSequence(42);
    }
    tx.bucket(b('a'))!.put(b('big'), Buffer.alloc(50_000, 5));
  });
  db.update((tx) => {
    for (const name of ['a', 'b', 'c']) for (let i = 0; i < 1500; i += 2) tx.bucket(b(name))!.delete(b(`${name}${i}`));
  });
  return db;
}

test('stats: every page below the high-water mark is accounted for once', () => {
  const db = populated(fileName());
  const s = db.stats();
  assert.equal(s.pageSize, 4096);
  assert.equal(2 + s.branchPages + s.leafPages + s.overflowPages + s.freelistPages + s.freePages + s.pendingPages, s.pageCount);
  assert.equal(s.bucketCount, 6);
  assert.equal(s.inlineBucketCount, 3);
  assert.equal(s.keyCount, 3 * 750 + 3 + 1);
  assert.ok(s.depth >= 3, `depth ${s.depth}`);
  assert.ok(s.fileSizeBytes >= s.pageCount * 4096);
  assert.equal(s.txid, db.txid);
  assert.doesNotThrow(() => JSON.stringify(s));
  db.close();
});

test('fileSizeBytes is the file size stats() reports, and the size on disk, as the file grows', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  const before = db.fileSizeBytes;
  assert.equal(before, db.stats().fileSizeBytes);
  assert.equal(before, fs.statSync(file).size);
  db.update((tx) => {
    const bk = tx.createBucket(b('grow'));
    for (let i = 0; i < 2000; i++) bk.put(b(`k${i}`), Buffer.alloc(200, i & 0xff));
  });
  assert.ok(db.fileSizeBytes > before, `${db.fileSizeBytes} > ${before}`);
  assert.equal(db.fileSizeBytes, db.stats().fileSizeBytes);
  assert.equal(db.fileSizeBytes, fs.statSync(file).size);
  db.close();
});

test('open validates options and keeps a new file\'s page size', () => {
  const file = fileName();
  assert.throws(() => DB.open(file, { fillPercent: 0.05 }), /fillPercent/);
  assert.throws(() => DB.open(file, { pageSize: 3000 }), /pageSize/);
  assert.throws(() => DB.open(file, { pageCacheBytes: 0 }), /pageCacheBytes/);
  const db = DB.open(file, { pageSize: 16384, noSync: true, pageCacheBytes: 1 });
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    for (let i = 0; i < 3000; i++) x.put(b(`k${i}`), Buffer.alloc(30));
  });
  db.close();
  const again = DB.open(file, { pageSize: 4096 });
  assert.equal(again.pageSize, 16384);
  assert.equal(again.view((tx) => tx.bucket(b('x'))!.get(b('k2999'))!.length), 30);
  assert.deepEqual(again.check(), []);
  again.close();
});

test('defragment shrinks the file, keeps every bucket, key and sequence, and open readers keep their snapshot', () => {
  const file = fileName();
  const db = populated(file);
  const dump = dbDump(db);
  const before = fs.statSync(file).size;
  const reader = db.beginRead();
  db.defragment();
  assert.ok(fs.statSync(file).size < before, `${fs.statSync(file).size} >= ${before}`);
  assert.deepEqual(dbDump(db), dump);
  assert.equal(db.view((tx) => tx.bucket(b('b'))!.sequence()), 42);
  assert.deepEqual(db.check(), []);
  assert.ok(!fs.existsSync(file + '.defrag'));
  // The reader still reads the old file, page by page, even with writes on the new one.
  db.update((tx) => tx.bucket(b('a'))!.put(b('new'), b('1')));
  assert.deepEqual(floeDump(reader), dump);
  reader.rollback();
  db.update((tx) => tx.bucket(b('a'))!.delete(b('new')));
  assert.deepEqual(dbDump(db), dump);
  db.close();
  const again = DB.open(file, { readOnly: true });
  assert.deepEqual(dbDump(again), dump);
  again.close();
  assert.throws(() => {
    const d = DB.open(file, { noSync: true });
    const w = d.beginWrite();
    try {
      d.defragment();
    } finally {
      w.rollback();
      d.close();
    }
  }, { code: 'ERR_TX_WRITE_OPEN' } as object);
});

test('a stale .defrag file left by a crash is removed on open, never on a read-only open', () => {
  const file = fileName();
  populated(file).close();
  fs.writeFileSync(file + '.defrag', 'half written');
  DB.open(file, { readOnly: true }).close();
  assert.ok(fs.existsSync(file + '.defrag'));
  DB.open(file).close();
  assert.ok(!fs.existsSync(file + '.defrag'));
});

test('compact writes a smaller copy with the same content and refuses to overwrite', () => {
  const src = fileName();
  const db = populated(src);
  const dump = dbDump(db);
  db.close();
  const dst = fileName();
  compact(src, dst);
  assert.ok(fs.statSync(dst).size < fs.statSync(src).size);
  const c = DB.open(dst, { readOnly: true });
  assert.deepEqual(dbDump(c), dump);
  assert.deepEqual(c.check(), []);
  c.close();
  assert.throws(() => compact(src, dst), /already exists/);
});
