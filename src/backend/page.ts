/**
 * The bbolt page format (version 2), read and written in place inside Buffers.
 *
 * Every page starts with a 16-byte header, little endian:
 *   0  u64 id        the page's own id (its offset in the file / pageSize)
 *   8  u16 flags     branch 0x01, leaf 0x02, meta 0x04, freelist 0x10
 *   10 u16 count     number of elements
 *   12 u32 overflow  number of extra pages that follow (a page spans overflow+1 pages)
 *
 * Elements follow the header, 16 bytes each; their key (and value) bytes follow the element
 * array. `pos` is measured from the start of the element itself, not from the page.
 *   leaf element:   u32 flags (0x01: the value is a nested bucket), u32 pos, u32 ksize, u32 vsize
 *   branch element: u32 pos, u32 ksize, u64 child page id
 *
 * A page is addressed as (buf, off): `off` is 0 for pages read from the file, and 16 for an
 * inline bucket's page, which lives inside the bucket's value after the bucket header.
 * Cached page buffers are never written after they are published, so the subarrays handed out
 * here stay valid for as long as anyone holds them.
 */
import { FloeError } from '../pkg';
import { compareKeyAt } from './keys';

export const PAGE_HEADER_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BRANCH_ELEMENT_SIZE = 16;

export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;

/** Leaf element flag: the value is a bucket header (plus an inline page when root is 0). */
export const BUCKET_LEAF_FLAG = 0x01;

/** Bytes of a bucket header inside a leaf value: u64 root page id, u64 sequence. */
export const BUCKET_HEADER_SIZE = 16;

/** Page 0 and 1 are the metas, so no tree or freelist page can have an id below this. */
export const FIRST_DATA_PGID = 2;

/** The largest key bbolt accepts, in bytes. */
export const MAX_KEY_SIZE_BYTES = 32768;
/** The largest value bbolt accepts, in bytes (2^31 - 2). */
export const MAX_VALUE_SIZE_BYTES = 2 ** 31 - 2;

/** A split never leaves fewer than this many elements on a page. */
export const MIN_KEYS_PER_PAGE = 2;

/** The largest element count a page header can hold (0xFFFF is the freelist's escape). */
export const MAX_PAGE_ELEMENTS = 0xfffe;

const TWO_32 = 0x1_0000_0000;

/** Reads an unsigned 64-bit little-endian integer; exact up to 2^53. */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO_32;
}

/** True when the u64 at `off` is 0xFFFFFFFFFFFFFFFF (bbolt's "no freelist" marker). */
export function isU64Max(buf: Buffer, off: number): boolean {
  return buf.readUInt32LE(off) === 0xffffffff && buf.readUInt32LE(off + 4) === 0xffffffff;
}

/** Writes an unsigned 64-bit little-endian integer (`v` is a safe non-negative integer). */
export function writeU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % TWO_32, off);
  buf.writeUInt32LE(Math.floor(v / TWO_32), off + 4);
}

export function pageId(buf: Buffer, off: number): number {
  return readU64(buf, off);
}
export function pageFlags(buf: Buffer, off: number): number {
  return buf.readUInt16LE(off + 8);
}
export function pageCount(buf: Buffer, off: number): number {
  return buf.readUInt16LE(off + 10);
}
export function pageOverflow(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 12);
}

/** Writes a page header. */
export function writePageHeader(buf: Buffer, off: number, id: number, flags: number, count: number, overflow: number): void {
  writeU64(buf, off, id);
  buf.writeUInt16LE(flags, off + 8);
  buf.writeUInt16LE(count, off + 10);
  buf.writeUInt32LE(overflow, off + 12);
}

/** A human-readable page type, for errors and check reports. */
export function pageTypeName(flags: number): string {
  if (flags === BRANCH_PAGE_FLAG) return 'branch';
  if (flags === LEAF_PAGE_FLAG) return 'leaf';
  if (flags === META_PAGE_FLAG) return 'meta';
  if (flags === FREELIST_PAGE_FLAG) return 'freelist';
  return `unknown<${flags.toString(16).padStart(2, '0')}>`;
}

// --- leaf elements -------------------------------------------------------------------------

/** Offset of leaf element `i` of the page at `off`. */
export function leafElementOffset(off: number, i: number): number {
  return off + PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
}
export function leafFlags(buf: Buffer, off: number, i: number): number {
  return buf.readUInt32LE(leafElementOffset(off, i));
}
/** Absolute offset of the key of leaf element `i`. */
export function leafKeyStart(buf: Buffer, off: number, i: number): number {
  const e = leafElementOffset(off, i);
  return e + buf.readUInt32LE(e + 4);
}
export function leafKeySize(buf: Buffer, off: number, i: number): number {
  return buf.readUInt32LE(leafElementOffset(off, i) + 8);
}
export function leafValueSize(buf: Buffer, off: number, i: number): number {
  return buf.readUInt32LE(leafElementOffset(off, i) + 12);
}
export function leafKey(buf: Buffer, off: number, i: number): Buffer {
  const e = leafElementOffset(off, i);
  const start = e + buf.readUInt32LE(e + 4);
  return buf.subarray(start, start + buf.readUInt32LE(e + 8));
}
export function leafValue(buf: Buffer, off: number, i: number): Buffer {
  const e = leafElementOffset(off, i);
  const start = e + buf.readUInt32LE(e + 4) + buf.readUInt32LE(e + 8);
  return buf.subarray(start, start + buf.readUInt32LE(e + 12));
}

// --- branch elements -----------------------------------------------------------------------

export function branchElementOffset(off: number, i: number): number {
  return off + PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
}
export function branchKey(buf: Buffer, off: number, i: number): Buffer {
  const e = branchElementOffset(off, i);
  const start = e + buf.readUInt32LE(e);
  return buf.subarray(start, start + buf.readUInt32LE(e + 4));
}
export function branchChild(buf: Buffer, off: number, i: number): number {
  return readU64(buf, branchElementOffset(off, i) + 8);
}

// --- searches (no allocation: keys are compared where they lie) ----------------------------

/**
 * Index of the first leaf element whose key is >= `key` (`count` when every key is less); the
 * result is `~index` (negative) when the key at that index equals `key`.
 */
export function leafSearch(buf: Buffer, off: number, count: number, key: Buffer): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = off + PAGE_HEADER_SIZE + mid * LEAF_ELEMENT_SIZE;
    const ks = e + buf.readUInt32LE(e + 4);
    const c = compareKeyAt(key, buf, ks, ks + buf.readUInt32LE(e + 8));
    if (c === 0) return ~mid;
    if (c > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Index of the child to descend into for `key`: the last element whose key is <= `key`, or 0
 * when `key` sorts before every element (the leftmost child covers everything below).
 */
export function branchSearch(buf: Buffer, off: number, count: number, key: Buffer): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = off + PAGE_HEADER_SIZE + mid * BRANCH_ELEMENT_SIZE;
    const ks = e + buf.readUInt32LE(e);
    const c = compareKeyAt(key, buf, ks, ks + buf.readUInt32LE(e + 4));
    if (c === 0) return mid;
    if (c > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? lo - 1 : 0;
}

/** Throws the error every reader raises when a tree page is not a branch or leaf page. */
export function badPageType(pgid: number, flags: number): FloeError {
  return new FloeError('ERR_CORRUPT', `page ${pgid}: invalid page type: ${pageTypeName(flags)}`);
}
