/**
 * The storage engine's public face: a copy-on-write B+tree in bbolt's on-disk format (version
 * 2). See README.md for the API, the commit order and the failpoints.
 */
export { DB, compact, type OpenOptions, DEFAULT_PAGE_CACHE_BYTES, DEFAULT_PAGE_SIZE, DEFAULT_FILL_PERCENT, DEFRAG_SUFFIX } from './db';
export { ReadTx, WriteTx } from './tx';
export { closeSnapshotHandle, exportSnapshot, openSnapshot, type SnapshotHandle } from './snapshot';
export { RunBuffers } from './run-buffers';
export { Bucket } from './bucket';
export { Cursor, type Entry, type RawVisitor } from './cursor';
export { BatchTx, type BatchTxOptions, type RangeResult } from './batch-tx';
export type { DbStats } from './stats';
export type { FreelistKind } from './freelist';
export { MAX_KEY_SIZE_BYTES, MAX_VALUE_SIZE_BYTES } from './page';
