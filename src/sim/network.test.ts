import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../pkg';
import { makeMessage, Message } from '../raft';
import { EventQueue } from './clock';
import { DropReason, LinkFaults, Network, RELIABLE } from './network';

function setup(faults: LinkFaults) {
  const q = new EventQueue();
  const got: Message[] = [];
  const lost: DropReason[] = [];
  const net = new Network(q, new Rng(7), faults, { deliver: (m) => got.push(m), lost: (_m, why) => lost.push(why) });
  return { q, net, got, lost };
}
const msg = (from: bigint, to: bigint, index = 0) => makeMessage({ type: 'MsgApp', from, to, index });

test('a reliable link delivers every message once, after its delay', () => {
  const { q, net, got, lost } = setup(RELIABLE);
  for (let i = 0; i < 10; i++) net.send(msg(1n, 2n, i));
  assert.equal(got.length, 0, 'nothing arrives before virtual time moves');
  while (q.runNext());
  assert.deepEqual(got.map((m) => m.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(lost.length, 0);
  assert.equal(q.nowMs, 1);
});

test('random delays reorder, duplicates arrive twice, drops are reported', () => {
  const { q, net, got, lost } = setup({ dropRate: 0.2, duplicateRate: 0.2, minDelayMs: 1, maxDelayMs: 50 });
  for (let i = 0; i < 500; i++) net.send(msg(1n, 2n, i));
  while (q.runNext());
  const idx = got.map((m) => m.index);
  assert.ok(idx.some((x, i) => i > 0 && x < idx[i - 1]!), 'no reordering');
  assert.ok(new Set(idx).size < idx.length, 'no duplicates');
  assert.ok(lost.length > 50 && lost.length < 150, `drops ${lost.length} of 500 at 20%`);
  assert.ok(lost.every((w) => w === 'drop'));
});

test('a partition loses messages sent across it and those in flight when it starts; heal restores', () => {
  const { q, net, got, lost } = setup({ ...RELIABLE, maxDelayMs: 10 });
  net.send(msg(1n, 3n)); // in flight when the partition starts
  net.partition([1n], [1n, 2n, 3n]);
  net.send(msg(3n, 1n));
  net.send(msg(2n, 3n)); // same side: delivered
  while (q.runNext());
  assert.deepEqual(got.map((m) => `${m.from}>${m.to}`), ['2>3']);
  assert.deepEqual(lost, ['partition', 'partition']);
  net.heal();
  net.send(msg(1n, 3n));
  while (q.runNext());
  assert.equal(got.length, 2);
});
