/**
 * The meta page: where a transaction's tree starts. Pages 0 and 1 hold one meta each; a commit
 * writes page (txid % 2), so the other page always keeps the previous transaction. On open the
 * valid meta with the higher txid wins, and a torn meta (bad checksum) falls back to the other.
 *
 * Layout after the 16-byte page header, little endian (64 bytes):
 *   0  u32 magic 0xED0CDAED   4  u32 version 2   8  u32 pageSize   12 u32 flags (0)
 *   16 u64 root bucket's root page   24 u64 root bucket's sequence
 *   32 u64 freelist page id (0xFFFFFFFFFFFFFFFF: no freelist was written; rebuild it)
 *   40 u64 pgid: the high-water mark, one past the last page in use
 *   48 u64 txid   56 u64 checksum: FNV-1a 64 of bytes 0..55 (0 means "not checked")
 */
import { FloeError } from '../pkg';
import { backendError } from './errors';
import { META_PAGE_FLAG, PAGE_HEADER_SIZE, isU64Max, readU64, writePageHeader, writeU64 } from './page';

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
/** Bytes of the meta structure inside its page. */
export const META_SIZE = 64;
/** Bytes covered by the checksum. */
const CHECKSUMMED = 56;

/** The smallest and largest page sizes Floe will open (bbolt's default is the OS page size). */
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 1 << 20;

/** The decoded meta. Page ids and txids are exact up to 2^53. */
export interface Meta {
  pageSize: number;
  flags: number;
  root: number;
  sequence: number;
  /** The freelist page, or null when the file holds no synced freelist. */
  freelist: number | null;
  pgid: number;
  txid: number;
}

export function copyMeta(m: Meta): Meta {
  return { ...m };
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a 64 of `len` bytes at `off` (bbolt's meta checksum). */
export function fnv1a64(buf: Buffer, off: number, len: number): bigint {
  let h = FNV_OFFSET;
  for (let i = 0; i < len; i++) h = ((h ^ BigInt(buf[off + i]!)) * FNV_PRIME) & MASK64;
  return h;
}

/**
 * Decodes the meta of the page at `pageOff`, checking magic, version and checksum (the checks
 * bbolt makes). Returns the FloeError bbolt would report instead of throwing, so the caller can
 * try the other meta.
 */
export function decodeMeta(buf: Buffer, pageOff: number): Meta | FloeError {
  const m = pageOff + PAGE_HEADER_SIZE;
  if (buf.length < m + META_SIZE) return backendError('ERR_INVALID');
  if (buf.readUInt32LE(m) !== MAGIC) return backendError('ERR_INVALID');
  if (buf.readUInt32LE(m + 4) !== VERSION) return backendError('ERR_VERSION_MISMATCH');
  const stored = buf.readBigUInt64LE(m + CHECKSUMMED);
  if (stored !== 0n && stored !== fnv1a64(buf, m, CHECKSUMMED)) return backendError('ERR_CHECKSUM');
  return {
    pageSize: buf.readUInt32LE(m + 8),
    flags: buf.readUInt32LE(m + 12),
    root: readU64(buf, m + 16),
    sequence: readU64(buf, m + 24),
    freelist: isU64Max(buf, m + 32) ? null : readU64(buf, m + 32),
    pgid: readU64(buf, m + 40),
    txid: readU64(buf, m + 48),
  };
}

/** Writes `meta` as a complete meta page (id txid % 2) into `page` (zeroed, pageSize bytes). */
export function encodeMetaPage(page: Buffer, meta: Meta): void {
  writePageHeader(page, 0, meta.txid % 2, META_PAGE_FLAG, 0, 0);
  const m = PAGE_HEADER_SIZE;
  page.writeUInt32LE(MAGIC, m);
  page.writeUInt32LE(VERSION, m + 4);
  page.writeUInt32LE(meta.pageSize, m + 8);
  page.writeUInt32LE(meta.flags, m + 12);
  writeU64(page, m + 16, meta.root);
  writeU64(page, m + 24, meta.sequence);
  if (meta.freelist === null) {
    page.writeUInt32LE(0xffffffff, m + 32);
    page.writeUInt32LE(0xffffffff, m + 36);
  } else {
    writeU64(page, m + 32, meta.freelist);
  }
  writeU64(page, m + 40, meta.pgid);
  writeU64(page, m + 48, meta.txid);
  page.writeBigUInt64LE(fnv1a64(page, m, CHECKSUMMED), m + CHECKSUMMED);
}

/** True for a page size Floe can open: a power of two in [MIN_PAGE_SIZE, MAX_PAGE_SIZE]. */
export function validPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}

/**
 * Sanity of a checksummed meta against the file it came from: a meta whose tree lies beyond
 * the end of the file was not fully written (its data never reached the disk), so it must not
 * win. Returns a reason, or null when the meta is usable.
 */
export function metaProblem(m: Meta, fileSizeBytes: number): string | null {
  if (!validPageSize(m.pageSize)) return `invalid page size ${m.pageSize}`;
  if (m.pgid < 3 || !Number.isSafeInteger(m.pgid)) return `invalid high-water mark ${m.pgid}`;
  if (m.pgid * m.pageSize > fileSizeBytes) return `high-water mark ${m.pgid} beyond the end of the file`;
  if (m.root < 2 || m.root >= m.pgid) return `root page ${m.root} out of range`;
  if (m.freelist !== null && (m.freelist < 2 || m.freelist >= m.pgid)) return `freelist page ${m.freelist} out of range`;
  if (!Number.isSafeInteger(m.txid)) return `invalid txid`;
  return null;
}
