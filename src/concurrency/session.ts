/**
 * The lease a lock or election call acts for (etcd's concurrency.Session as its v3lock and
 * v3election servers use it): the request's lease, renewed once; lease 0 means a new lease of
 * DEFAULT_SESSION_TTL_SECONDS that nobody keeps alive, so what it holds ends by itself.
 */
import type { LeaseServer } from '../server';

/** etcd's defaultSessionTTL. */
export const DEFAULT_SESSION_TTL_SECONDS = 60;

/** The lease id to attach keys to (see the file comment). */
export async function sessionLease(api: LeaseServer, lease: string): Promise<bigint> {
  const id = BigInt(lease);
  if (id === 0n) {
    const granted = await api.leaseGrant({ TTL: String(DEFAULT_SESSION_TTL_SECONDS), ID: '0' });
    return BigInt(granted.ID ?? 0);
  }
  // etcd's session sends one keep-alive before it is orphaned; a missing lease is reported by
  // the write that names it, not here.
  await api.leaseKeepAlive({ ID: lease });
  return id;
}
