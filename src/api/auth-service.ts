/**
 * etcdserverpb.Auth over the member's AuthServer (users, roles, enabling, Authenticate), with
 * etcd 3.4's answers and errors; the member applies each call through raft on every member
 * (src/server/apply-auth.ts) and checks it as the caller (auth-guard.ts).
 *
 * A server without an auth store (`api.auth` absent: test doubles) answers as etcd 3.4 does
 * with auth never used and an empty store:
 *
 * | call                                   | answer                                           |
 * |----------------------------------------|--------------------------------------------------|
 * | AuthDisable                            | OK (already disabled)                            |
 * | AuthEnable                             | etcdserver: root user does not exist             |
 * | Authenticate                           | etcdserver: authentication is not enabled        |
 * | UserList, RoleList                     | OK, empty lists                                  |
 * | UserGet/Delete/ChangePassword/         | etcdserver: user name not found                  |
 * |   GrantRole/RevokeRole                 |                                                  |
 * | RoleGet/Delete/GrantPermission/        | etcdserver: role name not found                  |
 * |   RevokePermission                     |                                                  |
 * | UserAdd, RoleAdd with an empty name    | etcdserver: user/role name is empty              |
 * | UserAdd, RoleAdd otherwise             | etcdserver: authentication is not enabled (*)    |
 *
 * (*) etcd would store the user or role; without a store that cannot be, and the refusal is
 * the auth error etcd clients already know.
 */
import type { AuthHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { AuthServer, EtcdServerApi } from '../server';
import { fillHeader, unary } from './call';
import { etcdError } from './errors';

/** The Auth service's handlers. */
export function authHandlers(api: EtcdServerApi): AuthHandlers {
  const auth = api.auth;
  if (auth === undefined) return storelessHandlers(api);
  const h = <Req, Res extends { header?: pb.ResponseHeader | null }>(fn: (a: AuthServer, req: Req) => Promise<Res>) =>
    unary<Req, Res>(async (req) => fillHeader(api, await fn(auth, req)));
  return {
    AuthEnable: h((a, req: pb.AuthEnableRequest) => a.authEnable(req)),
    AuthDisable: h((a, req: pb.AuthDisableRequest) => a.authDisable(req)),
    Authenticate: h((a, req: pb.AuthenticateRequest) => a.authenticate(req)),
    UserAdd: h((a, req: pb.AuthUserAddRequest) => a.userAdd(req)),
    UserGet: h((a, req: pb.AuthUserGetRequest) => a.userGet(req)),
    UserList: h((a, req: pb.AuthUserListRequest) => a.userList(req)),
    UserDelete: h((a, req: pb.AuthUserDeleteRequest) => a.userDelete(req)),
    UserChangePassword: h((a, req: pb.AuthUserChangePasswordRequest) => a.userChangePassword(req)),
    UserGrantRole: h((a, req: pb.AuthUserGrantRoleRequest) => a.userGrantRole(req)),
    UserRevokeRole: h((a, req: pb.AuthUserRevokeRoleRequest) => a.userRevokeRole(req)),
    RoleAdd: h((a, req: pb.AuthRoleAddRequest) => a.roleAdd(req)),
    RoleGet: h((a, req: pb.AuthRoleGetRequest) => a.roleGet(req)),
    RoleList: h((a, req: pb.AuthRoleListRequest) => a.roleList(req)),
    RoleDelete: h((a, req: pb.AuthRoleDeleteRequest) => a.roleDelete(req)),
    RoleGrantPermission: h((a, req: pb.AuthRoleGrantPermissionRequest) => a.roleGrantPermission(req)),
    RoleRevokePermission: h((a, req: pb.AuthRoleRevokePermissionRequest) => a.roleRevokePermission(req)),
  };
}

/** The answers of a server without an auth store (see the table above). */
function storelessHandlers(api: EtcdServerApi): AuthHandlers {
  const ok = (): pb.AuthHeaderOnlyResponse => fillHeader(api, { header: {} });
  const userNotFound = unary<unknown, never>(() => {
    throw etcdError('USER_NOT_FOUND');
  });
  const roleNotFound = unary<unknown, never>(() => {
    throw etcdError('ROLE_NOT_FOUND');
  });
  return {
    AuthEnable: unary(() => {
      throw etcdError('ROOT_USER_NOT_EXIST');
    }),
    AuthDisable: unary(ok),
    Authenticate: unary(() => {
      throw etcdError('AUTH_NOT_ENABLED');
    }),
    UserAdd: unary((req) => {
      if (req.name.length === 0) throw etcdError('USER_EMPTY');
      throw etcdError('AUTH_NOT_ENABLED');
    }),
    UserGet: userNotFound,
    UserList: unary(() => fillHeader(api, { header: {} })),
    UserDelete: userNotFound,
    UserChangePassword: userNotFound,
    UserGrantRole: userNotFound,
    UserRevokeRole: userNotFound,
    RoleAdd: unary((req) => {
      if (req.name.length === 0) throw etcdError('ROLE_EMPTY');
      throw etcdError('AUTH_NOT_ENABLED');
    }),
    RoleGet: roleNotFound,
    RoleList: unary(() => fillHeader(api, { header: {} })),
    RoleDelete: roleNotFound,
    RoleGrantPermission: roleNotFound,
    RoleRevokePermission: roleNotFound,
  };
}
