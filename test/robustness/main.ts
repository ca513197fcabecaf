/**
 * CLI of the robustness suite: runs scenarios for longer campaigns than CI.
 *
 *   npm run robustness -- [--scenario NAME|all|ci] [--duration SECONDS] [--seed S]
 *                         [--target etcd|floe|'<command>'] [--runs N] [--failpoint name=action]
 *
 * FLOE_ROBUST_PROGRESS=1|0 forces watch progress requests on or off (default: on, off for etcd).
 * `--target` defaults to FLOE_CLUSTER_TARGET (unset: this repository's bin/floe). Each run
 * prints its report line; a failing run prints its replay line and where its artifacts are.
 * Exit code 1 when any run failed.
 */
import { commandFromSpec, REPO_FLOE } from '../compat/server';
import { CI_SCENARIOS } from './ci-set';
import { runScenario, SCENARIOS, type ScenarioSpec } from './scenario';

interface Args {
  scenario: string;
  durationSec: number;
  seed: number;
  target: string | undefined;
  runs: number;
  failpoint: string | undefined;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { scenario: 'ci', durationSec: 10, seed: Date.now() % 1_000_000, target: undefined, runs: 1, failpoint: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === '--scenario') a.scenario = value;
    else if (flag === '--duration') a.durationSec = Number(value);
    else if (flag === '--seed') a.seed = Number(value);
    else if (flag === '--target') a.target = value;
    else if (flag === '--runs') a.runs = Number(value);
    else if (flag === '--failpoint') a.failpoint = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!(a.durationSec > 0) || !Number.isInteger(a.seed) || !(a.runs >= 1)) throw new Error('--duration must be > 0, --seed an integer, --runs >= 1');
  return a;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  // --target: etcd, floe (this repository's bin/floe) or a command; absent: FLOE_CLUSTER_TARGET.
  const spec = args.target === undefined ? (process.env.FLOE_CLUSTER_TARGET ?? '') : args.target === 'floe' ? '' : args.target;
  const target = spec === '' ? commandFromSpec(REPO_FLOE) : commandFromSpec(spec);
  const isEtcd = target.label === 'etcd' || /(^|\/)etcd$/.test(target.command);
  let specs: ScenarioSpec[];
  if (args.scenario === 'all') specs = [...SCENARIOS.values()];
  else if (args.scenario === 'ci') specs = CI_SCENARIOS.map((n) => SCENARIOS.get(n)!);
  else {
    const s = SCENARIOS.get(args.scenario);
    if (s === undefined) throw new Error(`unknown scenario ${args.scenario}; known: ${[...SCENARIOS.keys()].join(', ')}`);
    specs = [args.failpoint === undefined ? s : { ...s, failpoint: args.failpoint }];
  }
  if (isEtcd) specs = specs.filter((s) => s.fault !== 'failpoint');
  let failed = 0;
  for (let run = 0; run < args.runs; run++) {
    for (const s of specs) {
      const seed = args.seed + run;
      const progress = process.env.FLOE_ROBUST_PROGRESS === undefined ? {} : { progressRequests: process.env.FLOE_ROBUST_PROGRESS === '1' };
      const report = await runScenario(s, { seed, durationMs: args.durationSec * 1000, target, targetSpec: spec, log: (line) => console.log(line), checkTimeLimitMs: Math.max(60_000, args.durationSec * 2_000), ...progress });
      console.log(JSON.stringify({ scenario: report.scenario, ok: report.ok, seed, ops: report.operations.total, unknown: report.operations.unknown, fault: report.fault, verdicts: report.verdicts, totalMs: report.timesMs.total }));
      if (!report.ok) failed++;
    }
  }
  console.log(`${failed === 0 ? 'all passed' : `${failed} failed`}`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
