/**
 * One simulated member: a RawNode over a simulated disk, with a volatile state machine. The
 * node's process can crash (memory, the Ready in hand and un-synced writes are gone) and
 * restart from what its disk holds.
 */
import { assert, Rng } from '../pkg';
import { ConfState, EMPTY_CONF_STATE, MemoryStorage, NodeId, RaftLogger, RawNode, Ready, Snapshot } from '../raft';
import { Disk } from './disk';
import { ReadCheck } from './invariants';
import { decodeSm, emptySm, SmState } from './state-machine';

/** Raft settings shared by every node of a run (drawn from the seed). */
export interface RaftKnobs {
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxUncommittedEntriesSizeBytes: number;
  /** Raft's log lines (FLOE_SIM_TRACE=1 prints them when replaying a seed); silent if absent. */
  readonly logger?: RaftLogger;
}

/** How many recent configurations a node remembers (for the acknowledged-write quorum check). */
const CONFIG_MEMORY = 3;

/** A read waiting for its ReadState, then for the state machine to reach its index. */
export interface PendingRead {
  readonly check: ReadCheck;
  index: number | null;
}

/** A simulated member. */
export class SimNode {
  readonly disk = new Disk();
  /** Null while the process is down. */
  rn: RawNode | null = null;
  sm: SmState = emptySm();
  /** The configuration as of the last applied index. */
  confState: ConfState = EMPTY_CONF_STATE;
  /** The last few configurations applied, newest last. */
  configs: ConfState[] = [];
  /** Bumped on every start, so events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** The Ready handed out and not yet advanced. */
  outstanding: Ready | null = null;
  /** Proposals made through this process, answered when it applies them. */
  readonly clientPending = new Set<number>();
  /** ReadIndex reads issued through this process, by context. */
  readonly reads = new Map<string, PendingRead>();
  /**
   * Ids removed by conf changes this process applied (volatile). Like etcd's peer transport,
   * the node refuses messages from them, and the sender learns it was removed and stops.
   */
  readonly removed = new Set<NodeId>();
  /**
   * Removed from the cluster for good: its process stopped and never starts again. Ids are
   * never reused (as in etcd, a machine rejoins with a fresh id and a wiped disk), so a
   * removed id stays removed in every later configuration.
   */
  retired = false;
  /** Whether the node was ever started (machines that join later start when first added). */
  started = false;
  crashes = 0;

  constructor(readonly id: NodeId) {}

  get up(): boolean {
    return this.rn !== null;
  }

  /** Gives a founding member its initial durable state: a snapshot at index 1 holding `cs`. */
  found(snap: Snapshot): void {
    this.disk.storage.applySnapshot(snap);
  }

  /**
   * Starts the process from its disk. As etcd does, raft restarts with applied = the snapshot
   * index: the state machine is rebuilt from the snapshot, and committed entries after it
   * (conf changes included) are handed out again and re-applied.
   */
  start(knobs: RaftKnobs, rng: Rng, skipReplay = false): void {
    assert(this.rn === null, `node ${this.id} started twice`);
    assert(!this.retired, `node ${this.id} was removed and may not start again`);
    const snap = this.disk.storage.snapshot();
    this.sm = decodeSm(snap.data);
    assert(this.sm.index === snap.metadata.index, () => `node ${this.id}: snapshot data at ${this.sm.index}, metadata at ${snap.metadata.index}`);
    this.setConfig(snap.metadata.confState);
    this.incarnation++;
    this.started = true;
    let applied = snap.metadata.index;
    if (skipReplay) {
      // The injected bug: believe everything committed is already applied (a stale
      // "consistent index"), so the entries after the snapshot are never applied here.
      applied = Math.max(applied, this.disk.storage.initialState().hardState.commit);
      this.sm.index = applied;
    }
    this.rn = new RawNode({
      id: this.id,
      electionTick: knobs.electionTick,
      heartbeatTick: knobs.heartbeatTick,
      storage: this.disk.storage,
      applied,
      maxSizePerMsgBytes: knobs.maxSizePerMsgBytes,
      maxInflightMsgs: knobs.maxInflightMsgs,
      maxUncommittedEntriesSizeBytes: knobs.maxUncommittedEntriesSizeBytes,
      preVote: knobs.preVote,
      checkQuorum: knobs.checkQuorum,
      logger: knobs.logger,
      rng: (bound) => rng.int(bound),
    });
  }

  /** The process dies; `survives` says whether the un-synced write reached the disk anyway. */
  crash(survives: boolean): void {
    this.rn = null;
    this.outstanding = null;
    this.disk.crash(survives);
    this.clientPending.clear();
    this.reads.clear();
    this.removed.clear();
    this.crashes++;
  }

  setConfig(cs: ConfState): void {
    this.confState = cs;
    this.configs.push(cs);
    if (this.configs.length > CONFIG_MEMORY) this.configs.shift();
  }

  /** Whether `id` is a voter or learner in this node's applied configuration. */
  isMember(id: NodeId): boolean {
    const c = this.confState;
    return c.voters.includes(id) || c.learners.includes(id) || c.votersOutgoing.includes(id) || c.learnersNext.includes(id);
  }

  /**
   * Snapshots the state machine at its applied index and compacts the log up to `upTo`
   * (clamped to what is applied). Snapshot and compaction are written durably at once.
   */
  compact(upTo: number, data: Uint8Array): boolean {
    const s = this.disk.storage;
    if (this.sm.index <= s.snapshot().metadata.index || this.sm.index > s.lastIndex()) return false;
    s.createSnapshot(this.sm.index, this.confState, data);
    const to = Math.min(Math.max(upTo, s.firstIndex()), this.sm.index);
    if (to >= s.firstIndex()) s.compact(to);
    return true;
  }

  /**
   * A deliberately broken disk for checking the checker: on restart the node "forgets" up to
   * `count` synced entries at the tail of its log and its vote, as a disk that acknowledged
   * fsync without writing would.
   */
  forgetSyncedTail(count: number): void {
    const s = this.disk.storage;
    const { hardState } = s.initialState();
    // The stored snapshot may be newer than the log's start (createSnapshot does not compact).
    const snap = s.snapshot();
    const keep = Math.max(snap.metadata.index, s.lastIndex() - count);
    const fresh = new MemoryStorage();
    if (snap.metadata.index > 0) fresh.applySnapshot(snap);
    if (keep > snap.metadata.index) fresh.append(s.entries(snap.metadata.index + 1, keep + 1, Infinity));
    fresh.setHardState({ term: hardState.term, vote: 0n, commit: Math.min(hardState.commit, keep) });
    this.disk.storage = fresh;
  }
}
