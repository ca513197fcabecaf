import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../pkg';
import { Inflights } from './inflights';
import { Progress, ProgressState } from './progress';

function progress(f: { match: number; next: number; state?: ProgressState; pendingSnapshot?: number; capacity?: number }): Progress {
  const p = new Progress({ match: f.match, next: f.next, inflights: new Inflights(f.capacity ?? 256, 0), isLearner: false, recentActive: true });
  p.state = f.state ?? 'StateProbe';
  p.pendingSnapshot = f.pendingSnapshot ?? 0;
  return p;
}

test('inflights is full exactly at its message capacity and frees acknowledged messages', () => {
  const inf = new Inflights(3, 0);
  inf.add(1, 10);
  inf.add(2, 10);
  assert.equal(inf.full(), false);
  inf.add(5, 10);
  assert.equal(inf.full(), true, 'full at capacity');
  assert.throws(() => inf.add(6, 1), AssertionError);
  inf.freeLE(1);
  assert.equal(inf.count, 2);
  assert.equal(inf.full(), false);
  // Freeing below the window frees nothing.
  inf.freeLE(0);
  assert.equal(inf.count, 2);
  // Freeing in the middle of a message's range frees messages whose last index is covered.
  inf.freeLE(4);
  assert.equal(inf.count, 1);
  inf.freeFirstOne();
  assert.equal(inf.count, 0);
  assert.equal(inf.bytes, 0);
  inf.freeFirstOne();
  assert.equal(inf.count, 0);
});

test('inflights is full once the byte limit is reached, not before', () => {
  const inf = new Inflights(100, 100);
  inf.add(1, 60);
  assert.equal(inf.full(), false);
  inf.add(2, 39);
  assert.equal(inf.full(), false, '99 bytes < 100');
  inf.add(3, 1);
  assert.equal(inf.full(), true, '100 bytes');
  inf.freeLE(1);
  assert.equal(inf.bytes, 40);
  assert.equal(inf.full(), false);
});

test('inflights must be added in increasing index order', () => {
  const inf = new Inflights(10, 0);
  inf.add(5, 1);
  assert.throws(() => inf.add(5, 1), AssertionError);
  assert.throws(() => inf.add(4, 1), AssertionError);
});

test('inflights stays correct across many adds and frees (compaction of its arrays)', () => {
  const inf = new Inflights(50, 0);
  let next = 1;
  let acked = 0;
  for (let i = 0; i < 5000; i++) {
    while (!inf.full()) inf.add(next++, 1);
    acked += 1 + (i % 7);
    acked = Math.min(acked, next - 1);
    inf.freeLE(acked);
    assert.equal(inf.count, next - 1 - acked);
    assert.equal(inf.bytes, inf.count);
  }
  const c = inf.clone();
  assert.equal(c.count, inf.count);
});

test('progress: maybeUpdate moves match and next forward only', () => {
  const p = progress({ match: 3, next: 5 });
  assert.equal(p.maybeUpdate(2), false);
  assert.deepEqual([p.match, p.next], [3, 5]);
  assert.equal(p.maybeUpdate(3), false);
  assert.equal(p.maybeUpdate(4), true);
  assert.deepEqual([p.match, p.next], [4, 5]);
  assert.equal(p.maybeUpdate(5), true);
  assert.deepEqual([p.match, p.next], [5, 6]);
});

test('progress: maybeUpdate clears an outstanding probe', () => {
  const p = progress({ match: 1, next: 2 });
  p.probeSent = true;
  p.maybeUpdate(2);
  assert.equal(p.probeSent, false);
});

test('progress: maybeDecrTo while replicating goes back to match+1 unless the rejection is stale', () => {
  const p = progress({ match: 5, next: 10, state: 'StateReplicate' });
  assert.equal(p.maybeDecrTo(5, 5), false, 'rejection at match is stale');
  assert.equal(p.maybeDecrTo(4, 4), false);
  assert.equal(p.next, 10);
  assert.equal(p.maybeDecrTo(9, 9), true);
  assert.equal(p.next, 6);
});

test('progress: maybeDecrTo while probing uses the hint and ignores rejections of other probes', () => {
  const cases: [number, number, number, boolean, number][] = [
    // next, rejected, matchHint -> ok, new next
    [10, 5, 5, false, 10], // not the outstanding probe (next-1 = 9)
    [10, 9, 9, true, 9], // step back by one
    [10, 9, 2, true, 3], // jump to hint+1
    [10, 9, 0, true, 1], // never below 1
    [2, 1, 1, true, 1],
    [1, 0, 0, true, 1],
  ];
  for (const [next, rejected, hint, ok, want] of cases) {
    const p = progress({ match: 0, next });
    p.probeSent = true;
    assert.equal(p.maybeDecrTo(rejected, hint), ok, `next=${next} rejected=${rejected} hint=${hint}`);
    assert.equal(p.next, want);
    if (ok) assert.equal(p.probeSent, false, 'a decrease allows the next probe');
  }
});

test('progress: becomeProbe after a snapshot probes after the snapshot, after a failure from match', () => {
  const ok = progress({ match: 1, next: 5, state: 'StateSnapshot', pendingSnapshot: 10 });
  ok.becomeProbe();
  assert.deepEqual([ok.state, ok.match, ok.next], ['StateProbe', 1, 11]);
  const failed = progress({ match: 1, next: 5, state: 'StateSnapshot', pendingSnapshot: 0 });
  failed.becomeProbe();
  assert.equal(failed.next, 2);
  const repl = progress({ match: 1, next: 5, state: 'StateReplicate' });
  repl.becomeProbe();
  assert.equal(repl.next, 2);
});

test('progress: paused when probing with a probe out, replicating with a full window, or snapshotting', () => {
  const probe = progress({ match: 0, next: 1 });
  assert.equal(probe.isPaused(), false);
  probe.probeSent = true;
  assert.equal(probe.isPaused(), true);
  const repl = progress({ match: 0, next: 1, state: 'StateReplicate', capacity: 1 });
  assert.equal(repl.isPaused(), false);
  repl.inflights.add(1, 0);
  assert.equal(repl.isPaused(), true);
  const snap = progress({ match: 0, next: 1, state: 'StateSnapshot' });
  assert.equal(snap.isPaused(), true);
});

test('progress prints in etcd format', () => {
  const p = new Progress({ match: 1, next: 2, inflights: new Inflights(1, 0), isLearner: true, recentActive: false });
  p.becomeSnapshot(123);
  p.inflights.add(123, 1);
  assert.equal(p.toString(), 'StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]');
});
