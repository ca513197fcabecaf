/**
 * Nodes: the in-memory, editable form of a tree page. Only a write transaction materialises
 * nodes, and only on the paths it changes; everything else is read straight from cached pages.
 *
 * A branch inode that has been materialised points at its child node (`child`), so the nodes a
 * transaction touched form a tree hanging off the bucket's root node. Until commit that tree
 * mirrors the pages exactly (no split or merge happens before commit), so a cursor can walk
 * nodes where they exist and pages below them.
 *
 * Commit runs two passes over each bucket's node tree (bbolt's algorithm, our code):
 *  1. rebalance: a node that lost keys and is now small (<= pageSize/4, or too few keys) is
 *     merged into a sibling; empty nodes are removed; a root branch with one child collapses;
 *  2. spill: children first, then each node is cut into page-sized pieces at fillPercent of a
 *     page, each piece written to newly allocated pages, and the old page freed (pending). The
 *     parent's inode for a child is replaced by one inode per piece, keyed by its first key.
 */
import { assert } from '../pkg';
import { compareKeys } from './keys';
import {
  BRANCH_ELEMENT_SIZE, BRANCH_PAGE_FLAG, LEAF_ELEMENT_SIZE, LEAF_PAGE_FLAG, MAX_PAGE_ELEMENTS,
  MIN_KEYS_PER_PAGE, PAGE_HEADER_SIZE, badPageType, branchChild, branchKey, leafFlags, leafKey, leafValue,
  pageCount, pageFlags, pageOverflow, writePageHeader, writeU64,
} from './page';

/** One element of a node: a key/value (leaf) or a key/child page (branch). */
export class Inode {
  constructor(
    public flags: number,
    public key: Buffer,
    /** Leaf value; null in a branch. */
    public value: Buffer | null,
    /** Branch child page; 0 in a leaf or for a child not yet written. */
    public pgid: number,
    /** The materialised child node, when the transaction touched it. */
    public child: Node | null,
  ) {}
}

/** What the tree passes need from their transaction. */
export interface TreeContext {
  readonly pageSize: number;
  readonly fillPercent: number;
  /** The bytes of a committed page (cached, read-only). */
  readPage(pgid: number): Buffer;
  /** Takes `count` contiguous pages for this transaction. */
  allocate(count: number): number;
  /** Frees `count` pages starting at `pgid` (pending until no reader can see them). */
  free(pgid: number, count: number): void;
  /** Queues a page to be written at commit. */
  dirty(pgid: number, buf: Buffer): void;
  /** An unzeroed buffer of `bytes` for a new page (never written again once queued). */
  pageBuffer(bytes: number): Buffer;
}

const EMPTY = Buffer.alloc(0);

export class Node {
  /** Set when keys were removed: rebalance looks at it. */
  unbalanced = false;

  constructor(
    public isLeaf: boolean,
    public inodes: Inode[],
    /** The page this node was read from (0: a new node, or an inline bucket's root). */
    public pgid: number,
    /** Pages that page spans (overflow + 1), freed together. */
    public span: number,
  ) {}

  /** Materialises the page at (buf, off); `pgid` is 0 for an inline page. */
  static fromPage(buf: Buffer, off: number, pgid: number): Node {
    const flags = pageFlags(buf, off);
    const count = pageCount(buf, off);
    const span = pgid === 0 ? 0 : pageOverflow(buf, off) + 1;
    const inodes = new Array<Inode>(count);
    // Exact type tests: a page is exactly one kind; stray bits mean corruption, not a guess.
    if (flags === LEAF_PAGE_FLAG) {
      for (let i = 0; i < count; i++) {
        inodes[i] = new Inode(leafFlags(buf, off, i), leafKey(buf, off, i), leafValue(buf, off, i), 0, null);
      }
      return new Node(true, inodes, pgid, span);
    }
    if (flags === BRANCH_PAGE_FLAG) {
      for (let i = 0; i < count; i++) {
        inodes[i] = new Inode(0, branchKey(buf, off, i), null, branchChild(buf, off, i), null);
      }
      return new Node(false, inodes, pgid, span);
    }
    throw badPageType(pgid, flags);
  }

  minKeys(): number {
    return this.isLeaf ? 1 : 2;
  }

  /** Bytes this node takes as a page. */
  size(): number {
    return this.rangeSize(0, this.inodes.length);
  }

  /** Bytes a page holding inodes [from, to) takes. */
  rangeSize(from: number, to: number): number {
    let sz = PAGE_HEADER_SIZE;
    const inodes = this.inodes;
    if (this.isLeaf) {
      for (let i = from; i < to; i++) sz += LEAF_ELEMENT_SIZE + inodes[i]!.key.length + inodes[i]!.value!.length;
    } else {
      for (let i = from; i < to; i++) sz += BRANCH_ELEMENT_SIZE + inodes[i]!.key.length;
    }
    return sz;
  }

  /**
   * Leaf: index of the first inode with key >= `key` (inodes.length when none); the result is
   * `~index` (negative) when the key at that index equals `key`.
   */
  search(key: Buffer): number {
    const inodes = this.inodes;
    let lo = 0;
    let hi = inodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(inodes[mid]!.key, key);
      if (c === 0) return ~mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Branch: index of the child covering `key` (the last inode with key <= `key`, else 0). */
  childIndex(key: Buffer): number {
    const inodes = this.inodes;
    let lo = 0;
    let hi = inodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(inodes[mid]!.key, key);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
  }

  /** The child node at branch index `i`, materialising it from its page on first use. */
  childAt(ctx: TreeContext, i: number): Node {
    assert(!this.isLeaf, 'childAt on a leaf node');
    const inode = this.inodes[i]!;
    if (inode.child !== null) return inode.child;
    const buf = ctx.readPage(inode.pgid);
    const child = Node.fromPage(buf, 0, inode.pgid);
    inode.child = child;
    return child;
  }

  /** Leaf: inserts or replaces `key`. */
  put(key: Buffer, value: Buffer, flags: number): void {
    assert(this.isLeaf && key.length > 0, 'put: leaf node and non-empty key required');
    const r = this.search(key);
    if (r < 0) {
      const inode = this.inodes[~r]!;
      inode.flags = flags;
      inode.value = value;
    } else if (r === this.inodes.length) {
      this.inodes.push(new Inode(flags, key, value, 0, null));
    } else {
      this.inodes.splice(r, 0, new Inode(flags, key, value, 0, null));
    }
  }

  /** Leaf: inserts `inode` at `index` (found by search(); the key is not present). */
  insertAt(index: number, inode: Inode): void {
    if (index === this.inodes.length) this.inodes.push(inode);
    else this.inodes.splice(index, 0, inode);
  }

  /** Leaf: removes the inode at `index`. */
  removeAt(index: number): void {
    this.inodes.splice(index, 1);
    this.unbalanced = true;
  }

  /**
   * Encodes inodes [from, to) as a page at (buf, off) with header id `id`; returns the offset
   * just past the last byte written.
   */
  writePage(buf: Buffer, off: number, id: number, from: number, to: number, overflow: number): number {
    const count = to - from;
    assert(count <= MAX_PAGE_ELEMENTS, () => `inode overflow: ${count} elements on page ${id}`);
    writePageHeader(buf, off, id, this.isLeaf ? LEAF_PAGE_FLAG : BRANCH_PAGE_FLAG, count, overflow);
    let data = off + PAGE_HEADER_SIZE + count * 16;
    const inodes = this.inodes;
    for (let i = from; i < to; i++) {
      const item = inodes[i]!;
      const el = off + PAGE_HEADER_SIZE + (i - from) * 16;
      const key = item.key;
      assert(key.length > 0, 'write: zero-length key');
      if (this.isLeaf) {
        const value = item.value!;
        buf.writeUInt32LE(item.flags, el);
        buf.writeUInt32LE(data - el, el + 4);
        buf.writeUInt32LE(key.length, el + 8);
        buf.writeUInt32LE(value.length, el + 12);
        data += key.copy(buf, data);
        data += value.copy(buf, data);
      } else {
        assert(item.pgid !== id && item.pgid >= 2, () => `write: bad child page ${item.pgid} on page ${id}`);
        buf.writeUInt32LE(data - el, el);
        buf.writeUInt32LE(key.length, el + 4);
        writeU64(buf, el + 8, item.pgid);
        data += key.copy(buf, data);
      }
    }
    return data;
  }
}

/**
 * Where to cut a node into pages: the start index of each piece. Mirrors bbolt's split: a node
 * with more than 4 inodes and at least a page of bytes is cut after the inodes that fill
 * `fillPercent` of a page (at least 2 per piece, and the remainder keeps at least 3 when the
 * scan runs out), then the remainder is cut the same way.
 */
export function splitPoints(n: Node, pageSize: number, fillPercent: number): number[] {
  const starts = [0];
  const inodes = n.inodes;
  const len = inodes.length;
  const elemSize = n.isLeaf ? LEAF_ELEMENT_SIZE : BRANCH_ELEMENT_SIZE;
  const threshold = Math.floor(pageSize * Math.min(1, Math.max(0.1, fillPercent)));
  let rest = n.rangeSize(0, len); // size of the remainder as one page
  let start = 0;
  for (;;) {
    const count = len - start;
    if (count <= MIN_KEYS_PER_PAGE * 2 || rest < pageSize) break;
    let sz = PAGE_HEADER_SIZE;
    let index = 0;
    let pieceSize = PAGE_HEADER_SIZE; // size of the piece [start, start + index)
    for (let i = 0; i < count - MIN_KEYS_PER_PAGE; i++) {
      index = i;
      pieceSize = sz;
      const item = inodes[start + i]!;
      const el = elemSize + item.key.length + (item.value === null ? 0 : item.value.length);
      if (i >= MIN_KEYS_PER_PAGE && sz + el > threshold) break;
      sz += el;
    }
    start += index;
    starts.push(start);
    rest -= pieceSize - PAGE_HEADER_SIZE;
  }
  return starts;
}

/** Frees the page a node was read from (once). */
export function freeNode(ctx: TreeContext, n: Node): void {
  if (n.pgid !== 0) {
    ctx.free(n.pgid, n.span);
    n.pgid = 0;
  }
}

/**
 * Rebalances the materialised tree under `root` and returns the (possibly new) root node.
 * Children are handled before their parent so merges propagate upwards, and passes repeat
 * until nothing changes: a merge one level up can make small nodes siblings that were lone
 * children before (after mass deletes this shrinks the tree to its minimal shape in one commit,
 * where a single pass would leave chains of one-child branches).
 */
export function rebalanceTree(ctx: TreeContext, root: Node): Node {
  let r = root;
  for (;;) {
    const changed = !r.isLeaf && rebalanceChildren(ctx, r);
    // A root branch with one child is replaced by that child.
    while (!r.isLeaf && r.inodes.length === 1) {
      const child = r.childAt(ctx, 0);
      freeNode(ctx, r);
      r = child;
    }
    if (!r.isLeaf && r.inodes.length === 0) {
      freeNode(ctx, r);
      r = new Node(true, [], 0, 0);
    }
    if (!changed) return r;
  }
}

/** One pass over the children of `parent` (post-order); returns true when anything merged. */
function rebalanceChildren(ctx: TreeContext, parent: Node): boolean {
  let changed = false;
  for (const inode of parent.inodes) {
    if (inode.child !== null && !inode.child.isLeaf && rebalanceChildren(ctx, inode.child)) changed = true;
  }
  const threshold = ctx.pageSize / 4;
  const inodes = parent.inodes;
  let i = 0;
  while (i < inodes.length) {
    const c = inodes[i]!.child;
    if (c === null || !c.unbalanced) {
      i++;
      continue;
    }
    c.unbalanced = false;
    if (c.inodes.length > c.minKeys() && c.size() > threshold) {
      i++;
      continue;
    }
    if (c.inodes.length === 0) {
      freeNode(ctx, c);
      inodes.splice(i, 1);
      parent.unbalanced = true;
      changed = true;
      continue;
    }
    if (inodes.length < 2) {
      // A lone child has no sibling to merge with yet; keep it marked for a later pass, when
      // its parent may have merged with a sibling of its own.
      c.unbalanced = true;
      i++;
      continue;
    }
    if (i === 0) {
      const next = parent.childAt(ctx, 1);
      for (const x of next.inodes) c.inodes.push(x);
      freeNode(ctx, next);
      inodes.splice(1, 1);
      c.unbalanced = true; // re-examined next pass: it may still be small
      i = 1;
    } else {
      const prev = parent.childAt(ctx, i - 1);
      for (const x of c.inodes) prev.inodes.push(x);
      freeNode(ctx, c);
      inodes.splice(i, 1);
      prev.unbalanced = true;
    }
    parent.unbalanced = true;
    changed = true;
  }
  return changed;
}

/**
 * Writes the materialised tree under `root` into new pages, split at `fillPercent` of a page,
 * and returns the root page id. Every node in the tree is rewritten (it was materialised
 * because something under it changed).
 */
export function spillTree(ctx: TreeContext, root: Node, fillPercent = ctx.fillPercent): number {
  let pieces = spillNode(ctx, root, fillPercent);
  while (pieces.length > 1) {
    // The root split: a new root branch holds the pieces (and may itself split).
    pieces = spillNode(ctx, new Node(false, pieces, 0, 0), fillPercent);
  }
  return pieces[0]!.pgid;
}

function spillNode(ctx: TreeContext, n: Node, fillPercent: number): Inode[] {
  if (!n.isLeaf) {
    let out: Inode[] | null = null;
    const inodes = n.inodes;
    for (let i = 0; i < inodes.length; i++) {
      const child = inodes[i]!.child;
      if (child === null) {
        if (out !== null) out.push(inodes[i]!);
        continue;
      }
      out ??= inodes.slice(0, i);
      for (const piece of spillNode(ctx, child, fillPercent)) out.push(piece);
    }
    if (out !== null) n.inodes = out;
  }
  freeNode(ctx, n);
  const ps = ctx.pageSize;
  const starts = splitPoints(n, ps, fillPercent);
  const pieces: Inode[] = [];
  for (let s = 0; s < starts.length; s++) {
    const from = starts[s]!;
    const to = s + 1 < starts.length ? starts[s + 1]! : n.inodes.length;
    const count = Math.ceil(n.rangeSize(from, to) / ps);
    const pgid = ctx.allocate(count);
    // The buffer comes unzeroed; only the unused tail is zeroed, so files are reproducible.
    const buf = ctx.pageBuffer(count * ps);
    buf.fill(0, n.writePage(buf, 0, pgid, from, to, count - 1));
    ctx.dirty(pgid, buf);
    pieces.push(new Inode(0, from < to ? n.inodes[from]!.key : EMPTY, null, pgid, null));
  }
  return pieces;
}
