import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type HeapEntry, TimeHeap } from './time-heap';
import { Rng, forSeeds } from './test-support';

test('random push / pop / update / remove sequences pop in time order, matching a sorted model', () => {
  forSeeds(20, (seed) => {
    const rng = new Rng(seed);
    const heap = new TimeHeap();
    const live = new Map<bigint, HeapEntry>();
    let next = 0n;
    for (let step = 0; step < 2000; step++) {
      const op = rng.int(10);
      const any = [...live.values()];
      if (op < 4 || any.length === 0) {
        const e: HeapEntry = { id: next++, timeMs: rng.int(1000), index: -1 };
        heap.push(e);
        live.set(e.id, e);
      } else if (op < 6) {
        heap.update(rng.pick(any), rng.int(1000));
      } else if (op < 8) {
        const e = rng.pick(any);
        heap.remove(e);
        assert.equal(e.index, -1);
        live.delete(e.id);
      } else {
        const min = Math.min(...any.map((e) => e.timeMs));
        const top = heap.pop()!;
        assert.equal(top.timeMs, min, `seed ${seed} step ${step}: pop returns the earliest time`);
        live.delete(top.id);
      }
      assert.equal(heap.size, live.size);
      heap.check();
    }
    const drained: number[] = [];
    for (let e = heap.pop(); e !== null; e = heap.pop()) drained.push(e.timeMs);
    assert.deepEqual(drained, [...drained].sort((a, b) => a - b));
  });
});

test('rebuild heapifies in O(n): at most 2n sift steps', () => {
  const heap = new TimeHeap();
  const n = 100_000;
  const entries: HeapEntry[] = [];
  for (let i = 0; i < n; i++) entries.push({ id: BigInt(i), timeMs: n - i, index: -1 });
  heap.rebuild(entries);
  heap.check();
  assert.ok(heap.siftSteps <= 2 * n, `${heap.siftSteps} steps`);
  assert.equal(heap.peek()!.timeMs, 1);
});

test('each push, update and remove walks at most ceil(log2 n) + 1 levels', () => {
  const heap = new TimeHeap();
  const n = 1 << 16;
  const entries: HeapEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e: HeapEntry = { id: BigInt(i), timeMs: n - i, index: -1 }; // each push sifts to the root
    const before = heap.siftSteps;
    heap.push(e);
    assert.ok(heap.siftSteps - before <= 17);
    entries.push(e);
  }
  const rng = new Rng(7);
  for (let i = 0; i < 1000; i++) {
    const before = heap.siftSteps;
    heap.update(rng.pick(entries), rng.chance(0.5) ? -i : 10 * n + i);
    assert.ok(heap.siftSteps - before <= 2 * 17, 'update sifts one way after at most one failed step the other');
  }
  heap.check();
});

test('misuse is an assertion, never silent corruption', () => {
  const heap = new TimeHeap();
  const e: HeapEntry = { id: 1n, timeMs: 1, index: -1 };
  heap.push(e);
  assert.throws(() => heap.push(e), /already queued/);
  heap.remove(e);
  assert.throws(() => heap.remove(e), /not in this heap/);
  assert.throws(() => heap.update(e, 5), /not in this heap/);
});
