/**
 * RawNode: the application's handle on one Raft node. Inputs are tick(), step() and the
 * propose/read/transfer calls; the output is a Ready, taken with ready() and acknowledged
 * with advance().
 *
 * The application's loop, and its ordering rules:
 *
 *   if (node.hasReady()) {
 *     const rd = node.ready();
 *     send(rd.messagesBeforePersist);             // 1. may go out at once
 *     persist(rd.hardState, rd.entries, rd.snapshot); // 2. durable (fsync if rd.mustSync)
 *     send(rd.messages);                          // 3. only after step 2
 *     apply(rd.snapshot, rd.committedEntries);    // 4. after step 2; call applyConfChange
 *                                                 //    for conf change entries
 *     node.advance(rd);                           // 5. after 2 and 4
 *   }
 *
 * Only one Ready is out at a time: ready() may not be called again before advance(), and
 * hasReady() is false in between. tick()/step()/propose() may be called at any time,
 * including while a Ready is out; their effects show up in the next Ready.
 */
import { assert, FloeError } from '../pkg';
import { confChangeToEntryParts, asV2 } from './conf-change';
import { RaftConfig, validateConfig } from './config';
import { ERR_BAD_MESSAGE, ERR_BOOTSTRAP, errProposalDropped, errStepLocalMsg, errStepPeerNotFound } from './errors';
import { ProgressState } from './progress';
import { Raft, SoftState, StateType } from './raft';
import { ReadState } from './read-only';
import {
  AnyConfChange,
  ConfState,
  EMPTY_HARD_STATE,
  Entry,
  HardState,
  hardStateEqual,
  isEmptyHardState,
  makeMessage,
  Message,
  MessageType,
  NodeId,
  NONE,
  Snapshot,
} from './types';

/** Everything the application must do next; see the ordering rules at the top of this file. */
export interface Ready {
  /** The new soft state, or null if unchanged. Need not be persisted. */
  readonly softState: SoftState | null;
  /** The hard state to persist (with the entries, before `messages` go out), or null if unchanged. */
  readonly hardState: HardState | null;
  /**
   * Answers to readIndex() calls: serve the read with context requestCtx once the applied
   * index reaches `index`.
   */
  readonly readStates: readonly ReadState[];
  /** Entries to append to stable storage, replacing any stored entries from entries[0].index on. */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and apply to the state machine, or null. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in order, after `entries` are persisted. */
  readonly committedEntries: readonly Entry[];
  /**
   * A leader's appends, heartbeats, snapshots and transfer requests, which may be sent before
   * (in parallel with) persisting this Ready: they carry only log entries and a commit index,
   * and the leader counts its own log towards commitment only once persisted. Empty when this
   * Ready changes term or vote (those must be durable before anyone hears of the term). Every
   * MsgSnap must be answered with reportSnapshot().
   */
  readonly messagesBeforePersist: readonly Message[];
  /** Messages to send only after hardState, entries and snapshot are durable (votes, responses, ...). */
  readonly messages: readonly Message[];
  /** Whether hardState/entries must be synced to disk (term, vote or log changed) before step 3. */
  readonly mustSync: boolean;
}

/** What the application reports about a snapshot it was asked to send. */
export type SnapshotStatus = 'finish' | 'failure';

/** A follower as the leader tracks it (status reporting). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly pendingSnapshot: number;
  readonly recentActive: boolean;
  readonly probeSent: boolean;
  readonly isLearner: boolean;
  readonly inflightMsgs: number;
  readonly inflightBytes: number;
}

/** A snapshot of a node's state for status pages and tests. */
export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly leadTransferee: NodeId;
  /** The active configuration. */
  readonly config: ConfState;
  /** Per member, in ascending id order; only on the leader (empty otherwise). */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

/** A member for bootstrap(): its id and the context its ConfChangeAddNode entry carries. */
export interface Peer {
  readonly id: NodeId;
  readonly context?: Uint8Array;
}

const LOCAL_MSGS: ReadonlySet<MessageType> = new Set<MessageType>(['MsgHup', 'MsgBeat', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum']);
const RESPONSE_MSGS: ReadonlySet<MessageType> = new Set<MessageType>([
  'MsgAppResp',
  'MsgVoteResp',
  'MsgHeartbeatResp',
  'MsgUnreachable',
  'MsgPreVoteResp',
]);
/** Message types only a leader sends. */
const LEADER_MSGS: ReadonlySet<MessageType> = new Set<MessageType>(['MsgApp', 'MsgHeartbeat', 'MsgSnap', 'MsgTimeoutNow']);

/** Messages a node generates for itself; never accepted from the network. */
export function isLocalMsg(t: MessageType): boolean {
  return LOCAL_MSGS.has(t);
}

/** Responses; only accepted from members of the configuration. */
export function isResponseMsg(t: MessageType): boolean {
  return RESPONSE_MSGS.has(t);
}

/** The application's handle on one Raft node (see the file comment for the loop). */
export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | null = null;

  /**
   * Creates a node from its storage (empty for a new node, then bootstrap() or wait to be
   * added; otherwise restarting from what was persisted). Throws FloeError ERR_RAFT_CONFIG.
   */
  constructor(config: RaftConfig) {
    this.raft = new Raft(validateConfig(config));
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Starts a brand-new cluster on an empty storage: one ConfChangeAddNode entry per peer at
   * term 1, committed, so that the first Ready hands them out to persist and apply (the
   * application applies them like any conf change). Throws FloeError ERR_RAFT_BOOTSTRAP.
   */
  bootstrap(peers: readonly Peer[]): void {
    if (peers.length === 0) throw new FloeError(ERR_BOOTSTRAP, 'must provide at least one peer to Bootstrap');
    if (this.raft.raftLog.storage.lastIndex() !== 0) throw new FloeError(ERR_BOOTSTRAP, "can't bootstrap a nonempty Storage");
    // Nothing is persisted yet: the first Ready must carry the hard state.
    this.prevHardState = EMPTY_HARD_STATE;
    this.raft.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((p, i) => {
      const parts = confChangeToEntryParts({
        kind: 'v1',
        type: 'ConfChangeAddNode',
        nodeId: p.id,
        context: p.context ?? new Uint8Array(0),
        id: 0n,
      });
      return { term: 1, index: i + 1, type: parts.type, data: parts.data };
    });
    this.raft.raftLog.append(ents);
    // The entries are committed by fiat (they define the cluster). Apply them here too so the
    // node can campaign at once; the application applies them again from the Ready, which is
    // idempotent for additions.
    this.raft.raftLog.committed = ents.length;
    for (const p of peers) {
      this.raft.applyConfChange(asV2({ kind: 'v1', type: 'ConfChangeAddNode', nodeId: p.id, context: new Uint8Array(0), id: 0n }));
    }
  }

  /** Advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (as if the election timeout had fired). */
  campaign(): void {
    this.raft.step(makeMessage({ type: 'MsgHup' }));
  }

  /**
   * Proposes `data` for the log. Throws FloeError ERR_RAFT_PROPOSAL_DROPPED when it is
   * certainly not appended (no leader known, transfer in progress, size limit). A proposal
   * that is accepted may still be lost (leader change); callers retry by their own timeout.
   */
  propose(data: Uint8Array): void {
    this.stepProposal({ term: 0, index: 0, type: 'EntryNormal', data });
  }

  /**
   * Proposes a configuration change. Like any proposal it may be dropped silently; the leader
   * also refuses it (turning it into an empty normal entry) while another conf change is
   * unapplied or when it cannot apply to the current config.
   */
  proposeConfChange(cc: AnyConfChange): void {
    const parts = confChangeToEntryParts(cc);
    this.stepProposal({ term: 0, index: 0, type: parts.type, data: parts.data });
  }

  private stepProposal(e: Entry): void {
    const r = this.raft.step(makeMessage({ type: 'MsgProp', from: this.raft.id, entries: [e] }));
    if (r === 'dropped') throw errProposalDropped();
  }

  /**
   * Applies a committed conf change (call it for each conf change entry in
   * committedEntries, in order) and returns the resulting configuration.
   */
  applyConfChange(cc: AnyConfChange): ConfState {
    return this.raft.applyConfChange(asV2(cc));
  }

  /**
   * Feeds a message from a peer. Throws FloeError ERR_RAFT_STEP_LOCAL_MSG for message types
   * that only a node generates for itself, ERR_RAFT_STEP_PEER_NOT_FOUND for a response from a
   * node not in the config, ERR_RAFT_BAD_MESSAGE for a term or index beyond 2^53, and
   * ERR_RAFT_PROPOSAL_DROPPED for a forwarded proposal this node cannot take.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw errStepLocalMsg();
    if (isResponseMsg(m.type) && !this.raft.tracker.progress.has(m.from)) throw errStepPeerNotFound();
    for (const [v, what] of [
      [m.term, 'term'],
      [m.index, 'index'],
      [m.logTerm, 'log term'],
      [m.commit, 'commit'],
      [m.rejectHint, 'reject hint'],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new FloeError(ERR_BAD_MESSAGE, `raft: message ${what} ${v} out of range`);
    }
    if (this.raft.step(m) === 'dropped') throw errProposalDropped();
  }

  /** Whether ready() would return something (false while a Ready is out). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  /** Takes the next Ready. Must be followed by advance(rd) before the next ready(). */
  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    const r = this.raft;
    const ss = r.softState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState;
    const hs = r.hardState();
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    const entries = r.raftLog.unstableEntries();
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of r.msgs) {
      if (!termOrVoteChanged && LEADER_MSGS.has(m.type)) early.push(m);
      else late.push(m);
    }
    const rd: Ready = {
      softState: softChanged ? ss : null,
      hardState: hardChanged ? hs : null,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.hasPendingSnapshot() ? r.raftLog.unstable.snapshot : null,
      committedEntries: r.raftLog.nextEnts(),
      messagesBeforePersist: early,
      messages: late,
      mustSync: entries.length > 0 || termOrVoteChanged,
    };
    if (softChanged) this.prevSoftState = ss;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.raftLog.applying = lastCommitted.index;
    r.msgs = [];
    r.readStates = [];
    this.outstanding = rd;
    return rd;
  }

  /**
   * Acknowledges the outstanding Ready: its hard state, entries and snapshot are durable and
   * its committed entries (and snapshot) applied.
   */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() of a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    const appliedIndex = lastCommitted !== undefined ? lastCommitted.index : rd.snapshot !== null ? rd.snapshot.metadata.index : 0;
    this.raft.advance({
      appliedIndex,
      lastEntry: rd.entries[rd.entries.length - 1] ?? null,
      snapshotIndex: rd.snapshot !== null ? rd.snapshot.metadata.index : 0,
      committed: rd.committedEntries,
    });
  }

  /** Asks for a linearizable read; the answer comes as a ReadState with the same context. */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(makeMessage({ type: 'MsgReadIndex', entries: [{ term: 0, index: 0, type: 'EntryNormal', data: ctx }] }));
  }

  /**
   * Asks the leader to hand leadership to `transferee`. On the leader it starts the transfer;
   * on a follower the request is forwarded to the leader with this node as the transferee
   * (etcd's behaviour: call it on the leader to move leadership elsewhere).
   */
  transferLeader(transferee: NodeId): void {
    this.raft.step(makeMessage({ type: 'MsgTransferLeader', from: transferee }));
  }

  /** Tells the leader that a message to `id` could not be delivered. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: 'MsgUnreachable', from: id }));
  }

  /** Tells the leader whether the snapshot it sent to `id` was delivered. */
  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    this.raft.step(makeMessage({ type: 'MsgSnapStatus', from: id, reject: status === 'failure' }));
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.state === 'StateLeader') {
      r.tracker.visit((id, pr) => {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          pendingSnapshot: pr.pendingSnapshot,
          recentActive: pr.recentActive,
          probeSent: pr.probeSent,
          isLearner: pr.isLearner,
          inflightMsgs: pr.inflights.count,
          inflightBytes: pr.inflights.bytes,
        });
      });
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      config: r.tracker.confState(),
      progress,
    };
  }

  /** The leader's progress lines in etcd's format ("2: StateReplicate match=5 next=6"), ascending id. */
  describeProgress(): string {
    let s = '';
    this.raft.tracker.visit((id, pr) => {
      s += `${id}: ${pr.toString()}\n`;
    });
    return s;
  }

  /** The active configuration in etcd's format ("voters=(1 2 3)&&(1 2) learners=(4)"). */
  describeConfig(): string {
    return this.raft.tracker.config.toString();
  }

  /** The current state (for tests and status pages). */
  get state(): StateType {
    return this.raft.state;
  }

  get id(): NodeId {
    return this.raft.id;
  }
}
