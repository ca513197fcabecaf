/**
 * Protocol-buffer wire format, by hand: the few messages Floe stores on disk or hashes
 * (mvccpb.KeyValue in the backend, leasepb.Lease, WAL records, raft entries) must be
 * byte-for-byte what etcd (gogoproto) writes, and hot paths cannot afford a reflective codec.
 *
 * Integers: int64/uint64 fields carry numbers when they fit in 2^53 and bigints otherwise;
 * negative int64 values are written as 10-byte two's-complement varints, as protobuf does.
 */
import { FloeError } from './errors';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const TWO_64 = 1n << 64n;
export const ERR_PROTO = 'ERR_PROTO';

/** Bytes the varint of `v` (a non-negative safe integer) takes. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes the varint of a uint64 bigint takes. */
export function varintSizeBig(v: bigint): number {
  // Without a bigint per 7 bits: ids and int64 two's complements are written on hot paths.
  if (v <= MAX_SAFE_BIG) return varintSize(Number(v));
  return v < 1n << 56n ? 8 : v < 1n << 63n ? 9 : 10;
}

/** Writes the varint of `v` (a non-negative safe integer) at `pos`; returns the next position. */
export function putVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * Writes the varint of `v` (a uint64: 0 <= v < 2^64, e.g. a negative int64 as its two's
 * complement) at `pos`; returns the next position.
 */
export function putVarintBig(buf: Uint8Array, pos: number, v: bigint): number {
  if (v <= MAX_SAFE_BIG) return putVarint(buf, pos, Number(v));
  // Two 32-bit halves, shifted as numbers: two bigint operations instead of one per 7 bits.
  let lo = Number(v & 0xffffffffn) >>> 0;
  let hi = Number(v >> 32n) >>> 0;
  while (hi !== 0 || lo >= 0x80) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** Appends protobuf fields to a growable buffer. */
export class ProtoWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialBytes = 64) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** A raw varint of a non-negative integer (number up to 2^53-1, or bigint up to 2^64-1). */
  varint(v: number | bigint): this {
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
      this.ensure(8);
      this.len = putVarint(this.buf, this.len, v);
      return this;
    }
    let x = BigInt(v);
    if (x < 0n) x += TWO_64; // int64 two's complement
    if (x < 0n || x >= TWO_64) throw new FloeError(ERR_PROTO, `varint out of range: ${String(v)}`);
    this.ensure(10);
    this.len = putVarintBig(this.buf, this.len, x);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** A varint field (int32/int64/uint64/bool/enum); written even when zero. */
  uint(field: number, v: number | bigint): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  /** A varint field only when non-zero (proto3 default omission). */
  uintNonZero(field: number, v: number | bigint): this {
    return v === 0 || v === 0n ? this : this.uint(field, v);
  }

  /** A length-delimited field (bytes, string, nested message). */
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_BYTES).varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** A length-delimited field only when non-empty. */
  bytesNonEmpty(field: number, b: Uint8Array): this {
    return b.length === 0 ? this : this.bytes(field, b);
  }

  /** The encoded bytes (a copy, so the writer may be reused or dropped). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/** One field read back: varints as number when < 2^53, else bigint; bytes as a subarray. */
export interface ProtoField {
  readonly field: number;
  readonly wire: number;
  readonly int: number | bigint;
  readonly bytes: Buffer;
}

/** Iterates over the fields of one encoded message; malformed input throws ERR_PROTO. */
export function* readFields(data: Uint8Array): Generator<ProtoField> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  const varint = (): number | bigint => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new FloeError(ERR_PROTO, 'truncated varint');
      const b = buf[pos++]!;
      if (i < 7) {
        result += (b & 0x7f) * mul;
        mul *= 0x80;
        if (b < 0x80) return result;
        continue;
      }
      // Past 49 bits: finish in bigint.
      let big = BigInt(result) + BigInt(b & 0x7f) * BigInt(mul);
      let bigMul = BigInt(mul) * 0x80n;
      let last = b;
      while (last >= 0x80) {
        if (pos >= buf.length || ++i >= 10) throw new FloeError(ERR_PROTO, 'varint too long');
        last = buf[pos++]!;
        big += BigInt(last & 0x7f) * bigMul;
        bigMul *= 0x80n;
      }
      big &= TWO_64 - 1n;
      return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    throw new FloeError(ERR_PROTO, 'varint too long');
  };
  while (pos < buf.length) {
    const key = varint();
    if (typeof key !== 'number') throw new FloeError(ERR_PROTO, 'field key too large');
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new FloeError(ERR_PROTO, 'field number 0');
    switch (wire) {
      case WIRE_VARINT:
        yield { field, wire, int: varint(), bytes: EMPTY };
        break;
      case WIRE_BYTES: {
        const n = varint();
        if (typeof n !== 'number' || pos + n > buf.length) throw new FloeError(ERR_PROTO, 'truncated length-delimited field');
        yield { field, wire, int: 0, bytes: buf.subarray(pos, pos + n) };
        pos += n;
        break;
      }
      case WIRE_FIXED64:
        if (pos + 8 > buf.length) throw new FloeError(ERR_PROTO, 'truncated fixed64');
        yield { field, wire, int: buf.readBigUInt64LE(pos), bytes: buf.subarray(pos, pos + 8) };
        pos += 8;
        break;
      case WIRE_FIXED32:
        if (pos + 4 > buf.length) throw new FloeError(ERR_PROTO, 'truncated fixed32');
        yield { field, wire, int: buf.readUInt32LE(pos), bytes: buf.subarray(pos, pos + 4) };
        pos += 4;
        break;
      default:
        throw new FloeError(ERR_PROTO, `unsupported wire type ${wire}`);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** A varint read as a signed int64 (two's complement), as number when safe, else bigint. */
export function asInt64(v: number | bigint): number | bigint {
  if (typeof v === 'number') return v;
  const s = v >= 1n << 63n ? v - TWO_64 : v;
  return s >= BigInt(Number.MIN_SAFE_INTEGER) && s <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : s;
}
