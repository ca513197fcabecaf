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
  type RestoredRecord,
} from './tree-index';
export { BTree, Cursor, compareBuffers, compareBinaryStrings, type Compare, type Visitor, type BTreeOptions } from './btree';
