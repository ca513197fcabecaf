/**
 * The auth part of applying an entry (etcd's authApplierV3, etcdserver/apply_auth.go), run on
 * every member before the request's own apply, in the same batch:
 * - the request header names who proposed it (username, auth revision); while auth is
 *   enabled, writes are checked against that user's permissions here, at apply, so a
 *   permission revoked between proposal and apply is honoured on every member alike;
 * - user and role management needs the root role (UserGet of oneself and RoleGet of one's
 *   own role excepted);
 * - the auth requests themselves are applied to the auth store.
 * Denials throw the auth store's FloeError; the member answers the proposer with it.
 *
 * Where etcd 3.4 does not check nested txns, Floe does (etcd 3.5 does): a nested op is as
 * much a read or a write as a top-level one.
 */
import { authError, hashPasswordSync, PermType, type AuthInfo, type AuthStore } from '../auth';
import type * as pb from '../etcdpb/messages';
import type { RaftRequest } from './raft-request';

/** What applying auth needs from the member. */
export interface AuthApplyDeps {
  readonly auth: AuthStore;
  /** The raft index of the entry being applied (a simple token names it). */
  readonly index: number;
  /** --bcrypt-cost, for entries written by etcd 3.4 (they carry clear passwords). */
  readonly bcryptCost: number;
  /** The keys attached to a lease, or null when there is no such lease. */
  leaseKeys(id: bigint): readonly Uint8Array[] | null;
  header(): pb.ResponseHeader;
}

const EMPTY = Buffer.alloc(0);

/** Who proposed `r` (etcd: an entry without a header, from before 3.0, is nobody). */
export function proposerOf(r: RaftRequest): AuthInfo {
  const h = r.header;
  if (h === null) return { username: '', revision: 0 };
  return { username: h.username ?? '', revision: Number(h.auth_revision ?? 0) };
}

/** etcd's needAdminPermission: the management requests (Authenticate and the gets excepted). */
function needsAdmin(r: RaftRequest): boolean {
  return (
    r.auth_enable !== null ||
    r.auth_disable !== null ||
    r.auth_user_add !== null ||
    r.auth_user_delete !== null ||
    r.auth_user_change_password !== null ||
    r.auth_user_grant_role !== null ||
    r.auth_user_revoke_role !== null ||
    r.auth_role_add !== null ||
    r.auth_role_grant_permission !== null ||
    r.auth_role_revoke_permission !== null ||
    r.auth_role_delete !== null ||
    r.auth_user_list !== null ||
    r.auth_role_list !== null
  );
}

/** etcd's checkLeasePuts: attaching to or revoking a lease needs write access to its keys. */
function checkLeaseKeys(d: AuthApplyDeps, ai: AuthInfo, lease: bigint): void {
  if (lease === 0n) return;
  for (const k of d.leaseKeys(lease) ?? []) d.auth.checkPut(ai, k);
}

/** etcd's checkTxnAuth: compares and every op need their access; nested txns too. */
export function checkTxn(auth: AuthStore, ai: AuthInfo | null, t: pb.TxnRequest): void {
  for (const c of t.compare) auth.checkRange(ai, c.key, c.range_end);
  for (const ops of [t.success, t.failure]) {
    for (const op of ops) {
      switch (op.request) {
        case 'request_range':
          auth.checkRange(ai, op.request_range.key, op.request_range.range_end);
          break;
        case 'request_put':
          auth.checkPut(ai, op.request_put.key);
          break;
        case 'request_delete_range':
          if (op.request_delete_range.prev_kv) auth.checkRange(ai, op.request_delete_range.key, op.request_delete_range.range_end);
          auth.checkDeleteRange(ai, op.request_delete_range.key, op.request_delete_range.range_end);
          break;
        case 'request_txn':
          checkTxn(auth, ai, op.request_txn);
          break;
        default:
          break;
      }
    }
  }
}

/** The stored hash an add or password change carries (see hashedPasswordField). */
function passwordHash(d: AuthApplyDeps, req: { readonly password: string; readonly hashedPassword?: string }): Buffer {
  if (req.hashedPassword !== undefined && req.hashedPassword !== '') return Buffer.from(req.hashedPassword, 'base64');
  // An entry from etcd 3.4's log: it hashes in apply, so must we (rare: migration only).
  return hashPasswordSync(req.password, d.bcryptCost);
}

/**
 * Checks `r` against its proposer's permissions (throws when denied) and applies it when it is
 * an auth request. Returns the auth request's response, or null for any other request (the
 * member then applies it as usual).
 */
export function applyAuth(d: AuthApplyDeps, r: RaftRequest): { resp: unknown } | null {
  const auth = d.auth;
  // With auth disabled nothing is checked: the common writes leave at once.
  if (!auth.enabled && (r.put !== null || r.delete_range !== null || r.txn !== null || r.range !== null || r.lease_revoke !== null)) return null;
  const ai = proposerOf(r);
  if (needsAdmin(r)) auth.checkAdmin(ai);
  if (r.put !== null) {
    auth.checkPut(ai, r.put.key);
    checkLeaseKeys(d, ai, BigInt(r.put.lease));
    if (r.put.prev_kv) auth.checkRange(ai, r.put.key, EMPTY);
    return null;
  }
  if (r.delete_range !== null) {
    auth.checkDeleteRange(ai, r.delete_range.key, r.delete_range.range_end);
    if (r.delete_range.prev_kv) auth.checkRange(ai, r.delete_range.key, r.delete_range.range_end);
    return null;
  }
  if (r.txn !== null) {
    checkTxn(auth, ai, r.txn);
    return null;
  }
  if (r.range !== null) {
    auth.checkRange(ai, r.range.key, r.range.range_end);
    return null;
  }
  if (r.lease_revoke !== null) {
    checkLeaseKeys(d, ai, BigInt(r.lease_revoke.ID));
    return null;
  }
  const ok = (): { resp: unknown } => ({ resp: { header: d.header() } });
  if (r.auth_enable !== null) {
    auth.authEnable();
    return ok();
  }
  if (r.auth_disable !== null) {
    auth.authDisable();
    return ok();
  }
  if (r.authenticate !== null) {
    const token = auth.authenticate(r.authenticate.name, r.authenticate.simple_token, d.index);
    return { resp: { header: d.header(), token } satisfies pb.AuthenticateResponse };
  }
  if (r.auth_user_add !== null) {
    const u = r.auth_user_add;
    const noPassword = u.options?.no_password === true;
    auth.userAdd({ name: u.name, passwordHash: noPassword || u.name === '' ? EMPTY : passwordHash(d, u), noPassword });
    return ok();
  }
  if (r.auth_user_delete !== null) {
    auth.userDelete(r.auth_user_delete.name);
    return ok();
  }
  if (r.auth_user_change_password !== null) {
    const c = r.auth_user_change_password;
    auth.userChangePassword(c.name, passwordHash(d, c));
    return ok();
  }
  if (r.auth_user_grant_role !== null) {
    auth.userGrantRole(r.auth_user_grant_role.user, r.auth_user_grant_role.role);
    return ok();
  }
  if (r.auth_user_revoke_role !== null) {
    auth.userRevokeRole(r.auth_user_revoke_role.name, r.auth_user_revoke_role.role);
    return ok();
  }
  if (r.auth_user_get !== null) {
    const name = r.auth_user_get.name;
    // Anyone may read their own roles; others' need the root role.
    if (name !== ai.username) auth.checkAdmin(ai);
    const roles = auth.userGet(name);
    const resp: pb.AuthUserGetResponse = { header: d.header() };
    if (roles.length > 0) resp.roles = [...roles];
    return { resp };
  }
  if (r.auth_user_list !== null) {
    const users = auth.userList();
    const resp: pb.AuthUserListResponse = { header: d.header() };
    if (users.length > 0) resp.users = users;
    return { resp };
  }
  if (r.auth_role_add !== null) {
    auth.roleAdd(r.auth_role_add.name);
    return ok();
  }
  if (r.auth_role_get !== null) {
    const role = r.auth_role_get.role;
    // Anyone may read a role they hold; others need the root role.
    try {
      auth.checkAdmin(ai);
    } catch (e) {
      if (!auth.hasRole(ai.username, role)) throw e;
    }
    const perms = auth.roleGet(role);
    const resp: pb.AuthRoleGetResponse = { header: d.header() };
    if (perms.length > 0) {
      resp.perm = perms.map((p) => {
        const out: pb.Permission = {};
        if (p.permType !== PermType.READ) out.permType = p.permType;
        if (p.key.length > 0) out.key = p.key;
        if (p.rangeEnd.length > 0) out.range_end = p.rangeEnd;
        return out;
      });
    }
    return { resp };
  }
  if (r.auth_role_list !== null) {
    const roles = auth.roleList();
    const resp: pb.AuthRoleListResponse = { header: d.header() };
    if (roles.length > 0) resp.roles = roles;
    return { resp };
  }
  if (r.auth_role_delete !== null) {
    auth.roleDelete(r.auth_role_delete.role);
    return ok();
  }
  if (r.auth_role_grant_permission !== null) {
    const g = r.auth_role_grant_permission;
    const p = g.perm;
    const permType = p === null ? PermType.READ : p.permType;
    if (permType !== PermType.READ && permType !== PermType.WRITE && permType !== PermType.READWRITE) throw authError('PERMISSION_NOT_GRANTED');
    auth.roleGrantPermission(g.name, { permType, key: Buffer.from(p?.key ?? EMPTY), rangeEnd: Buffer.from(p?.range_end ?? EMPTY) });
    return ok();
  }
  if (r.auth_role_revoke_permission !== null) {
    const v = r.auth_role_revoke_permission;
    auth.roleRevokePermission(v.role, Buffer.from(v.key), Buffer.from(v.range_end));
    return ok();
  }
  return null;
}
