/**
 * Runs one case on one side: fresh servers of that side, the case's steps in order, a record
 * of everything printed. The two sides run independently (in parallel); comparing them is the
 * caller's job. Servers and scratch files are always cleaned up, also when a step throws.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Case, Expectation, RunStep } from './cases';
import { runEtcdctl, startCommand, startEtcdctl, type EtcdctlHandle, type EtcdctlResult } from './etcdctl';
import type { ServerIdentity, StepEnd, StepRecord } from './normalize';
import { clientEndpoint, pickFreePorts, startServer, type RunningServer, type ServerCommand } from './server';

/** Name of the first member of every case (equal on both sides, so `member list` compares). */
export const FIRST_MEMBER_NAME = 'compat';

/** One compared step with what identifies it in a report. */
export interface RecordedStep extends StepRecord {
  /** `#3 etcdctl get a -w json` style label. */
  readonly label: string;
  /** The tool that produced the output when it is not etcdctl (a target's own restore). */
  readonly tool: string;
  /** Expectations on etcd's behaviour at this step, if the case states any. */
  readonly expect?: Expectation;
}

/** What one side did. */
export interface SideRun {
  readonly command: ServerCommand;
  readonly workDir: string;
  readonly servers: ServerIdentity[];
  readonly steps: RecordedStep[];
  /** Log tails of the side's servers, for reports. */
  readonly logTails: string[];
}

/** Set FLOE_COMPAT_KEEP=1 to keep scratch dirs (data dirs, logs, snapshots) for inspection. */
const KEEP = process.env.FLOE_COMPAT_KEEP === '1';

function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => vars.get(name) ?? `<unset variable ${name}>`);
}

function endOf(r: EtcdctlResult): StepEnd {
  if (r.stoppedByHarness) return { kind: 'stopped' };
  if (r.timedOut) return { kind: 'timeout' };
  if (r.exitCode !== null) return { kind: 'exit', code: r.exitCode };
  return { kind: 'signal', signal: r.signal ?? 'unknown' };
}

function labelOf(index: number, args: readonly string[]): string {
  const shown = args.map((a) => (a === '' ? "''" : a.length > 60 ? `${a.slice(0, 57)}...` : a));
  return `#${index + 1} etcdctl ${shown.join(' ')}`;
}

/** The ids a server reports, read once after start (used to detect ids etcd would not derive). */
async function identify(server: RunningServer, ctlFlags: readonly string[]): Promise<ServerIdentity> {
  const r = await runEtcdctl([...ctlFlags, 'endpoint', 'status', '-w', 'json'], { endpoint: clientEndpoint(server), timeoutMs: 10_000 });
  const m = r.stdout.toString('utf8').match(/"cluster_id":(\d+),"member_id":(\d+)/);
  return {
    clientPort: server.clientPort,
    peerPort: server.peerPort,
    peerUrl: server.peerUrl,
    ...(m === null ? {} : { reportedClusterId: BigInt(m[1]!), reportedMemberId: BigInt(m[2]!) }),
  };
}

/** Runs `c` on servers of `command`; `sideName` only names the scratch dir. */
export async function runCaseOnSide(c: Case, command: ServerCommand, sideName: string): Promise<SideRun> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `floe-ctlcompat-${c.name}-${sideName}-`));
  const running: RunningServer[] = [];
  const background = new Map<string, { handle: EtcdctlHandle; step: RunStep; index: number }>();
  const run: SideRun = { command, workDir, servers: [], steps: [], logTails: [] };
  const vars = new Map<string, string>([['DIR', workDir]]);
  // TLS flags of the case, for the harness's own etcdctl calls and steps without their own.
  const caseCtlFlags = (c.clientTls?.ctlFlags ?? []).map((f) => substitute(f, vars));

  const start = async (name: string, dataDir: string, ports?: { client: number; peer: number }): Promise<RunningServer> => {
    const server = await startServer(command, {
      name,
      dataDir,
      logFile: path.join(workDir, `${name}.log`),
      extraFlags: (c.serverFlags ?? []).map((f) => substitute(f, vars)),
      ...(c.clientTls === undefined ? {} : { clientScheme: 'https' as const, ctlFlags: caseCtlFlags }),
      ...(ports === undefined ? {} : { ports }),
    });
    running.push(server);
    run.servers.push(await identify(server, caseCtlFlags));
    return server;
  };

  try {
    await c.setup?.(workDir);
    let current = await start(FIRST_MEMBER_NAME, path.join(workDir, `${FIRST_MEMBER_NAME}.data`));
    const began = Date.now();
    const record = (index: number, step: RunStep, r: EtcdctlResult, server: number, tool: string): RecordedStep =>
      recordOf(index, step, r, server, tool, Date.now() - began);
    for (const [i, step] of c.steps.entries()) {
      const serverIndex = running.length - 1;
      switch (step.kind) {
        case 'sleep':
          await new Promise((r) => setTimeout(r, step.ms));
          break;
        case 'join': {
          const bg = background.get(step.name);
          if (bg === undefined) throw new Error(`case ${c.name}: join of unknown background step ${step.name}`);
          background.delete(step.name);
          const r = await bg.handle.result;
          run.steps.push(record(bg.index, bg.step, r, serverIndex, 'etcdctl'));
          break;
        }
        case 'run': {
          const ctlFlags = step.ctlFlags === undefined ? caseCtlFlags : step.ctlFlags.map((f) => substitute(f, vars));
          const args = [...ctlFlags, ...step.args.map((a) => substitute(a, vars))];
          const stdin = typeof step.stdin === 'string' ? substitute(step.stdin, vars) : step.stdin;
          const handle = startEtcdctl(args, {
            endpoint: clientEndpoint(current, step.scheme),
            ...(stdin === undefined ? {} : { stdin }),
            ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
            ...(step.stopWhen === undefined ? {} : { stopWhen: step.stopWhen }),
          });
          if (step.background !== undefined) {
            background.set(step.background, { handle, step, index: i });
            break;
          }
          const r = await handle.result;
          for (const [name, pattern] of Object.entries(step.capture ?? {})) {
            const m = r.stdout.toString('utf8').match(pattern);
            vars.set(name, m?.[1] ?? `<not captured: ${name}>`);
          }
          run.steps.push(record(i, step, r, serverIndex, 'etcdctl'));
          break;
        }
        case 'restore-and-start': {
          const [client, peer] = await pickFreePorts(2);
          const peerUrl = `http://127.0.0.1:${peer!}`;
          const dataDir = path.join(workDir, `${step.name}.data`);
          const snapshot = substitute(step.snapshot, vars);
          const restoreArgs = [
            ...command.restore.args,
            snapshot,
            `--data-dir=${dataDir}`,
            `--name=${step.name}`,
            `--initial-cluster=${step.name}=${peerUrl}`,
            `--initial-advertise-peer-urls=${peerUrl}`,
          ];
          const r = await startCommand(command.restore.command, restoreArgs).result;
          // The restored member is server number running.length (its ports are known now),
          // so the restore's log lines normalize with the ids it will have.
          const tool = [command.restore.command, ...command.restore.args].join(' ');
          const template = ['snapshot', 'restore', step.snapshot, `--name=${step.name}`];
          run.steps.push({
            ...record(i, { kind: 'run', args: template, ...(step.expect ? { expect: step.expect } : {}) }, r, running.length, tool),
            label: `#${i + 1} ${tool} ${step.snapshot} (then start a server on the restored data dir)`,
          });
          if (r.exitCode === 0) {
            current = await start(step.name, dataDir, { client: client!, peer: peer! });
          } else {
            // Nothing to start from: the failed restore is the mismatch to report.
            throw new Error(`${tool} failed (exit ${r.exitCode}): ${r.stderr.slice(-2000)}`);
          }
          break;
        }
      }
    }
    if (background.size > 0) throw new Error(`case ${c.name}: background steps never joined: ${[...background.keys()].join(', ')}`);
    return run;
  } finally {
    for (const { handle } of background.values()) handle.kill();
    for (const s of running) run.logTails.push(`${s.name} (${command.label}):\n${s.logTail()}`);
    await Promise.all(running.map((s) => s.stop()));
    if (!KEEP) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function recordOf(index: number, step: RunStep, r: EtcdctlResult, server: number, tool: string, elapsedMs: number): RecordedStep {
  // A step's own TLS flags are part of what it does (the case's are not repeated in labels).
  const template = [...(step.ctlFlags ?? []), ...step.args];
  return {
    elapsedMs,
    label: labelOf(index, step.scheme === undefined ? template : [`--endpoints=${step.scheme}://…`, ...template]),
    template,
    server,
    end: endOf(r),
    stdout: r.stdout,
    stderr: r.stderr,
    tool,
    ...(step.expect === undefined ? {} : { expect: step.expect }),
  };
}
