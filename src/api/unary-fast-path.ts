/**
 * The hot unary calls (KV Range, Put, DeleteRange, Txn) served without grpc-js: the client
 * port's own HTTP/2 front (h2-front.ts) hands their streams here, every other stream goes on
 * to grpc-js.
 *
 * Why: under load most of a put's CPU went to grpc-js's per-call machinery (interceptor
 * chain, call state machine, stream decoder, read queue with a promise per message, status
 * objects) and to Node's HTTP/2 streams rather than to the store. This file does the same
 * protocol work with one object per call.
 *
 * What stays identical, by construction: the handler run is the one grpc-js registered for
 * the path (`server.handlers`), i.e. the full chain of wrappers the server added (metrics,
 * learner and leader guards, auth, request checks), with its codecs (size recording, byte
 * metrics). The call object handed to it has what those wrappers read: `request`,
 * `metadata` (built by grpc-js's own Metadata.fromHttp2Headers, minus the transport headers
 * grpc-js removes), `getPeer()`, `getAuthContext()` and `getDeadline()`. The protocol answers
 * copy grpc-js 1.14's server (server.js handleUnary, server-interceptors.js): the same
 * statuses and messages for a missing or second request message, a message over the receive
 * limit, an undecodable request, a handler that throws, a response over the send limit, an
 * expired or malformed grpc-timeout; a success is response headers, one message, trailers; a
 * failure before any message is a trailers-only response. One difference: no `date` header
 * (grpc-js sends Node's; etcd's grpc-go sends none, and it costs a header on every answer).
 *
 * Not taken (left to grpc-js): other methods, a content-type that is not application/grpc*
 * (grpc-js answers 415), and a request with a grpc-encoding other than identity
 * (decompression lives there).
 */
import { EventEmitter } from 'node:events';
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';
import { isGrpcRequest } from './h2-plain-http';
import { serializerParts, serializerRelease } from './range-passthrough';

/** The KV methods served here. */
export const FAST_UNARY_PATHS: readonly string[] = [
  '/etcdserverpb.KV/Range',
  '/etcdserverpb.KV/Put',
  '/etcdserverpb.KV/DeleteRange',
  '/etcdserverpb.KV/Txn',
];

/** What grpc-js keeps per registered method (server.js `handlers`). */
export interface RegisteredHandler {
  readonly func: (call: unknown, callback: grpc.sendUnaryData<unknown>) => void;
  readonly serialize: (value: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly type: string;
  readonly path: string;
}

/** The grpc-js internals read here (grpc-js 1.14); checked at install so a change fails loudly. */
interface GrpcServerInternals {
  readonly handlers: Map<string, RegisteredHandler>;
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

/** A call's outcome when it is not a message: grpc-status, grpc-message and trailing metadata. */
export interface Status {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata | null;
}

/** Where a fast call's answer goes (one per call; at most one of its methods is called, once). */
export interface UnaryReply {
  /** A trailers-only response carrying `s`. */
  status(s: Status): void;
  /**
   * Response headers, one message made of `parts` (`bodyBytes` in all, sent in order behind
   * gRPC's 5-byte prefix), then trailers: grpc-status 0, grpc-message OK and `trailer`.
   * `release`, when given, is called once the parts' bytes have left (or were dropped): their
   * memory is lent (range-passthrough.ts PartsSerializer.release).
   */
  message(parts: readonly Buffer[], bodyBytes: number, trailer: grpc.Metadata | null, release?: () => void): void;
}

/** What the transport tells a started call: request bytes, their end, or the stream's end. */
export interface UnaryCallInput {
  /** Request bytes (a DATA frame's content). */
  data(bytes: Buffer): void;
  /** The client's END_STREAM. */
  end(): void;
  /** The stream is gone (reset by the client, or its connection closed): later answers are dropped. */
  gone(): void;
}

/** The registered unary handlers served here, by path, read from grpc-js's `handlers`. */
export type FastHandlers = ReadonlyMap<string, RegisteredHandler>;

/**
 * The handlers of `paths` as grpc-js registered them on `server` (with every wrapper it was
 * given); each must be a registered unary method.
 */
export function fastHandlers(server: grpc.Server, paths: readonly string[] = FAST_UNARY_PATHS): FastHandlers {
  const internals = server as unknown as GrpcServerInternals;
  assert(internals.handlers instanceof Map, 'grpc-js internals changed: no handlers map');
  const fast = new Map<string, RegisteredHandler>();
  for (const p of paths) {
    const h = internals.handlers.get(p);
    assert(h !== undefined && h.type === 'unary', `fast path: ${p} is not a registered unary method`);
    fast.set(p, h);
  }
  return fast;
}

/** The handler serving a stream with these headers here, or undefined (see the file comment). */
export function fastHandlerFor(handlers: FastHandlers, headers: http2.IncomingHttpHeaders): RegisteredHandler | undefined {
  const h = handlers.get(headers[':path'] as string);
  if (h === undefined || !isGrpcRequest(headers)) return undefined;
  const encoding = headers['grpc-encoding'];
  return encoding === undefined || encoding === 'identity' ? h : undefined;
}

/** The call object the registered handler chain sees (a grpc-js ServerUnaryCall's surface). */
export class FastUnaryCall extends EventEmitter {
  cancelled = false;
  request: unknown = null;

  private built: grpc.Metadata | null = null;

  constructor(
    private readonly path: string,
    private readonly headers: http2.IncomingHttpHeaders,
    /** The client's connection: a TLSSocket when it came over TLS. */
    private readonly socket: net.Socket | null,
    private readonly deadline: number,
    private readonly host: string | undefined,
  ) {
    super();
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
    const socket = this.socket;
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
    const socket = this.socket;
    if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return {};
    const cert = socket.getPeerCertificate();
    return cert.raw ? { transportSecurityType: 'ssl', sslPeerCertificate: cert } : { transportSecurityType: 'ssl' };
  }

  sendMetadata(): void {
    // Unary handlers here never send headers early; the response carries them.
  }
}

/**
 * Starts one unary call whose request arrives through the returned input. Order (as grpc-js):
 * headers checked, the request read to END_STREAM, the handler run, then one answer to
 * `reply`; whatever comes first of the answer, the deadline or the stream's end ends the
 * call, and later outcomes are dropped.
 */
export function startUnary(
  reply: UnaryReply,
  headers: http2.IncomingHttpHeaders,
  h: RegisteredHandler,
  limits: FastPathLimits,
  socket: net.Socket | null,
): UnaryCallInput {
  servedCalls++;
  let done = false;
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
  };
  const sendStatus = (s: Status): void => {
    if (done) return;
    finish();
    reply.status(s);
  };
  const respond: grpc.sendUnaryData<unknown> = (err, value, trailer) => {
    if (done) {
      // Answered already (a deadline) or gone: memory lent to this answer is free again.
      if (!err && value !== undefined && value !== null) serializerRelease(h.serialize)?.(value)?.();
      return;
    }
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
    const release = serializerRelease(h.serialize)?.(value);
    let bodyBytes = 0;
    for (const p of parts) bodyBytes += p.length;
    if (limits.maxSendBytes !== -1 && bodyBytes > limits.maxSendBytes) {
      release?.();
      sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${bodyBytes + GRPC_MESSAGE_HEADER_BYTES} vs. ${limits.maxSendBytes})`, metadata: null });
      return;
    }
    finish();
    reply.message(parts, bodyBytes, trailer ?? null, release);
  };

  // grpc-timeout as grpc-js reads it (its first value, through Metadata when unusual).
  const rawTimeout = headers['grpc-timeout'];
  const timeout = rawTimeout === undefined ? [] : isPlainText(rawTimeout) ? [rawTimeout] : grpc.Metadata.fromHttp2Headers(headers).get('grpc-timeout');
  let deadline = Infinity;
  if (timeout.length > 0) {
    const text = String(timeout[0]);
    const m = DEADLINE_REGEX.exec(text);
    if (m === null) {
      sendStatus({ code: grpc.status.INTERNAL, details: `Invalid grpc-timeout value "${text}"`, metadata: null });
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
  return {
    data(bytes: Buffer): void {
      if (done) return;
      chunks.push(bytes);
      buffered += bytes.length;
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
    },
    end(): void {
      if (done) return;
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
      call = new FastUnaryCall(h.path, headers, socket, deadline, host);
      call.request = request;
      try {
        h.func(call, respond);
      } catch (e) {
        sendStatus({ code: grpc.status.UNKNOWN, details: SEND_ERROR_DETAILS ? `Server method handler threw error ${errorMessage(e)}` : 'Unknown error', metadata: null });
      }
    },
    gone(): void {
      if (!done) finish();
    },
  };
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
