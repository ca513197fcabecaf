/**
 * A million leases (design.md §5, the seed's "large-scale lease usage"). Work is counted, not
 * timed: the heap's sift steps per operation must stay within O(log n), a call of
 * expiredLeases must hand out at most its budget and do work proportional to it, and a call
 * with nothing due must do no heap work at all.
 *
 * The store here only counts writes: the subject is the lessor's own cost (persistence through
 * the real engine is covered by lessor-persist.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lessor, type LeaseStore } from './index';
import { ManualClock } from './test-support';

class CountingStore implements LeaseStore {
  puts = 0;
  deletes = 0;
  createBucket(): void {}
  put(): void {
    this.puts++;
  }
  delete(): void {
    this.deletes++;
  }
  range() {
    return { keys: [], values: [] };
  }
}

const N = 1_000_000;
const LOG2_N = Math.ceil(Math.log2(N)); // 20
/** A server-style id: member bits on top, so every id is above 2^53. */
const idOf = (i: number): bigint => (0x5a5an << 48n) | BigInt(i);
/** TTLs cycle through 10..1009 s: every second from 10 s on, 1000 leases fall due. */
const ttlOf = (i: number): number => 10 + (i % 1000);

test('a million leases: grant, expiry, revoke and renew stay O(log n) per lease; expiry is rate-limited', () => {
  const store = new CountingStore();
  const clock = new ManualClock();
  const deleted: number[] = [];
  const lessor = Lessor.open({ store, clock, keyDeleter: { deleteKeys: (keys) => deleted.push(keys.length) } }, { expiredRetryMs: 3000 });
  lessor.promote(0);

  let worstGrant = 0;
  for (let i = 0; i < N; i++) {
    if (i % 1000 !== 0) {
      lessor.grant(idOf(i), ttlOf(i));
      continue;
    }
    // Sample single grants for the per-operation bound.
    const s = lessor.stats().heapSiftSteps;
    lessor.grant(idOf(i), ttlOf(i));
    worstGrant = Math.max(worstGrant, lessor.stats().heapSiftSteps - s);
  }
  const grantSteps = lessor.stats().heapSiftSteps;
  assert.equal(lessor.size, N);
  assert.equal(store.puts, N, 'one record write per grant');
  assert.ok(grantSteps <= N * (LOG2_N + 1), `grant sift steps ${grantSteps} exceed n(log n + 1)`);
  assert.ok(worstGrant <= LOG2_N + 1, `a single grant took ${worstGrant} sift steps`);
  console.log(`1M grants: ${grantSteps} heap sift steps (${(grantSteps / N).toFixed(2)} per grant)`);

  // Nothing due: a call looks at the top of the heap and stops.
  clock.advance(9_999);
  let before = lessor.stats().heapSiftSteps;
  assert.deepEqual(lessor.expiredLeases(500), []);
  assert.equal(lessor.stats().heapSiftSteps, before, 'no heap work when nothing is due');

  // 3.5 s later, the leases with TTL 10..13 s are due: 4 000 of them, handed out 500 per call.
  clock.advance(3_501);
  const due = 4 * (N / 1000);
  const handed: bigint[] = [];
  let calls = 0;
  for (;;) {
    before = lessor.stats().heapSiftSteps;
    const got = lessor.expiredLeases(500);
    const work = lessor.stats().heapSiftSteps - before;
    if (got.length === 0) break;
    calls++;
    assert.ok(got.length <= 500, `a call handed out ${got.length}`);
    assert.ok(work <= got.length * (LOG2_N + 1), `a call of ${got.length} took ${work} sift steps`);
    handed.push(...got);
  }
  assert.equal(handed.length, due);
  assert.equal(calls, due / 500);
  assert.equal(new Set(handed).size, due, 'no lease handed out twice within the retry interval');
  for (const id of handed) assert.ok(ttlOf(Number(id & 0xffff_ffffn)) <= 13, `lease ${id} was not due`);

  // Revoking them is O(log n) each too.
  before = lessor.stats().heapSiftSteps;
  for (const id of handed) lessor.revoke(id);
  const revokeSteps = lessor.stats().heapSiftSteps - before;
  assert.ok(revokeSteps <= due * 2 * (LOG2_N + 1), `revokes took ${revokeSteps} sift steps`);
  assert.equal(store.deletes, due);
  assert.deepEqual(deleted, [], 'no keys were attached, so no deletes');
  assert.equal(lessor.size, N - due);

  // Keepalives of leases deep in the heap.
  before = lessor.stats().heapSiftSteps;
  for (let i = 500_004; i < 501_004; i++) if (ttlOf(i) > 13) lessor.renew(idOf(i));
  const renewSteps = lessor.stats().heapSiftSteps - before;
  assert.ok(renewSteps <= 1000 * 2 * (LOG2_N + 1), `1000 renewals took ${renewSteps} sift steps`);

  // A new leader with a million leases: the heap is rebuilt in O(n), not n pushes.
  lessor.demote();
  assert.equal(lessor.stats().expiryQueue, 0);
  before = lessor.stats().heapSiftSteps;
  lessor.promote(1_000);
  const promoteSteps = lessor.stats().heapSiftSteps - before;
  assert.equal(lessor.stats().expiryQueue, N - due);
  assert.ok(promoteSteps <= 2 * N, `promotion took ${promoteSteps} sift steps`);
  // Expiries were spread at promotion: the first second after the earliest expiry holds at
  // most 3/4 of the revocation rate (+1 for the lease that opens the window).
  clock.advance(1_000 + 14_000 + 999);
  const firstSecond = lessor.expiredLeases(10_000).length;
  assert.ok(firstSecond > 0 && firstSecond <= 751, `${firstSecond} leases due in the first second`);
  console.log(`promote of ${N - due} leases: ${promoteSteps} heap sift steps; ${firstSecond} due in its first second`);
});
