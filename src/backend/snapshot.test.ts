/**
 * Exported snapshots (snapshot.ts): a reader opened from the handle sees exactly the exported
 * transaction's data, whatever commits, defragments or closes the db does afterwards while the
 * exporter's reader stays open; the descriptor is the exporter's to close. Read-ahead
 * (page-file.ts) gives the same bytes as page-by-page reads, overflow pages included, and still
 * refuses a page whose header names another page; run memory reused from reader to reader
 * (run-buffers.ts) gives the same bytes, and the pool keeps no more than its bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB } from './db';
import { PageFile } from './page-file';
import { RunBuffers } from './run-buffers';
import { closeSnapshotHandle, exportSnapshot, openSnapshot } from './snapshot';
import type { ReadTx } from './tx';
import { scratchDir } from './test-util';

const dir = scratchDir('snapshot');
const b = (s: string): Buffer => Buffer.from(s);
let n = 0;
const fileName = (): string => path.join(dir, `s${n++}.db`);

/** Every entry of bucket `name` as "key=value-length:first-byte" strings, in order. */
function entries(tx: ReadTx, name: string): string[] {
  const out: string[] = [];
  const c = tx.bucket(b(name))!.cursor();
  for (let e = c.first(); e !== null; e = c.next()) out.push(`${e.key.toString()}=${e.value!.length}:${e.value![0]}`);
  return out;
}

function fill(db: DB, round: number): void {
  db.update((tx) => {
    const bk = tx.bucket(b('k')) ?? tx.createBucket(b('k'));
    for (let i = 0; i < 2000; i++) bk.put(b(`key${String(i).padStart(5, '0')}`), Buffer.alloc(100 + (i % 7) * 40, round));
    // Values spanning overflow pages.
    for (let i = 0; i < 5; i++) bk.put(b(`big${i}`), Buffer.alloc(20_000 + i * 5000, round + i));
  });
}

test('a snapshot reader sees the exported data through later commits, a defragment and a close', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  fill(db, 1);
  const tx = db.beginRead();
  const want = entries(tx, 'k');
  const handles = [exportSnapshot(tx), exportSnapshot(tx), exportSnapshot(tx)];
  // Rewrite everything, several times: without the pin, the freed pages would be reused.
  for (let round = 2; round < 6; round++) fill(db, round);
  db.update((tx2) => {
    const bk = tx2.bucket(b('k'))!;
    for (let i = 0; i < 2000; i += 3) bk.delete(b(`key${String(i).padStart(5, '0')}`));
  });
  const first = openSnapshot(handles[0]!, 1 << 20);
  assert.deepEqual(entries(first, 'k'), want);
  first.rollback();
  assert.ok(fs.fstatSync(handles[0]!.fd).isFile(), 'ending the reader leaves the descriptor to the exporter');
  closeSnapshotHandle(handles[0]!);
  assert.throws(() => fs.fstatSync(handles[0]!.fd), { code: 'EBADF' });

  const fileBefore = fs.statSync(file).ino;
  db.defragment();
  assert.notEqual(fs.statSync(file).ino, fileBefore, 'the defragment replaced the file');
  const second = openSnapshot(handles[1]!, 64 * 1024, 16);
  assert.deepEqual(entries(second, 'k'), want);
  second.rollback();

  tx.rollback();
  db.close();
  // The handle's own descriptor keeps the old file readable; nothing writes it any more.
  const third = openSnapshot(handles[2]!, 1 << 20, 3);
  assert.deepEqual(entries(third, 'k'), want);
  third.rollback();
  closeSnapshotHandle(handles[1]!);
  closeSnapshotHandle(handles[2]!);
});

test('a snapshot reader refuses writes and reads nothing past its exported size', () => {
  const db = DB.open(fileName(), { noSync: true });
  fill(db, 1);
  const tx = db.beginRead();
  const handle = exportSnapshot(tx);
  const snap = openSnapshot(handle, 1 << 20);
  assert.equal(snap.writable, false);
  assert.equal(snap.id, tx.id);
  assert.equal(snap.size, tx.size);
  assert.throws(() => snap.page(tx.meta.pgid), /out of bounds/);
  snap.rollback();
  snap.rollback(); // idempotent
  closeSnapshotHandle(handle);
  tx.rollback();
  db.close();
});

test('read-ahead gives the bytes page-by-page reads give, and checks each page it hands out', () => {
  const file = fileName();
  const db = DB.open(file, { noSync: true });
  fill(db, 1);
  fill(db, 2);
  const pages = db.stats().pageCount;
  db.close();
  const size = fs.statSync(file).size;
  const fdA = fs.openSync(file, 'r');
  const fdB = fs.openSync(file, 'r');
  try {
    const plain = new PageFile(fdA, 4096, 1 << 20, size);
    for (const ahead of [2, 5, 32]) {
      const runs = new PageFile(fdB, 4096, 64 * 1024, size, ahead);
      // Walk the file's pages from several starts; free pages have stale but valid headers.
      const ids: number[] = [];
      for (let p = 2; p < pages; p++) ids.push(p);
      ids.reverse();
      for (const pgid of [...ids.slice(0, 40), ...ids.reverse()]) {
        let want: Buffer | null = null;
        try {
          want = plain.read(pgid);
        } catch {
          want = null; // an overflow page's tail: not a page of its own
        }
        if (want === null) continue;
        assert.ok(runs.read(pgid).equals(want), `read-ahead ${ahead}: page ${pgid} differs`);
      }
    }
    assert.throws(() => new PageFile(fdB, 4096, 1024, size, 0), /read-ahead of 0 pages/);
  } finally {
    fs.closeSync(fdA);
    fs.closeSync(fdB);
  }
  // A page whose header names another page is refused, also when it arrives by read-ahead.
  const bytes = fs.readFileSync(file);
  // Two adjacent single pages (no overflow): the run read for the first holds the second.
  let at = 2;
  while (!(bytes.readUInt32LE(at * 4096 + 12) === 0 && bytes.readUInt32LE((at + 1) * 4096 + 12) === 0 && bytes.readBigUInt64LE(at * 4096) === BigInt(at) && bytes.readBigUInt64LE((at + 1) * 4096) === BigInt(at + 1))) at++;
  bytes.writeBigUInt64LE(9999n, (at + 1) * 4096);
  const bad = path.join(dir, `bad${n++}.db`);
  fs.writeFileSync(bad, bytes);
  const fd = fs.openSync(bad, 'r');
  try {
    const runs = new PageFile(fd, 4096, 1 << 20, bytes.length, 8);
    assert.doesNotThrow(() => runs.read(at));
    assert.throws(() => runs.read(at + 1), new RegExp(`page ${at + 1}: header says page 9999`));
  } finally {
    fs.closeSync(fd);
  }
});

test('readers reusing run memory read what fresh ones read; the pool keeps at most its bound', () => {
  const db = DB.open(fileName(), { noSync: true });
  fill(db, 1);
  const runBytes = 4 * 4096;
  const runs = new RunBuffers(runBytes, 3 * runBytes + 100);
  const want: string[][] = [];
  for (let round = 2; round < 6; round++) {
    const tx = db.beginRead();
    want.push(entries(tx, 'k'));
    const handle = exportSnapshot(tx);
    const snap = openSnapshot(handle, 16 * 1024, 4, runs);
    assert.deepEqual(entries(snap, 'k'), want.at(-1));
    snap.rollback();
    closeSnapshotHandle(handle);
    runs.recycle();
    assert.equal(runs.keptBytes, 3 * runBytes, 'kept 3 whole runs, the most that fit the bound');
    tx.rollback();
    fill(db, round); // the next reader reads other bytes into the same memory
  }
  const a = runs.take(runBytes);
  const c = runs.take(runBytes - 4096);
  assert.equal(runs.keptBytes, 2 * runBytes, 'a full run came from the pool; a short one did not');
  assert.equal(c.length, runBytes - 4096);
  runs.recycle();
  assert.equal(runs.keptBytes, 3 * runBytes);
  assert.ok(a.length === runBytes);
  assert.throws(() => new RunBuffers(0, 10), /runs of 0 bytes/);
  db.close();
});
