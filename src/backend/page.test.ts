import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG, branchChild, branchKey, branchSearch, isU64Max, leafFlags, leafKey, leafSearch,
  leafValue, pageCount, pageFlags, pageId, pageOverflow, pageTypeName, readU64, writePageHeader, writeU64,
} from './page';
import { Inode, Node } from './node';
import { compareKeyAt, compareKeys } from './keys';

test('u64 fields round-trip exactly up to 2^53 and the all-ones marker is recognised', () => {
  const b = Buffer.alloc(16);
  for (const v of [0, 1, 0xffffffff, 0x1_0000_0000, 2 ** 53 - 1]) {
    writeU64(b, 4, v);
    assert.equal(readU64(b, 4), v);
    assert.equal(b.readBigUInt64LE(4), BigInt(v));
  }
  b.fill(0xff, 8, 16);
  assert.ok(isU64Max(b, 8));
  assert.ok(!isU64Max(b, 0));
});

test('the page header is 16 bytes: id u64, flags u16, count u16, overflow u32 (bbolt layout)', () => {
  const b = Buffer.alloc(32);
  writePageHeader(b, 0, 0x0102030405, LEAF_PAGE_FLAG, 7, 3);
  assert.equal(b.toString('hex', 0, 16), '0504030201000000' + '0200' + '0700' + '03000000');
  assert.equal(pageId(b, 0), 0x0102030405);
  assert.equal(pageFlags(b, 0), LEAF_PAGE_FLAG);
  assert.equal(pageCount(b, 0), 7);
  assert.equal(pageOverflow(b, 0), 3);
  assert.equal(pageTypeName(0x01), 'branch');
  assert.equal(pageTypeName(0x10), 'freelist');
  assert.equal(pageTypeName(0x20), 'unknown<20>');
});

function leafPage(keys: string[], values: string[]): Buffer {
  const n = new Node(true, keys.map((k, i) => new Inode(i === 1 ? 1 : 0, Buffer.from(k), Buffer.from(values[i]!), 0, null)), 0, 0);
  const buf = Buffer.alloc(4096);
  n.writePage(buf, 0, 9, 0, keys.length, 0);
  return buf;
}

test('leaf elements are flags/pos/ksize/vsize with pos relative to the element', () => {
  const buf = leafPage(['a', 'bb', 'ccc'], ['1', '22', '']);
  assert.equal(pageFlags(buf, 0), LEAF_PAGE_FLAG);
  assert.equal(pageCount(buf, 0), 3);
  // Element 0 at offset 16: its key starts after the 3 elements (16 + 48 = 64), so pos = 48.
  assert.equal(buf.readUInt32LE(16 + 4), 48);
  assert.equal(buf.readUInt32LE(32 + 4), 48 - 16 + 2); // element 1: data at 66, element at 32
  assert.equal(leafKey(buf, 0, 1).toString(), 'bb');
  assert.equal(leafValue(buf, 0, 1).toString(), '22');
  assert.equal(leafFlags(buf, 0, 1), 1);
  assert.equal(leafValue(buf, 0, 2).length, 0);
});

test('leafSearch finds exact keys (~index) and insertion points; branchSearch picks the covering child', () => {
  const buf = leafPage(['b', 'd', 'f'], ['', '', '']);
  assert.equal(leafSearch(buf, 0, 3, Buffer.from('d')), ~1);
  assert.equal(leafSearch(buf, 0, 3, Buffer.from('a')), 0);
  assert.equal(leafSearch(buf, 0, 3, Buffer.from('c')), 1);
  assert.equal(leafSearch(buf, 0, 3, Buffer.from('g')), 3);
  const br = new Node(false, ['b', 'd', 'f'].map((k, i) => new Inode(0, Buffer.from(k), null, 10 + i, null)), 0, 0);
  const bb = Buffer.alloc(4096);
  br.writePage(bb, 0, 5, 0, 3, 0);
  assert.equal(pageFlags(bb, 0), BRANCH_PAGE_FLAG);
  assert.equal(branchKey(bb, 0, 2).toString(), 'f');
  assert.equal(branchChild(bb, 0, 2), 12);
  assert.equal(branchSearch(bb, 0, 3, Buffer.from('a')), 0); // below everything: leftmost child
  assert.equal(branchSearch(bb, 0, 3, Buffer.from('d')), 1);
  assert.equal(branchSearch(bb, 0, 3, Buffer.from('e')), 1);
  assert.equal(branchSearch(bb, 0, 3, Buffer.from('z')), 2);
});

test('key comparison agrees with Buffer.compare for short and long keys', () => {
  const cases: Array<[string, string]> = [['', ''], ['a', ''], ['a', 'b'], ['ab', 'a'], ['x'.repeat(100), 'x'.repeat(99) + 'y'], ['\xff', '\x00\x00']];
  for (const [x, y] of cases) {
    const a = Buffer.from(x, 'latin1');
    const b = Buffer.from(y, 'latin1');
    const host = Buffer.concat([Buffer.from('zz'), b, Buffer.from('q')]);
    assert.equal(Math.sign(compareKeys(a, b)), Buffer.compare(a, b), `${x} vs ${y}`);
    assert.equal(Math.sign(compareKeyAt(a, host, 2, 2 + b.length)), Buffer.compare(a, b), `${x} vs ${y} at`);
  }
});
