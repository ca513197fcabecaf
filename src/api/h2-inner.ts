/**
 * The front's leg to grpc-js (h2-front.ts): an in-process HTTP/2 connection on which the front
 * is the client, carrying the streams of one client connection that the front does not serve
 * itself. Each forwarded stream keeps its client's stream id (client ids rise, and a skipped
 * id is legal), so a frame needs no translation beyond its header block, which is decoded
 * with this leg's HPACK state and re-encoded as literals for the other side.
 *
 * Flow control is kept on both hops: data from the client goes on to grpc-js within
 * grpc-js's windows, and the client gets its window back only then; data from grpc-js goes
 * on to the client within the client's windows (the front queues it), and grpc-js gets its
 * window back only once the front wrote it. Memory per stream is therefore bounded by the
 * windows: INNER_STREAM_WINDOW_BYTES toward the client, the front's stream window toward
 * grpc-js.
 *
 * grpc-js sees an ordinary connection (a Duplex whose remote address is the client's), so
 * its own rules (receive limits, compression, plain HTTP/2 routing, keepalive, GOAWAY on
 * shutdown) apply to forwarded streams unchanged.
 */
import type * as net from 'node:net';
import { isFloeError } from '../pkg';
import { ERR_HPACK, HpackDecoder, encodeLiteralBlock, type HeaderField } from './hpack';
import {
  CLIENT_PREFACE,
  DEFAULT_PEER_SETTINGS,
  DEFAULT_WINDOW_BYTES,
  ErrorCode,
  FLAG_ACK,
  FLAG_END_STREAM,
  FrameReader,
  FrameType,
  H2ConnectionError,
  HeaderBlockReader,
  type HeaderBlock,
  MAX_MAX_FRAME_BYTES,
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
} from './h2-wire';
import type { FrontStream } from './h2-stream';
import { SocketDuplex } from './socket-duplex';

/** Window the leg gives grpc-js per stream: the most it buffers for a slow client. */
export const INNER_STREAM_WINDOW_BYTES = 256 * 1024;
/** Window the leg gives grpc-js for the whole connection. */
export const INNER_CONN_WINDOW_BYTES = 4 << 20;
/** Largest header block accepted from grpc-js. */
const MAX_INNER_BLOCK_BYTES = 1 << 20;

/** What the leg needs from the front connection that owns it. */
export interface LegOwner {
  /** Queues a header block or data for the client on `s` (sent within the client's windows). */
  enqueue(s: FrontStream, item: { block: Buffer; end: boolean } | { data: Buffer; end: boolean }): void;
  /** grpc-js reset `s`: the client is told with `code`. */
  resetFromInner(s: FrontStream, code: number): void;
  /** `n` client bytes of `s` went on to grpc-js. */
  credit(s: FrontStream, n: number): void;
  /** The leg's connection ended. */
  legClosed(leg: InnerLeg): void;
  /** grpc-js sent GOAWAY: new streams need another leg. */
  legGoingAway(leg: InnerLeg): void;
}

/** One in-process connection to grpc-js; see the file comment. */
export class InnerLeg {
  readonly wire: InnerWire;
  private readonly reader: FrameReader;
  private readonly decoder = new HpackDecoder({ maxHeaderListBytes: MAX_INNER_BLOCK_BYTES });
  private readonly streams = new Map<number, FrontStream>();
  private readonly blocks = new HeaderBlockReader(MAX_INNER_BLOCK_BYTES);
  /** grpc-js's settings. */
  private peer = DEFAULT_PEER_SETTINGS;
  private connWindow = DEFAULT_WINDOW_BYTES;
  private connCredit = 0;
  private readonly blocked = new Set<FrontStream>();
  private readonly outbox = new Outbox((out, bytes) => {
    if (!this.closed) this.wire.push(out.length === 1 ? out[0]! : Buffer.concat(out, bytes));
  });
  private closed = false;

  constructor(
    private readonly owner: LegOwner,
    socket: net.Socket,
  ) {
    this.wire = new InnerWire(this, socket);
    this.reader = new FrameReader((t, f, id, p) => this.onFrame(t, f, id, p), MAX_MAX_FRAME_BYTES);
    this.send(CLIENT_PREFACE);
    this.send(settingsFrame([
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, INNER_STREAM_WINDOW_BYTES],
    ]));
    this.send(windowUpdateFrame(0, INNER_CONN_WINDOW_BYTES - DEFAULT_WINDOW_BYTES));
  }

  /** Starts forwarding `s`, whose request headers were `fields`. */
  open(s: FrontStream, fields: readonly HeaderField[], endStream: boolean): void {
    if (this.closed) {
      this.owner.resetFromInner(s, ErrorCode.REFUSED_STREAM);
      return;
    }
    s.leg = this;
    s.innerWindow = this.peer.initialWindow;
    this.streams.set(s.id, s);
    this.send(frameHeaderBlock(s.id, endStream, null, encodeLiteralBlock(fields)));
    if (endStream) s.innerEndSent = true;
  }

  /** Sends on to grpc-js what `s` has for it, as far as grpc-js's windows allow. */
  pump(s: FrontStream): void {
    if (this.closed || !this.streams.has(s.id)) return;
    while (s.toInner.length > 0) {
      const item = s.toInner[0]!;
      if (!Buffer.isBuffer(item)) {
        // Client trailers (always the end of its side).
        this.send(frameHeaderBlock(s.id, true, null, encodeLiteralBlock(item)));
        s.toInner.shift();
        s.innerEndSent = true;
        continue;
      }
      const n = Math.min(item.length, s.innerWindow, this.connWindow, this.peer.maxFrame);
      if (n <= 0) {
        this.blocked.add(s);
        return;
      }
      const last = n === item.length;
      const end = last && s.toInner.length === 1 && s.toInnerEnd;
      this.send(frame(FrameType.DATA, end ? FLAG_END_STREAM : 0, s.id, item.subarray(0, n)));
      s.innerWindow -= n;
      this.connWindow -= n;
      if (end) s.innerEndSent = true;
      if (last) s.toInner.shift();
      else s.toInner[0] = item.subarray(n);
      this.owner.credit(s, n);
    }
    this.blocked.delete(s);
    if (s.toInnerEnd && !s.innerEndSent) {
      this.send(frame(FrameType.DATA, FLAG_END_STREAM, s.id));
      s.innerEndSent = true;
    }
  }

  /** The client reset `s` (or the front gave up on it): grpc-js is told. */
  reset(s: FrontStream, code: number): void {
    if (!this.streams.delete(s.id)) return;
    this.blocked.delete(s);
    if (!this.closed) this.send(rstStreamFrame(s.id, code));
  }

  /**
   * grpc-js's answer on `s` reached the client in full. A request side grpc-js has not seen
   * the end of is reset (CANCEL), or its stream would stay half-open there.
   */
  release(s: FrontStream): void {
    if (!this.streams.delete(s.id)) return;
    this.blocked.delete(s);
    if (!s.innerEndSent && !this.closed) this.send(rstStreamFrame(s.id, ErrorCode.CANCEL));
  }

  /** `n` bytes grpc-js sent on `s` were written to the client: grpc-js may send them again. */
  consumed(s: FrontStream, n: number): void {
    this.creditConnection(n);
    if (this.closed || !this.streams.has(s.id)) return;
    s.innerCredit += n;
    if (s.innerCredit >= INNER_STREAM_WINDOW_BYTES / 4) {
      this.send(windowUpdateFrame(s.id, s.innerCredit));
      s.innerCredit = 0;
    }
  }

  /** Ends the connection to grpc-js (its calls are cancelled). */
  destroy(): void {
    this.wire.destroy();
  }

  // ---- from grpc-js ----

  /** Bytes grpc-js wrote. */
  onBytes(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof H2ConnectionError) && !isFloeError(e, ERR_HPACK)) throw e;
      // grpc-js never breaks the protocol; if it seems to, the leg is unusable.
      this.send(goawayFrame(0, e instanceof H2ConnectionError ? e.h2Code : ErrorCode.COMPRESSION_ERROR));
      this.flush();
      this.wire.destroy();
    }
  }

  /** The wire is gone: streams still forwarded are reset toward the client. */
  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    this.outbox.clear();
    for (const s of this.streams.values()) this.owner.resetFromInner(s, ErrorCode.CANCEL);
    this.streams.clear();
    this.blocked.clear();
    this.owner.legClosed(this);
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.blocks.pending && type !== FrameType.CONTINUATION) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case FrameType.DATA: {
        const s = this.streams.get(id);
        if (s === undefined) {
          this.creditConnection(p.length);
          return;
        }
        const content = dataContent(flags, p);
        if (p.length > content.length) this.creditConnection(p.length - content.length);
        const end = (flags & FLAG_END_STREAM) !== 0;
        // Copied: grpc-js's buffer may be reused once its write returns.
        if (content.length > 0 || end) this.owner.enqueue(s, { data: Buffer.from(content), end });
        return;
      }
      case FrameType.HEADERS:
        this.onBlock(this.blocks.headers(flags, id, p));
        return;
      case FrameType.CONTINUATION:
        this.onBlock(this.blocks.continuation(flags, id, p));
        return;
      case FrameType.RST_STREAM: {
        const s = this.streams.get(id);
        if (s === undefined || p.length !== 4) return;
        this.streams.delete(id);
        this.blocked.delete(s);
        this.owner.resetFromInner(s, p.readUInt32BE(0));
        return;
      }
      case FrameType.SETTINGS:
        if ((flags & FLAG_ACK) === 0) this.onSettings(p);
        return;
      case FrameType.PING:
        if ((flags & FLAG_ACK) === 0) this.send(frame(FrameType.PING, FLAG_ACK, 0, p));
        return;
      case FrameType.GOAWAY: {
        const lastId = p.readUInt32BE(0) & 0x7fffffff;
        this.owner.legGoingAway(this);
        for (const s of [...this.streams.values()]) {
          if (s.id <= lastId) continue;
          this.streams.delete(s.id);
          this.owner.resetFromInner(s, ErrorCode.REFUSED_STREAM);
        }
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          this.connWindow += inc;
          for (const s of [...this.blocked]) this.pump(s);
          return;
        }
        const s = this.streams.get(id);
        if (s === undefined) return;
        s.innerWindow += inc;
        this.pump(s);
        return;
      }
      default:
        return;
    }
  }

  private onBlock(b: HeaderBlock | null): void {
    if (b === null) return;
    // Decoded even when the stream is gone: the table must follow every block.
    const fields = this.decoder.decode(b.block).fields;
    const s = this.streams.get(b.id);
    if (s === undefined) return;
    this.owner.enqueue(s, { block: encodeLiteralBlock(fields), end: b.endStream });
  }

  private onSettings(p: Buffer): void {
    const next = readSettings(p, this.peer);
    const delta = next.initialWindow - this.peer.initialWindow;
    this.peer = next;
    for (const s of this.streams.values()) s.innerWindow += delta;
    this.send(SETTINGS_ACK);
    for (const s of [...this.streams.values()]) this.pump(s);
  }

  private creditConnection(n: number): void {
    if (this.closed || n === 0) return;
    this.connCredit += n;
    if (this.connCredit >= INNER_CONN_WINDOW_BYTES / 4) {
      this.send(windowUpdateFrame(0, this.connCredit));
      this.connCredit = 0;
    }
  }

  private send(b: Buffer): void {
    if (!this.closed) this.outbox.push(b);
  }

  private flush(): void {
    this.outbox.flush();
  }
}

/**
 * The leg's end of the in-process connection as grpc-js sees it: what the leg sends is read
 * by grpc-js, what grpc-js writes goes to the leg. It reports the client's addresses.
 */
export class InnerWire extends SocketDuplex {
  constructor(
    private readonly leg: InnerLeg,
    socket: net.Socket,
  ) {
    super(socket, { allowHalfOpen: false });
  }

  override _read(): void {
    // The leg pushes as it has bytes; grpc-js's own windows bound them.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.leg.onBytes(chunk);
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.leg.onClosed();
    this.push(null);
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.leg.onClosed();
    done(err);
  }
}
