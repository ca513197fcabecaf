/**
 * Starts and stops one etcd-compatible server process for the compatibility suite: real etcd,
 * or any command that accepts etcd's flags (Floe's `bin/floe`). Every server gets a fresh data
 * dir and free ports on 127.0.0.1, is only handed out once `etcdctl endpoint health` succeeds,
 * and is always stopped again, also when a test fails or the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runEtcdctl } from './etcdctl';

/** How to run one kind of server. */
export interface ServerCommand {
  /** Short name for messages and reports: `etcd`, or the target's command. */
  readonly label: string;
  readonly command: string;
  /** Arguments placed before etcd's flags (e.g. a script path when command is `node`). */
  readonly args: readonly string[];
  /**
   * The command that turns a snapshot file into a data dir this server starts from; it gets
   * `<snapshot> --data-dir=D --name=N --initial-cluster=N=URL --initial-advertise-peer-urls=URL`.
   */
  readonly restore: { readonly command: string; readonly args: readonly string[] };
}

/** Real etcd 3.4 (Debian's etcd-server); ETCD_BIN overrides the binary. */
export function etcdCommand(): ServerCommand {
  return {
    label: 'etcd',
    command: process.env.ETCD_BIN ?? 'etcd',
    args: [],
    restore: { command: process.env.ETCDCTL_BIN ?? 'etcdctl', args: ['snapshot', 'restore'] },
  };
}

/**
 * A server command from a whitespace-separated spec (no quoting), e.g. `/work/main/bin/floe`
 * or `node /work/main/bin/floe`. Its restore command is `<spec> snapshot restore` unless
 * `restoreSpec` names another (the spec `etcdctl snapshot restore` restores with etcd's tool).
 */
export function commandFromSpec(spec: string, restoreSpec?: string): ServerCommand {
  const words = spec.trim().split(/\s+/);
  if (words.length === 0 || words[0] === '') throw new Error('empty server command');
  if (words.length === 1 && path.basename(words[0]!) === 'etcd') return { ...etcdCommand(), command: words[0]! };
  const restoreWords = restoreSpec === undefined ? [...words, 'snapshot', 'restore'] : restoreSpec.trim().split(/\s+/);
  return {
    label: spec.trim(),
    command: words[0]!,
    args: words.slice(1),
    restore: { command: restoreWords[0]!, args: restoreWords.slice(1) },
  };
}

/** This repository's `bin/floe`, found from the compiled file (dist/test/compat/). */
export const REPO_FLOE = path.resolve(__dirname, '..', '..', '..', 'bin', 'floe');

/**
 * The side under test: FLOE_COMPAT_TARGET (a command spec, see commandFromSpec; `etcd` runs
 * etcd against itself, which checks the harness) with FLOE_COMPAT_TARGET_RESTORE for its
 * restore command; this repository's Floe when unset.
 */
export function targetFromEnv(): ServerCommand {
  const spec = process.env.FLOE_COMPAT_TARGET;
  if (spec === undefined || spec.trim() === '') return commandFromSpec(REPO_FLOE);
  return commandFromSpec(spec, process.env.FLOE_COMPAT_TARGET_RESTORE);
}

/** Bound on start-up: process spawn to a healthy endpoint. FLOE_COMPAT_STARTUP_MS overrides. */
export const DEFAULT_STARTUP_TIMEOUT_MS = Number(process.env.FLOE_COMPAT_STARTUP_MS ?? 20_000);
/** Bound on a clean stop after SIGTERM before SIGKILL is sent. */
export const STOP_GRACE_MS = 5_000;
/** How much of a server's log a start-up error quotes. */
const LOG_TAIL_BYTES = 4_096;
/** Ports are drawn from below Linux's default ephemeral range (32768+) so that outgoing
 * connections of other processes do not take them between the probe and the bind. */
const PORT_RANGE = { low: 20_000, high: 32_000 } as const;
const PORT_ATTEMPTS = 200;
const START_ATTEMPTS = 3;

/** Ports handed out by this process, so two servers started here never get the same one. */
const handedOut = new Set<number>();

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** `count` distinct ports that were free on 127.0.0.1 a moment ago (the bind may still race). */
export async function pickFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; attempt < PORT_ATTEMPTS && ports.length < count; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // reserve before the await so a concurrent caller cannot pick it
    if (await portIsFree(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports found in ${PORT_ATTEMPTS} attempts`);
  return ports;
}

/** Servers still running, killed if the test process exits before stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
// Servers run in their own process groups (detached), so a signal that ends the test process
// does not reach them: end them here, then exit the way the signal would have.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    process.exit(code);
  });
}

/** Signals the server's whole process group (it was spawned detached, so it leads one): a
 * wrapper script and the server it starts go together. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone between the check and the kill.
  }
}

/** What to start. */
export interface StartOptions {
  /** Member name (`--name`). */
  readonly name: string;
  /** Data dir; must not exist yet for a fresh member, or hold a restored member. */
  readonly dataDir: string;
  /** Where the log file goes. */
  readonly logFile: string;
  /** Fixed ports (a restored member's peer URL is baked into its data); picked when absent. */
  readonly ports?: { readonly client: number; readonly peer: number };
  /** Extra etcd flags, e.g. `--quota-backend-bytes=200000`. */
  readonly extraFlags?: readonly string[];
  readonly startupTimeoutMs?: number;
  /** `https` serves the client URLs with TLS (extraFlags give the certificate); default `http`. */
  readonly clientScheme?: 'http' | 'https';
  /** etcdctl flags for the health wait (`--cacert=...` for a TLS server). */
  readonly ctlFlags?: readonly string[];
}

/** A running, healthy server. */
export interface RunningServer {
  readonly command: ServerCommand;
  readonly name: string;
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** `127.0.0.1:<client port>`, what etcdctl's --endpoints gets. */
  readonly endpoint: string;
  /** `http` or `https`: how the client port is served. */
  readonly clientScheme: 'http' | 'https';
  readonly peerUrl: string;
  readonly pid: number;
  /** The last bytes of the server's log. */
  logTail(): string;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** The etcd flags every server gets; order and spelling follow etcd's docs. */
export function etcdFlags(name: string, dataDir: string, clientPort: number, peerPort: number, clientScheme: 'http' | 'https' = 'http'): string[] {
  const clientUrl = `${clientScheme}://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  return [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
  ];
}

/** What etcdctl's `--endpoints` gets: `127.0.0.1:P`, or `https://127.0.0.1:P` for TLS. */
export function clientEndpoint(server: RunningServer, scheme?: 'http' | 'https'): string {
  const s = scheme ?? (server.clientScheme === 'https' ? 'https' : undefined);
  return s === undefined ? server.endpoint : `${s}://${server.endpoint}`;
}

class PortInUseError extends Error {}

function readTail(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, LOG_TAIL_BYTES);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(250, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a server and waits until it is healthy. Fresh members whose ports were taken between
 * probe and bind are retried on new ports (with a new data dir) up to START_ATTEMPTS times.
 */
export async function startServer(command: ServerCommand, options: StartOptions): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const ports: { client: number; peer: number } = options.ports ?? (await pickFreePorts(2).then(([client, peer]) => ({ client: client!, peer: peer! })));
    const dataDir = options.ports === undefined && attempt > 1 ? `${options.dataDir}-${attempt}` : options.dataDir;
    try {
      return await startOnce(command, { ...options, dataDir }, ports);
    } catch (e) {
      if (!(e instanceof PortInUseError) || options.ports !== undefined || attempt >= START_ATTEMPTS) throw e;
    }
  }
}

async function startOnce(
  command: ServerCommand,
  options: StartOptions,
  ports: { readonly client: number; readonly peer: number },
): Promise<RunningServer> {
  const { client, peer } = ports;
  const clientScheme = options.clientScheme ?? 'http';
  const flags = [...etcdFlags(options.name, options.dataDir, client, peer, clientScheme), ...(options.extraFlags ?? [])];
  const log = fs.openSync(options.logFile, 'a');
  // Inherited ETCD_* variables would change the server's configuration behind the flags' back.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  let child: ChildProcess;
  try {
    child = spawn(command.command, [...command.args, ...flags], { env, stdio: ['ignore', log, log], detached: true });
  } finally {
    fs.closeSync(log);
  }
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
  });
  child.once('exit', () => live.delete(child));
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
    live.delete(child);
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError !== undefined) return;
    killGroup(child, 'SIGTERM');
    const graceful = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!graceful) {
      killGroup(child, 'SIGKILL');
      await exited;
    }
  };
  const server: RunningServer = {
    command,
    name: options.name,
    dataDir: options.dataDir,
    clientPort: client,
    peerPort: peer,
    endpoint: `127.0.0.1:${client}`,
    clientScheme,
    peerUrl: `http://127.0.0.1:${peer}`,
    pid: child.pid ?? -1,
    logTail: () => readTail(options.logFile),
    stop,
  };

  try {
    await waitHealthy(server, child, () => spawnError, options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS, options.ctlFlags ?? []);
  } catch (e) {
    await stop();
    throw e;
  }
  return server;
}

async function waitHealthy(
  server: RunningServer,
  child: ChildProcess,
  spawnError: () => Error | undefined,
  timeoutMs: number,
  ctlFlags: readonly string[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastHealth = 'no health check ran yet';
  const describe = (): string =>
    `${server.command.label} (pid ${server.pid}, client ${server.endpoint}, data dir ${server.dataDir})`;
  for (;;) {
    const error = spawnError();
    if (error !== undefined) throw new Error(`cannot start ${describe()}: ${error.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = server.logTail();
      const message = `${describe()} exited during start-up (code ${child.exitCode}, signal ${child.signalCode}); log tail:\n${tail}`;
      if (/address already in use|EADDRINUSE/.test(tail)) throw new PortInUseError(message);
      throw new Error(message);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${describe()} was not healthy within ${timeoutMs} ms (last \`etcdctl endpoint health\`: ${lastHealth}); log tail:\n${server.logTail()}`,
      );
    }
    if (await tcpAccepts(server.clientPort)) {
      const r = await runEtcdctl([...ctlFlags, '--dial-timeout=1s', '--command-timeout=2s', 'endpoint', 'health'], {
        endpoint: clientEndpoint(server),
        timeoutMs: 5_000,
      });
      if (r.exitCode === 0) return;
      lastHealth = `exit ${r.exitCode}: ${(r.stderr + r.stdout.toString('utf8')).trim().split('\n').slice(-2).join(' | ')}`;
    }
    await sleep(50);
  }
}
