/**
 * Cursor: ordered iteration over one bucket. It keeps a stack from the root to a leaf; each
 * level is either a materialised node (in a write transaction, where it changed) or a page read
 * straight from the cache. Empty leaves (possible inside a write transaction after deletes) are
 * skipped in both directions.
 *
 * Entries whose value is a nested bucket come back with `value: null`.
 */
import type { Bucket } from './bucket';
import { corrupt } from './errors';
import type { Node } from './node';
import {
  BRANCH_PAGE_FLAG, BUCKET_LEAF_FLAG, LEAF_PAGE_FLAG, badPageType, branchChild, branchSearch, leafElementOffset,
  leafFlags, leafKey, leafSearch, leafValue, pageCount, pageFlags,
} from './page';

/**
 * Visits one entry where its bytes lie: the key is `kLen` bytes of `kBuf` at `kAt`, the value
 * `vLen` bytes of `vBuf` at `vAt` (one page buffer for both, or a changed node's own key and
 * value buffers in a write transaction). Returns false to stop.
 */
export type RawVisitor = (kBuf: Buffer, kAt: number, kLen: number, vBuf: Buffer, vAt: number, vLen: number) => boolean;

/** One entry: the key, and its value (null when the key names a nested bucket). */
export interface Entry {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

class Frame {
  node: Node | null = null;
  buf: Buffer | null = null;
  off = 0;
  pgid = 0;
  isLeaf = false;
  count = 0;
  index = 0;
}

export class Cursor {
  private readonly stack: Frame[] = [];
  private depth = 0;

  /** @internal use bucket.cursor() */
  constructor(readonly bucket: Bucket) {}

  /** The first entry, or null when the bucket is empty. */
  first(): Entry | null {
    this.bucket.tx.ensureOpen();
    this.depth = 0;
    this.pushRoot();
    this.top().index = 0;
    this.descendFirst();
    if (this.top().count === 0) return this.moveNext();
    return this.current();
  }

  /** The last entry, or null when the bucket is empty. */
  last(): Entry | null {
    this.bucket.tx.ensureOpen();
    this.depth = 0;
    this.pushRoot();
    const t = this.top();
    t.index = t.count - 1;
    this.descendLast();
    if (this.top().count === 0) return this.movePrev();
    return this.current();
  }

  /** The entry after the current one, or null at the end. */
  next(): Entry | null {
    this.bucket.tx.ensureOpen();
    if (this.depth === 0) return null;
    return this.moveNext();
  }

  /** The entry before the current one, or null at the start. */
  prev(): Entry | null {
    this.bucket.tx.ensureOpen();
    if (this.depth === 0) return null;
    return this.movePrev();
  }

  /** The first entry whose key is >= `key`, or null when there is none. */
  seek(key: Uint8Array): Entry | null {
    this.bucket.tx.ensureOpen();
    const k = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    this.depth = 0;
    this.pushRoot();
    for (;;) {
      const t = this.top();
      if (t.isLeaf) {
        if (t.node !== null) {
          const r = t.node.search(k);
          t.index = r < 0 ? ~r : r;
        } else {
          const r = leafSearch(t.buf!, t.off, t.count, k);
          t.index = r < 0 ? ~r : r;
        }
        break;
      }
      t.index = t.node !== null ? t.node.childIndex(k) : branchSearch(t.buf!, t.off, t.count, k);
      this.pushChild(t);
    }
    const t = this.top();
    if (t.index >= t.count) return this.moveNext();
    return this.current();
  }

  /**
   * Visits the entries from the first key >= `start` on, in order, until `fn` returns false or
   * the bucket ends, without building an Entry or a view per entry (a sweep over a whole bucket
   * made millions of them). Nested-bucket entries are skipped. Leaves the cursor positioned
   * somewhere in between: seek again before using it.
   */
  scanFrom(start: Uint8Array, fn: RawVisitor): void {
    if (this.seek(start) === null) return;
    for (;;) {
      const t = this.top();
      if (t.node !== null) {
        const inodes = t.node.inodes;
        for (let i = t.index; i < inodes.length; i++) {
          const n = inodes[i]!;
          if (n.flags & BUCKET_LEAF_FLAG) continue;
          const v = n.value!;
          if (!fn(n.key, 0, n.key.length, v, 0, v.length)) return;
        }
      } else {
        const buf = t.buf!;
        for (let i = t.index; i < t.count; i++) {
          const e = leafElementOffset(t.off, i);
          if (buf.readUInt32LE(e) & BUCKET_LEAF_FLAG) continue;
          const kAt = e + buf.readUInt32LE(e + 4);
          const kLen = buf.readUInt32LE(e + 8);
          if (!fn(buf, kAt, kLen, buf, kAt + kLen, buf.readUInt32LE(e + 12))) return;
        }
      }
      // On to the next non-empty leaf.
      t.index = t.count - 1;
      if (this.moveNext() === null) return;
    }
  }

  private top(): Frame {
    return this.stack[this.depth - 1]!;
  }

  private frame(): Frame {
    let f = this.stack[this.depth];
    if (f === undefined) {
      f = new Frame();
      this.stack.push(f);
    }
    this.depth++;
    return f;
  }

  private pushRoot(): void {
    const b = this.bucket;
    if (b.rootNode !== null) this.pushNode(b.rootNode);
    else if (b.root === 0) this.pushPage(b.inlinePage(), 16, 0);
    else this.pushPage(b.tx.page(b.root), 0, b.root);
  }

  private pushNode(n: Node): void {
    const f = this.frame();
    f.node = n;
    f.buf = null;
    f.off = 0;
    f.pgid = n.pgid;
    f.isLeaf = n.isLeaf;
    f.count = n.inodes.length;
    f.index = 0;
  }

  private pushPage(buf: Buffer, off: number, pgid: number): void {
    const flags = pageFlags(buf, off);
    if (flags !== BRANCH_PAGE_FLAG && flags !== LEAF_PAGE_FLAG) throw badPageType(pgid, flags);
    const f = this.frame();
    f.node = null;
    f.buf = buf;
    f.off = off;
    f.pgid = pgid;
    f.isLeaf = flags === LEAF_PAGE_FLAG;
    f.count = pageCount(buf, off);
    f.index = 0;
    if (!f.isLeaf && f.count === 0) throw corrupt(`page ${pgid}: empty branch page`);
  }

  /** Pushes the child under `t.index` of the branch frame `t`. */
  private pushChild(t: Frame): void {
    if (t.node !== null) {
      const inode = t.node.inodes[t.index]!;
      if (inode.child !== null) this.pushNode(inode.child);
      else this.pushPage(this.bucket.tx.page(inode.pgid), 0, inode.pgid);
    } else {
      const pgid = branchChild(t.buf!, t.off, t.index);
      this.pushPage(this.bucket.tx.page(pgid), 0, pgid);
    }
  }

  private descendFirst(): void {
    for (let t = this.top(); !t.isLeaf; t = this.top()) {
      this.pushChild(t);
      this.top().index = 0;
    }
  }

  private descendLast(): void {
    for (let t = this.top(); !t.isLeaf; t = this.top()) {
      this.pushChild(t);
      const c = this.top();
      c.index = c.count - 1;
    }
  }

  private moveNext(): Entry | null {
    for (;;) {
      let i = this.depth - 1;
      while (i >= 0 && this.stack[i]!.index >= this.stack[i]!.count - 1) i--;
      if (i < 0) {
        // Park past the end so a following prev() returns the last entry.
        const t = this.top();
        t.index = t.count;
        return null;
      }
      this.stack[i]!.index++;
      this.depth = i + 1;
      this.descendFirst();
      if (this.top().count > 0) return this.current();
    }
  }

  private movePrev(): Entry | null {
    for (;;) {
      let i = this.depth - 1;
      while (i >= 0 && this.stack[i]!.index <= 0) i--;
      if (i < 0) {
        const t = this.top();
        t.index = -1;
        return null;
      }
      const f = this.stack[i]!;
      f.index = Math.min(f.index, f.count) - 1;
      this.depth = i + 1;
      this.descendLast();
      if (this.top().count > 0) return this.current();
    }
  }

  private current(): Entry {
    const t = this.top();
    if (t.node !== null) {
      const inode = t.node.inodes[t.index]!;
      return { key: inode.key, value: inode.flags & BUCKET_LEAF_FLAG ? null : inode.value };
    }
    const buf = t.buf!;
    const key = leafKey(buf, t.off, t.index);
    return { key, value: leafFlags(buf, t.off, t.index) & BUCKET_LEAF_FLAG ? null : leafValue(buf, t.off, t.index) };
  }
}
