import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inode, Node, rebalanceTree, spillTree, splitPoints, type TreeContext } from './node';
import { BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG, branchChild, branchKey, leafKey, pageCount, pageFlags, pageOverflow } from './page';

/** An in-memory page store standing in for a transaction. */
class MemPages implements TreeContext {
  readonly pages = new Map<number, Buffer>();
  readonly freed: number[] = [];
  next = 2;
  constructor(readonly pageSize = 4096, readonly fillPercent = 0.5) {}
  readPage(pgid: number): Buffer {
    const p = this.pages.get(pgid);
    assert.ok(p, `page ${pgid} missing`);
    return p;
  }
  allocate(count: number): number {
    const id = this.next;
    this.next += count;
    return id;
  }
  free(pgid: number, count: number): void {
    for (let i = 0; i < count; i++) this.freed.push(pgid + i);
  }
  dirty(pgid: number, buf: Buffer): void {
    this.pages.set(pgid, buf);
  }
  pageBuffer(bytes: number): Buffer {
    return Buffer.allocUnsafe(bytes).fill(0xee); // garbage the writer must overwrite or zero
  }
  /** Keys of the tree under `pgid`, in order, checking every page is a leaf or branch. */
  keys(pgid: number, out: string[] = [], depth = 0, depths: number[] = []): string[] {
    const p = this.readPage(pgid);
    const n = pageCount(p, 0);
    if (pageFlags(p, 0) & LEAF_PAGE_FLAG) {
      depths.push(depth);
      for (let i = 0; i < n; i++) out.push(leafKey(p, 0, i).toString());
    } else {
      assert.equal(pageFlags(p, 0), BRANCH_PAGE_FLAG);
      for (let i = 0; i < n; i++) {
        const first = out.length;
        this.keys(branchChild(p, 0, i), out, depth + 1, depths);
        assert.equal(branchKey(p, 0, i).toString(), out[first], 'branch key is the child\'s first key');
      }
    }
    return out;
  }
}

const key = (i: number): Buffer => Buffer.from(`key-${String(i).padStart(6, '0')}`);
const leafOf = (from: number, to: number, valueBytes = 50): Node =>
  new Node(true, Array.from({ length: to - from }, (_, j) => new Inode(0, key(from + j), Buffer.alloc(valueBytes, 1), 0, null)), 0, 0);

test('a small node is not split; at most 4 inodes are never split whatever their size', () => {
  assert.deepEqual(splitPoints(leafOf(0, 10), 4096, 0.5), [0]);
  assert.deepEqual(splitPoints(leafOf(0, 4, 3000), 4096, 0.5), [0]);
});

test('splitting cuts at fillPercent of a page, keeps >= 2 inodes per piece, and loses nothing', () => {
  const n = leafOf(0, 1000);
  // Each element is 16 + 10 + 50 = 76 bytes; 50% of 4096 fits (2048-16)/76 = 26 elements.
  const starts = splitPoints(n, 4096, 0.5);
  assert.equal(starts[1], 26);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 2);
  assert.ok(1000 - starts[starts.length - 1]! >= 2);
  const full = splitPoints(n, 4096, 1.0);
  assert.equal(full[1], 53); // (4096-16)/76 = 53.7
  const ctx = new MemPages();
  const root = spillTree(ctx, n);
  const keys = ctx.keys(root);
  assert.equal(keys.length, 1000);
  assert.deepEqual(keys, Array.from({ length: 1000 }, (_, i) => key(i).toString()));
});

test('a node larger than a page with few inodes goes to overflow pages', () => {
  const ctx = new MemPages();
  const n = leafOf(0, 2, 10_000);
  const root = spillTree(ctx, n);
  const p = ctx.readPage(root);
  assert.equal(pageOverflow(p, 0), Math.ceil((16 + 2 * (16 + 10 + 10_000)) / 4096) - 1);
  assert.equal(p.length, (pageOverflow(p, 0) + 1) * 4096);
  assert.deepEqual(ctx.keys(root), [key(0).toString(), key(1).toString()]);
});

test('spill grows the tree upwards: 50k keys make a 3-level tree with all leaves at one depth', () => {
  const ctx = new MemPages();
  const root = spillTree(ctx, leafOf(0, 50_000, 10));
  const depths: number[] = [];
  const keys = ctx.keys(root, [], 0, depths);
  assert.equal(keys.length, 50_000);
  assert.ok(new Set(depths).size === 1 && depths[0]! >= 2, `leaf depths ${[...new Set(depths)]}`);
});

test('rebalance merges underfull leaves into a sibling, removes empty ones, and collapses the root', () => {
  const ctx = new MemPages();
  const rootId = spillTree(ctx, leafOf(0, 200));
  const rootPage = ctx.readPage(rootId);
  const children = pageCount(rootPage, 0);
  assert.ok(children >= 5);
  // Delete everything but 3 keys from the second leaf and all keys from the third.
  const root = Node.fromPage(rootPage, 0, rootId);
  const second = root.childAt(ctx, 1);
  let removed = 0;
  while (second.inodes.length > 3) {
    second.removeAt(3);
    removed++;
  }
  const third = root.childAt(ctx, 2);
  const thirdPgid = third.pgid;
  while (third.inodes.length > 0) {
    third.removeAt(0);
    removed++;
  }
  const secondPgid = second.pgid;
  const newRoot = rebalanceTree(ctx, root);
  assert.equal(newRoot, root);
  assert.equal(root.inodes.length, children - 2, 'empty leaf removed and small leaf merged into its left sibling');
  assert.ok(ctx.freed.includes(thirdPgid) && ctx.freed.includes(secondPgid));
  const id = spillTree(ctx, newRoot);
  assert.equal(ctx.keys(id).length, 200 - removed);

  // Now delete nearly everything: the root collapses to a single leaf.
  const r2 = Node.fromPage(ctx.readPage(id), 0, id);
  for (let i = 0; i < r2.inodes.length; i++) {
    const c = r2.childAt(ctx, i);
    while (c.inodes.length > (i === 0 ? 1 : 0)) c.removeAt(c.inodes.length - 1);
  }
  const collapsed = rebalanceTree(ctx, r2);
  assert.ok(collapsed.isLeaf);
  assert.equal(collapsed.inodes.length, 1);
});

test('after mass deletes one rebalance shrinks a deep tree to its minimal shape', () => {
  const ctx = new MemPages(1024);
  let rootId = spillTree(ctx, leafOf(0, 20_000, 10));
  const depthOf = (id: number): number => {
    const depths: number[] = [];
    ctx.keys(id, [], 0, depths);
    return depths[0]!;
  };
  assert.ok(depthOf(rootId) >= 3);
  // Materialise every leaf and keep one key in every 2000.
  const root = Node.fromPage(ctx.readPage(rootId), 0, rootId);
  const prune = (n: Node): void => {
    for (let i = 0; i < n.inodes.length; i++) {
      const c = n.childAt(ctx, i);
      if (!c.isLeaf) prune(c);
      else for (let j = c.inodes.length - 1; j >= 0; j--) if (Number(c.inodes[j]!.key.toString().slice(4)) % 2000 !== 0) c.removeAt(j);
    }
  };
  prune(root);
  rootId = spillTree(ctx, rebalanceTree(ctx, root));
  assert.deepEqual(ctx.keys(rootId), Array.from({ length: 10 }, (_, i) => key(i * 2000).toString()));
  assert.equal(depthOf(rootId), 0, 'ten small keys fit one leaf: no branch level is left');
});
