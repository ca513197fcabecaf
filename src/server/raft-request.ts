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
import { FloeError } from '../pkg';
import { findProtoDir } from '../etcdpb';
import type * as pb from '../etcdpb/messages';

/** etcd's v2 Request as far as the member uses it. */
export interface V2Request {
  readonly ID: string;
  readonly Method: string;
  readonly Path: string;
  readonly Val: string;
}

/** An InternalRaftRequest as proposed: `header.ID` names the waiting request; one op set. */
export interface RaftRequestIn {
  header?: { ID: string };
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
}

/** An InternalRaftRequest as decoded (loader shape: absent messages are null). */
export interface RaftRequest {
  readonly header: { readonly ID: string } | null;
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
  const t = types().internal;
  return t.encode(t.fromObject(req)).finish();
}

/** Decodes an entry's payload; throws FloeError ERR_BAD_ENTRY when it is not an InternalRaftRequest. */
export function decodeRaftRequest(data: Uint8Array): RaftRequest {
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
