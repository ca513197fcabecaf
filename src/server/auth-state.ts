/**
 * The member's auth: the auth store over the member's backend (rebuilt with the rest of the
 * member state on restart and when a snapshot is installed; the token provider outlives it,
 * as etcd's Recover keeps its tokens), and the Auth service as the member serves it
 * (contract.ts AuthServer).
 *
 * Who a request runs as: the API layer runs each call that carries credentials inside
 * `runAs`; the member asks `caller()` when it proposes (the raft header then names the user
 * and the auth revision), serves a read, or creates a watcher, exactly where etcd reads the
 * request context (AuthInfoFromCtx): a token that is unknown, expired or forged fails there
 * with "invalid auth token", also while auth is disabled; a call without a token, with
 * --client-cert-auth, runs as its certificate's common name.
 *
 * Password hashing (bcrypt) runs here, before proposing, so apply never hashes.
 */
import type { BatchTx } from '../backend';
import { FloeError, isFloeError } from '../pkg';
import {
  AuthStore,
  authError,
  unmappedAuthError,
  comparePassword,
  currentIdentity,
  hashPassword,
  runWithIdentity,
  DEFAULT_BCRYPT_COST,
  MAX_BCRYPT_COST,
  MIN_BCRYPT_COST,
  ROOT_USER,
  type AuthInfo,
  type CallIdentity,
  type TokenProvider,
} from '../auth';
import type * as pb from '../etcdpb/messages';
import type { AuthServer, WatchStream } from './contract';
import type { MemberConfig, MemberLogger } from './config';
import type { RaftRequestIn } from './raft-request';
import { checkTxn } from './apply-auth';

/** Opens the auth store on a member's batch (creates etcd's buckets and revision 1 when new). */
export function openAuthStore(batch: BatchTx, tokens: TokenProvider, logger: MemberLogger): AuthStore {
  return new AuthStore(batch, tokens, (msg) => logger.log('N', 'auth', msg));
}

/** The bcrypt cost to hash with: --bcrypt-cost, or etcd's default with a warning when out of range. */
export function bcryptCostOf(cfg: MemberConfig): number {
  const c = cfg.bcryptCost;
  if (Number.isInteger(c) && c >= MIN_BCRYPT_COST && c <= MAX_BCRYPT_COST) return c;
  cfg.logger.log('W', 'auth', `Use default bcrypt-cost ${DEFAULT_BCRYPT_COST} instead of the invalid value ${c}`);
  return DEFAULT_BCRYPT_COST;
}

/** What the member's auth service needs from the member. */
export interface MemberAuthDeps {
  /** The current auth store (replaced with the member state). */
  store(): AuthStore;
  readonly tokens: TokenProvider;
  readonly bcryptCost: number;
  /** Proposes (as the current caller) and resolves with the applied response. */
  propose(req: RaftRequestIn): Promise<{ readonly resp?: unknown }>;
  /** Resolves once every write acknowledged before the call is applied (ReadIndex). */
  linearizable(): Promise<void>;
  /** The index this member has applied. */
  appliedIndex(): number;
  /** etcd's request timeout. */
  readonly requestTimeoutMs: number;
}

const WAIT_STEP_MS = 5;

/** The member's Auth service and caller identity (see the file comment). */
export class MemberAuth implements AuthServer {
  constructor(private readonly d: MemberAuthDeps) {}

  runAs<T>(id: CallIdentity, fn: () => T): T {
    return runWithIdentity(id, fn);
  }

  whenTokenKnown(id: CallIdentity): Promise<void> | null {
    if (id.token === null) return null;
    const index = this.d.tokens.indexOf(id.token);
    return index > this.d.appliedIndex() ? this.waitApplied(index) : null;
  }

  private async waitApplied(index: number): Promise<void> {
    const deadline = Date.now() + this.d.requestTimeoutMs;
    // A simple token is assigned when its Authenticate entry applies: a member that has not
    // applied it yet waits (bounded), as etcd's indexWaiter does; past that it is unknown.
    while (index > this.d.appliedIndex() && Date.now() < deadline) await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
  }

  /** Who `id` is, or null for nobody; throws INVALID_AUTH_TOKEN for a bad token. */
  resolve(id: CallIdentity | null): AuthInfo | null {
    if (id === null) return null;
    const store = this.d.store();
    if (id.token !== null) return store.authInfoFromToken(id.token);
    // The API layer names a common name only for a verified client certificate (--client-cert-auth).
    if (id.commonName !== null && id.commonName !== '') return { username: id.commonName, revision: store.revision };
    return null;
  }

  /** The current request's caller (see the file comment). */
  caller(): AuthInfo | null {
    return this.resolve(currentIdentity());
  }

  /** The raft header fields naming the caller; `asRoot` for the member's own proposals. */
  proposalHeader(asRoot: boolean): { username?: string; auth_revision?: string } {
    const ai = asRoot ? { username: ROOT_USER, revision: this.d.store().revision } : this.caller();
    if (ai === null) return {};
    return { username: ai.username, auth_revision: String(ai.revision) };
  }

  /**
   * etcd's doSerialize for a read served without raft: checks the caller before, and returns
   * the check to run after serving (the auth store must not have changed meanwhile).
   */
  checkRead(check: (store: AuthStore, ai: AuthInfo | null) => void): () => void {
    const ai = this.caller();
    check(this.d.store(), ai);
    return () => {
      if (ai !== null && ai.revision !== 0 && ai.revision !== this.d.store().revision) throw authError('AUTH_OLD_REVISION');
    };
  }

  checkRange(key: Uint8Array, rangeEnd: Uint8Array): () => void {
    return this.checkRead((s, ai) => s.checkRange(ai, key, rangeEnd));
  }

  checkTxnRead(t: pb.TxnRequest): () => void {
    return this.checkRead((s, ai) => checkTxn(s, ai, t));
  }

  /** etcd's IsAdminPermitted for the current caller (maintenance and membership calls). */
  checkAdmin(): void {
    this.d.store().checkAdmin(this.caller());
  }

  /**
   * etcd's check of Hash, HashKV, Defragment and Snapshot: the root role, and the auth store's
   * error sent unmapped (UNKNOWN, "auth: permission denied"), as etcd's maintenance server does.
   */
  checkMaintenanceAdmin(): void {
    try {
      this.checkAdmin();
    } catch (e) {
      throw unmappedAuthError(e);
    }
  }

  /**
   * The check of a watch create for a stream opened by `id` (etcd's isWatchPermitted, run per
   * create). etcd turns a range end of "\0" into an empty one before checking, so a watch from
   * a key on is checked as that one key; so is it here.
   */
  checkWatch(id: CallIdentity | null, key: Uint8Array, rangeEnd: Uint8Array): void {
    try {
      this.checkWatchAs(id, key, rangeEnd);
    } catch (e) {
      if (!isFloeError(e)) throw e;
      // etcd's cancel reason is the text of its gRPC error, "rpc error: code = ... desc = ...";
      // anything but these three is reported as permission denied.
      const known: Record<string, string> = {
        ERR_INVALID_AUTH_TOKEN: 'Unauthenticated',
        ERR_AUTH_OLD_REVISION: 'InvalidArgument',
        ERR_USER_EMPTY: 'InvalidArgument',
      };
      const grpcCode = known[e.code];
      const reason = grpcCode === undefined ? 'rpc error: code = PermissionDenied desc = etcdserver: permission denied' : `rpc error: code = ${grpcCode} desc = ${e.message}`;
      throw new FloeError('ERR_WATCH_NOT_PERMITTED', reason, { cause: e });
    }
  }

  private checkWatchAs(id: CallIdentity | null, key: Uint8Array, rangeEnd: Uint8Array): void {
    const ai = this.resolve(id);
    const end = rangeEnd.length === 1 && rangeEnd[0] === 0 ? Buffer.alloc(0) : rangeEnd;
    this.d.store().checkRange(ai, key.length === 0 ? Buffer.from([0]) : key, end);
  }

  // ---- the Auth service ----

  private async call<T>(req: RaftRequestIn): Promise<T> {
    return (await this.d.propose(req)).resp as T;
  }

  authEnable(): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_enable: {} });
  }

  authDisable(): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_disable: {} });
  }

  /**
   * etcd's Authenticate: the password is checked here (bcrypt is slow), then only the name and
   * a fresh token prefix are proposed; if the auth store changed meanwhile, again.
   */
  async authenticate(req: pb.AuthenticateRequest): Promise<pb.AuthenticateResponse> {
    await this.d.linearizable();
    for (;;) {
      const { hash, revision } = this.d.store().passwordOf(req.name);
      if (!(await comparePassword(req.password, hash))) {
        throw authError('AUTH_FAILED');
      }
      const resp = await this.call<pb.AuthenticateResponse>({ authenticate: { name: req.name, password: '', simple_token: this.d.tokens.genTokenPrefix() } });
      if (revision === this.d.store().revision) return resp;
    }
  }

  private async hashed(password: string): Promise<string> {
    return (await hashPassword(password, this.d.bcryptCost)).toString('base64');
  }

  async userAdd(req: pb.AuthUserAddRequest): Promise<pb.AuthHeaderOnlyResponse> {
    const noPassword = req.options?.no_password === true;
    const hashedPassword = noPassword ? '' : await this.hashed(req.password);
    return this.call({ auth_user_add: { name: req.name, password: '', options: req.options, hashedPassword } });
  }

  async userChangePassword(req: pb.AuthUserChangePasswordRequest): Promise<pb.AuthHeaderOnlyResponse> {
    const hashedPassword = await this.hashed(req.password);
    return this.call({ auth_user_change_password: { name: req.name, password: '', hashedPassword } });
  }

  userGet(req: pb.AuthUserGetRequest): Promise<pb.AuthUserGetResponse> {
    return this.call({ auth_user_get: req });
  }
  userList(): Promise<pb.AuthUserListResponse> {
    return this.call({ auth_user_list: {} });
  }
  userDelete(req: pb.AuthUserDeleteRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_user_delete: req });
  }
  userGrantRole(req: pb.AuthUserGrantRoleRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_user_grant_role: req });
  }
  userRevokeRole(req: pb.AuthUserRevokeRoleRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_user_revoke_role: req });
  }
  roleAdd(req: pb.AuthRoleAddRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_role_add: req });
  }
  roleGet(req: pb.AuthRoleGetRequest): Promise<pb.AuthRoleGetResponse> {
    return this.call({ auth_role_get: req });
  }
  roleList(): Promise<pb.AuthRoleListResponse> {
    return this.call({ auth_role_list: {} });
  }
  roleDelete(req: pb.AuthRoleDeleteRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_role_delete: req });
  }
  roleGrantPermission(req: pb.AuthRoleGrantPermissionRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_role_grant_permission: req });
  }
  roleRevokePermission(req: pb.AuthRoleRevokePermissionRequest): Promise<pb.AuthHeaderOnlyResponse> {
    return this.call({ auth_role_revoke_permission: req });
  }
}

/**
 * A watch stream whose creates are checked first (etcd's isWatchPermitted): a refused create
 * throws, and the API layer answers it as etcd does (created and canceled, the reason).
 */
export class CheckedWatchStream implements WatchStream {
  constructor(
    private readonly inner: WatchStream,
    private readonly check: (req: pb.WatchCreateRequest) => void,
  ) {}

  create(req: pb.WatchCreateRequest): number {
    this.check(req);
    return this.inner.create(req);
  }
  cancel(watchId: number): boolean {
    return this.inner.cancel(watchId);
  }
  requestProgress(): void {
    this.inner.requestProgress();
  }
  requestWatcherProgress(watchId: number): void {
    this.inner.requestWatcherProgress(watchId);
  }
  onResponse(sink: (resp: pb.WatchResponse) => boolean): void {
    this.inner.onResponse(sink);
  }
  resume(): void {
    this.inner.resume();
  }
  close(): void {
    this.inner.close();
  }
}
