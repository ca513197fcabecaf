/**
 * The interaction environment behind the scenario files (testdata/*.txt): a handful of
 * RawNodes with MemoryStorage, a network that is a list of in-flight messages delivered only
 * when a command says so, and a trace of everything that happens. Modeled on etcd-io/raft's
 * rafttest.InteractionEnv; the commands are listed in `handle`.
 *
 * Determinism: nodes get an rng that always returns 0 (election timeout = electionTick
 * exactly), and nothing depends on time or map order, so a scenario's trace is fixed.
 *
 * The state machine is etcd's test "appender": the applied state is the concatenation of all
 * applied payloads, recorded per applied index as a snapshot (History), which is also what a
 * node's storage hands out when the leader needs to send a snapshot.
 */
import { assert, FloeError } from '../pkg';
import { asV2, confChangeFromEntry, confChangesFromString } from './conf-change';
import { RaftConfig } from './config';
import { describeEntries, describeMessage, describeReady } from './describe';
import { RaftLogger } from './logger';
import { ReadOnlyOption } from './read-only';
import { RawNode } from './raw-node';
import { MemoryStorage } from './storage';
import { CmdArg, TestCase } from './test-datadriven';
import {
  AnyConfChange,
  ConfChangeTransition,
  ConfState,
  EMPTY_BYTES,
  EMPTY_CONF_STATE,
  Message,
  NodeId,
  Snapshot,
} from './types';

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'NONE'] as const;

/** Collects trace lines; lines below the level are dropped. */
class Output {
  private lines: string[] = [];
  level = 0;

  write(line: string): void {
    this.lines.push(line);
  }

  log(level: number, msg: string): void {
    if (level >= this.level) this.write(`${LEVELS[level]} ${msg}`);
  }

  /** Runs f and returns what it wrote, removed from this output. */
  capture(f: () => void): string[] {
    const saved = this.lines;
    this.lines = [];
    try {
      f();
      return this.lines;
    } finally {
      this.lines = saved;
    }
  }

  take(): string {
    const s = this.lines.join('\n');
    this.lines = [];
    return s;
  }
}

/** A storage whose snapshot is always the node's latest applied state (as etcd's env does). */
class EnvStorage extends MemoryStorage {
  constructor(private readonly latest: () => Snapshot) {
    super();
  }

  override snapshot(): Snapshot {
    return this.latest();
  }

  /** Index of the snapshot the storage itself holds (what a restart begins from). */
  storedSnapshotIndex(): number {
    return super.snapshot().metadata.index;
  }
}

interface EnvNode {
  readonly id: NodeId;
  rawNode: RawNode;
  readonly storage: EnvStorage;
  readonly config: RaftConfig;
  /** Applied states, one per applied index (and the initial one). */
  readonly history: Snapshot[];
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export class InteractionEnv {
  readonly nodes: EnvNode[] = [];
  /** In-flight messages, in the order they were sent. */
  private messages: Message[] = [];
  /** Pairs "a-b" (a < b) that cannot talk to each other. */
  private readonly cut = new Set<string>();
  private readonly out = new Output();

  private readonly logger = (): RaftLogger => ({
    debug: (f) => this.out.log(0, f()),
    info: (m) => this.out.log(1, m),
    warn: (m) => this.out.log(2, m),
    error: (m) => this.out.log(3, m),
  });

  /** Runs one scenario command and returns its trace ("ok" when it printed nothing). */
  handle(tc: TestCase): string {
    try {
      this.dispatch(tc);
    } catch (e) {
      if (e instanceof FloeError) this.out.write(e.message);
      else throw e;
    }
    const s = this.out.take();
    return s === '' ? 'ok' : s;
  }

  private dispatch(tc: TestCase): void {
    const a = tc.args;
    switch (tc.cmd) {
      case 'add-nodes':
        return this.addNodes(int(a[0]), a.slice(1));
      case 'campaign':
        return this.node(a[0]).rawNode.campaign();
      case 'propose':
        return this.node(a[0]).rawNode.propose(bytes(str(a[1])));
      case 'propose-conf-change':
        return this.proposeConfChange(this.node(a[0]), a.slice(1), tc.input);
      case 'read-index':
        return this.node(a[0]).rawNode.readIndex(bytes(str(a[1])));
      case 'transfer-leader':
        return this.node(a[0]).rawNode.transferLeader(BigInt(int(a[1])));
      case 'deliver-msgs':
        return this.deliverMsgsCmd(a);
      case 'process-ready':
        for (const arg of a) this.processReady(this.node(arg));
        return;
      case 'stabilize':
        return this.stabilize(a.filter((x) => x.vals.length === 0).map((x) => this.node(x)));
      case 'tick-heartbeat':
        return this.tick(this.node(a[0]), this.node(a[0]).config.heartbeatTick);
      case 'tick-election':
        return this.tick(this.node(a[0]), this.node(a[0]).config.electionTick);
      case 'tick':
        return this.tick(this.node(a[0]), int(a[1]));
      case 'partition':
        return this.partition(a.map(group));
      case 'isolate':
        return this.partition([[BigInt(int(a[0]))], this.nodes.map((n) => n.id).filter((id) => id !== BigInt(int(a[0])))]);
      case 'heal':
        this.cut.clear();
        return;
      case 'report-unreachable':
        return this.node(a[0]).rawNode.reportUnreachable(BigInt(int(a[1])));
      case 'report-snapshot':
        return this.node(a[0]).rawNode.reportSnapshot(BigInt(int(a[1])), str(a[2]) === 'ok' ? 'finish' : 'failure');
      case 'compact':
        return this.compact(this.node(a[0]), int(a[1]));
      case 'restart':
        return this.restart(this.node(a[0]));
      case 'raft-log':
        return this.raftLog(this.node(a[0]));
      case 'raft-state':
        return this.raftState();
      case 'status':
        return this.status(this.node(a[0]));
      case 'log-level': {
        const i = LEVELS.findIndex((l) => l === str(a[0]).toUpperCase());
        if (i < 0) throw new Error(`unknown log level ${str(a[0])}`);
        this.out.level = i;
        return;
      }
      default:
        throw new Error(`unknown command ${tc.cmd}`);
    }
  }

  private node(arg: CmdArg | undefined): EnvNode {
    const id = int(arg);
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /**
   * add-nodes N [voters=(..)] [learners=(..)] [index=I] [content=S] and config options:
   * prevote=true checkquorum=true max-size-per-msg=N max-inflight=N max-inflight-bytes=N
   * max-uncommitted-size=N max-committed-size-per-ready=N read-only=lease election=N heartbeat=N
   * disable-proposal-forwarding=true. With voters/learners the nodes start from a snapshot at
   * `index` (term 1) holding that config; otherwise they start empty.
   */
  private addNodes(n: number, args: readonly CmdArg[]): void {
    let voters: bigint[] = [];
    let learners: bigint[] = [];
    let index = 0;
    let content = EMPTY_BYTES;
    const opts: Record<string, string> = {};
    for (const arg of args) {
      switch (arg.key) {
        case 'voters':
          voters = arg.vals.map((v) => BigInt(v));
          break;
        case 'learners':
          learners = arg.vals.map((v) => BigInt(v));
          break;
        case 'index':
          index = Number(arg.vals[0]);
          break;
        case 'content':
          content = bytes(arg.vals[0] ?? '');
          break;
        default:
          opts[arg.key] = arg.vals[0] ?? '';
      }
    }
    const bootstrap = voters.length > 0 || learners.length > 0;
    if (bootstrap) assert(index > 1, 'index must be specified as > 1 due to bootstrap');
    const cs: ConfState = { ...EMPTY_CONF_STATE, voters, learners };
    for (let i = 0; i < n; i++) {
      const id = BigInt(this.nodes.length + 1);
      const snap: Snapshot = bootstrap
        ? { data: content, metadata: { index, term: 1, confState: cs } }
        : { data: EMPTY_BYTES, metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE } };
      const history: Snapshot[] = [snap];
      const storage = new EnvStorage(() => history[history.length - 1]!);
      if (bootstrap) storage.applySnapshot(snap);
      const config: RaftConfig = {
        id,
        electionTick: num(opts['election'], 3),
        heartbeatTick: num(opts['heartbeat'], 1),
        storage,
        applied: snap.metadata.index,
        maxSizePerMsgBytes: num(opts['max-size-per-msg'], Infinity),
        maxCommittedSizePerReadyBytes: num(opts['max-committed-size-per-ready'], 0),
        maxUncommittedEntriesSizeBytes: num(opts['max-uncommitted-size'], 0),
        maxInflightMsgs: num(opts['max-inflight'], 256),
        maxInflightBytes: num(opts['max-inflight-bytes'], 0),
        preVote: opts['prevote'] === 'true',
        checkQuorum: opts['checkquorum'] === 'true',
        readOnlyOption: (opts['read-only'] === 'lease' ? 'leaseBased' : 'safe') as ReadOnlyOption,
        disableProposalForwarding: opts['disable-proposal-forwarding'] === 'true',
        logger: this.logger(),
        rng: () => 0,
      };
      this.nodes.push({ id, rawNode: new RawNode(config), storage, config, history });
    }
  }

  private proposeConfChange(node: EnvNode, args: readonly CmdArg[], input: string): void {
    let v1 = false;
    let transition: ConfChangeTransition = 'ConfChangeTransitionAuto';
    for (const arg of args) {
      const val = arg.vals[0];
      if (arg.key === 'v1') v1 = val === 'true';
      else if (arg.key === 'transition') {
        if (val === 'auto') transition = 'ConfChangeTransitionAuto';
        else if (val === 'implicit') transition = 'ConfChangeTransitionJointImplicit';
        else if (val === 'explicit') transition = 'ConfChangeTransitionJointExplicit';
        else throw new Error(`unknown transition ${val}`);
      } else throw new Error(`unknown argument ${arg.key}`);
    }
    const changes = confChangesFromString(input);
    let cc: AnyConfChange;
    if (v1) {
      if (changes.length !== 1 || transition !== 'ConfChangeTransitionAuto') {
        throw new Error('v1 conf change can only have one operation and no transition');
      }
      cc = { kind: 'v1', type: changes[0]!.type, nodeId: changes[0]!.nodeId, context: EMPTY_BYTES, id: 0n };
    } else {
      cc = { kind: 'v2', transition, changes, context: EMPTY_BYTES };
    }
    node.rawNode.proposeConfChange(cc);
  }

  private tick(node: EnvNode, n: number): void {
    for (let i = 0; i < n; i++) node.rawNode.tick();
  }

  private partition(groups: bigint[][]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        for (const a of groups[i]!) for (const b of groups[j]!) this.cut.add(pairKey(a, b));
      }
    }
  }

  private isCut(m: Message): boolean {
    return this.cut.has(pairKey(m.from, m.to));
  }

  /**
   * Takes a Ready, prints it, and carries it out in the order the application must: send the
   * early messages, persist (snapshot, entries, hard state), queue the other messages, apply,
   * advance.
   */
  processReady(node: EnvNode): void {
    const rn = node.rawNode;
    const rd = rn.ready();
    this.out.write(describeReady(rd).replace(/\n$/, ''));
    for (const m of rd.messagesBeforePersist) this.messages.push(m);
    if (rd.snapshot !== null) node.storage.applySnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.messages.push(m);
    if (rd.snapshot !== null) node.history.push(rd.snapshot);
    for (const e of rd.committedEntries) {
      const last = node.history[node.history.length - 1]!;
      let update = e.data;
      let cs = last.metadata.confState;
      const cc = confChangeFromEntry(e);
      if (cc !== null) {
        update = asV2(cc).context;
        cs = rn.applyConfChange(cc);
      }
      // Replayed after a restart: the state machine has it already; raft needed the conf change.
      if (e.index <= last.metadata.index) continue;
      node.history.push({ data: concat(last.data, update), metadata: { index: e.index, term: e.term, confState: cs } });
    }
    rn.advance(rd);
  }

  private deliverMsgsCmd(args: readonly CmdArg[]): void {
    let n = 0;
    for (const arg of args) {
      if (arg.key === 'drop') {
        for (const v of arg.vals) n += this.deliverMsgs(BigInt(v), true);
      } else {
        n += this.deliverMsgs(BigInt(int(arg)), false);
      }
    }
    if (n === 0) this.out.write('no messages');
  }

  /** Delivers (or drops) every in-flight message to `to`, in order; returns how many. */
  private deliverMsgs(to: NodeId, drop: boolean): number {
    const mine = this.messages.filter((m) => m.to === to);
    this.messages = this.messages.filter((m) => m.to !== to);
    for (const m of mine) {
      if (drop || this.isCut(m)) {
        this.out.write(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.out.write(describeMessage(m));
      const node = this.nodes[Number(to) - 1];
      if (node === undefined) {
        this.out.write(`no node ${to}`);
        continue;
      }
      try {
        node.rawNode.step(m);
      } catch (e) {
        if (e instanceof FloeError) this.out.write(e.message);
        else throw e;
      }
    }
    return mine.length;
  }

  /**
   * Processes Readys and delivers messages among `nodes` (all when empty) until nothing is
   * left to do; output is grouped and indented per step as in etcd's env.
   */
  private stabilize(only: EnvNode[]): void {
    const nodes = only.length > 0 ? only : this.nodes;
    const indent = (lines: string[]) => {
      for (const l of lines.join('\n').split('\n')) this.out.write(`  ${l}`);
    };
    for (let round = 0; ; round++) {
      if (round > 10000) throw new Error('stabilize did not converge');
      let done = true;
      for (const n of nodes) {
        if (!n.rawNode.hasReady()) continue;
        done = false;
        this.out.write(`> ${n.id} handling Ready`);
        indent(this.out.capture(() => this.processReady(n)));
      }
      for (const n of nodes) {
        if (!this.messages.some((m) => m.to === n.id)) continue;
        done = false;
        this.out.write(`> ${n.id} receiving messages`);
        indent(this.out.capture(() => this.deliverMsgs(n.id, false)));
      }
      if (done) return;
    }
  }

  /** compact ID I: discards the node's stored log before index I (I must be applied). */
  private compact(node: EnvNode, newFirstIndex: number): void {
    const applied = node.history[node.history.length - 1]!.metadata.index;
    if (newFirstIndex - 1 > applied) throw new Error(`cannot compact to ${newFirstIndex}: applied is ${applied}`);
    node.storage.compact(newFirstIndex - 1);
    this.raftLog(node);
  }

  /**
   * restart ID: the node crashes and restarts from its storage: everything not persisted is
   * lost, and messages in flight to it too. The applied state survives (a durable state
   * machine); raft restarts from the storage's snapshot and hands out the committed entries
   * after it again, of which only conf changes are applied (to raft) a second time.
   */
  private restart(node: EnvNode): void {
    this.messages = this.messages.filter((m) => m.to !== node.id);
    node.rawNode = new RawNode({ ...node.config, applied: node.storage.storedSnapshotIndex() });
  }

  private raftLog(node: EnvNode): void {
    const s = node.storage;
    const fi = s.firstIndex();
    const li = s.lastIndex();
    if (li < fi) {
      this.out.write(`log is empty: first index=${fi}, last index=${li}`);
      return;
    }
    this.out.write(describeEntries(s.entries(fi, li + 1, Infinity)).replace(/\n$/, ''));
  }

  private raftState(): void {
    for (const n of this.nodes) {
      const st = n.rawNode.status();
      const role = st.config.voters.includes(n.id) || st.config.votersOutgoing.includes(n.id) ? 'Voter' : st.config.learners.includes(n.id) ? 'Learner' : 'NonMember';
      this.out.write(
        `${n.id}: ${st.softState.raftState} (${role}) Term:${st.hardState.term} Lead:${st.softState.lead} Commit:${st.hardState.commit} Applied:${st.applied}`,
      );
    }
  }

  private status(node: EnvNode): void {
    const rn = node.rawNode;
    if (rn.state !== 'StateLeader') {
      this.out.write(`${node.id} is ${rn.state}; config ${rn.describeConfig()}`);
      return;
    }
    this.out.write(rn.describeProgress().replace(/\n$/, ''));
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** "(1 2 3)" -> [1n, 2n, 3n] */
function group(arg: CmdArg): bigint[] {
  return arg.key
    .replace(/[()]/g, '')
    .split(/[\s,]+/)
    .filter((v) => v !== '')
    .map((v) => BigInt(v));
}

function str(arg: CmdArg | undefined): string {
  if (arg === undefined) throw new Error('missing argument');
  return arg.vals.length === 0 ? arg.key : arg.vals[0]!;
}

function int(arg: CmdArg | undefined): number {
  const n = Number(str(arg));
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${str(arg)}`);
  return n;
}

function num(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (v === 'inf') return Infinity;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
}
