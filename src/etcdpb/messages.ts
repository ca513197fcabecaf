/**
 * TypeScript shapes of the etcd v3 messages as the server meets them through `proto.ts`.
 *
 * Direction decides the shape. Requests arrive decoded by proto-loader with `defaults: true`:
 * every scalar field is present, 64-bit integers are exact decimal strings (`Int64`), bytes are
 * Buffers, enums are numbers, an unset message field is `null`, and a oneof names its set member
 * in a discriminator property. Responses are what the server hands to the encoder: fields left
 * out encode as proto3 defaults, and 64-bit integers may be given as a string or a safe integer
 * (`Int64Like`). Every response carries a `header`, as etcd's do (Snapshot chunks excepted).
 */

/** A decoded int64/uint64: decimal string, exact for all 64 bits (lease IDs use all 63). */
export type Int64 = string;
/**
 * An int64/uint64 for the encoder: a number when it is a safe integer, otherwise a decimal
 * string. Never a lossy number: a value above 2^53 must be a string.
 */
export type Int64Like = string | number;

/** Numeric values of the proto enums (proto-loader hands enums over as numbers). */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];
export const FilterType = { NOPUT: 0, NODELETE: 1 } as const;
export type FilterType = (typeof FilterType)[keyof typeof FilterType];
export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const AlarmType = { NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const;
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];
export const AlarmAction = { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const;
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];
export const PermissionType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export type PermissionType = (typeof PermissionType)[keyof typeof PermissionType];

// ---- common (response side) -------------------------------------------------------------

export interface ResponseHeader {
  cluster_id?: Int64Like;
  member_id?: Int64Like;
  revision?: Int64Like;
  raft_term?: Int64Like;
}

/** mvccpb.KeyValue */
export interface KeyValue {
  key: Uint8Array;
  create_revision?: Int64Like;
  mod_revision?: Int64Like;
  version?: Int64Like;
  value?: Uint8Array;
  lease?: Int64Like;
}

/** mvccpb.Event */
export interface Event {
  type?: EventType;
  kv: KeyValue;
  prev_kv?: KeyValue | null;
}

// ---- KV ---------------------------------------------------------------------------------

export interface RangeRequest {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly limit: Int64;
  readonly revision: Int64;
  readonly sort_order: SortOrder;
  readonly sort_target: SortTarget;
  readonly serializable: boolean;
  readonly keys_only: boolean;
  readonly count_only: boolean;
  readonly min_mod_revision: Int64;
  readonly max_mod_revision: Int64;
  readonly min_create_revision: Int64;
  readonly max_create_revision: Int64;
}
export interface RangeResponse {
  header: ResponseHeader;
  kvs?: KeyValue[];
  more?: boolean;
  count?: Int64Like;
}

export interface PutRequest {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly lease: Int64;
  readonly prev_kv: boolean;
  readonly ignore_value: boolean;
  readonly ignore_lease: boolean;
}
export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue | null;
}

export interface DeleteRangeRequest {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly prev_kv: boolean;
}
export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted?: Int64Like;
  prev_kvs?: KeyValue[];
}

/** One op of a txn branch; `request` names the member that is set. */
export type RequestOp =
  | { readonly request: 'request_range'; readonly request_range: RangeRequest }
  | { readonly request: 'request_put'; readonly request_put: PutRequest }
  | { readonly request: 'request_delete_range'; readonly request_delete_range: DeleteRangeRequest }
  | { readonly request: 'request_txn'; readonly request_txn: TxnRequest }
  /** No member set: etcd rejects such an op. */
  | { readonly request?: undefined };

/** One result of a txn branch, in the order of the ops; set exactly one member. */
export type ResponseOp =
  | { response_range: RangeResponse }
  | { response_put: PutResponse }
  | { response_delete_range: DeleteRangeResponse }
  | { response_txn: TxnResponse };

interface CompareBase {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Buffer;
  readonly range_end: Buffer;
}
/** A txn guard; `target_union` names the operand that is set (normally the one `target` says). */
export type Compare = CompareBase &
  (
    | { readonly target_union: 'version'; readonly version: Int64 }
    | { readonly target_union: 'create_revision'; readonly create_revision: Int64 }
    | { readonly target_union: 'mod_revision'; readonly mod_revision: Int64 }
    | { readonly target_union: 'value'; readonly value: Buffer }
    | { readonly target_union: 'lease'; readonly lease: Int64 }
    | { readonly target_union?: undefined }
  );

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}
export interface TxnResponse {
  header: ResponseHeader;
  succeeded?: boolean;
  responses?: ResponseOp[];
}

export interface CompactionRequest {
  readonly revision: Int64;
  readonly physical: boolean;
}
export interface CompactionResponse {
  header: ResponseHeader;
}

// ---- Watch ------------------------------------------------------------------------------

export interface WatchCreateRequest {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly start_revision: Int64;
  readonly progress_notify: boolean;
  readonly filters: readonly FilterType[];
  readonly prev_kv: boolean;
  readonly watch_id: Int64;
  readonly fragment: boolean;
}
export interface WatchCancelRequest {
  readonly watch_id: Int64;
}
/** One message on the watch stream; `request_union` names the member that is set. */
export type WatchRequest =
  | { readonly request_union: 'create_request'; readonly create_request: WatchCreateRequest }
  | { readonly request_union: 'cancel_request'; readonly cancel_request: WatchCancelRequest }
  | { readonly request_union: 'progress_request'; readonly progress_request: Record<string, never> }
  | { readonly request_union?: undefined };
export interface WatchResponse {
  header: ResponseHeader;
  watch_id?: Int64Like;
  created?: boolean;
  canceled?: boolean;
  compact_revision?: Int64Like;
  cancel_reason?: string;
  fragment?: boolean;
  events?: Event[];
}

// ---- Lease ------------------------------------------------------------------------------

export interface LeaseGrantRequest {
  readonly TTL: Int64;
  readonly ID: Int64;
}
export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID?: Int64Like;
  TTL?: Int64Like;
  error?: string;
}
export interface LeaseRevokeRequest {
  readonly ID: Int64;
}
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}
export interface LeaseCheckpoint {
  readonly ID: Int64;
  readonly remaining_TTL: Int64;
}
export interface LeaseCheckpointRequest {
  readonly checkpoints: readonly LeaseCheckpoint[];
}
export interface LeaseKeepAliveRequest {
  readonly ID: Int64;
}
export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID?: Int64Like;
  TTL?: Int64Like;
}
export interface LeaseTimeToLiveRequest {
  readonly ID: Int64;
  readonly keys: boolean;
}
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID?: Int64Like;
  TTL?: Int64Like;
  grantedTTL?: Int64Like;
  keys?: Uint8Array[];
}
export type LeaseLeasesRequest = Record<string, never>;
export interface LeaseStatus {
  ID: Int64Like;
}
export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases?: LeaseStatus[];
}

// ---- Cluster ----------------------------------------------------------------------------

export interface Member {
  ID: Int64Like;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}
export interface MemberAddRequest {
  readonly peerURLs: readonly string[];
  readonly isLearner: boolean;
}
export interface MemberAddResponse {
  header: ResponseHeader;
  member?: Member | null;
  members?: Member[];
}
export interface MemberRemoveRequest {
  readonly ID: Int64;
}
export interface MemberRemoveResponse {
  header: ResponseHeader;
  members?: Member[];
}
export interface MemberUpdateRequest {
  readonly ID: Int64;
  readonly peerURLs: readonly string[];
}
export interface MemberUpdateResponse {
  header: ResponseHeader;
  members?: Member[];
}
export type MemberListRequest = Record<string, never>;
export interface MemberListResponse {
  header: ResponseHeader;
  members?: Member[];
}
export interface MemberPromoteRequest {
  readonly ID: Int64;
}
export interface MemberPromoteResponse {
  header: ResponseHeader;
  members?: Member[];
}

// ---- Maintenance ------------------------------------------------------------------------

export interface AlarmRequest {
  readonly action: AlarmAction;
  readonly memberID: Int64;
  readonly alarm: AlarmType;
}
export interface AlarmMember {
  memberID: Int64Like;
  alarm: AlarmType;
}
export interface AlarmResponse {
  header: ResponseHeader;
  alarms?: AlarmMember[];
}
export type StatusRequest = Record<string, never>;
export interface StatusResponse {
  header: ResponseHeader;
  version?: string;
  dbSize?: Int64Like;
  leader?: Int64Like;
  raftIndex?: Int64Like;
  raftTerm?: Int64Like;
  raftAppliedIndex?: Int64Like;
  errors?: string[];
  dbSizeInUse?: Int64Like;
  isLearner?: boolean;
}
export type DefragmentRequest = Record<string, never>;
export interface DefragmentResponse {
  header: ResponseHeader;
}
export type HashRequest = Record<string, never>;
export interface HashResponse {
  header: ResponseHeader;
  hash?: number;
}
export interface HashKVRequest {
  readonly revision: Int64;
}
export interface HashKVResponse {
  header: ResponseHeader;
  /** uint32: a number in [0, 2^32). */
  hash?: number;
  compact_revision?: Int64Like;
}
export type SnapshotRequest = Record<string, never>;
export interface SnapshotResponse {
  /** etcd 3.4 sends snapshot chunks without a header. */
  header?: ResponseHeader | null;
  remaining_bytes?: Int64Like;
  blob?: Uint8Array;
}
export interface MoveLeaderRequest {
  readonly targetID: Int64;
}
export interface MoveLeaderResponse {
  header: ResponseHeader;
}

// ---- Auth -------------------------------------------------------------------------------

/** authpb.Permission as it arrives in a request. */
export interface PermissionIn {
  readonly permType: PermissionType;
  readonly key: Buffer;
  readonly range_end: Buffer;
}
/** authpb.Permission as the server sends it. */
export interface Permission {
  permType?: PermissionType;
  key?: Uint8Array;
  range_end?: Uint8Array;
}
export type AuthEnableRequest = Record<string, never>;
export type AuthDisableRequest = Record<string, never>;
export interface AuthenticateRequest {
  readonly name: string;
  readonly password: string;
}
export interface AuthUserAddRequest {
  readonly name: string;
  readonly password: string;
  readonly options: { readonly no_password: boolean } | null;
  /** etcd 3.5's field 4: the bcrypt hash, base64 (set by the server, never by 3.4 clients). */
  readonly hashedPassword?: string;
}
export interface AuthUserGetRequest {
  readonly name: string;
}
export interface AuthUserDeleteRequest {
  readonly name: string;
}
export interface AuthUserChangePasswordRequest {
  readonly name: string;
  readonly password: string;
  /** etcd 3.5's field 4: the bcrypt hash, base64 (set by the server, never by 3.4 clients). */
  readonly hashedPassword?: string;
}
export interface AuthUserGrantRoleRequest {
  readonly user: string;
  readonly role: string;
}
export interface AuthUserRevokeRoleRequest {
  readonly name: string;
  readonly role: string;
}
export interface AuthRoleAddRequest {
  readonly name: string;
}
export interface AuthRoleGetRequest {
  readonly role: string;
}
export type AuthUserListRequest = Record<string, never>;
export type AuthRoleListRequest = Record<string, never>;
export interface AuthRoleDeleteRequest {
  readonly role: string;
}
export interface AuthRoleGrantPermissionRequest {
  readonly name: string;
  readonly perm: PermissionIn | null;
}
export interface AuthRoleRevokePermissionRequest {
  readonly role: string;
  readonly key: Buffer;
  readonly range_end: Buffer;
}
/** The responses of the Auth calls that carry nothing but a header. */
export interface AuthHeaderOnlyResponse {
  header: ResponseHeader;
}
export interface AuthenticateResponse {
  header: ResponseHeader;
  token?: string;
}
export interface AuthUserGetResponse {
  header: ResponseHeader;
  roles?: string[];
}
export interface AuthRoleGetResponse {
  header: ResponseHeader;
  perm?: Permission[];
}
export interface AuthRoleListResponse {
  header: ResponseHeader;
  roles?: string[];
}
export interface AuthUserListResponse {
  header: ResponseHeader;
  users?: string[];
}

// ---- v3lock and v3election --------------------------------------------------------------

export interface LockRequest {
  readonly name: Buffer;
  readonly lease: Int64;
}
export interface LockResponse {
  header: ResponseHeader;
  key?: Uint8Array;
}
export interface UnlockRequest {
  readonly key: Buffer;
}
export interface UnlockResponse {
  header: ResponseHeader;
}
/** v3electionpb.LeaderKey as it arrives in a request. */
export interface LeaderKeyIn {
  readonly name: Buffer;
  readonly key: Buffer;
  readonly rev: Int64;
  readonly lease: Int64;
}
/** v3electionpb.LeaderKey as the server sends it. */
export interface LeaderKey {
  name?: Uint8Array;
  key?: Uint8Array;
  rev?: Int64Like;
  lease?: Int64Like;
}
export interface CampaignRequest {
  readonly name: Buffer;
  readonly lease: Int64;
  readonly value: Buffer;
}
export interface CampaignResponse {
  header: ResponseHeader;
  leader?: LeaderKey | null;
}
export interface ProclaimRequest {
  readonly leader: LeaderKeyIn | null;
  readonly value: Buffer;
}
export interface ProclaimResponse {
  header: ResponseHeader;
}
export interface LeaderRequest {
  readonly name: Buffer;
}
export interface LeaderResponse {
  header: ResponseHeader;
  kv?: KeyValue | null;
}
export interface ResignRequest {
  readonly leader: LeaderKeyIn | null;
}
export interface ResignResponse {
  header: ResponseHeader;
}
