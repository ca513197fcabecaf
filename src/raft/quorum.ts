/**
 * Quorum arithmetic over majority configs and joint configs (two majorities that must both
 * agree, used during joint consensus). Pure functions over sets of node ids.
 *
 * Conventions that make a joint config with an empty outgoing half behave like its incoming
 * half alone: an empty majority config wins every vote and has committed index Infinity.
 */
import { compareIds, NodeId } from './types';

/** The outcome of an election so far. */
export type VoteResult = 'VotePending' | 'VoteLost' | 'VoteWon';

/** The index a voter has acknowledged (its match index), or undefined if unknown. */
export type AckedIndexer = (id: NodeId) => number | undefined;

/** Two majority configs that must both agree (the second empty when not joint). */
export interface JointConfig {
  readonly incoming: ReadonlySet<NodeId>;
  /** Empty unless the config is joint. */
  readonly outgoing: ReadonlySet<NodeId>;
}

/** Votes needed to win in a config of n voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index acknowledged by a majority of `voters`. Voters that have not reported
 * count as 0. Empty config: Infinity (so it never holds back a joint config).
 */
export function majorityCommittedIndex(voters: ReadonlySet<NodeId>, acked: AckedIndexer): number {
  const n = voters.size;
  if (n === 0) return Infinity;
  const idx: number[] = [];
  for (const id of voters) idx.push(acked(id) ?? 0);
  idx.sort((a, b) => a - b);
  // With indexes sorted ascending, the one at n - quorum is held by at least `quorum` voters.
  return idx[n - quorumSize(n)]!;
}

/** The outcome of a vote in a majority config; missing votes may still go either way. */
export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'VoteWon';
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = quorumSize(voters.size);
  if (yes >= q) return 'VoteWon';
  if (yes + missing >= q) return 'VotePending';
  return 'VoteLost';
}

/** Committed index of a joint config: the smaller of both halves. */
export function jointCommittedIndex(c: JointConfig, acked: AckedIndexer): number {
  return Math.min(majorityCommittedIndex(c.incoming, acked), majorityCommittedIndex(c.outgoing, acked));
}

/** A joint vote is won when both halves win and lost as soon as either loses. */
export function jointVoteResult(c: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const r1 = majorityVoteResult(c.incoming, votes);
  const r2 = majorityVoteResult(c.outgoing, votes);
  if (r1 === r2) return r1;
  if (r1 === 'VoteLost' || r2 === 'VoteLost') return 'VoteLost';
  return 'VotePending';
}

/** Every voter of either half. */
export function jointIds(c: JointConfig): Set<NodeId> {
  const s = new Set<NodeId>(c.incoming);
  for (const id of c.outgoing) s.add(id);
  return s;
}

/** Ids sorted ascending. */
export function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return Array.from(ids).sort(compareIds);
}

/** "(1 2 3)": ids ascending, in decimal (etcd's format). */
export function describeIds(ids: Iterable<NodeId>): string {
  return `(${sortedIds(ids).join(' ')})`;
}

/** "(1 2 3)" or, when joint, "(1 2 3)&&(1 2 4)". */
export function describeJoint(c: JointConfig): string {
  if (c.outgoing.size > 0) return `${describeIds(c.incoming)}&&${describeIds(c.outgoing)}`;
  return describeIds(c.incoming);
}
