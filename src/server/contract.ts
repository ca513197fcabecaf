/**
 * What the member offers the API layer: small role interfaces (etcd's RaftKV, Lessor,
 * Watchable, Cluster, Maintenance), in etcd's message shapes (src/etcdpb). src/api serves
 * them over gRPC and the JSON gateway; nothing in src/api reaches past these.
 *
 * Errors: every method rejects with a FloeError whose `code` is one of src/api's ErrorCode
 * values ('ERR_' + the error table's name, e.g. 'ERR_COMPACTED', 'ERR_LEASE_NOT_FOUND',
 * 'ERR_TOO_MANY_OPS'); src/api turns it into etcd's exact gRPC status and message. Any other
 * error reaches the client as UNKNOWN with its message.
 *
 * Ordering: a write's promise resolves only after the write is durable (its raft entry is in
 * the fsynced WAL) and applied; its response header carries the revision it produced.
 * A linearizable read observes every write whose promise resolved before the read began.
 */
import type * as pb from '../etcdpb/messages';
import type { CallIdentity } from '../auth';

export interface KVServer {
  range(req: pb.RangeRequest): Promise<pb.RangeResponse>;
  put(req: pb.PutRequest): Promise<pb.PutResponse>;
  deleteRange(req: pb.DeleteRangeRequest): Promise<pb.DeleteRangeResponse>;
  txn(req: pb.TxnRequest): Promise<pb.TxnResponse>;
  compact(req: pb.CompactionRequest): Promise<pb.CompactionResponse>;
}

export interface LeaseServer {
  leaseGrant(req: pb.LeaseGrantRequest): Promise<pb.LeaseGrantResponse>;
  leaseRevoke(req: pb.LeaseRevokeRequest): Promise<pb.LeaseRevokeResponse>;
  /** One keep-alive: renews the lease and answers its new TTL (TTL 0 when not found, as etcd). */
  leaseKeepAlive(req: pb.LeaseKeepAliveRequest): Promise<pb.LeaseKeepAliveResponse>;
  leaseTimeToLive(req: pb.LeaseTimeToLiveRequest): Promise<pb.LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<pb.LeaseLeasesResponse>;
}

/** One client watch stream carrying many watchers (etcd's mvcc.WatchStream). */
export interface WatchStream {
  /**
   * Creates a watcher and returns its id. `watch_id` 0 (or absent) lets the server choose;
   * a taken id throws. Events and the created/canceled notices arrive through onResponse.
   */
  create(req: pb.WatchCreateRequest): number;
  /** Cancels a watcher; false when the id is unknown. */
  cancel(watchId: number): boolean;
  /** Asks for a progress notification (a response with no events at the current revision). */
  requestProgress(): void;
  /**
   * Added by the API layer (etcd's per-watcher RequestProgress, used by its periodic progress
   * notification for watchers created with progress_notify): when watcher `watchId` is synced,
   * sends a response for it with no events at the current revision; otherwise, or when the id
   * is unknown, does nothing (best effort, as etcd).
   */
  requestWatcherProgress(watchId: number): void;
  /**
   * Sets the sink for responses, in the order they must be sent. Returns false when the
   * consumer is full: the stream then holds further events (bounded) until `resume()`.
   */
  onResponse(sink: (resp: pb.WatchResponse) => boolean): void;
  resume(): void;
  close(): void;
}

export interface WatchServer {
  newWatchStream(): WatchStream;
}

export interface ClusterServer {
  memberList(req: pb.MemberListRequest): Promise<pb.MemberListResponse>;
  memberAdd(req: pb.MemberAddRequest): Promise<pb.MemberAddResponse>;
  memberRemove(req: pb.MemberRemoveRequest): Promise<pb.MemberRemoveResponse>;
  memberUpdate(req: pb.MemberUpdateRequest): Promise<pb.MemberUpdateResponse>;
  memberPromote(req: pb.MemberPromoteRequest): Promise<pb.MemberPromoteResponse>;
}

/** A consistent copy of the backend file, streamed in chunks (etcd's Snapshot RPC). */
export interface SnapshotStream {
  /** Total bytes the stream will deliver before the trailing checksum. */
  readonly sizeBytes: number;
  /** Chunks of the backend file, then etcd's trailing sha256 of everything before it. */
  chunks(): AsyncIterable<Buffer>;
}

export interface MaintenanceServer {
  status(): Promise<pb.StatusResponse>;
  hash(): Promise<pb.HashResponse>;
  hashKV(req: pb.HashKVRequest): Promise<pb.HashKVResponse>;
  defragment(): Promise<pb.DefragmentResponse>;
  snapshot(): Promise<SnapshotStream>;
  alarm(req: pb.AlarmRequest): Promise<pb.AlarmResponse>;
  moveLeader(req: pb.MoveLeaderRequest): Promise<pb.MoveLeaderResponse>;
}

/** A caller's credentials as the API layer found them on a call (token metadata, certificate CN). */
export type { CallIdentity };

/**
 * etcd's Auth service, and the caller identity every other call is checked as. The API layer
 * runs a call that carries credentials inside `runAs`; the member then checks reads, writes
 * (in apply, on every member), watch creates, and the calls etcd reserves for root, as that
 * caller. Errors are the auth errors of src/api's table (ERR_PERMISSION_DENIED,
 * ERR_INVALID_AUTH_TOKEN, ERR_USER_EMPTY, ERR_AUTH_OLD_REVISION, ...).
 */
export interface AuthServer {
  /** Runs `fn` as the caller `id`: what `fn` starts synchronously or by awaiting is checked as `id`. */
  runAs<T>(id: CallIdentity, fn: () => T): T;
  /**
   * Null when this member can know `id`'s token now; else resolves once it can (a simple token
   * names the raft entry that made it; a member that has not applied it yet waits, bounded by
   * the request timeout).
   */
  whenTokenKnown(id: CallIdentity): Promise<void> | null;
  authEnable(req: pb.AuthEnableRequest): Promise<pb.AuthHeaderOnlyResponse>;
  authDisable(req: pb.AuthDisableRequest): Promise<pb.AuthHeaderOnlyResponse>;
  authenticate(req: pb.AuthenticateRequest): Promise<pb.AuthenticateResponse>;
  userAdd(req: pb.AuthUserAddRequest): Promise<pb.AuthHeaderOnlyResponse>;
  userGet(req: pb.AuthUserGetRequest): Promise<pb.AuthUserGetResponse>;
  userList(req: pb.AuthUserListRequest): Promise<pb.AuthUserListResponse>;
  userDelete(req: pb.AuthUserDeleteRequest): Promise<pb.AuthHeaderOnlyResponse>;
  userChangePassword(req: pb.AuthUserChangePasswordRequest): Promise<pb.AuthHeaderOnlyResponse>;
  userGrantRole(req: pb.AuthUserGrantRoleRequest): Promise<pb.AuthHeaderOnlyResponse>;
  userRevokeRole(req: pb.AuthUserRevokeRoleRequest): Promise<pb.AuthHeaderOnlyResponse>;
  roleAdd(req: pb.AuthRoleAddRequest): Promise<pb.AuthHeaderOnlyResponse>;
  roleGet(req: pb.AuthRoleGetRequest): Promise<pb.AuthRoleGetResponse>;
  roleList(req: pb.AuthRoleListRequest): Promise<pb.AuthRoleListResponse>;
  roleDelete(req: pb.AuthRoleDeleteRequest): Promise<pb.AuthHeaderOnlyResponse>;
  roleGrantPermission(req: pb.AuthRoleGrantPermissionRequest): Promise<pb.AuthHeaderOnlyResponse>;
  roleRevokePermission(req: pb.AuthRoleRevokePermissionRequest): Promise<pb.AuthHeaderOnlyResponse>;
}

/** Everything the API layer serves. */
export interface EtcdServerApi extends KVServer, LeaseServer, WatchServer, ClusterServer, MaintenanceServer {
  /** The header every response carries: cluster id, member id, current revision, raft term. */
  header(): pb.ResponseHeader;
  /** The Auth service (absent: a server without an auth store, which answers as etcd with auth never used). */
  readonly auth?: AuthServer;
  /** True while this member is a learner: it then serves only Status and serializable Range. */
  readonly isLearner: boolean;
  /** True while this member knows a leader (calls that require one are refused otherwise). */
  readonly hasLeader: boolean;
  /** The settings the API layer enforces before a request reaches the server. */
  readonly limits: {
    /** --max-request-bytes (default 1.5 MiB): larger requests get ERR_REQUEST_TOO_LARGE. */
    readonly maxRequestBytes: number;
    /** --max-txn-ops (default 128). */
    readonly maxTxnOps: number;
  };
}
