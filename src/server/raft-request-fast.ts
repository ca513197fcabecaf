/**
 * The hot entry, a put, decoded by hand: every member decodes every entry it applies, and
 * protobufjs's decode + toObject (a 28-field object with defaults, int64 through Long and
 * text) was a visible share of each put's CPU and garbage.
 *
 * It gives exactly what the reflective decoder gives (raft-request.ts; the test checks both
 * on random puts): an InternalRaftRequest holding only `put` (field 4) and `header` (100),
 * the put with all six fields present and each once, as encodePutFast and etcd's own encoder
 * for a put through the API write them. Anything else (another field, a field twice, a
 * missing put field, a wire type that does not fit) returns null, and the caller takes the
 * reflective decoder, which handles every shape. key and value share the entry's memory, as
 * protobufjs's Buffers do.
 */
import type * as pb from '../etcdpb/messages';
import type { RaftRequest } from './raft-request';

/** A read position over one entry's bytes; `ok` drops to false on anything unexpected. */
class Reader {
  pos: number;
  ok = true;
  /** The last varint read, as two 32-bit halves (read with varint()). */
  hi = 0;
  lo = 0;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Reads a varint (at most 10 bytes) into hi/lo. */
  varint(): void {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) {
        this.ok = false;
        return;
      }
      const b = this.buf[this.pos++] as number;
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    this.ok = false;
  }

  /** A length (a varint that must fit in what is left). */
  length(): number {
    this.varint();
    if (!this.ok || this.hi !== 0 || this.lo > this.end - this.pos) {
      this.ok = false;
      return 0;
    }
    return this.lo;
  }
}

const TWO_32 = 0x100000000;

/** The last varint read as an unsigned 64-bit decimal string. */
function uint64Text(r: Reader): string {
  if (r.hi < 0x200000) return String(r.hi * TWO_32 + r.lo);
  return ((BigInt(r.hi) << 32n) | BigInt(r.lo)).toString();
}

/** The last varint read as a signed (two's complement) 64-bit decimal string. */
function int64Text(r: Reader): string {
  if (r.hi < 0x80000000) return uint64Text(r);
  return BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo)).toString();
}

function boolOf(r: Reader): boolean {
  r.varint();
  return r.hi !== 0 || r.lo !== 0;
}

function bytesOf(r: Reader): Buffer {
  const n = r.length();
  const b = r.buf.subarray(r.pos, r.pos + n);
  r.pos += n;
  return b;
}

/** The PutRequest in r's [pos, end), or null. */
function readPut(r: Reader): pb.PutRequest | null {
  let seen = 0;
  let key: Buffer | null = null;
  let value: Buffer | null = null;
  let lease = '0';
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  while (r.ok && r.pos < r.end) {
    const tag = r.buf[r.pos++] as number; // every put field number fits one tag byte
    const field = tag >>> 3;
    if (field < 1 || field > 6 || (seen & (1 << field)) !== 0 || (tag & 7) !== (field <= 2 ? 2 : 0)) return null;
    seen |= 1 << field;
    if (field === 1) key = bytesOf(r);
    else if (field === 2) value = bytesOf(r);
    else if (field === 3) {
      r.varint();
      lease = int64Text(r);
    } else if (field === 4) prevKv = boolOf(r);
    else if (field === 5) ignoreValue = boolOf(r);
    else ignoreLease = boolOf(r);
  }
  if (!r.ok || seen !== 0b1111110 || key === null || value === null) return null;
  return { key, value, lease, prev_kv: prevKv, ignore_value: ignoreValue, ignore_lease: ignoreLease } as pb.PutRequest;
}

/** The RequestHeader in r's [pos, end), or null. */
function readHeader(r: Reader): { ID: string; username: string; auth_revision: string } | null {
  let seen = 0;
  let id = '0';
  let username = '';
  let authRevision = '0';
  while (r.ok && r.pos < r.end) {
    const tag = r.buf[r.pos++] as number;
    const field = tag >>> 3;
    if (field < 1 || field > 3 || (seen & (1 << field)) !== 0 || (tag & 7) !== (field === 2 ? 2 : 0)) return null;
    seen |= 1 << field;
    if (field === 2) {
      // Only ASCII here: protobufjs's UTF-8 reader and Buffer's differ on malformed text.
      const b = bytesOf(r);
      for (let i = 0; i < b.length; i++) if ((b[i] as number) >= 0x80) return null;
      username = b.toString('latin1');
    }
    else {
      r.varint();
      if (field === 1) id = uint64Text(r);
      else authRevision = uint64Text(r);
    }
  }
  return r.ok ? { ID: id, username, auth_revision: authRevision } : null;
}

/** A put entry's request, or null when `data` is not the plain put shape (see the file comment). */
export function decodePutFast(data: Uint8Array): RaftRequest | null {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const r = new Reader(buf, 0, buf.length);
  let put: pb.PutRequest | null = null;
  let header: ReturnType<typeof readHeader> = null;
  while (r.ok && r.pos < buf.length) {
    const first = buf[r.pos++] as number;
    if (first === ((4 << 3) | 2) && put === null) {
      const n = r.length();
      if (!r.ok) return null;
      put = readPut(new Reader(buf, r.pos, r.pos + n));
      if (put === null) return null;
      r.pos += n;
    } else if (first === 0xa2 && buf[r.pos] === 0x06 && header === null) {
      // field 100, wire type 2: the tag 802 as a two-byte varint
      r.pos++;
      const n = r.length();
      if (!r.ok) return null;
      header = readHeader(new Reader(buf, r.pos, r.pos + n));
      if (header === null) return null;
      r.pos += n;
    } else return null;
  }
  if (!r.ok || put === null || header === null) return null;
  return {
    ID: '0',
    v2: null,
    range: null,
    put,
    delete_range: null,
    txn: null,
    compaction: null,
    lease_grant: null,
    lease_revoke: null,
    alarm: null,
    lease_checkpoint: null,
    header,
    auth_enable: null,
    auth_disable: null,
    authenticate: null,
    auth_user_add: null,
    auth_user_delete: null,
    auth_user_get: null,
    auth_user_change_password: null,
    auth_user_grant_role: null,
    auth_user_revoke_role: null,
    auth_user_list: null,
    auth_role_list: null,
    auth_role_add: null,
    auth_role_delete: null,
    auth_role_get: null,
    auth_role_grant_permission: null,
    auth_role_revoke_permission: null,
  } as unknown as RaftRequest;
}
