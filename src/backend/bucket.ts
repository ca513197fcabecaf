/**
 * Buckets: named B+trees of key/value pairs, nestable. A bucket's header (root page id and
 * sequence) is stored as the value of its name in the parent, flagged as a bucket. A small
 * bucket (one leaf, no sub-buckets, at most pageSize/4 bytes) is stored inline: root 0 and its
 * leaf page follow the header inside the parent's value.
 *
 * Reads walk cached pages directly, comparing keys where they lie. Writes materialise the nodes
 * on the path they change (node.ts) and are written at commit.
 */
import { FloeError, assert } from '../pkg';
import { Cursor, type Entry } from './cursor';
import { backendError, corrupt } from './errors';
import { Inode, Node, freeNode, rebalanceTree, spillTree, type TreeContext } from './node';
import {
  BRANCH_PAGE_FLAG, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, LEAF_ELEMENT_SIZE, LEAF_PAGE_FLAG, MAX_KEY_SIZE_BYTES,
  MAX_VALUE_SIZE_BYTES, PAGE_HEADER_SIZE, badPageType, branchChild, branchSearch, leafFlags, leafSearch, leafValue,
  pageCount, pageFlags, pageOverflow, readU64, writePageHeader, writeU64,
} from './page';

/** What a bucket needs from its transaction. */
export interface BucketTx {
  readonly writable: boolean;
  readonly pageSize: number;
  /** Throws 'tx closed' once the transaction has ended. */
  ensureOpen(): void;
  /** A committed page of this transaction's snapshot. */
  page(pgid: number): Buffer;
  /** The write transaction's tree context; null for a read transaction. */
  readonly ctx: TreeContext | null;
}

/** Views a Uint8Array as a Buffer without copying. */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** An empty inline bucket's value: header (root 0, sequence 0) and an empty leaf page. */
function emptyBucketValue(): Buffer {
  const v = Buffer.alloc(BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE);
  writePageHeader(v, BUCKET_HEADER_SIZE, 0, LEAF_PAGE_FLAG, 0, 0);
  return v;
}

// Where the last lookup landed. Single-threaded, and never held across calls.
let foundNode: Node | null = null;
let foundBuf: Buffer | null = null;
let foundOff = 0;
let foundIndex = 0;

export class Bucket {
  /** Root page id; 0 for an inline bucket. */
  root: number;
  /** The sequence number (see sequence()). */
  seq: number;
  /** The materialised root node (write transactions, once something under it changed). */
  rootNode: Node | null = null;
  /** Set when deleteBucket removed this bucket: further writes through it are refused. */
  deleted = false;
  /**
   * bbolt's Bucket.FillPercent: how full this transaction's commit fills the pages it writes
   * for this bucket before splitting (clamped to [0.1, 1.0]); null: the db's (0.5 unless
   * opened otherwise). It lasts for the transaction: a new one's handle starts at null.
   * Append-only keys want it high (BatchTx.seqPut): a page left half full is never filled.
   */
  fillPercent: number | null = null;
  /** Open sub-buckets of a write transaction, by name (latin1: one char per byte). */
  private children: Map<string, Bucket> | null;

  /** @internal buckets come from tx.bucket() / bucket.bucket() */
  constructor(
    readonly tx: BucketTx,
    root: number,
    sequence: number,
    /** The bucket value holding the inline page (root 0), or null. */
    private inline: Buffer | null,
  ) {
    this.root = root;
    this.seq = sequence;
    this.children = tx.writable ? new Map() : null;
  }

  /** Opens the bucket whose header is `value` (a leaf value flagged as a bucket). */
  static fromValue(tx: BucketTx, value: Buffer): Bucket {
    if (value.length < BUCKET_HEADER_SIZE) throw corrupt(`bucket header of ${value.length} bytes`);
    const root = readU64(value, 0);
    const seq = readU64(value, 8);
    if (root === 0 && value.length < BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE) throw corrupt('inline bucket without a page');
    return new Bucket(tx, root, seq, root === 0 ? value : null);
  }

  /** The inline page's buffer (the page starts at offset 16). */
  inlinePage(): Buffer {
    return this.inline!;
  }

  /** True when the transaction can write. */
  get writable(): boolean {
    return this.tx.writable;
  }

  // --- reads -------------------------------------------------------------------------------

  /**
   * Finds where `key` is or would be in its leaf and sets the module's found* variables.
   * Returns the index (or ~index when the key is present).
   */
  private find(key: Buffer): number {
    let pgid = this.root;
    if (this.rootNode !== null) {
      let n: Node = this.rootNode;
      let leaf: Node | null = n;
      while (!n.isLeaf) {
        const inode: Inode = n.inodes[n.childIndex(key)]!;
        if (inode.child === null) {
          pgid = inode.pgid;
          leaf = null;
          break;
        }
        n = inode.child;
        leaf = n;
      }
      if (leaf !== null) {
        foundNode = leaf;
        foundBuf = null;
        const r = leaf.search(key);
        foundIndex = r < 0 ? ~r : r;
        return r;
      }
    }
    let buf: Buffer;
    let off: number;
    if (pgid === 0) {
      buf = this.inline!;
      off = BUCKET_HEADER_SIZE;
    } else {
      buf = this.tx.page(pgid);
      off = 0;
    }
    for (;;) {
      const flags = pageFlags(buf, off);
      const count = pageCount(buf, off);
      if (flags === LEAF_PAGE_FLAG) {
        foundNode = null;
        foundBuf = buf;
        foundOff = off;
        const r = leafSearch(buf, off, count, key);
        foundIndex = r < 0 ? ~r : r;
        return r;
      }
      if (flags !== BRANCH_PAGE_FLAG) throw badPageType(pgid, flags);
      if (count === 0) throw corrupt(`page ${pgid}: empty branch page`);
      pgid = branchChild(buf, off, branchSearch(buf, off, count, key));
      buf = this.tx.page(pgid);
      off = 0;
    }
  }

  /** Flags of the entry find() landed on (it must have been found). */
  private foundFlags(): number {
    return foundNode !== null ? foundNode.inodes[foundIndex]!.flags : leafFlags(foundBuf!, foundOff, foundIndex);
  }

  private foundValue(): Buffer {
    return foundNode !== null ? foundNode.inodes[foundIndex]!.value! : leafValue(foundBuf!, foundOff, foundIndex);
  }

  /** The value of `key`, or null when it is missing or names a nested bucket. */
  get(key: Uint8Array): Buffer | null {
    this.tx.ensureOpen();
    const k = asBuffer(key);
    if (this.find(k) >= 0) return null;
    if (this.foundFlags() & BUCKET_LEAF_FLAG) return null;
    return this.foundValue();
  }

  /** The nested bucket `name`, or null when there is none. */
  bucket(name: Uint8Array): Bucket | null {
    this.tx.ensureOpen();
    const k = asBuffer(name);
    const cacheKey = this.children !== null ? k.toString('latin1') : '';
    if (this.children !== null) {
      const open = this.children.get(cacheKey);
      if (open !== undefined) return open;
    }
    if (this.find(k) >= 0 || (this.foundFlags() & BUCKET_LEAF_FLAG) === 0) return null;
    const child = Bucket.fromValue(this.tx, this.foundValue());
    this.children?.set(cacheKey, child);
    return child;
  }

  /** A cursor over this bucket's entries. */
  cursor(): Cursor {
    this.tx.ensureOpen();
    return new Cursor(this);
  }

  /** Calls `fn` for every entry in key order (value null: a nested bucket). */
  forEach(fn: (key: Buffer, value: Buffer | null) => void): void {
    const c = this.cursor();
    for (let e: Entry | null = c.first(); e !== null; e = c.next()) fn(e.key, e.value);
  }

  /** The bucket's sequence number. */
  sequence(): number {
    this.tx.ensureOpen();
    return this.seq;
  }

  // --- writes ------------------------------------------------------------------------------

  private ensureWritable(): TreeContext {
    this.tx.ensureOpen();
    const ctx = this.tx.ctx;
    if (ctx === null) throw backendError('ERR_TX_NOT_WRITABLE');
    if (this.deleted) throw backendError('ERR_BUCKET_NOT_FOUND');
    return ctx;
  }

  /** The materialised root node, reading it on first use. */
  private rootNodeOf(): Node {
    if (this.rootNode === null) {
      this.rootNode = this.root === 0
        ? Node.fromPage(this.inline!, BUCKET_HEADER_SIZE, 0)
        : Node.fromPage(this.tx.page(this.root), 0, this.root);
    }
    return this.rootNode;
  }

  /** The leaf node where `key` belongs, materialising the path to it. */
  private leafNode(ctx: TreeContext, key: Buffer): Node {
    let n = this.rootNodeOf();
    while (!n.isLeaf) n = n.childAt(ctx, n.childIndex(key));
    return n;
  }

  /** Sets `key` to `value` (both copied). Refused when `key` names a nested bucket. */
  put(key: Uint8Array, value: Uint8Array): void {
    const ctx = this.ensureWritable();
    const k = asBuffer(key);
    if (k.length === 0) throw backendError('ERR_KEY_REQUIRED');
    if (k.length > MAX_KEY_SIZE_BYTES) throw backendError('ERR_KEY_TOO_LARGE');
    if (value.length > MAX_VALUE_SIZE_BYTES) throw backendError('ERR_VALUE_TOO_LARGE');
    const leaf = this.leafNode(ctx, k);
    const r = leaf.search(k);
    if (r < 0) {
      const inode = leaf.inodes[~r]!;
      if (inode.flags & BUCKET_LEAF_FLAG) throw backendError('ERR_INCOMPATIBLE_VALUE');
      inode.value = Buffer.from(value);
    } else {
      leaf.insertAt(r, new Inode(0, Buffer.from(k), Buffer.from(value), 0, null));
    }
  }

  /** Removes `key`; a missing key is not an error. Refused when `key` names a nested bucket. */
  delete(key: Uint8Array): void {
    const ctx = this.ensureWritable();
    const k = asBuffer(key);
    if (this.find(k) >= 0) return;
    if (this.foundFlags() & BUCKET_LEAF_FLAG) throw backendError('ERR_INCOMPATIBLE_VALUE');
    const leaf = this.leafNode(ctx, k);
    const r = leaf.search(k);
    leaf.removeAt(~r);
  }

  /** Creates the nested bucket `name`; 'bucket already exists' when it does. */
  createBucket(name: Uint8Array): Bucket {
    const ctx = this.ensureWritable();
    const k = asBuffer(name);
    if (k.length === 0) throw backendError('ERR_BUCKET_NAME_REQUIRED');
    if (k.length > MAX_KEY_SIZE_BYTES) throw backendError('ERR_KEY_TOO_LARGE');
    if (this.find(k) < 0) {
      throw backendError(this.foundFlags() & BUCKET_LEAF_FLAG ? 'ERR_BUCKET_EXISTS' : 'ERR_INCOMPATIBLE_VALUE');
    }
    const key = Buffer.from(k);
    this.leafNode(ctx, key).put(key, emptyBucketValue(), BUCKET_LEAF_FLAG);
    const child = this.bucket(key);
    return child!;
  }

  /** Returns the nested bucket `name`, creating it when missing. */
  createBucketIfNotExists(name: Uint8Array): Bucket {
    try {
      return this.createBucket(name);
    } catch (e) {
      if (e instanceof FloeError && e.code === 'ERR_BUCKET_EXISTS') return this.bucket(name)!;
      throw e;
    }
  }

  /** Deletes the nested bucket `name` and everything in it. */
  deleteBucket(name: Uint8Array): void {
    const ctx = this.ensureWritable();
    const k = asBuffer(name);
    if (this.find(k) >= 0) throw backendError('ERR_BUCKET_NOT_FOUND');
    if ((this.foundFlags() & BUCKET_LEAF_FLAG) === 0) throw backendError('ERR_INCOMPATIBLE_VALUE');
    const child = this.bucket(k)!;
    child.freeAll(ctx);
    this.children!.delete(k.toString('latin1'));
    const leaf = this.leafNode(ctx, k);
    leaf.removeAt(~leaf.search(k));
  }

  /** Sets the sequence number. */
  setSequence(n: number): void {
    const ctx = this.ensureWritable();
    if (!Number.isSafeInteger(n) || n < 0) throw new FloeError('ERR_BAD_SEQUENCE', `sequence must be a non-negative safe integer: ${n}`);
    void ctx;
    // A materialised root marks the bucket as changed, so commit rewrites its header.
    this.rootNodeOf();
    this.seq = n;
  }

  /** Increments the sequence number and returns the new value. */
  nextSequence(): number {
    this.setSequence(this.seq + 1);
    return this.seq;
  }

  /** Frees every page of this bucket and of the buckets nested in it; marks them deleted. */
  private freeAll(ctx: TreeContext): void {
    const c = new Cursor(this);
    const nested: Buffer[] = [];
    for (let e = c.first(); e !== null; e = c.next()) if (e.value === null) nested.push(e.key);
    for (const name of nested) this.bucket(name)!.freeAll(ctx);
    this.freeTree(ctx);
    this.deleted = true;
  }

  /** Frees the pages of this bucket's own tree (not its sub-buckets'); it becomes inline. */
  private freeTree(ctx: TreeContext): void {
    if (this.root === 0) return;
    const walkPage = (pgid: number): void => {
      const buf = this.tx.page(pgid);
      ctx.free(pgid, pageOverflow(buf, 0) + 1);
      if (pageFlags(buf, 0) & BRANCH_PAGE_FLAG) {
        const count = pageCount(buf, 0);
        for (let i = 0; i < count; i++) walkPage(branchChild(buf, 0, i));
      }
    };
    const walkNode = (n: Node): void => {
      freeNode(ctx, n);
      if (!n.isLeaf) for (const inode of n.inodes) inode.child !== null ? walkNode(inode.child) : walkPage(inode.pgid);
    };
    if (this.rootNode !== null) walkNode(this.rootNode);
    else walkPage(this.root);
    this.root = 0;
  }

  // --- commit ------------------------------------------------------------------------------

  /** Commit pass 1: merges underfull nodes, here and in every open sub-bucket. */
  rebalance(ctx: TreeContext): void {
    if (this.rootNode !== null) this.rootNode = rebalanceTree(ctx, this.rootNode);
    if (this.children !== null) for (const child of this.children.values()) child.rebalance(ctx);
  }

  /**
   * Commit pass 2: writes changed sub-buckets (inline when they fit, as page trees otherwise)
   * into this bucket, then this bucket's changed nodes into new pages. Returns true when this
   * bucket changed (its header must be rewritten in its parent).
   */
  spill(ctx: TreeContext): boolean {
    if (this.children !== null) {
      for (const [name, child] of this.children) {
        let value: Buffer;
        if (child.inlineable(ctx.pageSize)) {
          child.freeTree(ctx);
          value = child.encodeInline();
        } else {
          if (!child.spill(ctx)) continue;
          value = Buffer.alloc(BUCKET_HEADER_SIZE);
          writeU64(value, 0, child.root);
          writeU64(value, 8, child.seq);
        }
        const key = Buffer.from(name, 'latin1');
        const leaf = this.leafNode(ctx, key);
        const r = leaf.search(key);
        assert(r < 0 && (leaf.inodes[~r]!.flags & BUCKET_LEAF_FLAG) !== 0, () => `misplaced bucket header for ${key.toString('hex')}`);
        leaf.inodes[~r]!.value = value;
      }
    }
    if (this.rootNode === null) return false;
    this.root = spillTree(ctx, this.rootNode, this.fillPercent ?? ctx.fillPercent);
    this.rootNode = null;
    this.inline = null;
    return true;
  }

  /** True when the bucket may be stored inline: one small leaf and no sub-buckets. */
  private inlineable(pageSize: number): boolean {
    const n = this.rootNode;
    if (n === null || !n.isLeaf) return false;
    const max = pageSize / 4;
    let size = PAGE_HEADER_SIZE;
    for (const inode of n.inodes) {
      if (inode.flags & BUCKET_LEAF_FLAG) return false;
      size += LEAF_ELEMENT_SIZE + inode.key.length + inode.value!.length;
      if (size > max) return false;
    }
    return true;
  }

  /** The bucket as an inline value: header (root 0) followed by its leaf page. */
  private encodeInline(): Buffer {
    const n = this.rootNode!;
    const value = Buffer.alloc(BUCKET_HEADER_SIZE + n.size());
    writeU64(value, 8, this.seq);
    n.writePage(value, BUCKET_HEADER_SIZE, 0, 0, n.inodes.length, 0);
    return value;
  }
}
