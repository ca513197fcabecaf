import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeJoint,
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
  quorumSize,
  VoteResult,
} from './quorum';
import { TestRng } from './test-rng';
import { NodeId } from './types';

function set(...ids: number[]): Set<NodeId> {
  return new Set(ids.map((i) => BigInt(i)));
}

function acked(m: Record<number, number>): (id: NodeId) => number | undefined {
  return (id) => m[Number(id)];
}

function votes(m: Record<number, boolean>): Map<NodeId, boolean> {
  return new Map(Object.entries(m).map(([k, v]) => [BigInt(k), v]));
}

test('quorum size is a strict majority', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
});

test('majority committed index is the highest index a quorum has acknowledged', () => {
  // Empty config never holds anything back (so an unused joint half is neutral).
  assert.equal(majorityCommittedIndex(set(), acked({})), Infinity);
  assert.equal(majorityCommittedIndex(set(1), acked({ 1: 5 })), 5);
  assert.equal(majorityCommittedIndex(set(1), acked({})), 0);
  // Two voters need both.
  assert.equal(majorityCommittedIndex(set(1, 2), acked({ 1: 5, 2: 3 })), 3);
  // Three voters: the median.
  assert.equal(majorityCommittedIndex(set(1, 2, 3), acked({ 1: 9, 2: 3, 3: 7 })), 7);
  // A missing voter counts as 0.
  assert.equal(majorityCommittedIndex(set(1, 2, 3), acked({ 1: 9, 3: 7 })), 7);
  assert.equal(majorityCommittedIndex(set(1, 2, 3), acked({ 1: 9 })), 0);
  // Four voters need three.
  assert.equal(majorityCommittedIndex(set(1, 2, 3, 4), acked({ 1: 10, 2: 8, 3: 6, 4: 4 })), 6);
  // Acks from non-voters are ignored.
  assert.equal(majorityCommittedIndex(set(1, 2, 3), acked({ 1: 5, 4: 100, 5: 100 })), 0);
});

test('majority committed index agrees with a brute-force count on random inputs', () => {
  const rng = new TestRng(7);
  for (let round = 0; round < 2000; round++) {
    const n = rng.int(8);
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    const m: Record<number, number> = {};
    for (const id of ids) if (rng.chance(0.8)) m[id] = rng.int(10);
    const got = majorityCommittedIndex(set(...ids), acked(m));
    let want = Infinity;
    if (n > 0) {
      want = 0;
      for (let i = 0; i <= 10; i++) {
        const have = ids.filter((id) => (m[id] ?? 0) >= i).length;
        if (have >= quorumSize(n)) want = i;
      }
    }
    assert.equal(got, want, `ids=${ids} acked=${JSON.stringify(m)}`);
  }
});

test('majority vote: won with a quorum of yes, lost once a quorum is impossible, else pending', () => {
  const cases: [Set<NodeId>, Record<number, boolean>, VoteResult][] = [
    [set(), {}, 'VoteWon'],
    [set(1), {}, 'VotePending'],
    [set(1), { 1: true }, 'VoteWon'],
    [set(1), { 1: false }, 'VoteLost'],
    [set(1, 2), { 1: true }, 'VotePending'],
    [set(1, 2), { 1: true, 2: false }, 'VoteLost'],
    [set(1, 2, 3), { 1: true, 2: true }, 'VoteWon'],
    [set(1, 2, 3), { 1: true, 2: false }, 'VotePending'],
    [set(1, 2, 3), { 1: false, 2: false }, 'VoteLost'],
    // Votes of non-members do not count.
    [set(1, 2, 3), { 1: true, 4: true, 5: true }, 'VotePending'],
    [set(1, 2, 3, 4), { 1: true, 2: true }, 'VotePending'],
    [set(1, 2, 3, 4), { 1: true, 2: true, 3: true }, 'VoteWon'],
    [set(1, 2, 3, 4), { 1: false, 2: false }, 'VoteLost'],
  ];
  for (const [cfg, v, want] of cases) assert.equal(majorityVoteResult(cfg, votes(v)), want, `${[...cfg]} ${JSON.stringify(v)}`);
});

test('joint committed index is the minimum of both halves', () => {
  const cfg = { incoming: set(1, 2, 3), outgoing: set(3, 4, 5) };
  // incoming (1 2 3) has 7 on a quorum; outgoing (3 4 5) only 2.
  assert.equal(jointCommittedIndex(cfg, acked({ 1: 7, 2: 8, 3: 9, 4: 2, 5: 1 })), 2);
  assert.equal(jointCommittedIndex(cfg, acked({ 1: 1, 2: 1, 3: 9, 4: 9, 5: 9 })), 1);
  // A non-joint config behaves like its incoming half.
  assert.equal(jointCommittedIndex({ incoming: set(1, 2, 3), outgoing: set() }, acked({ 1: 4, 2: 4, 3: 1 })), 4);
});

test('joint vote needs both halves: lost if either loses, won only if both win', () => {
  const cfg = { incoming: set(1, 2, 3), outgoing: set(3, 4, 5) };
  assert.equal(jointVoteResult(cfg, votes({ 1: true, 2: true })), 'VotePending');
  assert.equal(jointVoteResult(cfg, votes({ 1: true, 2: true, 4: true, 5: true })), 'VoteWon');
  assert.equal(jointVoteResult(cfg, votes({ 1: true, 2: true, 4: false, 5: false })), 'VoteLost');
  assert.equal(jointVoteResult(cfg, votes({ 3: true, 4: true })), 'VotePending');
  assert.equal(jointVoteResult(cfg, votes({ 1: true, 3: true, 4: true })), 'VoteWon');
  assert.equal(jointVoteResult({ incoming: set(1), outgoing: set() }, votes({ 1: true })), 'VoteWon');
});

test('configs print in etcd format, ids ascending', () => {
  assert.equal(describeJoint({ incoming: set(3, 1, 2), outgoing: set() }), '(1 2 3)');
  assert.equal(describeJoint({ incoming: set(2, 1), outgoing: set(4, 1) }), '(1 2)&&(1 4)');
});
