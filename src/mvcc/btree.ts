/**
 * An in-memory ordered map: a B+tree with wide nodes (64 entries by default, the fan-out of
 * the degree-32 google/btree that etcd's index uses).
 *
 * Why a B+tree: every entry lives in a leaf and leaves are chained both ways, so a range scan
 * is a seek (O(log n)) followed by a walk along arrays, with no stack and no allocation per
 * entry. Wide nodes keep the tree shallow (four levels hold tens of millions of keys) and the
 * per-entry overhead low (two array slots).
 *
 * Keys are ordered by the comparator given at construction. The MVCC index keys it by binary
 * strings (see tree-index.ts); `compareBuffers` orders Buffer keys byte-wise.
 *
 * Iteration rules: a visitor must not change the tree it is walking, and a Cursor is invalid
 * once the tree changes. Both are checked (a change bumps a version counter) and break with
 * an AssertionError rather than silently skipping or repeating entries.
 */
import { assert } from '../pkg';

/** A comparator: negative when a < b, zero when equal, positive when a > b. */
export type Compare<K> = (a: K, b: K) => number;

/** Called for each entry in order; return `false` to stop the walk (anything else goes on). */
export type Visitor<K, V> = (key: K, value: V) => boolean | void;

/** Byte-wise order of Buffers (shorter first on a common prefix), as bytes.Compare in Go. */
export const compareBuffers: Compare<Uint8Array> = Buffer.compare;

/**
 * Byte-wise order of binary strings (one char per byte, 0..255, as `buf.toString('latin1')`
 * makes them): JS compares strings by UTF-16 code unit, which for such strings is byte order.
 */
export function compareBinaryStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Default and smallest allowed node capacity (entries per leaf, children per branch). */
export const DEFAULT_NODE_CAPACITY = 64;
export const MIN_NODE_CAPACITY = 4;

class Leaf<K, V> {
  keys: K[];
  vals: V[];
  prev: Leaf<K, V> | null = null;
  next: Leaf<K, V> | null = null;

  constructor(keys: K[], vals: V[]) {
    this.keys = keys;
    this.vals = vals;
  }
}

/**
 * An inner node. `keys[i]` separates `children[i]` from `children[i + 1]`: every key under
 * children[i] is < keys[i] <= every key under children[i + 1]. A separator may outlive the key
 * it was copied from (deleting the smallest key of a leaf leaves it in place); the rule still
 * holds, which is all that searches need.
 */
class Branch<K, V> {
  keys: K[];
  children: Array<Node<K, V>>;

  constructor(keys: K[], children: Array<Node<K, V>>) {
    this.keys = keys;
    this.children = children;
  }
}

type Node<K, V> = Leaf<K, V> | Branch<K, V>;

/** Options of a BTree. */
export interface BTreeOptions {
  /** Entries per leaf and children per branch before a split; at least 4. Default 64. */
  nodeCapacity?: number;
}

/** An ordered map from K to V. */
export class BTree<K, V> {
  private readonly cmp: Compare<K>;
  private readonly max: number;
  private readonly min: number;
  private root: Node<K, V>;
  private count = 0;
  /** Bumped by every structural change; walks and cursors check it (see the file comment). */
  private version = 0;
  // Side channel of insert(): the separator of the node split off, and whether a new entry was
  // added. Fields rather than a returned object so that inserts allocate nothing on the way up.
  private splitKey: K | undefined = undefined;
  private added = false;

  constructor(compare: Compare<K>, options: BTreeOptions = {}) {
    const capacity = options.nodeCapacity ?? DEFAULT_NODE_CAPACITY;
    assert(Number.isInteger(capacity) && capacity >= MIN_NODE_CAPACITY, `btree: node capacity ${capacity} below ${MIN_NODE_CAPACITY}`);
    this.cmp = compare;
    this.max = capacity;
    this.min = capacity >> 1;
    this.root = new Leaf<K, V>([], []);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Removes every entry. */
  clear(): void {
    this.root = new Leaf<K, V>([], []);
    this.count = 0;
    this.version++;
  }

  /** The value stored under `key`, or undefined. */
  get(key: K): V | undefined {
    const leaf = this.findLeaf(key);
    const i = this.lowerBound(leaf.keys, key);
    if (i < leaf.keys.length && this.cmp(leaf.keys[i] as K, key) === 0) return leaf.vals[i];
    return undefined;
  }

  /** True when `key` is present. */
  has(key: K): boolean {
    const leaf = this.findLeaf(key);
    const i = this.lowerBound(leaf.keys, key);
    return i < leaf.keys.length && this.cmp(leaf.keys[i] as K, key) === 0;
  }

  /**
   * Stores `value` under `key`, replacing any value there. Returns true when the key is new.
   * An existing key keeps its stored key object; only the value is replaced.
   */
  set(key: K, value: V): boolean {
    this.added = false;
    const right = this.insert(this.root, key, value);
    if (right !== null) {
      this.root = new Branch<K, V>([this.splitKey as K], [this.root, right]);
      this.splitKey = undefined;
    }
    if (this.added) this.version++;
    return this.added;
  }

  /** Removes `key`. Returns true when it was present. */
  delete(key: K): boolean {
    const found = this.remove(this.root, key);
    if (!found) return false;
    const root = this.root;
    if (root instanceof Branch && root.children.length === 1) this.root = root.children[0] as Node<K, V>;
    this.version++;
    return true;
  }

  /** The smallest key, or undefined when empty. */
  minKey(): K | undefined {
    let n = this.root;
    while (n instanceof Branch) n = n.children[0] as Node<K, V>;
    return n.keys[0];
  }

  /** The largest key, or undefined when empty. */
  maxKey(): K | undefined {
    let n = this.root;
    while (n instanceof Branch) n = n.children[n.children.length - 1] as Node<K, V>;
    return n.keys[n.keys.length - 1];
  }

  /** Visits entries with key >= `gte` (every entry when `gte` is undefined) in ascending order. */
  ascendFrom(gte: K | undefined, visit: Visitor<K, V>): void {
    this.ascendRange(gte, undefined, visit);
  }

  /**
   * Visits entries with `gte` <= key < `lt` in ascending order; an undefined bound is open.
   * The visitor must not change the tree.
   */
  ascendRange(gte: K | undefined, lt: K | undefined, visit: Visitor<K, V>): void {
    let leaf: Leaf<K, V> | null;
    let i: number;
    if (gte === undefined) {
      leaf = this.firstLeaf();
      i = 0;
    } else {
      leaf = this.findLeaf(gte);
      i = this.lowerBound(leaf.keys, gte);
    }
    const version = this.version;
    const cmp = this.cmp;
    while (leaf !== null) {
      const keys = leaf.keys;
      const vals = leaf.vals;
      for (; i < keys.length; i++) {
        const k = keys[i] as K;
        if (lt !== undefined && cmp(k, lt) >= 0) return;
        const goOn = visit(k, vals[i] as V);
        assert(this.version === version, 'btree: changed during a walk');
        if (goOn === false) return;
      }
      leaf = leaf.next;
      i = 0;
    }
  }

  /** Visits entries with key <= `lte` (every entry when undefined) in descending order. */
  descendFrom(lte: K | undefined, visit: Visitor<K, V>): void {
    this.descendRange(lte, undefined, visit);
  }

  /**
   * Visits entries with `lte` >= key > `gt` in descending order; an undefined bound is open.
   * The visitor must not change the tree.
   */
  descendRange(lte: K | undefined, gt: K | undefined, visit: Visitor<K, V>): void {
    let leaf: Leaf<K, V> | null;
    let i: number;
    if (lte === undefined) {
      leaf = this.lastLeaf();
      i = leaf.keys.length - 1;
    } else {
      leaf = this.findLeaf(lte);
      i = this.upperBound(leaf.keys, lte) - 1;
    }
    const version = this.version;
    const cmp = this.cmp;
    while (leaf !== null) {
      const keys = leaf.keys;
      const vals = leaf.vals;
      for (; i >= 0; i--) {
        const k = keys[i] as K;
        if (gt !== undefined && cmp(k, gt) <= 0) return;
        const goOn = visit(k, vals[i] as V);
        assert(this.version === version, 'btree: changed during a walk');
        if (goOn === false) return;
      }
      leaf = leaf.prev;
      if (leaf !== null) i = leaf.keys.length - 1;
    }
  }

  /**
   * A cursor at the first entry with key >= `gte` (the first entry when undefined): iteration
   * without a callback. It becomes invalid, and its methods assert, once the tree changes.
   */
  seek(gte?: K): Cursor<K, V> {
    if (gte === undefined) return new Cursor(this, this.firstLeaf(), 0, this.version);
    const leaf = this.findLeaf(gte);
    return new Cursor(this, leaf, this.lowerBound(leaf.keys, gte), this.version);
  }

  /** The version counter, for Cursor's staleness check. */
  get changeCount(): number {
    return this.version;
  }

  /**
   * Checks every structural rule; O(n), for tests and verify mode: keys strictly ascending
   * across the leaf chain, separators bracketing their children, node fill within bounds, all
   * leaves at one depth, size matching. Throws an AssertionError naming the broken rule.
   */
  checkInvariants(): void {
    let leafDepth = -1;
    const leaves: Array<Leaf<K, V>> = [];
    const walk = (n: Node<K, V>, depth: number, lo: K | undefined, hi: K | undefined): void => {
      const isRoot = n === this.root;
      if (n instanceof Leaf) {
        assert(n.keys.length === n.vals.length, 'btree: leaf keys and values differ in length');
        assert(n.keys.length <= this.max, 'btree: leaf over capacity');
        assert(isRoot || n.keys.length >= this.min, 'btree: leaf under minimum fill');
        if (leafDepth === -1) leafDepth = depth;
        assert(leafDepth === depth, 'btree: leaves at different depths');
        for (let i = 0; i < n.keys.length; i++) {
          const k = n.keys[i] as K;
          if (lo !== undefined) assert(this.cmp(k, lo) >= 0, 'btree: key below its separator');
          if (hi !== undefined) assert(this.cmp(k, hi) < 0, 'btree: key at or above its separator');
        }
        leaves.push(n);
        return;
      }
      assert(n.keys.length === n.children.length - 1, 'btree: branch keys do not match children');
      assert(n.children.length <= this.max, 'btree: branch over capacity');
      assert(n.children.length >= (isRoot ? 2 : this.min), 'btree: branch under minimum fill');
      for (let i = 0; i < n.children.length; i++) {
        walk(n.children[i] as Node<K, V>, depth + 1, i === 0 ? lo : n.keys[i - 1], i === n.keys.length ? hi : n.keys[i]);
      }
    };
    walk(this.root, 0, undefined, undefined);
    let total = 0;
    let prevKey: K | undefined;
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i] as Leaf<K, V>;
      assert(leaf.prev === (i === 0 ? null : leaves[i - 1]), 'btree: broken prev link');
      assert(leaf.next === (i === leaves.length - 1 ? null : leaves[i + 1]), 'btree: broken next link');
      for (const k of leaf.keys) {
        if (prevKey !== undefined) assert(this.cmp(prevKey, k) < 0, 'btree: keys not strictly ascending');
        prevKey = k;
      }
      total += leaf.keys.length;
    }
    assert(total === this.count, `btree: size ${this.count} but ${total} entries`);
  }

  // ---- internals ----

  private firstLeaf(): Leaf<K, V> {
    let n = this.root;
    while (n instanceof Branch) n = n.children[0] as Node<K, V>;
    return n;
  }

  private lastLeaf(): Leaf<K, V> {
    let n = this.root;
    while (n instanceof Branch) n = n.children[n.children.length - 1] as Node<K, V>;
    return n;
  }

  /** The leaf where `key` is or would be. */
  private findLeaf(key: K): Leaf<K, V> {
    let n = this.root;
    while (n instanceof Branch) n = n.children[this.upperBound(n.keys, key)] as Node<K, V>;
    return n;
  }

  /** First index whose key is >= `key` (keys.length when none). */
  private lowerBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    const cmp = this.cmp;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(keys[mid] as K, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose key is > `key` (keys.length when none). */
  private upperBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    const cmp = this.cmp;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(keys[mid] as K, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Inserts into the subtree at `n`. Returns the new right sibling when `n` split (its
   * separator left in `splitKey`), else null.
   */
  private insert(n: Node<K, V>, key: K, value: V): Node<K, V> | null {
    if (n instanceof Leaf) {
      const i = this.lowerBound(n.keys, key);
      if (i < n.keys.length && this.cmp(n.keys[i] as K, key) === 0) {
        n.vals[i] = value;
        return null;
      }
      n.keys.splice(i, 0, key);
      n.vals.splice(i, 0, value);
      this.count++;
      this.added = true;
      if (n.keys.length <= this.max) return null;
      return this.splitLeaf(n);
    }
    const ci = this.upperBound(n.keys, key);
    const right = this.insert(n.children[ci] as Node<K, V>, key, value);
    if (right === null) return null;
    n.keys.splice(ci, 0, this.splitKey as K);
    n.children.splice(ci + 1, 0, right);
    if (n.children.length <= this.max) return null;
    return this.splitBranch(n);
  }

  private splitLeaf(leaf: Leaf<K, V>): Leaf<K, V> {
    const mid = leaf.keys.length >>> 1;
    const right = new Leaf<K, V>(leaf.keys.slice(mid), leaf.vals.slice(mid));
    leaf.keys.length = mid;
    leaf.vals.length = mid;
    right.next = leaf.next;
    if (right.next !== null) right.next.prev = right;
    right.prev = leaf;
    leaf.next = right;
    this.splitKey = right.keys[0];
    return right;
  }

  private splitBranch(b: Branch<K, V>): Branch<K, V> {
    // Left keeps `mid` children and mid - 1 separators; separator mid - 1 moves up.
    const mid = b.children.length >>> 1;
    const right = new Branch<K, V>(b.keys.slice(mid), b.children.slice(mid));
    this.splitKey = b.keys[mid - 1];
    b.keys.length = mid - 1;
    b.children.length = mid;
    return right;
  }

  /** Removes `key` from the subtree at `n`; the caller repairs `n` if it is left underfull. */
  private remove(n: Node<K, V>, key: K): boolean {
    if (n instanceof Leaf) {
      const i = this.lowerBound(n.keys, key);
      if (i >= n.keys.length || this.cmp(n.keys[i] as K, key) !== 0) return false;
      n.keys.splice(i, 1);
      n.vals.splice(i, 1);
      this.count--;
      return true;
    }
    const ci = this.upperBound(n.keys, key);
    const child = n.children[ci] as Node<K, V>;
    if (!this.remove(child, key)) return false;
    if (fill(child) < this.min) this.rebalance(n, ci);
    return true;
  }

  /** Refills the underfull child `ci` of `parent` from a sibling, or merges it with one. */
  private rebalance(parent: Branch<K, V>, ci: number): void {
    const child = parent.children[ci] as Node<K, V>;
    const left = ci > 0 ? (parent.children[ci - 1] as Node<K, V>) : null;
    const right = ci + 1 < parent.children.length ? (parent.children[ci + 1] as Node<K, V>) : null;
    if (left !== null && fill(left) > this.min) {
      if (child instanceof Leaf) {
        const l = left as Leaf<K, V>;
        child.keys.unshift(l.keys.pop() as K);
        child.vals.unshift(l.vals.pop() as V);
        parent.keys[ci - 1] = child.keys[0] as K;
      } else {
        const l = left as Branch<K, V>;
        child.keys.unshift(parent.keys[ci - 1] as K);
        child.children.unshift(l.children.pop() as Node<K, V>);
        parent.keys[ci - 1] = l.keys.pop() as K;
      }
      return;
    }
    if (right !== null && fill(right) > this.min) {
      if (child instanceof Leaf) {
        const r = right as Leaf<K, V>;
        child.keys.push(r.keys.shift() as K);
        child.vals.push(r.vals.shift() as V);
        parent.keys[ci] = r.keys[0] as K;
      } else {
        const r = right as Branch<K, V>;
        child.keys.push(parent.keys[ci] as K);
        child.children.push(r.children.shift() as Node<K, V>);
        parent.keys[ci] = r.keys.shift() as K;
      }
      return;
    }
    // Neither sibling can spare an entry: both hold exactly `min`, so a merge fits in `max`.
    if (left !== null) this.merge(parent, ci - 1);
    else if (right !== null) this.merge(parent, ci);
    else assert(false, 'btree: a non-root branch with a single child');
  }

  /** Merges children `i` and `i + 1` of `parent` into child `i`. */
  private merge(parent: Branch<K, V>, i: number): void {
    const a = parent.children[i] as Node<K, V>;
    const b = parent.children[i + 1] as Node<K, V>;
    if (a instanceof Leaf) {
      const bl = b as Leaf<K, V>;
      for (let j = 0; j < bl.keys.length; j++) {
        a.keys.push(bl.keys[j] as K);
        a.vals.push(bl.vals[j] as V);
      }
      a.next = bl.next;
      if (a.next !== null) a.next.prev = a;
    } else {
      const bb = b as Branch<K, V>;
      a.keys.push(parent.keys[i] as K);
      for (const k of bb.keys) a.keys.push(k);
      for (const c of bb.children) a.children.push(c);
    }
    parent.keys.splice(i, 1);
    parent.children.splice(i + 1, 1);
  }
}

function fill<K, V>(n: Node<K, V>): number {
  return n instanceof Leaf ? n.keys.length : n.children.length;
}

/**
 * A position in a BTree, moving forward or backward along the leaf chain. Valid only until the
 * tree changes (checked).
 */
export class Cursor<K, V> {
  private readonly tree: BTree<K, V>;
  private leaf: Leaf<K, V> | null;
  private i: number;
  private readonly version: number;

  /** @internal Made by BTree.seek(). */
  constructor(tree: BTree<K, V>, leaf: Leaf<K, V>, i: number, version: number) {
    this.tree = tree;
    this.leaf = leaf;
    this.i = i;
    this.version = version;
    this.settleForward();
  }

  /** True while the cursor is on an entry. */
  get valid(): boolean {
    this.checkFresh();
    return this.leaf !== null;
  }

  /** The key under the cursor (the cursor must be valid). */
  get key(): K {
    this.checkFresh();
    assert(this.leaf !== null, 'btree: cursor is past the end');
    return this.leaf.keys[this.i] as K;
  }

  /** The value under the cursor (the cursor must be valid). */
  get value(): V {
    this.checkFresh();
    assert(this.leaf !== null, 'btree: cursor is past the end');
    return this.leaf.vals[this.i] as V;
  }

  /** Moves to the next entry in ascending order; the cursor becomes invalid past the last. */
  next(): void {
    this.checkFresh();
    assert(this.leaf !== null, 'btree: next() on an exhausted cursor');
    this.i++;
    this.settleForward();
  }

  /** Moves to the previous entry; the cursor becomes invalid before the first. */
  prev(): void {
    this.checkFresh();
    assert(this.leaf !== null, 'btree: prev() on an exhausted cursor');
    this.i--;
    while (this.leaf !== null && this.i < 0) {
      this.leaf = this.leaf.prev;
      if (this.leaf !== null) this.i = this.leaf.keys.length - 1;
    }
  }

  private settleForward(): void {
    while (this.leaf !== null && this.i >= this.leaf.keys.length) {
      this.leaf = this.leaf.next;
      this.i = 0;
    }
  }

  private checkFresh(): void {
    assert(this.tree.changeCount === this.version, 'btree: cursor used after the tree changed');
  }
}
