/**
 * HPACK decoding against RFC 7541 Appendix C (the same blocks plain and Huffman-coded, with
 * dynamic table insertions and evictions), the error cases a hostile client can send, and the
 * literal re-encoding that the authority filter writes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { forSeeds, isFloeError, Rng } from '../pkg';
import { HUFFMAN_CODES, HUFFMAN_CODE_BITS, huffmanDecode } from './hpack-huffman';
import { ERR_HPACK, HpackDecoder, STATIC_TABLE, encodeLiteralBlock, readInteger, writeInteger, type HeaderField } from './hpack';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: readonly HeaderField[]): [string, string][] => fields.map((f) => [f.name, f.value]);
const isHpackError = (e: unknown): boolean => isFloeError(e, ERR_HPACK);

/** Test-only Huffman encoder, from the same table, to feed the decoder random strings. */
function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << BigInt(HUFFMAN_CODE_BITS[b]!)) | BigInt(HUFFMAN_CODES[b]!);
    bits += HUFFMAN_CODE_BITS[b]!;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
    acc &= (1n << BigInt(bits)) - 1n;
  }
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return Buffer.from(out);
}

const REQ1 = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const REQ2 = [...REQ1, ['cache-control', 'no-cache']];
const REQ3 = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];

function checkRequests(blocks: string[]): void {
  const d = new HpackDecoder();
  assert.deepEqual(pairs(d.decode(hex(blocks[0]!)).fields), REQ1);
  assert.deepEqual(d.dynamicTable(), [[':authority', 'www.example.com']]);
  assert.equal(d.tableSizeBytes, 57);
  assert.deepEqual(pairs(d.decode(hex(blocks[1]!)).fields), REQ2);
  assert.deepEqual(d.dynamicTable(), [['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  assert.equal(d.tableSizeBytes, 110);
  assert.deepEqual(pairs(d.decode(hex(blocks[2]!)).fields), REQ3);
  assert.deepEqual(d.dynamicTable(), [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
  assert.equal(d.tableSizeBytes, 164);
}

test('RFC 7541 C.3: requests without Huffman fill the dynamic table and refer to it', () => {
  checkRequests([
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ]);
});

test('RFC 7541 C.4: the same requests with Huffman-coded strings decode the same', () => {
  checkRequests([
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
    '8286 84be 5886 a8eb 1064 9cbf',
    '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  ]);
});

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

/** C.5 and C.6 run with a 256-byte table, so the third response evicts older entries. */
function checkResponses(blocks: string[]): void {
  const d = new HpackDecoder({ maxTableSizeBytes: 256 });
  assert.deepEqual(pairs(d.decode(hex(blocks[0]!)).fields), [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]]);
  assert.deepEqual(d.dynamicTable(), [['location', LOC], ['date', DATE1], ['cache-control', 'private'], [':status', '302']]);
  assert.equal(d.tableSizeBytes, 222);
  // Inserting :status 307 evicts :status 302.
  assert.deepEqual(pairs(d.decode(hex(blocks[1]!)).fields), [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]]);
  assert.deepEqual(d.dynamicTable(), [[':status', '307'], ['location', LOC], ['date', DATE1], ['cache-control', 'private']]);
  assert.equal(d.tableSizeBytes, 222);
  // Three insertions evict four entries.
  assert.deepEqual(pairs(d.decode(hex(blocks[2]!)).fields), [
    [':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOC], ['content-encoding', 'gzip'], ['set-cookie', COOKIE],
  ]);
  assert.deepEqual(d.dynamicTable(), [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]]);
  assert.equal(d.tableSizeBytes, 215);
}

test('RFC 7541 C.5: responses without Huffman, with evictions from a 256-byte table', () => {
  checkResponses([
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a
     3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    '4803 3330 37c1 c0bf',
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04
     677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49
     553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
  ]);
});

test('RFC 7541 C.6: responses with Huffman, with evictions from a 256-byte table', () => {
  checkResponses([
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e
     919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    '4883 640e ffc1 c0bf',
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7
     821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed
     4ee5 b106 3d50 07`,
  ]);
});

test('RFC 7541 C.2: literal forms; never-indexed is reported, only incremental indexing inserts', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')).fields, [{ name: ':path', value: '/sample/path', neverIndexed: false }]);
  assert.equal(d.tableSizeBytes, 0);
  assert.deepEqual(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).fields, [{ name: 'password', value: 'secret', neverIndexed: true }]);
  assert.equal(d.tableSizeBytes, 0);
  d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
  assert.equal(d.tableSizeBytes, 55);
});

test('integers: RFC 7541 C.1 examples, and the bound on huge values', () => {
  assert.deepEqual(readInteger(Buffer.from([0x0a]), 0, 5), [10, 1]);
  assert.deepEqual(readInteger(Buffer.from([0x1f, 0x9a, 0x0a]), 0, 5), [1337, 3]);
  assert.deepEqual(readInteger(Buffer.from([0x2a]), 0, 8), [42, 1]);
  const out: number[] = [];
  writeInteger(out, 1337, 5, 0);
  assert.deepEqual(out, [0x1f, 0x9a, 0x0a]);
  assert.throws(() => readInteger(Buffer.from([0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f]), 0, 5), isHpackError);
  // Zero-valued continuation bytes never raise the value; their number is bounded too.
  assert.throws(() => readInteger(Buffer.from([0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 0, 5), isHpackError);
  assert.throws(() => readInteger(Buffer.from([0x1f, 0x80]), 0, 5), isHpackError);
});

test('dynamic table size updates: shrink evicts, only at the block start, never above the limit', () => {
  const d = new HpackDecoder();
  d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 bytes
  const r = d.decode(Buffer.from([0x20, 0x3f, 0xe1, 0x1f, 0x82])); // size 0, size 4096, :method GET
  assert.deepEqual(r.sizeUpdates, [0, 4096]);
  assert.equal(d.tableSizeBytes, 0);
  assert.deepEqual(pairs(r.fields), [[':method', 'GET']]);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x82, 0x20])), isHpackError);
  assert.throws(() => new HpackDecoder().decode(Buffer.from([0x3f, 0xe2, 0x1f])), isHpackError); // 4097
  assert.doesNotThrow(() => new HpackDecoder().decode(Buffer.from([0x3f, 0xe1, 0x1f]))); // 4096
});

test('an entry larger than the table empties it and is not added', () => {
  const d = new HpackDecoder({ maxTableSizeBytes: 64 });
  d.decode(Buffer.from([0x41, 0x01, 0x61])); // :authority "a": 43 bytes
  assert.equal(d.tableSizeBytes, 43);
  const v = 'x'.repeat(23); // :authority + 23 + 32 = 65 > 64
  d.decode(Buffer.concat([Buffer.from([0x41, v.length]), Buffer.from(v)]));
  assert.equal(d.tableSizeBytes, 0);
  assert.deepEqual(d.dynamicTable(), []);
});

test('malformed blocks are HPACK errors, not crashes', () => {
  const bad = [
    '80', // index 0
    'be', // dynamic index 62 on an empty table
    'ff00', // index 127 on an empty table
    '4005 6162', // name literal longer than the block
    '0f', // integer cut off
    '04', // literal without a value
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 fe', // Huffman padding with a 0 bit
    '0081 ff', // Huffman name of all ones: 8 bits of padding
    '0084 ffff ffff', // Huffman EOS (30 ones) inside a string
  ];
  for (const b of bad) assert.throws(() => new HpackDecoder().decode(hex(b)), isHpackError, b);
});

test('the header list bound counts name + value + 32 per field, edge included', () => {
  const field = (n: number): Buffer => Buffer.concat([Buffer.from([0x04, ...int7(n)]), Buffer.alloc(n, 0x61)]);
  // One :path field of value length n counts 5 + n + 32.
  assert.doesNotThrow(() => new HpackDecoder({ maxHeaderListBytes: 1000 }).decode(field(1000 - 37)));
  assert.throws(() => new HpackDecoder({ maxHeaderListBytes: 1000 }).decode(field(1000 - 36)), isHpackError);
  // Indexed references cost no input but count in full: amplification is bounded.
  const d = new HpackDecoder({ maxHeaderListBytes: 10_000 });
  d.decode(field(1000 - 37)); // no insertion (literal without indexing)
  const ins = Buffer.concat([Buffer.from([0x44, ...int7(900)]), Buffer.alloc(900, 0x62)]);
  d.decode(ins); // :path, 900 bytes, inserted (937 with overhead)
  assert.throws(() => d.decode(Buffer.alloc(11, 0xbe)), isHpackError); // 11 x 937 > 10 000
});

/** A raw (non-Huffman) string length. */
function int7(n: number): number[] {
  const out: number[] = [];
  writeInteger(out, n, 7, 0);
  return out;
}

test('Huffman: every symbol, random strings and the 7-bit padding edge decode exactly', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  assert.deepEqual(huffmanDecode(Buffer.alloc(0)), Buffer.alloc(0));
  forSeeds(50, (seed) => {
    const rng = new Rng(seed);
    const s = rng.bytes(rng.int(200), rng.chance(0.5) ? 256 : 26);
    assert.deepEqual(huffmanDecode(huffmanEncode(s)), s);
  });
  // '0' is the 5-bit code 00000. Five of them take 25 bits: 7 bits of padding, the most allowed.
  assert.deepEqual(huffmanDecode(Buffer.from([0x00, 0x00, 0x00, 0x7f])), Buffer.from('00000'));
  // Eight of them fill 5 bytes exactly; a following 0xff is 8 bits of padding.
  assert.throws(() => huffmanDecode(Buffer.from([0, 0, 0, 0, 0, 0xff])), isHpackError);
  assert.throws(() => huffmanDecode(Buffer.from([0x07, 0xff])), isHpackError); // 11 bits of padding
});

test('encodeLiteralBlock round-trips any fields and leaves the receiver table empty', () => {
  forSeeds(30, (seed) => {
    const rng = new Rng(seed);
    const fields: HeaderField[] = [];
    for (let i = rng.int(20); i > 0; i--) {
      const name = rng.chance(0.5) ? rng.pick(STATIC_TABLE)[0] : rng.bytes(1 + rng.int(300)).toString('latin1');
      fields.push({ name, value: rng.bytes(rng.int(rng.chance(0.1) ? 5000 : 50)).toString('latin1'), neverIndexed: rng.chance(0.3) });
    }
    const d = new HpackDecoder({ maxHeaderListBytes: 1 << 20 });
    const got = d.decode(encodeLiteralBlock(fields));
    assert.deepEqual(got.fields, fields);
    assert.deepEqual(got.sizeUpdates, []);
    assert.equal(d.tableSizeBytes, 0);
  });
});
