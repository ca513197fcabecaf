/**
 * src/auth: etcd v3 auth (design.md §2): users, roles, range permissions, the auth revision,
 * simple and JWT tokens, and the caller identity a request carries. Persisted in the backend
 * with etcd's schema; the member applies auth requests through `AuthStore`.
 */
export { AuthStore, ROOT_USER, ROOT_ROLE, type NewUser, type AuthLog } from './store';
export { authError, unmappedAuthError, type AuthErrorName } from './errors';
export { PermType, type Permission, type User, type Role, AUTH_BUCKET, AUTH_USERS_BUCKET, AUTH_ROLES_BUCKET } from './schema';
export { newTokenProvider, SimpleTokens, DEFAULT_TOKEN_TTL_SEC, type AuthInfo, type TokenProvider, type TokenOptions } from './tokens';
export { JwtTokens, parseJwtOptions } from './jwt';
export { runWithIdentity, currentIdentity, type CallIdentity } from './identity';
export { hashPassword, hashPasswordSync, comparePassword, DEFAULT_BCRYPT_COST, MIN_BCRYPT_COST, MAX_BCRYPT_COST } from './password';
