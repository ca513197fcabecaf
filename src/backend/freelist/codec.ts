/**
 * The on-disk freelist page, shared by both freelist kinds.
 *
 * After the 16-byte page header come u64 page ids, ascending. The header's u16 count holds the
 * number of ids; when there are 0xFFFF or more, count is 0xFFFF and the first u64 holds the real
 * count, followed by the ids. Pending pages are written as free: after a restart no reader can
 * still see them.
 */
import { FloeError } from '../../pkg';
import {
  FREELIST_PAGE_FLAG, PAGE_HEADER_SIZE, pageCount, pageFlags, pageTypeName, readU64, writePageHeader, writeU64,
} from '../page';
import type { Pgid } from './types';

const COUNT_ESCAPE = 0xffff;

/** Bytes a freelist page holding `count` ids needs (bbolt's freelist.size()). */
export function freelistSizeBytes(count: number): number {
  return PAGE_HEADER_SIZE + 8 * (count >= COUNT_ESCAPE ? count + 1 : count);
}

/**
 * Pages to allocate for a freelist of `count` ids. bbolt allocates size/pageSize + 1 pages (one
 * more than needed when the size is an exact multiple); we do the same so both write the same
 * shape.
 */
export function freelistPageCount(count: number, pageSize: number): number {
  return Math.floor(freelistSizeBytes(count) / pageSize) + 1;
}

/**
 * Writes a freelist page with id `pgid` spanning `buf` (zeroed, a whole number of pages) that
 * holds `ids` (ascending, unique).
 */
export function encodeFreelistPage(buf: Buffer, pgid: Pgid, ids: readonly Pgid[], pageSize: number): void {
  const overflow = buf.length / pageSize - 1;
  const n = ids.length;
  let off = PAGE_HEADER_SIZE;
  if (n >= COUNT_ESCAPE) {
    writePageHeader(buf, 0, pgid, FREELIST_PAGE_FLAG, COUNT_ESCAPE, overflow);
    writeU64(buf, off, n);
    off += 8;
  } else {
    writePageHeader(buf, 0, pgid, FREELIST_PAGE_FLAG, n, overflow);
  }
  if (off + 8 * n > buf.length) throw new RangeError(`freelist page too small for ${n} ids`);
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    // Page ids stay far below 2^32 * 2^21; split without a division per id when they fit.
    if (id < 0x1_0000_0000) {
      buf.writeUInt32LE(id, off);
      buf.writeUInt32LE(0, off + 4);
    } else {
      writeU64(buf, off, id);
    }
    off += 8;
  }
}

/**
 * Reads the ids of a freelist page (ascending, as the freelist wants them). A page that is not
 * a freelist page, or whose ids run past the page, is a corrupt file.
 */
export function decodeFreelistPage(buf: Buffer, pgid: Pgid): Pgid[] {
  const flags = pageFlags(buf, 0);
  if ((flags & FREELIST_PAGE_FLAG) === 0) {
    throw new FloeError('ERR_CORRUPT', `page ${pgid}: invalid freelist page, page type is ${pageTypeName(flags)}`);
  }
  let count = pageCount(buf, 0);
  let off = PAGE_HEADER_SIZE;
  if (count === COUNT_ESCAPE) {
    count = readU64(buf, off);
    off += 8;
  }
  if (off + 8 * count > buf.length) {
    throw new FloeError('ERR_CORRUPT', `page ${pgid}: freelist of ${count} ids runs past its page`);
  }
  const ids = new Array<Pgid>(count);
  let sorted = true;
  for (let i = 0; i < count; i++) {
    const id = readU64(buf, off);
    if (i > 0 && id <= ids[i - 1]!) sorted = false;
    ids[i] = id;
    off += 8;
  }
  if (!sorted) {
    // bbolt sorts on read; a writer may have stored them in any order. Duplicates are left in
    // place for check() to report.
    ids.sort((a, b) => a - b);
  }
  return ids;
}
