/**
 * src/raft: the Raft consensus protocol as a pure state machine (design.md §2). The
 * application drives a RawNode with tick()/step()/propose() and carries out each Ready:
 * persist, send, apply, advance (ordering rules in raw-node.ts). No I/O, timers, clock or
 * randomness of its own; the same inputs give the same outputs.
 *
 * Ids are bigint, terms and indexes number (see types.ts).
 */
export { RawNode, isLocalMsg, isResponseMsg } from './raw-node';
export type { Ready, Status, ProgressStatus, Peer, SnapshotStatus } from './raw-node';
export type { RaftConfig, RandomInt } from './config';
export type { StateType, SoftState } from './raft';
export type { ReadState, ReadOnlyOption } from './read-only';
export type { ProgressState } from './progress';
export { silentLogger } from './logger';
export type { RaftLogger } from './logger';
export { MemoryStorage, limitSize } from './storage';
export type { Storage } from './storage';
export {
  NONE,
  EMPTY_BYTES,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  MESSAGE_TYPE_NUMBER,
  ENTRY_TYPE_NUMBER,
  CONF_CHANGE_TYPE_NUMBER,
  CONF_CHANGE_TRANSITION_NUMBER,
  compareIds,
  fromNumber,
  hardStateEqual,
  isEmptyHardState,
  isEmptySnap,
  makeMessage,
} from './types';
export type {
  NodeId,
  Entry,
  EntryType,
  ConfState,
  Snapshot,
  SnapshotMetadata,
  HardState,
  Message,
  MessageFields,
  MessageType,
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  ConfChangeType,
  ConfChangeTransition,
  AnyConfChange,
} from './types';
export {
  ERR_COMPACTED,
  ERR_SNAP_OUT_OF_DATE,
  ERR_UNAVAILABLE,
  ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE,
  ERR_PROPOSAL_DROPPED,
  ERR_STEP_LOCAL_MSG,
  ERR_STEP_PEER_NOT_FOUND,
  ERR_CONFIG,
  ERR_BOOTSTRAP,
  ERR_BAD_MESSAGE,
  errCompacted,
  errUnavailable,
  errSnapOutOfDate,
  errSnapshotTemporarilyUnavailable,
} from './errors';
export { ERR_CONF_CHANGE } from './changer';
export {
  ERR_BAD_CONF_CHANGE,
  encodeConfChange,
  decodeConfChange,
  encodeConfChangeV2,
  decodeConfChangeV2,
  entrySizeBytes,
  payloadSizeBytes,
} from './codec';
export {
  asV2,
  enterJoint,
  leaveJoint,
  confChangeToEntryParts,
  confChangeFromEntry,
  confChangesFromString,
  confChangesToString,
  LEAVE_JOINT,
} from './conf-change';
export {
  describeEntry,
  describeEntries,
  describeMessage,
  describeReady,
  describeHardState,
  describeSoftState,
  describeConfState,
  describeSnapshot,
  quoteBytes,
} from './describe';
export type { EntryFormatter } from './describe';
