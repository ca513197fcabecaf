/**
 * The progress tracker: the active configuration (voters, possibly joint, and learners), a
 * Progress per member, and the votes of the current election.
 *
 * Config invariants (checked by the changer): learners and voters (either half) are disjoint;
 * learnersNext is a subset of the outgoing voters and empty unless joint; autoLeave only when
 * joint; every voter and learner has a Progress.
 */
import { Inflights } from './inflights';
import { Progress } from './progress';
import {
  describeIds,
  describeJoint,
  jointCommittedIndex,
  jointIds,
  jointVoteResult,
  JointConfig,
  sortedIds,
  VoteResult,
} from './quorum';
import { ConfState, NodeId } from './types';

/** The active configuration: voters (joint or not), learners, staged learners, auto-leave. */
export class TrackerConfig implements JointConfig {
  constructor(
    readonly incoming: Set<NodeId> = new Set(),
    readonly outgoing: Set<NodeId> = new Set(),
    readonly learners: Set<NodeId> = new Set(),
    /** Outgoing voters that become learners when the joint config is left. */
    readonly learnersNext: Set<NodeId> = new Set(),
    public autoLeave = false,
  ) {}

  clone(): TrackerConfig {
    return new TrackerConfig(
      new Set(this.incoming),
      new Set(this.outgoing),
      new Set(this.learners),
      new Set(this.learnersNext),
      this.autoLeave,
    );
  }

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** etcd's format: "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave". */
  toString(): string {
    let s = `voters=${describeJoint(this)}`;
    if (this.learners.size > 0) s += ` learners=${describeIds(this.learners)}`;
    if (this.learnersNext.size > 0) s += ` learners_next=${describeIds(this.learnersNext)}`;
    if (this.autoLeave) s += ' autoleave';
    return s;
  }

  toConfState(): ConfState {
    return {
      voters: sortedIds(this.incoming),
      votersOutgoing: sortedIds(this.outgoing),
      learners: sortedIds(this.learners),
      learnersNext: sortedIds(this.learnersNext),
      autoLeave: this.autoLeave,
    };
  }
}

/** Configuration, per-member progress and election votes (see the file comment). */
export class ProgressTracker {
  private cfg: TrackerConfig = new TrackerConfig();
  private prs: Map<NodeId, Progress> = new Map();
  /** Ids of `prs` in ascending order: every walk over members uses this order. */
  private ids: NodeId[] = [];
  private votes: Map<NodeId, boolean> = new Map();

  constructor(
    readonly maxInflightMsgs: number,
    readonly maxInflightBytes: number,
  ) {}

  get config(): TrackerConfig {
    return this.cfg;
  }

  get progress(): ReadonlyMap<NodeId, Progress> {
    return this.prs;
  }

  /** Installs a new configuration and progress map (from the changer). */
  setConfig(cfg: TrackerConfig, prs: Map<NodeId, Progress>): void {
    this.cfg = cfg;
    this.prs = prs;
    this.ids = sortedIds(prs.keys());
  }

  newInflights(): Inflights {
    return new Inflights(this.maxInflightMsgs, this.maxInflightBytes);
  }

  confState(): ConfState {
    return this.cfg.toConfState();
  }

  /** One voter and not joint: the leader alone is a quorum. */
  isSingleton(): boolean {
    return this.cfg.incoming.size === 1 && this.cfg.outgoing.size === 0;
  }

  /** The largest index replicated on a quorum (both halves when joint). */
  committed(): number {
    return jointCommittedIndex(this.cfg, (id) => this.prs.get(id)?.match);
  }

  /** Calls fn for every member (voters and learners) in ascending id order. */
  visit(fn: (id: NodeId, pr: Progress) => void): void {
    for (const id of this.ids) fn(id, this.prs.get(id)!);
  }

  /** Whether a quorum of voters has been recently active (check-quorum). */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return jointVoteResult(this.cfg, votes) === 'VoteWon';
  }

  voterIds(): NodeId[] {
    return sortedIds(jointIds(this.cfg));
  }

  learnerIds(): NodeId[] {
    return sortedIds(this.cfg.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records id's vote; a second vote from the same id is ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts granted and rejected votes of current voters and the election's outcome. */
  tallyVotes(): { readonly granted: number; readonly rejected: number; readonly result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    this.visit((id, pr) => {
      if (pr.isLearner) return;
      const v = this.votes.get(id);
      if (v === undefined) return;
      if (v) granted++;
      else rejected++;
    });
    return { granted, rejected, result: jointVoteResult(this.cfg, this.votes) };
  }
}
