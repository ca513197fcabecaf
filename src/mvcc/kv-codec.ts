/**
 * mvccpb.KeyValue and mvccpb.Event in protobuf wire form, byte-identical to etcd's (gogoproto,
 * proto3): fields in number order, a zero number or an empty byte string left out.
 *
 *   KeyValue: key = 1 (bytes), create_revision = 2, mod_revision = 3, version = 4 (int64),
 *             value = 5 (bytes), lease = 6 (int64)
 *   Event:    type = 1 (enum: PUT 0, DELETE 1), kv = 2, prev_kv = 3 (KeyValue messages)
 *
 * These bytes are the values of the backend's `key` bucket and feed HashKV, so any difference
 * from etcd's encoding would change hashes and break files moving between the two.
 *
 * Revisions and versions are numbers (safe integers). A lease id is an int64 that real leases
 * fill to 63 bits, so it is a bigint; 0n means no lease.
 */
import { FloeError, ProtoWriter, readFields, asInt64, putVarint, varintSize, ERR_PROTO, WIRE_VARINT, WIRE_BYTES } from '../pkg';

/** A lease id (int64). */
export type LeaseId = bigint;
/** The lease id of a key without a lease. */
export const NO_LEASE: LeaseId = 0n;

/** One version of a key, as etcd stores and returns it. */
export interface KeyValue {
  readonly key: Buffer;
  /** Revision of the put that created the key in its current life; 0 in a tombstone. */
  readonly createRevision: number;
  /** Revision of the change that produced this version. */
  readonly modRevision: number;
  /** Changes since creation, 1 at creation; 0 in a tombstone. */
  readonly version: number;
  readonly value: Buffer;
  /** Lease the key is attached to; NO_LEASE for none. */
  readonly lease: LeaseId;
}

/** mvccpb.Event.EventType values. */
export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** One change seen by a watcher. */
export interface Event {
  readonly type: EventType;
  /**
   * PUT: the key-value pair written. DELETE: the key and, in modRevision, the deletion's
   * revision; other fields zero (etcd's shape).
   */
  readonly kv: KeyValue;
  /** The pair before the change, when the watcher asked for it and it was still readable. */
  readonly prevKv?: KeyValue;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Builds a KeyValue with defaults for the fields not given. */
export function keyValue(fields: Partial<KeyValue> & { key: Buffer }): KeyValue {
  return {
    key: fields.key,
    createRevision: fields.createRevision ?? 0,
    modRevision: fields.modRevision ?? 0,
    version: fields.version ?? 0,
    value: fields.value ?? EMPTY,
    lease: fields.lease ?? NO_LEASE,
  };
}

const MAX_SAFE_LEASE = BigInt(Number.MAX_SAFE_INTEGER);

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}


/** Where encodeKeyValueParts put the key and the value inside the encoded bytes. */
export interface EncodedKeyValue {
  readonly bytes: Buffer;
  /** The key, a view into `bytes`. */
  readonly key: Buffer;
  /** The value, a view into `bytes`. */
  readonly value: Buffer;
}

/**
 * Encodes a KeyValue exactly as etcd's KeyValue.Marshal does, into one buffer of exactly the
 * right size, and returns views of the key and value inside it: the write path stores those
 * views in its events instead of copying key and value again.
 */
export function encodeKeyValueParts(key: Uint8Array, createRevision: number, modRevision: number, version: number, value: Uint8Array, lease: LeaseId): EncodedKeyValue {
  if (!(isCount(createRevision) && isCount(modRevision) && isCount(version) && lease >= 0n && lease <= MAX_SAFE_LEASE)) {
    // Rare shapes (a lease id above 2^53, a negative lease) take the general writer.
    const bytes = writeKeyValue(new ProtoWriter(key.length + value.length + 40), key, createRevision, modRevision, version, value, lease).finish();
    const kv = decodeKeyValue(bytes);
    return { bytes, key: kv.key, value: kv.value };
  }
  const leaseN = Number(lease);
  let size = 0;
  if (key.length > 0) size += 1 + varintSize(key.length) + key.length;
  if (createRevision !== 0) size += 1 + varintSize(createRevision);
  if (modRevision !== 0) size += 1 + varintSize(modRevision);
  if (version !== 0) size += 1 + varintSize(version);
  if (value.length > 0) size += 1 + varintSize(value.length) + value.length;
  if (leaseN !== 0) size += 1 + varintSize(leaseN);
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  let keyAt = 0;
  let valueAt = 0;
  if (key.length > 0) {
    bytes[at++] = 0x0a;
    at = putVarint(bytes, at, key.length);
    keyAt = at;
    bytes.set(key, at);
    at += key.length;
  }
  if (createRevision !== 0) {
    bytes[at++] = 0x10;
    at = putVarint(bytes, at, createRevision);
  }
  if (modRevision !== 0) {
    bytes[at++] = 0x18;
    at = putVarint(bytes, at, modRevision);
  }
  if (version !== 0) {
    bytes[at++] = 0x20;
    at = putVarint(bytes, at, version);
  }
  if (value.length > 0) {
    bytes[at++] = 0x2a;
    at = putVarint(bytes, at, value.length);
    valueAt = at;
    bytes.set(value, at);
    at += value.length;
  }
  if (leaseN !== 0) {
    bytes[at++] = 0x30;
    at = putVarint(bytes, at, leaseN);
  }
  return { bytes, key: bytes.subarray(keyAt, keyAt + key.length), value: bytes.subarray(valueAt, valueAt + value.length) };
}

function writeKeyValue(w: ProtoWriter, key: Uint8Array, createRevision: number, modRevision: number, version: number, value: Uint8Array, lease: LeaseId): ProtoWriter {
  return w
    .bytesNonEmpty(1, key)
    .uintNonZero(2, createRevision)
    .uintNonZero(3, modRevision)
    .uintNonZero(4, version)
    .bytesNonEmpty(5, value)
    .uintNonZero(6, lease);
}

/** Encodes a KeyValue exactly as etcd's KeyValue.Marshal does. */
export function encodeKeyValue(kv: KeyValue): Buffer {
  return encodeKeyValueParts(kv.key, kv.createRevision, kv.modRevision, kv.version, kv.value, kv.lease).bytes;
}

/** Encodes an Event exactly as etcd's Event.Marshal does (kv always present, even if empty). */
export function encodeEvent(ev: Event): Buffer {
  const w = new ProtoWriter(ev.kv.key.length + ev.kv.value.length + 64).uintNonZero(1, ev.type);
  w.bytes(2, encodeKeyValue(ev.kv));
  if (ev.prevKv !== undefined) w.bytes(3, encodeKeyValue(ev.prevKv));
  return w.finish();
}

function revisionField(v: number | bigint, name: string): number {
  if (typeof v !== 'number' || v < 0) throw new FloeError(ERR_PROTO, `mvccpb.KeyValue: ${name} ${String(v)} is not a revision`);
  return v;
}

// Fast-path decoder state: the decoder is not reentrant, and runs to completion on one thread.
let pos = 0;

/** Reads a varint below 2^49 at `pos`, or returns -1 (and leaves pos) for anything longer. */
function shortVarint(buf: Buffer): number {
  let result = 0;
  let mul = 1;
  const start = pos;
  for (let i = 0; i < 7 && pos < buf.length; i++) {
    const b = buf[pos++] as number;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 0x80;
  }
  pos = start;
  return -1;
}

/**
 * Decodes a KeyValue. Key and value are views into `data` (no copy); callers that keep them
 * beyond the life of `data` copy. Unknown fields are skipped, as protobuf requires. Throws
 * FloeError ERR_PROTO on malformed input or a negative or oversized revision.
 */
export function decodeKeyValue(data: Uint8Array): KeyValue {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let key = EMPTY;
  let value = EMPTY;
  let createRevision = 0;
  let modRevision = 0;
  let version = 0;
  let lease: LeaseId = NO_LEASE;
  pos = 0;
  // Fast path: the six known fields with short varints, in any order. Anything else (a lease
  // id of 2^49 or more, an unknown field) falls back to the general reader from the start.
  while (pos < buf.length) {
    const tag = buf[pos++] as number;
    if (tag === 0x0a || tag === 0x2a) {
      const n = shortVarint(buf);
      if (n < 0 || pos + n > buf.length) return decodeKeyValueSlow(buf);
      const b = buf.subarray(pos, pos + n);
      pos += n;
      if (tag === 0x0a) key = b;
      else value = b;
      continue;
    }
    if (tag === 0x10 || tag === 0x18 || tag === 0x20 || tag === 0x30) {
      const n = shortVarint(buf);
      if (n < 0) return decodeKeyValueSlow(buf);
      if (tag === 0x10) createRevision = n;
      else if (tag === 0x18) modRevision = n;
      else if (tag === 0x20) version = n;
      else lease = BigInt(n);
      continue;
    }
    return decodeKeyValueSlow(buf);
  }
  return { key, createRevision, modRevision, version, value, lease };
}

function decodeKeyValueSlow(buf: Buffer): KeyValue {
  let key = EMPTY;
  let value = EMPTY;
  let createRevision = 0;
  let modRevision = 0;
  let version = 0;
  let lease: LeaseId = NO_LEASE;
  for (const f of readFields(buf)) {
    const varint = f.wire === WIRE_VARINT;
    const bytes = f.wire === WIRE_BYTES;
    switch (f.field) {
      case 1:
        if (bytes) key = f.bytes;
        break;
      case 2:
        if (varint) createRevision = revisionField(asInt64(f.int), 'create_revision');
        break;
      case 3:
        if (varint) modRevision = revisionField(asInt64(f.int), 'mod_revision');
        break;
      case 4:
        if (varint) version = revisionField(asInt64(f.int), 'version');
        break;
      case 5:
        if (bytes) value = f.bytes;
        break;
      case 6:
        if (varint) lease = BigInt(asInt64(f.int));
        break;
      default:
        break; // unknown field: skipped
    }
  }
  return { key, createRevision, modRevision, version, value, lease };
}

/** Decodes an Event; see decodeKeyValue for the sharing of bytes and the errors. */
export function decodeEvent(data: Uint8Array): Event {
  let type: EventType = EventType.PUT;
  let kv: KeyValue | undefined;
  let prevKv: KeyValue | undefined;
  for (const f of readFields(data)) {
    if (f.field === 1 && f.wire === WIRE_VARINT) {
      if (f.int !== 0 && f.int !== 1) throw new FloeError(ERR_PROTO, `mvccpb.Event: unknown type ${String(f.int)}`);
      type = f.int as EventType;
    } else if (f.field === 2 && f.wire === WIRE_BYTES) kv = decodeKeyValue(f.bytes);
    else if (f.field === 3 && f.wire === WIRE_BYTES) prevKv = decodeKeyValue(f.bytes);
  }
  const ev: Event = { type, kv: kv ?? keyValue({ key: EMPTY }) };
  return prevKv === undefined ? ev : { ...ev, prevKv };
}
