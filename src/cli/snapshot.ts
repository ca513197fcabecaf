/**
 * `floe snapshot save|restore|status`, modelled on etcdctl 3.4's `snapshot` commands: the same
 * flags and defaults, the same stdout, `Error: <message>` on stderr and the same exit codes
 * (1 for a failed restore or status, 5 for a failed save, 128 for a wrong argument count, 4
 * for an unsupported output format). Progress goes to stderr as JSON log lines, as etcdctl's
 * logger writes them.
 */
import { isFloeError } from '../pkg';
import { parseArgs, type Parsed } from './args';
import { parseGoDurationNs } from './go-values';
import { formatStatus, snapshotStatus, STATUS_FORMATS, type StatusFormat } from './snapshot-status';

/** Where the command writes. */
export interface SnapshotIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** etcdctl's exit codes. */
export const EXIT_ERROR = 1;
export const EXIT_BAD_FEATURE = 4;
export const EXIT_INTERRUPTED = 5;
export const EXIT_BAD_ARGS = 128;

const DEFAULT_NAME = 'default';
const DEFAULT_PEER_URL = 'http://localhost:2380';
const DEFAULT_ENDPOINT = '127.0.0.1:2379';
const DEFAULT_DIAL_TIMEOUT_MS = 2000;

export const snapshotUsage = `usage: floe snapshot <command> (as etcdctl snapshot)
  save FILE [--endpoints=127.0.0.1:2379] [--dial-timeout=2s] [--command-timeout=D]
  restore FILE [--data-dir=<name>.etcd] [--wal-dir=D] [--name=default]
               [--initial-cluster=default=http://localhost:2380] [--initial-cluster-token=etcd-cluster]
               [--initial-advertise-peer-urls=http://localhost:2380] [--skip-hash-check]
  status FILE [-w simple|json|table|fields]`;

/** etcdctl's global flags this command accepts (the ones that mean something here). */
const GLOBAL_FLAGS = { w: 'string', 'write-out': 'string', endpoints: 'string', 'dial-timeout': 'string', 'command-timeout': 'string', hex: 'bool' } as const;
const RESTORE_FLAGS = {
  ...GLOBAL_FLAGS,
  'data-dir': 'string',
  'wal-dir': 'string',
  name: 'string',
  'initial-cluster': 'string',
  'initial-cluster-token': 'string',
  'initial-advertise-peer-urls': 'string',
  'skip-hash-check': 'bool',
} as const;

/** An error that ends the command with a given exit code. */
class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `floe snapshot <argv>`; returns the exit code. Never throws for operating errors. */
export async function snapshotCommand(argv: readonly string[], io: SnapshotIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'status':
        return status(parse(rest, GLOBAL_FLAGS), io);
      case 'restore':
        return await restore(parse(rest, RESTORE_FLAGS), io);
      case 'save':
        return await save(parse(rest, GLOBAL_FLAGS), io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(snapshotUsage + '\n');
        return 0;
      default:
        throw new ExitError(EXIT_BAD_ARGS, `unknown snapshot command ${JSON.stringify(sub)}`);
    }
  } catch (e) {
    if (e instanceof ExitError) {
      io.stderr(`Error: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

function parse(argv: readonly string[], spec: Parameters<typeof parseArgs>[1]): Parsed {
  try {
    return parseArgs(argv, spec);
  } catch (e) {
    if (isFloeError(e)) throw new ExitError(EXIT_ERROR, e.message);
    throw e;
  }
}

/** Runs `fn`, turning its operating errors into `Error: ...` with `code`. */
async function failingWith<T>(code: number, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isFloeError(e)) throw new ExitError(code, e.message);
    throw e;
  }
}

function status(p: Parsed, io: SnapshotIo): number {
  if (p.positional.length !== 1) throw new ExitError(EXIT_BAD_ARGS, 'snapshot status requires exactly one argument');
  const format = p.flags.get('write-out') ?? p.flags.get('w') ?? 'simple';
  if (format === 'protobuf') throw new ExitError(EXIT_BAD_FEATURE, 'protobuf not supported as output format');
  if (!(STATUS_FORMATS as readonly string[]).includes(format)) throw new ExitError(EXIT_BAD_FEATURE, 'unsupported output format');
  let text: string;
  try {
    text = formatStatus(snapshotStatus(p.positional[0]!), format as StatusFormat);
  } catch (e) {
    if (isFloeError(e)) throw new ExitError(EXIT_ERROR, e.message);
    throw e;
  }
  io.stdout(text);
  return 0;
}

async function restore(p: Parsed, io: SnapshotIo): Promise<number> {
  if (p.positional.length !== 1) throw new ExitError(EXIT_BAD_ARGS, 'snapshot restore requires exactly one argument');
  const name = p.flags.get('name') ?? DEFAULT_NAME;
  // Loaded here: only restore needs the member-id code and the WAL.
  const { restoreSnapshot } = await import('./snapshot-restore');
  await failingWith(EXIT_ERROR, () =>
    restoreSnapshot(
      {
        snapshotPath: p.positional[0]!,
        name,
        dataDir: p.flags.get('data-dir') ?? '',
        walDir: p.flags.get('wal-dir') ?? '',
        // etcdctl's default names "default", whatever --name says.
        initialCluster: p.flags.get('initial-cluster') ?? `${DEFAULT_NAME}=${DEFAULT_PEER_URL}`,
        initialClusterToken: p.flags.get('initial-cluster-token') ?? 'etcd-cluster',
        peerUrls: (p.flags.get('initial-advertise-peer-urls') ?? DEFAULT_PEER_URL).split(','),
        skipHashCheck: p.flags.get('skip-hash-check') === 'true',
      },
      logTo(io),
    ),
  );
  return 0;
}

async function save(p: Parsed, io: SnapshotIo): Promise<number> {
  if (p.positional.length !== 1) throw new ExitError(EXIT_BAD_ARGS, 'snapshot save expects one argument');
  const file = p.positional[0]!;
  const endpoints = (p.flags.get('endpoints') ?? DEFAULT_ENDPOINT).split(',').filter((e) => e !== '');
  const dialTimeoutMs = durationFlagMs(p, 'dial-timeout') ?? DEFAULT_DIAL_TIMEOUT_MS;
  const commandTimeoutMs = durationFlagMs(p, 'command-timeout');
  const { saveSnapshot } = await import('./snapshot-save');
  await failingWith(EXIT_INTERRUPTED, () => saveSnapshot({ file, endpoints, dialTimeoutMs, commandTimeoutMs }, logTo(io)));
  io.stdout(`Snapshot saved at ${file}\n`);
  return 0;
}

function durationFlagMs(p: Parsed, name: string): number | null {
  const raw = p.flags.get(name);
  if (raw === undefined) return null;
  const ns = parseGoDurationNs(raw);
  if (ns === null) throw new ExitError(EXIT_ERROR, `invalid argument "${raw}" for "--${name}" flag: time: invalid duration ${raw}`);
  return Number(ns / 1_000_000n);
}

/** Progress lines in the shape of etcdctl's production logger (JSON, one per line). */
function logTo(io: SnapshotIo): (msg: string, fields: Record<string, unknown>) => void {
  return (msg, fields) => {
    io.stderr(JSON.stringify({ level: 'info', ts: Date.now() / 1000, caller: 'floe/snapshot', msg, ...fields }) + '\n');
  };
}
