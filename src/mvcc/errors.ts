/**
 * The operating errors of the MVCC layer. Codes are the API layer's error-table codes where one
 * exists there (`ERR_COMPACTED`, `ERR_FUTURE_REV`, `ERR_KEY_NOT_FOUND`, `ERR_EMPTY_KEY`), so the
 * table maps them to etcd's gRPC status and `etcdserver: ...` text; messages are etcd's own
 * mvcc texts. Watch errors are not gRPC errors in etcd: their message becomes a watch
 * response's `cancel_reason`, so the message text is what clients see.
 */
import { FloeError } from '../pkg';

/** A read or compaction asked for a revision that compaction has removed. */
export const ERR_COMPACTED = 'ERR_COMPACTED';
/** A read or compaction asked for a revision after the current one. */
export const ERR_FUTURE_REV = 'ERR_FUTURE_REV';
/** A put with ignore_value or ignore_lease found no previous key-value pair. */
export const ERR_KEY_NOT_FOUND = 'ERR_KEY_NOT_FOUND';
/** A write named the empty key. */
export const ERR_EMPTY_KEY = 'ERR_EMPTY_KEY';
/** The store was closed. */
export const ERR_MVCC_CLOSED = 'ERR_MVCC_CLOSED';
/** Cancel or progress named a watch id the stream does not hold. */
export const ERR_WATCHER_NOT_EXIST = 'ERR_WATCHER_NOT_EXIST';
/** A watch range whose end is not after its start. */
export const ERR_EMPTY_WATCHER_RANGE = 'ERR_EMPTY_WATCHER_RANGE';
/** A client-chosen watch id already used on the stream. */
export const ERR_WATCHER_DUPLICATE_ID = 'ERR_WATCHER_DUPLICATE_ID';

const MESSAGES: Readonly<Record<string, string>> = {
  [ERR_COMPACTED]: 'mvcc: required revision has been compacted',
  [ERR_FUTURE_REV]: 'mvcc: required revision is a future revision',
  [ERR_KEY_NOT_FOUND]: 'etcdserver: key not found',
  [ERR_EMPTY_KEY]: 'etcdserver: key is not provided',
  [ERR_MVCC_CLOSED]: 'mvcc: closed',
  [ERR_WATCHER_NOT_EXIST]: 'mvcc: watcher does not exist',
  [ERR_EMPTY_WATCHER_RANGE]: 'mvcc: watcher range is empty',
  [ERR_WATCHER_DUPLICATE_ID]: 'mvcc: duplicate watch ID provided on the WatchStream',
};

/** A FloeError with one of the codes above and etcd's message for it. */
export function mvccError(code: string): FloeError {
  const message = MESSAGES[code];
  if (message === undefined) throw new FloeError('ERR_UNKNOWN_MVCC_ERROR', `no mvcc error ${code}`);
  return new FloeError(code, message);
}
