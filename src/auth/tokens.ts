/**
 * Auth tokens (etcd's --auth-token): what Authenticate hands out and every later call
 * presents. Two kinds, as etcd 3.4:
 * - `simple`: 16 random letters, a dot, and the raft index of the Authenticate entry. The
 *   token is assigned when that entry applies, on every member, so any member knows it once it
 *   applied that index. It lives --auth-token-ttl seconds (default 300) after its last use;
 *   disabling auth, deleting the user or changing its password drops it.
 * - `jwt,...`: a signed JWT (jwt.ts) carrying the user name and the auth revision.
 */
import { randomInt } from 'node:crypto';
import { FloeError } from '../pkg';
import { parseJwtOptions, JwtTokens } from './jwt';

/** Who a request runs as: a user and the auth revision its credentials were checked at. */
export interface AuthInfo {
  readonly username: string;
  readonly revision: number;
}

/** A token kind (etcd's TokenProvider). */
export interface TokenProvider {
  readonly kind: 'simple' | 'jwt';
  enable(): void;
  disable(): void;
  invalidateUser(username: string): void;
  /** The random part proposed with Authenticate ('' for JWT: nothing to agree on). */
  genTokenPrefix(): string;
  /** The token for `username`, made when the Authenticate entry at `index` applies. */
  assign(username: string, revision: number, prefix: string, index: number): string;
  /** Who `token` names, or null when it is malformed, unknown, expired or forged. */
  info(token: string, currentRevision: number): AuthInfo | null;
  /** The raft index a member must have applied before it can know `token` (0: none). */
  indexOf(token: string): number;
  /** Stops timers. */
  close(): void;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** etcd's defaultSimpleTokenLength. */
export const SIMPLE_TOKEN_LENGTH = 16;
/** etcd's simpleTokenTTLDefault. */
export const DEFAULT_TOKEN_TTL_SEC = 300;
/** How often expired simple tokens are dropped (etcd's simpleTokenTTLResolution). */
const SWEEP_PERIOD_MS = 1000;

/** The clock simple tokens expire by (milliseconds, monotonic). */
export type NowMs = () => number;

/** etcd's simple tokens (see the file comment). */
export class SimpleTokens implements TokenProvider {
  readonly kind = 'simple';
  /** token -> user and expiry; null while auth is disabled. */
  private tokens: Map<string, { username: string; expiresAtMs: number }> | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly ttlMs: number,
    private readonly nowMs: NowMs = () => performance.now(),
  ) {
    if (!(ttlMs > 0)) throw new FloeError('ERR_BAD_CONFIG', `auth token TTL must be positive, got ${ttlMs} ms`);
  }

  enable(): void {
    if (this.tokens !== null) return;
    this.tokens = new Map();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_PERIOD_MS);
    this.sweeper.unref();
  }

  disable(): void {
    this.tokens = null;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  close(): void {
    this.disable();
  }

  /** Drops expired tokens (also done lazily on lookup). */
  sweep(): void {
    if (this.tokens === null) return;
    const now = this.nowMs();
    for (const [t, v] of this.tokens) if (v.expiresAtMs < now) this.tokens.delete(t);
  }

  invalidateUser(username: string): void {
    if (this.tokens === null) return;
    for (const [t, v] of this.tokens) if (v.username === username) this.tokens.delete(t);
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  assign(username: string, _revision: number, prefix: string, index: number): string {
    const token = `${prefix}.${index}`;
    // Disabled meanwhile (etcd assigns nothing then either); the token is simply unknown.
    if (this.tokens === null) return token;
    // A prefix is random and an index applies once: a repeat means the log was applied twice.
    if (this.tokens.has(token)) throw new FloeError('ERR_TOKEN_REUSED', `auth: simple token ${prefix.slice(0, 4)}….${index} assigned twice`);
    this.tokens.set(token, { username, expiresAtMs: this.nowMs() + this.ttlMs });
    return token;
  }

  info(token: string, currentRevision: number): AuthInfo | null {
    if (this.tokens === null || this.indexOf(token) === 0) return null;
    const v = this.tokens.get(token);
    if (v === undefined) return null;
    const now = this.nowMs();
    if (v.expiresAtMs < now) {
      this.tokens.delete(token);
      return null;
    }
    // Each use extends the token's life (etcd's resetSimpleToken).
    v.expiresAtMs = now + this.ttlMs;
    // A simple token names no revision: it is checked at the store's current one.
    return { username: v.username, revision: currentRevision };
  }

  indexOf(token: string): number {
    const parts = token.split('.');
    if (parts.length !== 2 || !/^[0-9]{1,15}$/.test(parts[1] as string)) return 0;
    return Number(parts[1]);
  }
}

/** The settings of `--auth-token` and `--auth-token-ttl`. */
export interface TokenOptions {
  /** etcd's --auth-token value: `simple` or `jwt,pub-key=...,priv-key=...,sign-method=...[,ttl=...]`. */
  readonly authToken: string;
  /** --auth-token-ttl in seconds (simple tokens only). */
  readonly ttlSec: number;
}

/**
 * The token provider `--auth-token` names. Throws ERR_BAD_CONFIG with etcd's reason for an
 * unknown type, a malformed option list, or JWT keys that cannot be read.
 */
export function newTokenProvider(opts: TokenOptions, nowMs?: NowMs): TokenProvider {
  const parts = opts.authToken.split(',');
  const type = parts[0] as string;
  const params = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const kv = p.split('=');
    if (kv.length !== 2 || params.has(kv[0] as string)) throw new FloeError('ERR_BAD_CONFIG', 'auth: invalid auth options');
    params.set(kv[0] as string, kv[1] as string);
  }
  switch (type) {
    case 'simple':
      return new SimpleTokens((opts.ttlSec > 0 ? opts.ttlSec : DEFAULT_TOKEN_TTL_SEC) * 1000, nowMs);
    case 'jwt':
      return new JwtTokens(parseJwtOptions(params));
    default:
      throw new FloeError('ERR_BAD_CONFIG', 'auth: invalid auth options');
  }
}
