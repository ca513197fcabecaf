/**
 * gRPC server metrics as etcd's interceptor (go-grpc-prometheus) records them: per method,
 * calls started, calls handled by final status code, messages received and sent (and, with
 * `--metrics extensive`, handling time), plus etcd's client byte counters
 * (etcd_network_client_grpc_{received,sent}_bytes_total).
 *
 * It wraps grpc-js's `addService`, so every service the server adds is counted and no
 * service can be forgotten: the definition's codecs count bytes (the decoder is handed the
 * request's bytes, the encoder returns the response's), and each handler is wrapped to count
 * its call. Every method's counters exist, at 0, from the moment its service is added.
 *
 * A call is counted handled once, with the first outcome seen: a unary call's callback (its
 * error's code, else OK); a stream's end() (OK), its 'error' (the error's code) or the
 * client cancelling it (Canceled).
 */
import type * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Counter, CounterVec } from '../metrics';
import type { GrpcMethodMetrics, GrpcMetrics, GrpcType } from '../metrics';
import { metadataValue } from './call';
import { serializerParts, serializerRelease, type PartsSerializer } from './range-passthrough';

/** Where the byte counts go, and etcd_server_client_requests_total (type, client_api_version). */
export interface ClientBytes {
  readonly sent: Counter;
  readonly received: Counter;
  readonly requests?: CounterVec;
}

/** etcd's metadata key naming the client's API version. */
const CLIENT_API_VERSION_KEY = 'client-api-version';

/** etcd_server_client_requests_total children by call type and version, looked up once each. */
class ClientRequests {
  private readonly unary = new Map<string, Counter>();
  private readonly stream = new Map<string, Counter>();
  constructor(private readonly vec: CounterVec) {}

  count(type: 'unary' | 'stream', call: unknown): void {
    const v = metadataValue(call, CLIENT_API_VERSION_KEY);
    const version = typeof v === 'string' ? v : 'unknown';
    const byVersion = type === 'unary' ? this.unary : this.stream;
    let c = byVersion.get(version);
    if (c === undefined) byVersion.set(version, (c = this.vec.labels(type, version)));
    c.inc();
  }
}

type AnyHandler = (call: unknown, callback?: unknown) => void;
type AnyMethod = grpc.MethodDefinition<unknown, unknown>;

/** CANCELLED, UNKNOWN: codes a call ends with when nothing else said. */
const CODE_OK = 0;
const CODE_CANCELLED = 1;
const CODE_UNKNOWN = 2;

function grpcType(m: AnyMethod): GrpcType {
  if (m.requestStream) return m.responseStream ? 'bidi_stream' : 'client_stream';
  return m.responseStream ? 'server_stream' : 'unary';
}

/** '/etcdserverpb.KV/Range' → ['etcdserverpb.KV', 'Range']. */
function splitPath(path: string): [string, string] {
  const at = path.lastIndexOf('/');
  return [path.slice(1, at), path.slice(at + 1)];
}

function codeOf(err: unknown): number {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' && c >= 0 && c <= 16 ? c : CODE_UNKNOWN;
}

/**
 * Makes every later `server.addService` count its calls into `metrics` and its bytes into
 * `bytes`. Call it before adding services.
 */
export function meterGrpcServer(server: grpc.Server, metrics: GrpcMetrics, bytes: ClientBytes): void {
  const add = server.addService.bind(server);
  const requests = bytes.requests === undefined ? null : new ClientRequests(bytes.requests);
  server.addService = (def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void => {
    const defOut: Record<string, AnyMethod> = {};
    const implOut: Record<string, AnyHandler> = {};
    for (const [name, m] of Object.entries(def as Record<string, AnyMethod>)) {
      const [service, method] = splitPath(m.path);
      const mm = metrics.method(grpcType(m), service, method);
      defOut[name] = meteredCodecs(m, bytes);
      const h = (impl as Record<string, AnyHandler>)[name];
      if (h !== undefined) implOut[name] = meteredHandler(m, mm, h, requests);
    }
    add(defOut as grpc.ServiceDefinition, implOut as grpc.UntypedServiceImplementation);
  };
}

function meteredCodecs(m: AnyMethod, bytes: ClientBytes): AnyMethod {
  const decode = m.requestDeserialize;
  const encode = m.responseSerialize;
  return {
    ...m,
    requestDeserialize: (b: Buffer): unknown => {
      bytes.received.inc(b.length);
      return decode(b);
    },
    responseSerialize: withParts(
      (v: unknown): Buffer => {
        const b = encode(v);
        bytes.sent.inc(b.length);
        return b;
      },
      serializerParts(encode),
      serializerRelease(encode),
      bytes,
    ),
  };
}

/** `serialize` keeping the parts form (and release taker) of the serializer it wraps, counted the same way. */
function withParts(
  serialize: (v: unknown) => Buffer,
  parts: ((v: unknown) => readonly Buffer[] | undefined) | undefined,
  release: ((v: unknown) => (() => void) | undefined) | undefined,
  bytes: ClientBytes,
): PartsSerializer<unknown> {
  if (parts === undefined) return serialize;
  return Object.assign(serialize, {
    release,
    parts: (v: unknown): readonly Buffer[] | undefined => {
      const p = parts(v);
      if (p !== undefined) {
        let n = 0;
        for (const b of p) n += b.length;
        bytes.sent.inc(n);
      }
      return p;
    },
  });
}

function meteredHandler(m: AnyMethod, mm: GrpcMethodMetrics, h: AnyHandler, requests: ClientRequests | null): AnyHandler {
  const hist = mm.handlingSeconds;
  if (!m.requestStream && !m.responseStream) {
    return (call, callback) => {
      mm.started.inc();
      requests?.count('unary', call);
      mm.received.inc();
      const t0 = hist === null ? 0 : performance.now();
      const cb = callback as grpc.sendUnaryData<unknown>;
      h(call, (err: grpc.ServiceError | null, value?: unknown, trailer?: grpc.Metadata, flags?: number) => {
        const code = err === null || err === undefined ? CODE_OK : codeOf(err);
        if (code === CODE_OK) mm.sent.inc();
        (mm.handled[code] as Counter).inc();
        if (hist !== null) hist.observe((performance.now() - t0) / 1000);
        cb(err, value, trailer, flags);
      });
    };
  }
  return (call, callback) => {
    mm.started.inc();
    requests?.count('stream', call);
    const t0 = hist === null ? 0 : performance.now();
    const stream = call as grpc.ServerDuplexStream<unknown, unknown>;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      (mm.handled[code] as Counter).inc();
      if (hist !== null) hist.observe((performance.now() - t0) / 1000);
    };
    if (m.requestStream) stream.on('data', () => mm.received.inc());
    else mm.received.inc();
    if (m.responseStream) {
      const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
      stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
        mm.sent.inc();
        return write(chunk, ...rest);
      }) as typeof stream.write;
      const end = stream.end.bind(stream) as (...args: unknown[]) => unknown;
      stream.end = ((...args: unknown[]) => {
        finish(CODE_OK);
        return end(...args);
      }) as typeof stream.end;
    }
    stream.on('error', (e: unknown) => finish(codeOf(e)));
    stream.on('cancelled', () => finish(CODE_CANCELLED));
    if (typeof callback === 'function') {
      // Client streaming: the callback carries the outcome, as for a unary call.
      const cb = callback as grpc.sendUnaryData<unknown>;
      return h(call, (err: grpc.ServiceError | null, value?: unknown, trailer?: grpc.Metadata, flags?: number) => {
        const code = err === null || err === undefined ? CODE_OK : codeOf(err);
        if (code === CODE_OK) mm.sent.inc();
        finish(code);
        cb(err, value, trailer, flags);
      });
    }
    return h(call);
  };
}
