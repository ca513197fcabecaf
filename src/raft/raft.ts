/**
 * The Raft state machine of one node. Input: tick() and step(message); output: accumulated
 * messages (`msgs`), read states, and the log's unstable entries / snapshot, which RawNode
 * packages into a Ready. No I/O, no clock, no randomness of its own.
 *
 * Roles: follower, pre-candidate (pre-vote phase), candidate, leader. Every role change goes
 * through reset(), which clears per-term state (votes, progress, pending reads, transfer).
 *
 * Internal to src/raft: the public face is RawNode. What each role does with incoming messages
 * lives in step-leader.ts and step-follower.ts; members those files use are public, but the
 * class itself is not exported from the folder.
 */
import { assert, isFloeError } from '../pkg';
import { confChangeToEntryParts, enterJoint, leaveJoint, LEAVE_JOINT } from './conf-change';
import { ChangeResult, Changer, ERR_CONF_CHANGE, restoreConfState } from './changer';
import { stepCandidate, stepFollower } from './step-follower';
import { releasePendingReadIndexMessages, stepLeader, transferToBestVoter } from './step-leader';
import { payloadSizeBytes } from './codec';
import { RandomInt, ValidConfig } from './config';
import { ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE } from './errors';
import { RaftLogger } from './logger';
import { VoteResult } from './quorum';
import { RaftLog } from './raft-log';
import { ReadOnly, ReadOnlyOption, ReadState } from './read-only';
import { ProgressTracker } from './tracker';
import {
  assertSafeIndex,
  ConfChangeV2,
  ConfState,
  EMPTY_BYTES,
  Entry,
  HardState,
  isEmptyHardState,
  makeMessage,
  Message,
  MessageFields,
  MessageType,
  NodeId,
  NONE,
  Snapshot,
} from './types';

/** A node's role. */
export type StateType = 'StateFollower' | 'StateCandidate' | 'StateLeader' | 'StatePreCandidate';

/** Why a node campaigns. A transfer campaign skips pre-vote and overrides leader leases. */
export type CampaignType = 'CampaignPreElection' | 'CampaignElection' | 'CampaignTransfer';

/** The volatile state the application may want to observe (not persisted). */
export interface SoftState {
  readonly lead: NodeId;
  readonly raftState: StateType;
}

/** What a step did with a proposal; everything else is always 'ok'. */
export type StepResult = 'ok' | 'dropped';

function bytesOf(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** The context of a MsgVote sent by a leader transfer campaign. */
const CAMPAIGN_TRANSFER_CTX = bytesOf('CampaignTransfer');

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(id: NodeId): string {
  return id.toString(16);
}

/** The response type of a vote request type. */
export function voteRespMsgType(t: MessageType): MessageType {
  if (t === 'MsgVote') return 'MsgVoteResp';
  assert(t === 'MsgPreVote', () => `not a vote message: ${t}`);
  return 'MsgPreVoteResp';
}

function isVoteOrVoteResp(t: MessageType): boolean {
  return t === 'MsgVote' || t === 'MsgVoteResp' || t === 'MsgPreVote' || t === 'MsgPreVoteResp';
}

/** The state machine of one node (see the file comment). */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  /** Answers to read requests, handed out in the next Ready. */
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  tracker: ProgressTracker;
  state: StateType = 'StateFollower';
  /** This node is a learner in its current config. */
  isLearner = false;
  /** Messages to send, handed out in the next Ready. */
  msgs: Message[] = [];
  lead: NodeId = NONE;
  /** Target of a leader transfer in progress (Raft thesis §3.10), NONE when none. */
  leadTransferee: NodeId = NONE;
  /**
   * At most one conf change may be in the log and not applied. This is >= the index of the
   * latest one that may be pending; a new one is accepted only once applied passes it.
   */
  pendingConfIndex = 0;
  /** Payload bytes of the leader's uncommitted tail (an estimate that never overshoots). */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /**
   * Followers and candidates: ticks since the last election timeout or since hearing from the
   * leader. Leaders: ticks since the last check-quorum round.
   */
  electionElapsed = 0;
  /** Leaders: ticks since the last heartbeat. */
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Read requests received before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  readonly maxMsgSizeBytes: number;
  readonly maxUncommittedSizeBytes: number;
  readonly disableProposalForwarding: boolean;
  readonly logger: RaftLogger;
  private readonly rng: RandomInt;
  private readonly readOnlyOption: ReadOnlyOption;

  constructor(c: ValidConfig) {
    this.id = c.id;
    this.raftLog = new RaftLog(c.storage, c.logger, c.maxCommittedSizePerReadyBytes);
    this.tracker = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.maxMsgSizeBytes = c.maxSizePerMsgBytes;
    this.maxUncommittedSizeBytes = c.maxUncommittedEntriesSizeBytes;
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.logger = c.logger;
    this.rng = c.rng;
    this.readOnlyOption = c.readOnlyOption;
    this.readOnly = new ReadOnly(c.readOnlyOption);

    const { hardState, confState } = c.storage.initialState();
    const r = restoreConfState(this.tracker, this.raftLog.lastIndex(), confState);
    this.switchToConfig(r);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);

    const peers = this.tracker.voterIds().map(hex).join(',');
    this.logger.info(
      `newRaft ${hex(this.id)} [peers: [${peers}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  /**
   * Queues a message. Vote requests and responses carry an explicit term (the campaign's term,
   * which for pre-votes is not ours); every other message gets our term, except proposals and
   * read requests forwarded to the leader, which are term-less like local messages.
   */
  send(f: MessageFields): void {
    let term = f.term ?? 0;
    if (isVoteOrVoteResp(f.type)) {
      assert(term !== 0, () => `term should be set when sending ${f.type}`);
    } else {
      assert(term === 0, () => `term should not be set when sending ${f.type} (was ${term})`);
      if (f.type !== 'MsgProp' && f.type !== 'MsgReadIndex') term = this.term;
    }
    this.msgs.push(makeMessage(f, this.id, term));
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends the follower its next entries (or a snapshot when they are compacted). With
   * sendIfEmpty false, nothing is sent when there are no entries: used when sending several
   * messages in a row, where an empty one would only repeat the commit index.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    assert(pr !== undefined, () => `no progress for ${hex(to)}`);
    if (pr.isPaused()) return false;

    const prevIndex = pr.next - 1;
    // An unknown term must mean "compacted" (then a snapshot is sent), never "past our log".
    assert(prevIndex <= this.raftLog.lastIndex(), () => `progress of ${hex(to)} runs past our log: next=${pr.next}`);
    const prevTerm = this.raftLog.term(prevIndex);
    const ents = this.raftLog.entries(pr.next, this.maxMsgSizeBytes);
    if ((ents === null || ents.length === 0) && !sendIfEmpty) return false;

    if (prevTerm === undefined || ents === null) return this.maybeSendSnapshot(to);

    if (ents.length > 0) {
      switch (pr.state) {
        case 'StateReplicate': {
          const last = ents[ents.length - 1]!.index;
          let bytes = 0;
          for (const e of ents) bytes += payloadSizeBytes(e);
          pr.optimisticUpdate(last);
          pr.inflights.add(last, bytes);
          break;
        }
        case 'StateProbe':
          pr.probeSent = true;
          break;
        case 'StateSnapshot':
          assert(false, () => `${hex(this.id)} is sending append in unhandled state ${pr.state}`);
      }
    }
    this.send({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed });
    return true;
  }

  private maybeSendSnapshot(to: NodeId): boolean {
    const pr = this.tracker.progress.get(to)!;
    // A follower that has not answered lately is likely down: don't ship it a snapshot.
    if (!pr.recentActive) {
      this.logger.debug(() => `ignore sending snapshot to ${hex(to)} since it is not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (isFloeError(e, ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE)) {
        this.logger.debug(() => `${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`);
        return false;
      }
      throw e;
    }
    assert(snapshot.metadata.index > 0, 'need non-empty snapshot');
    const { index, term } = snapshot.metadata;
    this.logger.debug(
      () =>
        `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${index}, term: ${term}] to ${hex(to)} [${pr.toString()}]`,
    );
    pr.becomeSnapshot(index);
    this.logger.debug(() => `${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`);
    this.send({ type: 'MsgSnap', to, snapshot });
    return true;
  }

  /**
   * A heartbeat carries commit = min(follower's match, committed): a follower whose log is not
   * known to match ours up to our commit index must not commit that far on our word.
   */
  sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const pr = this.tracker.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send({ type: 'MsgHeartbeat', to, commit, context: ctx });
  }

  bcastAppend(): void {
    this.tracker.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  /** A heartbeat round; it carries the newest pending read request, confirming all of them. */
  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx();
    if (ctx !== null) this.readOnly.startRound(ctx);
    this.bcastHeartbeatWithCtx(ctx ?? EMPTY_BYTES);
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    this.tracker.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Ready acknowledgement

  /**
   * The application has persisted a Ready's entries/snapshot (up to `lastEntry` and
   * `snapshotIndex`) and applied its committed entries (up to `appliedIndex`; 0 if none).
   */
  advance(f: { appliedIndex: number; lastEntry: Entry | null; snapshotIndex: number; committed: readonly Entry[] }): void {
    if (f.lastEntry !== null) this.raftLog.stableTo(f.lastEntry.index, f.lastEntry.term);
    if (f.snapshotIndex > 0) this.raftLog.stableSnapTo(f.snapshotIndex);
    if (this.state === 'StateLeader') this.selfAck();
    // Before a possible auto-leave append below, which must not be refused by the size limit
    // on account of entries that are committed by now.
    this.reduceUncommittedSize(f.committed);
    if (f.appliedIndex > 0) {
      this.raftLog.appliedTo(f.appliedIndex);
      const cfg = this.tracker.config;
      if (cfg.autoLeave && f.appliedIndex >= this.pendingConfIndex && this.state === 'StateLeader') {
        // The joint config is applied and wants to be left automatically: propose leaving it.
        const parts = confChangeToEntryParts(LEAVE_JOINT);
        const ok = this.appendEntry([{ term: 0, index: 0, type: parts.type, data: parts.data }]);
        // Either way the next conf change must wait until this one (or a retry) is applied.
        this.pendingConfIndex = this.raftLog.lastIndex();
        if (ok) {
          this.logger.info(`initiating automatic transition out of joint configuration ${cfg.toString()}`);
          // Send it now rather than with the next heartbeat or proposal.
          this.bcastAppend();
        }
      }
    }
  }

  /**
   * The leader counts itself towards a quorum only for entries it has persisted. So a commit
   * index the leader announces never rests on its own unpersisted log, which is what lets the
   * leader send appends before persisting them (see Ready.messagesBeforePersist).
   */
  private selfAck(): void {
    const self = this.tracker.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.raftLog.lastStableIndex())) return;
    if (this.maybeCommit()) {
      releasePendingReadIndexMessages(this);
      this.bcastAppend();
    }
  }

  /** Advances the commit index to what a quorum has; true if it moved. */
  maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (!Number.isFinite(mci)) return false;
    return this.raftLog.maybeCommit(mci, this.term);
  }

  // ---------------------------------------------------------------------------------------
  // Role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    const last = this.raftLog.lastIndex();
    const stable = this.raftLog.lastStableIndex();
    this.tracker.visit((id, pr) => {
      pr.becomeProbe();
      pr.match = id === this.id ? stable : 0;
      pr.next = last + 1;
      pr.recentActive = false;
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    // Pending reads belong to a leadership that is over: their requesters retry.
    this.readOnly = new ReadOnly(this.readOnlyOption);
    this.pendingReadIndexMessages = [];
  }

  /**
   * Appends entries proposed to this leader, stamping term and index. False (nothing
   * appended) if they would exceed the uncommitted size limit.
   */
  appendEntry(es: readonly Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const stamped = es.map((e, i) => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    if (!this.increaseUncommittedSize(stamped)) {
      this.logger.debug(() => `${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    this.raftLog.append(stamped);
    // Our own progress moves when the entries are persisted (selfAck), not here.
    return true;
  }

  tick(): void {
    if (this.state === 'StateLeader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: 'MsgHup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: 'MsgCheckQuorum', from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === 'StateLeader' && this.leadTransferee !== NONE) {
        this.logger.info(`${hex(this.id)} [term ${this.term}] abort transferring leadership to ${hex(this.leadTransferee)}: not done within an election timeout`);
        this.abortLeaderTransfer();
      }
      // A leader that is no longer a voter keeps trying to hand over (see switchToConfig).
      if (this.state === 'StateLeader' && !this.promotable()) transferToBestVoter(this);
    }
    if (this.state !== 'StateLeader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: 'MsgBeat', from: this.id }));
    }
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'StateFollower';
    this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  private becomeCandidate(): void {
    assert(this.state !== 'StateLeader', 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'StateCandidate';
    this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  /** Pre-candidates keep their term and vote: a pre-vote changes nothing durable. */
  private becomePreCandidate(): void {
    assert(this.state !== 'StateLeader', 'invalid transition [leader -> pre-candidate]');
    this.tracker.resetVotes();
    this.lead = NONE;
    this.state = 'StatePreCandidate';
    this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    assert(this.state !== 'StateFollower', 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'StateLeader';
    const self = this.tracker.progress.get(this.id)!;
    // The leader trivially replicates to itself and is always active.
    self.becomeReplicate();
    self.recentActive = true;
    // Any entry after our commit index may be a conf change; assume the worst rather than
    // scanning the tail: no new conf change until everything we have is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    const ok = this.appendEntry([{ term: 0, index: 0, type: 'EntryNormal', data: EMPTY_BYTES }]);
    assert(ok, 'empty entry was dropped');
    // The empty entry does not count towards the uncommitted quota (it was zero bytes anyway).
    this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  /** Starts an election if allowed (not leader, promotable, no unapplied conf change). */
  hup(t: CampaignType): void {
    if (this.state === 'StateLeader') {
      this.logger.debug(() => `${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${hex(this.id)} is unpromotable and can not campaign`);
      return;
    }
    // A committed but unapplied conf change may change whether we may campaign at all, and
    // under which config we would count votes: wait until it is applied.
    if (this.raftLog.committed > this.raftLog.applied) {
      const ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, Infinity);
      assert(ents !== null, 'unexpected error getting unapplied entries');
      const n = numOfPendingConf(ents);
      if (n !== 0) {
        this.logger.warn(
          `${hex(this.id)} cannot campaign at term ${this.term} since there are still ${n} pending configuration changes to apply`,
        );
        return;
      }
    }
    this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  /** Becomes (pre-)candidate and asks every voter for its vote. */
  campaign(t: CampaignType): void {
    if (!this.promotable()) this.logger.warn(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    let term: number;
    let voteMsg: MessageType;
    if (t === 'CampaignPreElection') {
      this.becomePreCandidate();
      voteMsg = 'MsgPreVote';
      // Pre-votes are for the term we would campaign in; our own term stays put.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true).result === 'VoteWon') {
      // Our own vote is a quorum: a single-voter config.
      if (t === 'CampaignPreElection') this.campaign('CampaignElection');
      else this.becomeLeader();
      return;
    }
    for (const id of this.tracker.voterIds()) {
      if (id === this.id) continue;
      this.logger.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${voteMsg} request to ${hex(id)} at term ${this.term}`,
      );
      this.send({
        type: voteMsg,
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
        context: t === 'CampaignTransfer' ? CAMPAIGN_TRANSFER_CTX : EMPTY_BYTES,
      });
    }
  }

  poll(id: NodeId, t: MessageType, granted: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (granted) this.logger.info(`${hex(this.id)} received ${t} from ${hex(id)} at term ${this.term}`);
    else this.logger.info(`${hex(this.id)} received ${t} rejection from ${hex(id)} at term ${this.term}`);
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes();
  }

  // ---------------------------------------------------------------------------------------
  // Stepping

  /** Feeds a message (local or from a peer). Returns 'dropped' for a dropped proposal. */
  step(m: Message): StepResult {
    // First the term: a higher term may turn us into a follower, a lower one is mostly ignored.
    if (m.term === 0) {
      // A local message.
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CTX);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader within the minimum election timeout: keep our term and do
          // not vote (Raft thesis §4.2.3), so a partitioned node cannot depose a live leader.
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] ignored ${m.type} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return 'ok';
        }
      }
      if (m.type === 'MsgPreVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // Granted pre-votes carry the term we will campaign in; we bump it when we win.
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${m.type} message with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
        if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') this.becomeFollower(m.term, m.from);
        else this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote || !this.promotable()) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A leader of an older term. With check-quorum or pre-vote our term may have risen
        // while we were cut off without any chance to win (our votes were ignored), and the
        // old leader would never learn of it: answer so that it steps down and a real
        // election runs. Without either, a voter needs no answer: its own election timeout
        // sends the higher term to the leader's quorum. A node that cannot campaign (a
        // learner in its own config, maybe promoted without knowing it, whose term a stale
        // candidate raised) never would: the leader would keep its term and we would ignore
        // its appends for good, never learning of our promotion. So answer then too.
        this.send({ type: 'MsgAppResp', to: m.from });
      } else if (m.type === 'MsgPreVote') {
        // Reject explicitly: a pre-candidate with a lower term but a good log must learn our
        // term, or a cluster moving from no pre-vote to pre-vote could deadlock.
        this.logger.info(
          `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] rejected ${m.type} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
        this.send({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true });
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] ignored a ${m.type} message with lower term from ${hex(m.from)} [term: ${m.term}]`,
        );
      }
      return 'ok';
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(this.preVote ? 'CampaignPreElection' : 'CampaignElection');
        return 'ok';
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m);
        return 'ok';
      default:
        switch (this.state) {
          case 'StateLeader':
            return stepLeader(this, m);
          case 'StateCandidate':
          case 'StatePreCandidate':
            return stepCandidate(this, m);
          case 'StateFollower':
            return stepFollower(this, m);
        }
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      // a repeat of a vote we cast,
      this.vote === m.from ||
      // or we have not voted and know of no leader in this term,
      (this.vote === NONE && this.lead === NONE) ||
      // or a pre-vote for a future term;
      (m.type === 'MsgPreVote' && m.term > this.term);
    // and the candidate's log is at least as up to date as ours (Raft §5.4.1).
    // Learners answer too: a learner may have been promoted without knowing it yet, and the
    // candidate asking it is proof of that; a stale candidate cannot win anyway.
    const desc = () =>
      `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}]`;
    const cand = `${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`;
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      this.logger.info(`${desc()} cast ${m.type} for ${cand}`);
      // Answer with the request's term, not ours: for a pre-vote ours may be older, and the
      // pre-candidate would ignore an answer from its past.
      this.send({ type: voteRespMsgType(m.type), to: m.from, term: m.term });
      if (m.type === 'MsgVote') {
        // Only real votes are recorded; granting one also restarts our election timer.
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger.info(`${desc()} rejected ${m.type} from ${cand}`);
      // A node still at term 0 (it never saw any term; only possible for a pre-vote, which
      // does not move our term) has no term to answer with: silence is a safe "no".
      if (this.term === 0) return;
      this.send({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true });
    }
  }

  /**
   * Restores log and config from a leader's snapshot. False if it was ignored: not newer than
   * our commit index, or our log already has its last entry (then we only move commit).
   */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.raftLog.applying > this.raftLog.applied) {
      // The application is applying committed entries from a Ready it has not acknowledged,
      // conf changes among them against our current configuration. Replacing that config
      // under it would make those changes apply to the snapshot's config instead (e.g. leave
      // a joint config twice). Ignore the snapshot; the leader sends it again.
      this.logger.info(
        `${hex(this.id)} [applied: ${this.raftLog.applied}, applying: ${this.raftLog.applying}] ignored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}] while entries are being applied`,
      );
      return false;
    }
    if (this.state !== 'StateFollower') {
      // Only followers get snapshots (the sender is our leader). If we ever got here otherwise,
      // move to a new term rather than install state under a role that does not expect it.
      this.logger.warn(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    const inConfig = [cs.voters, cs.learners, cs.votersOutgoing].some((set) => set.includes(this.id));
    if (!inConfig) {
      this.logger.warn(`${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ${describeConfStateShort(cs)}; should never happen`);
      return false;
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    // The snapshot's config replaces ours entirely.
    this.tracker = new ProgressTracker(this.tracker.maxInflightMsgs, this.tracker.maxInflightBytes);
    const r = restoreConfState(this.tracker, this.raftLog.lastIndex(), cs);
    assertConfStatesEquivalent(cs, this.switchToConfig(r));
    const self = this.tracker.progress.get(this.id)!;
    self.maybeUpdate(self.next - 1);
    this.logger.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    return true;
  }

  /** Whether this node may become leader: it is a voter (of either half) in its config. */
  promotable(): boolean {
    const pr = this.tracker.progress.get(this.id);
    return pr !== undefined && !pr.isLearner;
  }

  /** Computes the config a change leads to; throws FloeError ERR_RAFT_CONF_CHANGE if impossible. */
  changeConfig(cc: ConfChangeV2): ChangeResult {
    const changer = new Changer(this.tracker, this.raftLog.lastIndex());
    if (leaveJoint(cc)) return changer.leaveJoint();
    const joint = enterJoint(cc);
    if (joint !== null) return changer.enterJoint(joint.autoLeave, cc.changes);
    return changer.simple(cc.changes);
  }

  /**
   * Applies a committed conf change. The leader refuses impossible changes before they reach
   * the log, so failing here means our state diverged from the leader's: a broken invariant.
   */
  applyConfChange(cc: ConfChangeV2): ConfState {
    let r: ChangeResult;
    try {
      r = this.changeConfig(cc);
    } catch (e) {
      if (isFloeError(e, ERR_CONF_CHANGE)) assert(false, `committed conf change cannot be applied: ${e.message}`);
      throw e;
    }
    return this.switchToConfig(r);
  }

  /**
   * Installs a new config and reacts to it: a leader re-evaluates its commit index (the
   * quorum changed), probes new members, and hands leadership over if it is no longer a voter.
   */
  switchToConfig(r: ChangeResult): ConfState {
    this.tracker.setConfig(r.cfg, r.prs);
    this.logger.info(`${hex(this.id)} switched to configuration ${this.tracker.config.toString()}`);
    const cs = this.tracker.confState();
    const pr = this.tracker.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;

    if (this.state !== 'StateLeader' || cs.voters.length === 0) return cs;

    if (this.maybeCommit()) {
      // A smaller quorum may commit more at once.
      releasePendingReadIndexMessages(this);
      this.bcastAppend();
    } else {
      // Probe newly added members right away rather than at the next heartbeat or proposal.
      this.tracker.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.tracker.progress.has(this.leadTransferee)) this.abortLeaderTransfer();
    if (pr === undefined || this.isLearner) {
      // Removed or demoted while leading. Safety does not need the leader to be a member, and
      // stepping down at once can leave the remaining voters unable to elect anyone: their
      // logs and configs may lag behind ours (a config takes effect when applied), so the
      // only voters may still count on members that now consider themselves learners and
      // do not campaign. So keep leading (replicating, committing on the voters' acks) and
      // hand over to the most caught-up voter, retried every election timeout until done.
      if (this.leadTransferee === NONE) transferToBestVoter(this);
    }
    return cs;
  }

  private loadState(hs: HardState): void {
    assertSafeIndex(hs.term, 'persisted term');
    assertSafeIndex(hs.commit, 'persisted commit');
    assert(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () => `${hex(this.id)} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** electionElapsed reached the randomized timeout in [electionTimeout, 2*electionTimeout). */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    const extra = this.rng(this.electionTimeout);
    assert(
      Number.isInteger(extra) && extra >= 0 && extra < this.electionTimeout,
      () => `rng returned ${extra}, want an integer in [0, ${this.electionTimeout})`,
    );
    this.randomizedElectionTimeout = this.electionTimeout + extra;
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Accounts proposed entries against the uncommitted limit; false if they do not fit. */
  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // With nothing uncommitted any proposal is accepted, however big, so progress is possible.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSizeBytes) return false;
    this.uncommittedSize += s;
    return true;
  }

  private reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // The estimate may undercount (entries from an earlier term), never overcount: floor at 0.
    this.uncommittedSize = Math.max(0, this.uncommittedSize - s);
  }
}

/** Conf changes among `ents`. */
function numOfPendingConf(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) if (e.type !== 'EntryNormal') n++;
  return n;
}

function describeConfStateShort(cs: ConfState): string {
  return `voters=[${cs.voters.join(' ')}] learners=[${cs.learners.join(' ')}] outgoing=[${cs.votersOutgoing.join(' ')}]`;
}

/** The config we built must be the one the ConfState describes. */
function assertConfStatesEquivalent(a: ConfState, b: ConfState): void {
  const norm = (cs: ConfState) =>
    JSON.stringify([cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext].map((l) => l.map(String).sort()).concat([[String(cs.autoLeave)]]));
  assert(norm(a) === norm(b), () => `ConfStates not equivalent: ${describeConfStateShort(a)} vs ${describeConfStateShort(b)}`);
}
