/**
 * Minimal protobuf wire helpers for the WAL's hot paths (entry records are encoded and decoded
 * once per entry at write and at replay, so they avoid the generic field iterator).
 * Integers that are terms, indexes or sizes are `number` and must be safe integers; node and
 * cluster ids are `bigint` (full uint64).
 */
import { FloeError, putVarintBig as putUint64Varint } from '../pkg';
import { ERR_WAL_CORRUPT } from './errors';

export { varintSize, varintSizeBig, putVarint } from '../pkg';

const MAX_UINT64 = (1n << 64n) - 1n;

/** Writes the varint of a uint64 bigint at `pos`; returns the next position. */
export function putVarintBig(buf: Uint8Array, pos: number, v: bigint): number {
  if (v < 0n || v > MAX_UINT64) throw new FloeError(ERR_WAL_CORRUPT, `wal: uint64 out of range: ${v}`);
  return putUint64Varint(buf, pos, v);
}

/** Reads one protobuf message's fields; every malformation throws ERR_WAL_CORRUPT naming `what`. */
export class WireReader {
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  fail(why: string): FloeError {
    return new FloeError(ERR_WAL_CORRUPT, `wal: cannot decode ${this.what}: ${why}`);
  }

  /** A varint as a bigint (uint64; longer encodings are rejected). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
      if (shift >= 70n) throw this.fail('varint too long');
    }
    return result & MAX_UINT64;
  }

  /** A varint that must be a safe integer (terms, indexes, lengths, enum values). */
  varint(): number {
    // Fast path: up to 7 bytes (49 bits) stays exact in a double.
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.buf.length) throw this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
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
   * the (up to 64 MB) buffer it was read from. Buffer#slice would not copy; small copies come
   * from Node's shared 8 KiB pool, the fastest way to make many small ones.
   */
  bytesCopy(): Uint8Array {
    const view = this.bytes();
    const out = Buffer.allocUnsafe(view.length);
    out.set(view);
    // A plain Uint8Array (not a Buffer), like every other payload in raft's types.
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
