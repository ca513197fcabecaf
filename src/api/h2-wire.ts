/**
 * HTTP/2 framing (RFC 7540 section 4 and 6) for the client port's own HTTP/2 front
 * (h2-front.ts): a frame reader that cuts a byte stream into frames, and writers of the frames
 * the front sends. No connection state lives here.
 */
import { FloeError, assert } from '../pkg';

/** The client connection preface (RFC 7540 3.5). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** The priority fields of a HEADERS frame with FLAG_PRIORITY. */
export const PRIORITY_BYTES = 5;
/** The smallest SETTINGS_MAX_FRAME_SIZE, which the front advertises and never raises. */
export const DEFAULT_MAX_FRAME_BYTES = 16384;
/** Largest value of SETTINGS_MAX_FRAME_SIZE (2^24-1). */
export const MAX_MAX_FRAME_BYTES = 2 ** 24 - 1;
/** Flow-control windows start here (SETTINGS_INITIAL_WINDOW_SIZE default, and the connection's). */
export const DEFAULT_WINDOW_BYTES = 65535;
/** Largest flow-control window (2^31-1). */
export const MAX_WINDOW_BYTES = 2 ** 31 - 1;

export const enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

export const enum ErrorCode {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
}

export const enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

/** Error code of a connection the front ends because the peer broke the protocol. */
export const ERR_H2_PROTOCOL = 'ERR_H2_PROTOCOL';

/** A connection error (RFC 7540 5.4.1): the connection ends with GOAWAY(code). */
export class H2ConnectionError extends FloeError {
  constructor(
    readonly h2Code: ErrorCode,
    message: string,
  ) {
    super(ERR_H2_PROTOCOL, `http2: ${message}`);
  }
}

/** Receives the frames a FrameReader cuts; `payload` is only valid during the call unless copied. */
export type FrameSink = (type: number, flags: number, streamId: number, payload: Buffer) => void;

/**
 * Cuts bytes into frames. A frame longer than `maxFrameBytes` is a FRAME_SIZE_ERROR
 * (thrown as H2ConnectionError). Payloads are views of the pushed chunks, valid during the sink call.
 */
export class FrameReader {
  private held: Buffer | null = null;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.held === DEAD) return;
    const buf = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
    this.held = null;
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_BYTES) {
      const len = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (len > this.maxFrameBytes) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${len} bytes over the limit ${this.maxFrameBytes}`);
      if (buf.length - pos < FRAME_HEADER_BYTES + len) break;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      const start = pos + FRAME_HEADER_BYTES;
      pos = start + len;
      this.sink(type, flags, id, buf.subarray(start, pos));
      // The sink may have ended the connection; what follows is not read.
      if (this.held === DEAD) return;
    }
    // Copied: the bytes a writer handed in may be reused once the push returns.
    if (pos < buf.length) this.held = Buffer.from(buf.subarray(pos));
  }

  /** Drops held bytes and ignores the rest of the current push. */
  stop(): void {
    this.held = DEAD;
  }
}

const DEAD = Buffer.alloc(0);

/** Writes a frame header at `out[at]`. */
export function writeFrameHeader(out: Buffer, at: number, len: number, type: number, flags: number, streamId: number): void {
  out[at] = len >>> 16;
  out[at + 1] = (len >>> 8) & 0xff;
  out[at + 2] = len & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}

/** One frame with `payload` copied behind its header. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array | null = null): Buffer {
  const len = payload === null ? 0 : payload.length;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
  writeFrameHeader(out, 0, len, type, flags, streamId);
  if (payload !== null) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A SETTINGS frame carrying `values` (identifier, value pairs). */
export function settingsFrame(values: readonly (readonly [Setting, number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * values.length);
  values.forEach(([id, v], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(v, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

/** The settings of a peer that the sending side follows. */
export interface PeerSettings {
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's starting send window. */
  readonly initialWindow: number;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload the peer reads. */
  readonly maxFrame: number;
}

/** The peer's settings before any SETTINGS frame (RFC 7540 6.5.2). */
export const DEFAULT_PEER_SETTINGS: PeerSettings = { initialWindow: DEFAULT_WINDOW_BYTES, maxFrame: DEFAULT_MAX_FRAME_BYTES };

/**
 * `current` changed by a SETTINGS frame's payload, each value checked as RFC 7540 6.5.2 says
 * (H2ConnectionError with its code otherwise). Settings the front does not follow are checked
 * where a value can be wrong, then ignored.
 */
export function readSettings(payload: Buffer, current: PeerSettings): PeerSettings {
  if (payload.length % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
  let { initialWindow, maxFrame } = current;
  for (let at = 0; at < payload.length; at += 6) {
    const key = payload.readUInt16BE(at);
    const value = payload.readUInt32BE(at + 2);
    if (key === Setting.INITIAL_WINDOW_SIZE) {
      if (value > MAX_WINDOW_BYTES) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `initial window ${value}`);
      initialWindow = value;
    } else if (key === Setting.MAX_FRAME_SIZE) {
      if (value < DEFAULT_MAX_FRAME_BYTES || value > MAX_MAX_FRAME_BYTES) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `max frame size ${value}`);
      maxFrame = value;
    } else if (key === Setting.ENABLE_PUSH && value > 1) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `enable push ${value}`);
    }
  }
  return { initialWindow, maxFrame };
}

export const SETTINGS_ACK = frame(FrameType.SETTINGS, FLAG_ACK, 0);

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  assert(increment > 0 && increment <= MAX_WINDOW_BYTES, `window increment ${increment}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  out.writeUInt32BE(increment, FRAME_HEADER_BYTES);
  return out;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, FrameType.RST_STREAM, 0, streamId);
  out.writeUInt32BE(code, FRAME_HEADER_BYTES);
  return out;
}

export function goawayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const text = Buffer.from(debug, 'utf8');
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8 + text.length);
  writeFrameHeader(out, 0, 8 + text.length, FrameType.GOAWAY, 0, 0);
  out.writeUInt32BE(lastStreamId, FRAME_HEADER_BYTES);
  out.writeUInt32BE(code, FRAME_HEADER_BYTES + 4);
  text.copy(out, FRAME_HEADER_BYTES + 8);
  return out;
}

/**
 * Frames an encoded header block as one HEADERS frame and as many CONTINUATION frames as
 * needed, each payload at most DEFAULT_MAX_FRAME_BYTES (the HEADERS payload counts the
 * priority fields when `priority` is given).
 */
export function frameHeaderBlock(streamId: number, endStream: boolean, priority: Uint8Array | null, block: Buffer): Buffer {
  assert(streamId > 0 && streamId <= 0x7fffffff, `stream id ${streamId}`);
  assert(priority === null || priority.length === PRIORITY_BYTES, 'priority is 5 bytes');
  const prio = priority === null ? 0 : PRIORITY_BYTES;
  const firstBytes = Math.min(block.length, DEFAULT_MAX_FRAME_BYTES - prio);
  const continuations = Math.ceil((block.length - firstBytes) / DEFAULT_MAX_FRAME_BYTES);
  const out = Buffer.allocUnsafe((1 + continuations) * FRAME_HEADER_BYTES + prio + block.length);
  let flags = (endStream ? FLAG_END_STREAM : 0) | (priority === null ? 0 : FLAG_PRIORITY);
  if (continuations === 0) flags |= FLAG_END_HEADERS;
  writeFrameHeader(out, 0, prio + firstBytes, FrameType.HEADERS, flags, streamId);
  let pos = FRAME_HEADER_BYTES;
  if (priority !== null) {
    out.set(priority, pos);
    pos += PRIORITY_BYTES;
  }
  pos += block.copy(out, pos, 0, firstBytes);
  for (let off = firstBytes, i = 1; i <= continuations; i++) {
    const n = Math.min(DEFAULT_MAX_FRAME_BYTES, block.length - off);
    writeFrameHeader(out, pos, n, FrameType.CONTINUATION, i === continuations ? FLAG_END_HEADERS : 0, streamId);
    pos += FRAME_HEADER_BYTES;
    pos += block.copy(out, pos, off, off + n);
    off += n;
  }
  assert(pos === out.length, 'header block framing filled its buffer');
  return out;
}

/**
 * The header block fragment of a HEADERS frame payload: padding and priority fields removed.
 * Throws a PROTOCOL_ERROR when the padding is longer than the payload.
 */
function headersFragment(flags: number, payload: Buffer): Buffer {
  let start = 0;
  let end = payload.length;
  if (flags & FLAG_PADDED) {
    if (payload.length < 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS too short for its padding');
    start = 1;
    end -= payload[0]!;
  }
  if (flags & FLAG_PRIORITY) {
    if (payload.length < start + PRIORITY_BYTES) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY HEADERS shorter than 5 bytes');
    start += PRIORITY_BYTES;
  }
  if (end < start) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
  return payload.subarray(start, end);
}

/** The data of a DATA frame payload, padding removed; throws a PROTOCOL_ERROR on bad padding. */
export function dataContent(flags: number, payload: Buffer): Buffer {
  if ((flags & FLAG_PADDED) === 0) return payload;
  if (payload.length < 1 || payload[0]! >= payload.length) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding longer than the frame');
  return payload.subarray(1, payload.length - payload[0]!);
}

/** A whole header block and the stream it opened or ended. */
export interface HeaderBlock {
  readonly id: number;
  readonly endStream: boolean;
  readonly block: Buffer;
}

/**
 * Joins a header block's HEADERS and CONTINUATION fragments (RFC 7540 4.3). A block over
 * `maxBytes`, a CONTINUATION out of place, or another frame inside a block is a
 * PROTOCOL_ERROR. A block in one frame is returned as a view of it (valid during the sink
 * call); a longer one is copied together.
 */
export class HeaderBlockReader {
  private open: { id: number; endStream: boolean; parts: Buffer[]; bytes: number } | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Whether a block is waiting for CONTINUATION frames (then no other frame may come). */
  get pending(): boolean {
    return this.open !== null;
  }

  /** A HEADERS frame: the whole block, or null when CONTINUATION frames follow. */
  headers(flags: number, id: number, payload: Buffer): HeaderBlock | null {
    if (id === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const fragment = headersFragment(flags, payload);
    this.check(fragment.length);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (flags & FLAG_END_HEADERS) return { id, endStream, block: fragment };
    this.open = { id, endStream, parts: [Buffer.from(fragment)], bytes: fragment.length };
    return null;
  }

  /** A CONTINUATION frame: the whole block once END_HEADERS, else null. */
  continuation(flags: number, id: number, payload: Buffer): HeaderBlock | null {
    const b = this.open;
    if (b === null || b.id !== id) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    b.bytes += payload.length;
    this.check(b.bytes);
    b.parts.push(Buffer.from(payload));
    if ((flags & FLAG_END_HEADERS) === 0) return null;
    this.open = null;
    return { id, endStream: b.endStream, block: Buffer.concat(b.parts, b.bytes) };
  }

  private check(bytes: number): void {
    if (bytes > this.maxBytes) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `header block over ${this.maxBytes} bytes`);
  }
}

/**
 * Frames queued during one turn of the event loop and handed to `write` together at its end
 * (process.nextTick), so the answers of one batch leave in one write.
 */
export class Outbox {
  private out: Buffer[] = [];
  private bytes = 0;
  private queued = false;

  constructor(private readonly write: (frames: Buffer[], bytes: number) => void) {}

  push(b: Buffer): void {
    this.out.push(b);
    this.bytes += b.length;
    if (!this.queued) {
      this.queued = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Bytes queued and not handed on yet. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Hands on what is queued now. */
  flush(): void {
    this.queued = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.bytes;
    this.clear();
    this.write(out, bytes);
  }

  /** Drops what is queued. */
  clear(): void {
    this.out = [];
    this.bytes = 0;
  }
}
