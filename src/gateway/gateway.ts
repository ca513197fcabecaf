/**
 * etcd's JSON gateway: HTTP/1.1 POSTs on `/v3/...` turned into gRPC calls on the member's own
 * client listener, and the answers turned back into JSON.
 *
 * Like etcd's, this gateway is a gRPC client of its own server over loopback, so every guard
 * the server applies to gRPC clients (auth, learner, size limits, quotas, metrics) applies to
 * gateway requests unchanged; no handler logic is repeated here. What the gateway adds is the
 * translation: routes (GATEWAY_ROUTES), JSON <-> protobuf (proto-json.ts) and failures
 * (http-status.ts).
 *
 *   const gw = new Gateway({ target: () => `127.0.0.1:${port}`, maxRequestBytes });
 *   httpServer.on('request', (req, res) => gw.handle(req, res, path));
 *   ...
 *   gw.close();
 *
 * Order of a unary call: read the body (bounded by `maxBodyBytes`), decode the first JSON value
 * (Go's decoder, so only the first value counts), convert it (jsonpb's rules), encode it and
 * check the server's receive limit, call, then answer 200 with the JSON or the error. A
 * request refused before the call changes nothing.
 *
 * Streams (Watch, LeaseKeepAlive: bidirectional; Snapshot: server-streaming): the first
 * request value is decoded before the call starts (a bad one is answered 500 with code 2, as
 * etcd does); later values are sent as they arrive, and a bad later value just ends the
 * sending side. Responses are written as `{"result":{...}}` lines, flushed one by one; a
 * failure ends the response with one error chunk. A client that goes away cancels the call.
 */
import type * as http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { FloeError, assert, isFloeError } from '../pkg';
import { GATEWAY_ROUTES, type GatewayRoute } from '../etcdpb';
import { gatewayRoot } from './proto-root';
import { ERR_GO_JSON, ValueStream, decodeFirstValue, type JsonValue } from './go-json';
import { ERR_JSONPB, messageFromJson, messageToJson } from './proto-json';
import { httpStatusFromCode, sendError, sendPlain, streamErrorChunk, type GrpcFailure } from './http-status';

/** grpc-go's framing allowance above --max-request-bytes (etcd's grpcOverheadBytes). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/**
 * JSON body bytes allowed per request message, as a multiple of the server's receive limit:
 * base64 makes bytes 4/3 larger and JSON adds names and escapes. etcd reads bodies without a
 * bound; past this one the gateway refuses the body with RESOURCE_EXHAUSTED instead of holding
 * it in memory.
 */
export const BODY_BYTES_PER_MESSAGE_BYTE = 4;

/** Gateway settings. */
export interface GatewayOptions {
  /**
   * The member's own client listener as a gRPC target ("127.0.0.1:2379"), read when the first
   * request needs it (the port may only be known once the listener is bound).
   */
  readonly target: () => string;
  /** --max-request-bytes of the member. */
  readonly maxRequestBytes: number;
  /** How to dial the listener (default plaintext; TLS when the client port is TLS). */
  readonly credentials?: grpc.ChannelCredentials;
  /** Options for the loopback channel (e.g. `grpc.ssl_target_name_override`). */
  readonly channelOptions?: grpc.ChannelOptions;
}

/** One route, resolved against the proto files. */
interface Method {
  readonly route: GatewayRoute;
  readonly grpcPath: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

let methodsByPath: ReadonlyMap<string, Method> | null = null;

/** Every gateway path (under /v3/) with its method; built once from the protos. */
export function gatewayMethods(): ReadonlyMap<string, Method> {
  if (methodsByPath !== null) return methodsByPath;
  const root = gatewayRoot();
  const map = new Map<string, Method>();
  for (const route of GATEWAY_ROUTES) {
    const svc = root.lookupService(route.service);
    const m = svc.methods[route.method];
    assert(m !== undefined && m.resolvedRequestType !== null && m.resolvedResponseType !== null, `${route.service}.${route.method} in the protos`);
    const method: Method = {
      route,
      grpcPath: `/${route.service}/${route.method}`,
      requestType: m.resolvedRequestType,
      responseType: m.resolvedResponseType,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
    };
    // Where two methods share a path (Hash, HashKV), the first registered wins, as in etcd.
    for (const p of route.paths) if (!map.has(p)) map.set(p, method);
  }
  methodsByPath = map;
  return map;
}

const identity = (b: Buffer): Buffer => b;

/** A request the gateway refuses before calling (bad JSON, too large); carries the status. */
class Refusal extends Error {
  constructor(readonly failure: GrpcFailure) {
    super(failure.message);
  }
}

/** The gateway; see the file comment. */
export class Gateway {
  private client: grpc.Client | null = null;
  private readonly maxMessageBytes: number;
  private readonly maxBodyBytes: number;
  private readonly open = new Set<grpc.ClientDuplexStream<Buffer, Buffer> | grpc.ClientReadableStream<Buffer> | grpc.ClientUnaryCall>();
  private closed = false;

  constructor(private readonly opts: GatewayOptions) {
    assert(Number.isSafeInteger(opts.maxRequestBytes) && opts.maxRequestBytes > 0, `maxRequestBytes ${opts.maxRequestBytes}`);
    this.maxMessageBytes = opts.maxRequestBytes + GRPC_OVERHEAD_BYTES;
    this.maxBodyBytes = BODY_BYTES_PER_MESSAGE_BYTE * this.maxMessageBytes;
  }

  /** Largest request body read for one call; a longer body is refused unread. */
  get bodyLimitBytes(): number {
    return this.maxBodyBytes;
  }

  /**
   * Serves one HTTP request whose path (after the `/v3beta/` rewrite) starts with `/v3/`.
   * Unknown paths get grpc-gateway's 404, known paths with another method its 405.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse, urlPath: string): void {
    const method = gatewayMethods().get(urlPath);
    if (method === undefined) return sendPlain(res, 404, 'Not Found');
    if (req.method !== 'POST') return sendPlain(res, 405, 'Method Not Allowed');
    if (this.closed) return sendError(res, { code: grpc.status.UNAVAILABLE, message: 'etcdserver: server stopped' }, true);
    if (method.requestStream) this.bidi(method, req, res);
    else void this.unaryOrServerStream(method, req, res);
  }

  /** Ends every call in flight and closes the loopback channel. Idempotent. */
  close(): void {
    this.closed = true;
    for (const call of this.open) call.cancel();
    this.open.clear();
    this.client?.close();
    this.client = null;
  }

  private channel(): grpc.Client {
    if (this.client === null) {
      this.client = new grpc.Client(this.opts.target(), this.opts.credentials ?? grpc.credentials.createInsecure(), {
        ...this.opts.channelOptions,
        // etcd's gateway receives without limit (MaxCallRecvMsgSize(MaxInt32)); the server
        // enforces the request limit, which encode() checks first to word it as grpc-go does.
        'grpc.max_receive_message_length': -1,
        'grpc.max_send_message_length': -1,
      });
    }
    return this.client;
  }

  /** Converts and encodes one request value; throws Refusal with etcd's status. */
  private encode(method: Method, value: JsonValue | null): Buffer {
    let bytes: Buffer;
    try {
      const obj = messageFromJson(method.requestType, value);
      bytes = Buffer.from(method.requestType.encode(obj).finish());
    } catch (e) {
      // A quoted number goes back through Go's decoder, whose errors are refusals too.
      if (isFloeError(e, ERR_JSONPB) || isFloeError(e, ERR_GO_JSON)) throw new Refusal({ code: grpc.status.INVALID_ARGUMENT, message: e.message });
      throw e;
    }
    if (bytes.length > this.maxMessageBytes) {
      // The server's receive limit, worded as grpc-go words it (the text etcd clients see).
      throw new Refusal({ code: grpc.status.RESOURCE_EXHAUSTED, message: `grpc: received message larger than max (${bytes.length} vs. ${this.maxMessageBytes})` });
    }
    return bytes;
  }

  private async unaryOrServerStream(method: Method, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let request: Buffer;
    try {
      const body = await readBody(req, this.maxBodyBytes);
      request = this.encode(method, decodeJson(body));
    } catch (e) {
      if (e instanceof Refusal) return sendError(res, e.failure, e.failure.code === grpc.status.RESOURCE_EXHAUSTED);
      throw e;
    }
    const metadata = metadataFromHeaders(req);
    if (method.responseStream) {
      const call = this.channel().makeServerStreamRequest(method.grpcPath, identity, identity, request, metadata);
      this.forwardStream(method, call, req, res);
      return;
    }
    const call = this.channel().makeUnaryRequest(method.grpcPath, identity, identity, request, metadata, (err, reply) => {
      this.open.delete(call);
      if (err !== null || reply === undefined) return sendError(res, failureOf(err), true);
      const json = messageToJson(method.responseType, method.responseType.decode(reply));
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Grpc-Metadata-Content-Type', 'application/grpc');
      res.setHeader('Content-Length', Buffer.byteLength(json));
      res.end(json);
    });
    this.open.add(call);
    res.on('close', () => {
      if (!res.writableFinished) call.cancel();
    });
  }

  private bidi(method: Method, req: http.IncomingMessage, res: http.ServerResponse): void {
    const values = new ValueStream();
    let ended = false;
    let call: grpc.ClientDuplexStream<Buffer, Buffer> | null = null;
    let sending = true;
    const stopSending = (): void => {
      if (!sending) return;
      sending = false;
      req.removeListener('data', onData);
      call?.end();
    };
    // Sends every whole value received so far; refusals before the call are answered plainly.
    const pump = (): void => {
      while (sending) {
        let value: JsonValue | undefined;
        let bytes: Buffer;
        try {
          value = values.next(ended);
          if (value === undefined) break;
          bytes = this.encode(method, value);
        } catch (e) {
          const failure = e instanceof Refusal ? e.failure : isFloeError(e, ERR_GO_JSON) ? { code: grpc.status.INVALID_ARGUMENT, message: e.message } : null;
          if (failure === null) throw e;
          if (call === null) {
            // etcd wraps this first failure in no gRPC status, so it is reported as Unknown.
            sending = false;
            req.removeListener('data', onData);
            return sendError(res, { code: grpc.status.UNKNOWN, message: failure.message }, false);
          }
          stopSending();
          return;
        }
        if (call === null) call = this.startBidi(method, req, res);
        call.write(bytes);
      }
      if (ended && sending) {
        if (call === null) call = this.startBidi(method, req, res);
        stopSending();
      } else if (values.heldBytes > this.maxBodyBytes) {
        if (call === null) {
          sending = false;
          req.removeListener('data', onData);
          return sendError(res, { code: grpc.status.RESOURCE_EXHAUSTED, message: `grpc: received message larger than max (${values.heldBytes} vs. ${this.maxMessageBytes})` }, true);
        }
        stopSending();
      }
    };
    const onData = (chunk: Buffer): void => {
      values.push(chunk);
      pump();
    };
    req.on('data', onData);
    req.on('end', () => {
      ended = true;
      pump();
    });
  }

  private startBidi(method: Method, req: http.IncomingMessage, res: http.ServerResponse): grpc.ClientDuplexStream<Buffer, Buffer> {
    const call = this.channel().makeBidiStreamRequest(method.grpcPath, identity, identity, metadataFromHeaders(req));
    this.forwardStream(method, call, req, res);
    return call;
  }

  /** Writes a stream's responses as `{"result":...}` lines; see the file comment. */
  private forwardStream(method: Method, call: grpc.ClientDuplexStream<Buffer, Buffer> | grpc.ClientReadableStream<Buffer>, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.open.add(call);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Grpc-Metadata-Content-Type', 'application/grpc');
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.open.delete(call);
      res.end();
    };
    call.on('data', (reply: Buffer) => {
      const line = `{"result":${messageToJson(method.responseType, method.responseType.decode(reply))}}\n`;
      // Responses wait while the client reads slowly: the server then holds them, not us.
      if (!res.write(line)) {
        call.pause();
        res.once('drain', () => call.resume());
      }
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (finished) return;
      if (err.code === grpc.status.CANCELLED && res.destroyed) return finish();
      const f = failureOf(err);
      // Before the first result the status line is still unsent and tells the failure.
      if (!res.headersSent) res.statusCode = httpStatusFromCode(f.code);
      res.write(streamErrorChunk(f));
      finish();
    });
    call.on('end', finish);
    // A client that hangs up cancels the call (and so the watch or keep-alive behind it).
    res.on('close', () => {
      if (!finished) {
        finished = true;
        this.open.delete(call);
        call.cancel();
      }
    });
    req.on('error', () => call.cancel());
  }
}

/** A grpc-js error as the status etcd's gateway reports. */
function failureOf(err: grpc.ServiceError | null): GrpcFailure {
  if (err === null) return { code: grpc.status.UNKNOWN, message: 'empty response' };
  return { code: err.code, message: err.details };
}

/** Go's decoder on a whole body, with its failures as InvalidArgument refusals. */
function decodeJson(body: Buffer): JsonValue | null {
  try {
    return decodeFirstValue(body);
  } catch (e) {
    if (isFloeError(e, ERR_GO_JSON)) throw new Refusal({ code: grpc.status.INVALID_ARGUMENT, message: e.message });
    throw e;
  }
}

/** Reads a request body of at most `limitBytes`; a longer one is a RESOURCE_EXHAUSTED refusal. */
function readBody(req: http.IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        req.removeListener('data', onData);
        req.resume();
        reject(new Refusal({ code: grpc.status.RESOURCE_EXHAUSTED, message: `grpc: received message larger than max (${size} vs. ${Math.floor(limitBytes / BODY_BYTES_PER_MESSAGE_BYTE)})` }));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (size <= limitBytes) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => reject(new FloeError('ERR_GATEWAY_BODY', e.message)));
  });
}

/**
 * The gRPC metadata grpc-gateway v1 derives from HTTP headers: `Authorization` as
 * `authorization` (where etcd reads a token when `token` is absent), `Grpc-Metadata-X` as `x`,
 * and the forwarding headers.
 */
export function metadataFromHeaders(req: http.IncomingMessage): grpc.Metadata {
  const md = new grpc.Metadata();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (key === 'authorization') md.add('authorization', value);
    else if (key.startsWith('grpc-metadata-') && key.length > 'grpc-metadata-'.length) {
      const name = key.slice('grpc-metadata-'.length);
      if (name.endsWith('-bin')) md.add(name, Buffer.from(value, 'base64'));
      else md.add(name, value);
    }
  }
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  if (typeof host === 'string' && host !== '') md.add('x-forwarded-host', host);
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) {
    const fwd = req.headers['x-forwarded-for'];
    md.add('x-forwarded-for', typeof fwd === 'string' && fwd !== '' ? `${fwd}, ${remote}` : remote);
  }
  return md;
}
