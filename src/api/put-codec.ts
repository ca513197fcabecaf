/**
 * Hand-written codecs for the hottest messages, PutRequest (decode) and PutResponse (encode),
 * giving exactly what the loader's protobufjs codecs give (src/etcdpb: int64 as decimal
 * strings, bytes as Buffers sharing the input's memory, every field present) at a fraction of
 * the cost. Anything outside the common shape — an unknown field, an unexpected wire type, a
 * malformed varint, a response with prev_kv or an unusual number — goes to the loader's codec,
 * so odd input gets the loader's exact answer (or error).
 *
 *   const def = withFastPutCodecs(svc.kv);   // the KV service definition, Put's codecs swapped
 */
import type * as grpc from '@grpc/grpc-js';
import type { KVHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { putVarintBig, varintSizeBig } from '../pkg';

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const TWO_63 = 1n << 63n;
const TWO_64 = 1n << 64n;

/** A failed fast read: the caller falls back to the loader. */
const FALLBACK = Symbol('fallback');

/** Reader state over one message. */
interface Cursor {
  pos: number;
}

/** A varint as number when below 2^53, else bigint; FALLBACK when truncated or over 10 bytes. */
function readVarint(buf: Buffer, c: Cursor): number | bigint | typeof FALLBACK {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    if (c.pos >= buf.length) return FALLBACK;
    const b = buf[c.pos++] as number;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 0x80;
  }
  // Past 49 bits (negative int64s take 10 bytes): finish in bigint.
  let big = BigInt(result);
  let shift = 49n;
  for (let i = 7; i < 10; i++) {
    if (c.pos >= buf.length) return FALLBACK;
    const b = buf[c.pos++] as number;
    big += BigInt(b & 0x7f) << shift;
    if (b < 0x80) return big % TWO_64;
    shift += 7n;
  }
  return FALLBACK;
}

const EMPTY = Buffer.alloc(0);

/** PutRequest from its bytes, or FALLBACK (see the file comment). */
export function decodePutRequestFast(buf: Buffer): pb.PutRequest | typeof FALLBACK {
  let key: Buffer = EMPTY;
  let value: Buffer = EMPTY;
  let lease = '0';
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  const c: Cursor = { pos: 0 };
  while (c.pos < buf.length) {
    const tag = readVarint(buf, c);
    if (typeof tag !== 'number') return FALLBACK;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== WIRE_BYTES) return FALLBACK;
      const n = readVarint(buf, c);
      if (typeof n !== 'number' || c.pos + n > buf.length) return FALLBACK;
      const b = buf.subarray(c.pos, c.pos + n);
      c.pos += n;
      if (field === 1) key = b;
      else value = b;
    } else if (field >= 3 && field <= 6) {
      if (wire !== WIRE_VARINT) return FALLBACK;
      const start = c.pos;
      const v = readVarint(buf, c);
      if (v === FALLBACK) return FALLBACK;
      // protobufjs reads a bool as a 32-bit varint: past 5 bytes it takes 10, wherever the
      // varint ends (Go takes the varint as it is); such input is left to the loader.
      if (field !== 3 && c.pos - start > 5) return FALLBACK;
      if (field === 3) {
        const u = BigInt(v);
        lease = (u >= TWO_63 ? u - TWO_64 : u).toString();
      } else {
        // protobufjs reads a bool as its low 32 bits being non-zero.
        const on = (typeof v === 'number' ? v % 2 ** 32 : Number(v % 2n ** 32n)) !== 0;
        if (field === 4) prevKv = on;
        else if (field === 5) ignoreValue = on;
        else ignoreLease = on;
      }
    } else {
      return FALLBACK;
    }
  }
  return { key, value, lease, prev_kv: prevKv, ignore_value: ignoreValue, ignore_lease: ignoreLease };
}

/** Header ids seen as text (cluster and member ids past 2^53), parsed once each; bounded. */
const parsedIds = new Map<string, bigint | typeof FALLBACK>();
const PARSED_IDS_MAX = 64;

/** A header field as an unsigned 64-bit value, or FALLBACK for shapes left to the loader. */
function headerValue(v: unknown): bigint | typeof FALLBACK {
  if (typeof v === 'string') {
    const known = parsedIds.get(v);
    if (known !== undefined) return known;
    const b = /^[0-9]{1,20}$/.test(v) ? BigInt(v) : null;
    const out = b !== null && b < TWO_64 ? b : FALLBACK;
    if (parsedIds.size >= PARSED_IDS_MAX) parsedIds.clear();
    parsedIds.set(v, out);
    return out;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return FALLBACK;
}

const HEADER_FIELDS = ['cluster_id', 'member_id', 'revision', 'raft_term'] as const;

/** PutResponse's bytes, or FALLBACK (see the file comment). */
export function encodePutResponseFast(resp: pb.PutResponse): Buffer | typeof FALLBACK {
  for (const k in resp) {
    if (k === 'header') continue;
    if (k === 'prev_kv' && (resp.prev_kv === null || resp.prev_kv === undefined)) continue;
    return FALLBACK;
  }
  const h = resp.header as unknown;
  // A response without a header (never sent by the member) is left to the loader.
  if (h === null || typeof h !== 'object') return FALLBACK;
  // Fields in number order, each written when present (the loader writes a present zero too).
  const values: (bigint | null)[] = [];
  let len = 0;
  for (const k in h as Record<string, unknown>) if (!(HEADER_FIELDS as readonly string[]).includes(k)) return FALLBACK;
  for (let i = 0; i < HEADER_FIELDS.length; i++) {
    const raw = (h as Record<string, unknown>)[HEADER_FIELDS[i] as string];
    if (raw === undefined || raw === null) {
      values.push(null);
      continue;
    }
    const v = headerValue(raw);
    if (v === FALLBACK) return FALLBACK;
    values.push(v);
    len += 1 + varintSizeBig(v);
  }
  const out = Buffer.allocUnsafe(1 + varintSizeBig(BigInt(len)) + len);
  let o = 0;
  out[o++] = (1 << 3) | WIRE_BYTES;
  o = putVarintBig(out, o, BigInt(len));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    out[o++] = ((i + 1) << 3) | WIRE_VARINT;
    o = putVarintBig(out, o, v);
  }
  return out;
}

/** `def` (the KV service) with Put's codecs fast, falling back to the loader's. */
export function withFastPutCodecs(def: grpc.ServiceDefinition<KVHandlers>): grpc.ServiceDefinition<KVHandlers> {
  const put = def.Put;
  const decode = put.requestDeserialize as (b: Buffer) => pb.PutRequest;
  const encode = put.responseSerialize as (r: pb.PutResponse) => Buffer;
  return {
    ...def,
    Put: {
      ...put,
      requestDeserialize: (b: Buffer): pb.PutRequest => {
        const r = decodePutRequestFast(b);
        return r === FALLBACK ? decode(b) : r;
      },
      responseSerialize: (resp: pb.PutResponse): Buffer => {
        const b = encodePutResponseFast(resp);
        return b === FALLBACK ? encode(resp) : b;
      },
    },
  };
}
