/**
 * A consistent copy of the database as one read transaction sees it, produced in chunks
 * (bbolt's Tx.WriteTo, which etcd's Snapshot RPC streams): two meta pages built from the
 * transaction's meta (the second with the txid one lower, so the copy opens on the first),
 * then every page from 2 up to the transaction's high-water mark, read straight from the file.
 *
 * Why it is consistent while writers go on: the read transaction pins its meta, and pages a
 * later write frees are not reused while a reader that can see them is open. The transaction
 * stays open until the iteration ends (or the consumer stops it).
 */
import type { DB } from './db';
import { encodeMetaPage } from './meta';

/** Default chunk size: etcd's snapshot sends 32 KiB messages. */
export const WRITE_TO_CHUNK_BYTES = 32 * 1024;

/** A snapshot of `db` as a byte stream; `sizeBytes` is its exact length. */
export interface DbCopy {
  readonly sizeBytes: number;
  chunks(): AsyncGenerator<Buffer>;
  /** Ends the read transaction without reading (when the stream is abandoned before start). */
  release(): void;
}

/** Begins a read transaction on `db` and returns its copy as chunks of at most `chunkBytes`. */
export function copyDb(db: DB, chunkBytes = WRITE_TO_CHUNK_BYTES): DbCopy {
  const tx = db.beginRead();
  const pageSize = tx.pageSize;
  const sizeBytes = tx.size;
  let started = false;
  return {
    sizeBytes,
    release: () => {
      if (!started) tx.rollback();
    },
    async *chunks(): AsyncGenerator<Buffer> {
      started = true;
      try {
        const p0 = Buffer.alloc(pageSize);
        encodeMetaPage(p0, { ...tx.meta });
        p0.writeBigUInt64LE(0n, 0);
        const p1 = Buffer.alloc(pageSize);
        encodeMetaPage(p1, { ...tx.meta, txid: Math.max(0, tx.meta.txid - 1) });
        p1.writeBigUInt64LE(1n, 0);
        yield Buffer.concat([p0, p1]);
        for (let pos = 2 * pageSize; pos < sizeBytes; pos += chunkBytes) {
          const len = Math.min(chunkBytes, sizeBytes - pos);
          yield tx.file.readRaw(pos, len);
          // A turn of the event loop between chunks: writers and readers go on.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        tx.rollback();
      }
    },
  };
}
