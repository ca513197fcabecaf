/**
 * `floe cluster [--size 3] [--base-port 23790] [--data-dir DIR]`: a local N-member cluster on
 * 127.0.0.1 for development, each member a child process of bin/floe with etcd's flags.
 * Member i (1-based) is `m<i>` with client port base + 2(i-1) and peer port base + 2(i-1) + 1,
 * data dir `<DIR>/m<i>` and log `<DIR>/m<i>.log`. A data dir that already holds members is
 * started again as it is (a member with a WAL ignores the initial-cluster flags).
 *
 * Order: start every member, wait until each logs "ready to serve client requests", print the
 * endpoints and an etcdctl example; on SIGINT/SIGTERM send SIGTERM to every member, wait up to
 * STOP_GRACE_MS, then SIGKILL the ones left. A member that fails to start stops the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FloeError } from '../pkg';
import { intFlag, parseArgs } from './args';

/** Most members a local cluster may have (etcd advises at most 7 voters). */
export const MAX_CLUSTER_SIZE = 7;
/** Bound on every member becoming ready. */
export const READY_TIMEOUT_MS = 60_000;
/** Bound on a clean stop after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 10_000;
/** The token members derive their ids from. */
export const CLUSTER_TOKEN = 'floe-local-cluster';
/** What a member logs once it serves clients (serve.ts; etcd logs the same). */
const READY_LINE = 'ready to serve client requests';
const POLL_MS = 100;

export const clusterUsage = `usage: floe cluster [--size N] [--base-port PORT] [--data-dir DIR]
  --size N          members, 1..${MAX_CLUSTER_SIZE} (default 3)
  --base-port PORT  member i listens on PORT+2(i-1) (client) and PORT+2(i-1)+1 (peer) (default 23790)
  --data-dir DIR    where the members' data dirs and logs go (default ./floe-cluster.data)`;

/** The process around the command, injected so a test can drive it. */
export interface ClusterIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Calls `handler` on SIGINT/SIGTERM; returns the function that stops listening. */
  readonly onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
  /** The member command and its leading arguments; default `node <this repo>/bin/floe`. */
  readonly memberCommand?: readonly string[];
  /** Called once every member is ready, with the client endpoints. */
  readonly onReady?: (endpoints: readonly string[]) => void;
}

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

interface ClusterSettings {
  readonly size: number;
  readonly basePort: number;
  readonly dataDir: string;
}

/** Parses the flags; throws FloeError ERR_BAD_FLAG on bad input. */
export function parseClusterArgs(argv: readonly string[]): ClusterSettings {
  const p = parseArgs(argv, { size: 'string', 'base-port': 'string', 'data-dir': 'string' });
  if (p.positional.length > 0) throw new FloeError('ERR_BAD_FLAG', `unexpected argument "${p.positional[0]}"`);
  const size = intFlag(p, 'size', 3, 1, MAX_CLUSTER_SIZE);
  // Every port the cluster takes must be a valid, unprivileged port.
  const basePort = intFlag(p, 'base-port', 23790, 1024, 65535 - (2 * size - 1));
  const dataDir = p.flags.get('data-dir') ?? 'floe-cluster.data';
  if (dataDir === '') throw new FloeError('ERR_BAD_FLAG', 'invalid value "" for --data-dir');
  return { size, basePort, dataDir: path.resolve(dataDir) };
}

function isRunning(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function memberFlags(m: Member, initialCluster: string): string[] {
  const client = `http://127.0.0.1:${m.clientPort}`;
  const peer = `http://127.0.0.1:${m.peerPort}`;
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${CLUSTER_TOKEN}`,
  ];
}

/** SIGTERM to every running member, SIGKILL to those left after STOP_GRACE_MS. */
async function stopAll(members: readonly Member[], graceMs: number): Promise<void> {
  for (const m of members) if (isRunning(m.child)) m.child!.kill('SIGTERM');
  const all = Promise.all(members.map((m) => m.exited));
  const clean = await Promise.race([all.then(() => true), sleep(graceMs).then(() => false)]);
  if (!clean) {
    for (const m of members) if (isRunning(m.child)) m.child!.kill('SIGKILL');
    await all;
  }
}

/**
 * Runs `floe cluster`: resolves with the exit code once the cluster was stopped by a signal
 * (0) or failed to start (1); bad flags give 2.
 */
export async function runCluster(argv: readonly string[], io: ClusterIo): Promise<number> {
  let settings: ClusterSettings;
  try {
    settings = parseClusterArgs(argv);
  } catch (e) {
    if (e instanceof FloeError) {
      io.stderr(`floe cluster: ${e.message}\n${clusterUsage}\n`);
      return 2;
    }
    throw e;
  }
  const [command, ...leading] = io.memberCommand ?? [process.execPath, path.resolve(__dirname, '..', '..', '..', 'bin', 'floe')];
  fs.mkdirSync(settings.dataDir, { recursive: true });
  const members: Member[] = Array.from({ length: settings.size }, (_, i) => ({
    name: `m${i + 1}`,
    clientPort: settings.basePort + 2 * i,
    peerPort: settings.basePort + 2 * i + 1,
    dataDir: path.join(settings.dataDir, `m${i + 1}`),
    logFile: path.join(settings.dataDir, `m${i + 1}.log`),
    child: undefined,
    exited: Promise.resolve(),
  }));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');

  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => undefined;
  const unsubscribe = io.onSignal((signal) => {
    signalled = signal;
    wake();
  });
  try {
    for (const m of members) {
      const log = fs.openSync(m.logFile, 'a');
      try {
        m.child = spawn(command!, [...leading, ...memberFlags(m, initialCluster)], { stdio: ['ignore', log, log] });
      } finally {
        fs.closeSync(log);
      }
      const child = m.child;
      m.exited = new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', (e) => {
          io.stderr(`floe cluster: cannot start ${m.name}: ${e.message}\n`);
          resolve();
        });
      });
    }

    const deadline = Date.now() + READY_TIMEOUT_MS;
    const pending = new Set(members);
    while (pending.size > 0 && signalled === undefined) {
      for (const m of [...pending]) {
        if (!isRunning(m.child)) {
          io.stderr(`floe cluster: ${m.name} exited during start-up (code ${m.child?.exitCode}, signal ${m.child?.signalCode}); see ${m.logFile}\n`);
          await stopAll(members, STOP_GRACE_MS);
          return 1;
        }
        if (fs.readFileSync(m.logFile, 'utf8').includes(READY_LINE)) pending.delete(m);
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        io.stderr(`floe cluster: ${[...pending].map((m) => m.name).join(', ')} not ready within ${READY_TIMEOUT_MS} ms; see ${settings.dataDir}\n`);
        await stopAll(members, STOP_GRACE_MS);
        return 1;
      }
      await sleep(POLL_MS);
    }

    if (signalled === undefined) {
      const endpoints = members.map((m) => `127.0.0.1:${m.clientPort}`);
      const lines = [`floe cluster: ${members.length} member(s) running, data and logs in ${settings.dataDir}`];
      for (const m of members) lines.push(`  ${m.name}  client http://127.0.0.1:${m.clientPort}  peer http://127.0.0.1:${m.peerPort}  log ${m.logFile}`);
      lines.push(`endpoints: ${endpoints.join(',')}`, `try: ETCDCTL_API=3 etcdctl --endpoints=${endpoints.join(',')} member list -w table`, 'Ctrl-C stops the cluster.');
      io.stdout(lines.join('\n') + '\n');
      io.onReady?.(endpoints);
      // Runs until a signal; a member that dies meanwhile is reported, the others go on.
      for (const m of members) {
        void m.exited.then(() => {
          if (signalled === undefined) io.stderr(`floe cluster: ${m.name} exited (code ${m.child?.exitCode}, signal ${m.child?.signalCode}); see ${m.logFile}\n`);
        });
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (signalled !== undefined) resolve();
      });
    }
    io.stdout(`floe cluster: ${signalled}: stopping ${members.length} member(s)\n`);
    await stopAll(members, STOP_GRACE_MS);
    io.stdout('floe cluster: stopped\n');
    return 0;
  } finally {
    unsubscribe();
    // Never leave members behind, whatever ended the command.
    for (const m of members) if (isRunning(m.child)) m.child!.kill('SIGKILL');
  }
}
