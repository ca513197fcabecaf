/**
 * A committed snapshot handed to another thread: the reader there opens the same file through
 * its own descriptor and reads the pages of the snapshot's meta, without the db.
 *
 *   const tx = db.beginRead();                 // pins the snapshot's pages: none is reused
 *   const handle = exportSnapshot(tx);         // structured-cloneable; owns a new descriptor
 *   worker.postMessage(handle) ...             // there: const snap = openSnapshot(handle, bytes)
 *   ...                                        //        ...reads...; snap.rollback()
 *   closeSnapshotHandle(handle);               // only once the other thread is done
 *   tx.rollback();
 *
 * Why it is safe: a committed transaction's pages are in the file before its meta becomes the
 * db's (tx.ts commits write them first, synchronously or awaited), the other thread reads
 * them with pread, and no later commit writes a page an open read transaction can see. The
 * handle's descriptor is opened anew from the exporter's (Linux /proc/self/fd), so it keeps
 * the file alive whatever the db does meanwhile (a defragment replacing the file, a close).
 * The exporting side closes it (closeSnapshotHandle), not the reader: it knows when the reader
 * is done or gone, and Node warns when a worker closes a descriptor it did not open. The
 * exporter's read transaction must stay open until then: once it ends, a commit may reuse a
 * page the reader is about to read.
 */
import * as fs from 'node:fs';
import { backendError } from './errors';
import { copyMeta, type Meta } from './meta';
import { PageFile } from './page-file';
import type { RunBuffers } from './run-buffers';
import { ReadTx, type TxHost } from './tx';

/** What a reader in another thread needs to read one committed snapshot. */
export interface SnapshotHandle {
  /** A descriptor of the file opened for this handle alone; closeSnapshotHandle() closes it. */
  readonly fd: number;
  readonly pageSize: number;
  /** The file's size when exported (every page of the snapshot lies below it). */
  readonly sizeBytes: number;
  readonly meta: Meta;
}

/** A handle on `tx`'s snapshot; throws when the platform cannot reopen a descriptor. */
export function exportSnapshot(tx: ReadTx): SnapshotHandle {
  tx.ensureOpen();
  const fd = fs.openSync(`/proc/self/fd/${tx.file.fd}`, 'r');
  return { fd, pageSize: tx.pageSize, sizeBytes: tx.file.sizeBytes, meta: copyMeta(tx.meta) };
}

/** Closes the descriptor of `handle` (exportSnapshot's), once no reader of it is left. */
export function closeSnapshotHandle(handle: SnapshotHandle): void {
  fs.closeSync(handle.fd);
}

/**
 * A read transaction over the snapshot of `handle`, with a page cache of `cacheBytes` of its
 * own, reading `readAheadPages` pages per miss (page-file.ts). rollback() ends it and leaves
 * the handle's descriptor open (closeSnapshotHandle).
 */
export function openSnapshot(handle: SnapshotHandle, cacheBytes: number, readAheadPages = 1, runs: RunBuffers | null = null): ReadTx {
  const file = new PageFile(handle.fd, handle.pageSize, cacheBytes, handle.sizeBytes, readAheadPages, runs);
  try {
    return new ReadTx(new SnapshotHost(file), file, copyMeta(handle.meta));
  } catch (e) {
    file.close(true);
    throw e;
  }
}

/** The host of an exported snapshot's reader: it can only end the reader. */
class SnapshotHost implements TxHost {
  readonly noSync = true;
  readonly fillPercent = 0;
  readonly freelistSpan = 0;
  readonly committedFreeIds = [];
  readonly pendingDurable = 0;

  constructor(private readonly file: PageFile) {}

  endRead(): void {
    this.file.close(true);
  }

  writeFreelist(): never {
    throw backendError('ERR_DB_READ_ONLY');
  }

  endWrite(): never {
    throw backendError('ERR_DB_READ_ONLY');
  }

  fail(): never {
    throw backendError('ERR_DB_READ_ONLY');
  }

  makeDurable(): never {
    throw backendError('ERR_DB_READ_ONLY');
  }
}
