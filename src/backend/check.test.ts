import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB } from './db';
import { branchChild, pageCount, readU64, writeU64 } from './page';
import { scratchDir } from './test-util';

const dir = scratchDir('check');
const PS = 4096;
let n = 0;

/** A file with bucket x (a 2-level tree of 400 keys), some free pages, closed. Returns facts. */
function build(): { file: string; root: number; leaves: number[]; freelist: number; pgid: number } {
  const file = path.join(dir, `c${n++}.db`);
  const db = DB.open(file, { noSync: true });
  db.update((tx) => {
    const x = tx.createBucket(Buffer.from('x'));
    for (let i = 0; i < 400; i++) x.put(Buffer.from(`k${String(i).padStart(4, '0')}`), Buffer.alloc(60, i & 0xff));
  });
  db.update((tx) => tx.bucket(Buffer.from('x'))!.put(Buffer.from('k0001'), Buffer.from('v')));
  db.update((tx) => tx.bucket(Buffer.from('x'))!.put(Buffer.from('k0002'), Buffer.from('v')));
  assert.deepEqual(db.check(), []);
  const root = db.view((tx) => tx.bucket(Buffer.from('x'))!.root);
  const { freelist, pgid } = db.view((tx) => ({ freelist: tx.meta.freelist!, pgid: tx.meta.pgid }));
  db.close();
  const page = readPage(file, root);
  const leaves = Array.from({ length: pageCount(page, 0) }, (_, i) => branchChild(page, 0, i));
  assert.ok(leaves.length >= 3);
  return { file, root, leaves, freelist, pgid };
}

function readPage(file: string, id: number): Buffer {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(PS);
  fs.readSync(fd, buf, 0, PS, id * PS);
  fs.closeSync(fd);
  return buf;
}
function writePage(file: string, id: number, buf: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, buf, 0, PS, id * PS);
  fs.closeSync(fd);
}
function problems(file: string): string[] {
  const db = DB.open(file, { readOnly: true });
  try {
    return db.check();
  } finally {
    db.close();
  }
}

test('a leaf page with a wrong type is reported, not thrown', () => {
  const f = build();
  const p = readPage(f.file, f.leaves[1]!);
  p.writeUInt16LE(0x20, 8);
  writePage(f.file, f.leaves[1]!, p);
  const found = problems(f.file);
  assert.ok(found.some((s) => s === `page ${f.leaves[1]}: invalid type: unknown<20>`), found.join('\n'));
});

test('a page referenced twice and the page it orphaned are both reported', () => {
  const f = build();
  const p = readPage(f.file, f.root);
  writeU64(p, 16 + 16 + 8, f.leaves[0]!); // element 1's child := element 0's child
  writePage(f.file, f.root, p);
  const found = problems(f.file);
  assert.ok(found.includes(`page ${f.leaves[0]}: multiple references`), found.join('\n'));
  assert.ok(found.includes(`page ${f.leaves[1]}: unreachable unfreed`), found.join('\n'));
});

test('keys out of order within a page, and below their branch key, are reported', () => {
  const f = build();
  const p = readPage(f.file, f.leaves[1]!);
  // Keys are 'kNNNN': make the second key of the leaf sort before the first.
  const e1 = 16 + 16;
  const k1 = e1 + p.readUInt32LE(e1 + 4);
  p[k1] = 0x30; // 'kNNNN' -> '0NNNN'
  writePage(f.file, f.leaves[1]!, p);
  const found = problems(f.file);
  assert.ok(found.includes(`page ${f.leaves[1]}: keys out of order at element 1`), found.join('\n'));
  assert.ok(found.includes(`page ${f.leaves[1]}: key at element 1 sorts before its branch key`), found.join('\n'));
});

test('a reachable page on the freelist, and a child beyond the high-water mark, are reported', () => {
  const f = build();
  const fl = readPage(f.file, f.freelist);
  const count = fl.readUInt16LE(10);
  assert.ok(count > 0, 'the fixture has free pages');
  // Replace the first free id with a live leaf (ids stay sorted enough: check sorts on read).
  writeU64(fl, 16, f.leaves[2]!);
  writePage(f.file, f.freelist, fl);
  const root = readPage(f.file, f.root);
  writeU64(root, 16 + 8, f.pgid + 5); // element 0's child beyond the end
  writePage(f.file, f.root, root);
  const found = problems(f.file);
  assert.ok(found.includes(`page ${f.leaves[2]}: reachable freed`), found.join('\n'));
  assert.ok(found.includes(`page ${f.pgid + 5}: out of bounds: high-water mark ${f.pgid}`), found.join('\n'));
  assert.ok(found.some((s) => /unreachable unfreed/.test(s)), 'the dropped free page and the cut-off leaf are unaccounted for');
});

test('a free page listed twice is reported', () => {
  const f = build();
  const fl = readPage(f.file, f.freelist);
  const count = fl.readUInt16LE(10);
  assert.ok(count >= 2);
  writeU64(fl, 16 + 8, readU64(fl, 16));
  writePage(f.file, f.freelist, fl);
  const found = problems(f.file);
  assert.ok(found.includes(`page ${readU64(fl, 16)}: already freed`), found.join('\n'));
  // A writable open refuses such a freelist instead of building on it.
  assert.throws(() => DB.open(f.file), /freelist holds an invalid or repeated page id/);
});
