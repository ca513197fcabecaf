import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLeaseRecord, encodeLeaseRecord, type LeaseRecord } from './lease-codec';
import { INT64_MAX, INT64_MIN } from './lease-id';

// Produced on this machine by etcd 3.4's own gogoproto code (go.etcd.io/etcd/lease/leasepb,
// Lease.Marshal) for the same field values: the encoding must match byte for byte.
const GOLDEN: ReadonlyArray<readonly [LeaseRecord, string]> = [
  [{ id: 1n, ttlSec: 10, remainingTtlSec: 0 }, '0801100a'],
  [{ id: INT64_MAX, ttlSec: 9_000_000_000, remainingTtlSec: 1 }, '08ffffffffffffffff7f1080b4c4c3211801'],
  [{ id: -1n, ttlSec: 2, remainingTtlSec: 0 }, '08ffffffffffffffffff011002'],
  [{ id: INT64_MIN, ttlSec: 0, remainingTtlSec: 300 }, '088080808080808080800118ac02'],
  [{ id: 7587869876868838053n, ttlSec: 60, remainingTtlSec: 42 }, '08a5e59da5b6eee1a669103c182a'],
  [{ id: 0n, ttlSec: 0, remainingTtlSec: 0 }, ''],
];

test('encodeLeaseRecord writes exactly the bytes etcd writes, and decode inverts it', () => {
  for (const [rec, hex] of GOLDEN) {
    assert.equal(encodeLeaseRecord(rec).toString('hex'), hex, `encode ${rec.id}`);
    assert.deepEqual(decodeLeaseRecord(Buffer.from(hex, 'hex')), rec, `decode ${hex}`);
  }
});

test('decode skips unknown fields and lets the last value of a field win (proto3)', () => {
  // field 4 varint 7, field 5 bytes "ab", ID=1, ID=2, TTL=5
  const bytes = Buffer.from('2007' + '2a026162' + '0801' + '0802' + '1005', 'hex');
  assert.deepEqual(decodeLeaseRecord(bytes), { id: 2n, ttlSec: 5, remainingTtlSec: 0 });
});

test('decode refuses malformed bytes with ERR_PROTO', () => {
  const bad = [
    '08', // truncated varint
    '0a0101', // ID with wire type bytes
    '1080808080808080807f', // TTL far beyond 2^53 (not a safe integer)
    'ff', // truncated key
    '0d00000000', // field 1 as fixed32
  ];
  for (const hex of bad) {
    assert.throws(() => decodeLeaseRecord(Buffer.from(hex, 'hex')), { code: 'ERR_PROTO' }, hex);
  }
});
