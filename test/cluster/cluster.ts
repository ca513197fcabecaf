/**
 * A cluster of real member processes on 127.0.0.1 for fault and compatibility tests: real
 * etcd 3.4, or any command taking etcd's flags (this repository's `bin/floe`). Members get
 * free ports, fresh data dirs under one scratch dir (src/pkg scratchDir) and one log file each
 * (appended across restarts); every process is killed when the test process exits.
 *
 * With `proxies`, each member listens on its real peer port and advertises a PeerProxy's port
 * (proxy.ts), so the test can cut or slow the traffic between members.
 *
 * The target comes from FLOE_CLUSTER_TARGET: a command spec (`etcd`, `node /x/bin/floe`);
 * unset, this repository's bin/floe (resolved as test/compat does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratchDir } from '../../src/pkg';
import type { MemberInfo } from '../../src/server';
import { runEtcdctl, type EtcdctlResult } from '../compat/etcdctl';
import { commandFromSpec, pickFreePorts, REPO_FLOE, type ServerCommand } from '../compat/server';
import { PeerProxy } from './proxy';
import { socketOwner } from './socket-owner';

/** etcd's default cluster token; member ids derive from it (see test/compat/normalize.ts). */
export const CLUSTER_TOKEN = 'etcd-cluster';
/** Bound on a member (or the whole cluster) becoming healthy. */
export const STARTUP_TIMEOUT_MS = Number(process.env.FLOE_CLUSTER_STARTUP_MS ?? 30_000);
/** Bound on a clean stop after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** Bound on one etcdctl call made by the harness. */
const CTL_TIMEOUT_MS = 15_000;
const LOG_TAIL_BYTES = 3_000;

/** The target command: FLOE_CLUSTER_TARGET, or this repository's bin/floe. */
export function clusterTargetFromEnv(): ServerCommand {
  const spec = process.env.FLOE_CLUSTER_TARGET;
  return spec === undefined || spec.trim() === '' ? commandFromSpec(REPO_FLOE) : commandFromSpec(spec);
}

/** True when the target is real etcd (the harness checking itself). */
export function targetIsEtcd(command: ServerCommand): boolean {
  return command.label === 'etcd' || path.basename(command.command) === 'etcd';
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Processes still running, killed if the test process exits first (they run detached). */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Gone between the check and the kill.
  }
}

/** JSON.parse that keeps 64-bit ids exact: integers of 16+ digits become strings. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/** A number or exact-integer string from parseJsonExact as a bigint (absent: 0). */
export function big(v: unknown): bigint {
  return v === undefined || v === null ? 0n : BigInt(v as string | number);
}

/** What `endpoint status -w json` says about one member. */
export interface MemberStatus {
  readonly endpoint: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly leader: bigint;
  readonly revision: bigint;
  readonly raftTerm: bigint;
  readonly raftIndex: bigint;
  readonly raftAppliedIndex: bigint;
  readonly isLearner: boolean;
}

/** One entry of `member list -w json`: the server's own member shape. */
export type { MemberInfo };

/** Options of a cluster. */
export interface ClusterOptions {
  readonly command: ServerCommand;
  readonly size: number;
  /** Scratch dir prefix, e.g. `floe-cluster-faults-`. */
  readonly prefix: string;
  /** Put a PeerProxy in front of each member's peer port. */
  readonly proxies?: boolean;
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
  readonly snapshotCount?: number;
  /** Extra peer ports each member also listens on (for `member update`). */
  readonly spareListenPorts?: boolean;
  readonly extraFlags?: readonly string[];
}

/** One member slot: started, stopped, or added but not started yet. */
export interface Slot {
  readonly index: number;
  readonly name: string;
  readonly clientPort: number;
  /** The port the member listens on for peers. */
  readonly peerPort: number;
  /** A second peer port it also listens on, when spareListenPorts. */
  readonly sparePeerPort: number | undefined;
  /** The port other members dial (the proxy's, with proxies). */
  readonly advertisedPeerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly proxy: PeerProxy | undefined;
  initialCluster: string;
  initialState: 'new' | 'existing';
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
}

/** A running cluster; index members by their slot number (0-based, start order). */
export class Cluster {
  readonly slots: Slot[] = [];
  readonly dir: string;

  private constructor(readonly options: ClusterOptions) {
    this.dir = scratchDir(options.prefix);
  }

  /** Starts `size` members as one new cluster and waits until all are healthy. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      for (let i = 0; i < options.size; i++) await cluster.newSlot(`m${i + 1}`, 'new');
      const initial = cluster.slots.map((s) => `${s.name}=${cluster.peerUrl(s.index)}`).join(',');
      for (const s of cluster.slots) s.initialCluster = initial;
      for (const s of cluster.slots) cluster.spawnMember(s.index);
      await cluster.waitHealthy(cluster.slots.map((s) => s.index));
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  private async newSlot(name: string, state: 'new' | 'existing'): Promise<Slot> {
    const proxies = this.options.proxies === true;
    const spare = this.options.spareListenPorts === true;
    const ports = await pickFreePorts(2 + (proxies ? 1 : 0) + (spare ? 1 : 0));
    const [clientPort, peerPort] = [ports[0]!, ports[1]!];
    const proxyPort = proxies ? ports[2]! : undefined;
    const sparePeerPort = spare ? ports[ports.length - 1]! : undefined;
    const index = this.slots.length;
    let proxy: PeerProxy | undefined;
    if (proxyPort !== undefined) {
      proxy = new PeerProxy(proxyPort, peerPort, (client, server) => socketOwner(client, server, this.memberPids()));
      await proxy.start();
    }
    const slot: Slot = {
      index,
      name,
      clientPort,
      peerPort,
      sparePeerPort,
      advertisedPeerPort: proxyPort ?? peerPort,
      dataDir: path.join(this.dir, `${name}.etcd`),
      logFile: path.join(this.dir, `${name}.log`),
      proxy,
      initialCluster: '',
      initialState: state,
      child: undefined,
      exited: undefined,
    };
    this.slots.push(slot);
    return slot;
  }

  /** Member name → pid of every running member (for the proxies' origin lookup). */
  private memberPids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const s of this.slots) if (this.isRunning(s.index) && s.child?.pid !== undefined) pids.set(s.name, s.child.pid);
    return pids;
  }

  slot(i: number): Slot {
    const s = this.slots[i];
    if (s === undefined) throw new Error(`no member #${i}`);
    return s;
  }

  /** `127.0.0.1:<client port>` of member i. */
  endpoint(i: number): string {
    return `127.0.0.1:${this.slot(i).clientPort}`;
  }

  /** Comma-separated endpoints of the given members (default: every running one). */
  endpoints(indices: readonly number[] = this.running()): string {
    return indices.map((i) => this.endpoint(i)).join(',');
  }

  /** The advertised peer URL of member i. */
  peerUrl(i: number): string {
    return `http://127.0.0.1:${this.slot(i).advertisedPeerPort}`;
  }

  isRunning(i: number): boolean {
    const c = this.slot(i).child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  running(): number[] {
    return this.slots.filter((s) => this.isRunning(s.index)).map((s) => s.index);
  }

  /** The flags member i starts with. */
  flags(i: number): string[] {
    const s = this.slot(i);
    const o = this.options;
    const client = `http://127.0.0.1:${s.clientPort}`;
    const listenPeer = [s.peerPort, ...(s.sparePeerPort === undefined ? [] : [s.sparePeerPort])].map((p) => `http://127.0.0.1:${p}`);
    return [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${listenPeer.join(',')}`,
      `--initial-advertise-peer-urls=${this.peerUrl(i)}`,
      `--initial-cluster=${s.initialCluster}`,
      `--initial-cluster-state=${s.initialState}`,
      `--initial-cluster-token=${CLUSTER_TOKEN}`,
      `--heartbeat-interval=${o.heartbeatMs ?? 100}`,
      `--election-timeout=${o.electionTimeoutMs ?? 1000}`,
      ...(o.snapshotCount === undefined ? [] : [`--snapshot-count=${o.snapshotCount}`]),
      ...(o.extraFlags ?? []),
    ];
  }

  private spawnMember(i: number, extraEnv: Readonly<Record<string, string>> = {}): void {
    const s = this.slot(i);
    if (this.isRunning(i)) throw new Error(`${s.name} is already running`);
    const log = fs.openSync(s.logFile, 'a');
    fs.writeSync(log, `\n=== harness: starting ${s.name} at ${new Date().toISOString()} ===\n`);
    // Inherited ETCD_* variables would change the configuration behind the flags' back.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
    Object.assign(env, extraEnv);
    const cmd = this.options.command;
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, [...cmd.args, ...this.flags(i)], { env, stdio: ['ignore', log, log], detached: true });
    } finally {
      fs.closeSync(log);
    }
    child.on('error', () => undefined);
    live.add(child);
    s.child = child;
    s.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
      child.once('error', () => {
        live.delete(child);
        resolve();
      });
    });
  }

  /** Runs etcdctl against the given endpoints (default: every running member). */
  ctl(args: readonly string[], options: { endpoints?: string; timeoutMs?: number; stdin?: string } = {}): Promise<EtcdctlResult> {
    const endpoint = options.endpoints ?? this.endpoints();
    return runEtcdctl(args, { endpoint, timeoutMs: options.timeoutMs ?? CTL_TIMEOUT_MS, ...(options.stdin === undefined ? {} : { stdin: options.stdin }) });
  }

  /** Runs etcdctl and throws with its output and the members' log tails unless it exits 0. */
  async ctlOk(args: readonly string[], options: { endpoints?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.ctl(args, options);
    if (r.exitCode !== 0) {
      throw new Error(`etcdctl ${args.join(' ')} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim()}\n${this.logTails()}`);
    }
    return r.stdout.toString('utf8');
  }

  /** Waits until `etcdctl endpoint health` passes on every given member. */
  async waitHealthy(indices: readonly number[], timeoutMs = STARTUP_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(indices);
    let last = '';
    while (pending.size > 0) {
      for (const i of pending) {
        if (!this.isRunning(i)) throw new Error(`${this.slot(i).name} exited while starting:\n${this.logTail(i)}`);
      }
      const results = await Promise.all(
        [...pending].map(async (i) => [i, await this.ctl(['--dial-timeout=1s', '--command-timeout=2s', 'endpoint', 'health'], { endpoints: this.endpoint(i), timeoutMs: 5_000 })] as const),
      );
      for (const [i, r] of results) {
        if (r.exitCode === 0) pending.delete(i);
        else last = `${this.slot(i).name}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`members ${[...pending].map((i) => this.slot(i).name).join(', ')} not healthy within ${timeoutMs} ms (last: ${last})\n${this.logTails()}`);
      }
      await sleep(100);
    }
  }

  /** `endpoint status -w json` of one member; undefined when it does not answer. */
  async status(i: number, timeoutMs = 5_000): Promise<MemberStatus | undefined> {
    const r = await this.ctl(['--dial-timeout=1s', '--command-timeout=2s', 'endpoint', 'status', '-w', 'json'], { endpoints: this.endpoint(i), timeoutMs });
    if (r.exitCode !== 0) return undefined;
    const list = parseJsonExact(r.stdout.toString('utf8')) as Array<{ Endpoint: string; Status: Record<string, unknown> & { header: Record<string, unknown> } }>;
    const st = list[0]?.Status;
    if (st === undefined) return undefined;
    return {
      endpoint: list[0]!.Endpoint,
      memberId: big(st.header.member_id),
      clusterId: big(st.header.cluster_id),
      leader: big(st.leader),
      revision: big(st.header.revision),
      raftTerm: big(st.raftTerm),
      raftIndex: big(st.raftIndex),
      raftAppliedIndex: big(st.raftAppliedIndex),
      isLearner: st.isLearner === true,
    };
  }

  /** `member list -w json`, asked of the given members. */
  async memberList(endpoints?: string): Promise<MemberInfo[]> {
    const text = await this.ctlOk(['member', 'list', '-w', 'json'], endpoints === undefined ? {} : { endpoints });
    const parsed = parseJsonExact(text) as { members?: Array<Record<string, unknown>> };
    return (parsed.members ?? []).map((m) => ({
      id: big(m.ID),
      name: String(m.name ?? ''),
      peerUrls: (m.peerURLs as string[] | undefined) ?? [],
      clientUrls: (m.clientURLs as string[] | undefined) ?? [],
      isLearner: m.isLearner === true,
    }));
  }

  /** The member id of slot i, from the member list (by advertised peer URL). */
  async memberId(i: number): Promise<bigint> {
    const url = this.peerUrl(i);
    const members = await this.memberList(this.endpoints(this.running().filter((j) => j !== i).concat(this.running().includes(i) ? [i] : [])));
    const m = members.find((x) => x.peerUrls.includes(url));
    if (m === undefined) throw new Error(`no member with peer URL ${url}`);
    return m.id;
  }

  /**
   * The index of the leader that every answering member among `among` agrees on, polled until
   * `timeoutMs`; `exclude` leaders (an old, killed one) do not count.
   */
  async leader(options: { among?: readonly number[]; timeoutMs?: number; exclude?: ReadonlySet<bigint> } = {}): Promise<number> {
    const among = options.among ?? this.running();
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const statuses = (await Promise.all(among.map((i) => this.status(i, 3_000)))).filter((s): s is MemberStatus => s !== undefined);
      const leaders = new Set(statuses.map((s) => s.leader));
      if (statuses.length === among.length && leaders.size === 1) {
        const leaderId = statuses[0]!.leader;
        const at = statuses.findIndex((s) => s.memberId === leaderId);
        if (leaderId !== 0n && at >= 0 && !(options.exclude?.has(leaderId) ?? false)) return among[at]!;
      }
      if (Date.now() > deadline) throw new Error(`no agreed leader among ${among.map((i) => this.slot(i).name).join(', ')} within bound`);
      await sleep(100);
    }
  }

  /** SIGKILL member i's process (group); resolves once it is gone. */
  async kill9(i: number): Promise<void> {
    const s = this.slot(i);
    if (s.child !== undefined) killGroup(s.child, 'SIGKILL');
    await s.exited;
  }

  /** SIGTERM member i, SIGKILL after STOP_GRACE_MS; resolves once it is gone. */
  async stop(i: number): Promise<void> {
    const s = this.slot(i);
    if (s.child === undefined || !this.isRunning(i)) return;
    killGroup(s.child, 'SIGTERM');
    const clean = await Promise.race([s.exited!.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!clean) {
      killGroup(s.child, 'SIGKILL');
      await s.exited;
    }
  }

  /** Starts a stopped member again on its data dir and waits until it is healthy. */
  async restart(i: number): Promise<void> {
    this.spawnMember(i);
    await this.waitHealthy([i]);
  }

  /**
   * Starts a stopped member with extra environment (e.g. FLOE_FAILPOINTS) without waiting for
   * it to be healthy; resolves with a promise that settles when the process exits.
   */
  startWithEnv(i: number, env: Readonly<Record<string, string>>): Promise<void> {
    this.spawnMember(i, env);
    return this.slot(i).exited!;
  }

  /**
   * `etcdctl member add` of a new slot (not started); returns its index. `learner` adds it as a
   * learner. The slot's initial cluster is what etcdctl printed as ETCD_INITIAL_CLUSTER.
   */
  async addMember(options: { learner?: boolean; name?: string } = {}): Promise<{ index: number; output: EtcdctlResult }> {
    const s = await this.newSlot(options.name ?? `m${this.slots.length + 1}`, 'existing');
    const args = ['member', 'add', s.name, `--peer-urls=${this.peerUrl(s.index)}`, ...(options.learner === true ? ['--learner'] : [])];
    const output = await this.ctl(args);
    const m = output.stdout.toString('utf8').match(/ETCD_INITIAL_CLUSTER="([^"]*)"/);
    if (output.exitCode === 0 && m !== null) s.initialCluster = m[1]!;
    return { index: s.index, output };
  }

  /** Starts an added member with --initial-cluster-state=existing and waits until healthy. */
  async startJoining(i: number, options: { waitHealthy?: boolean } = {}): Promise<void> {
    const s = this.slot(i);
    if (s.initialCluster === '') throw new Error(`${s.name} was not added (no initial cluster)`);
    this.spawnMember(i);
    if (options.waitHealthy !== false) await this.waitHealthy([i]);
  }

  /** Cuts member i off from every other member (both directions) until heal(). */
  partition(i: number): void {
    const s = this.slot(i);
    if (s.proxy === undefined) throw new Error('partition needs a cluster started with proxies');
    s.proxy.setMode({ kind: 'drop' });
    for (const o of this.slots) if (o.index !== i) o.proxy?.blockOrigin(s.name);
  }

  /** Delays traffic into member i by `delayMs` per chunk. */
  delay(i: number, delayMs: number): void {
    const p = this.slot(i).proxy;
    if (p === undefined) throw new Error('delay needs a cluster started with proxies');
    p.setMode({ kind: 'delay', delayMs });
  }

  /** Every proxy back to pass. */
  heal(): void {
    for (const s of this.slots) s.proxy?.heal();
  }

  /**
   * Waits until every given member reports the same revision, stable across two polls;
   * returns that revision.
   */
  async waitConverged(indices: readonly number[] = this.running(), timeoutMs = 20_000): Promise<bigint> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let previous = '';
    for (;;) {
      const st = await Promise.all(indices.map((i) => this.status(i, 3_000)));
      if (st.every((s) => s !== undefined)) {
        // Revision only: etcd 3.4 keeps reporting a member's pre-snapshot raftAppliedIndex
        // after it caught up from a snapshot.
        const key = st.map((s) => `${s!.revision}`);
        last = indices.map((i, k) => `${this.slot(i).name}=${key[k]}`).join(' ');
        if (new Set(key).size === 1 && key[0] === previous) return st[0]!.revision;
        previous = new Set(key).size === 1 ? key[0]! : '';
      }
      if (Date.now() > deadline) throw new Error(`members did not converge within ${timeoutMs} ms (revisions: ${last})\n${this.logTails()}`);
      await sleep(200);
    }
  }

  /**
   * Waits until member i has applied at least what the other running members had applied when
   * this was called: it catches up while writes go on (waitConverged needs writes to stop).
   */
  async waitCaughtUp(i: number, timeoutMs = 30_000): Promise<bigint> {
    const others = await Promise.all(this.running().filter((j) => j !== i).map((j) => this.status(j, 3_000)));
    const target = others.reduce((max, s) => (s !== undefined && s.raftAppliedIndex > max ? s.raftAppliedIndex : max), 0n);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.status(i, 3_000);
      if (st !== undefined && st.raftAppliedIndex >= target) return st.raftAppliedIndex;
      if (Date.now() > deadline) throw new Error(`${this.slot(i).name} did not reach applied index ${target} within ${timeoutMs} ms (at ${st?.raftAppliedIndex ?? 'no answer'})\n${this.logTails()}`);
      await sleep(200);
    }
  }

  /**
   * `endpoint hashkv --rev=rev` of every given member: name → hash. HashKV reads every
   * revision, seconds at a million keys, so etcdctl gets 60 s instead of its default 5 s.
   */
  async hashKv(rev: bigint, indices: readonly number[] = this.running()): Promise<Map<string, string>> {
    const hashes = new Map<string, string>();
    for (const i of indices) {
      const text = await this.ctlOk(['endpoint', 'hashkv', `--rev=${rev}`, '--command-timeout=60s', '-w', 'json'], { endpoints: this.endpoint(i), timeoutMs: 70_000 });
      const list = parseJsonExact(text) as Array<{ HashKV: { hash?: unknown; header: { revision?: unknown } } }>;
      hashes.set(this.slot(i).name, String(list[0]?.HashKV.hash ?? 0));
    }
    return hashes;
  }

  logTail(i: number): string {
    const file = this.slot(i).logFile;
    try {
      const buf = fs.readFileSync(file);
      return buf.subarray(Math.max(0, buf.length - LOG_TAIL_BYTES)).toString('utf8');
    } catch {
      return '(no log)';
    }
  }

  /** The full log of member i (all its runs). */
  log(i: number): string {
    try {
      return fs.readFileSync(this.slot(i).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTails(): string {
    return this.slots.map((s) => `--- ${s.name} log tail (${s.logFile}):\n${this.logTail(s.index)}`).join('\n');
  }

  /** Stops every member (SIGTERM, then SIGKILL) and closes the proxies. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.stop(s.index)));
    await Promise.all(this.slots.map((s) => s.proxy?.close()));
  }
}
