/**
 * The in-memory index over all keys: key -> KeyIndex (the key's revisions), in byte order.
 *
 * Reads ask it which revision of each key in a range is visible at a revision; the values
 * themselves live in the backend under those revisions. Writes tell it about each put and
 * tombstone. Compaction asks it which revisions must survive in the backend.
 *
 * Keys: callers pass Buffers (or any Uint8Array); inside, each key is a binary string (one
 * char per byte, 'latin1'). Such strings compare in byte order, about four times faster than
 * Buffer.compare, and take well under half the memory of a small Buffer, which matters at
 * millions of keys. The conversion copies, so the index never pins a request's buffer.
 *
 * Range ends, as in etcd's index:
 *   end === null                     the single key `key`;
 *   end empty, or the one byte 0x00  every key >= `key` (etcd's "from key");
 *   otherwise                        keys in [key, end); nothing when end <= key.
 *
 * Two structures hold the same key indexes: a B+tree in key order for ranges and compaction,
 * and hash maps for single-key work (put, tombstone, get, a range with a null end), which is
 * most of the traffic. With a million keys a tree descent costs some twenty cache misses
 * (about 4 us measured here) where a hash lookup costs one or two (under 1 us); the maps cost
 * about 30 bytes per key. They are split in 16 shards because one V8 Map holds at most 2^24
 * entries.
 *
 * Cost: a narrow range is a B+tree seek, O(log n), then a walk of only the keys in the range.
 * Nothing here walks all keys in one call except compact() and keep(), which the server
 * replaces with their batched forms (compactBatch, keepBatch) so that it can yield between
 * batches (design.md §5). Empty keys are the caller's to refuse (etcd's
 * "key is not provided"); this layer stores whatever it is given.
 */
import { assert, verifyEnabled } from '../pkg';
import { BTree, compareBinaryStrings } from './btree';
import { KeyIndex, revisionNotFound, type KeyAtRevision } from './key-index';
import { compareRevisions, RevisionSet, type Revision, type RevisionList } from './revision';

/** Keys per batch when compact() or keep() run to completion in one call (design.md §5). */
export const COMPACTION_BATCH_KEYS = 1000;

/** The end of a key range; see the file comment. */
export type RangeEnd = Uint8Array | null;

/** Keys and their visible revisions, in key order. */
export interface RangeResult {
  readonly keys: Buffer[];
  readonly revs: Revision[];
}

/** Visible revisions, in key order, and how many keys the whole range holds. */
export interface RevisionsResult {
  /** At most `limit` revisions (all of them when the limit is 0). */
  readonly revs: Revision[];
  /** Keys visible in the range, whatever the limit: etcd's RangeResponse.count. */
  readonly total: number;
}

/** What revisionsSlice() found in one slice. */
export interface RevisionsSlice {
  /** Keys of the slice visible at the revision read, whether or not their revision was kept. */
  readonly visible: number;
  /** Where the next slice starts, or null when the range is done. */
  readonly next: Buffer | null;
}

/** One record read back from the backend's `key` bucket at start-up. */
export interface RestoredRecord {
  /** The record is a deletion (its backend key carried the tombstone mark). */
  readonly tombstone: boolean;
  /** KeyValue.create_revision of the record. */
  readonly createRevision: number;
  /** KeyValue.version of the record. */
  readonly version: number;
}

function toIndexKey(key: Uint8Array): string {
  const buf = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return buf.toString('latin1');
}

function fromIndexKey(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** True when `end` means "every key from `key` on". */
function isFromKey(end: Uint8Array): boolean {
  return end.length === 0 || (end.length === 1 && end[0] === 0);
}

function checkLimit(limit: number): void {
  assert(Number.isSafeInteger(limit), `treeIndex: limit ${limit} is not an integer`);
}

/** Number of hash map shards; a power of two. */
const MAP_SHARDS = 16;

/**
 * Picks a shard by an FNV-1a hash of the whole key. Hashing every byte costs a few tens of
 * nanoseconds per call, but no naming pattern (keys sharing a suffix or a length) can pile
 * into one shard and hit the 2^24 limit early.
 */
function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16)) & (MAP_SHARDS - 1);
}

/** The ordered index of every key's revisions. */
export class TreeIndex {
  private readonly tree = new BTree<string, KeyIndex>(compareBinaryStrings);
  private readonly maps: Array<Map<string, KeyIndex>> = Array.from({ length: MAP_SHARDS }, () => new Map<string, KeyIndex>());

  /** Number of keys with a key index (live keys, and deleted keys not yet compacted away). */
  get size(): number {
    return this.tree.size;
  }

  /** Keys that exist now (etcd's keys_total): kept by put, tombstone and restore, O(1) to read. */
  liveKeyCount = 0;

  /** Records a put of `key` at `rev`, creating the key's index on its first change. */
  put(key: Uint8Array, rev: Revision): void {
    const k = toIndexKey(key);
    let ki = this.lookup(k);
    if (ki === undefined) {
      ki = new KeyIndex();
      this.insert(k, ki);
    }
    if (!ki.isLive()) this.liveKeyCount++;
    ki.put(rev.main, rev.sub);
  }

  /**
   * Records the deletion of `key` at `rev`. Throws FloeError ERR_REVISION_NOT_FOUND when the
   * key has no index or is already deleted; callers delete only keys a range just found.
   */
  tombstone(key: Uint8Array, rev: Revision): void {
    const ki = this.lookup(toIndexKey(key));
    if (ki === undefined) throw revisionNotFound(); // as for a key already deleted, like etcd
    ki.tombstone(rev.main, rev.sub);
    this.liveKeyCount--; // only reached when the key was live (tombstone throws otherwise)
  }

  /** The state of `key` at revision `atRev`, or null when it did not exist then. */
  get(key: Uint8Array, atRev: number): KeyAtRevision | null {
    const ki = this.lookup(toIndexKey(key));
    return ki === undefined ? null : ki.get(atRev);
  }

  /**
   * The keys of the range that exist at `atRev`, with the revision visible there, in key
   * order; at most `limit` of them (no limit when 0 or less).
   */
  range(key: Uint8Array, end: RangeEnd, atRev: number, limit = 0): RangeResult {
    checkLimit(limit);
    const keys: Buffer[] = [];
    const revs: Revision[] = [];
    if (end === null) {
      const k = toIndexKey(key);
      const found = this.lookup(k)?.modifiedAt(atRev);
      if (found) {
        keys.push(fromIndexKey(k));
        revs.push(found);
      }
      return { keys, revs };
    }
    this.visit(key, end, (k, ki) => {
      const found = ki.modifiedAt(atRev);
      if (found === null) return true;
      keys.push(fromIndexKey(k));
      revs.push(found);
      return limit <= 0 || revs.length < limit;
    });
    return { keys, revs };
  }

  /**
   * The revisions visible at `atRev` for the keys of the range, at most `limit` (all when 0 or
   * less), and the total number of visible keys. The total needs the whole range walked, as
   * in etcd; countRevisions() is the same walk without the list.
   */
  revisions(key: Uint8Array, end: RangeEnd, atRev: number, limit = 0): RevisionsResult {
    checkLimit(limit);
    if (end === null) {
      const found = this.lookup(toIndexKey(key))?.modifiedAt(atRev);
      return found ? { revs: [found], total: 1 } : { revs: [], total: 0 };
    }
    const revs: Revision[] = [];
    let total = 0;
    this.visit(key, end, (_k, ki) => {
      if (limit > 0 && revs.length >= limit) {
        // Past the limit only the count matters: no revision is built.
        if (ki.existsAt(atRev)) total++;
        return true;
      }
      const found = ki.modifiedAt(atRev);
      if (found === null) return true;
      revs.push(found);
      total++;
      return true;
    });
    return { revs, total };
  }

  /**
   * One slice of a range walk: visits at most `maxKeys` key indexes of the range, starting at
   * `from` (inclusive; the range's own start for the first slice), and appends to `revs` the
   * revision visible at `atRev` of each visible key while `revs` holds fewer than `wantRevs`
   * (>= 0; Number.MAX_SAFE_INTEGER for no bound); past that visible keys are only counted. Returns how many
   * visible keys it saw and the key to start the next slice at, or null when the range is done.
   *
   * The walk keeps no state between slices, so the tree may change in between: keys added
   * after `atRev` are not visible there, and only a compaction above `atRev` could remove what
   * a read at `atRev` sees (the store's read pins forbid that).
   */
  revisionsSlice(from: Uint8Array, end: RangeEnd, atRev: number, maxKeys: number, wantRevs: number, revs: RevisionList): RevisionsSlice {
    assert(Number.isSafeInteger(maxKeys) && maxKeys >= 1, `treeIndex: slice of ${maxKeys} keys`);
    assert(Number.isSafeInteger(wantRevs) && wantRevs >= 0, `treeIndex: slice wants ${wantRevs} revisions`);
    if (end === null) {
      const ki = this.lookup(toIndexKey(from));
      if (ki === undefined) return { visible: 0, next: null };
      const visible = revs.length < wantRevs ? ki.modifiedAtInto(atRev, revs) : ki.existsAt(atRev);
      return { visible: visible ? 1 : 0, next: null };
    }
    let visible = 0;
    let walked = 0;
    let next: string | undefined;
    this.visit(from, end, (k, ki) => {
      if (walked === maxKeys) {
        next = k;
        return false;
      }
      walked++;
      if (revs.length >= wantRevs ? ki.existsAt(atRev) : ki.modifiedAtInto(atRev, revs)) visible++;
      return true;
    });
    return { visible, next: next === undefined ? null : fromIndexKey(next) };
  }

  /** How many keys of the range exist at `atRev`. */
  countRevisions(key: Uint8Array, end: RangeEnd, atRev: number): number {
    if (end === null) return this.lookup(toIndexKey(key))?.existsAt(atRev) === true ? 1 : 0;
    let total = 0;
    this.visit(key, end, (_k, ki) => {
      if (ki.existsAt(atRev)) total++;
      return true;
    });
    return total;
  }

  /**
   * Every change to keys of the range at or after main revision `rev`, in revision order, one
   * per (key, main revision) (the highest sub): what a watcher starting at `rev` must catch up
   * on. Meaningful for rev above the compacted revision; the server refuses lower starts.
   */
  rangeSince(key: Uint8Array, end: RangeEnd, rev: number): Revision[] {
    if (end === null) {
      const ki = this.lookup(toIndexKey(key));
      return ki === undefined ? [] : ki.since(rev);
    }
    const out: Revision[] = [];
    this.visit(key, end, (_k, ki) => {
      for (const r of ki.since(rev)) out.push(r);
      return true;
    });
    return out.sort(compareRevisions);
  }

  /**
   * Compacts every key at main revision `rev` in one call and returns the revisions the
   * backend must keep. For tests and small stores: the server uses compactBatch().
   */
  compact(rev: number): RevisionSet {
    const available = new RevisionSet();
    let from: Buffer | null = null;
    do from = this.compactBatch(rev, from, COMPACTION_BATCH_KEYS, available);
    while (from !== null);
    return available;
  }

  /**
   * Compacts at most `maxKeys` keys, from `from` (the first key when null) in key order, at
   * main revision `rev`; adds the revisions to keep to `available` and drops key indexes left
   * empty. Returns the key to pass as `from` for the next batch, or null when done.
   *
   * Between batches the caller may apply writes (they are at revisions above `rev`, so they
   * change nothing here) and must keep `rev` and `available` the same until null comes back.
   * The backend pass that deletes unkept revisions starts only after that.
   */
  compactBatch(rev: number, from: Uint8Array | null, maxKeys: number, available: RevisionSet): Buffer | null {
    assert(Number.isSafeInteger(maxKeys) && maxKeys >= 1, `treeIndex: compaction batch of ${maxKeys} keys`);
    const emptied: string[] = [];
    let done = 0;
    let next: string | undefined;
    this.tree.ascendFrom(from === null ? undefined : toIndexKey(from), (k, ki) => {
      if (done === maxKeys) {
        next = k;
        return false;
      }
      ki.compact(rev, available);
      if (ki.isEmpty()) emptied.push(k);
      done++;
      return true;
    });
    // Removal waits until the walk is over: the tree must not change under a walk.
    for (const k of emptied) this.remove(k);
    if (verifyEnabled && next === undefined) this.checkInvariants();
    return next === undefined ? null : fromIndexKey(next);
  }

  /**
   * The revisions a compaction at `rev` would keep, changing nothing, for every key in one
   * call (HashKV hashes exactly these). The server uses keepBatch() on large stores.
   */
  keep(rev: number): RevisionSet {
    const available = new RevisionSet();
    let from: Buffer | null = null;
    do from = this.keepBatch(rev, from, COMPACTION_BATCH_KEYS, available);
    while (from !== null);
    return available;
  }

  /** keep() over at most `maxKeys` keys from `from`; returns the next `from`, or null. */
  keepBatch(rev: number, from: Uint8Array | null, maxKeys: number, available: RevisionSet): Buffer | null {
    assert(Number.isSafeInteger(maxKeys) && maxKeys >= 1, `treeIndex: keep batch of ${maxKeys} keys`);
    let done = 0;
    let next: string | undefined;
    this.tree.ascendFrom(from === null ? undefined : toIndexKey(from), (k, ki) => {
      if (done === maxKeys) {
        next = k;
        return false;
      }
      ki.keep(rev, available);
      done++;
      return true;
    });
    return next === undefined ? null : fromIndexKey(next);
  }

  /**
   * Feeds one backend record into the index while rebuilding it at start-up. Records must
   * come in revision order (the order of the `key` bucket). As in etcd: the first live record
   * of a key restores it (created at createRevision, with its version); later records are
   * puts and tombstones; a tombstone of a key not in the index, or already deleted, is
   * skipped (its put was compacted away).
   */
  restore(key: Uint8Array, rev: Revision, record: RestoredRecord): void {
    const k = toIndexKey(key);
    const ki = this.lookup(k);
    if (ki !== undefined) {
      if (!record.tombstone) {
        if (!ki.isLive()) this.liveKeyCount++;
        ki.put(rev.main, rev.sub);
      } else if (ki.isLive()) {
        ki.tombstone(rev.main, rev.sub);
        this.liveKeyCount--;
      }
      return;
    }
    if (record.tombstone) return;
    this.liveKeyCount++;
    const fresh = new KeyIndex();
    fresh.restore({ main: record.createRevision, sub: 0 }, rev, record.version);
    this.insert(k, fresh);
  }

  /** The key index of `key`, if any (tests and diagnostics; do not change it). */
  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.lookup(toIndexKey(key));
  }

  /** Checks the tree's structure and that no empty key index is left in it; O(n). */
  checkInvariants(): void {
    this.tree.checkInvariants();
    let mapped = 0;
    for (const m of this.maps) mapped += m.size;
    assert(mapped === this.tree.size, `treeIndex: ${mapped} keys in the maps, ${this.tree.size} in the tree`);
    let live = 0;
    this.tree.ascendFrom(undefined, (k, ki) => {
      assert(!ki.isEmpty(), () => `treeIndex: empty key index left for key ${fromIndexKey(k).toString('hex')}`);
      ki.checkLast();
      assert(this.lookup(k) === ki, () => `treeIndex: maps and tree differ at key ${fromIndexKey(k).toString('hex')}`);
      if (ki.isLive()) live++;
    });
    assert(live === this.liveKeyCount, `treeIndex: ${live} live keys, liveKeyCount says ${this.liveKeyCount}`);
  }

  private lookup(k: string): KeyIndex | undefined {
    return (this.maps[shardOf(k)] as Map<string, KeyIndex>).get(k);
  }

  private insert(k: string, ki: KeyIndex): void {
    const added = this.tree.set(k, ki);
    assert(added, 'treeIndex: key inserted twice');
    (this.maps[shardOf(k)] as Map<string, KeyIndex>).set(k, ki);
  }

  private remove(k: string): void {
    const removed = this.tree.delete(k) && (this.maps[shardOf(k)] as Map<string, KeyIndex>).delete(k);
    assert(removed, 'treeIndex: an emptied key index vanished during compaction');
  }

  /** Walks the key indexes of a range with an end (see the file comment for end's meaning). */
  private visit(key: Uint8Array, end: Uint8Array, fn: (k: string, ki: KeyIndex) => boolean): void {
    const start = toIndexKey(key);
    if (isFromKey(end)) this.tree.ascendFrom(start, fn);
    else this.tree.ascendRange(start, toIndexKey(end), fn);
  }
}
