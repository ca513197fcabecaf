/**
 * The payload of the member's raft entries: etcd's InternalRaftRequest (and its v2 Request for
 * cluster metadata), encoded with etcd's field numbers (proto/raft_internal.proto) so a log
 * written here reads in etcd and the other way round.
 *
 * Decoded requests have the shape src/etcdpb's loader gives the API layer (int64 as exact
 * decimal strings, bytes as Buffers, every scalar present, unset messages null, oneofs named),
 * so the apply step handles a request exactly as the API layer handed it over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { assert, FloeError, putVarint, putVarintBig, varintSize, varintSizeBig } from '../pkg';
import { findProtoDir } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { decodePutFast } from './raft-request-fast';

/** etcd's v2 Request as far as the member uses it. */
export interface V2Request {
  readonly ID: string;
  readonly Method: string;
  readonly Path: string;
  readonly Val: string;
}

/** An InternalRaftRequest as proposed: `header.ID` names the waiting request; one op set. */
export interface RaftRequestIn {
  /** username and auth_revision: who proposed it, checked in apply when auth is enabled. */
  header?: { ID: string; username?: string; auth_revision?: string };
  v2?: { Method: string; Path: string; Val: string };
  range?: pb.RangeRequest;
  put?: pb.PutRequest;
  delete_range?: pb.DeleteRangeRequest;
  txn?: pb.TxnRequest;
  compaction?: pb.CompactionRequest;
  lease_grant?: { TTL: string; ID: string };
  lease_revoke?: { ID: string };
  alarm?: { action: number; memberID: string; alarm: number };
  lease_checkpoint?: pb.LeaseCheckpointRequest;
  auth_enable?: pb.AuthEnableRequest;
  auth_disable?: pb.AuthDisableRequest;
  authenticate?: InternalAuthenticateRequest;
  auth_user_add?: pb.AuthUserAddRequest;
  auth_user_delete?: pb.AuthUserDeleteRequest;
  auth_user_get?: pb.AuthUserGetRequest;
  auth_user_change_password?: pb.AuthUserChangePasswordRequest;
  auth_user_grant_role?: pb.AuthUserGrantRoleRequest;
  auth_user_revoke_role?: pb.AuthUserRevokeRoleRequest;
  auth_user_list?: pb.AuthUserListRequest;
  auth_role_list?: pb.AuthRoleListRequest;
  auth_role_add?: pb.AuthRoleAddRequest;
  auth_role_delete?: pb.AuthRoleDeleteRequest;
  auth_role_get?: pb.AuthRoleGetRequest;
  auth_role_grant_permission?: pb.AuthRoleGrantPermissionRequest;
  auth_role_revoke_permission?: pb.AuthRoleRevokePermissionRequest;
}

/** etcd's InternalAuthenticateRequest: the password is checked before proposing, never logged. */
export interface InternalAuthenticateRequest {
  readonly name: string;
  readonly password: string;
  readonly simple_token: string;
}

/** An InternalRaftRequest as decoded (loader shape: absent messages are null). */
export interface RaftRequest {
  readonly header: { readonly ID: string; readonly username: string; readonly auth_revision: string } | null;
  readonly ID: string;
  readonly v2: V2Request | null;
  readonly range: pb.RangeRequest | null;
  readonly put: pb.PutRequest | null;
  readonly delete_range: pb.DeleteRangeRequest | null;
  readonly txn: pb.TxnRequest | null;
  readonly compaction: pb.CompactionRequest | null;
  readonly lease_grant: pb.LeaseGrantRequest | null;
  readonly lease_revoke: pb.LeaseRevokeRequest | null;
  readonly alarm: pb.AlarmRequest | null;
  readonly lease_checkpoint: pb.LeaseCheckpointRequest | null;
  readonly auth_enable: pb.AuthEnableRequest | null;
  readonly auth_disable: pb.AuthDisableRequest | null;
  readonly authenticate: InternalAuthenticateRequest | null;
  readonly auth_user_add: pb.AuthUserAddRequest | null;
  readonly auth_user_delete: pb.AuthUserDeleteRequest | null;
  readonly auth_user_get: pb.AuthUserGetRequest | null;
  readonly auth_user_change_password: pb.AuthUserChangePasswordRequest | null;
  readonly auth_user_grant_role: pb.AuthUserGrantRoleRequest | null;
  readonly auth_user_revoke_role: pb.AuthUserRevokeRoleRequest | null;
  readonly auth_user_list: pb.AuthUserListRequest | null;
  readonly auth_role_list: pb.AuthRoleListRequest | null;
  readonly auth_role_add: pb.AuthRoleAddRequest | null;
  readonly auth_role_delete: pb.AuthRoleDeleteRequest | null;
  readonly auth_role_get: pb.AuthRoleGetRequest | null;
  readonly auth_role_grant_permission: pb.AuthRoleGrantPermissionRequest | null;
  readonly auth_role_revoke_permission: pb.AuthRoleRevokePermissionRequest | null;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: true, oneofs: true };

let cached: { internal: protobuf.Type; v2: protobuf.Type } | null = null;

/** Where proto/raft_internal.proto is (tsc does not copy it; look beside, then in the tree). */
function findOwnProto(): string {
  const candidates = [path.join(__dirname, 'proto')];
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      candidates.push(path.join(dir, 'src', 'server', 'proto'));
      if (path.dirname(dir) === dir) break;
    }
  }
  for (const dir of candidates) {
    const f = path.join(dir, 'raft_internal.proto');
    if (fs.existsSync(f)) return f;
  }
  throw new FloeError('ERR_PROTO_NOT_FOUND', `raft_internal.proto not found; looked in: ${candidates.join(', ')}`);
}

function types(): { internal: protobuf.Type; v2: protobuf.Type } {
  if (cached !== null) return cached;
  const etcdDir = findProtoDir();
  const own = findOwnProto();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(etcdDir, target));
  root.loadSync(own, { keepCase: true });
  root.resolveAll();
  cached = { internal: root.lookupType('etcdserverpb.InternalRaftRequest'), v2: root.lookupType('etcdserverpb.Request') };
  return cached;
}

/** Encodes a request for a raft entry. */
export function encodeRaftRequest(req: RaftRequestIn): Uint8Array {
  const fast = encodePutFast(req);
  if (fast !== null) return fast;
  return encodeRaftRequestReflective(req);
}

/** The reflective encoder (protobufjs): every request shape. */
export function encodeRaftRequestReflective(req: RaftRequestIn): Uint8Array {
  const t = types().internal;
  return t.encode(t.fromObject(req)).finish();
}

const INT64_TEXT = /^-?[0-9]{1,19}$/;
const PUT_FIELDS = ['key', 'value', 'lease', 'prev_kv', 'ignore_value', 'ignore_lease'];

/**
 * The hot case, a put as the API layer hands it over (every field present), written by hand:
 * the same bytes the reflective encoder writes (fields in number order, put = 4 before
 * header = 100, zero values written since they are present), at a fraction of its cost.
 * Null when the request has any other shape; the reflective encoder takes those.
 */
function encodePutFast(req: RaftRequestIn): Uint8Array | null {
  const put = req.put;
  const header = req.header;
  if (put === undefined || header === undefined) return null;
  for (const k in req) if (k !== 'put' && k !== 'header') return null;
  for (const k in header) if (k !== 'ID') return null;
  let n = 0;
  for (const k in put) {
    if (!PUT_FIELDS.includes(k)) return null;
    n++;
  }
  if (n !== PUT_FIELDS.length) return null;
  const { key, value, lease, prev_kv, ignore_value, ignore_lease } = put as pb.PutRequest;
  if (!(key instanceof Uint8Array) || !(value instanceof Uint8Array)) return null;
  if (typeof prev_kv !== 'boolean' || typeof ignore_value !== 'boolean' || typeof ignore_lease !== 'boolean') return null;
  let leaseBits: bigint;
  if (typeof lease === 'string' && INT64_TEXT.test(lease)) leaseBits = BigInt(lease);
  else if (typeof lease === 'number' && Number.isSafeInteger(lease)) leaseBits = BigInt(lease);
  else return null;
  if (leaseBits < -(1n << 63n) || leaseBits >= 1n << 63n) return null;
  if (typeof header.ID !== 'string' || !/^[0-9]{1,20}$/.test(header.ID)) return null;
  const id = BigInt(header.ID);
  if (id >= 1n << 64n) return null;
  leaseBits = BigInt.asUintN(64, leaseBits);

  // put body: key(1) value(2) lease(3) prev_kv(4) ignore_value(5) ignore_lease(6)
  const putLen = 1 + varintSize(key.length) + key.length + 1 + varintSize(value.length) + value.length + 1 + varintSizeBig(leaseBits) + 6;
  const headerLen = 1 + varintSizeBig(id);
  const total = 1 + varintSize(putLen) + putLen + 2 + varintSize(headerLen) + headerLen;
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  out[o++] = (4 << 3) | 2;
  o = putVarint(out, o, putLen);
  out[o++] = (1 << 3) | 2;
  o = putVarint(out, o, key.length);
  out.set(key, o);
  o += key.length;
  out[o++] = (2 << 3) | 2;
  o = putVarint(out, o, value.length);
  out.set(value, o);
  o += value.length;
  out[o++] = 3 << 3;
  o = putVarintBig(out, o, leaseBits);
  out[o++] = 4 << 3;
  out[o++] = prev_kv ? 1 : 0;
  out[o++] = 5 << 3;
  out[o++] = ignore_value ? 1 : 0;
  out[o++] = 6 << 3;
  out[o++] = ignore_lease ? 1 : 0;
  // header = 100, wire type 2: tag 802 as a varint
  out[o++] = 0xa2;
  out[o++] = 0x06;
  o = putVarint(out, o, headerLen);
  out[o++] = 1 << 3;
  o = putVarintBig(out, o, id);
  assert(o === total, () => `raft request: fast put encoder wrote ${o} of ${total} bytes`);
  return out;
}

/** Decodes an entry's payload; throws FloeError ERR_BAD_ENTRY when it is not an InternalRaftRequest. */
export function decodeRaftRequest(data: Uint8Array): RaftRequest {
  return decodePutFast(data) ?? decodeRaftRequestReflective(data);
}

/** The reflective decoder (protobufjs): every request shape. */
export function decodeRaftRequestReflective(data: Uint8Array): RaftRequest {
  const t = types().internal;
  try {
    return t.toObject(t.decode(data), TO_OBJECT) as unknown as RaftRequest;
  } catch (e) {
    throw new FloeError('ERR_BAD_ENTRY', `raft entry is not an InternalRaftRequest: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Decodes an old-style entry holding a bare v2 Request (etcd before 3.x wrote those; etcd 3.4
 * still falls back to it when an entry is not an InternalRaftRequest).
 */
export function decodeV2Request(data: Uint8Array): V2Request {
  const t = types().v2;
  return t.toObject(t.decode(data), TO_OBJECT) as unknown as V2Request;
}
