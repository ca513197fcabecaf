/**
 * The lease layer's operating errors. Each is a FloeError whose `code` is stable; the API
 * layer's one error table (src/api/errors.ts) maps the first three to etcd's gRPC status and
 * exact message, and the messages here are those same strings so logs read the same.
 *
 * | code                     | etcd error (lease package)  | wire message                              |
 * |--------------------------|-----------------------------|-------------------------------------------|
 * | ERR_LEASE_NOT_FOUND      | ErrLeaseNotFound            | etcdserver: requested lease not found     |
 * | ERR_LEASE_EXIST          | ErrLeaseExists              | etcdserver: lease already exists          |
 * | ERR_LEASE_TTL_TOO_LARGE  | ErrLeaseTTLTooLarge         | etcdserver: too large lease TTL           |
 * | ERR_LEASE_NOT_PRIMARY    | ErrNotPrimary               | (never sent: the server forwards the      |
 * |                          |                             |  renew to the leader, or answers with     |
 * |                          |                             |  its own not-leader error)                |
 * | ERR_LEASE_EXPIRED        | (etcd blocks instead)       | (never sent: the server waits for the     |
 * |                          |                             |  pending revoke, then reports not found)  |
 * | ERR_LEASE_BAD_RECORD     | (etcd panics)               | (start-up error: the backend's lease      |
 * |                          |                             |  bucket holds a record we cannot read)    |
 */
import { FloeError } from '../pkg';

export const ERR_LEASE_NOT_FOUND = 'ERR_LEASE_NOT_FOUND';
export const ERR_LEASE_EXIST = 'ERR_LEASE_EXIST';
export const ERR_LEASE_TTL_TOO_LARGE = 'ERR_LEASE_TTL_TOO_LARGE';
export const ERR_LEASE_NOT_PRIMARY = 'ERR_LEASE_NOT_PRIMARY';
export const ERR_LEASE_EXPIRED = 'ERR_LEASE_EXPIRED';
export const ERR_LEASE_BAD_RECORD = 'ERR_LEASE_BAD_RECORD';

export function leaseNotFound(): FloeError {
  return new FloeError(ERR_LEASE_NOT_FOUND, 'etcdserver: requested lease not found');
}

export function leaseExists(): FloeError {
  return new FloeError(ERR_LEASE_EXIST, 'etcdserver: lease already exists');
}

export function leaseTtlTooLarge(): FloeError {
  return new FloeError(ERR_LEASE_TTL_TOO_LARGE, 'etcdserver: too large lease TTL');
}

export function leaseNotPrimary(): FloeError {
  return new FloeError(ERR_LEASE_NOT_PRIMARY, 'not a primary lessor');
}

export function leaseExpired(): FloeError {
  return new FloeError(ERR_LEASE_EXPIRED, 'lease expired; its revocation is pending');
}

export function leaseBadRecord(detail: string, cause?: unknown): FloeError {
  return new FloeError(ERR_LEASE_BAD_RECORD, `bad record in the lease bucket: ${detail}`, { cause });
}
