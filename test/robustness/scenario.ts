/**
 * One robustness scenario: start a cluster, run recorded traffic, watchers and a compactor for
 * a while, inject one fault in the middle, heal, then check:
 * - a final write succeeds;
 * - expired leases are gone (no short lease listed, no key attached to one) on every member;
 * - every member converges to one revision with equal HashKV;
 * - the history is linearizable (checker), serializable reads match the linearized writes at
 *   their own revision, and every watch keeps etcd's watch guarantees.
 * Every run writes a report JSON; a failing run also keeps its history, the member logs and
 * data dirs, and prints the line that replays it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../src/pkg';
import { Cluster, parseJsonExact, sleep, targetIsEtcd } from '../cluster/cluster';
import type { ServerCommand } from '../compat/server';
import { checkLinearizable, mergeWatchEvents, validateWatches, kvEqual, inRange, type KeyValue, type WriteEvent, type WatchViolation } from './checker';
import { endpointClient, Recorder, type SerializableRead } from './client';
import { FAULTS, NEEDS_PROXIES, type FaultName } from './faults';
import { Compactor, KEYS, KEY_PREFIX, KEY_RANGE_END, SHORT_LEASE_TTL_SEC, Traffic } from './traffic';
import { CompleteWatcher, RandomWatchers } from './watchers';

/** A scenario: cluster size and one fault. */
export interface ScenarioSpec {
  readonly name: string;
  readonly size: number;
  readonly fault: FaultName;
  /** For the failpoint fault: FLOE_FAILPOINTS value. */
  readonly failpoint?: string;
  readonly snapshotCount?: number;
}

/** The Floe failpoints (FLOE_FAILPOINTS names). */
export const FAILPOINTS = [
  'wal.beforeSave',
  'wal.afterSave',
  'backend.commit.beforeDataSync',
  'backend.commit.afterDataSync',
  'backend.commit.beforeMetaSync',
  'backend.commit.afterMetaSync',
  'server.beforeApplySnapshot',
  'server.afterApplySnapshot',
  'backend.defrag.beforeRename',
  'backend.defrag.afterRename',
  'mvcc.compaction.beforeBackend',
] as const;

/** Every known scenario by name. */
export const SCENARIOS: ReadonlyMap<string, ScenarioSpec> = new Map(
  ([
    { name: 'kill-member-1', size: 1, fault: 'killMember' },
    { name: 'sigstop-1', size: 1, fault: 'sigstop' },
    { name: 'kill-member-3', size: 3, fault: 'killMember' },
    { name: 'kill-leader-3', size: 3, fault: 'killLeader' },
    { name: 'sigstop-3', size: 3, fault: 'sigstop' },
    { name: 'blackhole-3', size: 3, fault: 'blackhole' },
    { name: 'delay-3', size: 3, fault: 'delay' },
    { name: 'drop-3', size: 3, fault: 'drop' },
    { name: 'snapshot-3', size: 3, fault: 'blackholeUntilSnapshot', snapshotCount: 100 },
    { name: 'replace-3', size: 3, fault: 'replaceMember' },
    ...FAILPOINTS.flatMap((fp): ScenarioSpec[] => {
      const snapshot = fp.startsWith('server.');
      const three: ScenarioSpec = { name: `failpoint-${fp}-3`, size: 3, fault: 'failpoint', failpoint: `${fp}=panic`, ...(snapshot ? { snapshotCount: 100 } : {}) };
      return snapshot ? [three] : [{ name: `failpoint-${fp}-1`, size: 1, fault: 'failpoint', failpoint: `${fp}=panic` }, three];
    }),
  ] as ScenarioSpec[]).map((s) => [s.name, s]),
);

/** How to run a scenario. */
export interface RunOptions {
  readonly seed: number;
  /** Traffic time; the fault starts a quarter in. */
  readonly durationMs: number;
  readonly target: ServerCommand;
  /** The target's spec as given (for the replay line). */
  readonly targetSpec: string;
  /** Where reports and kept artifacts go. */
  readonly artifactsRoot?: string;
  /** Bound on the linearizability check. */
  readonly checkTimeLimitMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Ask watches for progress notifications (default: yes, except on real etcd, whose 3.4.23
   * answers them wrongly for watchers that are catching up; see watchers.ts).
   */
  readonly progressRequests?: boolean;
}

/** The per-run report (also written as report.json). */
export interface Report {
  scenario: string;
  target: string;
  seed: number;
  durationMs: number;
  ok: boolean;
  failures: string[];
  fault: string;
  /** How many times the fault was injected. */
  faults: number;
  timesMs: Record<string, number>;
  operations: { total: number; ok: number; definiteErrors: number; unknown: number; serializableReads: number; byKind: Record<string, number>; watchSessions: number; watchEvents: number; compactions: number };
  verdicts: { linearizable: string; linearizeSteps: number; watch: string; serializable: string; finalWrite: string; leases: string; hashKv: string };
  errorsSeen: Record<string, number>;
  notes: string[];
  artifacts: string;
  replay: string;
}

const ELECTION_TIMEOUT_MS = 1_000;
const HEARTBEAT_MS = 100;
const CALL_TIMEOUT_MS = 2_000;
const FINAL_CLIENT_ID = 9_998;
/** A fault is injected again only when at least this much traffic time is left. */
const REPEAT_MIN_LEFT_MS = 30_000;
const REPEAT_PAUSE_MS = 3_000;
const FINAL_WRITE_BOUND_MS = 30_000;
/** Time for a short lease to be expired by a (possibly new) leader, beyond its TTL. */
const LEASE_EXPIRY_BOUND_MS = 4 * SHORT_LEASE_TTL_SEC * 1_000 + 15_000;

/** Replay command for a run. */
export function replayLine(spec: ScenarioSpec, options: Pick<RunOptions, 'seed' | 'durationMs' | 'targetSpec'>): string {
  const target = options.targetSpec === '' ? '' : `FLOE_CLUSTER_TARGET='${options.targetSpec}' `;
  return `${target}npm run robustness -- --scenario ${spec.name} --seed ${options.seed} --duration ${Math.round(options.durationMs / 1000)}`;
}

/** Runs one scenario to its report; never throws for a failed check (the report says). */
export async function runScenario(spec: ScenarioSpec, options: RunOptions): Promise<Report> {
  const log = options.log ?? (() => undefined);
  const t0 = Date.now();
  const times: Record<string, number> = {};
  const mark = (what: string): void => {
    times[what] = Date.now() - t0;
  };
  const artifactsRoot = options.artifactsRoot ?? path.join(os.tmpdir(), 'floe-robustness');
  const runDir = path.join(artifactsRoot, `${spec.name}-seed${options.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(runDir, { recursive: true });
  const report: Report = {
    scenario: spec.name,
    target: options.target.label,
    seed: options.seed,
    durationMs: options.durationMs,
    ok: false,
    failures: [],
    fault: '',
    faults: 0,
    timesMs: times,
    operations: { total: 0, ok: 0, definiteErrors: 0, unknown: 0, serializableReads: 0, byKind: {}, watchSessions: 0, watchEvents: 0, compactions: 0 },
    verdicts: { linearizable: 'not run', linearizeSteps: 0, watch: 'not run', serializable: 'not run', finalWrite: 'not run', leases: 'not run', hashKv: 'not run' },
    errorsSeen: {},
    notes: [],
    artifacts: runDir,
    replay: replayLine(spec, options),
  };
  const fail = (what: string): void => {
    report.failures.push(what);
    log(`FAIL ${spec.name}: ${what}`);
  };
  if (spec.fault === 'failpoint' && targetIsEtcd(options.target)) throw new Error(`${spec.name} uses a Floe failpoint; not for etcd`);

  const rng = new Rng(options.seed);
  const recorder = new Recorder();
  const cluster = await Cluster.start({
    command: options.target,
    size: spec.size,
    prefix: `floe-robust-${spec.name}-`,
    proxies: NEEDS_PROXIES.has(spec.fault),
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    heartbeatMs: HEARTBEAT_MS,
    ...(spec.snapshotCount === undefined ? {} : { snapshotCount: spec.snapshotCount }),
  });
  mark('started');
  const endpoints = cluster.running().map((i) => cluster.endpoint(i));
  let complete: CompleteWatcher | undefined;
  let randomWatchers: RandomWatchers | undefined;
  let compactor: Compactor | undefined;
  let traffic: Traffic | undefined;
  const removed = new Set<number>();
  try {
    const progress = options.progressRequests ?? !targetIsEtcd(options.target);
    if (!progress) report.notes.push('no watch progress requests (etcd 3.4.23 answers them wrongly for lagging watchers, etcd-io/etcd#15220)');
    complete = new CompleteWatcher('all', endpoints, { seed: options.seed, progress, progressEveryMs: 500, createTimeoutMs: 3_000 });
    let lastRevision = 1;
    const revisionOf = (): number => {
      for (const op of recorder.operations.slice(-50)) if (op.response?.type === 'ok') lastRevision = Math.max(lastRevision, op.response.revision);
      return lastRevision;
    };
    compactor = new Compactor(endpoints, { everyMs: 2_000, keepBehind: 20, callTimeoutMs: CALL_TIMEOUT_MS, seed: options.seed, safeRevision: () => Math.min(complete!.heardUpTo(), revisionOf(), randomWatchers?.neededRevision() ?? 0) });
    randomWatchers = new RandomWatchers(endpoints, {
      seed: options.seed,
      everyMs: 700,
      lifeMs: 3_000,
      progress,
      progressEveryMs: 400,
      currentRevision: revisionOf,
      compactedRevision: () => compactor!.lastCompacted,
      keys: KEYS,
      prefix: KEY_PREFIX,
      prefixEnd: KEY_RANGE_END,
    });
    traffic = new Traffic({ seed: options.seed, endpoints, pinnedClients: 2 * spec.size, clusterClients: 2, callTimeoutMs: CALL_TIMEOUT_MS, pauseMs: 15 }, recorder);

    // The fault a quarter into the traffic; in long campaigns again after each recovery while
    // more than a quarter of the time (and at least REPEAT_MIN_LEFT_MS) is left. Traffic goes on
    // until the duration is over and the last fault has been undone.
    await sleep(options.durationMs / 4);
    mark('faultStart');
    const descriptions: string[] = [];
    for (;;) {
      try {
        const d = await FAULTS[spec.fault]({ cluster, rng, recorder, removed, log, compactRevision: () => compactor!.claim(1), ...(spec.failpoint === undefined ? {} : { failpoint: spec.failpoint }) });
        descriptions.push(d);
        log(`${spec.name}: ${d}`);
      } catch (e) {
        fail(`fault ${spec.fault} could not be injected: ${(e as Error).message.split('\n')[0]}`);
        break;
      }
      const leftMs = options.durationMs - (Date.now() - t0 - times.started!);
      if (leftMs < Math.max(options.durationMs / 4, REPEAT_MIN_LEFT_MS)) break;
      await sleep(REPEAT_PAUSE_MS);
    }
    report.faults = descriptions.length;
    report.fault = descriptions.length <= 3 ? descriptions.join('; ') : `${descriptions.slice(0, 3).join('; ')}; ... (${descriptions.length} in all)`;
    mark('faultEnd');
    const rest = options.durationMs - (Date.now() - t0 - times.started!);
    if (rest > 0) await sleep(rest);
    const stats = await traffic.stop();
    report.operations.byKind = stats.byKind;
    await randomWatchers.stop();
    mark('trafficEnd');

    // Heal whatever is left broken: proxies, stopped processes, dead members.
    cluster.heal();
    for (const i of cluster.slots.map((s) => s.index)) {
      if (removed.has(i)) continue;
      if (cluster.isRunning(i)) process.kill(-cluster.slot(i).child!.pid!, 'SIGCONT');
      else await cluster.restart(i);
    }
    await cluster.waitHealthy(cluster.running());
    mark('healed');

    // No compaction after this: a compaction changes no revision, so only the final write
    // (after it in every member's log) tells that every member has applied it.
    await compactor.stop();
    // Expired leases are gone everywhere. Before the final write: an expiry is a write only
    // the final write's revision pins into the history.
    report.verdicts.leases = await checkLeases(cluster, traffic.leases.filter((l) => l.ttlSec === SHORT_LEASE_TTL_SEC).map((l) => l.id));
    if (report.verdicts.leases !== 'ok') fail(`leases: ${report.verdicts.leases}`);
    mark('leases');

    // A final write must succeed (any member; each failed attempt recorded as unknown).
    const live = cluster.running().map((i) => cluster.endpoint(i));
    let finalRevision = 0;
    const finalClients = live.map((e) => endpointClient(e, 5_000));
    try {
      for (let attempt = 0, startMs = Date.now(); Date.now() - startMs < FINAL_WRITE_BOUND_MS; attempt++) {
        const r = await recorder.call(FINAL_CLIENT_ID, finalClients[attempt % finalClients.length]!, { type: 'put', key: KEYS[0]!, value: `final-${options.seed}` });
        if (r !== undefined) {
          finalRevision = r.revision;
          break;
        }
        await sleep(200);
      }
    } finally {
      for (const c of finalClients) c.close();
    }
    report.verdicts.finalWrite = finalRevision > 0 ? `ok at revision ${finalRevision}` : 'failed';
    if (finalRevision === 0) fail(`no final write succeeded within ${FINAL_WRITE_BOUND_MS} ms`);
    mark('finalWrite');

    // Same revision and HashKV on every member.
    let rev = 0n;
    try {
      rev = await cluster.waitConverged(cluster.running(), 60_000);
      let hashes = await hashKv(cluster, rev);
      const first = JSON.stringify(hashes);
      // A second look after a pause tells a lasting difference from one seen while a
      // compaction was still being applied somewhere (reported either way).
      for (let attempt = 0; attempt < 3 && new Set(Object.values(hashes).map((h) => h.hash)).size > 1; attempt++) {
        await sleep(1_000);
        hashes = await hashKv(cluster, rev);
      }
      const same = new Set(Object.values(hashes).map((h) => h.hash)).size === 1;
      const text = JSON.stringify(hashes);
      report.verdicts.hashKv = `${same ? 'equal' : 'DIFFERENT'} at revision ${rev}: ${text}${text !== first ? ` (first look: ${first})` : ''}`;
      if (!same || text !== first) fail(`HashKV at revision ${rev}: ${report.verdicts.hashKv}`);
    } catch (e) {
      report.verdicts.hashKv = `failed: ${(e as Error).message.split('\n')[0]}`;
      fail(`convergence/HashKV: ${(e as Error).message.split('\n')[0]}`);
    }
    mark('hashKv');
    const heard = await complete.waitHeard(Number(rev), 20_000);
    await complete.stop();
    report.operations.compactions = compactor.compactions;
    if (!heard) report.notes.push(`the complete watcher heard only up to ${complete.heardUpTo()} of ${rev}`);

    // Checkers.
    const ops = recorder.operations;
    report.operations.total = ops.length;
    report.operations.ok = ops.filter((o) => o.response?.type === 'ok').length;
    report.operations.definiteErrors = ops.filter((o) => o.response?.type === 'error').length;
    report.operations.unknown = ops.filter((o) => o.response === null).length;
    report.operations.serializableReads = recorder.serializableReads.length;
    report.errorsSeen = Object.fromEntries(recorder.errors);
    const completeRecords = complete.records();
    const records = [...completeRecords, ...randomWatchers.records()];
    report.operations.watchSessions = records.length;
    report.operations.watchEvents = records.reduce((n, r) => n + r.responses.reduce((m, x) => m + x.events.length, 0), 0);
    const merged = mergeWatchEvents(completeRecords);
    const useRecord = complete.contiguous && heard && merged.violations.length === 0;
    if (!useRecord) report.notes.push('linearizability checked without the watch record of writes');
    const checkStartMs = Date.now();
    const result = checkLinearizable(ops, { timeLimitMs: options.checkTimeLimitMs ?? 60_000, ...(useRecord ? { writes: merged.writes } : {}) });
    times.checkLinearizableMs = Date.now() - checkStartMs;
    report.verdicts.linearizeSteps = result.steps;
    report.verdicts.linearizable = result.verdict;
    if (result.verdict === 'illegal') fail(`not linearizable: ${result.explanation}`);
    if (result.verdict === 'unknown') fail(`linearizability undecided within ${options.checkTimeLimitMs ?? 60_000} ms`);
    if (result.verdict === 'ok') {
      // Without the complete watch record, the revisions the search gave writes of unknown
      // outcome are one possibility among several (a put stuck in a cut-off member's queue
      // may land at any later revision): the watches are then checked against what they all
      // saw, which must agree, instead of against that guess.
      const guessed = !useRecord && result.linearization.some((i) => ops[i]!.response === null);
      // The merge over every watch finds every disagreement the complete ones' merge found.
      const checkedAgainst = guessed ? mergeWatchEvents(records) : { writes: result.writes, violations: merged.violations };
      if (guessed) report.notes.push('watches checked against each other: writes of unknown outcome were placed by search');
      const violations: WatchViolation[] = [...checkedAgainst.violations, ...validateWatches(records, checkedAgainst.writes)];
      report.verdicts.watch = violations.length === 0 ? `ok (${records.length} watches)` : `${violations.length} violations`;
      for (const v of violations.slice(0, 10)) fail(`watch ${v.watch} ${v.property}: ${v.message}`);
      const stale = checkSerializableReads(recorder.serializableReads, result.writes);
      report.verdicts.serializable = stale.length === 0 ? `ok (${recorder.serializableReads.length} reads)` : `${stale.length} bad reads`;
      for (const s of stale.slice(0, 10)) fail(`serializable read: ${s}`);
    }
    mark('checked');
  } catch (e) {
    fail(`run aborted: ${(e as Error).stack ?? String(e)}`);
  } finally {
    await traffic?.stop().catch(() => undefined);
    await randomWatchers?.stop().catch(() => undefined);
    await compactor?.stop().catch(() => undefined);
    await complete?.stop().catch(() => undefined);
    await cluster.close();
    mark('total');
  }
  report.ok = report.failures.length === 0;
  if (!report.ok) keepArtifacts(runDir, cluster, recorder, [...(complete?.records() ?? []), ...(randomWatchers?.records() ?? [])]);
  fs.writeFileSync(path.join(runDir, 'report.json'), JSON.stringify(report, null, 2));
  log(`${spec.name}: ${report.ok ? 'PASS' : 'FAIL'} in ${times.total} ms; ${report.operations.total} ops (${report.operations.unknown} unknown), ${report.operations.watchEvents} watch events; report ${path.join(runDir, 'report.json')}`);
  if (!report.ok) log(`replay: ${report.replay}\nartifacts (history, logs, data dirs): ${runDir}`);
  return report;
}

/** HashKV at `rev` of every running member: name -> hash and compact revision. */
async function hashKv(cluster: Cluster, rev: bigint): Promise<Record<string, { hash: string; compactRevision: string }>> {
  const out: Record<string, { hash: string; compactRevision: string }> = {};
  for (const i of cluster.running()) {
    const text = await cluster.ctlOk(['endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json'], { endpoints: cluster.endpoint(i) });
    const list = parseJsonExact(text) as Array<{ HashKV: { hash?: unknown; compact_revision?: unknown } }>;
    out[cluster.slot(i).name] = { hash: String(list[0]?.HashKV.hash ?? 0), compactRevision: String(list[0]?.HashKV.compact_revision ?? 0) };
  }
  return out;
}

/** Copies the history, watch records and the cluster's data dirs and logs into `runDir`. */
function keepArtifacts(runDir: string, cluster: Cluster, recorder: Recorder, watches: unknown): void {
  fs.writeFileSync(path.join(runDir, 'history.json'), JSON.stringify({ operations: recorder.operations, serializableReads: recorder.serializableReads }));
  fs.writeFileSync(path.join(runDir, 'watches.json'), JSON.stringify(watches));
  try {
    fs.cpSync(cluster.dir, path.join(runDir, 'cluster'), { recursive: true });
  } catch (e) {
    fs.writeFileSync(path.join(runDir, 'cluster-copy-error.txt'), String(e));
  }
}

/**
 * Polls every member until no short lease is listed and no key carries one, within
 * LEASE_EXPIRY_BOUND_MS. Returns 'ok' or what is left.
 */
async function checkLeases(cluster: Cluster, shortIds: readonly number[]): Promise<string> {
  const short = new Set(shortIds.map(String));
  const clients = cluster.running().map((i) => ({ name: cluster.slot(i).name, client: endpointClient(cluster.endpoint(i), 3_000) }));
  const deadline = Date.now() + LEASE_EXPIRY_BOUND_MS;
  let left = '';
  try {
    for (;;) {
      left = '';
      for (const { name, client } of clients) {
        try {
          const leases = (await client.leaseClient.leaseLeases()).leases.map((l) => String(l.ID)).filter((id) => short.has(id));
          const keys = (await client.kv.range({ key: Buffer.from('\0'), range_end: Buffer.from('\0'), serializable: true })).kvs.filter((kv) => short.has(String(kv.lease)));
          if (leases.length > 0 || keys.length > 0) left += `${name}: ${leases.length} short leases listed (${leases.slice(0, 3).join(',')}), ${keys.length} keys attached; `;
        } catch (e) {
          left += `${name}: ${(e as Error).message}; `;
        }
      }
      if (left === '') return 'ok';
      if (Date.now() > deadline) return `after ${LEASE_EXPIRY_BOUND_MS} ms: ${left}`;
      await sleep(500);
    }
  } finally {
    for (const c of clients) c.client.close();
  }
}

/**
 * A serializable read may be stale but must be a consistent snapshot: what the linearized
 * writes give at the read's own header revision. Returns the mismatches.
 */
export function checkSerializableReads(reads: readonly SerializableRead[], writes: readonly WriteEvent[]): string[] {
  const out: string[] = [];
  const lastRevision = writes.length === 0 ? 1 : writes[writes.length - 1]!.revision;
  for (const r of reads) {
    if (r.revision > lastRevision) {
      out.push(`${r.endpoint} answered at revision ${r.revision}, beyond the last linearized write ${lastRevision}`);
      continue;
    }
    const at = new Map<string, KeyValue | null>();
    for (const w of writes) {
      if (w.revision > r.revision) break;
      if (inRange(w.key, r.request.key, r.request.rangeEnd)) at.set(w.key, w.kv);
    }
    const expected = [...at.values()].filter((kv): kv is KeyValue => kv !== null).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const got = r.result.kvs;
    const same = got.length === expected.length && got.every((kv, i) => kvEqual(kv, expected[i])) && r.result.count === expected.length;
    if (!same) out.push(`client ${r.clientId} at ${r.endpoint}, ${r.request.key}..${r.request.rangeEnd ?? ''} @${r.revision}: got ${got.map((k) => `${k.key}@${k.modRevision}`).join(',')}, expected ${expected.map((k) => `${k.key}@${k.modRevision}`).join(',')}`);
  }
  return out;
}
