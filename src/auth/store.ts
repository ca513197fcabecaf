/**
 * The auth store: users, roles, permission checks and the auth revision, kept in the backend
 * with etcd's schema (schema.ts) and etcd 3.4's semantics (auth/store.go):
 * - every change of users or roles bumps the auth revision by one, AuthDisable bumps it too;
 *   AuthEnable, Authenticate and reads do not;
 * - while auth is enabled the user `root` can't be deleted, the role `root` can't be deleted
 *   and can't be revoked from `root`; AuthEnable needs a `root` user holding the `root` role;
 * - the role `root` need not exist to be granted, and grants access to everything.
 *
 * Writes go to the BatchTx the member applies through, in the same transaction as the
 * consistent index, so they are atomic with the raft index. The store never hashes passwords:
 * the API layer hashes before proposing (bcrypt is slow) and the hash travels in the entry.
 *
 * Permission checks read a per-user cache of merged permissions, dropped on every change.
 */
import type { BatchTx } from '../backend';
import { assert } from '../pkg';
import { authError } from './errors';
import { mergePerms, rangePermitted, type MergedPerms } from './perms';
import {
  AUTH_BUCKET,
  AUTH_ENABLED_KEY,
  AUTH_REVISION_KEY,
  AUTH_ROLES_BUCKET,
  AUTH_USERS_BUCKET,
  decodeAuthRevision,
  decodeRole,
  decodeUser,
  encodeAuthRevision,
  encodeRole,
  encodeUser,
  type Permission,
  type Role,
  type User,
} from './schema';
import type { AuthInfo, TokenProvider } from './tokens';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

const ENABLED = Buffer.from([1]);
const DISABLED = Buffer.from([0]);
/** Above every UTF-8 name: no UTF-8 string holds the byte 0xff. */
const NAMES_END = Buffer.from([0xff]);

/** Receives the store's notices (etcd logs the same events). */
export type AuthLog = (msg: string) => void;

/** A new user: the bcrypt hash (empty with noPassword). */
export interface NewUser {
  readonly name: string;
  readonly passwordHash: Buffer;
  readonly noPassword: boolean;
}

interface UserPerms {
  readonly root: boolean;
  readonly perms: MergedPerms;
}

function hasRootRole(u: User): boolean {
  return u.roles.includes(ROOT_ROLE);
}

/** See the file comment. */
export class AuthStore {
  private enabledFlag: boolean;
  private rev: number;
  private readonly cache = new Map<string, UserPerms | null>();

  /**
   * Opens the store on `batch`: creates etcd's buckets and the initial revision (1) where
   * missing, and reads whether auth is enabled (a restart or a snapshot keeps it).
   */
  constructor(
    private readonly batch: BatchTx,
    readonly tokens: TokenProvider,
    private readonly log: AuthLog = () => undefined,
  ) {
    batch.createBucket(AUTH_BUCKET);
    batch.createBucket(AUTH_USERS_BUCKET);
    batch.createBucket(AUTH_ROLES_BUCKET);
    const revBytes = batch.get(AUTH_BUCKET, AUTH_REVISION_KEY);
    this.rev = revBytes === null ? 0 : decodeAuthRevision(revBytes);
    if (this.rev === 0) this.commitRevision();
    const flag = batch.get(AUTH_BUCKET, AUTH_ENABLED_KEY);
    this.enabledFlag = flag !== null && flag.equals(ENABLED);
    if (this.enabledFlag) tokens.enable();
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }

  /** The auth revision: bumped by every change of users, roles, or disabling auth. */
  get revision(): number {
    return this.rev;
  }

  private commitRevision(): void {
    this.rev++;
    this.batch.put(AUTH_BUCKET, AUTH_REVISION_KEY, encodeAuthRevision(this.rev));
    this.cache.clear();
  }

  private getUser(name: string): User | null {
    const v = this.batch.get(AUTH_USERS_BUCKET, Buffer.from(name));
    return v === null ? null : decodeUser(v);
  }

  private putUser(u: User): void {
    this.batch.put(AUTH_USERS_BUCKET, Buffer.from(u.name), encodeUser(u));
  }

  private getRole(name: string): Role | null {
    const v = this.batch.get(AUTH_ROLES_BUCKET, Buffer.from(name));
    return v === null ? null : decodeRole(v);
  }

  private putRole(r: Role): void {
    this.batch.put(AUTH_ROLES_BUCKET, Buffer.from(r.name), encodeRole(r));
  }

  private allUsers(): User[] {
    return this.batch.range(AUTH_USERS_BUCKET, Buffer.alloc(0), NAMES_END, 0).values.map((v) => decodeUser(v));
  }

  private allRoles(): Role[] {
    // etcd ranges roles over ["\x00", "\xff"): the same names in practice.
    return this.batch.range(AUTH_ROLES_BUCKET, Buffer.from([0]), NAMES_END, 0).values.map((v) => decodeRole(v));
  }

  // ---- enabling ----

  /** Enables auth; needs a `root` user with the `root` role. Enabling twice is fine. */
  authEnable(): void {
    if (this.enabledFlag) {
      this.log('authentication is already enabled; ignored auth enable request');
      return;
    }
    const root = this.getUser(ROOT_USER);
    if (root === null) throw authError('ROOT_USER_NOT_EXIST');
    if (!hasRootRole(root)) throw authError('ROOT_ROLE_NOT_EXIST');
    this.batch.put(AUTH_BUCKET, AUTH_ENABLED_KEY, ENABLED);
    this.enabledFlag = true;
    this.tokens.enable();
    this.cache.clear();
    this.log('enabled authentication');
  }

  /** Disables auth (all tokens are dropped); bumps the revision unless already disabled. */
  authDisable(): void {
    if (!this.enabledFlag) return;
    this.batch.put(AUTH_BUCKET, AUTH_ENABLED_KEY, DISABLED);
    this.commitRevision();
    this.enabledFlag = false;
    this.tokens.disable();
    this.log('disabled authentication');
  }

  // ---- authentication ----

  /**
   * The stored hash to check `name`'s password against, and the revision it was read at
   * (etcd's CheckPassword before its slow compare).
   */
  passwordOf(name: string): { readonly hash: Buffer; readonly revision: number } {
    if (!this.enabledFlag) throw authError('AUTH_NOT_ENABLED');
    const u = this.getUser(name);
    if (u === null) throw authError('AUTH_FAILED');
    if (u.noPassword) throw authError('AUTH_NO_PASSWORD_USER');
    return { hash: u.password, revision: this.rev };
  }

  /** Applies an Authenticate entry at raft index `index`: the token for `name`. */
  authenticate(name: string, simpleTokenPrefix: string, index: number): string {
    if (!this.enabledFlag) throw authError('AUTH_NOT_ENABLED');
    const u = this.getUser(name);
    if (u === null || u.noPassword) throw authError('AUTH_FAILED');
    return this.tokens.assign(name, this.rev, simpleTokenPrefix, index);
  }

  /** Who `token` names; INVALID_AUTH_TOKEN when nobody (etcd's AuthInfoFromCtx). */
  authInfoFromToken(token: string): AuthInfo {
    const ai = this.tokens.info(token, this.rev);
    if (ai === null) throw authError('INVALID_AUTH_TOKEN');
    return ai;
  }

  // ---- users ----

  userAdd(u: NewUser): void {
    if (u.name.length === 0) throw authError('USER_EMPTY');
    if (this.getUser(u.name) !== null) throw authError('USER_ALREADY_EXIST');
    this.putUser({ name: u.name, password: u.noPassword ? Buffer.alloc(0) : u.passwordHash, roles: [], noPassword: u.noPassword });
    this.commitRevision();
    this.log(`added a user: ${u.name}`);
  }

  userDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_USER) throw authError('INVALID_AUTH_MGMT');
    if (this.getUser(name) === null) throw authError('USER_NOT_FOUND');
    this.batch.delete(AUTH_USERS_BUCKET, Buffer.from(name));
    this.commitRevision();
    this.tokens.invalidateUser(name);
    this.log(`deleted a user: ${name}`);
  }

  userChangePassword(name: string, passwordHash: Buffer): void {
    const u = this.getUser(name);
    if (u === null) throw authError('USER_NOT_FOUND');
    this.putUser({ ...u, password: passwordHash });
    this.commitRevision();
    this.tokens.invalidateUser(name);
    this.log(`changed a password of a user: ${name}`);
  }

  userGrantRole(name: string, role: string): void {
    const u = this.getUser(name);
    if (u === null) throw authError('USER_NOT_FOUND');
    if (role !== ROOT_ROLE && this.getRole(role) === null) throw authError('ROLE_NOT_FOUND');
    if (u.roles.includes(role)) {
      this.log(`user ${name} is already granted role ${role}`);
      return;
    }
    this.putUser({ ...u, roles: [...u.roles, role].sort(byteOrder) });
    this.commitRevision();
    this.log(`granted role ${role} to user ${name}`);
  }

  userRevokeRole(name: string, role: string): void {
    if (this.enabledFlag && name === ROOT_USER && role === ROOT_ROLE) throw authError('INVALID_AUTH_MGMT');
    const u = this.getUser(name);
    if (u === null) throw authError('USER_NOT_FOUND');
    const roles = u.roles.filter((r) => r !== role);
    if (roles.length === u.roles.length) throw authError('ROLE_NOT_GRANTED');
    this.putUser({ ...u, roles });
    this.commitRevision();
    this.log(`revoked role ${role} from user ${name}`);
  }

  /** The user's roles, sorted. */
  userGet(name: string): readonly string[] {
    const u = this.getUser(name);
    if (u === null) throw authError('USER_NOT_FOUND');
    return u.roles;
  }

  /** Every user name, in byte order. */
  userList(): string[] {
    return this.allUsers().map((u) => u.name);
  }

  hasRole(user: string, role: string): boolean {
    return this.getUser(user)?.roles.includes(role) ?? false;
  }

  // ---- roles ----

  roleAdd(name: string): void {
    if (name.length === 0) throw authError('ROLE_EMPTY');
    if (this.getRole(name) !== null) throw authError('ROLE_ALREADY_EXIST');
    this.putRole({ name, keyPermission: [] });
    this.commitRevision();
    this.log(`created role ${name}`);
  }

  /** The role's permissions, sorted by key. */
  roleGet(name: string): readonly Permission[] {
    const r = this.getRole(name);
    if (r === null) throw authError('ROLE_NOT_FOUND');
    return r.keyPermission;
  }

  roleList(): string[] {
    return this.allRoles().map((r) => r.name);
  }

  /** Deletes a role and takes it from every user that holds it. */
  roleDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_ROLE) throw authError('INVALID_AUTH_MGMT');
    if (this.getRole(name) === null) throw authError('ROLE_NOT_FOUND');
    this.batch.delete(AUTH_ROLES_BUCKET, Buffer.from(name));
    for (const u of this.allUsers()) {
      const roles = u.roles.filter((r) => r !== name);
      if (roles.length !== u.roles.length) this.putUser({ ...u, roles });
    }
    this.commitRevision();
    this.log(`deleted role ${name}`);
  }

  /**
   * Grants `perm` to a role, or changes the type of the permission with the same key and range
   * end. Like etcd, only the first permission whose key is not below `perm.key` is compared.
   */
  roleGrantPermission(name: string, perm: Permission): void {
    const r = this.getRole(name);
    if (r === null) throw authError('ROLE_NOT_FOUND');
    const perms = [...r.keyPermission];
    const idx = perms.findIndex((p) => Buffer.compare(p.key, perm.key) >= 0);
    const at = idx === -1 ? undefined : perms[idx];
    if (at !== undefined && at.key.equals(perm.key) && at.rangeEnd.equals(perm.rangeEnd)) {
      perms[idx] = { ...at, permType: perm.permType };
    } else {
      perms.push({ permType: perm.permType, key: perm.key, rangeEnd: perm.rangeEnd });
      perms.sort((a, b) => Buffer.compare(a.key, b.key)); // stable: equal keys keep their order
    }
    this.putRole({ name: r.name, keyPermission: perms });
    this.commitRevision();
    this.log(`role ${name}'s permission of key ${perm.key.toString()} is updated`);
  }

  roleRevokePermission(name: string, key: Buffer, rangeEnd: Buffer): void {
    const r = this.getRole(name);
    if (r === null) throw authError('ROLE_NOT_FOUND');
    const perms = r.keyPermission.filter((p) => !p.key.equals(key) || !p.rangeEnd.equals(rangeEnd));
    if (perms.length === r.keyPermission.length) throw authError('PERMISSION_NOT_GRANTED');
    this.putRole({ name: r.name, keyPermission: perms });
    this.commitRevision();
    this.log(`revoked key ${key.toString()} from role ${name}`);
  }

  // ---- permission checks ----

  private userPerms(name: string): UserPerms | null {
    if (this.cache.has(name)) return this.cache.get(name) as UserPerms | null;
    const u = this.getUser(name);
    let v: UserPerms | null = null;
    if (u !== null) {
      const roles: Role[] = [];
      for (const rn of u.roles) {
        const r = this.getRole(rn);
        if (r !== null) roles.push(r);
      }
      v = { root: hasRootRole(u), perms: mergePerms(roles) };
    }
    this.cache.set(name, v);
    return v;
  }

  /** etcd's isOpPermitted: throws USER_EMPTY, AUTH_OLD_REVISION or PERMISSION_DENIED. */
  private checkOp(ai: AuthInfo | null, kind: 'read' | 'write', key: Uint8Array, rangeEnd: Uint8Array): void {
    if (!this.enabledFlag) return;
    if (ai === null || ai.revision === 0) throw authError('USER_EMPTY');
    if (ai.revision < this.rev) throw authError('AUTH_OLD_REVISION');
    const p = this.userPerms(ai.username);
    if (p === null) throw authError('PERMISSION_DENIED');
    if (p.root) return;
    if (!rangePermitted(p.perms, kind, key, rangeEnd)) throw authError('PERMISSION_DENIED');
  }

  checkRange(ai: AuthInfo | null, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.checkOp(ai, 'read', key, rangeEnd);
  }

  checkPut(ai: AuthInfo | null, key: Uint8Array): void {
    this.checkOp(ai, 'write', key, Buffer.alloc(0));
  }

  checkDeleteRange(ai: AuthInfo | null, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.checkOp(ai, 'write', key, rangeEnd);
  }

  /** etcd's IsAdminPermitted: the user must hold the root role (no revision check). */
  checkAdmin(ai: AuthInfo | null): void {
    if (!this.enabledFlag) return;
    if (ai === null || ai.username === '') throw authError('USER_EMPTY');
    const p = this.userPerms(ai.username);
    if (p === null) throw authError('USER_NOT_FOUND');
    if (!p.root) throw authError('PERMISSION_DENIED');
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

assert(ROOT_USER === ROOT_ROLE, 'root user and role share the name');
