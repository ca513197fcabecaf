import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../pkg';
import { EventQueue } from './clock';

test('events run in virtual-time order, ties in the order they were scheduled', () => {
  const q = new EventQueue();
  const ran: string[] = [];
  q.schedule(5, () => ran.push(`a@${q.nowMs}`));
  q.schedule(1, () => ran.push(`b@${q.nowMs}`));
  q.schedule(5, () => ran.push(`c@${q.nowMs}`));
  q.schedule(0, () => {
    ran.push(`d@${q.nowMs}`);
    q.schedule(1, () => ran.push(`e@${q.nowMs}`)); // due at 1, after b (scheduled earlier)
  });
  while (q.runNext());
  assert.deepEqual(ran, ['d@0', 'b@1', 'e@1', 'a@5', 'c@5']);
  assert.equal(q.size, 0);
});

test('many events come out sorted by (time, sequence)', () => {
  const q = new EventQueue();
  const out: [number, number][] = [];
  for (let i = 0; i < 500; i++) {
    const d = (i * 7919) % 37;
    q.schedule(d, () => out.push([q.nowMs, i]));
  }
  while (q.runNext());
  for (let i = 1; i < out.length; i++) {
    const [t0, s0] = out[i - 1]!;
    const [t1, s1] = out[i]!;
    assert.ok(t0 < t1 || (t0 === t1 && s0 < s1), `out of order at ${i}`);
  }
});

test('a negative or non-finite delay is a broken invariant', () => {
  const q = new EventQueue();
  assert.throws(() => q.schedule(-1, () => {}), AssertionError);
  assert.throws(() => q.schedule(NaN, () => {}), AssertionError);
});
