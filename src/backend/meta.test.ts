import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloeError } from '../pkg';
import { decodeMeta, encodeMetaPage, fnv1a64, metaProblem, type Meta } from './meta';

const meta: Meta = { pageSize: 4096, flags: 0, root: 3, sequence: 0, freelist: 2, pgid: 4, txid: 7 };

test('FNV-1a 64 matches the published test vectors', () => {
  assert.equal(fnv1a64(Buffer.from(''), 0, 0), 0xcbf29ce484222325n);
  assert.equal(fnv1a64(Buffer.from('a'), 0, 1), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64(Buffer.from('foobar'), 0, 6), 0x85944171f73967e8n);
});

test('a meta page round-trips and lands on page txid % 2', () => {
  const page = Buffer.alloc(4096);
  encodeMetaPage(page, meta);
  assert.equal(page.readUInt32LE(0), 1); // id = 7 % 2
  assert.equal(page.readUInt16LE(8), 0x04);
  assert.equal(page.readUInt32LE(16), 0xed0cdaed);
  assert.equal(page.readUInt32LE(20), 2);
  assert.deepEqual(decodeMeta(page, 0), meta);
  const none = { ...meta, freelist: null };
  encodeMetaPage(page, none);
  assert.equal(page.toString('hex', 16 + 32, 16 + 40), 'ff'.repeat(8));
  assert.deepEqual(decodeMeta(page, 0), none);
});

test('a flipped byte fails the checksum; wrong magic or version are reported as bbolt does', () => {
  const page = Buffer.alloc(4096);
  encodeMetaPage(page, meta);
  const torn = Buffer.from(page);
  torn[16 + 40] ^= 1; // pgid
  assert.equal((decodeMeta(torn, 0) as FloeError).message, 'checksum error');
  const magic = Buffer.from(page);
  magic[16] ^= 1;
  assert.equal((decodeMeta(magic, 0) as FloeError).message, 'invalid database');
  const version = Buffer.from(page);
  version.writeUInt32LE(3, 20);
  assert.equal((decodeMeta(version, 0) as FloeError).message, 'version mismatch');
  // A zero checksum is accepted unchecked (bbolt's rule).
  const zero = Buffer.from(page);
  zero.fill(0, 16 + 56, 16 + 64);
  zero[16 + 48] = 9;
  assert.equal((decodeMeta(zero, 0) as Meta).txid, 9);
});

test('a meta whose tree lies past the end of the file is not usable', () => {
  assert.equal(metaProblem(meta, 4 * 4096), null);
  assert.match(metaProblem(meta, 3 * 4096)!, /beyond the end/);
  assert.match(metaProblem({ ...meta, root: 4 }, 4 * 4096)!, /root page 4/);
  assert.match(metaProblem({ ...meta, pageSize: 1000 }, 4 * 4096)!, /page size/);
});
