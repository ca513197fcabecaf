/**
 * The JSON gateway's routes: for each gRPC method, the HTTP paths etcd 3.4 serves it on (every
 * one is POST with the whole request message as the JSON body). These are the facts of etcd's
 * `google.api.http` annotations, kept here instead of in the .proto files.
 *
 * Quirks kept on purpose, because clients depend on etcd's behaviour:
 * - etcd 3.4 also accepts every path under `/v3beta/`, rewritten to `/v3/` before routing
 *   (`GATEWAY_LEGACY_PREFIX`).
 * - Hash and HashKV share `/v3/maintenance/hash` in etcd 3.4's annotations; the first registered
 *   wins, so etcd (3.4.23 as packaged by Debian, checked with curl) answers that path with Hash.
 *   HashKV has no reachable gateway path.
 * - LeaseRevoke, LeaseTimeToLive and LeaseLeases have a second path under `/v3/kv/lease/`.
 */

/** One gRPC method and the gateway paths that reach it; the first path is the primary one. */
export interface GatewayRoute {
  /** Fully qualified service name, e.g. `etcdserverpb.KV`. */
  readonly service: string;
  readonly method: string;
  readonly paths: readonly string[];
}

/** Prefix that etcd 3.4 rewrites to `/v3/` before routing. */
export const GATEWAY_LEGACY_PREFIX = '/v3beta/';

const route = (service: string, method: string, ...paths: string[]): GatewayRoute =>
  Object.freeze({ service, method, paths: Object.freeze(paths) });

/** Every annotated method of etcd 3.4, in proto declaration order. */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = Object.freeze([
  route('etcdserverpb.KV', 'Range', '/v3/kv/range'),
  route('etcdserverpb.KV', 'Put', '/v3/kv/put'),
  route('etcdserverpb.KV', 'DeleteRange', '/v3/kv/deleterange'),
  route('etcdserverpb.KV', 'Txn', '/v3/kv/txn'),
  route('etcdserverpb.KV', 'Compact', '/v3/kv/compaction'),

  route('etcdserverpb.Watch', 'Watch', '/v3/watch'),

  route('etcdserverpb.Lease', 'LeaseGrant', '/v3/lease/grant'),
  route('etcdserverpb.Lease', 'LeaseRevoke', '/v3/lease/revoke', '/v3/kv/lease/revoke'),
  route('etcdserverpb.Lease', 'LeaseKeepAlive', '/v3/lease/keepalive'),
  route('etcdserverpb.Lease', 'LeaseTimeToLive', '/v3/lease/timetolive', '/v3/kv/lease/timetolive'),
  route('etcdserverpb.Lease', 'LeaseLeases', '/v3/lease/leases', '/v3/kv/lease/leases'),

  route('etcdserverpb.Cluster', 'MemberAdd', '/v3/cluster/member/add'),
  route('etcdserverpb.Cluster', 'MemberRemove', '/v3/cluster/member/remove'),
  route('etcdserverpb.Cluster', 'MemberUpdate', '/v3/cluster/member/update'),
  route('etcdserverpb.Cluster', 'MemberList', '/v3/cluster/member/list'),
  route('etcdserverpb.Cluster', 'MemberPromote', '/v3/cluster/member/promote'),

  route('etcdserverpb.Maintenance', 'Alarm', '/v3/maintenance/alarm'),
  route('etcdserverpb.Maintenance', 'Status', '/v3/maintenance/status'),
  route('etcdserverpb.Maintenance', 'Defragment', '/v3/maintenance/defragment'),
  route('etcdserverpb.Maintenance', 'Hash', '/v3/maintenance/hash'),
  route('etcdserverpb.Maintenance', 'HashKV', '/v3/maintenance/hash'),
  route('etcdserverpb.Maintenance', 'Snapshot', '/v3/maintenance/snapshot'),
  route('etcdserverpb.Maintenance', 'MoveLeader', '/v3/maintenance/transfer-leadership'),

  route('etcdserverpb.Auth', 'AuthEnable', '/v3/auth/enable'),
  route('etcdserverpb.Auth', 'AuthDisable', '/v3/auth/disable'),
  route('etcdserverpb.Auth', 'Authenticate', '/v3/auth/authenticate'),
  route('etcdserverpb.Auth', 'UserAdd', '/v3/auth/user/add'),
  route('etcdserverpb.Auth', 'UserGet', '/v3/auth/user/get'),
  route('etcdserverpb.Auth', 'UserList', '/v3/auth/user/list'),
  route('etcdserverpb.Auth', 'UserDelete', '/v3/auth/user/delete'),
  route('etcdserverpb.Auth', 'UserChangePassword', '/v3/auth/user/changepw'),
  route('etcdserverpb.Auth', 'UserGrantRole', '/v3/auth/user/grant'),
  route('etcdserverpb.Auth', 'UserRevokeRole', '/v3/auth/user/revoke'),
  route('etcdserverpb.Auth', 'RoleAdd', '/v3/auth/role/add'),
  route('etcdserverpb.Auth', 'RoleGet', '/v3/auth/role/get'),
  route('etcdserverpb.Auth', 'RoleList', '/v3/auth/role/list'),
  route('etcdserverpb.Auth', 'RoleDelete', '/v3/auth/role/delete'),
  route('etcdserverpb.Auth', 'RoleGrantPermission', '/v3/auth/role/grant'),
  route('etcdserverpb.Auth', 'RoleRevokePermission', '/v3/auth/role/revoke'),

  route('v3lockpb.Lock', 'Lock', '/v3/lock/lock'),
  route('v3lockpb.Lock', 'Unlock', '/v3/lock/unlock'),

  route('v3electionpb.Election', 'Campaign', '/v3/election/campaign'),
  route('v3electionpb.Election', 'Proclaim', '/v3/election/proclaim'),
  route('v3electionpb.Election', 'Leader', '/v3/election/leader'),
  route('v3electionpb.Election', 'Observe', '/v3/election/observe'),
  route('v3electionpb.Election', 'Resign', '/v3/election/resign'),
]);

/**
 * The route that serves an HTTP path, after etcd's `/v3beta/` rewrite; undefined if none.
 * Where two methods share a path (Hash, HashKV) the first in declaration order is returned.
 */
export function gatewayRouteFor(urlPath: string): GatewayRoute | undefined {
  const p = urlPath.startsWith(GATEWAY_LEGACY_PREFIX) ? '/v3/' + urlPath.slice(GATEWAY_LEGACY_PREFIX.length) : urlPath;
  return GATEWAY_ROUTES.find((r) => r.paths.includes(p));
}
