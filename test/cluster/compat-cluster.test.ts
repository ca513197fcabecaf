/**
 * etcdctl cluster commands against a 3-member etcd (reference) and a 3-member target: the same
 * steps on both, outputs compared step by step after normalize-cluster.ts. Covers member list
 * (simple, json, table), member add (voter and --learner), member promote (of a learner not
 * started: etcd's error; started and caught up: success), member update, member remove (of an
 * unstarted and of a running member), move-leader (to a voter; to a non-leader endpoint: the
 * etcdctl error), endpoint status/health/hashkv --cluster.
 *
 * FLOE_CLUSTER_TARGET unset: the target is this repository's bin/floe (needs multi-member
 * Floe); `etcd` runs etcd against etcd, which checks that the normalization is complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, clusterTargetFromEnv, sleep } from './cluster';
import { normalizeClusterSide, type ClusterStep, type SideIdentity } from './normalize-cluster';
import { etcdCommand, type ServerCommand } from '../compat/server';

/** etcd refuses membership changes until the members have been connected this long
 * (its strict reconfiguration check uses a 5 s health interval). */
const RECONFIG_SETTLE_MS = 5_500;
/** Bound on a started learner becoming promotable. */
const PROMOTE_BOUND_MS = 20_000;

interface SideRun {
  readonly label: string;
  readonly steps: ClusterStep[];
  readonly identity: SideIdentity;
  /** What etcd itself must do at a step (checked on the reference only). */
  readonly expectations: Array<{ readonly step: number; readonly stdout?: RegExp; readonly stderr?: RegExp; readonly end?: string }>;
  readonly logs: string;
}

async function runSide(command: ServerCommand, name: string): Promise<SideRun> {
  const c = await Cluster.start({ command, size: 3, prefix: `floe-cluster-compat-${name}-`, spareListenPorts: true });
  const steps: ClusterStep[] = [];
  const expectations: SideRun['expectations'] = [];
  const added = new Map<number, bigint>();
  try {
    const step = async (
      args: string[],
      opts: { endpoints?: string; sort?: ClusterStep['sort']; expect?: { stdout?: RegExp; stderr?: RegExp; end?: string } } = {},
    ): Promise<string> => {
      // One endpoint unless a step says otherwise: a response header names the member that
      // answered, and with several endpoints etcdctl's balancer picks one by chance.
      const r = await c.ctl(args, { endpoints: opts.endpoints ?? c.endpoint(0) });
      const w = args.indexOf('-w');
      const format = (w >= 0 ? args[w + 1] : 'simple') as ClusterStep['format'];
      steps.push({
        label: `etcdctl ${args.join(' ')}`,
        end: r.timedOut ? 'timed out' : `exit ${r.exitCode}`,
        stdout: r.stdout.toString('utf8'),
        stderr: r.stderr,
        sort: opts.sort ?? 'none',
        format,
      });
      if (opts.expect !== undefined) expectations.push({ step: steps.length - 1, ...opts.expect });
      return r.stdout.toString('utf8');
    };
    const hex = (i: number): string => (i < 3 ? undefined : added.get(i))?.toString(16) ?? '';
    const idOf = async (i: number): Promise<string> => (await c.memberId(i)).toString(16);

    // Setup, not compared: m1 leads (which member wins the first election is chance), and the
    // members have been connected long enough for etcd to accept membership changes.
    const startedAtMs = Date.now();
    if ((await c.leader()) !== 0) await c.ctlOk(['move-leader', await idOf(0)]);
    await c.leader({ among: [0, 1, 2] }).then((l) => assert.equal(l, 0, 'setup: m1 does not lead after move-leader'));
    await sleep(Math.max(0, RECONFIG_SETTLE_MS - (Date.now() - startedAtMs)));
    await c.waitConverged();

    await step(['member', 'list'], { sort: 'lines' });
    await step(['member', 'list', '-w', 'json'], { sort: 'json' });
    await step(['member', 'list', '-w', 'table'], { sort: 'lines' });
    await step(['endpoint', 'status', '--cluster', '-w', 'json'], { sort: 'json' });
    await step(['endpoint', 'status', '--cluster', '-w', 'table'], { sort: 'lines' });
    await step(['endpoint', 'health', '--cluster'], { sort: 'lines' });
    await step(['put', 'k', 'v1']);
    await c.waitConverged();
    await step(['endpoint', 'hashkv', '--cluster'], { sort: 'lines' });

    // A voter added, never started, removed again.
    const voter = await c.addMember();
    const vOut = voter.output.stdout.toString('utf8');
    steps.push({ label: 'etcdctl member add m4 --peer-urls=<m4>', end: `exit ${voter.output.exitCode}`, stdout: vOut, stderr: voter.output.stderr, sort: 'none', format: 'simple' });
    expectations.push({ step: steps.length - 1, stdout: /^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n\nETCD_NAME="m4"\n/ });
    const vId = vOut.match(/Member +([0-9a-f]+) added/)?.[1];
    if (vId !== undefined) added.set(voter.index, BigInt(`0x${vId}`));
    await step(['member', 'list', '-w', 'json'], { sort: 'json' });
    await step(['member', 'remove', hex(voter.index)], { expect: { stdout: /^Member +[0-9a-f]+ removed from cluster +[0-9a-f]+\n$/ } });

    // A learner: promote before it runs fails; started and caught up, promote succeeds.
    const learner = await c.addMember({ learner: true });
    const lOut = learner.output.stdout.toString('utf8');
    if (learner.output.exitCode !== 0) throw new Error(`${command.label}: member add --learner failed: ${learner.output.stderr}`);
    steps.push({ label: 'etcdctl member add m5 --peer-urls=<m5> --learner', end: `exit ${learner.output.exitCode}`, stdout: lOut, stderr: learner.output.stderr, sort: 'none', format: 'simple' });
    const lId = lOut.match(/Member +([0-9a-f]+) added/)?.[1];
    if (lId !== undefined) added.set(learner.index, BigInt(`0x${lId}`));
    await step(['member', 'list'], { sort: 'lines' });
    await step(['member', 'promote', hex(learner.index)], { expect: { end: 'exit 1', stderr: /can only promote a learner member which is in sync with leader/ } });
    // A learner serves no linearizable reads, so `endpoint health` cannot tell it is up:
    // it is up once it has applied what the voters have.
    await c.startJoining(learner.index, { waitHealthy: false });
    await c.waitConverged(c.running(), 30_000);
    await step(['endpoint', 'status', '-w', 'json'], { endpoints: c.endpoint(learner.index) });
    for (const deadline = Date.now() + PROMOTE_BOUND_MS; ; await sleep(300)) {
      const r = await c.ctl(['member', 'promote', hex(learner.index)]);
      if (r.exitCode === 0 || Date.now() > deadline) break;
    }
    await step(['member', 'list', '-w', 'table'], { sort: 'lines' });

    // Update: the learner-turned-voter also listens on its spare port; it moves there.
    await step(['member', 'update', hex(learner.index), `--peer-urls=http://127.0.0.1:${c.slot(learner.index).sparePeerPort}`]);
    await step(['member', 'list', '-w', 'json'], { sort: 'json' });

    // Leadership: m1 (leading since the setup) hands it to m2; then an attempt through an
    // endpoint that is not the leader.
    await step(['move-leader', await idOf(1)], { expect: { stdout: /^Leadership transferred from [0-9a-f]+ to [0-9a-f]+\n$/ } });
    await step(['move-leader', await idOf(2)], { endpoints: c.endpoint(2), expect: { end: 'exit 128', stderr: /no leader endpoint given/ } });

    // Removal of the running learner-turned-voter; the others go on.
    await step(['member', 'remove', hex(learner.index)], {});
    for (const deadline = Date.now() + 15_000; c.isRunning(learner.index) && Date.now() < deadline; ) await sleep(100);
    await c.waitConverged([0, 1, 2]);
    await step(['put', 'k', 'v2']);
    await c.waitConverged([0, 1, 2]);
    await step(['member', 'list', '-w', 'table'], { sort: 'lines' });
    await step(['endpoint', 'status', '--cluster'], { sort: 'lines' });
    await step(['endpoint', 'health', '--cluster', '-w', 'json'], { sort: 'json' });
    await step(['endpoint', 'hashkv', '--cluster', '-w', 'json'], { sort: 'json' });
    await step(['get', 'k', '-w', 'json']);
  } finally {
    await c.close();
  }
  const identity: SideIdentity = {
    initialSize: 3,
    slots: c.slots.map((s, i) => ({
      clientPort: s.clientPort,
      peerPort: s.peerPort,
      sparePeerPort: s.sparePeerPort,
      peerUrl: c.peerUrl(i),
      ...(added.has(i) ? { addedId: added.get(i)! } : {}),
    })),
  };
  return { label: command.label, steps, identity, expectations, logs: c.logTails() };
}

const indent = (t: string): string => t.split('\n').map((l) => `    ${l}`).join('\n');

test('etcdctl cluster commands print the same on a 3-member target as on a 3-member etcd', { timeout: 180_000 }, async (t) => {
  const target = clusterTargetFromEnv();
  const [ref, tgt] = await Promise.all([runSide(etcdCommand(), 'etcd'), runSide(target, 'target')]);
  const r = normalizeClusterSide(ref.identity, ref.steps);
  const g = normalizeClusterSide(tgt.identity, tgt.steps);
  const problems: string[] = [];
  for (const e of ref.expectations) {
    const n = r[e.step]!;
    if ((e.end !== undefined && n.end !== e.end) || (e.stdout !== undefined && !e.stdout.test(ref.steps[e.step]!.stdout)) || (e.stderr !== undefined && !e.stderr.test(n.stderr))) {
      problems.push(`EXPECTATION: etcd at ${ref.steps[e.step]!.label}: ${n.end}\n${indent(n.stdout)}\n${indent(n.stderr)}`);
    }
  }
  assert.equal(r.length, g.length, 'the sides ran different numbers of steps');
  for (let i = 0; i < r.length; i++) {
    for (const part of ['end', 'stdout', 'stderr'] as const) {
      if (r[i]![part] === g[i]![part]) continue;
      problems.push(`#${i + 1} ${ref.steps[i]!.label}: ${part} differs\n  reference (${ref.label}):\n${indent(r[i]![part])}\n  target (${tgt.label}):\n${indent(g[i]![part])}`);
    }
  }
  t.diagnostic(`${r.length} steps per side`);
  if (process.env.FLOE_CLUSTER_DUMP === '1') t.diagnostic(r.map((n, i) => `${ref.steps[i]!.label} [${n.end}]\n${indent(n.stdout)}\n${indent(n.stderr)}`).join('\n'));
  assert.equal(problems.length, 0, `${problems.join('\n\n')}\n\n--- target logs:\n${tgt.logs}`);
});
