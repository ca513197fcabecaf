/**
 * A protobuf wire reader for hot decoders: one object per message, no per-field allocation
 * (readFields, the generic iterator, yields an object per field). Each malformation throws
 * the error its owner makes (`failWith`, or an override of fail()), so a WAL reports
 * corruption and a peer stream a bad message; without either, ERR_PROTO. Integers that are
 * terms, indexes or sizes come as safe-integer numbers; ids come as bigint (full uint64).
 *
 *   const r = new ProtoReader(buf, (why) => new FloeError(ERR_X, `x: cannot decode: ${why}`));
 *   while (!r.done()) {
 *     const key = r.varint();
 *     if (key === (1 << 3)) id = r.varintBig(); else r.skip(key & 7);
 *   }
 */
import { FloeError } from './errors';
import { ERR_PROTO } from './protowire';

/** 2^28: the low part of a uint64 varint is its first four 7-bit groups. */
const LOW_SPAN = 2 ** 28;
/** 2^36: the high part (bits 28..63); bits past 63 are dropped, as uint64 parsing does. */
const HIGH_SPAN = 2 ** 36;

export class ProtoReader {
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly failWith: ((why: string) => FloeError) | null = null,
  ) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The error for a malformation described by `why`. */
  fail(why: string): FloeError {
    return this.failWith === null ? new FloeError(ERR_PROTO, why) : this.failWith(why);
  }

  /**
   * A varint as a bigint (uint64: bits past 64 are dropped; more than 10 bytes is an error).
   * Accumulated in two exact doubles, so a bigint is made once, not per 7 bits.
   */
  varintBig(): bigint {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw this.fail('truncated varint');
      const b = buf[this.pos++]!;
      if (i === 4) mul = 1;
      if (i < 4) lo += (b & 0x7f) * mul;
      else hi += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) {
        hi %= HIGH_SPAN;
        return hi === 0 ? BigInt(lo) : BigInt(hi) * BigInt(LOW_SPAN) + BigInt(lo);
      }
    }
    throw this.fail('varint too long');
  }

  /** A varint that must be a safe integer (terms, indexes, lengths, enum values). */
  varint(): number {
    // Up to 7 bytes (49 bits) stays exact in a double.
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= buf.length) throw this.fail('truncated varint');
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    this.pos = start;
    const big = this.varintBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`value ${big} exceeds 2^53-1`);
    return Number(big);
  }

  /** A length-delimited field's bytes (a view into the input, not a copy). */
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw this.fail('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * A length-delimited field's bytes, copied: what a decoded value keeps, so it does not pin
   * the (possibly large) buffer it was read from. Small copies come from Node's shared 8 KiB
   * pool, the fastest way to make many small ones. A plain Uint8Array, not a Buffer.
   */
  bytesCopy(): Uint8Array {
    const view = this.bytes();
    const out = Buffer.allocUnsafe(view.length);
    out.set(view);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** Skips a field of an unknown number (protobuf parsers ignore unknown fields). */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varintBig();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.varint());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw this.fail('truncated field');
    this.pos += n;
  }
}
