/**
 * The client port's own HTTP/2 server. It terminates every client connection. The hot KV
 * unary calls (unary-fast-path.ts) are served right here; every other stream (watch, lease
 * keep-alive, maintenance, auth, cluster, plain HTTP over h2) is forwarded frame by frame to
 * grpc-js over an in-process connection per client connection (h2-inner.ts). Streams are
 * h2-stream.ts; the answers written here are encoded by h2-reply.ts.
 *
 *   const front = new H2Front({ handlers, limits, maxConcurrentStreams, keepaliveMs, keepaliveTimeoutMs, inject });
 *   net.createServer((socket) => front.accept(socket, null)).listen(2379);
 *   ...
 *   await front.drain();   // GOAWAY to every client, wait for their streams to finish
 *
 * Why: Node's HTTP/2 streams cost more CPU per call than everything else in a put or a
 * serializable range (a Duplex, listeners, header objects and several C++ crossings per
 * stream). Here a call is a few frames cut from the socket's bytes and one buffer written
 * back, batched with the other answers of the same turn of the event loop.
 *
 * Protocol (RFC 7540), server side: the preface is checked, SETTINGS acked, PING answered,
 * flow control kept on both sides (the front advertises STREAM_WINDOW_BYTES per stream and
 * CONN_WINDOW_BYTES per connection and credits data as it is consumed; it sends no more than
 * the client's windows allow, queueing the rest). Header blocks are decoded with HPACK
 * (hpack.ts) and answers are encoded as literals, so the client's decoder table is never
 * touched. Stream ids must rise; streams beyond --max-concurrent-streams are refused
 * (REFUSED_STREAM). A protocol violation ends the connection with GOAWAY and the RFC's error
 * code. An :authority written as a URL (etcd 3.4's client with http:// endpoints) is cut to its
 * host:port, which grpc-js's Node HTTP/2 would otherwise reset (h2-authority.ts).
 * Keepalive as grpc-go's server: after `keepaliveMs` without a frame from the client, a PING;
 * no answer within `keepaliveTimeoutMs` closes the connection.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { isFloeError } from '../pkg';
import { ERR_HPACK, HpackDecoder, type HeaderField } from './hpack';
import { fixAuthorityFields } from './h2-authority';
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_PEER_SETTINGS,
  DEFAULT_WINDOW_BYTES,
  ErrorCode,
  FLAG_ACK,
  FLAG_END_STREAM,
  FRAME_HEADER_BYTES,
  FrameReader,
  FrameType,
  H2ConnectionError,
  HeaderBlockReader,
  type HeaderBlock,
  MAX_WINDOW_BYTES,
  Outbox,
  SETTINGS_ACK,
  Setting,
  dataContent,
  frame,
  frameHeaderBlock,
  goawayFrame,
  readSettings,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from './h2-wire';
import { InnerLeg, type LegOwner } from './h2-inner';
import { FrontStream, STREAM_WINDOW_BYTES, type OutItem } from './h2-stream';
import { GRPC_MESSAGE_HEADER_BYTES, headersObject, queuedReply, statusBlock, trailersBlock, wholeReply } from './h2-reply';
import { fastHandlerFor, startUnary, type FastHandlers, type FastPathLimits, type Status, type UnaryReply } from './unary-fast-path';

/** Flow-control window the front gives each client connection. */
export const CONN_WINDOW_BYTES = 16 << 20;
/** Largest header block (HEADERS + CONTINUATION payloads) accepted. */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** While the client leaves more than this unread, its connection is not read (backpressure). */
export const MAX_UNSENT_BYTES = 16 << 20;
/**
 * Answer bytes the front hands the socket ahead of what the kernel took. A client's windows
 * may allow 16 MiB and more; a slow reader of a big answer then kept a thousand frames' objects
 * (header, view, write request) waiting in the socket's queue for as long as it took to read
 * them: they outlived the young generation and were promoted, to be marked and compacted with
 * the member's heap. Past this much, data waits for the socket's 'drain'.
 */
export const MAX_SEND_AHEAD_BYTES = 1 << 20;
/** Largest etcd --max-concurrent-streams (the default: no limit). */
const UNLIMITED_STREAMS = 2 ** 32 - 1;
/** A write of nothing, to learn when the writes before it are done. */
const NO_BYTES = Buffer.alloc(0);

/** The front's settings. */
export interface FrontOptions {
  /** Calls served by the front itself (null: every stream goes to grpc-js). */
  readonly handlers: FastHandlers | null;
  readonly limits: FastPathLimits;
  /** --max-concurrent-streams. */
  readonly maxConcurrentStreams: number;
  /** --grpc-keepalive-interval (0: never ping). */
  readonly keepaliveMs: number;
  /** --grpc-keepalive-timeout. */
  readonly keepaliveTimeoutMs: number;
  /** Hands an in-process connection carrying `socket`'s forwarded streams to grpc-js. */
  readonly inject: (conn: Duplex, socket: net.Socket) => void;
}

/** Accepts client connections and serves them; see the file comment. */
export class H2Front {
  private readonly conns = new Set<FrontConnection>();
  private draining = false;
  private drained: (() => void) | null = null;

  constructor(private readonly opts: FrontOptions) {}

  /** Serves `socket`, an HTTP/2 connection; `first` holds bytes already read from it. */
  accept(socket: net.Socket, first: Buffer | null): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const conn: FrontConnection = new FrontConnection(socket, this.opts, () => {
      this.conns.delete(conn);
      if (this.conns.size === 0) this.drained?.();
    });
    this.conns.add(conn);
    conn.start(first);
  }

  /** Tells every client to go away and resolves once each connection's streams are done. */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      this.drained = resolve;
      for (const c of [...this.conns]) c.goAway();
      if (this.conns.size === 0) resolve();
    });
  }

  /** Closes every connection now. */
  forceClose(): void {
    this.draining = true;
    for (const c of [...this.conns]) c.destroy();
  }
}

/** One client connection. */
class FrontConnection implements LegOwner {
  private readonly reader: FrameReader;
  private prefaceAt = 0;
  private readonly decoder = new HpackDecoder({ maxHeaderListBytes: MAX_HEADER_BLOCK_BYTES });
  private readonly streams = new Map<number, FrontStream>();
  private lastStreamId = 0;
  private readonly blocks = new HeaderBlockReader(MAX_HEADER_BLOCK_BYTES);
  private peer = DEFAULT_PEER_SETTINGS;
  private connSendWindow = DEFAULT_WINDOW_BYTES;
  private connRecvWindow = CONN_WINDOW_BYTES;
  private connCredit = 0;
  /** Streams with data waiting for window, or for the socket to drain (MAX_SEND_AHEAD_BYTES). */
  private readonly blocked = new Set<FrontStream>();
  /** Data waits for the socket's 'drain'. */
  private sendAheadFull = false;
  private readonly outbox = new Outbox((out, bytes) => this.write(out, bytes));
  /** Called once the socket has written what it holds (afterSent). */
  private afterWrite: (() => void)[] = [];
  private goawaySent = false;
  private dead = false;
  private inner: InnerLeg | null = null;
  private readonly legs = new Set<InnerLeg>();
  private heardFrom = true;
  private pingOut = false;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private paused = false;

  constructor(
    readonly socket: net.Socket,
    private readonly opts: FrontOptions,
    private readonly onClosed: () => void,
  ) {
    this.reader = new FrameReader((t, f, id, p) => this.onFrame(t, f, id, p));
  }

  start(first: Buffer | null): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.onBytes(chunk));
    s.on('error', () => this.destroy());
    s.on('close', () => this.destroy());
    // The client is done sending: what is already written still goes out.
    s.on('end', () => this.destroy(true));
    s.on('drain', () => {
      if (this.dead) return;
      if (this.paused) {
        this.paused = false;
        s.resume();
      }
      if (this.sendAheadFull) {
        this.sendAheadFull = false;
        for (const stream of [...this.blocked]) this.pump(stream);
      }
    });
    const settings: [Setting, number][] = [[Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW_BYTES]];
    if (this.opts.maxConcurrentStreams < UNLIMITED_STREAMS) settings.unshift([Setting.MAX_CONCURRENT_STREAMS, this.opts.maxConcurrentStreams]);
    this.send(settingsFrame(settings));
    this.send(windowUpdateFrame(0, CONN_WINDOW_BYTES - DEFAULT_WINDOW_BYTES));
    if (this.opts.keepaliveMs > 0) {
      this.keepaliveTimer = setInterval(() => this.keepalive(), this.opts.keepaliveMs);
      this.keepaliveTimer.unref();
    }
    if (first !== null && first.length > 0) this.onBytes(first);
  }

  /**
   * Ends the connection at once; streams in flight are cut off. With `linger`, what was
   * written still goes out (the socket is ended, and destroyed if the client lingers).
   */
  destroy(linger = false): void {
    if (this.dead) return;
    this.dead = true;
    this.reader.stop();
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    // Lent memory of answers cut off or still in the outbox goes back once the socket is done.
    const released = this.afterWrite;
    this.afterWrite = [];
    for (const s of this.streams.values()) {
      s.closed = true;
      s.call?.gone();
      if (s.release !== null) released.push(s.release);
      s.release = null;
    }
    this.streams.clear();
    for (const leg of this.legs) leg.destroy();
    this.legs.clear();
    this.outbox.clear();
    const socket = this.socket;
    if (linger && !socket.destroyed) {
      // Counted closed once the socket is: a drain then knows the last answers went out.
      socket.once('close', () => this.onClosed());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
      this.onClosed();
    }
    for (const fn of released) this.whenSocketDone(fn);
  }

  /** Graceful close: no new stream; the connection ends once its streams are done. */
  goAway(): void {
    if (this.dead || this.goawaySent) return;
    this.goawaySent = true;
    this.send(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR));
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (!this.goawaySent || this.streams.size > 0 || this.dead) return;
    this.flush();
    this.destroy(true);
  }

  private fail(err: H2ConnectionError): void {
    if (this.dead) return;
    this.send(goawayFrame(this.lastStreamId, err.h2Code, err.message));
    this.flush();
    this.destroy(true);
  }

  private keepalive(): void {
    if (this.heardFrom || this.pingOut) {
      this.heardFrom = false;
      return;
    }
    this.pingOut = true;
    this.send(frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    if (this.opts.keepaliveTimeoutMs > 0) {
      this.pingTimer = setTimeout(() => this.destroy(), this.opts.keepaliveTimeoutMs);
      this.pingTimer.unref();
    }
  }

  private onBytes(chunk: Buffer): void {
    if (this.dead) return;
    this.heardFrom = true;
    if (this.prefaceAt < CLIENT_PREFACE.length) {
      const n = Math.min(chunk.length, CLIENT_PREFACE.length - this.prefaceAt);
      if (chunk.compare(CLIENT_PREFACE, this.prefaceAt, this.prefaceAt + n, 0, n) !== 0) {
        this.destroy();
        return;
      }
      this.prefaceAt += n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (e instanceof H2ConnectionError) this.fail(e);
      else if (isFloeError(e, ERR_HPACK)) this.fail(new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, (e as Error).message));
      else throw e;
    }
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.blocks.pending && type !== FrameType.CONTINUATION) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case FrameType.DATA:
        this.onData(flags, id, p);
        return;
      case FrameType.HEADERS:
        this.onBlock(this.blocks.headers(flags, id, p));
        return;
      case FrameType.CONTINUATION:
        this.onBlock(this.blocks.continuation(flags, id, p));
        return;
      case FrameType.RST_STREAM:
        if (id === 0 || p.length !== 4) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'bad RST_STREAM');
        this.onReset(id, p.readUInt32BE(0));
        return;
      case FrameType.SETTINGS:
        if (id !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
        if (flags & FLAG_ACK) {
          if (p.length !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
          return;
        }
        this.onSettings(p);
        return;
      case FrameType.PING:
        if (id !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING not 8 bytes');
        if (flags & FLAG_ACK) {
          this.pingOut = false;
          if (this.pingTimer !== null) clearTimeout(this.pingTimer);
          this.pingTimer = null;
        } else this.send(frame(FrameType.PING, FLAG_ACK, 0, p));
        return;
      case FrameType.WINDOW_UPDATE:
        if (p.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE not 4 bytes');
        this.onWindowUpdate(id, p.readUInt32BE(0) & 0x7fffffff);
        return;
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.GOAWAY:
        // The client opens no more streams; it closes the connection when it is done.
        return;
      default:
        // PRIORITY and unknown frame types are ignored (RFC 7540 5.3, 4.1).
        return;
    }
  }

  private onBlock(b: HeaderBlock | null): void {
    if (b !== null) this.onHeaders(b.id, b.endStream, this.decoder.decode(b.block).fields);
  }

  private onHeaders(id: number, endStream: boolean, fields: HeaderField[]): void {
    if (id % 2 === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `client stream id ${id} is even`);
    const known = this.streams.get(id);
    if (known !== undefined) {
      // Trailers from the client: they must end its side.
      if (!endStream || known.remoteEnded) {
        this.resetStream(known, ErrorCode.PROTOCOL_ERROR);
        return;
      }
      known.remoteEnded = true;
      if (known.call !== null) known.call.end();
      else {
        known.toInner.push(fields);
        known.toInnerEnd = true;
        known.leg?.pump(known);
      }
      return;
    }
    if (id <= this.lastStreamId) {
      this.send(rstStreamFrame(id, ErrorCode.STREAM_CLOSED));
      return;
    }
    this.lastStreamId = id;
    if (this.goawaySent || this.streams.size >= this.opts.maxConcurrentStreams) {
      this.send(rstStreamFrame(id, ErrorCode.REFUSED_STREAM));
      return;
    }
    const fixed = fixAuthorityFields(fields) ?? fields;
    const s = new FrontStream(id, this.peer.initialWindow);
    this.streams.set(id, s);
    s.remoteEnded = endStream;
    const headers = headersObject(fixed);
    const handler = this.opts.handlers === null ? undefined : fastHandlerFor(this.opts.handlers, headers);
    if (handler !== undefined) {
      s.call = startUnary(this.replyTo(s), headers, handler, this.opts.limits, this.socket);
      if (endStream) s.call.end();
      return;
    }
    let leg = this.inner;
    if (leg === null) {
      leg = new InnerLeg(this, this.socket);
      this.inner = leg;
      this.legs.add(leg);
      this.opts.inject(leg.wire, this.socket);
    }
    leg.open(s, fixed, endStream);
  }

  private onData(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    this.connRecvWindow -= p.length;
    if (this.connRecvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'client overran the connection window');
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      this.creditConnection(p.length);
      return;
    }
    const content = dataContent(flags, p);
    s.recvWindow -= p.length;
    if (s.recvWindow < 0 || s.remoteEnded) {
      this.creditConnection(p.length);
      this.resetStream(s, s.remoteEnded ? ErrorCode.STREAM_CLOSED : ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (end) s.remoteEnded = true;
    if (s.call !== null) {
      // Served here: consumed at once.
      this.credit(s, p.length);
      if (content.length > 0) s.call.data(content);
      if (end) s.call.end();
      return;
    }
    // Forwarded: the padding is consumed now, the content once it went on to grpc-js.
    if (p.length > content.length) this.credit(s, p.length - content.length);
    if (content.length > 0) s.toInner.push(Buffer.from(content));
    if (end) s.toInnerEnd = true;
    s.leg?.pump(s);
  }

  private onReset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.lastStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      return;
    }
    this.drop(s);
    s.call?.gone();
    s.leg?.reset(s, code);
  }

  private onSettings(p: Buffer): void {
    const next = readSettings(p, this.peer);
    const delta = next.initialWindow - this.peer.initialWindow;
    this.peer = next;
    for (const s of this.streams.values()) s.sendWindow += delta;
    this.send(SETTINGS_ACK);
    for (const s of this.streams.values()) this.pump(s);
  }

  private onWindowUpdate(id: number, increment: number): void {
    if (id === 0) {
      if (increment === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'connection WINDOW_UPDATE of 0');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW_BYTES) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      for (const s of [...this.blocked]) this.pump(s);
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (increment === 0) {
      this.resetStream(s, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW_BYTES) {
      this.resetStream(s, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    this.pump(s);
  }

  /** The answer side of a call served here. */
  private replyTo(s: FrontStream): UnaryReply {
    return {
      status: (st: Status): void => this.enqueue(s, { block: statusBlock(st), end: true }),
      message: (parts: readonly Buffer[], bodyBytes: number, trailer: grpc.Metadata | null, release?: () => void): void => {
        if (s.closed) {
          release?.();
          return;
        }
        const trailers = trailersBlock(trailer);
        const total = bodyBytes + GRPC_MESSAGE_HEADER_BYTES;
        if (s.queue.length === 0 && total <= s.sendWindow && total <= this.connSendWindow && total <= this.peer.maxFrame && trailers.length <= DEFAULT_MAX_FRAME_BYTES) {
          // The common case: headers, the message and trailers in one buffer.
          s.sendWindow -= total;
          this.connSendWindow -= total;
          this.send(wholeReply(s.id, parts, bodyBytes, trailers));
          release?.(); // copied
          this.localEnd(s);
          return;
        }
        // Views of the parts go out frame by frame: lent memory is released once the
        // stream is over and the socket has written what it was handed (drop()).
        if (release !== undefined) s.release = release;
        s.queue.push(...queuedReply(parts, bodyBytes));
        this.enqueue(s, { block: trailers, end: true });
      },
    };
  }

  // ---- LegOwner: what the inner leg sends on toward the client ----

  enqueue(s: FrontStream, item: OutItem): void {
    if (s.closed || s.localEnded) return;
    s.queue.push(item);
    this.pump(s);
  }

  resetFromInner(s: FrontStream, code: number): void {
    if (s.closed) return;
    this.send(rstStreamFrame(s.id, code));
    this.drop(s);
  }

  /** `n` bytes the client sent on `s` went on to grpc-js: the client may send them again. */
  credit(s: FrontStream, n: number): void {
    this.creditConnection(n);
    if (s.closed || s.remoteEnded || n === 0) return;
    s.recvCredit += n;
    if (s.recvCredit >= STREAM_WINDOW_BYTES / 4) {
      this.send(windowUpdateFrame(s.id, s.recvCredit));
      s.recvWindow += s.recvCredit;
      s.recvCredit = 0;
    }
  }

  legClosed(leg: InnerLeg): void {
    this.legs.delete(leg);
    if (this.inner === leg) this.inner = null;
  }

  legGoingAway(leg: InnerLeg): void {
    if (this.inner === leg) this.inner = null;
  }

  // ---- sending ----

  private creditConnection(n: number): void {
    if (n === 0) return;
    this.connCredit += n;
    if (this.connCredit >= CONN_WINDOW_BYTES / 4) {
      this.send(windowUpdateFrame(0, this.connCredit));
      this.connRecvWindow += this.connCredit;
      this.connCredit = 0;
    }
  }

  /** Sends what `s` has queued, as far as the windows allow. */
  private pump(s: FrontStream): void {
    while (s.queue.length > 0 && !s.closed) {
      const item = s.queue[0]!;
      if (item.block !== undefined) {
        this.send(frameHeaderBlock(s.id, item.end, null, item.block));
        s.queue.shift();
        if (item.end) this.localEnd(s);
        continue;
      }
      const data = item.data!;
      const n = Math.min(data.length, s.sendWindow, this.connSendWindow, this.peer.maxFrame);
      if (n <= 0 && data.length > 0) {
        this.blocked.add(s);
        return;
      }
      if (n > 0 && this.socket.writableLength + this.outbox.queuedBytes >= MAX_SEND_AHEAD_BYTES) {
        // Over the socket's high-water mark, so a 'drain' comes once it took all.
        this.sendAheadFull = true;
        this.blocked.add(s);
        return;
      }
      const last = n === data.length;
      // The header and a view of the bytes: a large reply is not copied frame by frame.
      const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeFrameHeader(head, 0, n, FrameType.DATA, last && item.end ? FLAG_END_STREAM : 0, s.id);
      this.send(head);
      if (n > 0) this.send(data.subarray(0, n));
      s.sendWindow -= n;
      this.connSendWindow -= n;
      if (s.leg !== null && n > 0) s.leg.consumed(s, n);
      if (last) {
        s.queue.shift();
        if (item.end) this.localEnd(s);
      } else item.data = data.subarray(n);
    }
    this.blocked.delete(s);
  }

  /** The front's END_STREAM went out on `s`. */
  private localEnd(s: FrontStream): void {
    s.localEnded = true;
    // The answer is complete while the client is still sending (gRPC's early status): the
    // rest of its request is not wanted.
    if (!s.remoteEnded) this.send(rstStreamFrame(s.id, ErrorCode.NO_ERROR));
    s.leg?.release(s);
    this.drop(s);
  }

  private resetStream(s: FrontStream, code: ErrorCode): void {
    this.send(rstStreamFrame(s.id, code));
    this.drop(s);
    s.call?.gone();
    s.leg?.reset(s, ErrorCode.CANCEL);
  }

  private drop(s: FrontStream): void {
    if (s.closed) return;
    s.closed = true;
    s.queue.length = 0;
    if (s.release !== null) {
      this.afterSent(s.release);
      s.release = null;
    }
    this.blocked.delete(s);
    this.streams.delete(s.id);
    this.closeIfIdle();
  }

  private send(b: Buffer): void {
    if (!this.dead) this.outbox.push(b);
  }

  /**
   * Calls `fn` once the socket has written every byte handed to it so far, this turn's frames
   * included, or has stopped writing for good: memory those bytes are views of is free then.
   */
  private afterSent(fn: () => void): void {
    if (this.dead) {
      this.whenSocketDone(fn);
      return;
    }
    this.afterWrite.push(fn);
    this.send(NO_BYTES); // makes sure a write comes this turn to hang it on
  }

  /** After destroy(): `fn` once the socket neither writes nor holds anything. */
  private whenSocketDone(fn: () => void): void {
    const socket = this.socket;
    // Destroyed: its queued writes were dropped and nothing more is written. Ended (linger):
    // the last answers are still going out, until 'close'.
    if (socket.destroyed) setImmediate(fn);
    else socket.once('close', fn);
  }

  private flush(): void {
    this.outbox.flush();
  }

  private write(out: Buffer[], bytes: number): void {
    if (this.dead) return;
    const s = this.socket;
    if (out.length === 1) s.write(out[0]!);
    else if (bytes <= 16384) s.write(Buffer.concat(out, bytes));
    else {
      s.cork();
      for (const b of out) s.write(b);
      s.uncork();
    }
    if (this.afterWrite.length > 0) {
      // Write callbacks come in order: this one's means every earlier write is done.
      const fns = this.afterWrite;
      this.afterWrite = [];
      s.write(NO_BYTES, () => {
        for (const fn of fns) fn();
      });
    }
    if (s.writableLength > MAX_UNSENT_BYTES && !this.paused) {
      this.paused = true;
      s.pause();
    }
  }
}
