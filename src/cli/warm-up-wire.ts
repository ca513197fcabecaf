/**
 * The warm-up's client (warm-up.ts): gRPC calls over one HTTP/2 connection (node:http2), as
 * etcd's clients send them: POST /<service>/<method>, `application/grpc`, each message behind
 * the 5-byte prefix (flag 0, big-endian length), the status in the trailers (or in the headers
 * of a trailers-only answer). Only what the warm-up needs: unary calls and bidirectional
 * streams, no compression, no TLS, no retries; a call that ends with a status other than OK
 * rejects with that status and message.
 */
import * as http2 from 'node:http2';
import { FloeError } from '../pkg';

/** `msg` behind gRPC's message prefix. */
export function grpcFrame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

/** Splits prefixed gRPC messages out of a byte stream, however it was cut into chunks. */
export class GrpcMessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The bytes the next message needs (prefix and body), once its prefix is in; else null. */
  private need: number | null = null;

  /** Takes the next chunk; returns the messages it completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    // Chunks are joined only once the next prefix or message is whole: a big answer comes in
    // many chunks, and joining at each would copy it over and over.
    while (this.pendingBytes >= (this.need ?? 5)) {
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      if (this.need === null) {
        if (buf[0] !== 0) throw new FloeError('ERR_WARM_UP_WIRE', `compressed gRPC message (flag ${buf[0]}) is not expected`);
        this.need = 5 + buf.readUInt32BE(1);
        this.pending = [buf];
        continue;
      }
      out.push(buf.subarray(5, this.need));
      const rest = buf.subarray(this.need);
      this.pending = rest.length === 0 ? [] : [rest];
      this.pendingBytes = rest.length;
      this.need = null;
    }
    return out;
  }

  /** Bytes of a message not complete yet. */
  get partialBytes(): number {
    return this.pendingBytes;
  }
}

/** A bidirectional call: messages sent with send(), received through `onMessage`. */
export interface GrpcWireStream {
  send(msg: Buffer): void;
  /** Half-closes: no more messages from this side. */
  end(): void;
  /** Settles when the call ends: resolves on status OK, rejects otherwise. */
  readonly done: Promise<void>;
}

/** One HTTP/2 connection to a gRPC server; see the file comment. */
export class GrpcWireClient {
  private constructor(private readonly session: http2.ClientHttp2Session) {}

  /** Connects to `authority` (host:port, plain HTTP/2). */
  static connect(authority: string): Promise<GrpcWireClient> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${authority}`);
      const failed = (e: Error): void => reject(e);
      session.once('error', failed);
      session.once('connect', () => {
        session.off('error', failed);
        // A later connection error fails the calls in flight (their streams error); keep the
        // session's own 'error' from being an uncaught exception.
        session.on('error', () => undefined);
        resolve(new GrpcWireClient(session));
      });
    });
  }

  /** A unary call of `path` (/package.Service/Method): resolves with the answer's bytes. */
  unary(path: string, request: Buffer): Promise<Buffer> {
    let answer: Buffer | null = null;
    const call = this.stream(path, (msg) => {
      if (answer !== null) throw new FloeError('ERR_WARM_UP_WIRE', `${path}: more than one answer to a unary call`);
      answer = msg;
    });
    call.send(request);
    call.end();
    return call.done.then(() => {
      if (answer === null) throw new FloeError('ERR_WARM_UP_WIRE', `${path}: no answer to a unary call`);
      return answer;
    });
  }

  /** A streaming call of `path`; `onMessage` gets each message of the answer as it completes. */
  stream(path: string, onMessage: (msg: Buffer) => void): GrpcWireStream {
    const req = this.session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const reader = new GrpcMessageReader();
    let status: string | undefined;
    let message = '';
    const noteStatus = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (typeof s === 'string') {
        status = s;
        const m = h['grpc-message'];
        message = typeof m === 'string' ? decodeURIComponent(m) : '';
      }
    };
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', noteStatus);
      req.on('trailers', noteStatus);
      req.on('data', (chunk: Buffer) => {
        try {
          for (const m of reader.push(chunk)) onMessage(m);
        } catch (e) {
          req.close(http2.constants.NGHTTP2_CANCEL);
          reject(e);
        }
      });
      req.on('error', reject);
      req.on('close', () => {
        if (status === '0' && reader.partialBytes === 0) resolve();
        else reject(new FloeError('ERR_WARM_UP_CALL', `${path}: ${status === undefined ? 'ended without a status' : `status ${status}: ${message}`}`));
      });
    });
    // Callers handle `done`; a rejection seen only by a stream nobody awaits must not crash.
    done.catch(() => undefined);
    return {
      send: (msg) => void req.write(grpcFrame(msg)),
      end: () => void req.end(),
      done,
    };
  }

  /** Closes the connection; calls in flight fail. */
  close(): void {
    this.session.destroy();
  }
}
