import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFreelistPage, encodeFreelistPage, freelistPageCount, freelistSizeBytes } from './codec';

test('freelist size and page count follow bbolt (count escape at 0xFFFF, size/pageSize + 1 pages)', () => {
  assert.equal(freelistSizeBytes(0), 16);
  assert.equal(freelistSizeBytes(0xfffe), 16 + 8 * 0xfffe);
  assert.equal(freelistSizeBytes(0xffff), 16 + 8 * 0x10000);
  assert.equal(freelistPageCount(0, 4096), 1);
  assert.equal(freelistPageCount(510, 4096), 2); // 16 + 4080 = 4096 bytes: bbolt takes one more
  assert.equal(freelistPageCount(509, 4096), 1);
});

test('a freelist page round-trips, below and above the 0xFFFF count escape', () => {
  for (const n of [0, 1, 3, 0xfffe, 0xffff, 70000]) {
    const ids = Array.from({ length: n }, (_, i) => 2 + i * 3);
    const pages = freelistPageCount(n, 4096);
    const buf = Buffer.alloc(pages * 4096);
    encodeFreelistPage(buf, 12, ids, 4096);
    assert.equal(buf.readUInt16LE(8), 0x10);
    assert.equal(buf.readUInt32LE(12), pages - 1);
    assert.equal(buf.readUInt16LE(10), n >= 0xffff ? 0xffff : n);
    if (n >= 0xffff) assert.equal(buf.readUInt32LE(16), n);
    assert.deepEqual(decodeFreelistPage(buf, 12), ids);
  }
});

test('unsorted ids are sorted on read; a non-freelist page or an overlong count is corrupt', () => {
  const buf = Buffer.alloc(4096);
  encodeFreelistPage(buf, 2, [9, 5, 7], 4096);
  assert.deepEqual(decodeFreelistPage(buf, 2), [5, 7, 9]);
  buf.writeUInt16LE(0x02, 8);
  assert.throws(() => decodeFreelistPage(buf, 2), /invalid freelist page, page type is leaf/);
  buf.writeUInt16LE(0x10, 8);
  buf.writeUInt16LE(600, 10);
  assert.throws(() => decodeFreelistPage(buf, 2), /runs past its page/);
});
