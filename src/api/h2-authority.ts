/**
 * A byte filter between an accepted TCP connection and the HTTP/2 server that rewrites an
 * `:authority` written as a URL to its host:port. Since the client port has its own HTTP/2
 * front (h2-front.ts, which fixes such values itself), this filter serves the server built
 * without the front (`unaryFastPath: false`); its framing helpers are shared.
 *
 * Why: etcd 3.4's Go client given an endpoint with a scheme (`--endpoints=http://h:p`, and
 * always for `endpoint status --cluster`) dials the gRPC target `passthrough:///http://h:p`
 * and sends `:authority: http://h:p`. grpc-go servers accept it; Node's HTTP/2 (nghttp2)
 * refuses '/' in :authority and resets every such stream with PROTOCOL_ERROR before any
 * JavaScript runs, and Node has no switch to turn that check off.
 *
 *   const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
 *   net.createServer((socket) => injector.injectConnection(authorityFixer(socket))).listen(2379);
 *
 * Client-to-server bytes go through AuthorityRewriter, in one of three modes:
 * - 'sniff' (from the start): the preface and frames pass; the first header block (HEADERS,
 *   then CONTINUATION until END_HEADERS) is held and decoded. If no field needs a fix, the
 *   block is forwarded as received and the mode becomes 'pass'; else 'rewrite'.
 * - 'pass': bytes are forwarded untouched; frame headers are still parsed only until the
 *   client's first SETTINGS ACK is dropped (see dropFirstSettingsAck), header blocks included
 *   (re-encoding one then would desynchronize the server's HPACK table from the client's).
 * - 'rewrite': frame headers are parsed; every header block is decoded with the client's
 *   compression state and re-encoded as literals without indexing (fixed fields included),
 *   then re-framed as HEADERS (+CONTINUATION) of at most 16384 payload bytes, keeping
 *   END_STREAM and the priority fields, dropping padding and table size updates. Since the
 *   first rewritten block, nothing the server decodes touches its dynamic table, which
 *   therefore stays empty and consistent with what it has seen. Other frames pass unchanged.
 * Server-to-client bytes always pass unchanged. A malformed stream, or a header block over
 * 256 KiB, destroys the connection (without an error event, so nothing can crash).
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { SocketDuplex } from './socket-duplex';
import { FloeError, isFloeError } from '../pkg';
import { ERR_HPACK, HpackDecoder, encodeLiteralBlock, type HeaderField } from './hpack';
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_BYTES,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FRAME_HEADER_BYTES,
  FrameType,
  PRIORITY_BYTES,
  frameHeaderBlock,
} from './h2-wire';

/** Error code of a malformed HTTP/2 stream seen by the filter. */
export const ERR_H2_FRAME = 'ERR_H2_FRAME';
/** Largest header block (sum of HEADERS/CONTINUATION payloads) the filter accepts. */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** Payload bound of the frames the filter writes: the smallest SETTINGS_MAX_FRAME_SIZE. */
export const MAX_FRAME_PAYLOAD_BYTES = DEFAULT_MAX_FRAME_BYTES;

/**
 * The host:port of an authority written as a URL ("http://127.0.0.1:2379/" ->
 * "127.0.0.1:2379"), or null when `value` has no '/' (nothing to fix) or nothing would
 * remain.
 */
export function authorityFromUrl(value: string): string | null {
  if (!value.includes('/')) return null;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(value);
  let rest = scheme === null ? value : value.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  if (slash >= 0) rest = rest.slice(0, slash);
  return rest.length > 0 ? rest : null;
}

/** The fields with :authority and host fixed, or null when none needed a fix. */
export function fixAuthorityFields(fields: readonly HeaderField[]): HeaderField[] | null {
  let fixed: HeaderField[] | null = null;
  fields.forEach((f, i) => {
    if (f.name !== ':authority' && f.name !== 'host') return;
    const value = authorityFromUrl(f.value);
    if (value === null) return;
    fixed ??= fields.slice();
    fixed[i] = { name: f.name, value, neverIndexed: f.neverIndexed };
  });
  return fixed;
}

/** Filter mode; see the file comment. */
export type RewriteMode = 'sniff' | 'rewrite' | 'pass';

/** Where the parser is inside the byte stream. */
type ParseState = 'preface' | 'frame-header' | 'frame-body-pass' | 'frame-body-block' | 'pass';

/** Filter settings. */
export interface AuthorityRewriterOptions {
  /** The server's SETTINGS_HEADER_TABLE_SIZE (default 4096, Node's and the protocol's). */
  readonly headerTableSizeBytes?: number;
  /**
   * Remove the client's first SETTINGS ACK: it acknowledges a SETTINGS frame the filter sent
   * itself (acceptH2Connection), which the server never sent and must not see acknowledged.
   */
  readonly dropFirstSettingsAck?: boolean;
}

const frameError = (msg: string): never => {
  throw new FloeError(ERR_H2_FRAME, `http2 filter: ${msg}`);
};

/**
 * The client-to-server half of the filter as a pure state machine: `push` takes bytes as
 * they arrive (any split) and returns the bytes to hand to the server, in order. Throws
 * FloeError (ERR_H2_FRAME or ERR_HPACK) on a malformed stream; the connection must then be
 * dropped.
 */
export class AuthorityRewriter {
  private modeNow: RewriteMode = 'sniff';
  private state: ParseState = 'preface';
  private readonly decoder: HpackDecoder;
  private prefaceBytes = 0;
  private readonly head = Buffer.alloc(FRAME_HEADER_BYTES);
  private headBytes = 0;
  /** Payload bytes still to come of the current frame. */
  private bodyLeft = 0;
  // The header block being collected (state 'frame-body-block' or between its frames).
  private inBlock = false;
  private blockStream = 0;
  private blockFlags = 0;
  private blockBytes = 0;
  private priority: Buffer | null = null;
  private fragments: Buffer[] = [];
  /** The block's frames as received, in sniff mode only (forwarded when nothing is fixed). */
  private raw: Buffer[] = [];
  private frameType = 0;
  private frameFlags = 0;
  private framePieces: Buffer[] = [];
  /** A client SETTINGS ACK is still to be removed (until then, 'pass' keeps parsing frames). */
  private ackToDrop: boolean;
  private answerWanted = false;

  constructor(opts: AuthorityRewriterOptions = {}) {
    this.ackToDrop = opts.dropFirstSettingsAck === true;
    this.decoder = new HpackDecoder({
      maxTableSizeBytes: opts.headerTableSizeBytes,
      maxHeaderListBytes: MAX_HEADER_BLOCK_BYTES,
    });
  }

  /** 'pass' once the first header block needed no fix: from then on bytes need no filter. */
  get mode(): RewriteMode {
    return this.modeNow;
  }

  /**
   * True once the client, before its first header block, sent a frame the server may have to
   * answer (a PING, a GOAWAY, anything but SETTINGS, WINDOW_UPDATE and PRIORITY): a
   * connection still undecided must then reach the server at once.
   */
  get answerNeeded(): boolean {
    return this.answerWanted;
  }

  /** True once no later byte needs looking at: mode 'pass' and no SETTINGS ACK left to drop. */
  get settled(): boolean {
    return this.state === 'pass';
  }

  /** Takes the next bytes from the client; returns what the server must read next. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const left = chunk.length - pos;
      switch (this.state) {
        case 'preface': {
          const n = Math.min(left, CLIENT_PREFACE.length - this.prefaceBytes);
          if (chunk.compare(CLIENT_PREFACE, this.prefaceBytes, this.prefaceBytes + n, pos, pos + n) !== 0) frameError('bad connection preface');
          out.push(chunk.subarray(pos, pos + n));
          pos += n;
          this.prefaceBytes += n;
          if (this.prefaceBytes === CLIENT_PREFACE.length) this.state = 'frame-header';
          break;
        }
        case 'frame-header': {
          const n = Math.min(left, FRAME_HEADER_BYTES - this.headBytes);
          chunk.copy(this.head, this.headBytes, pos, pos + n);
          pos += n;
          this.headBytes += n;
          if (this.headBytes === FRAME_HEADER_BYTES) {
            this.headBytes = 0;
            this.onFrameHeader(out);
          }
          break;
        }
        case 'frame-body-pass': {
          const n = Math.min(left, this.bodyLeft);
          out.push(chunk.subarray(pos, pos + n));
          pos += n;
          this.bodyLeft -= n;
          if (this.bodyLeft === 0) this.state = 'frame-header';
          break;
        }
        case 'frame-body-block': {
          const n = Math.min(left, this.bodyLeft);
          this.framePieces.push(chunk.subarray(pos, pos + n));
          pos += n;
          this.bodyLeft -= n;
          if (this.bodyLeft === 0) this.onBlockFrame(out);
          break;
        }
        case 'pass':
          out.push(chunk.subarray(pos));
          pos = chunk.length;
          break;
      }
    }
    return out;
  }

  private onFrameHeader(out: Buffer[]): void {
    const h = this.head;
    const length = h.readUIntBE(0, 3);
    const type = h[3]!;
    const flags = h[4]!;
    const streamId = h.readUInt32BE(5) & 0x7fffffff;
    if (this.inBlock && (type !== FrameType.CONTINUATION || streamId !== this.blockStream)) {
      frameError(`frame type ${type} on stream ${streamId} inside the header block of stream ${this.blockStream}`);
    }
    if (type === FrameType.PUSH_PROMISE) frameError('PUSH_PROMISE from a client');
    if (this.ackToDrop && type === FrameType.SETTINGS && (flags & FLAG_ACK) !== 0 && length === 0 && streamId === 0) {
      this.ackToDrop = false;
      if (this.modeNow === 'pass') this.state = 'pass';
      return;
    }
    if (this.modeNow === 'pass') {
      // Only the SETTINGS ACK is still looked for: every other frame, header blocks included,
      // goes on as received. Re-encoding a block here would leave out of the server's HPACK
      // table what the client's encoder added, and later blocks would decode wrong.
      out.push(Buffer.from(h));
      this.bodyLeft = length;
      this.state = length === 0 ? 'frame-header' : 'frame-body-pass';
      return;
    }
    if (this.modeNow === 'sniff' && !this.inBlock && type !== FrameType.HEADERS && type !== FrameType.SETTINGS && type !== FrameType.WINDOW_UPDATE && type !== FrameType.PRIORITY) {
      this.answerWanted = true;
    }
    if (type === FrameType.CONTINUATION && !this.inBlock) frameError('CONTINUATION outside a header block');
    if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
      if (type === FrameType.HEADERS) {
        if (streamId === 0) frameError('HEADERS on stream 0');
        this.inBlock = true;
        this.blockStream = streamId;
        this.blockFlags = flags;
        this.blockBytes = 0;
        this.priority = null;
      }
      // Checked before buffering, so no more than the limit is ever held.
      this.blockBytes += length;
      if (this.blockBytes > MAX_HEADER_BLOCK_BYTES) frameError(`header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
      if (this.modeNow === 'sniff') this.raw.push(Buffer.from(h));
      this.frameType = type;
      this.frameFlags = flags;
      this.bodyLeft = length;
      this.state = 'frame-body-block';
      if (length === 0) this.onBlockFrame(out);
      return;
    }
    out.push(Buffer.from(h));
    this.bodyLeft = length;
    this.state = length === 0 ? 'frame-header' : 'frame-body-pass';
  }

  /** One HEADERS or CONTINUATION frame's payload is complete. */
  private onBlockFrame(out: Buffer[]): void {
    const payload = this.framePieces.length === 1 ? this.framePieces[0]! : Buffer.concat(this.framePieces);
    this.framePieces = [];
    if (this.modeNow === 'sniff') this.raw.push(payload);
    let fragment = payload;
    if (this.frameType === FrameType.HEADERS) {
      let start = 0;
      let padBytes = 0;
      if (this.frameFlags & FLAG_PADDED) {
        if (payload.length < 1) frameError('PADDED HEADERS without a pad length');
        padBytes = payload[0]!;
        start = 1;
      }
      if (this.frameFlags & FLAG_PRIORITY) {
        if (payload.length < start + PRIORITY_BYTES) frameError('PRIORITY HEADERS shorter than 5 bytes');
        this.priority = Buffer.from(payload.subarray(start, start + PRIORITY_BYTES));
        start += PRIORITY_BYTES;
      }
      if (padBytes > payload.length - start) frameError('HEADERS padding longer than its payload');
      fragment = payload.subarray(start, payload.length - padBytes);
    }
    this.fragments.push(fragment);
    this.state = 'frame-header';
    if (this.frameFlags & FLAG_END_HEADERS) {
      this.inBlock = false;
      this.onBlock(out);
    }
  }

  /** A whole header block arrived. */
  private onBlock(out: Buffer[]): void {
    const block = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
    this.fragments = [];
    const raw = this.raw;
    this.raw = [];
    const { fields } = this.decoder.decode(block);
    const fixed = fixAuthorityFields(fields);
    if (this.modeNow === 'sniff') {
      if (fixed === null) {
        out.push(...raw);
        this.modeNow = 'pass';
        this.state = this.ackToDrop ? 'frame-header' : 'pass';
        return;
      }
      this.modeNow = 'rewrite';
    }
    const endStream = (this.blockFlags & FLAG_END_STREAM) !== 0;
    out.push(frameHeaderBlock(this.blockStream, endStream, this.priority, encodeLiteralBlock(fixed ?? fields)));
  }
}

/** Settings of authorityFixer. */
export interface AuthorityFixerOptions extends AuthorityRewriterOptions {
  /** Called once when the connection is dropped for a malformed stream (for logging). */
  readonly onReject?: (err: FloeError) => void;
}

/**
 * Wraps an accepted socket; the HTTP/2 server must read and write the returned duplex
 * instead (see the file comment). The duplex owns the socket: destroying either ends both.
 */
export function authorityFixer(socket: net.Socket, opts: AuthorityFixerOptions = {}): Duplex {
  return new FixedConnection(socket, opts);
}

/**
 * The duplex of authorityFixer. It shows the socket's addresses, but Node's HTTP/2 wraps any
 * non-native duplex in its own socket object that does not ask it: through the filter,
 * grpc-js's `call.getPeer()` says 'unknown'. Reach the addresses via `session.socket.stream`.
 */
class FixedConnection extends SocketDuplex {
  private rewriter: AuthorityRewriter | null;
  private readonly onReject: ((err: FloeError) => void) | undefined;

  constructor(
    socket: net.Socket,
    opts: AuthorityFixerOptions,
    rewriter: AuthorityRewriter = new AuthorityRewriter(opts),
    initial: readonly Buffer[] = [],
  ) {
    super(socket, { allowHalfOpen: false });
    this.rewriter = rewriter;
    for (const b of initial) this.push(b);
    this.onReject = opts.onReject;
    // Node's HTTP/2 turns Nagle off on the native sockets it owns; it cannot reach this one,
    // and with Nagle on, small responses wait for the client's delayed ACK (~40 ms each).
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.push(null));
    // The reason a socket failed is of no use to the server: the connection is simply gone.
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  private onData(chunk: Buffer): void {
    let data = chunk;
    if (this.rewriter !== null) {
      let parts: Buffer[];
      try {
        parts = this.rewriter.push(chunk);
      } catch (e) {
        if (!isFloeError(e, ERR_H2_FRAME) && !isFloeError(e, ERR_HPACK)) throw e;
        this.onReject?.(e);
        this.destroy();
        return;
      }
      if (this.rewriter.settled) this.rewriter = null;
      if (parts.length === 0) return;
      data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    if (!this.push(data)) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }
}

/** Settings of acceptH2Connection. */
export interface AcceptOptions extends AuthorityFixerOptions {
  /**
   * Takes the connections that do not start with the HTTP/2 preface (HTTP/1.x: the JSON
   * gateway, /metrics), the bytes read so far put back. Absent: every connection is HTTP/2.
   */
  readonly http1?: (socket: net.Socket) => void;
}

/** An empty SETTINGS frame: a server connection preface with every setting at its default. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, FrameType.SETTINGS, 0, 0, 0, 0, 0]);
/**
 * How long a quiet connection may stay undecided before it goes through the filter for good.
 * Long, because a loaded client can take a second or more between connecting and its first
 * request (under a 3-member benchmark, 200 ms sent 7 of 40 busy connections through the
 * filter for good), and because waiting costs a quiet client nothing: a frame the server
 * must answer ends the wait at once (AuthorityRewriter.answerNeeded).
 */
export const SNIFF_WAIT_MS = 5000;
/** Client bytes held while undecided (preface, settings, the first request's headers). */
export const MAX_SNIFF_BYTES = MAX_HEADER_BLOCK_BYTES + 64 * 1024;

/**
 * Accepts a client connection for the HTTP/2 server without taxing the common case: the
 * filter answers the client's preface with an empty SETTINGS frame of its own (so that
 * clients which wait for the server's preface send their first request) and reads up to the
 * end of the first header block and the ACK of that SETTINGS frame. If the authority needs no
 * fix, the raw socket goes to `inject` with those bytes put back (less the ACK; the server
 * then sends its own SETTINGS, a legal second one), and Node's native HTTP/2 reads it from
 * then on. Otherwise, when the client sends a frame the server must answer before its first
 * request (a PING), or when it stays quiet for SNIFF_WAIT_MS, the connection goes through
 * the filter (authorityFixer) for good.
 * With `opts.http1`, the first bytes first decide between HTTP/2 and HTTP/1.x (sniffHttp2).
 */
export function acceptH2Connection(socket: net.Socket, inject: (conn: net.Socket | Duplex) => void, opts: AcceptOptions = {}): void {
  if (opts.http1 === undefined) acceptH2(socket, inject, opts, null);
  else sniffHttp2(socket, (first) => acceptH2(socket, inject, opts, first), opts.http1);
}

/** acceptH2Connection's HTTP/2 path; `first` holds client bytes already read, if any. */
function acceptH2(socket: net.Socket, inject: (conn: net.Socket | Duplex) => void, opts: AuthorityFixerOptions, first: Buffer | null): void {
  const rewriter = new AuthorityRewriter({ ...opts, dropFirstSettingsAck: true });
  const out: Buffer[] = [];
  let held = 0;
  let done = false;
  socket.setNoDelay(true);
  const finish = (how: 'native' | 'filter' | 'drop', err?: FloeError): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onError);
    if (how === 'drop') {
      if (err !== undefined) opts.onReject?.(err);
      socket.destroy();
      return;
    }
    socket.pause();
    if (how === 'native') {
      if (out.length > 0) socket.unshift(out.length === 1 ? out[0]! : Buffer.concat(out));
      inject(socket);
    } else {
      inject(new FixedConnection(socket, opts, rewriter, out));
      socket.resume();
    }
  };
  const onData = (chunk: Buffer): void => {
    held += chunk.length;
    try {
      out.push(...rewriter.push(chunk));
    } catch (e) {
      if (!isFloeError(e, ERR_H2_FRAME) && !isFloeError(e, ERR_HPACK)) throw e;
      finish('drop', e);
      return;
    }
    if (rewriter.settled) finish('native');
    else if (rewriter.mode === 'rewrite' || rewriter.answerNeeded) finish('filter');
    else if (held > MAX_SNIFF_BYTES) finish('drop', new FloeError(ERR_H2_FRAME, `http2 filter: over ${MAX_SNIFF_BYTES} bytes before the first request`));
  };
  // A client gone before the decision is dropped: handed on later, its connection would
  // never end for the server (the socket's 'end' and 'close' would have fired already).
  const onError = (): void => finish('drop');
  const timer = setTimeout(() => finish('filter'), SNIFF_WAIT_MS);
  timer.unref();
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onError);
  socket.write(EMPTY_SETTINGS);
  if (first !== null) onData(first);
}

/** How long a connection may send nothing before it is treated as HTTP/2 (whose server then waits). */
export const PROTOCOL_SNIFF_MS = 10_000;

/**
 * Tells HTTP/2 with prior knowledge (gRPC) from HTTP/1.x by the first bytes, as etcd's cmux
 * does: bytes that are a prefix of the HTTP/2 client preface wait for more; the whole preface
 * goes to `h2` with the bytes read so far; anything else goes to `http1` with the bytes put
 * back. Nothing is
 * written to the client before the decision (the HTTP/2 path's SETTINGS would corrupt an
 * HTTP/1.x answer).
 */
export function sniffHttp2(socket: net.Socket, h2: (first: Buffer | null) => void, http1: (socket: net.Socket) => void): void {
  let held: Buffer = Buffer.alloc(0);
  let done = false;
  const decide = (how: 'h2' | 'http1' | 'drop'): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onError);
    if (how === 'drop') {
      socket.destroy();
      return;
    }
    if (how === 'h2') {
      h2(held.length > 0 ? held : null);
      return;
    }
    socket.pause();
    if (held.length > 0) socket.unshift(held);
    http1(socket);
    // The HTTP server reads through its own listener, which does not undo the pause.
    socket.resume();
  };
  const onData = (chunk: Buffer): void => {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    const n = Math.min(held.length, CLIENT_PREFACE.length);
    if (held.compare(CLIENT_PREFACE, 0, n, 0, n) !== 0) decide('http1');
    else if (n === CLIENT_PREFACE.length) decide('h2');
  };
  const onError = (): void => decide('drop');
  const timer = setTimeout(() => decide('h2'), PROTOCOL_SNIFF_MS);
  timer.unref();
  socket.setNoDelay(true);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onError);
}
