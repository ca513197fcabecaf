import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Rng, baseSeed } from '../pkg';
import { decodeGoBase64 } from './go-base64';

/**
 * [input, decoded bytes as hex or null, Go's error text or null], produced by Go 1.19's
 * base64.StdEncoding.DecodeString (the decoder encoding/json uses for []byte fields).
 */
const GO_CASES: readonly [string, string | null, string | null][] = [
  ["", "", null],
  ["Zm9v", "666f6f", null],
  ["Zm9v!", null, "illegal base64 data at input byte 4"],
  ["Zm9", null, "illegal base64 data at input byte 0"],
  ["Zg", null, "illegal base64 data at input byte 0"],
  ["Zg=", null, "illegal base64 data at input byte 3"],
  ["Zg==", "66", null],
  ["Zm8=", "666f", null],
  ["Zm9vYg==", "666f6f62", null],
  ["Zm9vYmFy", "666f6f626172", null],
  ["Z", null, "illegal base64 data at input byte 0"],
  ["=", null, "illegal base64 data at input byte 0"],
  ["Zg==Zg==", null, "illegal base64 data at input byte 4"],
  ["Zg=\n=", "66", null],
  ["Zm\n9v", "666f6f", null],
  ["Zm9v\r\n", "666f6f", null],
  ["Zh==", "66", null],
  ["Zm9=v", null, "illegal base64 data at input byte 4"],
  ["Z===", null, "illegal base64 data at input byte 1"],
  ["ab=c", null, "illegal base64 data at input byte 2"],
  ["YWJj\nZGVm", "616263646566", null],
  ["Zg==\n", "66", null],
  ["Zg==x", null, "illegal base64 data at input byte 4"],
  ["Zm9v=", null, "illegal base64 data at input byte 4"],
  ["Zm9vYmE", null, "illegal base64 data at input byte 4"],
  ["Zm9vYmF=", "666f6f6261", null],
  ["-_8=", null, "illegal base64 data at input byte 0"],
  ["Zm9v YmFy", null, "illegal base64 data at input byte 4"],
];

test('decodeGoBase64 accepts and refuses exactly what Go does, with the same offset', () => {
  for (const [input, hex, err] of GO_CASES) {
    const run = (): Buffer => decodeGoBase64(Buffer.from(input, 'utf8'));
    if (err === null) assert.equal(run().toString('hex'), hex, `input ${JSON.stringify(input)}`);
    else assert.throws(run, { message: err }, `input ${JSON.stringify(input)}`);
  }
});

test('decodeGoBase64 round-trips random bytes encoded by Node (seeded)', () => {
  const seed = baseSeed;
  const rng = new Rng(seed);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.alloc(rng.int(64));
    for (let j = 0; j < bytes.length; j++) bytes[j] = rng.int(256);
    const got = decodeGoBase64(Buffer.from(bytes.toString('base64')));
    assert.deepEqual(got, bytes, `seed ${seed} case ${i}`);
  }
});
