/**
 * A lighter transport for the hot unary calls (KV Range, Put, DeleteRange, Txn): the HTTP/2
 * streams of those methods are taken from grpc-js's HTTP/2 server before grpc-js sees them
 * and served here; every other stream goes to grpc-js untouched.
 *
 * Why: under load most of a put's CPU went to grpc-js's per-call machinery (interceptor
 * chain, call state machine, stream decoder, read queue with a promise per message, status
 * objects) rather than to the store. This file does the same protocol work with one object
 * per call.
 *
 * What stays identical, by construction: the handler run is the one grpc-js registered for
 * the path (`server.handlers`), i.e. the full chain of wrappers the server added (metrics,
 * learner and leader guards, auth, request checks), with its codecs (size recording, byte
 * metrics). The call object handed to it has what those wrappers read: `request`,
 * `metadata` (built by grpc-js's own Metadata.fromHttp2Headers, minus the transport headers
 * grpc-js removes), `getPeer()`, `getAuthContext()`, `getDeadline()`, and `call.stream` (the
 * HTTP/2 stream, which tls-identity.ts follows to the connection). The protocol answers copy
 * grpc-js 1.14's server (server.js handleUnary, server-interceptors.js): the same statuses
 * and messages for a missing or second request message, a message over the receive limit, an
 * undecodable request, a handler that throws, a response over the send limit, an expired or
 * malformed grpc-timeout; a success is response headers, one message, trailers; a failure
 * before any message is a trailers-only response. One difference: no `date` header (grpc-js
 * sends Node's; etcd's grpc-go sends none, and it costs a header on every answer).
 *
 * Not taken (left to grpc-js): other methods, a content-type that is not application/grpc*
 * (grpc-js answers 415), and a request with a grpc-encoding other than identity
 * (decompression lives there).
 */
import { EventEmitter } from 'node:events';
import type * as http2 from 'node:http2';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';
import { hookGrpcStreams, isGrpcRequest } from './h2-plain-http';
import { serializerParts } from './range-passthrough';

/** The KV methods served here. */
export const FAST_UNARY_PATHS: readonly string[] = [
  '/etcdserverpb.KV/Range',
  '/etcdserverpb.KV/Put',
  '/etcdserverpb.KV/DeleteRange',
  '/etcdserverpb.KV/Txn',
];

/** What grpc-js keeps per registered method (server.js `handlers`). */
interface RegisteredHandler {
  readonly func: (call: unknown, callback: grpc.sendUnaryData<unknown>) => void;
  readonly serialize: (value: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly type: string;
  readonly path: string;
}

/** The grpc-js internals read here (grpc-js 1.14); checked at install so a change fails loudly. */
interface GrpcServerInternals {
  readonly handlers: Map<string, RegisteredHandler>;
  onStreamOpened?(stream: http2.ServerHttp2Stream): void;
}

/** Limits, as the grpc-js server was given them. */
export interface FastPathLimits {
  /** grpc.max_receive_message_length. */
  readonly maxReceiveBytes: number;
  /** grpc.max_send_message_length. */
  readonly maxSendBytes: number;
}

const GRPC_MESSAGE_HEADER_BYTES = 5;
/** grpc-js's DEADLINE_REGEX and units (server-interceptors.js). */
const DEADLINE_REGEX = /(\d{1,8})\s*([HMSmun])/;
const DEADLINE_UNIT_MS: Record<string, number> = { H: 3600000, M: 60000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
/** Headers grpc-js strips before the handler sees the metadata. */
const TRANSPORT_HEADERS = ['grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'te', 'content-type'];
/** grpc-js's GRPC_NODE_DEBUG_SEND_ERROR_DETAILS (environment.js), read the same way. */
const SEND_ERROR_DETAILS = (process.env['GRPC_NODE_DEBUG_SEND_ERROR_DETAILS'] ?? 'false') === 'true';

/** The headers of a successful response, in grpc-js's order. */
const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};

/** respond() options; `sendDate` is Node's (processHeaders), missing from its typings. */
const STATUS_ONLY = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;
const WITH_TRAILERS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;

/** grpc-js keeps a text value only when it is printable ASCII (metadata.js validate). */
const LEGAL_TEXT = /^[ -~]*$/;

/** A header value grpc-js's Metadata holds exactly as sent: one printable ASCII string. */
function isPlainText(v: string | string[] | undefined): v is string {
  return typeof v === 'string' && LEGAL_TEXT.test(v);
}

let servedCalls = 0;

/** How many calls the fast path has taken in this process (tests check it is in use). */
export function fastPathServedCalls(): number {
  return servedCalls;
}

interface Status {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata | null;
}

/**
 * Takes the streams of `paths` on every HTTP/2 server grpc-js has created so far (the
 * connection injector's) and serves them here; call it right after createConnectionInjector.
 * Methods of `paths` must be registered unary methods.
 */
export function installUnaryFastPath(server: grpc.Server, limits: FastPathLimits, paths: readonly string[] = FAST_UNARY_PATHS): void {
  const internals = server as unknown as GrpcServerInternals;
  assert(internals.handlers instanceof Map, 'grpc-js internals changed: no handlers map');
  const fast = new Map<string, RegisteredHandler>();
  for (const p of paths) {
    const h = internals.handlers.get(p);
    assert(h !== undefined && h.type === 'unary', `fast path: ${p} is not a registered unary method`);
    fast.set(p, h);
  }
  hookGrpcStreams(server, (stream, headers) => {
    const h = fast.get(headers[':path'] as string);
    if (h === undefined || !takes(headers)) return false;
    internals.onStreamOpened?.(stream); // grpc-js's idle-connection accounting
    servedCalls++;
    serveUnary(stream, headers, h, limits);
    return true;
  });
}

/** Whether the fast path serves a stream with these headers (see the file comment). */
function takes(headers: http2.IncomingHttpHeaders): boolean {
  if (!isGrpcRequest(headers)) return false;
  const encoding = headers['grpc-encoding'];
  return encoding === undefined || encoding === 'identity';
}

/** The call object the registered handler chain sees (a grpc-js ServerUnaryCall's surface). */
export class FastUnaryCall extends EventEmitter {
  cancelled = false;
  request: unknown = null;
  /** tls-identity.ts follows call.call.stream.session.socket to the connection. */
  readonly call: { readonly stream: http2.ServerHttp2Stream };

  private built: grpc.Metadata | null = null;

  constructor(
    private readonly path: string,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly deadline: number,
    private readonly host: string | undefined,
  ) {
    super();
    this.call = { stream };
  }

  /** The request's metadata as grpc-js builds it, made on first use (most calls never ask). */
  get metadata(): grpc.Metadata {
    if (this.built === null) {
      const md = grpc.Metadata.fromHttp2Headers(this.headers);
      for (const k of TRANSPORT_HEADERS) md.remove(k);
      this.built = md;
    }
    return this.built;
  }

  /**
   * metadata.get(key)[0] without building the metadata (call.ts MetadataPeek), for the plain
   * case: a text key sent once. A binary key, a repeated or comma-joined value, or a transport
   * header take the metadata itself, so the answer is always grpc-js's.
   */
  metadataValue(key: string): string | Buffer | undefined {
    const v = this.headers[key];
    if (v === undefined) return undefined;
    if (isPlainText(v) && !key.endsWith('-bin') && !TRANSPORT_HEADERS.includes(key) && !key.startsWith(':')) return v;
    return this.metadata.get(key)[0];
  }

  getPeer(): string {
    const socket = this.stream.session?.socket;
    if (socket?.remoteAddress) return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : socket.remoteAddress;
    return 'unknown';
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPath(): string {
    return this.path;
  }

  getHost(): string | undefined {
    return this.host;
  }

  /** grpc-js's answer: the verified peer certificate of a TLS connection, else {}. */
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: tls.PeerCertificate } {
    const session = this.stream.session;
    // Plaintext (the common case, asked on every call by the auth guard) is known from the
    // session itself, without the costly look through its socket proxy.
    if (session === undefined || session.encrypted !== true) return {};
    const socket = session.socket;
    if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return {};
    const cert = socket.getPeerCertificate();
    return cert.raw ? { transportSecurityType: 'ssl', sslPeerCertificate: cert } : { transportSecurityType: 'ssl' };
  }

  sendMetadata(): void {
    // Unary handlers here never send headers early; the response carries them.
  }
}

/**
 * Serves one unary call on `stream`. Order (as grpc-js): headers checked, the request read to
 * END_STREAM, the handler run, then one answer; whatever comes first of the answer, the
 * deadline or the client's reset ends the call, and later outcomes are dropped.
 */
function serveUnary(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, h: RegisteredHandler, limits: FastPathLimits): void {
  // An error event is always followed by close, which is where the call ends.
  stream.once('error', () => undefined);
  let done = false;
  /** Set once an answer has begun (headers sent): nothing later may start another. */
  let answered = false;
  let call: FastUnaryCall | null = null;
  let timer: NodeJS.Timeout | null = null;

  const finish = (): void => {
    done = true;
    if (timer !== null) clearTimeout(timer);
    // grpc-js marks a started call cancelled and emits 'cancelled' whenever it ends, answered
    // or not (notifyOnCancel); handlers may rely on either, so the same happens here.
    // Without a listener (the KV handlers have none) only the flag is left to set.
    if (call !== null) {
      const c = call;
      if (c.listenerCount('cancelled') === 0) c.cancelled = true;
      else
        process.nextTick(() => {
          c.cancelled = true;
          c.emit('cancelled', 'cancelled');
        });
    }
    // Unread request bytes are flushed, as grpc-js does.
    stream.resume();
  };
  const live = (): boolean => {
    if (!done && (stream.destroyed || stream.closed)) finish();
    return !done;
  };
  const sendStatus = (s: Status): void => {
    if (!live() || answered) return;
    answered = true;
    const trailers: http2.OutgoingHttpHeaders = {
      'grpc-status': s.code,
      'grpc-message': encodeURI(s.details),
      ':status': 200,
      'content-type': 'application/grpc+proto',
    };
    if (s.metadata !== null) Object.assign(trailers, s.metadata.toHttp2Headers());
    stream.respond(trailers, STATUS_ONLY);
    finish();
  };
  const respond: grpc.sendUnaryData<unknown> = (err, value, trailer) => {
    if (!live() || answered) return;
    if (err) {
      sendStatus(serverErrorToStatus(err, trailer));
      return;
    }
    // A large reply comes as parts (range-passthrough.ts): sent in order behind the prefix,
    // never gathered into one buffer.
    let parts: readonly Buffer[];
    try {
      parts = serializerParts(h.serialize)?.(value) ?? [h.serialize(value)];
    } catch (e) {
      sendStatus({ code: grpc.status.INTERNAL, details: SEND_ERROR_DETAILS ? `Error serializing response: ${errorMessage(e)}` : 'Error serializing response', metadata: null });
      return;
    }
    let bodyBytes = 0;
    for (const p of parts) bodyBytes += p.length;
    if (limits.maxSendBytes !== -1 && bodyBytes > limits.maxSendBytes) {
      sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${bodyBytes + GRPC_MESSAGE_HEADER_BYTES} vs. ${limits.maxSendBytes})`, metadata: null });
      return;
    }
    const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': grpc.status.OK, 'grpc-message': 'OK' };
    if (trailer !== undefined && trailer !== null) Object.assign(trailers, trailer.toHttp2Headers());
    // From here the answer is committed: a deadline that fires before the trailers go out (the
    // body is still being flushed) must not start a second response on the stream.
    answered = true;
    if (timer !== null) clearTimeout(timer);
    stream.respond(RESPONSE_HEADERS, WITH_TRAILERS);
    stream.once('wantTrailers', () => {
      stream.sendTrailers(trailers);
      finish();
    });
    if (bodyBytes <= GATHER_MAX_BYTES) {
      stream.end(framed(parts, bodyBytes));
      return;
    }
    const prefix = Buffer.allocUnsafe(GRPC_MESSAGE_HEADER_BYTES);
    prefix[0] = 0;
    prefix.writeUInt32BE(bodyBytes, 1);
    stream.cork();
    stream.write(prefix);
    for (const p of parts) if (p.length > 0) stream.write(p);
    stream.end(); // uncorks: the parts go out in one writev
  };

  // grpc-timeout as grpc-js reads it (its first value, through Metadata when unusual).
  const rawTimeout = headers['grpc-timeout'];
  const timeout = rawTimeout === undefined ? [] : isPlainText(rawTimeout) ? [rawTimeout] : grpc.Metadata.fromHttp2Headers(headers).get('grpc-timeout');
  let deadline = Infinity;
  if (timeout.length > 0) {
    const text = String(timeout[0]);
    const m = DEADLINE_REGEX.exec(text);
    if (m === null) {
      process.nextTick(() => sendStatus({ code: grpc.status.INTERNAL, details: `Invalid grpc-timeout value "${text}"`, metadata: null }));
    } else {
      const ms = (Number(m[1]) * (DEADLINE_UNIT_MS[m[2] as string] as number)) | 0;
      deadline = Date.now() + ms;
      timer = setTimeout(() => sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: null }), ms);
    }
  }
  const host = (headers[':authority'] ?? headers.host) as string | undefined;

  // Request framing: 1 byte compressed flag, 4 bytes big-endian length, the message. The
  // flag is ignored: without grpc-encoding (or with identity) grpc-js reads the bytes as-is.
  const chunks: Buffer[] = [];
  let buffered = 0;
  let message: Buffer | null = null;
  stream.on('data', (data: Buffer) => {
    if (!live()) return;
    chunks.push(data);
    buffered += data.length;
    while (buffered >= GRPC_MESSAGE_HEADER_BYTES) {
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
      const size = all.readUInt32BE(1);
      if (limits.maxReceiveBytes !== -1 && size > limits.maxReceiveBytes) {
        sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${size} vs ${limits.maxReceiveBytes})`, metadata: null });
        return;
      }
      if (buffered < GRPC_MESSAGE_HEADER_BYTES + size) {
        chunks.length = 0;
        chunks.push(all);
        return;
      }
      if (message !== null) {
        sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${h.path}`, metadata: null });
        return;
      }
      message = all.subarray(GRPC_MESSAGE_HEADER_BYTES, GRPC_MESSAGE_HEADER_BYTES + size);
      const rest = all.subarray(GRPC_MESSAGE_HEADER_BYTES + size);
      chunks.length = 0;
      buffered = rest.length;
      if (buffered > 0) chunks.push(rest);
    }
  });
  stream.on('end', () => {
    if (!live()) return;
    if (message === null) {
      sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${h.path}`, metadata: null });
      return;
    }
    let request: unknown;
    try {
      request = h.deserialize(message);
    } catch (e) {
      sendStatus({ code: grpc.status.INTERNAL, details: SEND_ERROR_DETAILS ? `Error deserializing request: ${errorMessage(e)}` : 'Error deserializing request', metadata: null });
      return;
    }
    call = new FastUnaryCall(h.path, headers, stream, deadline, host);
    call.request = request;
    try {
      h.func(call, respond);
    } catch (e) {
      sendStatus({ code: grpc.status.UNKNOWN, details: SEND_ERROR_DETAILS ? `Server method handler threw error ${errorMessage(e)}` : 'Unknown error', metadata: null });
    }
  });
  stream.on('close', () => {
    if (!done) finish();
  });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** grpc-js's serverErrorToStatus (server-call.js). */
function serverErrorToStatus(error: Partial<grpc.ServiceError>, overrideTrailers?: grpc.Metadata | null): Status {
  const metadata = overrideTrailers ?? error.metadata ?? null;
  if (typeof error.code === 'number' && Number.isInteger(error.code)) {
    return { code: error.code, details: typeof error.details === 'string' ? error.details : 'message' in error ? String(error.message) : 'Unknown Error', metadata };
  }
  return { code: grpc.status.UNKNOWN, details: 'message' in error ? String(error.message) : 'Unknown Error', metadata };
}

/**
 * Replies up to this size are gathered behind their prefix into one buffer (one write);
 * larger ones go out part by part (a copy of them would cost the event loop ~9 ms per MiB).
 */
const GATHER_MAX_BYTES = 64 * 1024;

/** `parts` (`bytes` long in all) behind gRPC's 5-byte message prefix (uncompressed), in one new buffer. */
function framed(parts: readonly Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes + GRPC_MESSAGE_HEADER_BYTES);
  out[0] = 0;
  out.writeUInt32BE(bytes, 1);
  let at = GRPC_MESSAGE_HEADER_BYTES;
  for (const p of parts) at += p.copy(out, at);
  return out;
}
