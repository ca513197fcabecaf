/**
 * The WAL's and snapshotter's operating errors. Messages start with etcd's own wording
 * (`wal: crc mismatch`, `snap: no available snapshot`, ...) so operators who know etcd read
 * them the same; the rest of the message says which file and where.
 */
import { FloeError } from '../pkg';

/** A record's checksum, or a segment's chained checksum, does not match (not a torn tail). */
export const ERR_WAL_CRC_MISMATCH = 'ERR_WAL_CRC_MISMATCH';
/** No segment covers the requested snapshot index, or the segment sequence has a gap. */
export const ERR_WAL_FILE_NOT_FOUND = 'ERR_WAL_FILE_NOT_FOUND';
/** A `.wal` file whose name is not `%016x-%016x.wal`. */
export const ERR_WAL_BAD_NAME = 'ERR_WAL_BAD_NAME';
/** The snapshot record at the requested index has another term. */
export const ERR_WAL_SNAPSHOT_MISMATCH = 'ERR_WAL_SNAPSHOT_MISMATCH';
/** The WAL holds no snapshot record for the requested index. */
export const ERR_WAL_SNAPSHOT_NOT_FOUND = 'ERR_WAL_SNAPSHOT_NOT_FOUND';
/** An entry leaves a gap after the entries read so far. */
export const ERR_WAL_SLICE_OUT_OF_RANGE = 'ERR_WAL_SLICE_OUT_OF_RANGE';
/** A record at or above the 10 MiB limit etcd's reader accepts. */
export const ERR_WAL_MAX_ENTRY_SIZE = 'ERR_WAL_MAX_ENTRY_SIZE';
/** Two segments carry different metadata. */
export const ERR_WAL_METADATA_CONFLICT = 'ERR_WAL_METADATA_CONFLICT';
/** A record that is not valid protobuf, or of an unknown type, not at the tail. */
export const ERR_WAL_CORRUPT = 'ERR_WAL_CORRUPT';
/** A segment other than the last one ends in the middle of a record. */
export const ERR_WAL_UNEXPECTED_EOF = 'ERR_WAL_UNEXPECTED_EOF';
/** create() on a directory that already holds `.wal` files. */
export const ERR_WAL_EXISTS = 'ERR_WAL_EXISTS';
/** An operation on a closed WAL. */
export const ERR_WAL_CLOSED = 'ERR_WAL_CLOSED';
/** An earlier write or sync failed; what is on disk is unknown, so nothing more is written. */
export const ERR_WAL_FAILED = 'ERR_WAL_FAILED';

/** No readable `.snap` file (or none the WAL knows of). */
export const ERR_SNAP_NO_SNAPSHOT = 'ERR_SNAP_NO_SNAPSHOT';
/** A `.snap` file that is empty or holds no data. */
export const ERR_SNAP_EMPTY = 'ERR_SNAP_EMPTY';
/** A `.snap` file whose checksum does not match its data. */
export const ERR_SNAP_CRC_MISMATCH = 'ERR_SNAP_CRC_MISMATCH';
/** A `.snap` file that is not valid protobuf. */
export const ERR_SNAP_CORRUPT = 'ERR_SNAP_CORRUPT';
/** No `<index>.snap.db` for the requested index. */
export const ERR_SNAP_NO_DB = 'ERR_SNAP_NO_DB';

export function walError(code: string, message: string, cause?: unknown): FloeError {
  return new FloeError(code, message, cause === undefined ? undefined : { cause });
}
