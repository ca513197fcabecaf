/**
 * Raft's configuration: every knob and limit, validated once when a node is created.
 * Time is counted in ticks: the application calls tick() at a fixed interval (etcd: 100 ms)
 * and raft counts them, so raft itself never reads a clock.
 */
import { errConfig } from './errors';
import { RaftLogger, silentLogger } from './logger';
import { ReadOnlyOption } from './read-only';
import { Storage } from './storage';
import { NodeId, NONE } from './types';

/**
 * The randomness raft uses (randomized election timeouts): returns an integer in
 * [0, bound). Passing it in keeps every run replayable from a seed.
 */
export type RandomInt = (bound: number) => number;

/** Everything a node is configured with; see validateConfig for the defaults. */
export interface RaftConfig {
  /** This node's id; never 0. */
  readonly id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * drawn from [electionTick, 2*electionTick) on every reset. Must exceed heartbeatTick;
   * etcd suggests 10x.
   */
  readonly electionTick: number;
  /** Ticks between a leader's heartbeats. */
  readonly heartbeatTick: number;
  readonly storage: Storage;
  /**
   * When restarting: entries up to this index are not handed out again. Raft restores its
   * configuration from the storage's snapshot (ConfState), and conf changes after it take
   * effect only when applyConfChange is called for them, so unless that snapshot is current,
   * pass its index (as etcd does) and skip re-applying to the state machine what it already
   * holds (etcd's consistent index).
   */
  readonly applied?: number;
  /**
   * Max total encoded size of the entries of one append message; a message always carries at
   * least one entry, so 0 means one entry per message. Infinity means no limit.
   */
  readonly maxSizePerMsgBytes: number;
  /** Max total encoded size of committed entries in one Ready; 0 means maxSizePerMsgBytes. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /**
   * Max total payload size of a leader's uncommitted entries; proposals beyond it are dropped
   * (one proposal is always accepted when nothing is uncommitted). 0 means no limit.
   */
  readonly maxUncommittedEntriesSizeBytes?: number;
  /** Max append messages in flight to one follower while replicating; >= 1. */
  readonly maxInflightMsgs: number;
  /** Max payload bytes in flight to one follower; 0 means no limit. */
  readonly maxInflightBytes?: number;
  /**
   * A leader steps down when it has not heard from a quorum within an election timeout, and
   * followers that heard from a leader within the timeout ignore vote requests (the leader
   * lease).
   */
  readonly checkQuorum?: boolean;
  /** Pre-vote (Raft thesis §9.6): a node only bumps its term once it could win an election. */
  readonly preVote?: boolean;
  /** How ReadIndex confirms leadership; 'leaseBased' requires checkQuorum. Default 'safe'. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  readonly logger?: RaftLogger;
  /** Source of randomness; see RandomInt. */
  readonly rng: RandomInt;
}

/** A RaftConfig with every default filled in. */
export interface ValidConfig {
  readonly id: NodeId;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly storage: Storage;
  readonly applied: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxCommittedSizePerReadyBytes: number;
  readonly maxUncommittedEntriesSizeBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly disableProposalForwarding: boolean;
  readonly logger: RaftLogger;
  readonly rng: RandomInt;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) || n === Infinity;
}

/** Validates a config; throws FloeError ERR_RAFT_CONFIG naming the bad field. */
export function validateConfig(c: RaftConfig): ValidConfig {
  if (c.id === NONE || c.id < 0n || c.id >= 1n << 64n) throw errConfig('cannot use none as id');
  if (!Number.isSafeInteger(c.heartbeatTick) || c.heartbeatTick <= 0) {
    throw errConfig('heartbeat tick must be greater than 0');
  }
  if (!Number.isSafeInteger(c.electionTick) || c.electionTick <= c.heartbeatTick) {
    throw errConfig('election tick must be greater than heartbeat tick');
  }
  const applied = c.applied ?? 0;
  if (!Number.isSafeInteger(applied) || applied < 0) throw errConfig('applied must be a non-negative integer');
  if (!isCount(c.maxSizePerMsgBytes) || c.maxSizePerMsgBytes < 0) {
    throw errConfig('max size per msg must be a non-negative integer or Infinity');
  }
  const maxCommitted = c.maxCommittedSizePerReadyBytes ?? 0;
  if (!isCount(maxCommitted) || maxCommitted < 0) {
    throw errConfig('max committed size per ready must be a non-negative integer or Infinity');
  }
  const maxUncommitted = c.maxUncommittedEntriesSizeBytes ?? 0;
  if (!isCount(maxUncommitted) || maxUncommitted < 0) {
    throw errConfig('max uncommitted entries size must be a non-negative integer or Infinity');
  }
  if (!isCount(c.maxInflightMsgs) || c.maxInflightMsgs <= 0) {
    throw errConfig('max inflight messages must be greater than 0');
  }
  const maxInflightBytes = c.maxInflightBytes ?? 0;
  if (!isCount(maxInflightBytes) || maxInflightBytes < 0) {
    throw errConfig('max inflight bytes must be a non-negative integer or Infinity');
  }
  const readOnlyOption = c.readOnlyOption ?? 'safe';
  const checkQuorum = c.checkQuorum ?? false;
  if (readOnlyOption === 'leaseBased' && !checkQuorum) {
    throw errConfig('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied,
    maxSizePerMsgBytes: c.maxSizePerMsgBytes,
    maxCommittedSizePerReadyBytes: maxCommitted === 0 ? c.maxSizePerMsgBytes : maxCommitted,
    maxUncommittedEntriesSizeBytes: maxUncommitted === 0 ? Infinity : maxUncommitted,
    maxInflightMsgs: c.maxInflightMsgs,
    maxInflightBytes: maxInflightBytes === Infinity ? 0 : maxInflightBytes,
    checkQuorum,
    preVote: c.preVote ?? false,
    readOnlyOption,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    logger: c.logger ?? silentLogger,
    rng: c.rng,
  };
}
