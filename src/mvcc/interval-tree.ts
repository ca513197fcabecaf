/**
 * Half-open intervals [start, end) of binary strings (one char per byte, as the tree index
 * keys them), each with a value, answering "which intervals contain this point" in
 * O(log n + answers). An `end` of null means no end: every key from `start` on.
 *
 * Why: the watchable store finds, for each changed key, the range watchers that cover it;
 * Kubernetes-style users hold thousands of prefix watches, so a scan over all of them per
 * event would not do.
 *
 * Shape: a treap (binary search tree by (start, end), heap-ordered by a priority) in which each
 * node also holds the greatest end in its subtree, so a search skips every subtree whose
 * intervals all end at or before the point. Priorities come from a fixed-seed generator, so
 * the shape, and every walk order, is the same on every run. Results come in (start, end)
 * order.
 */
import { assert } from '../pkg';

/** An interval's end: a binary string, or null for "no end". */
export type IntervalEnd = string | null;

interface TreapNode<V> {
  readonly start: string;
  readonly end: IntervalEnd;
  value: V;
  readonly priority: number;
  left: TreapNode<V> | null;
  right: TreapNode<V> | null;
  /** Greatest end in this subtree (null: unbounded). */
  maxEnd: IntervalEnd;
}

/** Orders ends with null (no end) greatest. */
function compareEnds(a: IntervalEnd, b: IntervalEnd): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function compareIntervals(aStart: string, aEnd: IntervalEnd, bStart: string, bEnd: IntervalEnd): number {
  if (aStart !== bStart) return aStart < bStart ? -1 : 1;
  return compareEnds(aEnd, bEnd);
}

function maxEnd(a: IntervalEnd, b: IntervalEnd): IntervalEnd {
  return compareEnds(a, b) >= 0 ? a : b;
}

function update<V>(n: TreapNode<V>): void {
  let m = n.end;
  if (n.left !== null) m = maxEnd(m, n.left.maxEnd);
  if (n.right !== null) m = maxEnd(m, n.right.maxEnd);
  n.maxEnd = m;
}

function rotateRight<V>(n: TreapNode<V>): TreapNode<V> {
  const l = n.left as TreapNode<V>;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<V>(n: TreapNode<V>): TreapNode<V> {
  const r = n.right as TreapNode<V>;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

/** A set of intervals with values; see the file comment. */
export class IntervalTree<V> {
  private root: TreapNode<V> | null = null;
  private count = 0;
  private seed = 0x2545f491;

  /** Number of intervals. */
  get size(): number {
    return this.count;
  }

  /** The value of exactly [start, end), if present. */
  get(start: string, end: IntervalEnd): V | undefined {
    let n = this.root;
    while (n !== null) {
      const c = compareIntervals(start, end, n.start, n.end);
      if (c === 0) return n.value;
      n = c < 0 ? n.left : n.right;
    }
    return undefined;
  }

  /** Sets the value of [start, end), adding the interval when new. */
  set(start: string, end: IntervalEnd, value: V): void {
    assert(end === null || start < end, 'intervalTree: empty interval');
    this.root = this.insert(this.root, start, end, value);
  }

  /** Removes [start, end); returns whether it was present. */
  delete(start: string, end: IntervalEnd): boolean {
    const before = this.count;
    this.root = this.remove(this.root, start, end);
    return this.count < before;
  }

  /** Calls `fn` with the value of every interval containing `point`, in interval order. */
  stab(point: string, fn: (value: V, start: string, end: IntervalEnd) => void): void {
    // Iterative in-order walk with pruning; an explicit stack keeps deep trees off the call stack.
    const stack: TreapNode<V>[] = [];
    let n = this.root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        // Nothing in this subtree contains the point when every end in it is <= point.
        if (n.maxEnd !== null && n.maxEnd <= point) {
          n = null;
          break;
        }
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop();
      if (top === undefined) break;
      if (top.start > point) break; // this node and everything after it start after the point
      if (top.end === null || point < top.end) fn(top.value, top.start, top.end);
      n = top.right;
    }
  }

  /** Calls `fn` for every interval in order (tests and diagnostics). */
  forEach(fn: (value: V, start: string, end: IntervalEnd) => void): void {
    const walk = (n: TreapNode<V> | null): void => {
      if (n === null) return;
      walk(n.left);
      fn(n.value, n.start, n.end);
      walk(n.right);
    };
    walk(this.root);
  }

  /** Checks order, heap and maxEnd invariants; O(n). */
  checkInvariants(): void {
    let seen = 0;
    const walk = (n: TreapNode<V> | null, lo: TreapNode<V> | null, hi: TreapNode<V> | null): IntervalEnd | undefined => {
      if (n === null) return undefined;
      seen++;
      if (lo !== null) assert(compareIntervals(lo.start, lo.end, n.start, n.end) < 0, 'intervalTree: order');
      if (hi !== null) assert(compareIntervals(n.start, n.end, hi.start, hi.end) < 0, 'intervalTree: order');
      if (n.left !== null) assert(n.left.priority <= n.priority, 'intervalTree: heap');
      if (n.right !== null) assert(n.right.priority <= n.priority, 'intervalTree: heap');
      let m: IntervalEnd = n.end;
      const l = walk(n.left, lo, n);
      const r = walk(n.right, n, hi);
      if (l !== undefined) m = maxEnd(m, l);
      if (r !== undefined) m = maxEnd(m, r);
      assert(m === n.maxEnd, 'intervalTree: maxEnd');
      return m;
    };
    walk(this.root, null, null);
    assert(seen === this.count, 'intervalTree: count');
  }

  private nextPriority(): number {
    // xorshift32: a fixed sequence, so tree shapes repeat from run to run.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }

  private insert(n: TreapNode<V> | null, start: string, end: IntervalEnd, value: V): TreapNode<V> {
    if (n === null) {
      this.count++;
      return { start, end, value, priority: this.nextPriority(), left: null, right: null, maxEnd: end };
    }
    const c = compareIntervals(start, end, n.start, n.end);
    if (c === 0) {
      n.value = value;
      return n;
    }
    if (c < 0) {
      n.left = this.insert(n.left, start, end, value);
      if (n.left.priority > n.priority) return rotateRight(n);
    } else {
      n.right = this.insert(n.right, start, end, value);
      if (n.right.priority > n.priority) return rotateLeft(n);
    }
    update(n);
    return n;
  }

  private remove(n: TreapNode<V> | null, start: string, end: IntervalEnd): TreapNode<V> | null {
    if (n === null) return null;
    const c = compareIntervals(start, end, n.start, n.end);
    if (c < 0) n.left = this.remove(n.left, start, end);
    else if (c > 0) n.right = this.remove(n.right, start, end);
    else {
      if (n.left === null) {
        this.count--;
        return n.right;
      }
      if (n.right === null) {
        this.count--;
        return n.left;
      }
      // Rotate the node down below its higher-priority child, then remove it there.
      if (n.left.priority > n.right.priority) {
        const top = rotateRight(n);
        top.right = this.remove(top.right, start, end);
        update(top);
        return top;
      }
      const top = rotateLeft(n);
      top.left = this.remove(top.left, start, end);
      update(top);
      return top;
    }
    update(n);
    return n;
  }
}
