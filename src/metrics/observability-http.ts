/**
 * The observability paths etcd serves over HTTP/1.1: `/metrics` (Prometheus text format),
 * `/health` and `/version`, on the client port (next to the gateway) and on each
 * `--listen-metrics-urls` listener. Paths match exactly, as Go's ServeMux patterns do
 * (`/metrics/x` is not served); a query string is allowed.
 *
 * Replies as etcd 3.4 does:
 * - /metrics: any method; `text/plain; version=0.0.4; charset=utf-8`; gzip when asked.
 * - /health: GET only (else 405 "Method Not Allowed" with Allow: GET); 200 `{"health":"true"}`
 *   or 503 `{"health":"false"}` + newline (Go's http.Error); counts etcd_server_health_*.
 * - /version: GET only; `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`, "not_decided" while
 *   the cluster has no version.
 * On the client port etcd adds its CORS headers to every reply; the metrics listener does not,
 * and serves no /version (etcd's metrics mux has only /metrics and /health).
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { assert } from '../pkg';
import { checkHealth, type HealthSource } from './health';
import { EXPOSITION_CONTENT_TYPE, type Counter, type Registry } from './registry';

/** What the paths read. */
export interface ObservabilitySource {
  readonly registry: Registry;
  /** The member to check for /health. */
  readonly health: HealthSource;
  /** etcd_server_health_success / etcd_server_health_failures. */
  readonly healthCounters: { readonly success: Counter; readonly failures: Counter };
  /** The member's server version and the cluster's version (null until decided). */
  versions(): { readonly server: string; readonly cluster: string | null };
  /** Where failed health checks are logged (etcd warns on each). */
  readonly warn?: (msg: string) => void;
}

/** Serves one request if its path is an observability path; returns whether it did. */
export type ObservabilityHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** The paths served, exactly. */
export const OBSERVABILITY_PATHS: readonly string[] = ['/metrics', '/health', '/version'];

const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
};

/** Options of the handler. */
export interface ObservabilityOptions {
  /** Add etcd's client-port CORS headers (true on the client port, false on metrics URLs). */
  readonly cors: boolean;
  /** Serve /version (the client port does; a metrics URL does not). */
  readonly version: boolean;
}

/** Builds the handler over `src`. */
export function observabilityHandler(src: ObservabilitySource, opts: ObservabilityOptions): ObservabilityHandler {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!OBSERVABILITY_PATHS.includes(path) || (path === '/version' && !opts.version)) return false;
    if (opts.cors) for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    if (path === '/metrics') serveMetrics(src, req, res);
    else if (path === '/health') serveHealth(src, req, res, q < 0 ? '' : url.slice(q + 1));
    else serveVersion(src, req, res);
    return true;
  };
}

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
function httpError(res: http.ServerResponse, status: number, message: string): void {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.writeHead(status);
  res.end(`${message}\n`);
}

function onlyGet(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.method === 'GET') return true;
  res.setHeader('Allow', 'GET');
  httpError(res, 405, 'Method Not Allowed');
  return false;
}

function serveMetrics(src: ObservabilitySource, req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = Buffer.from(src.registry.expose());
  res.setHeader('Content-Type', EXPOSITION_CONTENT_TYPE);
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    res.setHeader('Content-Encoding', 'gzip');
    res.writeHead(200);
    res.end(zlib.gzipSync(body));
    return;
  }
  res.setHeader('Content-Length', body.length);
  res.writeHead(200);
  res.end(body);
}

/** The alarm names of every `exclude` parameter (etcd's getExcludedAlarms). */
export function excludedAlarms(query: string): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of new URLSearchParams(query)) if (k === 'exclude') out.add(v);
  return out;
}

function serveHealth(src: ObservabilitySource, req: http.IncomingMessage, res: http.ServerResponse, query: string): void {
  if (!onlyGet(req, res)) return;
  void checkHealth(src.health, excludedAlarms(query)).then((failure) => {
    if (failure === null) {
      src.healthCounters.success.inc();
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.writeHead(200);
      res.end('{"health":"true"}');
      return;
    }
    src.healthCounters.failures.inc();
    src.warn?.(`/health error; ${failure.reason} (status code 503)`);
    httpError(res, 503, '{"health":"false"}');
  });
}

function serveVersion(src: ObservabilitySource, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!onlyGet(req, res)) return;
  const v = src.versions();
  res.setHeader('Content-Type', 'application/json');
  res.writeHead(200);
  res.end(JSON.stringify({ etcdserver: v.server, etcdcluster: v.cluster ?? 'not_decided' }));
}

/**
 * One `--listen-metrics-urls` listener: an HTTP server answering only the observability
 * paths (404 for anything else). Resolves with the bound port once listening.
 */
export class MetricsListener {
  private readonly server: http.Server;

  constructor(handler: ObservabilityHandler) {
    this.server = http.createServer((req, res) => {
      if (!handler(req, res)) httpError(res, 404, '404 page not found');
    });
  }

  /** Listens on `host:port` (port 0: any free port); resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    assert(Number.isSafeInteger(port) && port >= 0 && port <= 65535, `metrics port ${port}`);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops listening and closes idle and active connections. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
