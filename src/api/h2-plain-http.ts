/**
 * Plain HTTP over HTTP/2 on the client port: requests that are not gRPC (no
 * `application/grpc*` content-type) go to the same handler as HTTP/1.x requests (the JSON
 * gateway, /metrics, /health, /version), as etcd's client port serves both on one listener.
 *
 * Why: over TLS, ALPN offers `h2` first and curl (like most HTTP clients) takes it, so
 * `curl --cacert ca.pem https://host:2379/v3/kv/range` arrives as HTTP/2. Without this, grpc-js
 * answers such a stream 415 (unsupported media type) and the gateway is unreachable over TLS
 * for every client that speaks HTTP/2. Plaintext HTTP/2 with prior knowledge is routed too.
 *
 * The handler gets Node's HTTP/2 compatibility objects (Http2ServerRequest/Response), which
 * offer the request/response surface the handlers use (method, url, headers, body events;
 * statusCode, setHeader, write, end, addTrailers).
 */
import * as http2 from 'node:http2';
import type * as http from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';

/** A request handler written for node:http (the client port's HTTP front). */
export type PlainHttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** The grpc-js internals read here (grpc-js 1.14): its HTTP/2 servers. */
interface GrpcHttp2Servers {
  readonly http2Servers: Map<http2.Http2Server, unknown>;
}

/**
 * Puts `take` in front of the 'stream' listeners of every HTTP/2 server grpc-js has created so
 * far (call after createConnectionInjector): `take` returns true when it served the stream,
 * false to pass it on to the listeners that were there before (grpc-js, or an earlier hook).
 */
export function hookGrpcStreams(
  server: grpc.Server,
  take: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[]) => boolean,
): void {
  const internals = server as unknown as GrpcHttp2Servers;
  assert(internals.http2Servers instanceof Map, 'grpc-js internals changed: no http2Servers map');
  for (const h2 of internals.http2Servers.keys()) {
    const previous = h2.listeners('stream') as ((...args: unknown[]) => void)[];
    assert(previous.length > 0, 'grpc-js internals changed: no stream listener');
    h2.removeAllListeners('stream');
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (take(stream, headers, rawHeaders)) return;
      for (const l of previous) l.call(h2, stream, headers, flags, rawHeaders);
    });
  }
}

/** Whether a stream with these headers is a gRPC call (grpc-js's own test). */
export function isGrpcRequest(headers: http2.IncomingHttpHeaders): boolean {
  const contentType = headers['content-type'];
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/**
 * Routes the non-gRPC streams of every HTTP/2 server grpc-js has created so far to
 * `handler()`; while it returns null, they go to grpc-js as before (which answers 415).
 * Call after createConnectionInjector (and after any other stream hook).
 */
export function routePlainHttp2(server: grpc.Server, handler: () => PlainHttpHandler | null): void {
  hookGrpcStreams(server, (stream, headers, rawHeaders) => {
    const h = isGrpcRequest(headers) ? null : handler();
    if (h === null) return false;
    const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
    const res = new http2.Http2ServerResponse(stream);
    h(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
    return true;
  });
}
