/**
 * A simulated cluster: nodes, network, disks and clock driven from one seed. Each node runs
 * etcd's ready loop in virtual time:
 *
 *   take a Ready -> send messagesBeforePersist -> write to disk -> (fsync delay) ->
 *   sync -> send messages -> apply snapshot and committed entries -> serve reads -> advance
 *
 * Ordering rule: a Ready's `messages` leave only after its fsync completed, and a node takes
 * its next Ready only after advancing the previous one. The checker runs after every event.
 */
import { assert, isFloeError, Rng } from '../pkg';
import { AnyConfChange, asV2, confChangeFromEntry, EMPTY_CONF_STATE, Entry, Message, NodeId, Ready } from '../raft';
import { EventQueue } from './clock';
import { History } from './history';
import { Checker, checkLogsMatch, ReadCheck } from './invariants';
import { Network, LinkFaults } from './network';
import { RaftKnobs, SimNode } from './node';
import { applyEntry, bytes, decodeSm, decodeWrite, encodeSm, encodeWrite } from './state-machine';

/** Virtual milliseconds per raft tick. */
export const TICK_MS = 10;

/** Faults the seed may not have chosen, injected on purpose to prove the checker can fail. */
export type InjectedBug = 'none' | 'forget-synced-tail' | 'skip-replay';

/** What a run is made of. */
export interface ClusterOptions {
  readonly members: number;
  /** How many machines may join later, each with a fresh id after the founding members'. */
  readonly spares: number;
  readonly knobs: RaftKnobs;
  readonly faults: LinkFaults;
  /** Max virtual ms an fsync takes. */
  readonly maxFsyncMs: number;
  /** Probability that an un-synced write survives a crash. */
  readonly unsyncedSurvivalRate: number;
  readonly bug: InjectedBug;
}

/** Counters for reports. */
export interface ClusterStats {
  events: number;
  proposals: number;
  acks: number;
  readsServed: number;
  confChanges: number;
  transfers: number;
  crashes: number;
  partitions: number;
  snapshotsSent: number;
  compactions: number;
}

export class Cluster {
  readonly queue = new EventQueue();
  readonly history = new History(() => this.queue.nowMs);
  readonly checker = new Checker();
  readonly nodes: SimNode[] = [];
  readonly net: Network;
  readonly stats: ClusterStats = {
    events: 0,
    proposals: 0,
    acks: 0,
    readsServed: 0,
    confChanges: 0,
    transfers: 0,
    crashes: 0,
    partitions: 0,
    snapshotsSent: 0,
    compactions: 0,
  };
  private readCount = 0;

  constructor(
    readonly rng: Rng,
    readonly opts: ClusterOptions,
  ) {
    this.net = new Network(this.queue, rng, opts.faults, {
      deliver: (m) => this.deliver(m),
      lost: (m, why) => this.lost(m, why),
    });
    const voters = Array.from({ length: opts.members }, (_, i) => BigInt(i + 1));
    const confState = { ...EMPTY_CONF_STATE, voters };
    for (let i = 1; i <= opts.members; i++) this.nodes.push(new SimNode(BigInt(i)));
    for (const n of this.nodes) {
      // Founding members share a snapshot at index 1 holding the configuration.
      n.found({ data: encodeSm({ index: 1, hash: 0, kv: new Map() }), metadata: { index: 1, term: 1, confState } });
      this.start(n);
    }
  }

  node(id: NodeId): SimNode {
    const n = this.nodes[Number(id) - 1];
    assert(n !== undefined && n.id === id, () => `no node ${id}`);
    return n;
  }

  /** Runs events until virtual time reaches `untilMs` or `done()` holds; returns done(). */
  runUntil(untilMs: number, done: () => boolean = () => false): boolean {
    while (this.queue.nowMs <= untilMs) {
      if (done()) return true;
      if (!this.queue.runNext()) break;
      this.stats.events++;
      this.afterEvent();
    }
    return done();
  }

  /** Checks run after every event. */
  private afterEvent(): void {
    for (const n of this.nodes) {
      if (n.rn === null || n.rn.state !== 'StateLeader') continue;
      this.checker.leaderSeen(n.id, n.rn.status().hardState.term);
    }
  }

  // ---- process lifecycle ----

  /** A new machine with a fresh id and an empty disk, not started; null when all spares are used. */
  newMachine(): SimNode | null {
    if (this.nodes.length >= this.opts.members + this.opts.spares) return null;
    const n = new SimNode(BigInt(this.nodes.length + 1));
    this.nodes.push(n);
    return n;
  }

  /** Stops a removed member for good (etcd's member exits once it learns it was removed). */
  retire(n: SimNode, why: string): void {
    if (n.retired) return;
    this.history.add(`node ${n.id} retires: ${why}`);
    if (n.up) n.crash(false);
    n.retired = true;
  }

  start(n: SimNode): void {
    if (this.opts.bug === 'forget-synced-tail' && n.started) n.forgetSyncedTail(3);
    n.start(this.opts.knobs, this.rng, this.opts.bug === 'skip-replay' && n.started);
    this.history.add(`node ${n.id} starts (life ${n.incarnation}) snap=${n.sm.index} last=${n.disk.storage.lastIndex()}`);
    const life = n.incarnation;
    const tick = (): void => {
      if (n.incarnation !== life || n.rn === null) return;
      n.rn.tick();
      this.pump(n);
      this.queue.schedule(TICK_MS, tick);
    };
    this.queue.schedule(1 + this.rng.int(TICK_MS), tick);
    this.pump(n);
  }

  crash(n: SimNode): void {
    const survives = this.rng.chance(this.opts.unsyncedSurvivalRate);
    this.history.add(`node ${n.id} crashes (un-synced write ${n.disk.busy ? (survives ? 'survives' : 'lost') : 'none'})`);
    n.crash(survives);
    this.stats.crashes++;
  }

  // ---- the ready loop ----

  /** Takes the node's next Ready if it has one and none is out. */
  pump(n: SimNode): void {
    const rn = n.rn;
    if (rn === null || n.outstanding !== null || !rn.hasReady()) return;
    const rd = rn.ready();
    n.outstanding = rd;
    if (rd.softState !== null) this.history.add(`node ${n.id} is ${rd.softState.raftState} lead=${rd.softState.lead} term=${rn.status().hardState.term}`);
    for (const m of rd.messagesBeforePersist) this.send(m);
    const life = n.incarnation;
    const hasWrite = rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null;
    if (hasWrite) n.disk.write({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
    const delayMs = rd.mustSync || rd.snapshot !== null ? this.rng.int(this.opts.maxFsyncMs + 1) : 0;
    this.queue.schedule(delayMs, () => {
      if (n.incarnation !== life || n.outstanding !== rd) return;
      this.finish(n, rd, hasWrite);
    });
  }

  private finish(n: SimNode, rd: Ready, hasWrite: boolean): void {
    const rn = n.rn!;
    if (hasWrite) {
      n.disk.sync();
      this.checker.entriesPersisted(n.id, n.disk.storage, rd.entries);
    }
    for (const m of rd.messages) this.send(m);
    const term = rn.status().hardState.term;
    if (rd.snapshot !== null) {
      const meta = rd.snapshot.metadata;
      n.sm = decodeSm(rd.snapshot.data);
      assert(n.sm.index === meta.index, 'snapshot data and metadata disagree');
      n.setConfig(meta.confState);
      this.checker.appliedAt(n.id, meta.index, meta.term, n.sm.hash, term);
      this.history.add(`node ${n.id} applies snapshot ${meta.index}/${meta.term}`);
    }
    for (const e of rd.committedEntries) this.apply(n, e, term);
    for (const rs of rd.readStates) {
      const r = n.reads.get(textOf(rs.requestCtx));
      if (r === undefined || r.index !== null) continue; // a duplicate answer
      this.checker.readIndexed(n.id, r.check, rs.index);
      r.index = rs.index;
    }
    this.serveReads(n);
    rn.advance(rd);
    n.outstanding = null;
    if (rd.softState?.raftState === 'StateLeader' && rn.state === 'StateLeader') this.checker.leaderLog(n.id, term, n.disk.storage);
    this.pump(n);
  }

  private apply(n: SimNode, e: Entry, term: number): void {
    assert(e.index === n.sm.index + 1, () => `node ${n.id} handed ${e.index} after applying ${n.sm.index}`);
    applyEntry(n.sm, e);
    this.checker.appliedAt(n.id, e.index, e.term, n.sm.hash, term);
    const cc = confChangeFromEntry(e);
    if (cc !== null) {
      const wasMember = n.isMember(n.id);
      n.setConfig(n.rn!.applyConfChange(cc));
      // Leaving only once the node is in neither half of a joint config, so it still counts
      // towards the outgoing quorum while that is needed. Like etcd (stopWithDelay), the node
      // lingers for an election timeout: a removed leader's heartbeats still carry the commit
      // index of its own removal to the remaining members.
      if (wasMember && !n.isMember(n.id)) {
        const life = n.incarnation;
        this.queue.schedule(this.opts.knobs.electionTick * TICK_MS, () => {
          if (n.incarnation === life) this.retire(n, 'applied its own removal');
        });
      }
      for (const c of asV2(cc).changes) {
        if (c.type === 'ConfChangeRemoveNode') n.removed.add(c.nodeId);
        else n.removed.delete(c.nodeId);
      }
      this.history.add(`node ${n.id} applies conf change at ${e.index}: ${n.rn!.describeConfig()}`);
      return;
    }
    const w = decodeWrite(e.data);
    if (w === null || !n.clientPending.delete(w.proposal)) return;
    const holders = this.nodes.filter((x) => holds(x, e)).length;
    this.checker.acknowledged({ proposal: w.proposal, key: w.key, index: e.index, term: e.term }, holders, n.configs);
    this.stats.acks++;
    this.history.add(`node ${n.id} acks p${w.proposal} at ${e.index}/${e.term}`);
  }

  private serveReads(n: SimNode): void {
    for (const [ctx, r] of n.reads) {
      if (r.index === null || r.index > n.sm.index) continue;
      this.checker.readServed(n.id, r.check, n.sm.kv);
      n.reads.delete(ctx);
      this.stats.readsServed++;
    }
  }

  // ---- network ----

  /**
   * Sends a message. A MsgSnap carries the sender's current applied state instead of the
   * storage snapshot raft picked, as etcd's server does (createMergedSnapshotMessage): the
   * stored snapshot may predate the recipient's addition, and a node refuses a snapshot whose
   * configuration does not include it.
   */
  private send(m: Message): void {
    if (m.type !== 'MsgSnap') return this.net.send(m);
    const from = this.node(m.from);
    const s = from.disk.storage;
    const snapshot = {
      data: encodeSm(from.sm),
      metadata: { index: from.sm.index, term: s.term(from.sm.index), confState: from.confState },
    };
    this.net.send({ ...m, snapshot });
  }

  private deliver(m: Message): void {
    const to = this.nodes[Number(m.to) - 1];
    const from = this.nodes[Number(m.from) - 1];
    if (m.type === 'MsgSnap' && from?.rn != null) {
      from.rn.reportSnapshot(m.to, to?.rn != null ? 'finish' : 'failure');
      this.pump(from);
    }
    if (to === undefined || to.rn === null) return;
    if (to.removed.has(m.from)) {
      // etcd answers a removed member's peer traffic with "410 Gone" and the member stops.
      if (from !== undefined) this.retire(from, `node ${to.id} says it was removed`);
      return;
    }
    if (m.type === 'MsgSnap') this.stats.snapshotsSent++;
    try {
      to.rn.step(m);
    } catch (e) {
      // Responses from non-members and dropped forwarded proposals: the transport ignores them.
      if (!isFloeError(e)) throw e;
    }
    this.pump(to);
  }

  private lost(m: Message, why: string): void {
    const from = this.nodes[Number(m.from) - 1];
    if (from?.rn == null) return;
    if (m.type === 'MsgSnap') from.rn.reportSnapshot(m.to, 'failure');
    if (why === 'partition') from.rn.reportUnreachable(m.to);
    this.pump(from);
  }

  // ---- client operations ----

  /** A client write through node `n`; answered when `n` applies it. */
  propose(n: SimNode, key: string): void {
    const proposal = ++this.stats.proposals;
    try {
      n.rn!.propose(encodeWrite({ proposal, key }));
      n.clientPending.add(proposal);
      this.history.add(`client proposes p${proposal}:${key} via ${n.id}`);
    } catch (e) {
      if (!isFloeError(e)) throw e;
    }
    this.pump(n);
  }

  /** A linearizable read through node `n`. */
  read(n: SimNode): void {
    const ctx = `r${++this.readCount}`;
    const check: ReadCheck = this.checker.startRead(ctx);
    n.reads.set(ctx, { check, index: null });
    n.rn!.readIndex(bytes(ctx));
    this.pump(n);
  }

  confChange(leader: SimNode, cc: AnyConfChange, what: string): void {
    try {
      leader.rn!.proposeConfChange(cc);
      this.stats.confChanges++;
      this.history.add(`client proposes conf change via ${leader.id}: ${what}`);
    } catch (e) {
      if (!isFloeError(e)) throw e;
    }
    this.pump(leader);
  }

  transfer(leader: SimNode, to: NodeId): void {
    this.history.add(`leader ${leader.id} transfers to ${to}`);
    leader.rn!.transferLeader(to);
    this.stats.transfers++;
    this.pump(leader);
  }

  compact(n: SimNode): void {
    const s = n.disk.storage;
    const upTo = s.firstIndex() + this.rng.int(Math.max(1, n.sm.index - s.firstIndex() + 1));
    if (n.compact(upTo, encodeSm(n.sm))) {
      this.stats.compactions++;
      this.history.add(`node ${n.id} snapshots at ${n.sm.index}, log from ${s.firstIndex()}`);
    }
  }

  /** The node that leads the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes) {
      if (n.rn === null || n.rn.state !== 'StateLeader') continue;
      const t = n.rn.status().hardState.term;
      if (t > bestTerm) [best, bestTerm] = [n, t];
    }
    return best;
  }

  /** End-of-run log comparison over every started node. */
  checkAllLogs(): void {
    checkLogsMatch(this.nodes.filter((n) => n.started).map((n) => ({ id: n.id, storage: n.disk.storage })));
  }
}

/** Whether node `x` durably holds entry `e` (or a snapshot covering it). */
function holds(x: SimNode, e: Entry): boolean {
  const s = x.disk.storage;
  if (e.index < s.firstIndex() - 1) return true; // compacted into a snapshot of applied state
  if (e.index > s.lastIndex()) return false;
  return s.term(e.index) === e.term;
}

function textOf(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}
