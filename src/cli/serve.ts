/**
 * `floe` with no command (or only flags): run one member and serve etcd's client API, as
 * `etcd` does. Start-up, in order:
 *
 * 1. read etcd's flags and ETCD_* variables (etcd-flags.ts); bad input stops here with etcd's
 *    wording and exit code (2 for flag syntax, 1 for invalid settings);
 * 2. log etcd's start-up lines (capnslog or zap, --log-level);
 * 3. lock the data dir (data-dir-lock.ts): a second process on it refuses, exit 1;
 * 4. start the member and wait until it is ready (it logs "published ... to cluster");
 *    meanwhile, unless --experimental-warm-up=false, warm the request paths up on a scratch
 *    member (warm-up.ts) and wait for that too;
 * 5. log "ready to serve client requests", listen on every --listen-client-urls and log
 *    "serving insecure client requests on HOST:PORT" for each (the port actually bound, so
 *    `:0` tells where it went).
 *
 * SIGTERM or SIGINT (also during start-up): log etcd's "received terminated signal, shutting
 * down...", drain the gRPC server (in-flight calls finish; watch and keep-alive streams end
 * with "server stopped"; cut off after etcd's request timeout, 5 s + 2 x election timeout),
 * close the member, release the lock, exit 0. A second signal cuts the drain short.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EtcdGrpcServer, type GrpcServerOptions } from '../api';
import { Gateway, clientHttpHandler, clientHttpServer } from '../gateway';
import { isFloeError } from '../pkg';
import { EMPTY_TLS_INFO } from '../tls';
import type { EtcdServerApi, MemberConfig } from '../server';
import { flagsHelp, USAGE } from './etcd-flag-table';
import { readEtcdFlags, type ServeSettings } from './etcd-flags';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { createLogger, type ServeLogger } from './log';
import { metricsSettings, ServeMetrics } from './serve-metrics';
import { gatewayDial, prepareServeTls, tlsFlags, type ServeTls, type TlsFlags } from './serve-tls';
import { authSettings, DEFAULT_AUTH_SETTINGS, type AuthSettings } from './serve-auth';
import { SERVER_VERSION } from '../server/member';
import { warmUp } from './warm-up';

/** The etcd API version Floe serves. */
export const ETCD_API_VERSION = '3.4';

/** What serve needs from a member (src/server's Member satisfies it). */
export interface ServedMember extends EtcdServerApi {
  /** Settles once the member serves (it leads and has published itself). */
  readonly ready: Promise<void>;
  /** Stops the member: requests in flight finish, files are closed. */
  close(): Promise<void>;
  /**
   * Settles when the member stops on its own, with the reason: removed from the cluster (etcd
   * then exits 0) or a fatal error.
   */
  readonly done?: Promise<string>;
  /** The cluster version once decided (/version); absent in test doubles. */
  readonly clusterVersion?: string | null;
}

/** Starts a member (src/server's startMember in `floe`; a test double in tests). */
export type MemberFactory = (config: Partial<MemberConfig>) => Promise<ServedMember>;

/** The process around serve, injected so tests can run it in a child with a test double. */
export interface ServeIo {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly startMember: MemberFactory;
  /** Starts the warm-up's scratch member (warm-up.ts); absent: no warm-up (test doubles). */
  readonly startWarmUpMember?: MemberFactory;
  /** Calls `handler` on SIGTERM/SIGINT; returns the function that stops listening. */
  readonly onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

const processSignals = (handler: (signal: NodeJS.Signals) => void): (() => void) => {
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
};

/** Go's names of the signals etcd logs ("received terminated signal"). */
const SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = { SIGTERM: 'terminated', SIGINT: 'interrupt' };

/** Runs the serve command; resolves with the process exit code once it should exit. */
export async function serve(io: ServeIo): Promise<number> {
  const outcome = readEtcdFlags(io.argv, io.env);
  const earlyLog = createLogger({ format: 'capnslog', level: 'info', write: io.stderr });
  switch (outcome.kind) {
    case 'help':
      // As Go's flag package and etcd: the short usage on stderr, the flags on stdout.
      io.stderr(USAGE);
      io.stdout(flagsHelp());
      return 0;
    case 'version':
      io.stdout(versionText());
      return 0;
    case 'usage-error':
      io.stderr(`${outcome.message}\n${USAGE}`);
      return 2;
    case 'env-conflict':
      earlyLog.log('C', 'pkg/flags', outcome.message);
      return 1;
    case 'invalid':
      for (const n of outcome.notes) earlyLog.log(n.level, 'pkg/flags', n.msg);
      earlyLog.log('E', 'etcdmain', `error verifying flags, ${outcome.message}. See 'floe --help'.`);
      if (outcome.message.startsWith('--advertise-client-urls is required')) {
        earlyLog.log('E', 'etcdmain', 'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.');
      }
      return 1;
    case 'serve':
      break;
  }
  const s = outcome.settings;
  const log = createLogger({ format: s.logger, level: s.logLevel, write: s.logOutput === 'stdout' ? io.stdout : io.stderr });
  for (const n of outcome.notes) log.log(n.level, 'pkg/flags', n.msg);
  logStartup(log, s);
  const ms = metricsSettings(outcome.values);
  if (typeof ms === 'string') {
    log.log('E', 'etcdmain', `error verifying flags, ${ms}. See 'floe --help'.`);
    return 1;
  }
  return new Serving(io, s, log, new ServeMetrics(ms), authSettings(outcome.values), tlsFlags(outcome.values)).run();
}

/** The text of `floe --version` (etcd's layout, Floe's facts). */
export function versionText(): string {
  return [
    `Floe Version: ${floeVersion()}`,
    `etcd API Version: ${ETCD_API_VERSION}`,
    `Node Version: ${process.version}`,
    `Node OS/Arch: ${process.platform}/${process.arch}`,
    '',
  ].join('\n');
}

/**
 * Floe's version from its package.json, found upwards from this file, else upwards from the
 * working directory (builds into an outside dir run from the repository).
 */
export function floeVersion(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'floe' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // no package.json here: keep looking upwards
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return 'unknown';
}

function logStartup(log: ServeLogger, s: ServeSettings): void {
  for (const line of versionText().trimEnd().split('\n')) log.log('I', 'etcdmain', line);
  if (s.dataDirDefaulted) log.log('W', 'etcdmain', `no data-dir provided, using default data-dir ./${s.dataDir}`);
  log.log('I', 'embed', `name = ${s.name}`);
  log.log('I', 'embed', `data dir = ${s.dataDir}`);
  log.log('I', 'embed', `member dir = ${path.join(s.dataDir, 'member')}`);
  log.log('I', 'embed', `heartbeat = ${s.heartbeatMs}ms`);
  log.log('I', 'embed', `election = ${s.electionMs}ms`);
  log.log('I', 'embed', `snapshot count = ${s.snapshotCount}`);
  if (s.advertiseClientUrls.length > 0) log.log('I', 'embed', `advertise client URLs = ${s.advertiseClientUrls.join(',')}`);
}

/** The member's settings from the flags; zero means "the member's default" for the batch. */
export function memberConfig(s: ServeSettings, log: ServeLogger): Partial<MemberConfig> {
  return {
    name: s.name,
    dataDir: s.dataDir,
    initialAdvertisePeerUrls: s.initialAdvertisePeerUrls,
    listenPeerUrls: s.listenPeerUrls,
    advertiseClientUrls: s.advertiseClientUrls,
    initialCluster: s.initialCluster,
    initialClusterState: s.initialClusterState,
    initialClusterToken: s.initialClusterToken,
    snapshotCount: s.snapshotCount,
    heartbeatMs: s.heartbeatMs,
    electionMs: s.electionMs,
    quotaBackendBytes: s.quotaBackendBytes,
    maxRequestBytes: s.maxRequestBytes,
    maxTxnOps: s.maxTxnOps,
    autoCompactionMode: s.autoCompactionMode,
    autoCompactionRetention: s.autoCompactionRetention,
    backendBatchIntervalMs: s.backendBatchIntervalMs === 0 ? undefined : s.backendBatchIntervalMs,
    backendBatchLimit: s.backendBatchLimit === 0 ? undefined : s.backendBatchLimit,
    freelistType: s.freelistType,
    maxWals: s.maxWals,
    maxSnapshots: s.maxSnapshots,
    unsafeNoFsync: s.unsafeNoFsync,
    logger: log,
  };
}

/** The gRPC server's options from the flags (metrics apart). */
function grpcOptions(s: ServeSettings): GrpcServerOptions {
  return {
    maxConcurrentStreams: s.maxConcurrentStreams,
    keepaliveIntervalMs: s.keepaliveIntervalMs,
    keepaliveTimeoutMs: s.keepaliveTimeoutMs,
    watchProgressNotifyIntervalMs: s.watchProgressNotifyIntervalMs,
  };
}

/** etcd's request timeout (ReqTimeout): how long a drain waits before cutting calls off. */
export function drainTimeoutMs(s: ServeSettings): number {
  return 5000 + 2 * s.electionMs;
}

/** One run of the server, from the lock to the exit code. */
class Serving {
  private lock: DataDirLock | null = null;
  private member: ServedMember | null = null;
  private server: EtcdGrpcServer | null = null;
  /** The JSON gateway on the client port; it dials the first client listener bound. */
  private gateway: Gateway | null = null;
  private gatewayTarget = '';
  /** TLS credentials of the gateway's dial when its target listener is https:// (serve-tls.ts). */
  private gatewayTls: ReturnType<typeof gatewayDial> = {};
  private stopRequested: (() => void) | null = null;
  private readonly stop: Promise<void>;
  private signals = 0;

  constructor(
    private readonly io: ServeIo,
    private readonly s: ServeSettings,
    private readonly log: ServeLogger,
    private readonly metrics: ServeMetrics = new ServeMetrics({ extensive: false, listenUrls: [] }),
    private readonly auth: AuthSettings = DEFAULT_AUTH_SETTINGS,
    private readonly tlsFlags: TlsFlags | null = null,
  ) {
    this.stop = new Promise((resolve) => (this.stopRequested = resolve));
  }

  async run(): Promise<number> {
    const unlisten = (this.io.onSignal ?? processSignals)((sig) => this.onSignal(sig));
    try {
      return await this.serveUntilStopped();
    } finally {
      unlisten();
    }
  }

  private onSignal(sig: NodeJS.Signals): void {
    this.signals++;
    if (this.signals === 1) {
      this.log.log('N', 'pkg/osutil', `received ${SIGNAL_NAMES[sig] ?? sig} signal, shutting down...`);
      this.stopRequested!();
    } else {
      this.log.log('W', 'pkg/osutil', `received ${SIGNAL_NAMES[sig] ?? sig} signal again; closing client connections now`);
      this.server?.forceClose();
    }
  }

  private async serveUntilStopped(): Promise<number> {
    try {
      this.lock = lockDataDir(this.s.dataDir);
    } catch (e) {
      this.log.log('C', 'etcdmain', isFloeError(e) ? e.message : `cannot access data directory: ${(e as Error).message}`);
      return 1;
    }
    // TLS files and auto-TLS certificates (under the data dir) before the member starts.
    const tls: ServeTls | string = this.tlsFlags === null ? { client: EMPTY_TLS_INFO, peer: EMPTY_TLS_INFO, clientListen: null } : prepareServeTls(this.s, this.tlsFlags, this.log);
    if (typeof tls === 'string') {
      this.log.log('C', 'etcdmain', tls);
      this.lock.release();
      return 1;
    }
    const warming = new AbortController();
    const warm = this.warmUp(warming.signal);
    try {
      this.member = await this.io.startMember({ ...memberConfig(this.s, this.log), metrics: this.metrics.etcd, ...this.auth, peerTls: tls.peer });
      // A member removed from the cluster stops by itself: shut down as if signalled.
      void this.member.done?.then((reason) => {
        this.log.log('W', 'etcdserver', reason);
        // Stop the member first: requests waiting on it fail at once with "server stopped"
        // (etcd's stop), so the drain does not wait out the request timeout for them.
        void this.member?.close();
        this.stopRequested!();
      });
      const stopped = this.stop.then(() => 'stopped' as const);
      if ((await Promise.race([Promise.all([this.member.ready, warm]).then(() => 'ready' as const), stopped])) === 'stopped') {
        warming.abort();
        await warm;
        return await this.shutdown();
      }
      this.log.log('I', 'embed', 'ready to serve client requests');
      this.server = new EtcdGrpcServer(this.member, { ...grpcOptions(this.s), metrics: this.metrics.grpcOptions });
      this.gatewayTls = gatewayDial(tls, this.s.listenClientUrls[0]);
      for (const u of this.s.listenClientUrls) {
        // etcd binds "localhost" as the IPv4 loopback address.
        const host = u.host === 'localhost' ? '127.0.0.1' : u.host;
        const where = host.includes(':') ? `[${host}]` : host;
        let port: number;
        try {
          port = await this.server.listen(host, u.port, u.scheme === 'https' ? tls.clientListen ?? undefined : undefined, this.clientHttp());
        } catch (e) {
          this.log.log('C', 'etcdmain', `listen tcp ${where}:${u.port}: ${(e as Error).message}`);
          await this.shutdown();
          return 1;
        }
        if (this.gatewayTarget === '') {
          const dial = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
          this.gatewayTarget = `${dial.includes(':') ? `[${dial}]` : dial}:${port}`;
        }
        if (u.scheme === 'https') this.log.log('I', 'embed', `serving client requests on ${where}:${port}`);
        else this.log.log('N', 'embed', `serving insecure client requests on ${where}:${port}, this is strongly discouraged!`);
      }
      if (!(await this.listenMetrics())) return 1;
      await this.stop;
      return await this.shutdown();
    } catch (e) {
      this.log.log('C', 'etcdmain', (e as Error).message);
      warming.abort();
      await warm;
      await this.shutdown().catch(() => undefined);
      return 1;
    } finally {
      this.lock.release();
    }
  }

  /**
   * Where a client listener on `host` sends HTTP/1.x connections: the gateway, after the
   * observability endpoints. The gateway dials the first listener bound (gatewayTarget; a
   * wildcard host is dialled on loopback), known by the time a request arrives.
   */
  private clientHttp(): (socket: import('node:net').Socket) => void {
    if (this.gateway === null) {
      this.gateway = new Gateway({ target: () => this.gatewayTarget, maxRequestBytes: this.s.maxRequestBytes, ...this.gatewayTls });
    }
    const opts = { gateway: this.gateway, observability: this.observability(true) };
    // The same front for HTTP/2 requests that are not gRPC (curl over TLS speaks h2).
    this.server?.serveHttp2Requests(clientHttpHandler(opts));
    const front = clientHttpServer(opts);
    return (socket) => front.emit('connection', socket);
  }

  /** The /metrics, /health, /version handler over the member (client port: CORS and /version). */
  observability(clientPort: boolean): ReturnType<ServeMetrics['handler']> {
    const m = this.member as ServedMember;
    return this.metrics.handler(m, () => m.clusterVersion ?? null, SERVER_VERSION, this.log, clientPort);
  }

  /**
   * The warm-up (warm-up.ts), run beside the member's start; settles when it is over and its
   * scratch member gone, never rejects: a failed warm-up is logged and start-up goes on.
   */
  private async warmUp(signal: AbortSignal): Promise<void> {
    const start = this.io.startWarmUpMember;
    if (!this.s.warmUp || start === undefined) return;
    // Metrics of its own, so that its calls never show in the member's.
    const metrics = new ServeMetrics({ extensive: this.metrics.settings.extensive, listenUrls: [] });
    try {
      const r = await warmUp({
        startMember: start,
        member: { ...memberConfig(this.s, this.log), metrics: metrics.etcd },
        server: { ...grpcOptions(this.s), metrics: metrics.grpcOptions },
        signal,
      });
      const cut = r.cutShort ? ', cut short at its deadline' : '';
      this.log.log('I', 'floe', `warmed up the request paths in ${r.ms}ms (${r.calls} calls, ${r.ranges} big ranges)${cut}`);
    } catch (e) {
      if (!signal.aborted) this.log.log('W', 'floe', `warm-up failed, serving without it: ${(e as Error).message}`);
    }
  }

  /** Starts the --listen-metrics-urls listeners; false (after shutting down) when one cannot bind. */
  private async listenMetrics(): Promise<boolean> {
    try {
      await this.metrics.listen(this.observability(false), this.log);
      return true;
    } catch (e) {
      this.log.log('C', 'etcdmain', `listen tcp (metrics): ${(e as Error).message}`);
      await this.shutdown();
      return false;
    }
  }

  /** Drain, then close the member; the lock is released by the caller. */
  private async shutdown(): Promise<number> {
    await this.metrics.close();
    // Gateway calls are clients of the server being drained: end them first.
    this.gateway?.close();
    if (this.server !== null) {
      const outcome = await this.server.drain(drainTimeoutMs(this.s));
      if (outcome === 'forced') this.log.log('W', 'embed', 'client requests still running at the request timeout were cut off');
    }
    if (this.member !== null) await this.member.close();
    return 0;
  }
}
