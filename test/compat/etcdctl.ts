/**
 * Runs the real `etcdctl` (v3 API) as a child process and captures what it printed and how it
 * ended. Both sides of a compatibility comparison use this same binary, so any difference in
 * what it prints comes from the server it talked to.
 */
import { spawn } from 'node:child_process';

/** The etcdctl binary; ETCDCTL_BIN overrides it (e.g. a different 3.4 build). */
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? 'etcdctl';

/** Default bound on one etcdctl invocation; etcdctl's own command timeout is 5 s. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 15_000;

/** How one etcdctl invocation ended and what it printed. */
export interface EtcdctlResult {
  /** Process exit code, or null when it died by a signal. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Raw bytes: `-w protobuf` prints binary. */
  readonly stdout: Buffer;
  readonly stderr: string;
  /** The harness killed it because `timeoutMs` passed. */
  readonly timedOut: boolean;
  /** The harness stopped it because `stopWhen` held (the expected end of a `watch`). */
  readonly stoppedByHarness: boolean;
  readonly durationMs: number;
}

/** Options of one invocation. */
export interface EtcdctlOptions {
  /** `host:port` of the server; omitted for offline commands (`snapshot restore`, `status`). */
  readonly endpoint?: string;
  /** Bytes written to stdin, which is then closed. Without it stdin is closed at once. */
  readonly stdin?: string | Buffer;
  /** Kill after this long; defaults to DEFAULT_COMMAND_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /**
   * Checked on every stdout chunk; once true the process is stopped (SIGTERM) and the result is
   * marked `stoppedByHarness`. This is how a `watch`, which never ends on its own, is bounded.
   */
  readonly stopWhen?: (stdout: string) => boolean;
}

/** A started etcdctl whose result arrives later (a `watch` running while other steps write). */
export interface EtcdctlHandle {
  readonly result: Promise<EtcdctlResult>;
  /** Stops the process now if it is still running. */
  kill(): void;
}

/** The environment etcdctl runs in: ETCDCTL_* settings of the caller must not leak in. */
function etcdctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ETCDCTL_')) env[k] = v;
  }
  env.ETCDCTL_API = '3';
  return env;
}

/** Starts `etcdctl [--endpoints=E] ...args`; the result resolves when it ends. */
export function startEtcdctl(args: readonly string[], options: EtcdctlOptions = {}): EtcdctlHandle {
  const fullArgs = options.endpoint === undefined ? [...args] : [`--endpoints=${options.endpoint}`, ...args];
  return startCommand(ETCDCTL_BIN, fullArgs, options);
}

/**
 * Starts any short-lived command under the same rules as etcdctl (captured output, bounded
 * time, ETCDCTL_API=3): used for a target's own `snapshot restore`.
 */
export function startCommand(command: string, args: readonly string[], options: Omit<EtcdctlOptions, 'endpoint'> = {}): EtcdctlHandle {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const started = Date.now();
  const child = spawn(command, [...args], { env: etcdctlEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let timedOut = false;
  let stoppedByHarness = false;
  let exited = false;

  const stop = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);

  child.stdout.on('data', (chunk: Buffer) => {
    out.push(chunk);
    if (options.stopWhen !== undefined && !stoppedByHarness && options.stopWhen(Buffer.concat(out).toString('utf8'))) {
      stoppedByHarness = true;
      stop();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  // etcdctl may exit before reading all of stdin (a client-side error); that is not our error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.stdin ?? '');

  const result = new Promise<EtcdctlResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        stoppedByHarness,
        durationMs: Date.now() - started,
      });
    });
  });
  return { result, kill: stop };
}

/** Runs one etcdctl command to its end (or its bound). */
export function runEtcdctl(args: readonly string[], options: EtcdctlOptions = {}): Promise<EtcdctlResult> {
  return startEtcdctl(args, options).result;
}
