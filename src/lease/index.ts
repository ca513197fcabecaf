/**
 * The lease layer's public face: the lessor (leases, attached keys, expiry from a min-heap,
 * checkpoints, persistence in the backend's `lease` bucket), lease ids, the leasepb.Lease codec
 * and the layer's error codes. See README.md.
 */
export { Lessor } from './lessor';
export {
  MAX_LEASE_TTL_SEC,
  LEASE_REVOKE_RATE_PER_SEC,
  DEFAULT_EXPIRED_BATCH,
  DEFAULT_CHECKPOINT_BATCH,
  DEFAULT_EXPIRED_RETRY_MS,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_MIN_LEASE_TTL_SEC,
  FOREVER_TTL_SEC,
  minLeaseTtlSec,
  type LessorOptions,
  type LessorConfig,
} from './config';
export type {
  LeaseClock,
  LeaseStore,
  LeaseKeyDeleter,
  LeaseKeyTracker,
  LessorDeps,
  LeaseInfo,
  LeaseTimeToLive,
  LeaseCheckpoint,
  LessorStats,
} from './types';
export { LEASE_BUCKET } from './persist';
export { type LeaseId, NO_LEASE, INT64_MIN, INT64_MAX, leaseKey, leaseIdFromKey, leaseIdHex } from './lease-id';
export { LeaseIdGenerator } from './id-generator';
export { encodeLeaseRecord, decodeLeaseRecord, type LeaseRecord } from './lease-codec';
export {
  ERR_LEASE_NOT_FOUND,
  ERR_LEASE_EXIST,
  ERR_LEASE_TTL_TOO_LARGE,
  ERR_LEASE_NOT_PRIMARY,
  ERR_LEASE_EXPIRED,
  ERR_LEASE_BAD_RECORD,
} from './errors';
