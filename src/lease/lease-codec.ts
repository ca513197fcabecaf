/**
 * leasepb.Lease, the record etcd keeps for each lease in the backend's `lease` bucket:
 *
 *   message Lease { int64 ID = 1; int64 TTL = 2; int64 RemainingTTL = 3; }
 *
 * Encoded as etcd's gogoproto marshaller does: fields in number order, a zero field left out,
 * negative values as 10-byte two's-complement varints. Decoding follows proto3: unknown fields
 * are skipped, a repeated field's last value wins, a known field with the wrong wire type is an
 * error.
 */
import { FloeError, WIRE_VARINT, asInt64, assert, readFields } from '../pkg';
import { type LeaseId, isInt64 } from './lease-id';

/** One decoded leasepb.Lease. TTLs are seconds; RemainingTTL 0 means "not checkpointed". */
export interface LeaseRecord {
  readonly id: LeaseId;
  readonly ttlSec: number;
  readonly remainingTtlSec: number;
}

/**
 * The leasepb.Lease bytes of `rec`, byte-for-byte what etcd writes. Written straight into one
 * exact-size buffer: the lessor encodes a record per grant, and a million grants must not pay
 * for a growable writer and a copy each.
 */
export function encodeLeaseRecord(rec: LeaseRecord): Buffer {
  assert(isInt64(rec.id), () => `lease id out of int64 range: ${rec.id}`);
  assert(Number.isSafeInteger(rec.ttlSec) && Number.isSafeInteger(rec.remainingTtlSec), 'lease TTLs must be safe integers');
  const id = splitInt64(rec.id);
  const ttl = splitInt64(rec.ttlSec);
  const rem = splitInt64(rec.remainingTtlSec);
  const size = fieldSize(id) + fieldSize(ttl) + fieldSize(rem);
  const out = Buffer.allocUnsafe(size);
  let pos = writeField(out, 0, 1, id);
  pos = writeField(out, pos, 2, ttl);
  pos = writeField(out, pos, 3, rem);
  assert(pos === size, 'leasepb.Lease size miscomputed');
  return out;
}

/** An int64 as the high and low 32 bits of its 64-bit two's complement (both unsigned). */
interface Halves {
  readonly hi: number;
  readonly lo: number;
}

function splitInt64(v: bigint | number): Halves {
  if (typeof v === 'number' && v >= 0) return { hi: Math.floor(v / 0x1_0000_0000), lo: v >>> 0 };
  const u = BigInt.asUintN(64, BigInt(v));
  return { hi: Number(u >> 32n), lo: Number(u & 0xffff_ffffn) };
}

/** Bytes of a varint field with a one-byte tag; 0 for a zero value (left out, as proto3). */
function fieldSize(v: Halves): number {
  if (v.hi === 0 && v.lo === 0) return 0;
  let n = 1;
  let hi = v.hi;
  let lo = v.lo;
  while (hi !== 0 || lo >= 0x80) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
    n++;
  }
  return 1 + n;
}

function writeField(out: Buffer, pos: number, field: number, v: Halves): number {
  if (v.hi === 0 && v.lo === 0) return pos;
  out[pos++] = field << 3; // wire type 0 (varint)
  let hi = v.hi;
  let lo = v.lo;
  while (hi !== 0 || lo >= 0x80) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
  return pos;
}

/**
 * Decodes leasepb.Lease bytes. Throws a FloeError (ERR_PROTO) when the bytes are not a valid
 * message, or when a TTL is not a safe integer (no lease this layer grants has one).
 */
export function decodeLeaseRecord(data: Uint8Array): LeaseRecord {
  let id: LeaseId = 0n;
  let ttlSec = 0;
  let remainingTtlSec = 0;
  for (const f of readFields(data)) {
    if (f.field < 1 || f.field > 3) continue; // unknown field: skipped, as proto3 does
    if (f.wire !== WIRE_VARINT) throw new FloeError('ERR_PROTO', `leasepb.Lease field ${f.field} has wire type ${f.wire}, want varint`);
    const v = asInt64(f.int);
    if (f.field === 1) {
      id = BigInt(v);
      continue;
    }
    if (typeof v !== 'number') throw new FloeError('ERR_PROTO', `leasepb.Lease field ${f.field} out of range: ${v}`);
    if (f.field === 2) ttlSec = v;
    else remainingTtlSec = v;
  }
  // asInt64 already folded the varint into the int64 range; restate it for the reader.
  if (!isInt64(id)) throw new FloeError('ERR_PROTO', `leasepb.Lease ID out of range: ${id}`);
  return { id, ttlSec, remainingTtlSec };
}
