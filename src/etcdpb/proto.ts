/**
 * Loads Floe's copy of etcd's protos (src/etcdpb/proto/*.proto) with @grpc/proto-loader and
 * exports typed gRPC service definitions for the server.
 *
 * Codec choices, and why:
 * - `longs: String`: int64/uint64 arrive as exact decimal strings. Lease and member IDs use all
 *   63/64 bits; a JS number would silently round them.
 * - bytes stay Buffers (proto-loader's default when `bytes` is not set).
 * - `defaults: true`: proto3 omits zero values on the wire; the server reads every field of a
 *   request without checking for absence (an unset message field decodes as `null`).
 * - `oneofs: true`: a oneof's set member is named by a discriminator property
 *   (`RequestOp.request`, `WatchRequest.request_union`, `Compare.target_union`).
 * - enums as numbers (the default): cheap, and they match the `as const` tables in messages.ts.
 * Encoding goes through protobufjs `fromObject`, so responses may give 64-bit fields as a safe
 * integer number or as a decimal string, and bytes as Buffer/Uint8Array (never a JS string: it
 * would be taken as base64). protobufjs writes every field that is set, even to zero, where
 * etcd's gogoproto code leaves zero fields out: to send etcd's exact bytes, leave zero-valued
 * fields undefined in responses (clients decode either the same).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FloeError } from '../pkg';
import type * as m from './messages';

export * from './messages';

/** The proto files, in the order they are handed to the loader (imports resolve by name). */
export const PROTO_FILES = ['kv.proto', 'auth.proto', 'rpc.proto', 'v3lock.proto', 'v3election.proto'] as const;

/** The loader options described at the top of this file. */
export const PROTO_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
});

/**
 * Where the .proto files are. tsc does not copy them, so the compiled file looks, in order:
 * beside itself, then for `src/etcdpb/proto` in each folder up from itself, then up from the
 * working directory (builds into an outside dir such as /tmp run from the repository).
 */
export function findProtoDir(): string {
  const candidates: string[] = [path.join(__dirname, 'proto')];
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      candidates.push(path.join(dir, 'src', 'etcdpb', 'proto'));
      if (path.dirname(dir) === dir) break;
    }
  }
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'rpc.proto'))) return dir;
  }
  throw new FloeError('ERR_PROTO_NOT_FOUND', `etcd proto files not found; looked in: ${candidates.join(', ')}`);
}

// ---- handler shapes, one per service ----------------------------------------------------

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;
type Bidi<Req, Res> = grpc.handleBidiStreamingCall<Req, Res>;
type ServerStream<Req, Res> = grpc.handleServerStreamingCall<Req, Res>;

/** etcdserverpb.KV */
export interface KVHandlers extends grpc.UntypedServiceImplementation {
  Range: Unary<m.RangeRequest, m.RangeResponse>;
  Put: Unary<m.PutRequest, m.PutResponse>;
  DeleteRange: Unary<m.DeleteRangeRequest, m.DeleteRangeResponse>;
  Txn: Unary<m.TxnRequest, m.TxnResponse>;
  Compact: Unary<m.CompactionRequest, m.CompactionResponse>;
}

/** etcdserverpb.Watch */
export interface WatchHandlers extends grpc.UntypedServiceImplementation {
  Watch: Bidi<m.WatchRequest, m.WatchResponse>;
}

/** etcdserverpb.Lease */
export interface LeaseHandlers extends grpc.UntypedServiceImplementation {
  LeaseGrant: Unary<m.LeaseGrantRequest, m.LeaseGrantResponse>;
  LeaseRevoke: Unary<m.LeaseRevokeRequest, m.LeaseRevokeResponse>;
  LeaseKeepAlive: Bidi<m.LeaseKeepAliveRequest, m.LeaseKeepAliveResponse>;
  LeaseTimeToLive: Unary<m.LeaseTimeToLiveRequest, m.LeaseTimeToLiveResponse>;
  LeaseLeases: Unary<m.LeaseLeasesRequest, m.LeaseLeasesResponse>;
}

/** etcdserverpb.Cluster */
export interface ClusterHandlers extends grpc.UntypedServiceImplementation {
  MemberAdd: Unary<m.MemberAddRequest, m.MemberAddResponse>;
  MemberRemove: Unary<m.MemberRemoveRequest, m.MemberRemoveResponse>;
  MemberUpdate: Unary<m.MemberUpdateRequest, m.MemberUpdateResponse>;
  MemberList: Unary<m.MemberListRequest, m.MemberListResponse>;
  MemberPromote: Unary<m.MemberPromoteRequest, m.MemberPromoteResponse>;
}

/** etcdserverpb.Maintenance */
export interface MaintenanceHandlers extends grpc.UntypedServiceImplementation {
  Alarm: Unary<m.AlarmRequest, m.AlarmResponse>;
  Status: Unary<m.StatusRequest, m.StatusResponse>;
  Defragment: Unary<m.DefragmentRequest, m.DefragmentResponse>;
  Hash: Unary<m.HashRequest, m.HashResponse>;
  HashKV: Unary<m.HashKVRequest, m.HashKVResponse>;
  Snapshot: ServerStream<m.SnapshotRequest, m.SnapshotResponse>;
  MoveLeader: Unary<m.MoveLeaderRequest, m.MoveLeaderResponse>;
}

/** etcdserverpb.Auth */
export interface AuthHandlers extends grpc.UntypedServiceImplementation {
  AuthEnable: Unary<m.AuthEnableRequest, m.AuthHeaderOnlyResponse>;
  AuthDisable: Unary<m.AuthDisableRequest, m.AuthHeaderOnlyResponse>;
  Authenticate: Unary<m.AuthenticateRequest, m.AuthenticateResponse>;
  UserAdd: Unary<m.AuthUserAddRequest, m.AuthHeaderOnlyResponse>;
  UserGet: Unary<m.AuthUserGetRequest, m.AuthUserGetResponse>;
  UserList: Unary<m.AuthUserListRequest, m.AuthUserListResponse>;
  UserDelete: Unary<m.AuthUserDeleteRequest, m.AuthHeaderOnlyResponse>;
  UserChangePassword: Unary<m.AuthUserChangePasswordRequest, m.AuthHeaderOnlyResponse>;
  UserGrantRole: Unary<m.AuthUserGrantRoleRequest, m.AuthHeaderOnlyResponse>;
  UserRevokeRole: Unary<m.AuthUserRevokeRoleRequest, m.AuthHeaderOnlyResponse>;
  RoleAdd: Unary<m.AuthRoleAddRequest, m.AuthHeaderOnlyResponse>;
  RoleGet: Unary<m.AuthRoleGetRequest, m.AuthRoleGetResponse>;
  RoleList: Unary<m.AuthRoleListRequest, m.AuthRoleListResponse>;
  RoleDelete: Unary<m.AuthRoleDeleteRequest, m.AuthHeaderOnlyResponse>;
  RoleGrantPermission: Unary<m.AuthRoleGrantPermissionRequest, m.AuthHeaderOnlyResponse>;
  RoleRevokePermission: Unary<m.AuthRoleRevokePermissionRequest, m.AuthHeaderOnlyResponse>;
}

/** v3lockpb.Lock */
export interface LockHandlers extends grpc.UntypedServiceImplementation {
  Lock: Unary<m.LockRequest, m.LockResponse>;
  Unlock: Unary<m.UnlockRequest, m.UnlockResponse>;
}

/** v3electionpb.Election */
export interface ElectionHandlers extends grpc.UntypedServiceImplementation {
  Campaign: Unary<m.CampaignRequest, m.CampaignResponse>;
  Proclaim: Unary<m.ProclaimRequest, m.ProclaimResponse>;
  Leader: Unary<m.LeaderRequest, m.LeaderResponse>;
  Observe: ServerStream<m.LeaderRequest, m.LeaderResponse>;
  Resign: Unary<m.ResignRequest, m.ResignResponse>;
}

/** Every service etcd 3.4 serves on its client port, ready for `grpc.Server.addService`. */
export interface EtcdServices {
  readonly kv: grpc.ServiceDefinition<KVHandlers>;
  readonly watch: grpc.ServiceDefinition<WatchHandlers>;
  readonly lease: grpc.ServiceDefinition<LeaseHandlers>;
  readonly cluster: grpc.ServiceDefinition<ClusterHandlers>;
  readonly maintenance: grpc.ServiceDefinition<MaintenanceHandlers>;
  readonly auth: grpc.ServiceDefinition<AuthHandlers>;
  readonly lock: grpc.ServiceDefinition<LockHandlers>;
  readonly election: grpc.ServiceDefinition<ElectionHandlers>;
}

/** Fully qualified proto name of each service in EtcdServices. */
export const SERVICE_NAMES: Readonly<Record<keyof EtcdServices, string>> = Object.freeze({
  kv: 'etcdserverpb.KV',
  watch: 'etcdserverpb.Watch',
  lease: 'etcdserverpb.Lease',
  cluster: 'etcdserverpb.Cluster',
  maintenance: 'etcdserverpb.Maintenance',
  auth: 'etcdserverpb.Auth',
  lock: 'v3lockpb.Lock',
  election: 'v3electionpb.Election',
});

let loaded: { readonly packageDefinition: protoLoader.PackageDefinition; readonly services: EtcdServices } | undefined;

/** The loaded package definition (every message and service); parsed once, on first use. */
export function packageDefinition(): protoLoader.PackageDefinition {
  return load().packageDefinition;
}

/** The typed service definitions; parsed once, on first use. */
export function etcdServices(): EtcdServices {
  return load().services;
}

function load(): NonNullable<typeof loaded> {
  if (loaded !== undefined) return loaded;
  const dir = findProtoDir();
  const def = protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  const service = <T>(name: string): grpc.ServiceDefinition<T> => {
    const found = def[name];
    if (found === undefined || 'format' in found) {
      throw new FloeError('ERR_PROTO_SERVICE_MISSING', `service ${name} missing from ${dir}`);
    }
    return found as unknown as grpc.ServiceDefinition<T>;
  };
  const services: EtcdServices = Object.freeze({
    kv: service<KVHandlers>(SERVICE_NAMES.kv),
    watch: service<WatchHandlers>(SERVICE_NAMES.watch),
    lease: service<LeaseHandlers>(SERVICE_NAMES.lease),
    cluster: service<ClusterHandlers>(SERVICE_NAMES.cluster),
    maintenance: service<MaintenanceHandlers>(SERVICE_NAMES.maintenance),
    auth: service<AuthHandlers>(SERVICE_NAMES.auth),
    lock: service<LockHandlers>(SERVICE_NAMES.lock),
    election: service<ElectionHandlers>(SERVICE_NAMES.election),
  });
  loaded = { packageDefinition: def, services };
  return loaded;
}
