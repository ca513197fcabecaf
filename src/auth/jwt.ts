/**
 * etcd's JWT tokens (`--auth-token jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m]`)
 * with node:crypto only. A token is `header.claims.signature` (base64url, no padding); the
 * header is {"alg":...,"typ":"JWT"}, the claims etcd's: {"exp":unix seconds,"revision":auth
 * revision,"username":name} (keys in Go's sorted map order). Methods: RS256/384/512 (RSA
 * PKCS#1 v1.5), PS256/384/512 (RSA-PSS, salt as long as the hash), ES256/384/512 (ECDSA, r||s),
 * HS256/384/512 (HMAC with the priv-key file's bytes as the secret). With only a public key the
 * member verifies tokens but cannot issue them (etcd's verify-only mode).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { FloeError } from '../pkg';
import type { AuthInfo, TokenProvider } from './tokens';

/** etcd's DefaultTTL for JWT tokens. */
export const DEFAULT_JWT_TTL_MS = 5 * 60 * 1000;

type Family = 'RS' | 'PS' | 'ES' | 'HS';

/** Parsed JWT settings. */
export interface JwtOptions {
  readonly alg: string;
  readonly family: Family;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly ttlMs: number;
  /** Signing key (null: verify-only). */
  readonly signKey: crypto.KeyObject | null;
  readonly verifyKey: crypto.KeyObject;
}

const KNOWN = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);

function badOpts(reason: string): FloeError {
  return new FloeError('ERR_BAD_CONFIG', reason);
}

/** Go's time.ParseDuration for the units a TTL uses (h, m, s, ms); throws on anything else. */
export function parseGoDurationMs(s: string): number {
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)/y;
  let total = 0;
  let i = 0;
  if (s.length === 0) throw badOpts(`time: invalid duration "${s}"`);
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (m === null) throw badOpts(`time: invalid duration "${s}"`);
    const n = Number(m[1]);
    total += n * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h' | 'm' | 's' | 'ms'];
    i = re.lastIndex;
  }
  return total;
}

/** Reads the JWT options of --auth-token (everything after `jwt,`). */
export function parseJwtOptions(params: ReadonlyMap<string, string>): JwtOptions {
  for (const k of params.keys()) if (!KNOWN.has(k)) process.emitWarning(`auth: unknown JWT option ${k}`);
  const ttlText = params.get('ttl') ?? '';
  const ttlMs = ttlText === '' ? DEFAULT_JWT_TTL_MS : parseGoDurationMs(ttlText);
  const alg = params.get('sign-method') ?? '';
  const m = /^(RS|PS|ES|HS)(256|384|512)$/.exec(alg);
  if (m === null) throw badOpts('auth: invalid auth signature method');
  const family = m[1] as Family;
  const hash = `sha${m[2]}` as JwtOptions['hash'];
  const read = (k: string): Buffer | null => {
    const p = params.get(k);
    if (p === undefined || p === '') return null;
    try {
      return fs.readFileSync(p);
    } catch (e) {
      throw badOpts(`open ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  };
  const priv = read('priv-key');
  const pub = read('pub-key');
  if (family === 'HS') {
    if (priv === null) throw badOpts('auth: missing key data');
    const k = crypto.createSecretKey(priv);
    return { alg, family, hash, ttlMs, signKey: k, verifyKey: k };
  }
  let signKey: crypto.KeyObject | null = null;
  let verifyKey: crypto.KeyObject | null = null;
  try {
    if (priv !== null) signKey = crypto.createPrivateKey(priv);
    if (pub !== null) verifyKey = crypto.createPublicKey(pub);
  } catch (e) {
    throw badOpts(`auth: invalid key: ${(e as Error).message}`);
  }
  const wantType = family === 'ES' ? 'ec' : 'rsa';
  for (const k of [signKey, verifyKey]) {
    if (k !== null && k.asymmetricKeyType !== wantType && !(family === 'PS' && k.asymmetricKeyType === 'rsa-pss')) {
      throw badOpts(`auth: key type ${k.asymmetricKeyType ?? '?'} does not fit ${alg}`);
    }
  }
  if (signKey === null && verifyKey === null) throw badOpts('auth: missing key data');
  const derived = signKey !== null ? crypto.createPublicKey(signKey) : null;
  if (derived !== null && verifyKey !== null) {
    const a = derived.export({ format: 'der', type: 'spki' });
    const b = verifyKey.export({ format: 'der', type: 'spki' });
    if (!a.equals(b)) throw badOpts("auth: public and private keys don't match");
  }
  return { alg, family, hash, ttlMs, signKey, verifyKey: verifyKey ?? (derived as crypto.KeyObject) };
}

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Signs and verifies etcd's JWT tokens. */
export class JwtTokens implements TokenProvider {
  readonly kind = 'jwt';
  constructor(
    readonly opts: JwtOptions,
    private readonly nowMs: () => number = Date.now,
  ) {}

  enable(): void {}
  disable(): void {}
  close(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }
  indexOf(): number {
    return 0;
  }

  private signature(input: string): Buffer {
    const o = this.opts;
    const key = o.signKey;
    if (key === null) throw new FloeError('ERR_AUTH_VERIFY_ONLY', 'auth: token signing attempted with verify-only key');
    switch (o.family) {
      case 'HS':
        return crypto.createHmac(o.hash, key).update(input).digest();
      case 'RS':
        return crypto.sign(o.hash, Buffer.from(input), key);
      case 'PS':
        return crypto.sign(o.hash, Buffer.from(input), { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: hashBytes(o.hash) });
      case 'ES':
        return crypto.sign(o.hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    }
  }

  private verify(input: string, sig: Buffer): boolean {
    const o = this.opts;
    const key = o.verifyKey;
    try {
      switch (o.family) {
        case 'HS': {
          const want = crypto.createHmac(o.hash, key).update(input).digest();
          return want.length === sig.length && crypto.timingSafeEqual(want, sig);
        }
        case 'RS':
          return crypto.verify(o.hash, Buffer.from(input), key, sig);
        case 'PS':
          return crypto.verify(o.hash, Buffer.from(input), { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO }, sig);
        case 'ES':
          return crypto.verify(o.hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, sig);
      }
    } catch {
      return false;
    }
  }

  assign(username: string, revision: number): string {
    const exp = Math.floor((this.nowMs() + this.opts.ttlMs) / 1000);
    const header = b64u(JSON.stringify({ alg: this.opts.alg, typ: 'JWT' }));
    const claims = b64u(JSON.stringify({ exp, revision, username }));
    const input = `${header}.${claims}`;
    return `${input}.${b64u(this.signature(input))}`;
  }

  info(token: string): AuthInfo | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, c, s] = parts as [string, string, string];
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    // The algorithm is the configured one, never the token's choice ("none", HS with a public key).
    if (typeof header !== 'object' || header === null || (header as { alg?: unknown }).alg !== this.opts.alg) return null;
    if (!this.verify(`${h}.${c}`, Buffer.from(s, 'base64url'))) return null;
    if (typeof claims !== 'object' || claims === null) return null;
    const { exp, revision, username } = claims as { exp?: unknown; revision?: unknown; username?: unknown };
    if (exp !== undefined && (typeof exp !== 'number' || Math.floor(this.nowMs() / 1000) > exp)) return null;
    if (typeof username !== 'string' || typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return null;
    return { username, revision };
  }
}

function hashBytes(h: JwtOptions['hash']): number {
  return h === 'sha256' ? 32 : h === 'sha384' ? 48 : 64;
}
