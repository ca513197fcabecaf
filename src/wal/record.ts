/**
 * WAL record framing, exactly etcd 3.4's:
 *
 *   frame  = length word (8 bytes, little-endian) + walpb.Record bytes + zero padding
 *   length word: low 56 bits = record byte count; when padding is present the top byte is
 *                0x80 | padBytes (padding 1..7 bytes makes the frame a multiple of 8, so a
 *                length word never straddles a sector and is never torn by itself)
 *   walpb.Record { type = 1 (int64), crc = 2 (uint32), data = 3 (bytes) }; type and crc are
 *                always written, data only when present (a crc record has none)
 *
 * The crc of a record is CRC-32C over its data, seeded with the crc of the record before it,
 * so one chain runs through every segment of the log. A crc record carries the chain's value
 * at that point (each segment starts with one) and resets nothing: the reader checks it
 * against its own running value and continues from it.
 */
import { assert, crc32c } from '../pkg';
import type { Entry } from '../raft/types';
import {
  ERR_WAL_CORRUPT,
  ERR_WAL_CRC_MISMATCH,
  ERR_WAL_MAX_ENTRY_SIZE,
  walError,
} from './errors';
import { entryHeadSize, putEntryHead } from './raftpb-codec';
import { putVarint, varintSize, WireReader } from './wire';

export const RECORD_METADATA = 1;
export const RECORD_ENTRY = 2;
export const RECORD_STATE = 3;
export const RECORD_CRC = 4;
export const RECORD_SNAPSHOT = 5;

/** Size of the length word in front of every record. */
export const FRAME_SIZE_BYTES = 8;
/**
 * etcd's reader refuses a frame whose record plus padding reaches 10 MiB
 * (maxWALEntrySizeLimit); the writer refuses to write one, so nothing it writes is unreadable.
 */
export const MAX_RECORD_BYTES = 10 * 1024 * 1024;
/** The unit a disk writes atomically; a torn write leaves whole sectors of zeros. */
export const SECTOR_BYTES = 512;

/** Padding that brings a record of `recordBytes` to a multiple of 8. */
export function padBytesFor(recordBytes: number): number {
  return (8 - (recordBytes % 8)) % 8;
}

/** Writes the length word for a record of `recordBytes` at `pos`; returns the padding. */
export function putLengthWord(buf: Buffer, pos: number, recordBytes: number): number {
  assert(Number.isSafeInteger(recordBytes) && recordBytes >= 0 && recordBytes < 2 ** 32, 'record too large for a frame');
  const pad = padBytesFor(recordBytes);
  buf.writeUInt32LE(recordBytes, pos);
  buf.writeUInt32LE(pad === 0 ? 0 : ((0x80 | pad) << 24) >>> 0, pos + 4);
  return pad;
}

/** Reads a length word: the record's byte count and its padding. */
export function readLengthWord(buf: Buffer, pos: number): { recordBytes: number; padBytes: number } {
  const lo = buf.readUInt32LE(pos);
  const hi = buf.readUInt32LE(pos + 4);
  const recordBytes = lo + (hi & 0x00ffffff) * 2 ** 32;
  // A set top bit (a negative int64 in etcd's reading) says the low 3 bits of the top byte
  // hold the padding.
  const padBytes = hi & 0x80000000 ? (hi >>> 24) & 0x7 : 0;
  return { recordBytes, padBytes };
}

/**
 * Encodes records into frames, chaining the crc. take() hands the bytes over (the writer
 * starts a new buffer on the next append), so a pending file write never sees them change.
 */
export class RecordWriter {
  private buf: Buffer | null = null;
  private len = 0;
  private readonly head = new Uint8Array(64);

  /** @param crc the chain's value after the last record already on disk (0 for a new log) */
  constructor(
    public crc: number,
    private capacityBytes = 4096,
  ) {}

  /** Bytes appended since the last take(). */
  get sizeBytes(): number {
    return this.len;
  }

  private ensure(n: number): Buffer {
    if (this.buf === null) {
      this.buf = Buffer.allocUnsafe(Math.max(this.capacityBytes, n));
    } else if (this.len + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    return this.buf;
  }

  /**
   * Appends one frame. `parts` are the record's data (concatenated); `hasData` false writes no
   * data field at all (a crc record). The crc is computed before anything is written, so a
   * refused record leaves the writer unchanged.
   */
  private frame(type: number, parts: readonly Uint8Array[], hasData: boolean): void {
    assert(type >= 1 && type < 0x80, `record type ${type}`);
    let dataBytes = 0;
    let crc = this.crc;
    for (const p of parts) {
      dataBytes += p.length;
      if (type !== RECORD_CRC) crc = crc32c(p, crc);
    }
    const recordBytes = 2 + 1 + varintSize(crc) + (hasData ? 1 + varintSize(dataBytes) + dataBytes : 0);
    const pad = padBytesFor(recordBytes);
    if (recordBytes + pad >= MAX_RECORD_BYTES) {
      throw walError(
        ERR_WAL_MAX_ENTRY_SIZE,
        `wal: max entry size limit exceeded: a record of ${recordBytes} bytes (+${pad} padding) reaches the ${MAX_RECORD_BYTES}-byte limit`,
      );
    }
    const buf = this.ensure(FRAME_SIZE_BYTES + recordBytes + pad);
    let pos = this.len;
    putLengthWord(buf, pos, recordBytes);
    pos += FRAME_SIZE_BYTES;
    buf[pos++] = 0x08;
    buf[pos++] = type;
    buf[pos++] = 0x10;
    pos = putVarint(buf, pos, crc);
    if (hasData) {
      buf[pos++] = 0x1a;
      pos = putVarint(buf, pos, dataBytes);
      for (const p of parts) {
        buf.set(p, pos);
        pos += p.length;
      }
    }
    buf.fill(0, pos, pos + pad);
    this.len = pos + pad;
    this.crc = crc;
  }

  /** A record of `type` carrying `data` (an empty array still writes an empty data field). */
  append(type: number, data: Uint8Array): void {
    assert(type !== RECORD_CRC, 'use appendCrc for crc records');
    this.frame(type, [data], true);
  }

  /** A crc record carrying the chain's current value. */
  appendCrc(): void {
    this.frame(RECORD_CRC, [], false);
  }

  /** An entry record; the entry is encoded straight into the frame (the payload is copied once). */
  appendEntry(e: Entry): void {
    const headBytes = entryHeadSize(e);
    assert(headBytes <= this.head.length, 'entry head fits the scratch buffer');
    putEntryHead(this.head, 0, e);
    this.frame(RECORD_ENTRY, [this.head.subarray(0, headBytes), e.data], true);
  }

  /** The frames appended so far; the writer forgets them. */
  take(): Buffer {
    const out = this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.len);
    if (this.len > this.capacityBytes) this.capacityBytes = Math.min(this.len, 16 * 1024 * 1024);
    this.buf = null;
    this.len = 0;
    return out;
  }
}

/** One decoded record; `data` is a view into the segment's bytes. */
export interface WalRecord {
  readonly type: number;
  readonly crc: number;
  readonly data: Uint8Array;
}

/** How a segment's decoding stopped. */
export type SegmentEnd =
  /** the end of the file, or a zero length word (preallocated space): a clean end */
  | 'eof'
  /** a record cut short, or a bad record whose bytes hold a zeroed sector: a torn write */
  | 'torn';

/**
 * Decodes the frames of one segment file held in memory. The running crc is shared across
 * segments (pass the previous segment's decoder.crc to the next). Corruption that is not a
 * torn write throws; a torn write is only recognised in the last segment, as etcd does.
 */
export class SegmentDecoder {
  /** Offset just after the last valid record: where a repair truncates, where appends go. */
  offset = 0;
  end: SegmentEnd | null = null;
  /**
   * When next() returned null with `end` still null: the buffer holds only a prefix of the
   * file and the next frame needs the file's first `wantBytes` bytes; call extend().
   */
  wantBytes = 0;

  /** File offset of buf[0]. */
  private base = 0;

  constructor(
    private buf: Buffer,
    /** the crc chain's value before this segment */
    public crc: number,
    private readonly isLast: boolean,
    /** the segment's name, for error messages */
    private readonly name: string,
    /** false when `buf` holds only part of the file (see extend()) */
    private complete = true,
  ) {}

  /**
   * Continues with `buf`, the file's bytes from offset `base` on; `base` may not be past the
   * end of the last record returned (the unconsumed bytes must be in `buf`).
   */
  extend(buf: Buffer, base: number, complete: boolean): void {
    assert(base <= this.offset && base + buf.length >= this.base + this.buf.length, 'extend() keeps the unread bytes');
    this.buf = buf;
    this.base = base;
    this.complete = complete;
    this.wantBytes = 0;
  }

  private more(wantBytes: number): null {
    this.wantBytes = wantBytes;
    return null;
  }

  /** The next record, or null: at the end (`end` set) or when more bytes are needed. */
  next(): WalRecord | null {
    if (this.end !== null) return null;
    const buf = this.buf;
    const fileOff = this.offset;
    const off = fileOff - this.base; // position in buf
    if (off === buf.length) return this.complete ? this.stop('eof') : this.more(fileOff + FRAME_SIZE_BYTES);
    if (buf.length - off < FRAME_SIZE_BYTES) return this.complete ? this.stop('torn') : this.more(fileOff + FRAME_SIZE_BYTES);
    if (buf.readUInt32LE(off) === 0 && buf.readUInt32LE(off + 4) === 0) return this.stop('eof');
    const { recordBytes, padBytes } = readLengthWord(buf, off);
    if (recordBytes >= MAX_RECORD_BYTES - padBytes) {
      throw walError(
        ERR_WAL_MAX_ENTRY_SIZE,
        `wal: max entry size limit exceeded: ${this.name} offset ${fileOff} claims a record of ${recordBytes} bytes`,
      );
    }
    const start = off + FRAME_SIZE_BYTES;
    if (start + recordBytes + padBytes > buf.length) {
      return this.complete ? this.stop('torn') : this.more(fileOff + FRAME_SIZE_BYTES + recordBytes + padBytes);
    }
    const frame = buf.subarray(start, start + recordBytes + padBytes);
    let rec: WalRecord;
    try {
      rec = parseRecord(frame.subarray(0, recordBytes));
    } catch (e) {
      if (this.isTorn(frame)) return this.stop('torn');
      throw walError(ERR_WAL_CORRUPT, `wal: corrupt record in ${this.name} at offset ${fileOff}: ${(e as Error).message}`, e);
    }
    if (rec.type === RECORD_CRC) {
      // A fresh chain (crc 0) accepts any value: the log may start mid-history.
      if (this.crc !== 0 && rec.crc !== this.crc) {
        throw walError(
          ERR_WAL_CRC_MISMATCH,
          `wal: crc mismatch: crc record in ${this.name} at offset ${fileOff} carries ${hex(rec.crc)}, the chain is at ${hex(this.crc)}`,
        );
      }
      this.crc = rec.crc;
    } else {
      const crc = crc32c(rec.data, this.crc);
      if (crc !== rec.crc) {
        if (this.isTorn(frame)) return this.stop('torn');
        throw walError(
          ERR_WAL_CRC_MISMATCH,
          `wal: crc mismatch: record in ${this.name} at offset ${fileOff} has crc ${hex(rec.crc)}, its data gives ${hex(crc)}`,
        );
      }
      this.crc = crc;
    }
    this.offset = fileOff + FRAME_SIZE_BYTES + recordBytes + padBytes;
    return rec;
  }

  private stop(end: SegmentEnd): null {
    this.end = end;
    return null;
  }

  /**
   * A bad record is a torn write when the segment is the last one and some sector-aligned
   * piece of the frame is all zeros: the disk never wrote that sector.
   */
  private isTorn(frame: Uint8Array): boolean {
    if (!this.isLast) return false;
    let fileOff = this.offset + FRAME_SIZE_BYTES;
    let pos = 0;
    while (pos < frame.length) {
      const chunk = Math.min(SECTOR_BYTES - (fileOff % SECTOR_BYTES), frame.length - pos);
      let zero = true;
      for (let i = pos; i < pos + chunk; i++) {
        if (frame[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (zero) return true;
      pos += chunk;
      fileOff += chunk;
    }
    return false;
  }
}

/** Parses walpb.Record. */
export function parseRecord(bytes: Uint8Array): WalRecord {
  const r = new WireReader(bytes, 'walpb.Record');
  let type = 0;
  let crc = 0;
  let data: Uint8Array = EMPTY;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 0) throw r.fail('illegal field number 0');
    if (field === 1 && wt === 0) {
      const t = r.varintBig();
      type = t < 0x80n ? Number(t) : -1;
    } else if (field === 2 && wt === 0) {
      const c = r.varintBig();
      if (c > 0xffffffffn) throw r.fail('crc exceeds 32 bits');
      crc = Number(c);
    } else if (field === 3 && wt === 2) data = r.bytes();
    else r.skip(wt);
  }
  return { type, crc, data };
}

const EMPTY = new Uint8Array(0);

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

