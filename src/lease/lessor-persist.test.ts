/**
 * Persistence through the real storage engine: leases written through a BatchTx into a
 * bbolt-format file come back after close and reopen, byte-for-byte in etcd's record format;
 * records that cannot be read stop the open with a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchTx, DB } from '../backend';
import { LEASE_BUCKET, Lessor, type LessorOptions } from './index';
import { INT64_MAX, INT64_MIN, leaseKey } from './lease-id';
import { KvDeleter, ManualClock } from './test-support';

function tmpFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'floe-lease-')), 'db');
}

/** Opens a lessor over a real file; returns it with a close() that commits and closes the db. */
function openOnFile(file: string, opts: LessorOptions = {}, clock = new ManualClock()) {
  const db = DB.open(file, { noSync: true });
  const batch = new BatchTx(db, { intervalMs: 60_000, limit: 1_000_000 });
  const deleter = new KvDeleter();
  let lessor: Lessor;
  try {
    lessor = Lessor.open({ store: batch, keyDeleter: deleter, clock }, opts);
  } catch (e) {
    batch.close();
    db.close();
    throw e;
  }
  deleter.lessor = lessor;
  const close = () => {
    batch.close();
    db.close();
  };
  return { lessor, db, batch, clock, deleter, close };
}

function rawLeaseBucket(file: string): Map<string, string> {
  const db = DB.open(file, { readOnly: true });
  try {
    return db.view((tx) => {
      const out = new Map<string, string>();
      tx.bucket(LEASE_BUCKET)?.forEach((k, v) => out.set(k.toString('hex'), v === null ? 'bucket' : v.toString('hex')));
      return out;
    });
  } finally {
    db.close();
  }
}

test('leases survive close and reopen with ids, TTLs and checkpoints, in etcd\'s exact bytes', () => {
  const file = tmpFile();
  const a = openOnFile(file, { checkpoint: true, checkpointPersist: true });
  a.lessor.grant(1n, 10);
  a.lessor.grant(INT64_MAX, 9_000_000_000);
  a.lessor.grant(-1n, 0); // raised to the minimum (2)
  a.lessor.grant(INT64_MIN, 300);
  a.lessor.grant(7587869876868838053n, 60);
  a.lessor.grant(99n, 60);
  a.lessor.checkpoint(INT64_MAX, 1);
  a.lessor.checkpoint(INT64_MIN, 300);
  a.lessor.checkpoint(7587869876868838053n, 42);
  a.deleter.put('k', 99n);
  a.lessor.revoke(99n);
  a.close();

  // The bucket holds the records etcd would write (golden bytes from etcd's leasepb.Marshal),
  // keyed by the 8-byte big-endian id.
  const raw = rawLeaseBucket(file);
  assert.deepEqual(
    [...raw].sort(),
    [
      [leaseKey(1n).toString('hex'), '0801100a'],
      [leaseKey(INT64_MAX).toString('hex'), '08ffffffffffffffff7f1080b4c4c3211801'],
      [leaseKey(-1n).toString('hex'), '08ffffffffffffffffff011002'],
      [leaseKey(INT64_MIN).toString('hex'), '088080808080808080800110ac0218ac02'],
      [leaseKey(7587869876868838053n).toString('hex'), '08a5e59da5b6eee1a669103c182a'],
    ].sort(),
  );

  const b = openOnFile(file, { checkpoint: true, checkpointPersist: true });
  try {
    assert.deepEqual(b.lessor.leaseIds(), [INT64_MIN, -1n, 1n, 7587869876868838053n, INT64_MAX]);
    const l = b.lessor.lookup(7587869876868838053n)!;
    assert.deepEqual([l.ttlSec, l.remainingTtlSec, l.expiryMs, l.keyCount], [60, 42, Infinity, 0]);
    assert.equal(b.lessor.lookup(-1n)!.ttlSec, 2);
    assert.equal(b.lessor.lookup(99n), null, 'the revoked lease stayed gone');
    // A restarted member resumes from the persisted remaining TTL once it leads.
    b.lessor.promote(0);
    assert.equal(b.lessor.lookup(7587869876868838053n)!.expiryMs, b.clock.ms + 42_000);
    assert.equal(b.lessor.lookup(1n)!.expiryMs, b.clock.ms + 10_000);
    b.lessor.checkInvariants();
  } finally {
    b.close();
  }
});

test('by default (no checkpoint persistence) a restarted lease gets its full TTL back, as in etcd 3.4', () => {
  const file = tmpFile();
  const a = openOnFile(file, { checkpoint: true });
  a.lessor.promote(0);
  a.lessor.grant(5n, 1000);
  a.clock.advance(600_000);
  a.lessor.checkpoint(5n, 400); // held in memory: survives a leader change...
  a.lessor.demote();
  a.lessor.promote(0);
  assert.equal(a.lessor.lookup(5n)!.expiryMs, a.clock.ms + 400_000);
  a.close();
  const b = openOnFile(file, { checkpoint: true }); // ...but not a restart
  try {
    b.lessor.promote(0);
    assert.equal(b.lessor.lookup(5n)!.remainingTtlSec, 0);
    assert.equal(b.lessor.lookup(5n)!.expiryMs, b.clock.ms + 1_000_000);
  } finally {
    b.close();
  }
});

test('a restart raises stored TTLs below a larger minimum, in memory only', () => {
  const file = tmpFile();
  const a = openOnFile(file, { minTtlSec: 2 });
  a.lessor.grant(1n, 3);
  a.close();
  const b = openOnFile(file, { minTtlSec: 8 });
  try {
    assert.equal(b.lessor.lookup(1n)!.ttlSec, 8);
  } finally {
    b.close();
  }
  assert.equal(rawLeaseBucket(file).get(leaseKey(1n).toString('hex')), '08011003');
});

test('recovery pages through more records than one range read holds', () => {
  const file = tmpFile();
  const a = openOnFile(file);
  const n = 25_001; // crosses two page boundaries of 10 000
  for (let i = 1; i <= n; i++) a.lessor.grant(BigInt(i) * 1_000_003n - 12_000_000n, 30 + (i % 7));
  a.close();
  const b = openOnFile(file);
  try {
    assert.equal(b.lessor.size, n);
    for (const i of [1, 10_000, 10_001, 20_000, n]) {
      assert.equal(b.lessor.lookup(BigInt(i) * 1_000_003n - 12_000_000n)!.ttlSec, 30 + (i % 7));
    }
  } finally {
    b.close();
  }
});

test('an unreadable record stops the open with ERR_LEASE_BAD_RECORD naming the lease', () => {
  const cases: Array<[string, Buffer, Buffer, RegExp]> = [
    ['truncated varint', leaseKey(0x1234n), Buffer.from('08', 'hex'), /lease ID=0000000000001234: cannot decode leasepb\.Lease/],
    ['wrong wire type', leaseKey(2n), Buffer.from('0a0102', 'hex'), /lease ID=0000000000000002: cannot decode/],
    ['id differs from key', leaseKey(3n), Buffer.from('0804100a', 'hex'), /record names lease 0000000000000004/],
    ['short key', Buffer.from('abc'), Buffer.from('0801', 'hex'), /key 616263 is 3 bytes, want 8/],
    ['TTL too large', leaseKey(5n), Buffer.from('08051081b4c4c321', 'hex'), /TTL 9000000001/],
    ['lease 0', leaseKey(0n), Buffer.from('100a', 'hex'), /0 means no lease/],
  ];
  for (const [name, key, value, message] of cases) {
    const file = tmpFile();
    const db = DB.open(file, { noSync: true });
    db.update((tx) => {
      const bucket = tx.createBucket(LEASE_BUCKET);
      bucket.put(leaseKey(1n), Buffer.from('0801100a', 'hex')); // a good record first
      bucket.put(key, value);
    });
    db.close();
    assert.throws(() => openOnFile(file), { code: 'ERR_LEASE_BAD_RECORD', message }, name);
  }
});
