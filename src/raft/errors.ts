/**
 * Raft's operating errors. Each is a FloeError with a stable code; the message text is etcd's
 * so that logs and any error passed through to clients read the same as etcd's.
 */
import { FloeError } from '../pkg';

/** Stable codes of raft's operating errors (FloeError.code). */
export const ERR_COMPACTED = 'ERR_RAFT_COMPACTED';
export const ERR_SNAP_OUT_OF_DATE = 'ERR_RAFT_SNAP_OUT_OF_DATE';
export const ERR_UNAVAILABLE = 'ERR_RAFT_UNAVAILABLE';
export const ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE = 'ERR_RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE';
export const ERR_PROPOSAL_DROPPED = 'ERR_RAFT_PROPOSAL_DROPPED';
export const ERR_STEP_LOCAL_MSG = 'ERR_RAFT_STEP_LOCAL_MSG';
export const ERR_STEP_PEER_NOT_FOUND = 'ERR_RAFT_STEP_PEER_NOT_FOUND';
export const ERR_CONFIG = 'ERR_RAFT_CONFIG';
export const ERR_BOOTSTRAP = 'ERR_RAFT_BOOTSTRAP';
export const ERR_BAD_MESSAGE = 'ERR_RAFT_BAD_MESSAGE';

/** The storage no longer holds the requested index: it was compacted into a snapshot. */
export function errCompacted(): FloeError {
  return new FloeError(ERR_COMPACTED, 'requested index is unavailable due to compaction');
}

/** A snapshot older than the one the storage already has. */
export function errSnapOutOfDate(): FloeError {
  return new FloeError(ERR_SNAP_OUT_OF_DATE, 'requested index is older than the existing snapshot');
}

/** The storage does not hold the requested index yet. */
export function errUnavailable(): FloeError {
  return new FloeError(ERR_UNAVAILABLE, 'requested entry at index is unavailable');
}

/** The storage is preparing a snapshot; raft retries later. */
export function errSnapshotTemporarilyUnavailable(): FloeError {
  return new FloeError(ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE, 'snapshot is temporarily unavailable');
}

/** A proposal was not appended (no leader, leader transfer in progress, size limit, ...). */
export function errProposalDropped(): FloeError {
  return new FloeError(ERR_PROPOSAL_DROPPED, 'raft proposal dropped');
}

/** A message type a node only generates for itself arrived from the network. */
export function errStepLocalMsg(): FloeError {
  return new FloeError(ERR_STEP_LOCAL_MSG, 'raft: cannot step raft local message');
}

/** A response from a node that is not in the configuration. */
export function errStepPeerNotFound(): FloeError {
  return new FloeError(ERR_STEP_PEER_NOT_FOUND, 'raft: cannot step as peer not found');
}

/** An invalid RaftConfig field. */
export function errConfig(message: string): FloeError {
  return new FloeError(ERR_CONFIG, `raft: invalid config: ${message}`);
}
