/**
 * Watchers and the groups that find them by key.
 *
 * A watcher follows one key or one range from a revision on. Its keys are binary strings (one
 * char per byte), as in the tree index. A group finds the watchers of a changed key: single-key
 * watchers through a map, range watchers through an interval tree (one entry per distinct
 * range, holding every watcher of that range).
 *
 * Iteration orders are insertion orders (Map and Set), so for the same calls every walk, and
 * so everything sent to streams, comes in the same order.
 */
import { assert } from '../pkg';
import { IntervalTree, type IntervalEnd } from './interval-tree';

/** Where a watcher is in the watchable store. */
export type WatcherState = 'synced' | 'unsynced' | 'victim' | 'compacted' | 'canceled';

/** The part of a watcher that groups use (watchable-store.ts holds the rest). */
export interface GroupMember {
  /** First key (binary string). */
  readonly key: string;
  /** undefined: the single key `key`; null: every key from `key` on; else the range's end. */
  readonly end: IntervalEnd | undefined;
}

/** A set of watchers, indexed by key and range. */
export class WatcherGroup<W extends GroupMember> {
  private readonly byKey = new Map<string, Set<W>>();
  private readonly ranges = new IntervalTree<Set<W>>();
  private readonly members = new Set<W>();

  /** Number of watchers. */
  get size(): number {
    return this.members.size;
  }

  /** Every watcher, in insertion order. */
  get watchers(): ReadonlySet<W> {
    return this.members;
  }

  has(w: W): boolean {
    return this.members.has(w);
  }

  /** Adds a watcher; adding one twice is a broken invariant. */
  add(w: W): void {
    assert(!this.members.has(w), 'watcherGroup: watcher added twice');
    this.members.add(w);
    if (w.end === undefined) {
      let set = this.byKey.get(w.key);
      if (set === undefined) {
        set = new Set();
        this.byKey.set(w.key, set);
      }
      set.add(w);
      return;
    }
    let set = this.ranges.get(w.key, w.end);
    if (set === undefined) {
      set = new Set();
      this.ranges.set(w.key, w.end, set);
    }
    set.add(w);
  }

  /** Removes a watcher; returns whether it was in the group. */
  delete(w: W): boolean {
    if (!this.members.delete(w)) return false;
    if (w.end === undefined) {
      const set = this.byKey.get(w.key);
      assert(set !== undefined && set.delete(w), 'watcherGroup: key watcher missing from its set');
      if (set.size === 0) this.byKey.delete(w.key);
      return true;
    }
    const set = this.ranges.get(w.key, w.end);
    assert(set !== undefined && set.delete(w), 'watcherGroup: range watcher missing from its set');
    if (set.size === 0) this.ranges.delete(w.key, w.end);
    return true;
  }

  /** True when some watcher of the group covers `key`. */
  contains(key: string): boolean {
    if (this.byKey.has(key)) return true;
    let found = false;
    this.ranges.stab(key, () => {
      found = true;
    });
    return found;
  }

  /** Calls `fn` for every watcher covering `key`: single-key watchers first, then ranges in order. */
  forEachCovering(key: string, fn: (w: W) => void): void {
    const set = this.byKey.get(key);
    if (set !== undefined) for (const w of set) fn(w);
    if (this.ranges.size > 0) this.ranges.stab(key, (ws) => {
      for (const w of ws) fn(w);
    });
  }
}
