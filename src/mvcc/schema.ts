/**
 * etcd's backend schema: the bucket names and the `meta` keys, byte for byte, so a backend file
 * moves between etcd 3.4 and Floe in both directions.
 *
 *   key              revision (17 bytes, 18 for a tombstone; see revision.ts) -> mvccpb.KeyValue
 *   meta             consistent_index    -> 8-byte big-endian uint64: last applied raft index
 *                    scheduledCompactRev -> 17-byte revision key (main, 0): compaction requested
 *                    finishedCompactRev  -> 17-byte revision key (main, 0): compaction completed
 *   lease            8-byte big-endian lease id -> leasepb.Lease
 *   alarm, auth, authUsers, authRoles, members, members_removed, cluster: other layers'.
 */
import { FloeError } from '../pkg';
import { decodeRevision, encodeRevision } from './revision';

const bucket = (name: string): Buffer => Buffer.from(name, 'latin1');

/** Revisions and their KeyValue records. */
export const KEY_BUCKET = bucket('key');
/** Consistent index and compaction state. */
export const META_BUCKET = bucket('meta');
/** Leases (leasepb.Lease by 8-byte big-endian id). */
export const LEASE_BUCKET = bucket('lease');
/** Raised alarms. */
export const ALARM_BUCKET = bucket('alarm');
/** Auth state: `enabled`, `authRevision`. */
export const AUTH_BUCKET = bucket('auth');
/** Auth users. */
export const AUTH_USERS_BUCKET = bucket('authUsers');
/** Auth roles. */
export const AUTH_ROLES_BUCKET = bucket('authRoles');
/** Cluster members. */
export const MEMBERS_BUCKET = bucket('members');
/** Removed cluster members. */
export const MEMBERS_REMOVED_BUCKET = bucket('members_removed');
/** Cluster-wide values (`clusterVersion`). */
export const CLUSTER_BUCKET = bucket('cluster');

/** meta key of the last applied raft index. */
export const CONSISTENT_INDEX_KEY = bucket('consistent_index');
/** meta key of the compaction revision requested (written and synced before compaction runs). */
export const SCHEDULED_COMPACT_KEY = bucket('scheduledCompactRev');
/** meta key of the compaction revision completed (written with the last compaction batch). */
export const FINISHED_COMPACT_KEY = bucket('finishedCompactRev');

/** Bytes of the encoded consistent index. */
export const CONSISTENT_INDEX_BYTES = 8;

/** Error code for a meta value that is not what etcd's schema says. */
export const ERR_BAD_META = 'ERR_BAD_META';

/** Encodes the consistent index: 8-byte big-endian unsigned (a safe integer, asserted by the caller). */
export function encodeConsistentIndex(index: number): Buffer {
  if (!Number.isSafeInteger(index) || index < 0) throw new FloeError(ERR_BAD_META, `consistent index ${index} is not a non-negative safe integer`);
  const buf = Buffer.allocUnsafe(CONSISTENT_INDEX_BYTES);
  buf.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 0);
  buf.writeUInt32BE(index % 0x1_0000_0000, 4);
  return buf;
}

/** Decodes the consistent index; throws ERR_BAD_META on a wrong length or a value >= 2^53. */
export function decodeConsistentIndex(buf: Uint8Array): number {
  if (buf.length !== CONSISTENT_INDEX_BYTES) throw new FloeError(ERR_BAD_META, `consistent_index is ${buf.length} bytes, want ${CONSISTENT_INDEX_BYTES}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const high = b.readUInt32BE(0);
  if (high >= 0x20_0000) throw new FloeError(ERR_BAD_META, 'consistent_index does not fit below 2^53');
  return high * 0x1_0000_0000 + b.readUInt32BE(4);
}

/** Encodes a compaction revision as etcd does: the 17-byte key of revision (main, 0). */
export function encodeCompactRevision(main: number): Buffer {
  return encodeRevision({ main, sub: 0 });
}

/** Decodes a scheduled or finished compaction revision: its main part. */
export function decodeCompactRevision(buf: Uint8Array): number {
  return decodeRevision(buf.subarray(0, Math.min(buf.length, 17))).rev.main;
}
