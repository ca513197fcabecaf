/**
 * RawNode's API contract: config validation, the Ready/advance protocol and its ordering
 * rules, every limit at its edge, and the operating errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError, isFloeError } from '../pkg';
import { confChangeFromEntry } from './conf-change';
import { entrySizeBytes, payloadSizeBytes } from './codec';
import { RaftConfig } from './config';
import { ERR_BAD_MESSAGE, ERR_BOOTSTRAP, ERR_CONFIG, ERR_PROPOSAL_DROPPED, ERR_STEP_LOCAL_MSG, ERR_STEP_PEER_NOT_FOUND } from './errors';
import { RawNode, Ready } from './raw-node';
import { MemoryStorage } from './storage';
import { ConfState, EMPTY_BYTES, EMPTY_CONF_STATE, Entry, makeMessage, Message, NodeId } from './types';

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function storageWith(cs: ConfState): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 1, term: 1, confState: cs } });
  return s;
}

function config(id: NodeId, storage: MemoryStorage, over: Partial<RaftConfig> = {}): RaftConfig {
  return { id, electionTick: 10, heartbeatTick: 1, storage, applied: 1, maxSizePerMsgBytes: Infinity, maxInflightMsgs: 256, rng: () => 0, ...over };
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isFloeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

/** A cluster driven by hand: Readys are carried out in full, messages delivered in order. */
class Cluster {
  readonly nodes = new Map<NodeId, { rn: RawNode; storage: MemoryStorage }>();
  net: Message[] = [];
  /** Every Ready processed, per node. */
  readonly readies = new Map<NodeId, Ready[]>();

  constructor(voters: number[], over: Partial<RaftConfig> = {}, learners: number[] = []) {
    const cs: ConfState = { ...EMPTY_CONF_STATE, voters: voters.map(BigInt), learners: learners.map(BigInt) };
    for (const id of [...voters, ...learners].map(BigInt)) {
      const storage = storageWith(cs);
      this.nodes.set(id, { rn: new RawNode(config(id, storage, over)), storage });
      this.readies.set(id, []);
    }
  }

  rn(id: number): RawNode {
    return this.nodes.get(BigInt(id))!.rn;
  }

  /** Takes and carries out one Ready of `id` (if any); returns it. */
  process(id: number): Ready | null {
    const { rn, storage } = this.nodes.get(BigInt(id))!;
    if (!rn.hasReady()) return null;
    const rd = rn.ready();
    this.readies.get(BigInt(id))!.push(rd);
    this.net.push(...rd.messagesBeforePersist);
    if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    this.net.push(...rd.messages);
    for (const e of rd.committedEntries) {
      const cc = confChangeFromEntry(e);
      if (cc !== null) rn.applyConfChange(cc);
    }
    rn.advance(rd);
    return rd;
  }

  deliverAll(filter: (m: Message) => boolean = () => true): void {
    const msgs = this.net;
    this.net = [];
    for (const m of msgs) {
      if (!filter(m)) continue;
      const n = this.nodes.get(m.to);
      if (n !== undefined) n.rn.step(m);
    }
  }

  stabilize(filter?: (m: Message) => boolean): void {
    for (let i = 0; i < 1000; i++) {
      let busy = false;
      for (const id of this.nodes.keys()) if (this.process(Number(id)) !== null) busy = true;
      if (this.net.length > 0) busy = true;
      this.deliverAll(filter);
      if (!busy) return;
    }
    assert.fail('cluster did not stabilize');
  }

  elect(id: number): void {
    this.rn(id).campaign();
    this.stabilize();
    assert.equal(this.rn(id).state, 'StateLeader');
  }
}

test('config: every invalid field is refused with ERR_RAFT_CONFIG', () => {
  const s = new MemoryStorage();
  const bad: Partial<RaftConfig>[] = [
    { id: 0n },
    { heartbeatTick: 0 },
    { electionTick: 1, heartbeatTick: 1 },
    { maxInflightMsgs: 0 },
    { maxSizePerMsgBytes: -1 },
    { maxSizePerMsgBytes: 1.5 },
    { maxUncommittedEntriesSizeBytes: -1 },
    { maxCommittedSizePerReadyBytes: -1 },
    { maxInflightBytes: -1 },
    { applied: -1 },
    { readOnlyOption: 'leaseBased', checkQuorum: false },
  ];
  for (const b of bad) assert.equal(code(() => new RawNode(config(1n, s, { applied: 0, ...b }))), ERR_CONFIG, JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  assert.equal(code(() => new RawNode(config(1n, s, { applied: 0, readOnlyOption: 'leaseBased', checkQuorum: true }))), undefined);
});

test('the election timeout is electionTick plus the rng draw, in [electionTick, 2*electionTick)', () => {
  for (const draw of [0, 1, 5, 9]) {
    const s = storageWith({ ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n] });
    const bounds: number[] = [];
    const rn = new RawNode(config(1n, s, { rng: (b) => (bounds.push(b), draw) }));
    let ticks = 0;
    while (rn.state === 'StateFollower') {
      rn.tick();
      ticks++;
      assert.ok(ticks < 100);
    }
    assert.equal(ticks, 10 + draw, `draw ${draw}`);
    assert.ok(bounds.every((b) => b === 10), 'the rng is asked for [0, electionTick)');
  }
  const s = storageWith({ ...EMPTY_CONF_STATE, voters: [1n] });
  assert.throws(() => new RawNode(config(1n, s, { rng: () => 10 })), AssertionError, 'an out-of-range draw is a broken contract');
});

test('ready/advance: one Ready at a time, hasReady false while it is out', () => {
  const c = new Cluster([1, 2, 3]);
  const rn = c.rn(1);
  rn.campaign();
  assert.equal(rn.hasReady(), true);
  const rd = rn.ready();
  assert.equal(rn.hasReady(), false);
  assert.throws(() => rn.ready(), AssertionError);
  assert.throws(() => rn.advance({ ...rd }), AssertionError, 'only the outstanding Ready can be advanced');
  rn.advance(rd);
  assert.throws(() => rn.advance(rd), AssertionError, 'not twice');
});

test('votes and a changed term are sent only after persisting; leader appends may go first', () => {
  const c = new Cluster([1, 2, 3]);
  c.rn(1).campaign();
  const rd = c.process(1)!;
  assert.ok(rd.hardState !== null && rd.hardState.term === 1 && rd.hardState.vote === 1n);
  assert.equal(rd.mustSync, true);
  assert.deepEqual(rd.messagesBeforePersist, []);
  assert.deepEqual(rd.messages.map((m) => m.type), ['MsgVote', 'MsgVote']);
  c.deliverAll();
  const voter = c.process(2)!;
  assert.deepEqual(voter.messagesBeforePersist, []);
  assert.deepEqual(voter.messages.map((m) => m.type), ['MsgVoteResp']);
  c.stabilize();
  c.rn(1).propose(bytes('x'));
  const lead = c.process(1)!;
  assert.equal(lead.hardState, null, 'term and vote unchanged');
  assert.deepEqual(lead.messagesBeforePersist.map((m) => m.type), ['MsgApp', 'MsgApp']);
  assert.deepEqual(lead.messages, []);
  c.deliverAll();
  const follower = c.process(2)!;
  assert.deepEqual(follower.messagesBeforePersist, [], 'acks wait for persistence');
  assert.deepEqual(follower.messages.map((m) => m.type), ['MsgAppResp']);
});

test('leader messages wait for persistence too when the same Ready changes term or vote', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.rn(1).propose(bytes('x'));
  // Before the Ready with the append is taken, a candidate of term 5 asks for our vote.
  c.rn(1).step(makeMessage({ type: 'MsgVote', from: 2n, to: 1n, term: 5, index: 10, logTerm: 1 }));
  const rd = c.process(1)!;
  assert.deepEqual(rd.hardState, { term: 5, vote: 2n, commit: 2 });
  assert.deepEqual(rd.messagesBeforePersist, []);
  assert.deepEqual(rd.messages.map((m) => `${m.type}@${m.term}`), ['MsgApp@1', 'MsgApp@1', 'MsgVoteResp@5']);
});

test('a leader counts its own entries towards commit only once they are persisted', () => {
  const c = new Cluster([1]);
  c.elect(1);
  const { rn, storage } = c.nodes.get(1n)!;
  rn.propose(bytes('x'));
  const rd1 = rn.ready();
  assert.deepEqual(rd1.entries.map((e) => e.index), [3]);
  assert.deepEqual(rd1.committedEntries, [], 'not committed before it is durable on the only voter');
  storage.append(rd1.entries);
  rn.advance(rd1);
  const rd2 = rn.ready();
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [3]);
  assert.equal(rd2.hardState!.commit, 3);
  rn.advance(rd2);
});

/** A 3-node cluster with leader 1 replicating to everyone. */
function replicating(over: Partial<RaftConfig>): Cluster {
  const c = new Cluster([1, 2, 3], over);
  c.elect(1);
  return c;
}

function appsTo(msgs: readonly Message[], to: number): Message[] {
  return msgs.filter((m) => m.type === 'MsgApp' && m.to === BigInt(to));
}

test('limit: maxSizePerMsgBytes caps the entries of one append, at least one entry', () => {
  const data = bytes('0123456789');
  const one = entrySizeBytes({ term: 1, index: 10, type: 'EntryNormal', data });
  for (const [limit, want] of [
    [2 * one, [2, 2]],
    [2 * one - 1, [1, 1, 1, 1]],
    [0, [1, 1, 1, 1]],
    [Infinity, [4]],
  ] as [number, number[]][]) {
    const c = replicating({ maxSizePerMsgBytes: limit });
    // Back to probing: the first proposal goes out as a probe, the rest queue up behind it.
    c.rn(1).reportUnreachable(2n);
    for (let i = 0; i < 5; i++) c.rn(1).propose(data);
    const probe = appsTo(c.process(1)!.messagesBeforePersist, 2);
    assert.deepEqual(probe.map((m) => m.entries.length), [1]);
    c.net = [];
    // The probe's ack turns the follower to replicating: the queue goes out in size-capped appends.
    c.rn(1).step(makeMessage({ type: 'MsgAppResp', from: 2n, to: 1n, term: 1, index: probe[0]!.entries[0]!.index }));
    const rd = c.process(1)!;
    assert.deepEqual(appsTo(rd.messagesBeforePersist, 2).map((m) => m.entries.length), want, `limit ${limit}`);
  }
});

test('limit: maxInflightMsgs stops appends to a follower until one is acknowledged', () => {
  const c = replicating({ maxInflightMsgs: 2, maxSizePerMsgBytes: 0 });
  for (let i = 0; i < 5; i++) c.rn(1).propose(bytes('x'));
  const rd = c.process(1)!;
  const toTwo = appsTo(rd.messagesBeforePersist, 2);
  assert.equal(toTwo.length, 2, 'exactly the window');
  assert.equal(c.rn(1).status().progress.get(2n)!.inflightMsgs, 2);
  // Acknowledge the first append only: one more goes out.
  c.net = [];
  const first = toTwo[0]!;
  c.rn(1).step(makeMessage({ type: 'MsgAppResp', from: 2n, to: 1n, term: 1, index: first.entries[0]!.index }));
  const rd2 = c.process(1)!;
  assert.equal(appsTo([...rd2.messagesBeforePersist, ...rd2.messages], 2).length, 1);
});

test('limit: maxInflightBytes stops appends once the bytes in flight reach it', () => {
  const data = bytes('0123456789');
  // 10 bytes per entry, one entry per message: a 25-byte window holds three messages
  // (20 < 25 still has room), a 20-byte window two.
  for (const [limit, want] of [
    [25, 3],
    [20, 2],
    [0, 5],
  ] as [number, number][]) {
    const c = replicating({ maxInflightBytes: limit, maxSizePerMsgBytes: 0 });
    for (let i = 0; i < 5; i++) c.rn(1).propose(data);
    const rd = c.process(1)!;
    assert.equal(appsTo(rd.messagesBeforePersist, 2).length, want, `limit ${limit}`);
    assert.equal(payloadSizeBytes({ term: 0, index: 0, type: 'EntryNormal', data }), 10);
  }
});

test('limit: maxUncommittedEntriesSizeBytes drops proposals past it, never the first', () => {
  const c = replicating({ maxUncommittedEntriesSizeBytes: 10 });
  const rn = c.rn(1);
  rn.propose(bytes('12345'));
  rn.propose(bytes('12345'));
  assert.equal(code(() => rn.propose(bytes('1'))), ERR_PROPOSAL_DROPPED, 'one byte over');
  assert.equal(code(() => rn.propose(EMPTY_BYTES)), undefined, 'empty proposals cost nothing');
  c.stabilize();
  assert.equal(code(() => rn.propose(bytes('1'.repeat(50)))), undefined, 'with nothing uncommitted, any size is accepted');
  assert.equal(code(() => rn.propose(bytes('1'))), ERR_PROPOSAL_DROPPED);
});

test('limit: maxCommittedSizePerReadyBytes caps the committed entries of one Ready', () => {
  const data = bytes('0123456789');
  const one = entrySizeBytes({ term: 1, index: 10, type: 'EntryNormal', data });
  const c = replicating({ maxCommittedSizePerReadyBytes: 2 * one });
  for (let i = 0; i < 5; i++) c.rn(1).propose(data);
  c.stabilize();
  const sizes = c.readies.get(2n)!.map((rd) => rd.committedEntries.filter((e) => e.data.length > 0).length).filter((n) => n > 0);
  assert.deepEqual(sizes, [2, 2, 1]);
});

test('proposals without a known leader are dropped; forwarding can be disabled', () => {
  const c = new Cluster([1, 2, 3]);
  assert.equal(code(() => c.rn(2).propose(bytes('x'))), ERR_PROPOSAL_DROPPED);
  c.elect(1);
  assert.equal(code(() => c.rn(2).propose(bytes('x'))), undefined, 'forwarded to the leader');
  const d = new Cluster([1, 2, 3], { disableProposalForwarding: true });
  d.elect(1);
  assert.equal(code(() => d.rn(2).propose(bytes('x'))), ERR_PROPOSAL_DROPPED);
});

test('step refuses local message types and responses from non-members', () => {
  const c = new Cluster([1, 2, 3]);
  for (const type of ['MsgHup', 'MsgBeat', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum'] as const) {
    assert.equal(code(() => c.rn(1).step(makeMessage({ type, from: 2n, to: 1n }))), ERR_STEP_LOCAL_MSG, type);
  }
  assert.equal(code(() => c.rn(1).step(makeMessage({ type: 'MsgAppResp', from: 9n, to: 1n, term: 1 }))), ERR_STEP_PEER_NOT_FOUND);
  assert.equal(code(() => c.rn(1).step(makeMessage({ type: 'MsgApp', from: 2n, to: 1n, term: 2 ** 53 }))), ERR_BAD_MESSAGE, 'term beyond 2^53');
  assert.equal(code(() => c.rn(1).step(makeMessage({ type: 'MsgApp', from: 2n, to: 1n, term: 1, index: -1 }))), ERR_BAD_MESSAGE);
});

test('bootstrap starts a cluster from an empty storage and refuses a non-empty one', () => {
  const s = new MemoryStorage();
  const rn = new RawNode(config(1n, s, { applied: 0 }));
  assert.equal(code(() => rn.bootstrap([])), ERR_BOOTSTRAP);
  rn.bootstrap([{ id: 1n }, { id: 2n, context: bytes('ctx') }]);
  const rd = rn.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 0n, commit: 2 });
  assert.deepEqual(rd.entries.map((e: Entry) => e.type), ['EntryConfChange', 'EntryConfChange']);
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
  s.append(rd.entries);
  s.setHardState(rd.hardState!);
  for (const e of rd.committedEntries) rn.applyConfChange(confChangeFromEntry(e)!);
  rn.advance(rd);
  assert.deepEqual(rn.status().config.voters, [1n, 2n]);
  const again = new RawNode(config(1n, s, { applied: 0 }));
  assert.equal(code(() => again.bootstrap([{ id: 1n }])), ERR_BOOTSTRAP);
});

test('status reports progress on the leader only', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  const st = c.rn(1).status();
  assert.deepEqual([...st.progress.keys()], [1n, 2n, 3n]);
  assert.equal(st.progress.get(2n)!.state, 'StateReplicate');
  assert.equal(st.progress.get(2n)!.match, 2);
  assert.equal(c.rn(2).status().progress.size, 0);
  assert.equal(c.rn(2).status().softState.lead, 1n);
});

test('a conf change that cannot apply is refused when proposed, not at apply time', () => {
  const c = new Cluster([1]);
  c.elect(1);
  // Removing the only voter would leave no voters.
  c.rn(1).proposeConfChange({ kind: 'v1', type: 'ConfChangeRemoveNode', nodeId: 1n, context: EMPTY_BYTES, id: 0n });
  c.stabilize();
  const st = c.rn(1).status();
  assert.deepEqual(st.config.voters, [1n]);
  const applied = c.readies.get(1n)!.flatMap((rd) => rd.committedEntries);
  assert.equal(applied[applied.length - 1]!.type, 'EntryNormal', 'the refused change became an empty entry');
  assert.equal(st.softState.raftState, 'StateLeader');
});

test('a node that never had a term rejects a pre-vote silently (no term to answer with)', () => {
  const s = storageWith({ ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n] });
  const rn = new RawNode(config(1n, s, { preVote: true }));
  assert.equal(rn.status().hardState.term, 0);
  // The candidate's log (last entry 0/0) is behind ours (1/1): rejected.
  rn.step(makeMessage({ type: 'MsgPreVote', from: 2n, to: 1n, term: 1, index: 0, logTerm: 0 }));
  assert.equal(rn.hasReady(), false);
  // Granted pre-votes are answered with the request's term.
  rn.step(makeMessage({ type: 'MsgPreVote', from: 2n, to: 1n, term: 1, index: 1, logTerm: 1 }));
  const rd = rn.ready();
  assert.deepEqual(rd.messages.map((m) => `${m.type}@${m.term}:${m.reject}`), ['MsgPreVoteResp@1:false']);
});

test('a follower ignores a snapshot while it is applying committed entries it was handed', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.rn(1).propose(bytes('y'));
  // Replicate and commit entry 3 without letting follower 2 apply it yet.
  c.process(1);
  c.deliverAll();
  c.process(2);
  c.process(3);
  c.deliverAll();
  c.process(1);
  c.deliverAll((m) => m.to === 2n);
  const { rn, storage } = c.nodes.get(2n)!;
  const rd = rn.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [3]);
  const snap = { data: EMPTY_BYTES, metadata: { index: 10, term: 1, confState: { ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n] } } };
  const msgSnap = makeMessage({ type: 'MsgSnap', from: 1n, to: 2n, term: 1, snapshot: snap });
  rn.step(msgSnap);
  storage.append(rd.entries);
  rn.advance(rd);
  const after = rn.ready();
  assert.equal(after.snapshot, null, 'ignored while entry 3 was being applied');
  assert.deepEqual(after.messages.map((m) => `${m.type}:${m.index}`), ['MsgAppResp:3']);
  rn.advance(after);
  // Once everything handed out is acknowledged, the same snapshot is restored.
  rn.step(msgSnap);
  const restored = rn.ready();
  assert.equal(restored.snapshot?.metadata.index, 10);
  assert.deepEqual(restored.messages.map((m) => `${m.type}:${m.index}`), ['MsgAppResp:10']);
});

test('without check-quorum or pre-vote, only a node that cannot campaign answers a leader of an older term', () => {
  const cs: ConfState = { ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n], learners: [4n] };
  const answers = (id: NodeId): string[] => {
    const rn = new RawNode(config(id, storageWith(cs)));
    // A candidate of term 5 raises our term; then the leader of term 2 sends a heartbeat and an append.
    rn.step(makeMessage({ type: 'MsgVote', from: 3n, to: id, term: 5, index: 1, logTerm: 1 }));
    rn.advance(rn.ready());
    rn.step(makeMessage({ type: 'MsgHeartbeat', from: 1n, to: id, term: 2 }));
    rn.step(makeMessage({ type: 'MsgApp', from: 1n, to: id, term: 2, index: 1, logTerm: 1 }));
    return rn.hasReady() ? rn.ready().messages.map((m) => `${m.type}@${m.term}->${m.to}`) : [];
  };
  // A voter's own election timeout carries its term to the leader's quorum (as in etcd).
  assert.deepEqual(answers(2n), []);
  // A learner never campaigns: it tells the stale leader its term, or it is stuck for good.
  assert.deepEqual(answers(4n), ['MsgAppResp@5->1', 'MsgAppResp@5->1']);
});

test('a learner promoted while cut off, its term raised by a candidate that then left, catches up (sim seed 247120)', () => {
  // Voters 1 2 3, learner 4; no check-quorum, no pre-vote.
  const c = new Cluster([1, 2, 3], {}, [4]);
  c.elect(1);
  const without = (...ids: number[]) => (m: Message) => !ids.some((id) => m.from === BigInt(id) || m.to === BigInt(id));
  // 4 is promoted while it is cut off: the leader's config counts it, its own does not.
  c.rn(1).proposeConfChange({ kind: 'v1', type: 'ConfChangeAddNode', nodeId: 4n, context: EMPTY_BYTES, id: 0n });
  c.stabilize(without(4));
  assert.equal(c.rn(1).describeConfig(), 'voters=(1 2 3 4)');
  assert.equal(c.rn(4).describeConfig(), 'voters=(1 2 3) learners=(4)');
  // 3, cut off from 1 and 2, campaigns; only 4 hears it and moves to term 2. Then 3 is gone
  // for good (in the simulation: removed, told so, and stopped).
  c.rn(3).campaign();
  c.stabilize((m) => [m.from, m.to].every((id) => id === 3n || id === 4n));
  assert.equal(c.rn(4).status().hardState.term, 2);
  assert.equal(c.rn(1).status().hardState.term, 1);
  // The leader of term 1 needs 4 for a quorum of (1 2 3 4) without 3. 4 cannot campaign (it
  // believes it is a learner), so it must tell the leader its term when it hears from it.
  c.rn(1).tick();
  c.stabilize(without(3));
  assert.equal(c.rn(1).state, 'StateFollower', 'the leader of the old term stepped down');
  assert.equal(c.rn(1).status().hardState.term, 2);
  // A new election, which 4 votes in; the new leader brings 4 up to date, promotion included.
  c.rn(1).campaign();
  c.stabilize(without(3));
  assert.equal(c.rn(1).state, 'StateLeader');
  assert.equal(c.rn(4).describeConfig(), 'voters=(1 2 3 4)');
  c.rn(1).propose(bytes('z'));
  c.stabilize(without(3));
  const last = c.nodes.get(1n)!.storage.lastIndex();
  assert.equal(c.rn(4).status().hardState.commit, last, 'commits with 4 in the quorum');
});
