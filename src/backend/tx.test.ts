import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB } from './db';
import type { ReadTx } from './tx';
import { inspect } from './walk';
import { PageFile } from './page-file';
import { ModelBucket, Rng, applyRandomOps, dbDump, floeDump, modelDump } from './test-model';
import { scratchDir } from './test-util';

const dir = scratchDir('tx');
const b = (s: string): Buffer => Buffer.from(s);
let n = 0;
const fileName = (): string => path.join(dir, `t${n++}.db`);

/** The raw bytes of every page a reader's snapshot reaches, read from disk (not the cache). */
function snapshotBytes(file: string, tx: ReadTx): Map<number, string> {
  const ins = inspect(tx.meta, (id) => tx.file.read(id));
  const fd = fs.openSync(file, 'r');
  const out = new Map<number, string>();
  const page = Buffer.alloc(tx.pageSize);
  for (let id = 2; id < tx.meta.pgid; id++) {
    if (ins.reachable[id] !== 1) continue;
    fs.readSync(fd, page, 0, page.length, id * tx.pageSize);
    out.set(id, page.toString('base64'));
  }
  fs.closeSync(fd);
  return out;
}

test('a reader keeps its snapshot across many commits, and no page it can reach is rewritten', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    for (let i = 0; i < 2000; i++) x.put(b(`k${i}`), Buffer.alloc(60, i & 0xff));
  });
  const reader = db.beginRead();
  const dump = floeDump(reader);
  const bytes = snapshotBytes(file, reader);
  for (let round = 0; round < 30; round++) {
    db.update((tx) => {
      const x = tx.bucket(b('x'))!;
      for (let i = round; i < 2000; i += 7) x.delete(b(`k${i}`));
      for (let i = 0; i < 300; i++) x.put(b(`n${round}-${i}`), Buffer.alloc(80, round));
    });
  }
  assert.deepEqual(floeDump(reader), dump, 'reader snapshot changed');
  const now = snapshotBytes(file, reader);
  for (const [id, content] of bytes) assert.equal(now.get(id), content, `page ${id} of an open reader's snapshot was rewritten`);
  const pending = db.stats().pendingPages;
  assert.ok(pending > 100, 'frees stay pending while the reader is open');
  reader.rollback();
  // The next write releases them for reuse.
  db.update((tx) => tx.bucket(b('x'))!.put(b('after'), b('1')));
  assert.ok(db.stats().pendingPages < pending / 10, `still pending: ${db.stats().pendingPages} of ${pending}`);
  assert.deepEqual(db.check(), []);
  db.close();
});

test('with a long-lived reader open, pages taken from the freelist after it began are reused once freed again', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    for (let i = 0; i < 500; i++) x.put(b(`k${i}`), Buffer.alloc(60, 1));
    const junk = tx.createBucket(b('junk'));
    for (let i = 0; i < 3000; i++) junk.put(b(`j${i}`), Buffer.alloc(60, 2));
  });
  db.update((tx) => tx.deleteBucket(b('junk')));
  db.update((tx) => tx.bucket(b('x'))!.put(b('k0'), b('released the junk pages')));
  const free = db.stats().freePages;
  assert.ok(free > 100, `only ${free} free pages`);
  const old = db.beginRead();
  const oldDump = floeDump(old);
  const oldBytes = snapshotBytes(file, old);
  const pages = db.stats().pageCount;
  // Each commit rewrites a few pages; without reuse between readers the free pages would run out.
  for (let round = 0; round < 150; round++) {
    db.update((tx) => tx.bucket(b('x'))!.put(b(`k${(round * 7) % 500}`), Buffer.alloc(60, round)));
    // A second reader comes and goes: the gaps on both sides of it are reusable too.
    if (round % 10 === 0) db.view((tx) => assert.ok(tx.bucket(b('x'))!.get(b('k0')) !== null));
  }
  assert.equal(db.stats().pageCount, pages, 'the file grew although freed pages could be reused');
  assert.deepEqual(floeDump(old), oldDump);
  const now = snapshotBytes(file, old);
  for (const [id, content] of oldBytes) assert.equal(now.get(id), content, `page ${id} of the old reader was rewritten`);
  old.rollback();
  assert.deepEqual(db.check(), []);
  db.close();
});

test('rollback leaves nothing behind: same file bytes, same content, same freelist', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  db.update((tx) => {
    const x = tx.createBucket(b('x'));
    for (let i = 0; i < 1000; i++) x.put(b(`k${i}`), Buffer.alloc(50, 3));
  });
  db.update((tx) => {
    for (let i = 0; i < 1000; i += 3) tx.bucket(b('x'))!.delete(b(`k${i}`));
  });
  const before = fs.readFileSync(file);
  const dump = dbDump(db);
  const stats = db.stats();
  const tx = db.beginWrite();
  const x = tx.bucket(b('x'))!;
  for (let i = 0; i < 1000; i++) x.put(b(`k${i}`), Buffer.alloc(500, 9));
  tx.createBucket(b('y')).createBucket(b('z'));
  tx.deleteBucket(b('x'));
  tx.rollback();
  assert.ok(fs.readFileSync(file).equals(before), 'rollback wrote to the file');
  assert.deepEqual(dbDump(db), dump);
  assert.deepEqual(db.check(), [], 'in-memory freelist differs from the committed one after rollback');
  const s = db.stats();
  assert.equal(s.freePages + s.pendingPages, stats.freePages + stats.pendingPages);
  assert.throws(() => x.put(b('a'), b('b')), { message: 'tx closed' });
  // update() rolls back when its function throws.
  assert.throws(() => db.update((t) => {
    t.bucket(b('x'))!.put(b('k1'), b('changed'));
    throw new Error('boom');
  }), /boom/);
  assert.deepEqual(dbDump(db), dump);
  db.close();
});

test('one write transaction at a time; read-only dbs refuse writes; closed dbs refuse everything', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  const w = db.beginWrite();
  assert.throws(() => db.beginWrite(), { code: 'ERR_TX_WRITE_OPEN' } as object);
  w.createBucket(b('x'));
  w.commit();
  assert.throws(() => w.commit(), { message: 'tx closed' });
  db.beginWrite().rollback();
  db.close();
  assert.throws(() => db.beginRead(), { message: 'database not open' });
  const ro = DB.open(file, { readOnly: true });
  assert.throws(() => ro.beginWrite(), { code: 'ERR_DB_READ_ONLY' } as object);
  assert.equal(ro.view((tx) => tx.bucket(b('x')) !== null), true);
  ro.close();
  assert.throws(() => DB.open(path.join(dir, 'missing.db'), { readOnly: true }), { code: 'ERR_NO_FILE' } as object);
});

test('reopen sees exactly the last commit; a torn newest meta falls back to the previous commit', () => {
  const file = fileName();
  let db = DB.open(file);
  db.update((tx) => tx.createBucket(b('x')).put(b('v'), b('1')));
  db.update((tx) => tx.bucket(b('x'))!.put(b('v'), b('2')));
  const txid = db.txid;
  db.close();
  db = DB.open(file);
  assert.equal(db.txid, txid);
  assert.equal(db.view((tx) => tx.bucket(b('x'))!.get(b('v'))!.toString()), '2');
  db.close();
  // Tear the newest meta (page txid % 2): flip a byte inside its checksummed part.
  const fd = fs.openSync(file, 'r+');
  const pos = (txid % 2) * 4096 + 16 + 40;
  const one = Buffer.alloc(1);
  fs.readSync(fd, one, 0, 1, pos);
  one[0]! ^= 0xff;
  fs.writeSync(fd, one, 0, 1, pos);
  fs.closeSync(fd);
  db = DB.open(file);
  assert.equal(db.txid, txid - 1);
  assert.equal(db.view((tx) => tx.bucket(b('x'))!.get(b('v'))!.toString()), '1');
  assert.deepEqual(db.check(), []);
  // Writing on from the older meta works and overwrites the torn one.
  db.update((tx) => tx.bucket(b('x'))!.put(b('v'), b('3')));
  db.close();
  db = DB.open(file);
  assert.equal(db.view((tx) => tx.bucket(b('x'))!.get(b('v'))!.toString()), '3');
  db.close();
});

test('a file that is not a bbolt file is refused with bbolt\'s message', () => {
  const file = fileName();
  fs.writeFileSync(file, Buffer.alloc(16384, 0x41));
  assert.throws(() => DB.open(file), { message: 'invalid database' });
  assert.throws(() => DB.open(file, { readOnly: true }), { message: 'invalid database' });
  fs.writeFileSync(file, Buffer.alloc(10));
  assert.throws(() => DB.open(file), { message: 'invalid database' });
});

test('commitAsync runs the same commit off the event loop and holds the write lock until done', async () => {
  const file = fileName();
  const db = DB.open(file);
  const tx = db.beginWrite();
  const x = tx.createBucket(b('x'));
  for (let i = 0; i < 5000; i++) x.put(b(`k${i}`), Buffer.alloc(100, 7));
  const reader = db.beginRead();
  const p = tx.commitAsync();
  assert.throws(() => db.beginWrite(), { code: 'ERR_TX_WRITE_OPEN' } as object);
  assert.throws(() => x.put(b('late'), b('1')), { message: 'tx closed' });
  assert.equal(db.view((t) => t.bucket(b('x'))), null, 'readers see the last commit until the meta is written');
  await p;
  assert.equal(db.view((t) => t.bucket(b('x'))!.get(b('k4999'))!.length), 100);
  assert.equal(reader.bucket(b('x')), null);
  reader.rollback();
  db.update((t) => t.bucket(b('x'))!.delete(b('k0')));
  db.close();
  const again = DB.open(file, { readOnly: true });
  assert.equal(again.view((t) => t.bucket(b('x'))!.get(b('k0'))), null);
  assert.deepEqual(again.check(), []);
  again.close();
});

for (const kind of ['array', 'hashmap'] as const) {
  test(`random operations with readers, rollbacks and reopens agree with the model (${kind})`, () => {
    const seed = Number(process.env.FLOE_SEED ?? 0) || 1 + Math.floor(Math.random() * 1e9);
    try {
      const rng = new Rng(seed);
      const file = fileName();
      let db = DB.open(file, { noSync: true, freelistType: kind, pageCacheBytes: 64 * 4096 });
      const model = new ModelBucket();
      const readers: Array<{ tx: ReadTx; dump: string[] }> = [];
      for (let round = 0; round < 40; round++) {
        const tx = db.beginWrite();
        const saved = model.clone();
        applyRandomOps(rng, model, tx, 1 + rng.int(150), round === 7);
        if (rng.chance(0.2)) {
          tx.rollback();
          model.entries.clear();
          for (const [k, v] of saved.entries) model.entries.set(k, v);
        } else {
          tx.commit();
        }
        if (rng.chance(0.3)) {
          const r = db.beginRead();
          readers.push({ tx: r, dump: floeDump(r) });
        }
        if (readers.length > 0 && rng.chance(0.3)) {
          const [r] = readers.splice(rng.int(readers.length), 1);
          assert.deepEqual(floeDump(r!.tx), r!.dump, 'reader snapshot changed');
          r!.tx.rollback();
        }
        assert.deepEqual(db.check(), []);
        assert.deepEqual(dbDump(db), modelDump(model));
        if (rng.chance(0.1)) {
          for (const r of readers) r.tx.rollback();
          readers.length = 0;
          db.close();
          db = DB.open(file, { noSync: true, freelistType: kind, pageCacheBytes: 64 * 4096 });
        }
      }
      for (const r of readers) r.tx.rollback();
      db.close();
    } catch (e) {
      console.error(`random test failed with seed ${seed} (replay: FLOE_SEED=${seed})`);
      throw e;
    }
  });
}

test('a failed data write rolls the commit back and the db carries on; a failed meta write stops the db', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  db.update((tx) => tx.createBucket(b('x')).put(b('k'), b('1')));
  const dump = dbDump(db);
  const proto = PageFile.prototype;
  const realWrite = proto.writePages;
  proto.writePages = () => {
    throw new Error('EIO (injected)');
  };
  try {
    assert.throws(() => db.update((tx) => tx.bucket(b('x'))!.put(b('k'), b('2'))), /EIO/);
  } finally {
    proto.writePages = realWrite;
  }
  assert.deepEqual(dbDump(db), dump);
  assert.deepEqual(db.check(), []);
  db.update((tx) => tx.bucket(b('x'))!.put(b('k'), b('3')));
  assert.equal(db.view((tx) => tx.bucket(b('x'))!.get(b('k'))!.toString()), '3');

  const realMeta = proto.writeAt;
  proto.writeAt = () => {
    throw new Error('EIO on meta (injected)');
  };
  try {
    assert.throws(() => db.update((tx) => tx.bucket(b('x'))!.put(b('k'), b('4'))), /EIO on meta/);
  } finally {
    proto.writeAt = realMeta;
  }
  assert.throws(() => db.beginRead(), { code: 'ERR_DB_FAILED' } as object);
  db.close();
  const again = DB.open(file, { readOnly: true });
  assert.equal(again.view((tx) => tx.bucket(b('x'))!.get(b('k'))!.toString()), '3');
  assert.deepEqual(again.check(), []);
  again.close();
});
