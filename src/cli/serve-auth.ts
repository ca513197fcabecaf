/**
 * The auth side of `floe` serve: `--auth-token`, `--bcrypt-cost` and `--auth-token-ttl` as the
 * member's settings. Their checks are the member's (src/server auth-state.ts, src/auth): an
 * unknown token type or unreadable JWT keys stop start-up with etcd's reason; a bcrypt cost
 * outside 4..31 falls back to 10 with a warning, as etcd does.
 */
import type { MemberConfig } from '../server';
import type { FlagValue } from './etcd-flags';

/** The member settings the auth flags give. */
export type AuthSettings = Pick<MemberConfig, 'authToken' | 'bcryptCost' | 'authTokenTtlSec'>;

/** etcd's defaults (simple tokens, cost 10, 300 s). */
export const DEFAULT_AUTH_SETTINGS: AuthSettings = { authToken: 'simple', bcryptCost: 10, authTokenTtlSec: 300 };

/** Reads the three flags from the parsed command line. */
export function authSettings(values: ReadonlyMap<string, FlagValue>): AuthSettings {
  const token = values.get('auth-token');
  const cost = values.get('bcrypt-cost');
  const ttl = values.get('auth-token-ttl');
  // Past any valid cost (a uint64 may not fit a number): the member warns and uses 10.
  const costNum = typeof cost === 'bigint' ? (cost > 1000n ? 1000 : Number(cost)) : DEFAULT_AUTH_SETTINGS.bcryptCost;
  const ttlNum = typeof ttl === 'bigint' ? (ttl > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ttl)) : DEFAULT_AUTH_SETTINGS.authTokenTtlSec;
  return { authToken: typeof token === 'string' ? token : DEFAULT_AUTH_SETTINGS.authToken, bcryptCost: costNum, authTokenTtlSec: ttlNum };
}
