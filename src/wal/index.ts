/**
 * src/wal: the write-ahead log and the raft snapshot files, in etcd 3.4's on-disk format
 * (design.md §2, §3). A data dir made by etcd or `etcdctl snapshot restore` opens here, and
 * one made here opens in etcd's tools.
 */
export { WAL, SEGMENT_SIZE_BYTES, MIN_SEGMENT_SIZE_BYTES } from './wal';
export type { WalOptions, WalContents, WalMetrics } from './wal';
export { silentWalLogger } from './logger';
export type { WalLogger } from './logger';
export { Snapshotter, snapName, encodeSnapFile, decodeSnapFile, SNAP_SUFFIX, SNAP_DB_SUFFIX, BROKEN_SUFFIX } from './snapshotter';
export type { SnapshotterOptions } from './snapshotter';
export { memberLayout, BACKEND_FILE_NAME } from './layout';
export type { MemberLayout } from './layout';
export { walName, parseWalName, WAL_SUFFIX } from './names';
export type { SegmentName } from './names';
export {
  encodeEntry,
  decodeEntry,
  encodeHardState,
  decodeHardState,
  encodeConfState,
  decodeConfState,
  encodeSnapshot,
  decodeSnapshot,
  encodeWalSnapshot,
  decodeWalSnapshot,
  encodeMemberMetadata,
  decodeMemberMetadata,
} from './raftpb-codec';
export type { WalSnapshot, MemberMetadata } from './raftpb-codec';
export * from './errors';
