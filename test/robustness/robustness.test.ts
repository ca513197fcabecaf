/**
 * The CI set of the robustness suite (issue 6): each scenario of ci-set.ts runs against
 * FLOE_CLUSTER_TARGET (unset: this repository's bin/floe; `etcd`: real etcd 3.4, where the
 * Floe failpoint scenarios are skipped). A scenario passes when the healed cluster takes a
 * final write, expired leases are gone, HashKV is equal on every member, the history is
 * linearizable, serializable reads are consistent snapshots and every watch keeps etcd's
 * guarantees (see scenario.ts). FLOE_SEED fixes the seed; a failure names its replay line.
 * FLOE_ROBUST_PROGRESS=1|0 forces watch progress requests on or off (default: off for etcd).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSeed } from '../../src/pkg';
import { clusterTargetFromEnv, targetIsEtcd } from '../cluster/cluster';
import { CI_DURATION_MS, CI_SCENARIOS } from './ci-set';
import { runScenario, SCENARIOS } from './scenario';

const target = clusterTargetFromEnv();
const etcd = targetIsEtcd(target);

CI_SCENARIOS.forEach((name, n) => {
  const spec = SCENARIOS.get(name);
  assert.ok(spec !== undefined, `unknown CI scenario ${name}`);
  const skip = spec.fault === 'failpoint' && etcd ? 'a Floe failpoint' : false;
  test(`robustness ${name} (${spec.size} member${spec.size > 1 ? 's' : ''}, fault ${spec.fault}${spec.failpoint === undefined ? '' : ` ${spec.failpoint}`}): linearizable, watches valid, healed cluster consistent`, { timeout: 180_000, skip }, async (t) => {
    const seed = baseSeed + n;
    const progress = process.env.FLOE_ROBUST_PROGRESS === undefined ? {} : { progressRequests: process.env.FLOE_ROBUST_PROGRESS === '1' };
    const report = await runScenario(spec, { seed, durationMs: CI_DURATION_MS, target, targetSpec: process.env.FLOE_CLUSTER_TARGET ?? '', log: (line) => t.diagnostic(line), ...progress });
    t.diagnostic(`${report.fault}; ${report.operations.total} ops (${report.operations.ok} ok, ${report.operations.definiteErrors} definite errors, ${report.operations.unknown} unknown), ${report.operations.watchEvents} watch events, ${report.operations.compactions} compactions; ${JSON.stringify(report.timesMs)}`);
    assert.ok(report.ok, `${name} failed (seed ${seed}):\n${report.failures.join('\n')}\nreplay: ${report.replay}\nartifacts: ${report.artifacts}`);
    // A run that made no progress proves nothing.
    assert.ok(report.operations.ok > 100, `only ${report.operations.ok} operations succeeded`);
  });
});
