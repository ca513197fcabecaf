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

/** The varint of a uint64 the plain way, 7 bits at a time: the reference for putVarintBig. */
function referenceVarint(v: bigint): number[] {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

test('putVarintBig and varintSizeBig agree with the plain encoding at every 7-bit edge, around 2^53, and at random', () => {
  const values: bigint[] = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n];
  for (let k = 1; k <= 9; k++) values.push(2n ** BigInt(7 * k) - 1n, 2n ** BigInt(7 * k), 2n ** BigInt(7 * k) + 1n);
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 500; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & (2n ** 64n - 1n);
    values.push(x >> BigInt(i % 64));
  }
  for (const v of values) {
    const want = referenceVarint(v);
    const buf = Buffer.alloc(12);
    const end = putVarintBig(buf, 1, v);
    assert.deepEqual([...buf.subarray(1, end)], want, `bytes of ${v}`);
    assert.equal(varintSizeBig(v), want.length, `size of ${v}`);
  }
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
