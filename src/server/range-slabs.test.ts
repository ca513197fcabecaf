/**
 * Slabs shared by the range worker and the member's thread (range-slabs.ts): created up to the
 * limit and no further, taken round the ring, reused once released and not before, given back
 * by a failed job; a double release or a view of a free slab is an error. Both sides are
 * driven from this thread: the protocol is in the shared states, not in the threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlabSource, SlabTable } from './range-slabs';

test('slabs are created up to the limit, reused once released, and never handed out twice', () => {
  const table = new SlabTable(3);
  const source = new SlabSource(table.states, 64);
  const a = source.take()!;
  const b = source.take()!;
  const c = source.take()!;
  assert.deepEqual([a.index, b.index, c.index], [0, 1, 2]);
  assert.ok(a.created && b.created && c.created);
  assert.equal(a.memory.byteLength, 64);
  assert.equal(source.take(), null, 'all three taken: no fourth');
  assert.deepEqual(table.counts(), { created: 3, taken: 3 });
  for (const s of [a, b, c]) table.learn(s.index, s.memory);

  Buffer.from(b.memory).write('hello');
  assert.equal(table.bytes(1, 5).toString(), 'hello', 'the member sees what the worker wrote');
  const releaseAB = table.releaser([0, 1]);
  releaseAB();
  releaseAB(); // once only
  assert.deepEqual(table.counts(), { created: 3, taken: 1 });
  assert.throws(() => table.bytes(1, 5), /slab 1 is not taken/);

  const again = [source.take()!, source.take()!];
  assert.deepEqual(again.map((s) => s.index).sort(), [0, 1]);
  assert.ok(again.every((s) => !s.created), 'reused, not created');
  assert.equal(again.find((s) => s.index === 1)!.memory, b.memory);
  assert.equal(source.take(), null);

  // A failed job gives its slabs back itself.
  source.giveBack([0, 1]);
  assert.deepEqual(table.counts(), { created: 3, taken: 1 });
  assert.throws(() => source.giveBack([0]), /slab 0 was not taken/);
  table.releaser([2])();
  assert.throws(() => table.releaser([2])(), /slab 2 released twice/);
  assert.deepEqual(table.counts(), { created: 3, taken: 0 });
});

test('slabs are taken round the ring, so the one released last is reused last', () => {
  const table = new SlabTable(4);
  const source = new SlabSource(table.states, 16);
  const taken = [0, 1, 2, 3].map(() => source.take()!.index);
  table.releaser(taken)();
  const order = [0, 1, 2, 3].map(() => source.take()!.index);
  assert.deepEqual(order, [0, 1, 2, 3]);
  table.releaser([1, 2])();
  assert.equal(source.take()!.index, 1);
  assert.equal(source.take()!.index, 2);
});

test('a table refuses a limit below one and a slab learned twice or out of range', () => {
  assert.throws(() => new SlabTable(0), /limit 0/);
  const table = new SlabTable(2);
  const source = new SlabSource(table.states, 8);
  const s = source.take()!;
  table.learn(s.index, s.memory);
  assert.throws(() => table.learn(s.index, s.memory), /learned twice/);
  assert.throws(() => table.learn(2, new SharedArrayBuffer(8)), /out of range/);
});
