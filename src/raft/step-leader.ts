/**
 * How a leader handles what it is sent: proposals (with the conf change rules), append and
 * heartbeat responses (flow control, commitment, fast back-off), ReadIndex requests (batched
 * heartbeat rounds), snapshot and reachability reports, and leader transfer. Functions over
 * the Raft state of raft.ts, kept apart to keep each file readable.
 */
import { assert, isFloeError } from '../pkg';
import { asV2, confChangeFromEntry } from './conf-change';
import { ERR_CONF_CHANGE } from './changer';
import { jointVoteResult } from './quorum';
import type { Raft, StepResult } from './raft';
import { requestCtx } from './read-only';
import { AnyConfChange, EMPTY_BYTES, Entry, Message, NodeId, NONE } from './types';

function hex(id: NodeId): string {
  return id.toString(16);
}

function describeCc(cc: AnyConfChange): string {
  const v2 = asV2(cc);
  return `{${v2.changes.map((c) => `${c.type}(${c.nodeId})`).join(' ')}}`;
}

/** Steps a message into a leader. */
export function stepLeader(r: Raft, m: Message): StepResult {
  // Messages that need no progress of the sender.
  switch (m.type) {
    case 'MsgBeat':
      r.bcastHeartbeat();
      return 'ok';
    case 'MsgCheckQuorum': {
      const self = r.tracker.progress.get(r.id);
      if (self !== undefined) self.recentActive = true;
      if (!r.tracker.quorumActive()) {
        r.logger.warn(`${hex(r.id)} stepped down to follower since quorum is not active`);
        r.becomeFollower(r.term, NONE);
      }
      // Everyone but us starts the next round inactive.
      r.tracker.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return 'ok';
    }
    case 'MsgProp':
      return handleProposal(r, m);
    case 'MsgReadIndex':
      // Until an entry of our term is committed we do not know the true commit index (Raft
      // §6.4): park the request until then. This holds for a single voter too: its commit
      // index is not synced to disk and may lag after a restart.
      if (!committedEntryInCurrentTerm(r)) {
        r.pendingReadIndexMessages.push(m);
        return 'ok';
      }
      handleReadIndexRequests(r, [m]);
      return 'ok';
    default:
      break;
  }

  const pr = r.tracker.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug(() => `${hex(r.id)} no progress available for ${hex(m.from)}`);
    return 'ok';
  }
  switch (m.type) {
    case 'MsgAppResp':
      pr.recentActive = true;
      if (m.reject) handleAppendRejection(r, m);
      else handleAppendSuccess(r, m);
      return 'ok';
    case 'MsgHeartbeatResp':
      handleHeartbeatResponse(r, m);
      return 'ok';
    case 'MsgSnapStatus':
      if (pr.state !== 'StateSnapshot') return 'ok';
      if (!m.reject) {
        pr.becomeProbe();
        r.logger.debug(() => `${hex(r.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
      } else {
        // Clear the pending snapshot first, or the probe would start after a snapshot the
        // follower never got.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
        r.logger.debug(() => `${hex(r.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
      }
      // Success: wait for the follower's append response before sending more. Failure:
      // wait a heartbeat interval before trying again.
      pr.probeSent = true;
      return 'ok';
    case 'MsgUnreachable':
      // While streaming, an unreachable follower has likely lost an append: probe again.
      if (pr.state === 'StateReplicate') pr.becomeProbe();
      r.logger.debug(() => `${hex(r.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr.toString()}]`);
      return 'ok';
    case 'MsgTransferLeader':
      handleTransferLeader(r, m);
      return 'ok';
    default:
      return 'ok';
  }
}

function handleProposal(r: Raft, m: Message): StepResult {
  assert(m.entries.length > 0, () => `${hex(r.id)} stepped empty MsgProp`);
  if (!r.tracker.progress.has(r.id)) {
    // We were removed from the config while leading: accept nothing new.
    return 'dropped';
  }
  if (r.leadTransferee !== NONE) {
    r.logger.debug(
      () => `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(r.leadTransferee)} is in progress; dropping proposal`,
    );
    return 'dropped';
  }
  const ents: Entry[] = m.entries.slice();
  for (let i = 0; i < ents.length; i++) {
    const cc = confChangeFromEntry(ents[i]!);
    if (cc === null) continue;
    const refused = refuseConfChange(r, cc);
    if (refused !== null) {
      r.logger.info(`${hex(r.id)} ignoring conf change ${describeCc(cc)} at config ${r.tracker.config.toString()}: ${refused}`);
      // Keep the slot (proposal indexes stay as the proposer expects) but as a no-op.
      ents[i] = { term: 0, index: 0, type: 'EntryNormal', data: EMPTY_BYTES };
    } else {
      r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
    }
  }
  if (!r.appendEntry(ents)) return 'dropped';
  r.bcastAppend();
  return 'ok';
}

/**
 * Why a conf change proposal must be refused, or null to accept it. Since no other conf
 * change is pending when one is accepted, the config it will be applied to is the current
 * one, so a dry run of the change against it is exact.
 */
function refuseConfChange(r: Raft, cc: AnyConfChange): string | null {
  const v2 = asV2(cc);
  const alreadyJoint = r.tracker.config.isJoint();
  const wantsLeaveJoint = v2.changes.length === 0;
  if (r.pendingConfIndex > r.raftLog.applied) {
    return `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
  }
  if (alreadyJoint && !wantsLeaveJoint) return 'must transition out of joint config first';
  if (!alreadyJoint && wantsLeaveJoint) return 'not in joint state; refusing empty conf change';
  try {
    r.changeConfig(v2);
  } catch (e) {
    if (isFloeError(e, ERR_CONF_CHANGE)) return e.message;
    throw e;
  }
  return null;
}

function handleAppendRejection(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  r.logger.debug(
    () =>
      `${hex(r.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${hex(m.from)} for index ${m.index}`,
  );
  // The follower's hint is the last index at which its term is <= the term of our probe.
  // Find where our log could match it: the last index with our term <= its term there.
  let nextProbeIdx = m.rejectHint;
  if (m.logTerm > 0) {
    nextProbeIdx = r.raftLog.findConflictByTerm(Math.min(m.rejectHint, r.raftLog.lastIndex()), m.logTerm).index;
  }
  if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
    r.logger.debug(() => `${hex(r.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
    if (pr.state === 'StateReplicate') pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

function handleAppendSuccess(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === 'StateProbe') {
    pr.becomeReplicate();
  } else if (pr.state === 'StateSnapshot' && pr.match + 1 >= r.raftLog.firstIndex()) {
    // The follower can be served from the log again (its snapshot, or another, arrived).
    r.logger.debug(
      () => `${hex(r.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
    );
    // Through probe, which accounts for the snapshot, so that status is consistent at once.
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'StateReplicate') {
    pr.inflights.freeLE(m.index);
  }

  if (r.maybeCommit()) {
    // An entry of our term is committed: parked read requests can be served now.
    releasePendingReadIndexMessages(r);
    r.bcastAppend();
  } else if (oldPaused) {
    // It was paused, so it may lack our latest commit index.
    r.sendAppend(m.from);
  }
  // Acknowledgements may have opened the window for several messages; fill it (without
  // empty messages).
  while (r.maybeSendAppend(m.from, false)) {
    // keep sending
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    r.logger.info(`${hex(r.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
    sendTimeoutNow(r, m.from);
  }
}

function handleHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  pr.recentActive = true;
  pr.probeSent = false;
  // The follower is alive: free one slot of a full window so replication can go on even if
  // acknowledgements were lost.
  if (pr.state === 'StateReplicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < r.raftLog.lastIndex()) r.sendAppend(m.from);

  if (r.readOnly.option !== 'safe' || m.context.length === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === undefined || jointVoteResult(r.tracker.config, acks) !== 'VoteWon') return;
  for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.req, rs.index);
  // Requests that arrived while that round was in flight get the next round right away.
  const next = r.readOnly.lastPendingRequestCtx();
  if (next !== null && !r.readOnly.roundInFlight()) {
    r.readOnly.startRound(next);
    r.bcastHeartbeatWithCtx(next);
  }
}

function handleTransferLeader(r: Raft, m: Message): void {
  const pr = r.tracker.progress.get(m.from)!;
  if (pr.isLearner) {
    r.logger.debug(() => `${hex(r.id)} is learner. Ignored transferring leadership`);
    return;
  }
  startTransfer(r, m.from);
}

/** Hands leadership to the voter with the longest log (lowest id on ties), if any. */
export function transferToBestVoter(r: Raft): void {
  let best: NodeId = NONE;
  let bestMatch = -1;
  r.tracker.visit((id, pr) => {
    if (id === r.id || pr.isLearner || pr.match <= bestMatch) return;
    best = id;
    bestMatch = pr.match;
  });
  if (best === NONE) return;
  r.logger.info(`${hex(r.id)} is no longer a voter; transferring leadership to ${hex(best)}`);
  startTransfer(r, best);
}

/**
 * Starts a leader transfer (Raft thesis §3.10): catch the transferee up, then tell it to
 * campaign at once (MsgTimeoutNow). Proposals are dropped meanwhile.
 */
function startTransfer(r: Raft, transferee: NodeId): void {
  const pr = r.tracker.progress.get(transferee)!;
  const last = r.leadTransferee;
  if (last !== NONE) {
    if (last === transferee) {
      r.logger.info(
        `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(transferee)} is in progress, ignores request to same node ${hex(transferee)}`,
      );
      return;
    }
    r.abortLeaderTransfer();
    r.logger.info(`${hex(r.id)} [term ${r.term}] abort previous transferring leadership to ${hex(last)}`);
  }
  if (transferee === r.id) {
    r.logger.debug(() => `${hex(r.id)} is already leader. Ignored transferring leadership to self`);
    return;
  }
  r.logger.info(`${hex(r.id)} [term ${r.term}] starts to transfer leadership to ${hex(transferee)}`);
  // The transfer must finish within one election timeout (see tickHeartbeat).
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.raftLog.lastIndex()) {
    sendTimeoutNow(r, transferee);
    r.logger.info(`${hex(r.id)} sends MsgTimeoutNow to ${hex(transferee)} immediately as ${hex(transferee)} already has up-to-date log`);
  } else {
    r.sendAppend(transferee);
  }
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: 'MsgTimeoutNow', to });
}

/** Whether the entry at our commit index is from our term (then our commit index is current). */
function committedEntryInCurrentTerm(r: Raft): boolean {
  return r.raftLog.termOrZero(r.raftLog.committed) === r.term;
}

/** Answers a read request at readIndex: locally as a ReadState, or to the follower that asked. */
function respondToReadIndex(r: Raft, req: Message, readIndex: number): void {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index: readIndex, requestCtx: requestCtx(req) });
  } else {
    r.send({ type: 'MsgReadIndexResp', to: req.from, index: readIndex, entries: req.entries });
  }
}

/** Takes read requests (this leader has committed in its term); see read-only.ts for batching. */
function handleReadIndexRequests(r: Raft, reqs: readonly Message[]): void {
  // With one voter our own ack is the quorum; with a lease we trust that no other leader
  // can exist before it runs out.
  if (r.readOnly.option === 'leaseBased' || r.tracker.isSingleton()) {
    for (const m of reqs) respondToReadIndex(r, m, r.raftLog.committed);
    return;
  }
  for (const m of reqs) {
    // Read at the commit index as of now; our own ack counts towards the quorum.
    if (r.readOnly.addRequest(r.raftLog.committed, m)) r.readOnly.recvAck(r.id, requestCtx(m));
  }
  const ctx = r.readOnly.lastPendingRequestCtx();
  if (ctx !== null && !r.readOnly.roundInFlight()) {
    r.readOnly.startRound(ctx);
    r.bcastHeartbeatWithCtx(ctx);
  }
}

/** Serves the reads parked until this leader committed an entry of its term. */
export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  assert(committedEntryInCurrentTerm(r), 'pending MsgReadIndex should be released only after first commit in current term');
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  handleReadIndexRequests(r, msgs);
}
