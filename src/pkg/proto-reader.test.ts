import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloeError, isFloeError } from './errors';
import { ProtoReader } from './proto-reader';
import { ERR_PROTO, putVarintBig } from './protowire';
import { Rng } from './rng';

/** The uint64 a varint of arbitrary bytes stands for, one 7-bit group at a time (bigint). */
function reference(bytes: readonly number[]): bigint {
  let v = 0n;
  bytes.forEach((b, i) => (v |= BigInt(b & 0x7f) << BigInt(7 * i)));
  return v & ((1n << 64n) - 1n);
}

function varintOf(v: bigint): Buffer {
  const b = Buffer.alloc(10);
  return b.subarray(0, putVarintBig(b, 0, v));
}

test('varintBig reads every 7-bit edge and random uint64 values exactly', () => {
  const values: bigint[] = [0n, (1n << 64n) - 1n];
  for (let bits = 1; bits <= 64; bits++) values.push((1n << BigInt(bits)) - 1n, 1n << BigInt(bits - 1));
  const rng = new Rng(7);
  for (let i = 0; i < 500; i++) values.push((BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
  for (const v of values) {
    const r = new ProtoReader(varintOf(v));
    assert.equal(r.varintBig(), v, `value ${v}`);
    assert.ok(r.done());
  }
});

test('varintBig drops bits past 64 of a 10-byte varint and refuses an 11th byte', () => {
  const tenBytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
  assert.equal(new ProtoReader(Buffer.from(tenBytes)).varintBig(), reference(tenBytes));
  assert.equal(reference(tenBytes), (1n << 64n) - 1n);
  const eleven = [...tenBytes.slice(0, 9), 0xff, 0x01];
  assert.throws(() => new ProtoReader(Buffer.from(eleven)).varintBig(), (e: unknown) => isFloeError(e, ERR_PROTO) && /too long/.test((e as Error).message));
});

test('varint refuses a value past 2^53-1; truncation fails with the owner\'s error', () => {
  assert.equal(new ProtoReader(varintOf(2n ** 53n - 1n)).varint(), 2 ** 53 - 1);
  assert.throws(() => new ProtoReader(varintOf(2n ** 53n)).varint(), /exceeds 2\^53-1/);
  const mine = (why: string): FloeError => new FloeError('ERR_MINE', `mine: ${why}`);
  const cut = varintOf(1n << 40n).subarray(0, 3);
  assert.throws(() => new ProtoReader(cut, mine).varintBig(), (e: unknown) => isFloeError(e, 'ERR_MINE') && /truncated varint/.test((e as Error).message));
  assert.throws(() => new ProtoReader(Buffer.from([0x05, 1, 2]), mine).bytes(), (e: unknown) => isFloeError(e, 'ERR_MINE'));
  assert.throws(() => new ProtoReader(Buffer.from([1, 2, 3]), mine).skip(1), (e: unknown) => isFloeError(e, 'ERR_MINE'));
  assert.throws(() => new ProtoReader(Buffer.from([]), mine).skip(3), (e: unknown) => isFloeError(e, 'ERR_MINE') && /wire type 3/.test((e as Error).message));
});

test('bytes is a view, bytesCopy a plain Uint8Array copy', () => {
  const buf = Buffer.from([3, 7, 8, 9, 2, 1, 1]);
  const r = new ProtoReader(buf);
  const view = r.bytes();
  const copy = r.bytesCopy();
  assert.deepEqual([...view], [7, 8, 9]);
  assert.deepEqual([...copy], [1, 1]);
  assert.ok(!Buffer.isBuffer(copy));
  buf[1] = 0;
  buf[5] = 0;
  assert.equal(view[0], 0, 'the view follows its input');
  assert.equal(copy[0], 1, 'the copy does not');
  assert.ok(r.done());
});
