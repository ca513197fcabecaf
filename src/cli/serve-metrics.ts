/**
 * The observability side of `floe` serve: `--metrics basic|extensive` and
 * `--listen-metrics-urls` (etcd's extra listeners answering only /metrics and /health), and
 * the one Registry the member, the gRPC server and the process collector record into.
 */
import { isIP } from 'node:net';
import {
  createEtcdMetrics,
  GrpcMetrics,
  MetricsListener,
  observabilityHandler,
  registerProcessMetrics,
  Registry,
  type EtcdMetrics,
  type HealthSource,
  type ObservabilityHandler,
} from '../metrics';
import type { GrpcServerOptions } from '../api';
import type { FlagValue } from './etcd-flags';
import type { ServeLogger } from './log';

/** What the two flags ask for. */
export interface MetricsSettings {
  /** `--metrics extensive`: also gRPC handling-time histograms. */
  readonly extensive: boolean;
  /** `--listen-metrics-urls`, split for binding. */
  readonly listenUrls: readonly { readonly url: string; readonly host: string; readonly port: number }[];
}

/** Reads the flags' values; a string is why they are refused (etcd's wording where it has one). */
export function metricsSettings(values: ReadonlyMap<string, FlagValue>): MetricsSettings | string {
  const level = values.get('metrics');
  const raw = values.get('listen-metrics-urls');
  const urls = Array.isArray(raw) ? (raw as readonly string[]) : typeof raw === 'string' && raw !== '' ? raw.split(',') : [];
  const listenUrls: { url: string; host: string; port: number }[] = [];
  for (const u of urls) {
    const m = /^(\w+):\/\/(\[[^\]]*\]|[^:/]*):(\d+)\/?$/.exec(u);
    if (m === null) return `bad listen-metrics-urls URL ${u}: want http://IP:port`;
    if (m[1] !== 'http') return `listen-metrics-urls ${u}: only http:// metrics URLs are supported by Floe yet`;
    const host = (m[2] as string).replace(/^\[|\]$/g, '');
    if (host !== 'localhost' && isIP(host) === 0) return `expected IP in URL for binding (${u})`;
    const port = Number(m[3]);
    if (port > 65535) return `bad listen-metrics-urls URL ${u}: port out of range`;
    listenUrls.push({ url: u, host: host === 'localhost' ? '127.0.0.1' : host, port });
  }
  return { extensive: level === 'extensive', listenUrls };
}

/** The metrics of one served member, and the handlers over them. */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly etcd: EtcdMetrics;
  readonly grpc: GrpcMetrics;
  private readonly listeners: MetricsListener[] = [];

  constructor(readonly settings: MetricsSettings) {
    this.etcd = createEtcdMetrics(this.registry);
    this.grpc = new GrpcMetrics(this.registry, settings.extensive);
    registerProcessMetrics(this.registry);
  }

  /** What EtcdGrpcServer records into. */
  get grpcOptions(): NonNullable<GrpcServerOptions['metrics']> {
    const n = this.etcd.network;
    return { grpc: this.grpc, bytes: { sent: n.clientGrpcSentBytes, received: n.clientGrpcReceivedBytes, requests: this.etcd.server.clientRequests } };
  }

  /**
   * The /metrics, /health, /version handler over `member`: `clientPort` true for the client
   * port (CORS headers, /version), false for a metrics URL (/metrics and /health only).
   */
  handler(member: HealthSource, clusterVersion: () => string | null, serverVersion: string, log: ServeLogger, clientPort: boolean): ObservabilityHandler {
    return observabilityHandler(
      {
        registry: this.registry,
        health: member,
        healthCounters: { success: this.etcd.server.healthSuccess, failures: this.etcd.server.healthFailures },
        versions: () => ({ server: serverVersion, cluster: clusterVersion() }),
        warn: (msg) => log.log('W', 'etcdserver/api/etcdhttp', msg),
      },
      { cors: clientPort, version: clientPort },
    );
  }

  /** Listens on every --listen-metrics-urls URL; logs each as etcd does. Throws on a bind error. */
  async listen(handler: ObservabilityHandler, log: ServeLogger): Promise<void> {
    for (const u of this.settings.listenUrls) {
      const l = new MetricsListener(handler);
      const port = await l.listen(u.host, u.port);
      this.listeners.push(l);
      const where = u.host.includes(':') ? `[${u.host}]` : u.host;
      log.log('I', 'embed', `listening for metrics on http://${where}:${port}`);
    }
  }

  /** Closes the metrics listeners. */
  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
  }
}
