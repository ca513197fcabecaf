import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseIdGenerator } from './id-generator';

test('ids carry the member id in the top 16 bits, start time next, and count up by one', () => {
  const g = new LeaseIdGenerator(0x1234n, 1_700_000_000_123);
  const a = g.next();
  const b = g.next();
  assert.equal(b, a + 1n);
  assert.equal(a >> 48n, 0x1234n);
  assert.equal((a >> 8n) & ((1n << 40n) - 1n), BigInt(1_700_000_000_123) & ((1n << 40n) - 1n));
  assert.equal(a & 0xffn, 1n);
});

test('ids are positive int64 even when the member id has its top bit set', () => {
  const g = new LeaseIdGenerator(0xffffn, 5);
  for (let i = 0; i < 1000; i++) {
    const id = g.next();
    assert.ok(id > 0n && id < 1n << 63n, `${id}`);
  }
});

test('id 0 is never returned when the suffix wraps under member 0', () => {
  // Start right below the wrap of the 48-bit suffix: 2^40-1 ms, then count through 0.
  const g = new LeaseIdGenerator(0n, 2 ** 40 - 1);
  const seen = new Set<bigint>();
  for (let i = 0; i < 600; i++) {
    const id = g.next();
    assert.notEqual(id, 0n);
    assert.ok(!seen.has(id));
    seen.add(id);
  }
});
