/**
 * MVCC: revisions, the in-memory key index and (to come) the kv store, transactions,
 * compaction and the watchable store. This file is the layer's one public face.
 */
export {
  type Revision,
  type DecodedRevisionKey,
  revision,
  compareRevisions,
  revisionGreaterThan,
  formatRevision,
  isRevisionPart,
  encodeRevision,
  encodeRevisionInto,
  decodeRevision,
  isTombstoneKey,
  RevisionSet,
  RevisionList,
  REVISION_BYTES,
  TOMBSTONE_REVISION_BYTES,
  REVISION_SEPARATOR,
  TOMBSTONE_MARK,
  MAX_REVISION_PART,
  ERR_BAD_REVISION_KEY,
} from './revision';
export { KeyIndex, revisionNotFound, ERR_REVISION_NOT_FOUND, type KeyAtRevision, type GenerationView } from './key-index';
export {
  TreeIndex,
  COMPACTION_BATCH_KEYS,
  type RangeEnd,
  type RangeResult,
  type RevisionsResult,
  type RevisionsSlice,
  type RestoredRecord,
} from './tree-index';
export { BTree, Cursor, compareBuffers, compareBinaryStrings, type Compare, type Visitor, type BTreeOptions } from './btree';

// ---- the store (kv-codec, schema, kv-store, kv-txn, hash, watch) ----
export {
  type KeyValue,
  type Event,
  type LeaseId,
  type EncodedKeyValue,
  EventType,
  NO_LEASE,
  keyValue,
  encodeKeyValue,
  encodeKeyValueParts,
  decodeKeyValue,
  encodeEvent,
  decodeEvent,
} from './kv-codec';
export {
  KEY_BUCKET,
  META_BUCKET,
  LEASE_BUCKET,
  ALARM_BUCKET,
  AUTH_BUCKET,
  AUTH_USERS_BUCKET,
  AUTH_ROLES_BUCKET,
  MEMBERS_BUCKET,
  MEMBERS_REMOVED_BUCKET,
  CLUSTER_BUCKET,
  CONSISTENT_INDEX_KEY,
  SCHEDULED_COMPACT_KEY,
  FINISHED_COMPACT_KEY,
  CONSISTENT_INDEX_BYTES,
  ERR_BAD_META,
  encodeConsistentIndex,
  decodeConsistentIndex,
  encodeCompactRevision,
  decodeCompactRevision,
} from './schema';
export {
  ERR_COMPACTED,
  ERR_FUTURE_REV,
  ERR_KEY_NOT_FOUND,
  ERR_EMPTY_KEY,
  ERR_MVCC_CLOSED,
  ERR_WATCHER_NOT_EXIST,
  ERR_EMPTY_WATCHER_RANGE,
  ERR_WATCHER_DUPLICATE_ID,
  mvccError,
} from './errors';
export {
  rangeEndFromRequest,
  type RangeOptions,
  type KvRangeResult,
  type PutOptions,
  type PutResult,
  type DeleteRangeOptions,
  type DeleteRangeResult,
  type ReadView,
  type TxnRead,
  type TxnWrite,
  type LeaseAttacher,
} from './kv-txn';
export { RangeReader, type RangeReaderOptions } from './range-reader';
export { fetchWindow, SnapshotRecords, SWEEP_READ_AHEAD_PAGES, type FetchedWindow } from './record-snapshot';
export { KvStore, type KvStoreOptions, DEFAULT_COMPACTION_BATCH_KEYS, DEFAULT_HASH_BATCH_RECORDS } from './kv-store';
export type { HashKVResult, HashResult } from './hash';
export {
  WatchableStore,
  type WatchableStoreOptions,
  type WatcherCounts,
  type DetachedStreams,
  DEFAULT_MAX_WATCHERS_PER_SYNC,
  DEFAULT_CATCH_UP_BATCH_RECORDS,
} from './watchable-store';
export { WatchStream, type WatchStreamOptions, DEFAULT_MAX_QUEUED_RESPONSES } from './watch-stream';
export { PROGRESS_ALL_WATCH_ID, type WatchOptions, type WatchResponse } from './watcher';
