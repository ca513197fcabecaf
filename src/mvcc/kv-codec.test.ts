/**
 * mvccpb.KeyValue and Event bytes must be exactly what etcd (gogoproto) writes: the expected
 * bytes below are worked out by hand from the protobuf wire rules (tag = field << 3 | wire
 * type; varints 7 bits a byte, low first; proto3 leaves zero and empty fields out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import { decodeEvent, decodeKeyValue, encodeEvent, encodeKeyValue, EventType, keyValue, NO_LEASE, type KeyValue } from './kv-codec';
import { Rng, forSeeds } from './test-rng';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('a put record encodes field by field in number order, zero fields left out', () => {
  const kv = keyValue({ key: b('foo'), createRevision: 2, modRevision: 3, version: 1, value: b('bar') });
  assert.deepEqual(encodeKeyValue(kv), hex('0a03666f6f 1002 1803 2001 2a03626172'));
});

test('a tombstone record holds only the key', () => {
  assert.deepEqual(encodeKeyValue(keyValue({ key: b('foo') })), hex('0a03666f6f'));
});

test('multi-byte varints and a 63-bit lease id encode as protobuf int64', () => {
  const kv = keyValue({ key: b('k'), createRevision: 300, modRevision: 2 ** 53 - 1, version: 1, lease: 7587848793651127051n });
  assert.deepEqual(encodeKeyValue(kv), hex('0a016b 10ac02 18ffffffffffffff0f 2001 308bc6ce97e988dda669'));
  assert.deepEqual(decodeKeyValue(encodeKeyValue(kv)), kv);
});

test('a negative lease is a ten-byte two-complement varint, and decodes back', () => {
  const kv = keyValue({ key: b('k'), lease: -1n });
  assert.deepEqual(encodeKeyValue(kv), hex('0a016b 30ffffffffffffffffff01'));
  assert.equal(decodeKeyValue(encodeKeyValue(kv)).lease, -1n);
});

test('empty key and value are left out; an all-default pair is zero bytes', () => {
  assert.equal(encodeKeyValue(keyValue({ key: b('') })).length, 0);
  assert.deepEqual(decodeKeyValue(Buffer.alloc(0)), keyValue({ key: b('') }));
});

test('events: PUT leaves the type out, DELETE writes 1; kv always present, prev_kv when given', () => {
  const kv = keyValue({ key: b('foo'), modRevision: 5 });
  assert.deepEqual(encodeEvent({ type: EventType.DELETE, kv }), hex('0801 1207 0a03666f6f1805'));
  assert.deepEqual(encodeEvent({ type: EventType.PUT, kv: keyValue({ key: b('') }) }), hex('1200'));
  const prevKv = keyValue({ key: b('foo'), createRevision: 2, modRevision: 2, version: 1, value: b('x') });
  const ev = { type: EventType.PUT, kv: keyValue({ key: b('foo'), createRevision: 2, modRevision: 6, version: 2, value: b('y') }), prevKv };
  assert.deepEqual(encodeEvent(ev), hex('120e 0a03666f6f 1002 1806 2002 2a0179 1a0e 0a03666f6f 1002 1802 2001 2a0178'));
  assert.deepEqual(decodeEvent(encodeEvent(ev)), ev);
  assert.deepEqual(decodeEvent(encodeEvent({ type: EventType.DELETE, kv })), { type: EventType.DELETE, kv });
});

test('decoding skips unknown fields and takes the last of a repeated field, as protobuf does', () => {
  // field 7 varint, field 9 bytes, then key given twice.
  const data = hex('3805 4a026869 0a0161 1002 0a0162');
  const kv = decodeKeyValue(data);
  assert.deepEqual(kv.key, b('b'));
  assert.equal(kv.createRevision, 2);
});

test('malformed input is refused with ERR_PROTO', () => {
  for (const bad of ['0a05666f', '10', '10ffffffffffffffffffff01', '0b']) {
    assert.throws(() => decodeKeyValue(hex(bad)), (e: unknown) => isFloeError(e, 'ERR_PROTO'), bad);
  }
  // A negative revision is not a revision.
  assert.throws(() => decodeKeyValue(hex('10ffffffffffffffffff01')), (e: unknown) => isFloeError(e, 'ERR_PROTO'));
});

test('random pairs round-trip, through the fast and the general decoder alike', () => {
  forSeeds(5, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 500; i++) {
      const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
      const big = (): number => (rng.chance(0.3) ? rng.int(200) : rng.chance(0.5) ? rng.u32() : rng.u32() * 0x10000 + rng.int(0x10000));
      const lease = rng.chance(0.5) ? NO_LEASE : rng.chance(0.5) ? BigInt(rng.u32()) : (BigInt(rng.u32()) << 31n) | BigInt(rng.u32());
      const kv: KeyValue = keyValue({ key: bytes(rng.int(300)), createRevision: big(), modRevision: big(), version: big(), value: bytes(rng.chance(0.1) ? 20000 : rng.int(50)), lease });
      const enc = encodeKeyValue(kv);
      assert.deepEqual(decodeKeyValue(enc), kv);
      // An unknown trailing field sends the decoder down the general path: same answer.
      assert.deepEqual(decodeKeyValue(Buffer.concat([enc, hex('f80101')])), kv);
    }
  });
});
