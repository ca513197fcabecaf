/**
 * One simulation run from a seed: draw the cluster's knobs and faults, run the workload, then
 * heal everything, restart every member and check liveness (a leader emerges and a new write
 * is applied on every member) and that every acknowledged write is applied everywhere.
 *
 * A failure (a broken invariant, or an assertion inside raft) is rethrown as a SimFailure whose
 * message names the seed, how to replay it and the last events of the run.
 */
import { Rng } from '../pkg';
import { RaftLogger } from '../raft';
import { Cluster, ClusterStats, InjectedBug } from './cluster';
import { RELIABLE } from './network';
import { runWorkload, WorkloadMix } from './workload';

/** How many history records a failure report prints. */
export const REPORT_EVENTS = 40;

/** Virtual ms the end phase may take to reach liveness before the run fails. */
export const LIVENESS_TIMEOUT_MS = 30_000;

export interface SimOptions {
  /** Founding members: 3 or 5. */
  readonly members: number;
  /** Virtual ms of workload and faults. */
  readonly durationMs: number;
  readonly mix?: Partial<WorkloadMix>;
  readonly bug?: InjectedBug;
}

/** What a passing run did. */
export interface SimReport {
  readonly seed: number;
  readonly stats: ClusterStats;
  readonly leaderTerms: number;
  readonly virtualMs: number;
  /** Last applied index and chain hash of every member at the end (a run's fingerprint). */
  readonly fingerprint: string;
}

/** A failed run: carries the seed and the tail of the history in its message. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
  constructor(
    readonly seed: number,
    message: string,
    readonly events: readonly string[],
    options: { cause: unknown },
  ) {
    super(`seed ${seed} (replay: FLOE_SEED=${seed}): ${message}\nlast ${events.length} events:\n  ${events.join('\n  ')}`, options);
  }
}

/** FLOE_SIM_TRACE=1 prints every raft log line with its virtual time (use with FLOE_SEED). */
const TRACE = process.env.FLOE_SIM_TRACE === '1';

function traceLogger(nowMs: () => number): RaftLogger {
  const out = (level: string, msg: string): void => console.error(`t=${nowMs()}ms ${level} ${msg}`);
  return { debug: (f) => out('DEBUG', f()), info: (m) => out('INFO', m), warn: (m) => out('WARN', m), error: (m) => out('ERROR', m) };
}

/** Runs one seed; throws SimFailure on any violation. */
export function simulate(seed: number, opts: SimOptions): SimReport {
  const rng = new Rng(seed);
  const mix: WorkloadMix = { crashes: true, partitions: true, confChanges: true, transfers: true, compaction: true, ...opts.mix };
  // The trace logger needs the clock of a cluster that is still being built.
  const ref: { cluster?: Cluster } = {};
  const c = new Cluster(rng, {
    members: opts.members,
    spares: 4,
    knobs: {
      electionTick: 10,
      heartbeatTick: 1,
      preVote: rng.chance(0.5),
      checkQuorum: rng.chance(0.5),
      maxSizePerMsgBytes: rng.pick([0, 256, Infinity]),
      maxInflightMsgs: rng.pick([1, 4, 256]),
      maxUncommittedEntriesSizeBytes: rng.pick([0, 256]),
      logger: TRACE ? traceLogger(() => ref.cluster?.queue.nowMs ?? 0) : undefined,
    },
    faults: {
      dropRate: rng.pick([0, 0.02, 0.1]),
      duplicateRate: rng.pick([0, 0.02, 0.05]),
      minDelayMs: 1,
      maxDelayMs: rng.pick([2, 10, 40]),
    },
    maxFsyncMs: rng.pick([0, 2, 8]),
    unsyncedSurvivalRate: rng.pick([0, 0.5]),
    bug: opts.bug ?? 'none',
  });
  ref.cluster = c;
  try {
    c.history.add(`seed ${seed}: ${JSON.stringify({ ...c.opts.knobs, maxSizePerMsgBytes: String(c.opts.knobs.maxSizePerMsgBytes) })} ${JSON.stringify(c.opts.faults)}`);
    runWorkload(c, opts.durationMs, mix);
    finish(c);
  } catch (e) {
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new SimFailure(seed, msg, c.history.tail(REPORT_EVENTS), { cause: e });
  }
  const fingerprint = c.nodes.map((n) => `${n.id}:${n.sm.index}:${n.sm.hash}`).join(' ');
  return { seed, stats: c.stats, leaderTerms: c.checker.leaderTerms, virtualMs: c.queue.nowMs, fingerprint };
}

/**
 * The end phase: a perfect network, every started member up; then a leader must commit a new
 * write, every member of its configuration must apply it, and every acknowledged write.
 */
function finish(c: Cluster): void {
  c.net.heal();
  c.net.faults = RELIABLE;
  c.history.add('end: heal, reliable network, restart everyone');
  for (const n of c.nodes) if (n.started && !n.up && !n.retired) c.start(n);
  const deadlineMs = c.queue.nowMs + LIVENESS_TIMEOUT_MS;
  let final = 0;
  let proposedAtMs = -Infinity;
  const done = (): boolean => {
    const l = c.leader();
    if (l === undefined) return false;
    // (Re)propose the final write through the leader until it is acknowledged.
    if (!c.checker.acks.some((a) => a.proposal === final) && c.queue.nowMs - proposedAtMs > 500) {
      proposedAtMs = c.queue.nowMs;
      c.propose(l, 'final');
      final = c.stats.proposals;
      return false;
    }
    const ack = c.checker.acks.find((a) => a.proposal === final);
    if (ack === undefined) return false;
    const members = [...l.confState.voters, ...l.confState.learners];
    // A member the leader has not yet seen removed may already have retired.
    const target = Math.max(ack.index, c.checker.maxAckedIndex);
    return members.every((id) => c.node(id).retired || c.node(id).sm.index >= target);
  };
  if (!c.runUntil(deadlineMs, done)) {
    const states = c.nodes
      .filter((n) => n.started)
      .map((n) => `${n.id}:${n.rn?.state ?? 'down'} term=${n.rn?.status().hardState.term ?? '-'} applied=${n.sm.index} last=${n.disk.storage.lastIndex()} cfg=${n.rn?.describeConfig() ?? '-'}`);
    throw new Error(`liveness: no write committed and applied on every member within ${LIVENESS_TIMEOUT_MS} virtual ms after healing\n  ${states.join('\n  ')}`);
  }
  const l = c.leader()!;
  for (const id of [...l.confState.voters, ...l.confState.learners]) {
    if (!c.node(id).retired) c.checker.ackedAppliedOn(id, c.node(id).sm.index);
  }
  c.checkAllLogs();
}
