/**
 * One careful walk over everything a meta reaches: the tree of every bucket, nested and inline
 * buckets, overflow pages. It never trusts the file: every offset is bounds-checked and every
 * problem is reported instead of thrown, so check() can list them all and stats() and the
 * freelist rebuild share the same code. O(pages reachable).
 */
import { FloeError } from '../pkg';
import type { Meta } from './meta';
import {
  BRANCH_ELEMENT_SIZE, BRANCH_PAGE_FLAG, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, LEAF_ELEMENT_SIZE, LEAF_PAGE_FLAG,
  PAGE_HEADER_SIZE, pageCount, pageFlags, pageOverflow, pageTypeName, readU64,
} from './page';

/** What the walk found. */
export interface Inspection {
  /** Problems, in the order found (a page id or bucket names where each one is). */
  readonly problems: string[];
  /** 1 for every page id below the high-water mark that is reachable (metas and freelist included). */
  readonly reachable: Uint8Array;
  branchPages: number;
  leafPages: number;
  /** Overflow pages of branch and leaf pages (the extra pages of multi-page nodes). */
  overflowPages: number;
  /** Pages the freelist page spans (0 when no freelist is synced). */
  freelistPages: number;
  /** Every bucket, nested ones included (not the root bucket). */
  bucketCount: number;
  inlineBucketCount: number;
  /** Key/value pairs in all buckets (bucket entries not counted). */
  keyCount: number;
  /** The deepest top-level bucket: its tree levels plus its deepest nested bucket's depth. */
  depth: number;
}

/** The most problems reported; a badly broken file could otherwise produce millions. */
export const MAX_PROBLEMS = 10_000;

interface BucketAcc {
  subDepth: number;
}

/**
 * Walks from `meta`. `read` returns a page's bytes (all its overflow pages) or throws a
 * FloeError for a page that cannot be read.
 */
export function inspect(meta: Meta, read: (pgid: number) => Buffer): Inspection {
  const hw = meta.pgid;
  const out: Inspection = {
    problems: [],
    reachable: new Uint8Array(hw),
    branchPages: 0,
    leafPages: 0,
    overflowPages: 0,
    freelistPages: 0,
    bucketCount: 0,
    inlineBucketCount: 0,
    keyCount: 0,
    depth: 0,
  };
  let dropped = 0;
  const problem = (msg: string): void => {
    if (out.problems.length < MAX_PROBLEMS) out.problems.push(msg);
    else dropped++;
  };
  const reachable = out.reachable;
  reachable[0] = 1;
  reachable[1] = 1;

  const tryRead = (pgid: number): Buffer | null => {
    try {
      return read(pgid);
    } catch (e) {
      if (!(e instanceof FloeError)) throw e;
      problem(e.message);
      return null;
    }
  };

  /** Marks the span of a page reachable; false when its first page was already reached. */
  const mark = (pgid: number, span: number): boolean => {
    if (reachable[pgid] === 1) {
      problem(`page ${pgid}: multiple references`);
      return false;
    }
    for (let id = pgid; id < pgid + span; id++) {
      if (id >= hw) {
        problem(`page ${id}: out of bounds: high-water mark ${hw} (overflow of page ${pgid})`);
        break;
      }
      if (reachable[id] === 1 && id !== pgid) problem(`page ${id}: multiple references`);
      reachable[id] = 1;
    }
    return true;
  };

  // The freelist page.
  if (meta.freelist !== null) {
    if (meta.freelist < 2 || meta.freelist >= hw) {
      problem(`freelist page ${meta.freelist}: out of bounds: high-water mark ${hw}`);
    } else {
      const buf = tryRead(meta.freelist);
      if (buf !== null) {
        const span = pageOverflow(buf, 0) + 1;
        mark(meta.freelist, span);
        out.freelistPages = span;
      }
    }
  }

  const where = (pgid: number, inlineIn: number): string =>
    inlineIn === 0 ? `page ${pgid}` : `inline bucket in page ${inlineIn}`;

  /** Checks the elements of a leaf page at (buf, off) that must end by `end`. */
  const walkLeaf = (
    buf: Buffer, off: number, end: number, pgid: number, inlineIn: number,
    lo: Buffer | null, hi: Buffer | null, acc: BucketAcc,
  ): void => {
    const count = pageCount(buf, off);
    if (off + PAGE_HEADER_SIZE + count * LEAF_ELEMENT_SIZE > end) {
      problem(`${where(pgid, inlineIn)}: ${count} leaf elements overflow the page`);
      return;
    }
    let prev: Buffer | null = null;
    for (let i = 0; i < count; i++) {
      const e = off + PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
      const flags = buf.readUInt32LE(e);
      const ks = e + buf.readUInt32LE(e + 4);
      const ksize = buf.readUInt32LE(e + 8);
      const vsize = buf.readUInt32LE(e + 12);
      if (ks < off + PAGE_HEADER_SIZE + count * LEAF_ELEMENT_SIZE || ks + ksize + vsize > end) {
        problem(`${where(pgid, inlineIn)}: element ${i} out of bounds`);
        continue;
      }
      const key = buf.subarray(ks, ks + ksize);
      checkKey(key, prev, lo, hi, pgid, inlineIn, i);
      prev = key;
      if (flags & BUCKET_LEAF_FLAG) {
        out.bucketCount++;
        const d = walkBucket(buf.subarray(ks + ksize, ks + ksize + vsize), pgid, key);
        if (d > acc.subDepth) acc.subDepth = d;
      } else {
        out.keyCount++;
      }
    }
  };

  const checkKey = (
    key: Buffer, prev: Buffer | null, lo: Buffer | null, hi: Buffer | null, pgid: number, inlineIn: number, i: number,
  ): void => {
    if (key.length === 0) problem(`${where(pgid, inlineIn)}: element ${i} has an empty key`);
    if (prev !== null && Buffer.compare(prev, key) >= 0) problem(`${where(pgid, inlineIn)}: keys out of order at element ${i}`);
    if (lo !== null && Buffer.compare(key, lo) < 0) problem(`${where(pgid, inlineIn)}: key at element ${i} sorts before its branch key`);
    if (hi !== null && Buffer.compare(key, hi) >= 0) problem(`${where(pgid, inlineIn)}: key at element ${i} sorts after the next branch key`);
  };

  /** Walks the tree page `pgid` with keys in [lo, hi); returns the levels below it (itself included). */
  const walkTree = (pgid: number, lo: Buffer | null, hi: Buffer | null, acc: BucketAcc): number => {
    if (pgid < 2 || pgid >= hw) {
      problem(`page ${pgid}: out of bounds: high-water mark ${hw}`);
      return 0;
    }
    if (reachable[pgid] === 1) {
      problem(`page ${pgid}: multiple references`);
      return 0;
    }
    const buf = tryRead(pgid);
    if (buf === null) {
      reachable[pgid] = 1;
      return 0;
    }
    const overflow = pageOverflow(buf, 0);
    mark(pgid, overflow + 1);
    const flags = pageFlags(buf, 0);
    if (flags === LEAF_PAGE_FLAG) {
      out.leafPages++;
      out.overflowPages += overflow;
      walkLeaf(buf, 0, buf.length, pgid, 0, lo, hi, acc);
      return 1;
    }
    if (flags !== BRANCH_PAGE_FLAG) {
      problem(`page ${pgid}: invalid type: ${pageTypeName(flags)}`);
      return 0;
    }
    out.branchPages++;
    out.overflowPages += overflow;
    const count = pageCount(buf, 0);
    if (count === 0) {
      problem(`page ${pgid}: empty branch page`);
      return 1;
    }
    const dataStart = PAGE_HEADER_SIZE + count * BRANCH_ELEMENT_SIZE;
    if (dataStart > buf.length) {
      problem(`page ${pgid}: ${count} branch elements overflow the page`);
      return 1;
    }
    const keys: Buffer[] = [];
    const children: number[] = [];
    let prev: Buffer | null = null;
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
      const ks = e + buf.readUInt32LE(e);
      const ksize = buf.readUInt32LE(e + 4);
      if (ks < dataStart || ks + ksize > buf.length) {
        problem(`page ${pgid}: element ${i} out of bounds`);
        continue;
      }
      const key = buf.subarray(ks, ks + ksize);
      checkKey(key, prev, lo, hi, pgid, 0, i);
      prev = key;
      keys.push(key);
      children.push(readU64(buf, e + 8));
    }
    let levels = 0;
    for (let i = 0; i < children.length; i++) {
      const l = walkTree(children[i]!, keys[i]!, i + 1 < keys.length ? keys[i + 1]! : hi, acc);
      if (l > levels) levels = l;
    }
    return levels + 1;
  };

  /** Walks a bucket given its header value; returns its depth (bbolt's BucketStats.Depth). */
  const walkBucket = (value: Buffer, inPgid: number, name: Buffer): number => {
    if (value.length < BUCKET_HEADER_SIZE) {
      problem(`page ${inPgid}: bucket ${name.toString('hex')} has a ${value.length}-byte header`);
      return 0;
    }
    const root = readU64(value, 0);
    const acc: BucketAcc = { subDepth: 0 };
    if (root !== 0) return walkTree(root, null, null, acc) + acc.subDepth;
    out.inlineBucketCount++;
    if (value.length < BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE) {
      problem(`page ${inPgid}: inline bucket ${name.toString('hex')} has no page`);
      return 0;
    }
    const flags = pageFlags(value, BUCKET_HEADER_SIZE);
    if (flags !== LEAF_PAGE_FLAG) {
      problem(`inline bucket in page ${inPgid}: invalid type: ${pageTypeName(flags)}`);
      return 0;
    }
    walkLeaf(value, BUCKET_HEADER_SIZE, value.length, inPgid, inPgid, null, null, acc);
    return 1 + acc.subDepth;
  };

  // The root bucket: its entries are the top-level buckets.
  const rootAcc: BucketAcc = { subDepth: 0 };
  walkTree(meta.root, null, null, rootAcc);
  out.depth = rootAcc.subDepth;
  if (dropped > 0) out.problems.push(`... and ${dropped} more problems`);
  return out;
}
