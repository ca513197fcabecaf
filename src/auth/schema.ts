/**
 * etcd's auth schema in the backend, byte for byte (auth/store.go, authpb): bucket `auth`
 * holds `authEnabled` (one byte, 1 or 0) and `authRevision` (8 bytes, big-endian); bucket
 * `authUsers` maps a name to an authpb.User, `authRoles` a name to an authpb.Role. The records
 * are encoded the way gogoproto writes them (fields in number order, zero scalars and empty
 * bytes left out, a set `options` message always written), so a file written here hashes and
 * restores in etcd, and etcd's files read here.
 */
import { assert, ProtoWriter, readFields, WIRE_BYTES, WIRE_VARINT } from '../pkg';

export const AUTH_BUCKET = Buffer.from('auth');
export const AUTH_USERS_BUCKET = Buffer.from('authUsers');
export const AUTH_ROLES_BUCKET = Buffer.from('authRoles');
export const AUTH_ENABLED_KEY = Buffer.from('authEnabled');
export const AUTH_REVISION_KEY = Buffer.from('authRevision');
/** The length of the stored auth revision. */
export const AUTH_REVISION_BYTES = 8;

/** authpb.Permission.Type. */
export const PermType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export type PermType = (typeof PermType)[keyof typeof PermType];

/** One key permission of a role: a key alone, or the range [key, rangeEnd) ("\0": to the end). */
export interface Permission {
  readonly permType: PermType;
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
}

/** authpb.User. `password` is the bcrypt hash (empty for a user without password). */
export interface User {
  readonly name: string;
  readonly password: Buffer;
  /** Sorted (etcd keeps them sorted and binary-searches them). */
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

/** authpb.Role. Permissions sorted by key. */
export interface Role {
  readonly name: string;
  readonly keyPermission: readonly Permission[];
}

export function encodeUser(u: User): Buffer {
  const w = new ProtoWriter(64 + u.password.length);
  w.bytesNonEmpty(1, Buffer.from(u.name));
  w.bytesNonEmpty(2, u.password);
  for (const r of u.roles) w.bytes(3, Buffer.from(r));
  // options is a non-nil message in every user etcd writes: always present, empty when false.
  w.bytes(4, u.noPassword ? Buffer.from([0x08, 0x01]) : Buffer.alloc(0));
  return w.finish();
}

export function decodeUser(data: Uint8Array): User {
  let name = '';
  let password = Buffer.alloc(0);
  const roles: string[] = [];
  let noPassword = false;
  for (const f of readFields(data)) {
    if (f.field === 1 && f.wire === WIRE_BYTES) name = f.bytes.toString('utf8');
    else if (f.field === 2 && f.wire === WIRE_BYTES) password = Buffer.from(f.bytes);
    else if (f.field === 3 && f.wire === WIRE_BYTES) roles.push(f.bytes.toString('utf8'));
    else if (f.field === 4 && f.wire === WIRE_BYTES) {
      for (const o of readFields(f.bytes)) if (o.field === 1 && o.wire === WIRE_VARINT) noPassword = o.int !== 0;
    }
  }
  return { name, password, roles, noPassword };
}

function encodePermission(p: Permission): Buffer {
  const w = new ProtoWriter(16 + p.key.length + p.rangeEnd.length);
  w.uintNonZero(1, p.permType);
  w.bytesNonEmpty(2, p.key);
  w.bytesNonEmpty(3, p.rangeEnd);
  return w.finish();
}

function decodePermission(data: Uint8Array): Permission {
  let permType: PermType = PermType.READ;
  let key = Buffer.alloc(0);
  let rangeEnd = Buffer.alloc(0);
  for (const f of readFields(data)) {
    if (f.field === 1 && f.wire === WIRE_VARINT) {
      const t = Number(f.int);
      assert(t === 0 || t === 1 || t === 2, () => `auth: permission type ${t} in a stored role`);
      permType = t as PermType;
    } else if (f.field === 2 && f.wire === WIRE_BYTES) key = Buffer.from(f.bytes);
    else if (f.field === 3 && f.wire === WIRE_BYTES) rangeEnd = Buffer.from(f.bytes);
  }
  return { permType, key, rangeEnd };
}

export function encodeRole(r: Role): Buffer {
  const w = new ProtoWriter(64);
  w.bytesNonEmpty(1, Buffer.from(r.name));
  for (const p of r.keyPermission) w.bytes(2, encodePermission(p));
  return w.finish();
}

export function decodeRole(data: Uint8Array): Role {
  let name = '';
  const keyPermission: Permission[] = [];
  for (const f of readFields(data)) {
    if (f.field === 1 && f.wire === WIRE_BYTES) name = f.bytes.toString('utf8');
    else if (f.field === 2 && f.wire === WIRE_BYTES) keyPermission.push(decodePermission(f.bytes));
  }
  return { name, keyPermission };
}

export function encodeAuthRevision(rev: number): Buffer {
  assert(Number.isSafeInteger(rev) && rev >= 0, () => `auth revision ${rev}`);
  const b = Buffer.alloc(AUTH_REVISION_BYTES);
  b.writeBigUInt64BE(BigInt(rev));
  return b;
}

export function decodeAuthRevision(b: Uint8Array): number {
  assert(b.length === AUTH_REVISION_BYTES, () => `auth revision of ${b.length} bytes`);
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE(0);
  assert(v <= BigInt(Number.MAX_SAFE_INTEGER), () => `auth revision ${v} beyond 2^53`);
  return Number(v);
}
