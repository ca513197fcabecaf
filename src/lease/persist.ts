/**
 * The lessor's records in the backend: bucket `lease`, key = the id as 8 big-endian bytes,
 * value = leasepb.Lease (see lease-codec.ts), exactly etcd's layout, so files and snapshots
 * cross between etcd and Floe.
 */
import { assert } from '../pkg';
import { MAX_LEASE_TTL_SEC } from './config';
import { leaseBadRecord } from './errors';
import { type LeaseRecord, decodeLeaseRecord, encodeLeaseRecord } from './lease-codec';
import { LEASE_KEY_BYTES, NO_LEASE, leaseIdFromKey, leaseIdHex, leaseKey } from './lease-id';
import type { LeaseStore } from './types';

/** The backend bucket holding one leasepb.Lease per lease, keyed by the 8-byte id. */
export const LEASE_BUCKET = Buffer.from('lease');

/** Records read per backend range call during recovery (bounds the memory of one read). */
const RECOVERY_PAGE = 10_000;
/** A range end above every possible key: longer than bbolt's largest key (32768 bytes). */
const RECOVERY_END = Buffer.alloc(32_769, 0xff);

/** Writes (or overwrites) the record of one lease. */
export function writeLeaseRecord(store: LeaseStore, rec: LeaseRecord): void {
  store.put(LEASE_BUCKET, leaseKey(rec.id), encodeLeaseRecord(rec));
}

/** Deletes the record of lease `id`; a missing record is not an error. */
export function deleteLeaseRecord(store: LeaseStore, id: bigint): void {
  store.delete(LEASE_BUCKET, leaseKey(id));
}

/**
 * Creates the bucket when missing, then reads every record page by page (bounded reads), in
 * key order, handing each to `onRecord`. A record that cannot be read is ERR_LEASE_BAD_RECORD:
 * a key that is not 8 bytes, bytes that are not a leasepb.Lease, an ID that differs from the
 * key, lease 0, or a TTL above MAX_LEASE_TTL_SEC (no grant can produce one).
 */
export function loadLeaseRecords(store: LeaseStore, onRecord: (rec: LeaseRecord) => void): void {
  store.createBucket(LEASE_BUCKET);
  let start: Buffer = Buffer.alloc(0);
  for (;;) {
    const { keys, values } = store.range(LEASE_BUCKET, start, RECOVERY_END, RECOVERY_PAGE);
    assert(keys.length === values.length, 'store range returned unpaired keys and values');
    for (let i = 0; i < keys.length; i++) onRecord(checkRecord(keys[i]!, values[i]!));
    if (keys.length < RECOVERY_PAGE) return;
    start = Buffer.concat([keys[keys.length - 1]!, Buffer.from([0])]);
  }
}

function checkRecord(key: Buffer, value: Buffer): LeaseRecord {
  if (key.length !== LEASE_KEY_BYTES) {
    throw leaseBadRecord(`key ${key.toString('hex')} is ${key.length} bytes, want ${LEASE_KEY_BYTES}`);
  }
  const id = leaseIdFromKey(key);
  let rec: LeaseRecord;
  try {
    rec = decodeLeaseRecord(value);
  } catch (e) {
    throw leaseBadRecord(`lease ID=${leaseIdHex(id)}: cannot decode leasepb.Lease (${(e as Error).message})`, e);
  }
  if (rec.id !== id) throw leaseBadRecord(`lease ID=${leaseIdHex(id)}: record names lease ${leaseIdHex(rec.id)}`);
  if (id === NO_LEASE) throw leaseBadRecord('lease ID=0000000000000000: 0 means no lease');
  if (rec.ttlSec > MAX_LEASE_TTL_SEC || rec.remainingTtlSec > MAX_LEASE_TTL_SEC) {
    throw leaseBadRecord(`lease ID=${leaseIdHex(id)}: TTL ${rec.ttlSec}/${rec.remainingTtlSec} above ${MAX_LEASE_TTL_SEC}`);
  }
  return rec;
}
