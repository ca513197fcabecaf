/**
 * How followers, candidates and pre-candidates handle what they are sent: votes being counted,
 * a leader's appends, heartbeats and snapshots, and requests to forward to the leader.
 * Functions over the Raft state of raft.ts, kept apart to keep each file readable.
 */
import { assert } from '../pkg';
import type { Raft, StepResult } from './raft';
import { MessageType, Message, NodeId, NONE } from './types';

function hex(id: NodeId): string {
  return id.toString(16);
}

/** Candidates and pre-candidates; each only counts responses to its own kind of request. */
export function stepCandidate(r: Raft, m: Message): StepResult {
  const myVoteRespType: MessageType = r.state === 'StatePreCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  switch (m.type) {
    case 'MsgProp':
      r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
      return 'dropped';
    case 'MsgApp':
      // A leader of our term exists (m.term === our term here).
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return 'ok';
    case 'MsgHeartbeat':
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return 'ok';
    case 'MsgSnap':
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return 'ok';
    case 'MsgTimeoutNow':
      r.logger.debug(() => `${hex(r.id)} [term ${r.term} state ${r.state}] ignored MsgTimeoutNow from ${hex(m.from)}`);
      return 'ok';
    default:
      break;
  }
  if (m.type === myVoteRespType) {
    const { granted, rejected, result } = r.poll(m.from, m.type, !m.reject);
    r.logger.info(`${hex(r.id)} has received ${granted} ${m.type} votes and ${rejected} vote rejections`);
    if (result === 'VoteWon') {
      if (r.state === 'StatePreCandidate') {
        r.campaign('CampaignElection');
      } else {
        r.becomeLeader();
        r.bcastAppend();
      }
    } else if (result === 'VoteLost') {
      // A pre-vote response carries the pre-candidate's future term: stay in ours.
      r.becomeFollower(r.term, NONE);
    }
  }
  return 'ok';
}

/** Steps a message into a follower. */
export function stepFollower(r: Raft, m: Message): StepResult {
  switch (m.type) {
    case 'MsgProp':
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
        return 'dropped';
      }
      if (r.disableProposalForwarding) {
        r.logger.info(`${hex(r.id)} not forwarding to leader ${hex(r.lead)} at term ${r.term}; dropping proposal`);
        return 'dropped';
      }
      r.send({ ...m, to: r.lead });
      return 'ok';
    case 'MsgApp':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return 'ok';
    case 'MsgHeartbeat':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return 'ok';
    case 'MsgSnap':
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return 'ok';
    case 'MsgTransferLeader':
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping leader transfer msg`);
        return 'ok';
      }
      r.send({ ...m, term: 0, to: r.lead });
      return 'ok';
    case 'MsgTimeoutNow':
      r.logger.info(`${hex(r.id)} [term ${r.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership.`);
      // No pre-vote: the leader asked for this, there is no partition to guard against.
      r.hup('CampaignTransfer');
      return 'ok';
    case 'MsgReadIndex':
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping index reading msg`);
        return 'ok';
      }
      r.send({ ...m, to: r.lead });
      return 'ok';
    case 'MsgReadIndexResp':
      if (m.entries.length !== 1) {
        r.logger.error(`${hex(r.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`);
        return 'ok';
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return 'ok';
    default:
      return 'ok';
  }
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.raftLog.committed) {
    // Everything up to our commit index matches the leader's log: say so.
    r.send({ type: 'MsgAppResp', to: m.from, index: r.raftLog.committed });
    return;
  }
  const last = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (last !== undefined) {
    r.send({ type: 'MsgAppResp', to: m.from, index: last });
    return;
  }
  // Reject with a hint: the last index (at or below the probe) whose term is at most the
  // probe's term. The leader skips everything after it in one round trip.
  const hint = r.raftLog.findConflictByTerm(Math.min(m.index, r.raftLog.lastIndex()), m.logTerm);
  r.logger.debug(
    () =>
      `${hex(r.id)} [logterm: ${r.raftLog.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
  );
  r.send({ type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  r.send({ type: 'MsgHeartbeatResp', to: m.from, context: m.context });
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  assert(s !== null, 'MsgSnap without a snapshot');
  const { index, term } = s.metadata;
  if (r.restore(s)) {
    r.logger.info(`${hex(r.id)} [commit: ${r.raftLog.committed}] restored snapshot [index: ${index}, term: ${term}]`);
    r.send({ type: 'MsgAppResp', to: m.from, index: r.raftLog.lastIndex() });
  } else {
    r.logger.info(`${hex(r.id)} [commit: ${r.raftLog.committed}] ignored snapshot [index: ${index}, term: ${term}]`);
    r.send({ type: 'MsgAppResp', to: m.from, index: r.raftLog.committed });
  }
}
