import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MIN_LEASE_TTL_SEC, FOREVER_TTL_SEC, LEASE_BUCKET, MAX_LEASE_TTL_SEC, minLeaseTtlSec } from './index';
import { INT64_MAX, INT64_MIN, leaseKey } from './lease-id';
import { decodeLeaseRecord } from './lease-codec';
import { memoryLessor } from './test-support';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('minimum TTL follows etcd: 1.5 election timeouts in ticks, rounded up to a second', () => {
  assert.equal(minLeaseTtlSec(1000, 100), 2);
  assert.equal(DEFAULT_MIN_LEASE_TTL_SEC, 2);
  assert.equal(minLeaseTtlSec(5000, 500), 8); // 15 ticks * 500 ms = 7.5 s
  assert.equal(minLeaseTtlSec(100, 100), 1); // 1 tick -> 1 * 100 ms -> 1 s
});

test('grant raises TTL 0, negative and small TTLs to the minimum, and persists the raised TTL', () => {
  const { lessor, store } = memoryLessor({ minTtlSec: 5 });
  const cases: Array<[bigint, number | bigint]> = [[1n, 0], [2n, -1], [3n, -(1n << 63n)], [4n, 4], [5n, 5n]];
  for (const [id, ttl] of cases) {
    assert.equal(lessor.grant(id, ttl), 5, `ttl ${ttl}`);
    assert.deepEqual(decodeLeaseRecord(store.get(LEASE_BUCKET, leaseKey(id))!), { id, ttlSec: 5, remainingTtlSec: 0 });
  }
  assert.equal(lessor.grant(6n, 6), 6);
});

test('grant accepts exactly MAX_LEASE_TTL_SEC and refuses one more, as number or bigint', () => {
  const { lessor } = memoryLessor();
  assert.equal(lessor.grant(1n, MAX_LEASE_TTL_SEC), 9_000_000_000);
  assert.equal(lessor.grant(2n, BigInt(MAX_LEASE_TTL_SEC)), 9_000_000_000);
  const tooLarge = { code: 'ERR_LEASE_TTL_TOO_LARGE', message: 'etcdserver: too large lease TTL' };
  assert.throws(() => lessor.grant(3n, MAX_LEASE_TTL_SEC + 1), tooLarge);
  assert.throws(() => lessor.grant(3n, INT64_MAX), tooLarge);
  assert.equal(lessor.lookup(3n), null, 'a refused grant leaves nothing behind');
});

test('grant checks in etcd order: id 0, then TTL, then existence', () => {
  const { lessor } = memoryLessor();
  const notFound = { code: 'ERR_LEASE_NOT_FOUND', message: 'etcdserver: requested lease not found' };
  assert.throws(() => lessor.grant(0n, 10), notFound);
  assert.throws(() => lessor.grant(0n, INT64_MAX), notFound);
  lessor.grant(7n, 10);
  assert.throws(() => lessor.grant(7n, INT64_MAX), { code: 'ERR_LEASE_TTL_TOO_LARGE' });
  assert.throws(() => lessor.grant(7n, 10), { code: 'ERR_LEASE_EXIST', message: 'etcdserver: lease already exists' });
});

test('ids at the int64 edges keep full precision, and leaseIds() sorts them as signed values', () => {
  const { lessor } = memoryLessor();
  const ids = [INT64_MAX, 1n, INT64_MIN, -1n, (1n << 53n) + 1n, 7587869876868838053n];
  for (const id of ids) lessor.grant(id, 10);
  assert.deepEqual(lessor.leaseIds(), [INT64_MIN, -1n, 1n, (1n << 53n) + 1n, 7587869876868838053n, INT64_MAX]);
  assert.equal(lessor.lookup(INT64_MAX)!.id, INT64_MAX);
  assert.equal(lessor.lookup(INT64_MAX - 1n), null, 'a neighbouring id is a different lease');
  assert.equal(lessor.lookup((1n << 53n) + 1n)!.id, (1n << 53n) + 1n);
  assert.equal(lessor.lookup(1n << 53n), null, '2^53 and 2^53+1 are distinct');
});

test('a non-primary lessor never expires leases and refuses renewals', () => {
  const { lessor, clock } = memoryLessor();
  lessor.grant(1n, 10);
  assert.equal(lessor.lookup(1n)!.expiryMs, Infinity);
  clock.advance(1e9);
  assert.deepEqual(lessor.expiredLeases(), []);
  assert.equal(lessor.timeToLive(1n, false).ttlSec, FOREVER_TTL_SEC);
  assert.throws(() => lessor.renew(1n), { code: 'ERR_LEASE_NOT_PRIMARY' });
  lessor.checkInvariants();
});

test('on the primary a lease expires exactly at grant time + TTL', () => {
  const { lessor, clock } = memoryLessor();
  lessor.promote(0);
  lessor.grant(1n, 10);
  clock.advance(9_999);
  assert.deepEqual(lessor.expiredLeases(), []);
  assert.equal(lessor.timeToLive(1n, false).ttlSec, 0, '1 ms left truncates to 0 s');
  clock.advance(1);
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  lessor.checkInvariants();
});

test('an expired lease is offered for revocation once, then again only after the retry interval', () => {
  const { lessor, clock } = memoryLessor({ expiredRetryMs: 3000 });
  lessor.promote(0);
  lessor.grant(1n, 2);
  clock.advance(2000);
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.advance(2999);
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.advance(1);
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  lessor.revoke(1n);
  clock.advance(10_000);
  assert.deepEqual(lessor.expiredLeases(), []);
  lessor.checkInvariants();
});

test('expiredLeases hands out at most max per call, earliest expiry first', () => {
  const { lessor, clock } = memoryLessor();
  lessor.promote(0);
  for (let i = 1; i <= 10; i++) lessor.grant(BigInt(i), 100 - i); // lease 10 expires first
  clock.advance(100_000);
  assert.deepEqual(lessor.expiredLeases(3), [10n, 9n, 8n]);
  assert.deepEqual(lessor.expiredLeases(3), [7n, 6n, 5n]);
  assert.deepEqual(lessor.expiredLeases(100), [4n, 3n, 2n, 1n]);
  assert.throws(() => lessor.expiredLeases(0), /bad expired-lease batch/);
});

test('renew restarts the full TTL from now; expired, missing and non-primary renewals are refused', () => {
  const { lessor, clock } = memoryLessor();
  lessor.promote(0);
  lessor.grant(1n, 10);
  clock.advance(6_000);
  assert.equal(lessor.renew(1n), 10);
  clock.advance(9_999);
  assert.deepEqual(lessor.expiredLeases(), [], 'the renewal moved the expiry to 16 s');
  assert.equal(lessor.timeToLive(1n, false).ttlSec, 0);
  clock.advance(1);
  assert.throws(() => lessor.renew(1n), { code: 'ERR_LEASE_EXPIRED' });
  assert.throws(() => lessor.renew(2n), { code: 'ERR_LEASE_NOT_FOUND' });
  lessor.demote();
  assert.throws(() => lessor.renew(1n), { code: 'ERR_LEASE_NOT_PRIMARY' });
});

test('revoke deletes the attached keys in one call, sorted by bytes, then drops the lease and its record', () => {
  const { lessor, deleter, store } = memoryLessor();
  lessor.grant(5n, 60);
  lessor.grant(6n, 60);
  for (const k of ['b', 'a', '\xff', '\x00z', 'ab']) deleter.put(k, 5n);
  deleter.put('other', 6n);
  lessor.revoke(5n);
  assert.deepEqual(deleter.revisions, [['\x00z', 'a', 'ab', 'b', '\xff']]);
  assert.equal(lessor.lookup(5n), null);
  assert.equal(store.get(LEASE_BUCKET, leaseKey(5n)), undefined);
  for (const k of ['a', 'b', 'ab']) assert.equal(lessor.getLease(b(k)), 0n);
  assert.equal(lessor.getLease(b('other')), 6n);
  assert.throws(() => lessor.revoke(5n), { code: 'ERR_LEASE_NOT_FOUND' });
  lessor.revoke(6n);
  assert.equal(deleter.revisions.length, 2);
  lessor.grant(7n, 60);
  lessor.revoke(7n);
  assert.equal(deleter.revisions.length, 2, 'a lease without keys costs no revision');
  assert.equal(lessor.stats().attachedKeys, 0);
  lessor.checkInvariants();
});

test('attach moves a key between leases; detach only detaches from the named lease', () => {
  const { lessor } = memoryLessor();
  lessor.grant(1n, 60);
  lessor.grant(2n, 60);
  lessor.attach(1n, [b('k')]);
  lessor.attach(2n, [b('k')]);
  assert.equal(lessor.getLease(b('k')), 2n);
  assert.deepEqual(lessor.timeToLive(1n, true).keys, []);
  lessor.detach(1n, [b('k')]);
  assert.equal(lessor.getLease(b('k')), 2n, 'detaching from the old lease leaves the new attachment');
  assert.throws(() => lessor.attach(3n, [b('x')]), { code: 'ERR_LEASE_NOT_FOUND' });
  assert.throws(() => lessor.detach(3n, [b('x')]), { code: 'ERR_LEASE_NOT_FOUND' });
  lessor.detach(2n, [b('k')]);
  assert.equal(lessor.getLease(b('k')), 0n);
  lessor.checkInvariants();
});

test('keyTracker (MVCC\'s per-key view) attaches, moves and detaches, and ignores unknown leases', () => {
  const { lessor } = memoryLessor();
  const t = lessor.keyTracker;
  lessor.grant(1n, 60);
  lessor.grant(2n, 60);
  t.attach(1n, b('k'));
  assert.equal(t.leaseOf(b('k')), 1n);
  t.attach(2n, b('k'));
  assert.equal(t.leaseOf(b('k')), 2n);
  assert.equal(lessor.lookup(1n)!.keyCount, 0, 'the key left its old lease');
  t.attach(3n, b('x')); // unknown lease: ignored, as etcd's store only logs it
  t.detach(3n, b('k'));
  assert.equal(t.leaseOf(b('x')), 0n);
  assert.equal(t.leaseOf(b('k')), 2n);
  t.detach(1n, b('k')); // not this lease's key: no effect
  assert.equal(t.leaseOf(b('k')), 2n);
  t.detach(2n, b('k'));
  assert.equal(t.leaseOf(b('k')), 0n);
  lessor.checkInvariants();
});

test('timeToLive truncates towards zero and lists keys sorted when asked', () => {
  const { lessor, clock } = memoryLessor();
  lessor.promote(0);
  lessor.grant(1n, 10);
  lessor.attach(1n, [b('z'), b('a'), Buffer.from([0x80, 0x01])]);
  clock.advance(2_500);
  const t = lessor.timeToLive(1n, true);
  assert.equal(t.ttlSec, 7);
  assert.equal(t.grantedTtlSec, 10);
  assert.deepEqual(t.keys, [b('a'), b('z'), Buffer.from([0x80, 0x01])]);
  assert.deepEqual(lessor.timeToLive(1n, false).keys, []);
  clock.advance(8_000); // 0.5 s past expiry: -0.5 truncates to 0, not -0
  assert.ok(Object.is(lessor.timeToLive(1n, false).ttlSec, 0));
  clock.advance(1_000);
  assert.equal(lessor.timeToLive(1n, false).ttlSec, -1);
  assert.throws(() => lessor.timeToLive(2n, false), { code: 'ERR_LEASE_NOT_FOUND' });
});

test('promote restarts every lease from its TTL plus the extension; demote makes them forever', () => {
  const { lessor, clock } = memoryLessor();
  lessor.grant(1n, 10);
  lessor.grant(2n, 20);
  clock.advance(50_000); // time passes while not primary: nothing counts down
  lessor.promote(1_500);
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 11_500);
  assert.equal(lessor.lookup(2n)!.expiryMs, clock.ms + 21_500);
  lessor.checkInvariants();
  clock.advance(11_499);
  assert.deepEqual(lessor.expiredLeases(), []);
  clock.advance(1);
  assert.deepEqual(lessor.expiredLeases(), [1n]);
  lessor.demote();
  assert.equal(lessor.lookup(1n)!.expiryMs, Infinity);
  assert.equal(lessor.stats().expiryQueue, 0);
  clock.advance(1e6);
  assert.deepEqual(lessor.expiredLeases(), []);
  lessor.checkInvariants();
  lessor.promote(0); // the expired-but-unrevoked lease gets its full TTL again, as in etcd
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 10_000);
  lessor.checkInvariants();
});

test('promote with many leases expiring together spreads them so no second exceeds 3/4 of the revoke rate', () => {
  const { lessor, clock } = memoryLessor({ revokeRatePerSec: 1000 });
  const n = 3000;
  for (let i = 1; i <= n; i++) lessor.grant(BigInt(i), 10);
  lessor.grant(BigInt(n + 1), 100); // a lone late lease is left where it is
  lessor.promote(0);
  lessor.checkInvariants();
  const start = clock.ms;
  const expiries = lessor.leaseIds().map((id) => lessor.lookup(id)!.expiryMs - start);
  assert.equal(expiries[n], 100_000);
  const early = expiries.slice(0, n).sort((x, y) => x - y);
  assert.equal(early[0], 10_000);
  assert.equal(early.filter((t) => t === 10_000).length, 750, 'the first 750 keep their expiry');
  // Sliding one-second windows over the spread expiries never hold more than 751.
  for (let i = 0, j = 0; i < early.length; i++) {
    while (early[j]! < early[i]! - 999.999) j++;
    assert.ok(i - j + 1 <= 751, `window ending at ${early[i]} holds ${i - j + 1}`);
  }
  assert.ok(Math.abs(early[n - 1]! - 14_000) < 0.001, `last spread expiry ${early[n - 1]}`);
  // Revoking at 500 per call from the spread queue drains in order without overshooting.
  clock.advance(14_000);
  let drained = 0;
  for (let got = lessor.expiredLeases(500); got.length > 0; got = lessor.expiredLeases(500)) {
    assert.ok(got.length <= 500);
    drained += got.length;
  }
  assert.equal(drained, n);
});

test('below the revoke rate promote does not spread (etcd: no pile-up possible)', () => {
  const { lessor, clock } = memoryLessor();
  for (let i = 1; i <= 999; i++) lessor.grant(BigInt(i), 10);
  lessor.promote(0);
  for (let i = 1; i <= 999; i++) assert.equal(lessor.lookup(BigInt(i))!.expiryMs, clock.ms + 10_000);
});

test('checkpoints: due after the interval with the remaining TTL, applied only on promotion', () => {
  const { lessor, clock } = memoryLessor({ checkpoint: true, checkpointIntervalMs: 300_000 });
  lessor.promote(0);
  lessor.grant(1n, 600);
  lessor.grant(2n, 300); // TTL not above the interval: never checkpointed
  clock.advance(299_999);
  assert.deepEqual(lessor.dueCheckpoints(), []);
  clock.advance(1);
  assert.deepEqual(lessor.dueCheckpoints(), [{ id: 1n, remainingTtlSec: 300 }]);
  assert.deepEqual(lessor.dueCheckpoints(), [], 'a checkpoint is handed out once');
  // The server proposes it; on apply:
  lessor.checkpoint(1n, 300);
  assert.equal(lessor.lookup(1n)!.remainingTtlSec, 300);
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 300_000, 'applying does not move the running expiry');
  // Leadership moves: the new primary resumes from the checkpoint, not the full TTL.
  lessor.demote();
  clock.advance(100_000);
  lessor.promote(1_000);
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 301_000);
  lessor.checkInvariants();
});

test('a renewal after a checkpoint owes a zero checkpoint, handed out before due ones', () => {
  const { lessor, clock } = memoryLessor({ checkpoint: true, checkpointIntervalMs: 300_000 });
  lessor.promote(0);
  lessor.grant(1n, 1000);
  lessor.grant(2n, 1000);
  lessor.checkpoint(1n, 800);
  assert.equal(lessor.renew(1n), 1000);
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 1_000_000, 'renewal restarts the full TTL');
  assert.equal(lessor.renew(2n), 1000, 'no checkpoint held: nothing owed');
  clock.advance(300_000);
  const due = lessor.dueCheckpoints(10);
  assert.deepEqual(due[0], { id: 1n, remainingTtlSec: 0 }, 'the owed zero checkpoint comes first');
  const scheduled = due.slice(1).sort((x, y) => Number(x.id - y.id));
  assert.deepEqual(scheduled, [{ id: 1n, remainingTtlSec: 700 }, { id: 2n, remainingTtlSec: 700 }]);
  lessor.checkpoint(1n, 0);
  assert.equal(lessor.lookup(1n)!.remainingTtlSec, 0);
  lessor.demote();
  lessor.promote(0);
  assert.equal(lessor.lookup(1n)!.expiryMs, clock.ms + 1_000_000, 'cleared checkpoint: full TTL on promotion');
});

test('dueCheckpoints respects max and is empty when checkpointing is off or not primary', () => {
  const on = memoryLessor({ checkpoint: true, checkpointIntervalMs: 1000 });
  on.lessor.promote(0);
  for (let i = 1; i <= 5; i++) on.lessor.grant(BigInt(i), 100);
  on.clock.advance(1000);
  assert.equal(on.lessor.dueCheckpoints(2).length, 2);
  assert.equal(on.lessor.dueCheckpoints(10).length, 3);
  on.lessor.demote();
  on.clock.advance(5000);
  assert.deepEqual(on.lessor.dueCheckpoints(), []);

  const off = memoryLessor();
  off.lessor.promote(0);
  off.lessor.grant(1n, 100_000);
  off.clock.advance(1e9);
  assert.deepEqual(off.lessor.dueCheckpoints(), []);
  off.lessor.checkpoint(1n, 5); // applying still works (another member may propose them)
  assert.equal(off.lessor.lookup(1n)!.remainingTtlSec, 5);
  off.lessor.checkpoint(99n, 5); // a missing lease is ignored, as etcd does
});

test('checkpoints reach the backend only with checkpointPersist', () => {
  const plain = memoryLessor({ checkpoint: true });
  plain.lessor.grant(1n, 1000);
  plain.lessor.checkpoint(1n, 400);
  assert.deepEqual(decodeLeaseRecord(plain.store.get(LEASE_BUCKET, leaseKey(1n))!), { id: 1n, ttlSec: 1000, remainingTtlSec: 0 });

  const persisted = memoryLessor({ checkpoint: true, checkpointPersist: true });
  persisted.lessor.grant(1n, 1000);
  persisted.lessor.checkpoint(1n, 400);
  assert.deepEqual(decodeLeaseRecord(persisted.store.get(LEASE_BUCKET, leaseKey(1n))!), { id: 1n, ttlSec: 1000, remainingTtlSec: 400 });
});

test('options are validated at open, with etcd\'s message for persist without checkpoint', () => {
  assert.throws(() => memoryLessor({ checkpointPersist: true }), {
    code: 'ERR_BAD_OPTION',
    message: /experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint/,
  });
  assert.throws(() => memoryLessor({ minTtlSec: 0 }), { code: 'ERR_BAD_OPTION' });
  assert.throws(() => memoryLessor({ minTtlSec: MAX_LEASE_TTL_SEC + 1 }), { code: 'ERR_BAD_OPTION' });
  assert.throws(() => memoryLessor({ expiredRetryMs: 0 }), { code: 'ERR_BAD_OPTION' });
  assert.throws(() => memoryLessor({ checkpointIntervalMs: 999 }), { code: 'ERR_BAD_OPTION' });
  assert.throws(() => memoryLessor({ revokeRatePerSec: 3 }), { code: 'ERR_BAD_OPTION' });
  memoryLessor({ minTtlSec: 1, expiredRetryMs: 1, checkpointIntervalMs: 1000, revokeRatePerSec: 4 });
});
