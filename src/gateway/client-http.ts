/**
 * The HTTP/1.x server of the client port, in front of the gateway, doing what etcd 3.4's
 * access controller and mux do for every plain HTTP request (embed/serve.go):
 *
 * 1. `/v3beta/...` is rewritten to `/v3/...` (backward compatibility; `/v3alpha/` is not).
 * 2. CORS headers are added (etcd's default `--cors=*`); OPTIONS is answered 200 at once.
 * 3. The observability endpoints (`/metrics`, `/health`, `/version`, ...) get the request
 *    first, when a handler for them is given.
 * 4. Paths under `/v3/` go to the gateway; anything else is Go's "404 page not found".
 *
 * Not done: etcd's --host-whitelist check (its default "*" accepts every host) and the
 * websocket form of the streaming calls.
 */
import * as http from 'node:http';
import { GATEWAY_LEGACY_PREFIX } from '../etcdpb';
import type { Gateway } from './gateway';
import { sendPlain } from './http-status';

/**
 * Serves the request and returns true when it is one of its paths; returns false, having
 * written nothing, otherwise.
 */
export type ObservabilityHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** What the front serves. */
export interface ClientHttpOptions {
  /** The gateway; absent with --enable-grpc-gateway=false (then `/v3/` is a 404 too). */
  readonly gateway?: Gateway;
  /** /metrics, /health, /version (src/metrics), offered each request before the gateway. */
  readonly observability?: ObservabilityHandler;
}

/** The request's path with etcd's `/v3beta/` rewrite applied; the query is dropped. */
export function routedPath(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const p = q < 0 ? raw : raw.slice(0, q);
  return p.startsWith(GATEWAY_LEGACY_PREFIX) ? '/v3/' + p.slice(GATEWAY_LEGACY_PREFIX.length) : p;
}

/** The request handler of the front (exported for tests). */
export function clientHttpHandler(opts: ClientHttpOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const p = routedPath(req.url);
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
    if (req.method === 'OPTIONS') {
      res.statusCode = 200;
      res.end();
      return;
    }
    if (opts.observability?.(req, res) === true) return;
    if (p.startsWith('/v3/') && opts.gateway !== undefined) return opts.gateway.handle(req, res, p);
    sendPlain(res, 404, '404 page not found');
  };
}

/**
 * An http.Server that is never bound: the client listener hands it the connections that
 * speak HTTP/1.x (`server.emit('connection', socket)`, see api/h2-authority.ts).
 * Request time limits are off: a watch over HTTP may stream for hours.
 */
export function clientHttpServer(opts: ClientHttpOptions): http.Server {
  const server = http.createServer({ requestTimeout: 0 }, clientHttpHandler(opts));
  server.headersTimeout = 60_000;
  return server;
}
