/**
 * The client-facing gRPC server: etcd's KV, Watch, Lease, Cluster, Maintenance and Auth
 * services over one member (EtcdServerApi), with etcd's transport settings
 * (v3rpc/grpc.go): receive limit --max-request-bytes + 512 KiB, send limit 2^31-1, the
 * per-connection stream limit, server keepalive pings.
 *
 *   const server = new EtcdGrpcServer(member, options);
 *   const port = await server.listen('127.0.0.1', 2379);
 *   ...
 *   await server.drain(timeoutMs);   // stop accepting, finish in-flight calls, then close
 *
 * Shutdown order (drain): listeners close and every connection is told to go away, so no new
 * call starts; the long-lived streams (watch, lease keep-alive), which never finish on their
 * own, are ended at once with etcd's "server stopped" (UNAVAILABLE: clients reconnect
 * elsewhere); unary calls and snapshot streams in flight run to completion. What is still open
 * after `timeoutMs` is cut off, as etcd does after its request timeout.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';
import { etcdServices } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { authHandlers } from './auth-service';
import { toGrpcError } from './call';
import { electionHandlers, lockHandlers } from '../concurrency';
import { clusterHandlers } from './cluster-service';
import { etcdError, toServiceError } from './errors';
import { kvHandlers } from './kv-service';
import { leaseHandlers } from './lease-service';
import { maintenanceHandlers } from './maintenance-service';
import { OpenStreams } from './open-streams';
import { acceptH2Connection, sniffHttp2 } from './h2-authority';
import { H2Front } from './h2-front';
import { createClientListener, type TlsListenOptions } from './tls-listener';
import { linkConnection } from './tls-identity';
import { guardCalls } from './call-guard';
import { guardAuth } from './auth-guard';
import { meterGrpcServer, type ClientBytes } from './grpc-metrics';
import type { GrpcMetrics } from '../metrics';
import { withPassThroughRange } from './range-passthrough';
import { recordingRequestSizes } from './request-size';
import { fastHandlers } from './unary-fast-path';
import { routePlainHttp2, type PlainHttpHandler } from './h2-plain-http';
import { withFastPutCodecs } from './put-codec';
import {
  DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS,
  MIN_PROGRESS_NOTIFY_INTERVAL_MS,
  intervalTimer,
  watchHandlers,
  type ProgressTimer,
} from './watch-service';

/** etcd's grpcOverheadBytes: room above --max-request-bytes for gRPC framing. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** etcd's maxSendBytes (math.MaxInt32). */
export const MAX_SEND_BYTES = 2 ** 31 - 1;
/** etcd's default --max-concurrent-streams (math.MaxUint32). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 2 ** 32 - 1;
/**
 * Node's HTTP/2 session memory bound (MB). Node's default (10) refuses new streams on a
 * connection holding a few large requests or watch responses; etcd has no such bound.
 */
export const SESSION_MEMORY_MB = 64;

/** Transport and watch settings; every field has etcd's default. */
export interface GrpcServerOptions {
  /** --max-concurrent-streams: streams per client connection. */
  readonly maxConcurrentStreams?: number;
  /** --grpc-keepalive-interval: server-to-client ping period; 0 disables (default 2 h). */
  readonly keepaliveIntervalMs?: number;
  /** --grpc-keepalive-timeout: wait for a ping's answer before closing (default 20 s). */
  readonly keepaliveTimeoutMs?: number;
  /** --experimental-watch-progress-notify-interval (default 10 min, at least 100 ms). */
  readonly watchProgressNotifyIntervalMs?: number;
  /** Uniform in [0, 1): jitter of the progress period (default Math.random). */
  readonly random?: () => number;
  /** The progress notification timer (default: the real clock). */
  readonly progressTimer?: ProgressTimer;
  /**
   * Serve connections with Floe's own HTTP/2 front, which answers KV's unary calls itself
   * (h2-front.ts, unary-fast-path.ts; default true). False: every call goes to grpc-js.
   */
  readonly unaryFastPath?: boolean;
  /** Where calls and client bytes are counted (grpc-metrics.ts); not counted by default. */
  readonly metrics?: { readonly grpc: GrpcMetrics; readonly bytes: ClientBytes };
}

const DEFAULT_KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20 * 1000;

/** How a drain ended. */
export type DrainOutcome = 'drained' | 'forced';

/** The gRPC server of one member; see the file comment. */
export class EtcdGrpcServer {
  private readonly server: grpc.Server;
  /**
   * grpc-js's door for connections: the front's in-process legs (h2-inner.ts) or, without
   * the front, accepted sockets through an authority fixer: clients that send a URL as
   * :authority (Debian's etcdctl with http:// endpoints) would otherwise be reset by Node's
   * HTTP/2 before any handler runs (h2-authority.ts).
   */
  private readonly injector: ReturnType<grpc.Server['createConnectionInjector']>;
  /** Floe's HTTP/2 front, or null when grpc-js serves connections itself. */
  private readonly front: H2Front | null;
  private readonly listeners: net.Server[] = [];
  private readonly openStreams = new OpenStreams();
  private draining: Promise<DrainOutcome> | null = null;

  constructor(api: EtcdServerApi, opts: GrpcServerOptions = {}) {
    const { maxRequestBytes, maxTxnOps } = api.limits;
    assert(Number.isSafeInteger(maxRequestBytes) && maxRequestBytes > 0, `maxRequestBytes ${maxRequestBytes}`);
    assert(Number.isSafeInteger(maxTxnOps) && maxTxnOps >= 0, `maxTxnOps ${maxTxnOps}`);
    const maxStreams = opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
    assert(Number.isSafeInteger(maxStreams) && maxStreams >= 1 && maxStreams <= DEFAULT_MAX_CONCURRENT_STREAMS, `maxConcurrentStreams ${maxStreams}`);
    const keepaliveMs = opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    const keepaliveTimeoutMs = opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    assert(keepaliveMs >= 0 && keepaliveTimeoutMs >= 0, 'keepalive settings must not be negative');

    const options: grpc.ServerOptions = {
      'grpc.max_receive_message_length': maxRequestBytes + GRPC_OVERHEAD_BYTES,
      'grpc.max_send_message_length': MAX_SEND_BYTES,
      'grpc.max_concurrent_streams': maxStreams,
      'grpc-node.max_session_memory': SESSION_MEMORY_MB,
    };
    if (keepaliveMs > 0) {
      options['grpc.keepalive_time_ms'] = keepaliveMs;
      if (keepaliveTimeoutMs > 0) options['grpc.keepalive_timeout_ms'] = keepaliveTimeoutMs;
    }
    this.server = new grpc.Server(options);
    if (opts.metrics !== undefined) meterGrpcServer(this.server, opts.metrics.grpc, opts.metrics.bytes);

    const svc = etcdServices();
    // Learner and leader rules outside; inside, each call runs as its caller (auth-guard.ts).
    const guard = <H extends object>(handlers: H): H => guardCalls(api, guardAuth(api, handlers));
    const sizeOf = (resp: pb.WatchResponse): number => svc.watch.Watch.responseSerialize(resp).length;
    this.server.addService(recordingRequestSizes(withFastPutCodecs(withPassThroughRange(svc.kv))), guard(kvHandlers(api)));
    this.server.addService(
      svc.watch,
      guard(watchHandlers(api, {
        fragmentLimitBytes: maxRequestBytes + GRPC_OVERHEAD_BYTES,
        progressNotifyIntervalMs: Math.max(
          MIN_PROGRESS_NOTIFY_INTERVAL_MS,
          opts.watchProgressNotifyIntervalMs ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS,
        ),
        sizeOf,
        random: opts.random ?? Math.random,
        progressTimer: opts.progressTimer ?? intervalTimer,
        openStreams: this.openStreams,
      })),
    );
    this.server.addService(svc.lease, guard(leaseHandlers(api, this.openStreams)));
    this.server.addService(svc.cluster, guard(clusterHandlers(api)));
    this.server.addService(svc.maintenance, guard(maintenanceHandlers(api)));
    this.server.addService(svc.auth, guard(authHandlers(api)));
    this.server.addService(svc.lock, guard(lockHandlers(api, toGrpcError)));
    this.server.addService(svc.election, guard(electionHandlers(api, toGrpcError, (end) => this.openStreams.add(end))));
    this.injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.front = (opts.unaryFastPath ?? true)
      ? new H2Front({
          handlers: fastHandlers(this.server),
          limits: { maxReceiveBytes: maxRequestBytes + GRPC_OVERHEAD_BYTES, maxSendBytes: MAX_SEND_BYTES },
          maxConcurrentStreams: maxStreams,
          keepaliveMs,
          keepaliveTimeoutMs,
          inject: (conn, socket) => this.injector.injectConnection(linkConnection(conn, socket)),
        })
      : null;
    routePlainHttp2(this.server, () => this.plainHttp);
  }

  /** Where HTTP/2 requests that are not gRPC go (h2-plain-http.ts); null: grpc-js's 415. */
  private plainHttp: PlainHttpHandler | null = null;

  /**
   * Serves HTTP/2 requests that are not gRPC (curl over TLS negotiates h2) with `handler`,
   * the same one HTTP/1.x connections reach (the gateway and the observability endpoints).
   */
  serveHttp2Requests(handler: PlainHttpHandler): void {
    this.plainHttp = handler;
  }

  /**
   * Listens on `host:port` (port 0: any free port) and resolves with the bound port. `host`
   * is an IP address; IPv6 without brackets. With `secure`, the listener speaks TLS
   * (https:// URLs; tls-listener.ts) and hands connections on the same way once verified.
   * With `http1`, connections speaking HTTP/1.x (the JSON gateway, /metrics) go there.
   */
  listen(host: string, port: number, secure?: TlsListenOptions, http1?: (socket: net.Socket) => void): Promise<number> {
    assert(this.draining === null, 'listen after drain');
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const front = this.front;
      const accept =
        front === null
          ? (socket: net.Socket): void => acceptH2Connection(socket, (conn) => this.injector.injectConnection(linkConnection(conn, socket)), { http1 })
          : http1 === undefined
            ? (socket: net.Socket): void => front.accept(socket, null)
            : (socket: net.Socket): void => sniffHttp2(socket, (first) => front.accept(socket, first), http1);
      const listener = createClientListener(accept, secure);
      listener.once('error', (e: NodeJS.ErrnoException) => {
        reject(new Error(e.code === 'EADDRINUSE' ? 'bind: address already in use' : `${address}: ${e.message}`));
      });
      listener.listen({ host, port }, () => {
        this.listeners.push(listener);
        resolve((listener.address() as net.AddressInfo).port);
      });
    });
  }

  /** Long-lived streams (watch, keep-alive) open now. */
  get openStreamCount(): number {
    return this.openStreams.size;
  }

  /**
   * Stops the server gracefully (see the file comment); resolves 'drained' when every call
   * finished in time, 'forced' when calls were cut off after `timeoutMs`. Idempotent.
   */
  drain(timeoutMs: number): Promise<DrainOutcome> {
    if (this.draining !== null) return this.draining;
    assert(timeoutMs >= 0, `drain timeout ${timeoutMs}`);
    for (const l of this.listeners) l.close();
    this.draining = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.front?.forceClose();
        this.server.forceShutdown();
        resolve('forced');
      }, timeoutMs);
      // First stop new calls, then end the streams that would hold the drain open forever.
      const grpcDone = new Promise<void>((done) => this.server.tryShutdown(() => done()));
      const frontDone = this.front?.drain() ?? Promise.resolve();
      void Promise.all([grpcDone, frontDone]).then(() => {
        clearTimeout(timer);
        resolve('drained');
      });
      this.openStreams.endAll(toServiceError(etcdError('STOPPED')));
    });
    return this.draining;
  }

  /** Closes every connection at once, cutting off calls in flight. */
  forceClose(): void {
    for (const l of this.listeners) l.close();
    this.front?.forceClose();
    this.server.forceShutdown();
  }
}
