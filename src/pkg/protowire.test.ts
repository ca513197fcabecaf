import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtoWriter, readFields, asInt64, putVarintBig, varintSizeBig } from './protowire';

test('varints round-trip at every width edge, numbers below 2^53 and bigints above', () => {
  const values: Array<number | bigint> = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32, 2 ** 49, 2 ** 53 - 1, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
  const w = new ProtoWriter(1);
  values.forEach((v, i) => w.uint(i + 1, v));
  const got = [...readFields(w.finish())].map((f) => f.int);
  assert.deepEqual(got, values.map((v) => (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)));
});

test('negative int64 values take ten bytes and read back through asInt64', () => {
  const w = new ProtoWriter().uint(1, -1n).uint(2, -(2n ** 63n));
  const buf = w.finish();
  assert.equal(buf.length, 22);
  const [a, b] = [...readFields(buf)];
  assert.equal(asInt64(a!.int), -1);
  assert.equal(asInt64(b!.int), -(2n ** 63n));
});

test('known encoding: mvccpb.KeyValue{key:"foo", create_revision:2, mod_revision:2, version:1, value:"bar"}', () => {
  const b = new ProtoWriter().bytes(1, Buffer.from('foo')).uint(2, 2).uint(3, 2).uint(4, 1).bytes(5, Buffer.from('bar')).finish();
  assert.equal(b.toString('hex'), '0a03666f6f1002180220012a03626172');
  const fields = [...readFields(b)];
  assert.deepEqual(fields.map((f) => f.field), [1, 2, 3, 4, 5]);
  assert.equal(fields[4]!.bytes.toString(), 'bar');
});

test('malformed input is refused, never read past the end', () => {
  assert.throws(() => [...readFields(Buffer.from([0x0a, 0x05, 0x61]))], /truncated length-delimited/);
  assert.throws(() => [...readFields(Buffer.from([0x08, 0xff]))], /truncated varint/);
  assert.throws(() => [...readFields(Buffer.from([0x0b]))], /unsupported wire type 3/);
  assert.throws(() => [...readFields(Buffer.from([0x00, 0x00]))], /field number 0/);
});

test('putVarintBig writes what readFields reads, at every width edge up to 2^64-1', () => {
  for (const v of [0n, 127n, 128n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
    const buf = Buffer.alloc(11);
    buf[0] = 1 << 3;
    const end = putVarintBig(buf, 1, v);
    assert.equal(end - 1, varintSizeBig(v), `size of ${v}`);
    const [f] = [...readFields(buf.subarray(0, end))];
    assert.equal(BigInt(f!.int), v);
  }
});
