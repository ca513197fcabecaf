/**
 * Lease ids are etcd's int64 `LeaseID`: any value in [-2^63, 2^63-1] except 0, which means "no
 * lease". Ids chosen by the server use 63 bits, so they routinely exceed 2^53; they are bigints
 * everywhere in this layer and are never converted to a number.
 */
import { assert } from '../pkg';

/** A lease id: a bigint in the int64 range. */
export type LeaseId = bigint;

/** The id meaning "no lease" (etcd's NoLease). */
export const NO_LEASE: LeaseId = 0n;

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;

/** Width of a lease-bucket key: the id as an 8-byte big-endian two's-complement integer. */
export const LEASE_KEY_BYTES = 8;

/** True when `v` is a bigint in the int64 range. */
export function isInt64(v: bigint): boolean {
  return v >= INT64_MIN && v <= INT64_MAX;
}

/** The lease bucket key of `id`: 8 bytes, big-endian, two's complement (etcd's int64ToBytes). */
export function leaseKey(id: LeaseId): Buffer {
  assert(isInt64(id), () => `lease id out of int64 range: ${id}`);
  const key = Buffer.allocUnsafe(LEASE_KEY_BYTES);
  key.writeBigInt64BE(id, 0);
  return key;
}

/** The id a lease-bucket key names; the caller checks the length first. */
export function leaseIdFromKey(key: Uint8Array): LeaseId {
  assert(key.length === LEASE_KEY_BYTES, () => `lease key must be ${LEASE_KEY_BYTES} bytes, not ${key.length}`);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigInt64BE(0);
}

/** The id as 16 hex digits of its 64-bit two's complement, as etcd logs and etcdctl print ids. */
export function leaseIdHex(id: LeaseId): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}
