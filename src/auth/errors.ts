/**
 * The auth store's operating errors. Codes are src/api's error table names ('ERR_' + name), so
 * the API layer sends etcd's exact gRPC status and message; the messages here are the same
 * text for logs and tests.
 */
import { FloeError } from '../pkg';

const MESSAGES = {
  ROOT_USER_NOT_EXIST: 'etcdserver: root user does not exist',
  ROOT_ROLE_NOT_EXIST: 'etcdserver: root user does not have root role',
  USER_ALREADY_EXIST: 'etcdserver: user name already exists',
  USER_EMPTY: 'etcdserver: user name is empty',
  USER_NOT_FOUND: 'etcdserver: user name not found',
  ROLE_ALREADY_EXIST: 'etcdserver: role name already exists',
  ROLE_NOT_FOUND: 'etcdserver: role name not found',
  ROLE_EMPTY: 'etcdserver: role name is empty',
  AUTH_FAILED: 'etcdserver: authentication failed, invalid user ID or password',
  PERMISSION_DENIED: 'etcdserver: permission denied',
  ROLE_NOT_GRANTED: 'etcdserver: role is not granted to the user',
  PERMISSION_NOT_GRANTED: 'etcdserver: permission is not granted to the role',
  AUTH_NOT_ENABLED: 'etcdserver: authentication is not enabled',
  INVALID_AUTH_TOKEN: 'etcdserver: invalid auth token',
  INVALID_AUTH_MGMT: 'etcdserver: invalid auth management',
  AUTH_OLD_REVISION: 'etcdserver: revision of auth store is old',
  // etcd has no gRPC mapping for this one: it goes out as UNKNOWN with the auth package's text.
  AUTH_NO_PASSWORD_USER: 'auth: authentication failed, password was given for no password user',
} as const;

export type AuthErrorName = keyof typeof MESSAGES;

/** etcd's auth package's own text for each error (what etcd sends where it skips its mapping). */
const PACKAGE_TEXT: Readonly<Record<AuthErrorName, string>> = {
  ROOT_USER_NOT_EXIST: 'auth: root user does not exist',
  ROOT_ROLE_NOT_EXIST: 'auth: root user does not have root role',
  USER_ALREADY_EXIST: 'auth: user already exists',
  USER_EMPTY: 'auth: user name is empty',
  USER_NOT_FOUND: 'auth: user not found',
  ROLE_ALREADY_EXIST: 'auth: role already exists',
  ROLE_NOT_FOUND: 'auth: role not found',
  ROLE_EMPTY: 'auth: role name is empty',
  AUTH_FAILED: 'auth: authentication failed, invalid user ID or password',
  PERMISSION_DENIED: 'auth: permission denied',
  ROLE_NOT_GRANTED: 'auth: role is not granted to the user',
  PERMISSION_NOT_GRANTED: 'auth: permission is not granted to the role',
  AUTH_NOT_ENABLED: 'auth: authentication is not enabled',
  INVALID_AUTH_TOKEN: 'auth: invalid auth token',
  INVALID_AUTH_MGMT: 'auth: invalid auth management',
  AUTH_OLD_REVISION: 'auth: revision in header is old',
  AUTH_NO_PASSWORD_USER: 'auth: authentication failed, password was given for no password user',
};

/**
 * The same error as etcd sends it unmapped (gRPC UNKNOWN with the auth package's text): its
 * maintenance calls return the auth store's error as is. `e` is returned unchanged when it is
 * not an auth error.
 */
export function unmappedAuthError(e: unknown): unknown {
  if (!(e instanceof FloeError) || !e.code.startsWith('ERR_')) return e;
  const name = e.code.slice(4) as AuthErrorName;
  const text = PACKAGE_TEXT[name];
  return text === undefined ? e : new FloeError('ERR_AUTH_UNMAPPED', text, { cause: e });
}

/** The FloeError for one of etcd's auth errors. */
export function authError(name: AuthErrorName): FloeError {
  return new FloeError(`ERR_${name}`, MESSAGES[name]);
}
