/**
 * Faults for the robustness scenarios, one function each, built on the real-process cluster
 * harness (test/cluster). Each injects its fault while traffic runs and undoes it before it
 * returns (restart, SIGCONT, heal), so the scenario only has to check the healed cluster.
 * Each returns a one-line description for the report.
 */
import { Rng } from '../../src/pkg';
import { Cluster, sleep } from '../cluster/cluster';
import { endpointClient, type Recorder } from './client';
import { fill } from './traffic';

/** What a fault gets to work with. */
export interface FaultContext {
  readonly cluster: Cluster;
  readonly rng: Rng;
  readonly recorder: Recorder;
  /** Members removed from the cluster by the fault (the scenario does not restart them). */
  readonly removed: Set<number>;
  /** Log a line into the run's report. */
  readonly log: (line: string) => void;
  /** For failpoint faults: `name=action` as FLOE_FAILPOINTS takes it. */
  readonly failpoint?: string;
  /**
   * A revision the fault may compact to without taking a live watcher's place or prevKv away
   * (see Compactor.claim); null while the history has not moved past the last compaction.
   */
  readonly compactRevision?: () => number | null;
}

/** Entries a leader keeps in its log after a snapshot (etcd's and Floe's default): a member
 * further behind can only catch up from a snapshot. */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5_000;
/** How long a member stays down, stopped or cut off. */
const OUTAGE_MS = 2_500;
/** Bound on a member dying at its failpoint once armed. */
const FAILPOINT_FIRE_MS = 30_000;
/** Client id base of the fill writers. */
const FILL_CLIENT_ID = 5_000;

function randomMember(ctx: FaultContext): number {
  return ctx.rng.pick(ctx.cluster.running());
}

function pid(c: Cluster, i: number): number {
  const p = c.slot(i).child?.pid;
  if (p === undefined) throw new Error(`${c.slot(i).name} has no process`);
  return p;
}

/** SIGKILL of a random member; restarted after an outage. */
export async function killMember(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = randomMember(ctx);
  await c.kill9(i);
  await sleep(OUTAGE_MS);
  await c.restart(i);
  return `kill -9 ${c.slot(i).name}, restarted after ${OUTAGE_MS} ms`;
}

/** SIGKILL of the leader; restarted after an outage. */
export async function killLeader(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = await c.leader({ timeoutMs: 10_000 });
  await c.kill9(i);
  await sleep(OUTAGE_MS);
  await c.restart(i);
  return `kill -9 leader ${c.slot(i).name}, restarted after ${OUTAGE_MS} ms`;
}

/** SIGSTOP of a random member's process group for longer than an election; then SIGCONT. */
export async function sigstop(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = randomMember(ctx);
  const p = pid(c, i);
  process.kill(-p, 'SIGSTOP');
  try {
    await sleep(OUTAGE_MS);
  } finally {
    process.kill(-p, 'SIGCONT');
  }
  return `SIGSTOP ${c.slot(i).name} for ${OUTAGE_MS} ms, then SIGCONT`;
}

/** Peer traffic of a random member blackholed both ways (partition), then healed. */
export async function blackhole(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = randomMember(ctx);
  c.partition(i);
  await sleep(OUTAGE_MS);
  c.heal();
  return `blackhole ${c.slot(i).name}'s peer traffic for ${OUTAGE_MS} ms`;
}

/** Peer traffic into a random member delayed per chunk, then healed. */
export async function delay(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = randomMember(ctx);
  const delayMs = 100 + ctx.rng.int(400);
  c.delay(i, delayMs);
  await sleep(2 * OUTAGE_MS);
  c.heal();
  return `delay peer traffic into ${c.slot(i).name} by ${delayMs} ms for ${2 * OUTAGE_MS} ms`;
}

/** Peer connections into a random member dropped on and off (flapping), then healed. */
export async function drop(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const i = randomMember(ctx);
  const proxy = c.slot(i).proxy;
  if (proxy === undefined) throw new Error('drop needs a cluster started with proxies');
  let flips = 0;
  for (const endMs = Date.now() + 2 * OUTAGE_MS; Date.now() < endMs; flips++) {
    proxy.setMode(flips % 2 === 0 ? { kind: 'drop' } : { kind: 'pass' });
    await sleep(150 + ctx.rng.int(450));
  }
  c.heal();
  return `drop connections into ${c.slot(i).name} on and off (${flips} flips) for ${2 * OUTAGE_MS} ms`;
}

/**
 * A follower blackholed while more entries than the leader keeps after a snapshot are
 * written (recorded fill puts), so it can only catch up from a snapshot; then healed.
 */
export async function blackholeUntilSnapshot(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const leader = await c.leader({ timeoutMs: 10_000 });
  const i = ctx.rng.pick(c.running().filter((j) => j !== leader));
  const majority = c.running().filter((j) => j !== i);
  c.partition(i);
  const count = SNAPSHOT_CATCH_UP_ENTRIES + 2 * (c.options.snapshotCount ?? 10_000);
  const startMs = Date.now();
  const acked = await fill(ctx.recorder, majority.map((j) => c.endpoint(j)), { count, concurrency: 16, firstClientId: FILL_CLIENT_ID, callTimeoutMs: 3_000, stopped: () => Date.now() - startMs > 120_000 });
  c.heal();
  await c.waitCaughtUp(i, 60_000);
  return `blackhole ${c.slot(i).name} while ${acked} of ${count} fill puts were acknowledged (${Date.now() - startMs} ms), healed, caught up`;
}

/**
 * Replaces a random follower: kill -9, `member remove`, then `member add` of a new member
 * with an empty data dir, started with --initial-cluster-state=existing.
 */
export async function replaceMember(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const leader = await c.leader({ timeoutMs: 10_000 });
  const i = ctx.rng.pick(c.running().filter((j) => j !== leader));
  const id = await c.memberId(i);
  await c.kill9(i);
  ctx.removed.add(i);
  const rest = c.running();
  // etcd refuses a reconfiguration until the members left have been connected for 5 s.
  for (const startMs = Date.now(); ; await sleep(500)) {
    const r = await c.ctl(['member', 'remove', id.toString(16)], { endpoints: c.endpoints(rest) });
    if (r.exitCode === 0) break;
    if (Date.now() - startMs > 30_000) throw new Error(`member remove failed: ${r.stderr}`);
  }
  let added: { index: number } | undefined;
  for (const startMs = Date.now(); added === undefined; await sleep(500)) {
    const a = await c.addMember();
    if (a.output.exitCode === 0) added = a;
    else {
      ctx.removed.add(a.index); // the slot exists but the member does not
      if (Date.now() - startMs > 30_000) throw new Error(`member add failed: ${a.output.stderr}`);
    }
  }
  await c.startJoining(added.index);
  await c.waitCaughtUp(added.index, 60_000);
  return `replaced ${c.slot(i).name} (kill -9, member remove) with ${c.slot(added.index).name} (member add, empty data dir)`;
}

/**
 * The revision a compaction fault compacts to: the scenario's safe one when it has a compactor
 * (waiting up to 5 s for traffic to pass the last compaction), else the current revision.
 */
async function compactionTarget(ctx: FaultContext, client: ReturnType<typeof endpointClient>): Promise<number> {
  if (ctx.compactRevision === undefined) return Number((await client.kv.range({ key: Buffer.from('compaction-probe') })).header!.revision);
  for (let waited = 0; ; waited += 100) {
    const rev = ctx.compactRevision();
    if (rev !== null) return rev;
    if (waited >= 5_000) throw new Error('no revision past the last compaction to compact to within 5 s');
    await sleep(100);
  }
}

/**
 * Arms a Floe failpoint (FLOE_FAILPOINTS) on a random member by restarting it with the
 * variable, makes the failpoint's code path run, waits for the member to die there, and
 * restarts it without failpoints. Snapshot failpoints: the member is down while enough is
 * written that it needs a snapshot. Defrag failpoints: a Defragment call to it. Compaction
 * failpoints: a Compact call through it.
 */
export async function failpoint(ctx: FaultContext): Promise<string> {
  const c = ctx.cluster;
  const spec = ctx.failpoint;
  if (spec === undefined) throw new Error('the failpoint fault needs a failpoint');
  const name = spec.split('=')[0]!;
  const panics = /panic/.test(spec);
  const snapshot = name.startsWith('server.') && name.includes('Snapshot');
  let i: number;
  if (snapshot) {
    const leader = await c.leader({ timeoutMs: 10_000 });
    i = ctx.rng.pick(c.running().filter((j) => j !== leader));
  } else i = randomMember(ctx);
  await c.kill9(i);
  let note = '';
  if (snapshot) {
    const count = SNAPSHOT_CATCH_UP_ENTRIES + 2 * (c.options.snapshotCount ?? 10_000);
    const startMs = Date.now();
    const acked = await fill(ctx.recorder, c.running().map((j) => c.endpoint(j)), { count, concurrency: 16, firstClientId: FILL_CLIENT_ID, callTimeoutMs: 3_000, stopped: () => Date.now() - startMs > 120_000 });
    note = `, ${acked} fill puts while down`;
  }
  const exited = c.startWithEnv(i, { FLOE_FAILPOINTS: spec });
  if (name.startsWith('backend.defrag.')) {
    await c.waitHealthy([i]);
    const client = endpointClient(c.endpoint(i), 20_000);
    try {
      await client.maintenance.defragment();
    } catch {
      // The member dies inside the call (panic) or the call outlives a sleep.
    } finally {
      client.close();
    }
  }
  if (name.startsWith('mvcc.compaction.')) {
    // A compaction through this member: every member applies it and runs it in the background.
    // It may already die while starting: replaying a compaction from its WAL runs the path too.
    const up = await Promise.race([exited.then(() => false), c.waitHealthy([i]).then(() => true, () => false)]);
    if (up) {
      const client = endpointClient(c.endpoint(i), 20_000);
      try {
        const rev = await compactionTarget(ctx, client);
        await client.kv.compact({ revision: rev });
      } catch {
        // The member dies while answering (panic): the compaction was applied.
      } finally {
        client.close();
      }
    }
  }
  const died = await Promise.race([exited.then(() => true), sleep(panics ? FAILPOINT_FIRE_MS : OUTAGE_MS).then(() => false)]);
  if (panics && !died) throw new Error(`${c.slot(i).name} did not die at failpoint ${spec} within ${FAILPOINT_FIRE_MS} ms`);
  if (!died) await c.kill9(i);
  const how = c.slot(i).child?.exitCode ?? c.slot(i).child?.signalCode;
  await c.restart(i);
  return `failpoint ${spec} on ${c.slot(i).name}${note}: ${died ? `died (${how})` : 'survived, killed'}, restarted without failpoints`;
}

/** Every fault by name. */
export const FAULTS = {
  killMember,
  killLeader,
  sigstop,
  blackhole,
  delay,
  drop,
  blackholeUntilSnapshot,
  replaceMember,
  failpoint,
} as const satisfies Record<string, (ctx: FaultContext) => Promise<string>>;

export type FaultName = keyof typeof FAULTS;

/** Faults that need TCP proxies on the peer ports. */
export const NEEDS_PROXIES: ReadonlySet<FaultName> = new Set<FaultName>(['blackhole', 'delay', 'drop', 'blackholeUntilSnapshot']);
