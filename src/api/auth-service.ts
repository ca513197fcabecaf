/**
 * etcdserverpb.Auth for a member without an auth store yet: authentication is disabled and
 * there are no users and no roles. Every call answers what etcd 3.4 answers in that state
 * (observed against Debian's etcd 3.4.23, auth disabled, empty store):
 *
 * | call                                   | answer                                           |
 * |----------------------------------------|--------------------------------------------------|
 * | AuthDisable                            | OK (already disabled)                            |
 * | AuthEnable                             | etcdserver: root user does not exist             |
 * | Authenticate                           | etcdserver: authentication is not enabled (*)    |
 * | UserList, RoleList                     | OK, empty lists                                  |
 * | UserGet/Delete/ChangePassword/         | etcdserver: user name not found                  |
 * |   GrantRole/RevokeRole                 |                                                  |
 * | RoleGet/Delete/GrantPermission/        | etcdserver: role name not found                  |
 * |   RevokePermission                     |                                                  |
 * | UserAdd, RoleAdd with an empty name    | etcdserver: user/role name is empty              |
 * | UserAdd, RoleAdd otherwise             | etcdserver: authentication is not enabled (**)   |
 *
 * (*) clientv3 treats this answer as "no auth needed" and goes on, so `etcdctl --user` works.
 * (**) The one departure: etcd would store the user or role. Without an auth store Floe cannot,
 * and refuses with the auth error etcd clients already know rather than pretend.
 */
import type { AuthHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { fillHeader, unary } from './call';
import { etcdError } from './errors';

/** The Auth service's handlers: auth disabled, empty store (see the table above). */
export function authHandlers(api: EtcdServerApi): AuthHandlers {
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
