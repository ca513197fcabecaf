/**
 * Raft's data types: messages, log entries, hard state, snapshots and configuration changes,
 * with etcd's raftpb field names and enum names (raft.proto in etcd 3.4). They are plain
 * readonly objects; enums are string tags so traces and debuggers read well, and the tables
 * at the bottom give the proto numbers the WAL and the peer transport put on the wire.
 *
 * Number representation (decided here, relied on everywhere in src/raft):
 *  - Node ids are `bigint`. etcd member ids are random 64-bit values (a hash of the peer URLs
 *    and cluster token), so they do not fit a double. `NONE` (0n) means "no node".
 *  - Terms, log indexes, commit indexes and byte sizes are `number`. They are uint64 on the
 *    wire but grow by one per election or per entry: 2^53 entries at a million a second is
 *    285 years. RawNode.step refuses messages carrying larger values (ERR_RAFT_BAD_MESSAGE);
 *    persisted state is checked with `assertSafeIndex` when loaded.
 *  - Payloads (entry data, message context, snapshot data) are `Uint8Array`; an empty array
 *    means "absent" (proto `bytes` left unset).
 */
import { assert } from '../pkg';

/** Node id; 0n (NONE) is never a valid node. */
export type NodeId = bigint;

/** The placeholder id used when there is no leader / no vote. */
export const NONE: NodeId = 0n;

/** The shared empty payload. Never mutate it. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Sort order for node ids (ascending); every output listing ids uses it. */
export function compareIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Asserts that a term or index coming from outside raft is a safe non-negative integer. */
export function assertSafeIndex(n: number, what: string): void {
  assert(Number.isSafeInteger(n) && n >= 0, () => `${what} ${n} is not a non-negative safe integer`);
}

/** What an entry carries: a normal payload or a (V1 or V2) conf change. */
export type EntryType = 'EntryNormal' | 'EntryConfChange' | 'EntryConfChangeV2';

/** One log entry. `data` of a conf change entry is the protobuf encoding (see codec.ts). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** A configuration as stored in snapshots and returned by applyConfChange. */
export interface ConfState {
  /** Voters of the incoming config (the only config when not joint). */
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Voters of the outgoing config; empty when the config is not joint. */
  readonly votersOutgoing: readonly NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  readonly learnersNext: readonly NodeId[];
  /** When joint: raft leaves the joint config on its own once that is safe. */
  readonly autoLeave: boolean;
}

/** The configuration of a node that belongs to no cluster yet. */
export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** Where a snapshot sits in the log and the configuration at that point. */
export interface SnapshotMetadata {
  readonly confState: ConfState;
  readonly index: number;
  readonly term: number;
}

/** The state machine at some index; `data` is the application's. */
export interface Snapshot {
  readonly data: Uint8Array;
  readonly metadata: SnapshotMetadata;
}

/** The state every node persists before it answers anyone: Raft's currentTerm, votedFor, commit. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** The hard state of a node that never saw a term. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/** Whether nothing was ever persisted (etcd's IsEmptyHardState). */
export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

/** Field-wise equality of hard states. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A snapshot with index 0 is "no snapshot" (etcd's IsEmptySnap). */
export function isEmptySnap(s: Snapshot | null): boolean {
  return s === null || s.metadata.index === 0;
}

/** raftpb.MessageType, by name. */
export type MessageType =
  | 'MsgHup'
  | 'MsgBeat'
  | 'MsgProp'
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgSnap'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgUnreachable'
  | 'MsgSnapStatus'
  | 'MsgCheckQuorum'
  | 'MsgTransferLeader'
  | 'MsgTimeoutNow'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp';

/**
 * A Raft message. Every field is always present (uniform shape); use `makeMessage` to build
 * one from the fields that matter. `snapshot` is null unless type is MsgSnap.
 */
export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot: Snapshot | null;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: Uint8Array;
}

/** The fields of a message that may be given to `makeMessage`; `type` is required. */
export type MessageFields = Partial<Message> & { readonly type: MessageType };

/**
 * Builds a message; fields not given are zero / empty, like an unset proto field. `from` and
 * `term`, when passed separately, override those of `f` (saves a copy on the send path).
 */
export function makeMessage(f: MessageFields, from?: NodeId, term?: number): Message {
  return {
    type: f.type,
    to: f.to ?? NONE,
    from: from ?? f.from ?? NONE,
    term: term ?? f.term ?? 0,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? [],
    commit: f.commit ?? 0,
    snapshot: f.snapshot ?? null,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
    context: f.context ?? EMPTY_BYTES,
  };
}

/** raftpb.ConfChangeType, by name. */
export type ConfChangeType =
  | 'ConfChangeAddNode'
  | 'ConfChangeRemoveNode'
  | 'ConfChangeUpdateNode'
  | 'ConfChangeAddLearnerNode';

/** raftpb.ConfChangeTransition, by name: how a V2 change uses joint consensus. */
export type ConfChangeTransition =
  | 'ConfChangeTransitionAuto'
  | 'ConfChangeTransitionJointImplicit'
  | 'ConfChangeTransitionJointExplicit';

/** The original one-node-at-a-time configuration change (EntryConfChange). */
export interface ConfChange {
  readonly kind: 'v1';
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
  /** etcd threads a request id through here; raft ignores it. */
  readonly id: bigint;
}

/** One change of a V2 conf change. */
export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * A configuration change of any number of nodes (EntryConfChangeV2). With more than one change,
 * or a transition other than Auto, it goes through joint consensus; an empty change (no changes,
 * Auto) leaves the joint config.
 */
export interface ConfChangeV2 {
  readonly kind: 'v2';
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

/** Either kind of conf change; `kind` tells them apart. */
export type AnyConfChange = ConfChange | ConfChangeV2;

/** Proto numbers of MessageType (raft.proto). */
export const MESSAGE_TYPE_NUMBER: Readonly<Record<MessageType, number>> = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
};

/** Proto numbers of EntryType. */
export const ENTRY_TYPE_NUMBER: Readonly<Record<EntryType, number>> = {
  EntryNormal: 0,
  EntryConfChange: 1,
  EntryConfChangeV2: 2,
};

/** Proto numbers of ConfChangeType. */
export const CONF_CHANGE_TYPE_NUMBER: Readonly<Record<ConfChangeType, number>> = {
  ConfChangeAddNode: 0,
  ConfChangeRemoveNode: 1,
  ConfChangeUpdateNode: 2,
  ConfChangeAddLearnerNode: 3,
};

/** Proto numbers of ConfChangeTransition. */
export const CONF_CHANGE_TRANSITION_NUMBER: Readonly<Record<ConfChangeTransition, number>> = {
  ConfChangeTransitionAuto: 0,
  ConfChangeTransitionJointImplicit: 1,
  ConfChangeTransitionJointExplicit: 2,
};

/** Inverts one of the tables above: proto number -> tag, undefined for unknown numbers. */
export function fromNumber<T extends string>(table: Readonly<Record<T, number>>, n: number): T | undefined {
  for (const key of Object.keys(table) as T[]) {
    if (table[key] === n) return key;
  }
  return undefined;
}
