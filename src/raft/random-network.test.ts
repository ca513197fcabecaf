/**
 * Seeded randomized test of whole clusters (3 and 5 nodes) on an unreliable network:
 * messages are dropped, duplicated and reordered; the network is partitioned and healed;
 * nodes crash, losing everything not yet persisted (including a Ready taken but not written),
 * and restart from their storage; logs are compacted and followers caught up by snapshots;
 * linearizable reads are issued. Every action comes from one seed.
 *
 * Checked continuously:
 *  - election safety: at most one leader per term;
 *  - log matching: two logs holding an entry with the same index and term are identical up
 *    to it;
 *  - leader completeness: a new leader holds every entry committed in an earlier term;
 *  - state machine safety: every node applies the same entry at each index (a hash chain over
 *    the applied entries, also carried in snapshots, must agree);
 *  - ReadIndex: a read is served at an index at or past every write applied anywhere before
 *    the read was issued (linearizability of reads);
 * and at the end, liveness: once the network is healed and all nodes are up, a leader is
 * elected and a new proposal is applied everywhere.
 *
 * A failure prints the seed; FLOE_RAFT_SEED=<seed> replays just that one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confChangeFromEntry } from './conf-change';
import { RaftLogger } from './logger';
import { RawNode, Ready } from './raw-node';
import { MemoryStorage } from './storage';
import { TestRng } from './test-rng';
import { AnyConfChange, ConfChangeSingle, ConfState, EMPTY_BYTES, EMPTY_CONF_STATE, Entry, Message, NodeId } from './types';

interface Sm {
  /** Index of the last applied entry. */
  index: number;
  /** Hash chain over every applied entry up to `index`. */
  hash: number;
}

interface SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  rn: RawNode | null;
  /** A Ready taken (its early messages sent) but not yet persisted. */
  pending: Ready | null;
  /** The state machine; durable (like a backend storing its consistent index). */
  sm: Sm;
  /** The config as of the last index raft handed out for applying (`raftApplied`). */
  confState: ConfState;
  /** Last index raft handed out (committed entry or snapshot) since the node started. */
  raftApplied: number;
  /** Term of the Ready that made this node leader last, to check completeness once. */
  checkedLeaderTerm: number;
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function chain(prev: number, e: Entry): number {
  let s = `${e.index}/${e.term}/${e.type}/`;
  for (const b of e.data) s += String.fromCharCode(b);
  return fnv(prev ^ 0x9e3779b9, s);
}

function text(b: Uint8Array): string {
  return Array.from(b, (x) => String.fromCharCode(x)).join('');
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

interface Options {
  readonly nodes: number;
  readonly steps: number;
  /** Propose random membership changes (promote/demote, single-step and joint). */
  readonly confChanges?: boolean;
}

class Sim {
  readonly rng: TestRng;
  readonly nodes: SimNode[] = [];
  private net: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  /** term -> leader id. */
  private readonly leaders = new Map<number, NodeId>();
  /** index -> hash chain value and entry term, for every index applied anywhere. */
  private readonly applied = new Map<number, { hash: number; term: number; commitTerm: number }>();
  private maxApplied = 0;
  /** Read context -> the applied index that the read must reach. */
  private readonly reads = new Map<string, number>();
  private proposals = 0;
  readsServed = 0;
  private snapsDelivered = 0;
  private confChanges = 0;
  private crashes = 0;
  private readonly dropRate: number;

  constructor(
    seed: number,
    private readonly opts: Options,
  ) {
    this.rng = new TestRng(seed);
    this.preVote = this.rng.chance(0.5);
    this.checkQuorum = this.rng.chance(0.5);
    this.dropRate = this.rng.pick([0, 0.05, 0.2]);
    const voters = Array.from({ length: opts.nodes }, (_, i) => BigInt(i + 1));
    const cs: ConfState = { ...EMPTY_CONF_STATE, voters };
    for (const id of voters) {
      const storage = new MemoryStorage();
      // Every node starts from the same snapshot at index 1 holding the config.
      storage.applySnapshot({ data: encodeSm({ index: 1, hash: 0 }), metadata: { index: 1, term: 1, confState: cs } });
      const n: SimNode = { id, storage, rn: null, pending: null, sm: { index: 1, hash: 0 }, confState: cs, raftApplied: 1, checkedLeaderTerm: 0 };
      this.nodes.push(n);
      this.start(n);
    }
  }

  /**
   * (Re)starts a node from its storage. Raft restores its config from the storage snapshot,
   * so, as etcd does, it restarts with applied = the snapshot index: the committed entries
   * after it are handed out again, the state machine skips those it already has (like etcd's
   * consistent index) and conf changes among them are applied to raft again.
   */
  private start(n: SimNode): void {
    const snap = n.storage.snapshot().metadata;
    n.confState = snap.confState;
    n.raftApplied = snap.index;
    n.rn = new RawNode({
      id: n.id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: n.storage,
      applied: snap.index,
      maxSizePerMsgBytes: this.rng.pick([0, 64, Infinity]),
      maxInflightMsgs: this.rng.pick([1, 4, 256]),
      maxUncommittedEntriesSizeBytes: this.rng.pick([0, 256]),
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      rng: (bound) => this.rng.int(bound),
      logger: TRACE ? traceLogger(() => this.step) : undefined,
    });
  }

  private upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.rn !== null);
  }

  /** Current step, for traces. */
  step = 0;

  run(): void {
    for (let step = 0; step < this.opts.steps; step++) {
      this.step = step;
      this.randomAction();
      this.checkLeaders();
      if (step % 97 === 0) this.checkLogMatching();
    }
    this.checkLogMatching();
    this.checkLiveness();
  }

  private randomAction(): void {
    const r = this.rng.int(1000);
    const up = this.upNodes();
    if (r < 400) {
      this.deliverOne();
    } else if (r < 520) {
      if (up.length > 0) this.rng.pick(up).rn!.tick();
    } else if (r < 780) {
      // Work on a node that has some: take a Ready, or persist and apply the one it took.
      const busy = up.filter((n) => n.pending !== null || n.rn!.hasReady());
      if (busy.length === 0) return;
      const n = this.rng.pick(busy);
      if (n.pending !== null) this.persistAndApply(n);
      else this.takeReady(n);
    } else if (r < 870) {
      if (up.length > 0) this.propose(this.rng.pick(up));
    } else if (r < 890) {
      if (up.length > 0) this.readIndex(this.rng.pick(up));
    } else if (r < 895) {
      // Crash: the node's memory and its unpersisted Ready are gone. Keep one node up.
      if (up.length > 1) {
        const n = this.rng.pick(up);
        n.rn = null;
        n.pending = null;
        this.crashes++;
      }
    } else if (r < 925) {
      const down = this.nodes.filter((n) => n.rn === null);
      if (down.length > 0) this.start(this.rng.pick(down));
    } else if (r < 930) {
      this.repartition();
    } else if (r < 940) {
      this.compact(this.rng.pick(this.nodes));
    } else if (r < 945) {
      if (this.opts.confChanges === true && up.length > 0) this.proposeConfChange(this.rng.pick(up));
    } else {
      this.deliverOne();
    }
  }

  private deliverOne(): void {
    if (this.net.length === 0) return;
    const i = this.rng.int(this.net.length);
    const m = this.net[i]!;
    // Usually deliver in order-ish (from the front), sometimes any message (reordering).
    const duplicate = this.rng.chance(0.02);
    if (!duplicate) this.net.splice(i, 1);
    const to = this.nodes[Number(m.to) - 1]!;
    const dropped = to.rn === null || this.cut.has(pair(m.from, m.to)) || this.rng.chance(this.dropRate);
    const sender = this.nodes[Number(m.from) - 1]!;
    if (m.type === 'MsgSnap' && sender.rn !== null && !duplicate) {
      sender.rn.reportSnapshot(m.to, dropped ? 'failure' : 'finish');
    }
    if (dropped) {
      if (sender.rn !== null && this.rng.chance(0.1)) sender.rn.reportUnreachable(m.to);
      return;
    }
    if (m.type === 'MsgSnap') this.snapsDelivered++;
    try {
      to.rn!.step(m);
    } catch (e) {
      // Responses from nodes no longer in the config and dropped forwarded proposals are
      // operating errors the transport ignores.
      if (!(e instanceof Error && 'code' in e)) throw e;
    }
  }

  private takeReady(n: SimNode): void {
    const rd = n.rn!.ready();
    // The leader's appends go out before persisting (the optimization the Ready allows).
    for (const m of rd.messagesBeforePersist) this.net.push(m);
    n.pending = rd;
  }

  private persistAndApply(n: SimNode): void {
    const rd = n.pending!;
    n.pending = null;
    const rn = n.rn!;
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.net.push(m);
    const st = rn.status();
    if (rd.softState !== null && rd.softState.raftState === 'StateLeader') this.checkLeaderCompleteness(n, st.hardState.term);
    if (rd.snapshot !== null) {
      const sm = decodeSm(rd.snapshot.data);
      assert.equal(sm.index, rd.snapshot.metadata.index, 'snapshot data index');
      this.recordApplied(sm.index, sm.hash, rd.snapshot.metadata.term, st.hardState.term, n);
      n.sm = sm;
      n.confState = rd.snapshot.metadata.confState;
      n.raftApplied = sm.index;
    }
    for (const e of rd.committedEntries) {
      assert.equal(e.index, n.raftApplied + 1, `node ${n.id} is handed ${e.index} after ${n.raftApplied}`);
      n.raftApplied = e.index;
      const cc = confChangeFromEntry(e);
      if (cc !== null) n.confState = rn.applyConfChange(cc);
      // Replayed after a restart: the state machine already has it.
      if (e.index <= n.sm.index) continue;
      assert.equal(e.index, n.sm.index + 1, `node ${n.id} applies ${e.index} after ${n.sm.index}`);
      n.sm = { index: e.index, hash: chain(n.sm.hash, e) };
      this.recordApplied(e.index, n.sm.hash, e.term, st.hardState.term, n);
    }
    for (const rs of rd.readStates) {
      const key = text(rs.requestCtx);
      const want = this.reads.get(key);
      assert.ok(want !== undefined, `unknown read ${key}`);
      assert.ok(rs.index >= want, `read ${key} served at ${rs.index}, but ${want} was applied before it was issued`);
      // Kept: a duplicated request may be answered twice (later, so at least as high).
      this.readsServed++;
    }
    rn.advance(rd);
  }

  private recordApplied(index: number, hash: number, term: number, nodeTerm: number, n: SimNode): void {
    const prev = this.applied.get(index);
    if (prev === undefined) {
      this.applied.set(index, { hash, term, commitTerm: nodeTerm });
    } else {
      assert.equal(hash, prev.hash, `state machine safety: node ${n.id} applied a different entry at ${index}`);
      prev.commitTerm = Math.min(prev.commitTerm, nodeTerm);
    }
    this.maxApplied = Math.max(this.maxApplied, index);
  }

  private propose(n: SimNode): void {
    try {
      n.rn!.propose(bytes(`p${++this.proposals}`));
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'ERR_RAFT_PROPOSAL_DROPPED')) throw e;
    }
  }

  /**
   * Turns a random member from voter to learner or back; sometimes two at once (joint
   * consensus, left automatically). Nodes are never removed, so ids are never reused. The
   * leader refuses changes that are impossible or that overlap an unapplied one.
   */
  private proposeConfChange(n: SimNode): void {
    const cfg = n.rn!.status().config;
    const flip = (id: NodeId): ConfChangeSingle => ({
      type: cfg.voters.includes(id) ? 'ConfChangeAddLearnerNode' : 'ConfChangeAddNode',
      nodeId: id,
    });
    const a = this.rng.pick(this.nodes).id;
    const changes = [flip(a)];
    if (this.rng.chance(0.4)) {
      const b = this.rng.pick(this.nodes).id;
      if (b !== a) changes.push(flip(b));
    }
    const cc: AnyConfChange =
      changes.length === 1 && this.rng.chance(0.5)
        ? { kind: 'v1', type: changes[0]!.type, nodeId: a, context: EMPTY_BYTES, id: 0n }
        : { kind: 'v2', transition: 'ConfChangeTransitionAuto', changes, context: EMPTY_BYTES };
    try {
      n.rn!.proposeConfChange(cc);
      this.confChanges++;
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'ERR_RAFT_PROPOSAL_DROPPED')) throw e;
    }
  }

  private readIndex(n: SimNode): void {
    const key = `r${this.reads.size}`;
    this.reads.set(key, this.maxApplied);
    n.rn!.readIndex(bytes(key));
  }

  private repartition(): void {
    this.cut.clear();
    if (this.rng.chance(0.5)) return;
    const side = new Set(this.nodes.filter(() => this.rng.chance(0.5)).map((n) => n.id));
    for (const a of this.nodes) {
      for (const b of this.nodes) if (a.id < b.id && side.has(a.id) !== side.has(b.id)) this.cut.add(pair(a.id, b.id));
    }
  }

  /** Snapshots the node's state machine and compacts its log up to a random applied index. */
  private compact(n: SimNode): void {
    const s = n.storage;
    // Only once a restarted node has replayed up to its state machine: confState is current.
    if (n.raftApplied < n.sm.index) return;
    if (n.sm.index <= s.snapshot().metadata.index || n.sm.index > s.lastIndex()) return;
    s.createSnapshot(n.sm.index, n.confState, encodeSm(n.sm));
    const upTo = s.firstIndex() + this.rng.int(n.sm.index - s.firstIndex() + 1);
    if (upTo > s.firstIndex() - 1) s.compact(upTo);
  }

  private checkLeaders(): void {
    for (const n of this.nodes) {
      if (n.rn === null || n.rn.state !== 'StateLeader') continue;
      const term = n.rn.status().hardState.term;
      const prev = this.leaders.get(term);
      assert.ok(prev === undefined || prev === n.id, `election safety: ${prev} and ${n.id} both lead term ${term}`);
      this.leaders.set(term, n.id);
    }
  }

  /** A leader of `term` must hold every entry committed in an earlier term. */
  private checkLeaderCompleteness(n: SimNode, term: number): void {
    if (n.checkedLeaderTerm === term) return;
    n.checkedLeaderTerm = term;
    const s = n.storage;
    for (const [index, a] of this.applied) {
      if (a.commitTerm >= term || index <= s.firstIndex() - 1) continue;
      assert.ok(index <= s.lastIndex(), `leader completeness: leader ${n.id} of term ${term} lacks committed index ${index}`);
      assert.equal(s.term(index), a.term, `leader completeness: leader ${n.id} of term ${term} has another entry at ${index}`);
    }
  }

  private checkLogMatching(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      for (let j = i + 1; j < this.nodes.length; j++) {
        const a = this.nodes[i]!.storage;
        const b = this.nodes[j]!.storage;
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        const hi = Math.min(a.lastIndex(), b.lastIndex());
        // The highest common index with the same term: everything from lo up to it must match.
        let top = 0;
        for (let k = hi; k >= lo; k--) {
          if (a.term(k) === b.term(k)) {
            top = k;
            break;
          }
        }
        if (top < lo) continue;
        const ea = a.entries(lo, top + 1, Infinity);
        const eb = b.entries(lo, top + 1, Infinity);
        for (let k = 0; k < ea.length; k++) {
          const x = ea[k]!;
          const y = eb[k]!;
          assert.ok(
            x.term === y.term && x.type === y.type && text(x.data) === text(y.data),
            `log matching: nodes ${i + 1} and ${j + 1} differ at ${x.index} below matching index ${top}`,
          );
        }
      }
    }
  }

  /** Heal everything, then a leader must emerge and a new proposal reach every node. */
  private checkLiveness(): void {
    this.cut.clear();
    for (const n of this.nodes) if (n.rn === null) this.start(n);
    const target = `final-${this.proposals}`;
    let proposed = false;
    for (let round = 0; round < 4000; round++) {
      for (const n of this.nodes) {
        if (n.pending !== null) this.persistAndApply(n);
        if (n.rn!.hasReady()) {
          this.takeReady(n);
          this.persistAndApply(n);
        }
      }
      const msgs = this.net;
      this.net = [];
      for (const m of msgs) {
        const to = this.nodes[Number(m.to) - 1]!;
        try {
          to.rn!.step(m);
        } catch (e) {
          if (!(e instanceof Error && 'code' in e)) throw e;
        }
        if (m.type === 'MsgSnap') this.nodes[Number(m.from) - 1]!.rn!.reportSnapshot(m.to, 'finish');
      }
      if (round % 5 === 0) for (const n of this.nodes) n.rn!.tick();
      this.checkLeaders();
      const leader = this.nodes.find((n) => n.rn!.state === 'StateLeader');
      // Propose once a leader is known, and again now and then in case it was lost with a
      // stale leader.
      if (round % 200 === 199) proposed = false;
      if (leader !== undefined && !proposed) {
        try {
          leader.rn!.propose(bytes(target));
          proposed = true;
        } catch {
          // Dropped (e.g. transfer or size limit); try again next round.
        }
      }
      if (proposed && this.nodes.every((n) => this.hasApplied(n, target))) {
        this.checkLogMatching();
        return;
      }
    }
    const states = this.nodes.map((n) => {
      const st = n.rn!.status();
      return `${n.id}:${st.softState.raftState} term=${st.hardState.term} commit=${st.hardState.commit} applied=${st.applied} last=${n.storage.lastIndex()} cfg=${n.rn!.describeConfig()}`;
    });
    assert.fail(`liveness: no leader applied "${target}" on every node after healing\n${states.join('\n')}`);
  }

  stats(): string {
    return `confChanges=${this.confChanges} config=${this.nodes[0]!.rn!.describeConfig()} snapsSent=${this.snapsDelivered} crashes=${this.crashes} applied=${this.maxApplied} leaders=${this.leaders.size} reads=${this.readsServed} proposals=${this.proposals} prevote=${this.preVote} cq=${this.checkQuorum} drop=${this.dropRate} snaps=${this.nodes.map((n) => n.storage.snapshot().metadata.index).join(',')}`;
  }

  private hasApplied(n: SimNode, data: string): boolean {
    const s = n.storage;
    const hi = Math.min(n.sm.index, s.lastIndex());
    for (let k = hi; k >= s.firstIndex() && k > hi - 50; k--) {
      if (text(s.entries(k, k + 1, Infinity)[0]!.data) === data) return true;
    }
    return false;
  }
}

/** FLOE_RAFT_TRACE=1 prints every node's raft log lines (use with FLOE_RAFT_SEED). */
const TRACE = process.env.FLOE_RAFT_TRACE === '1';

function traceLogger(step: () => number): RaftLogger {
  const out = (lvl: string, msg: string) => console.error(`[${step()}] ${lvl} ${msg}`);
  return { debug: (f) => out('DEBUG', f()), info: (m) => out('INFO', m), warn: (m) => out('WARN', m), error: (m) => out('ERROR', m) };
}

function pair(a: NodeId, b: NodeId): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

function encodeSm(sm: Sm): Uint8Array {
  return bytes(`${sm.index}:${sm.hash}`);
}

function decodeSm(b: Uint8Array): Sm {
  const [index, hash] = text(b).split(':');
  return { index: Number(index), hash: Number(hash) };
}

/** The seeds to run: FLOE_RAFT_SEED replays one; FLOE_RAFT_SEEDS=N runs N (soak runs). */
function seeds(count: number, base: number): number[] {
  const one = process.env.FLOE_RAFT_SEED;
  if (one !== undefined) return [Number(one)];
  const n = Number(process.env.FLOE_RAFT_SEEDS ?? count);
  return Array.from({ length: n }, (_, i) => base + i);
}

function runSeed(seed: number, opts: Options): void {
  try {
    const sim = new Sim(seed, opts);
    sim.run();
    if (process.env.FLOE_RAFT_STATS === '1') console.log(seed, sim.stats());
  } catch (e) {
    console.error(`random-network: failed with FLOE_RAFT_SEED=${seed} (nodes=${opts.nodes}, steps=${opts.steps})`);
    throw e;
  }
}

test('3-node cluster under drops, reorders, partitions and crashes keeps the Raft invariants', () => {
  for (const seed of seeds(40, 1000)) runSeed(seed, { nodes: 3, steps: 3000 });
});

test('5-node cluster under drops, reorders, partitions and crashes keeps the Raft invariants', () => {
  for (const seed of seeds(30, 5000)) runSeed(seed, { nodes: 5, steps: 3000 });
});

test('5-node cluster changing membership (learners, joint consensus) under faults keeps the Raft invariants', () => {
  for (const seed of seeds(30, 9000)) runSeed(seed, { nodes: 5, steps: 3000, confChanges: true });
});

test('the simulator is deterministic: one seed, one history', () => {
  const a = new Sim(77, { nodes: 3, steps: 1500 });
  a.run();
  const b = new Sim(77, { nodes: 3, steps: 1500 });
  b.run();
  const sig = (s: Sim) => s.nodes.map((n) => `${n.sm.index}:${n.sm.hash}:${n.storage.lastIndex()}`).join(' ');
  assert.equal(sig(a), sig(b));
  assert.ok(a.nodes.some((n) => n.sm.index > 1), 'the run must make progress');
});
