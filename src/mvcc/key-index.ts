/**
 * The history of one key: which revisions changed it, grouped into generations.
 *
 * A generation is one life of the key: it starts with the put that creates the key and ends
 * with the tombstone that deletes it. Deleting a key appends the tombstone's revision to the
 * current generation and opens a new, empty one, so a key index always has at least one
 * generation and the last one is the key's current life (empty while the key is deleted).
 *
 * Example (etcd's): put(1.0) put(2.0) tombstone(3.0) put(4.0) tombstone(5.0) gives
 *
 *   generations: {1.0, 2.0, 3.0(t)}  {4.0, 5.0(t)}  {}        (oldest first)
 *
 * Compaction at revision R keeps, in each generation that is still alive at R or born after
 * it, the newest revision <= R and everything after it; older generations are dropped, and a
 * generation whose only remaining revision is its tombstone is dropped too. A key index left
 * with one empty generation is empty and the tree index removes it. Every rule below follows
 * etcd's keyIndex exactly, because the revisions compaction keeps decide what stays in the
 * backend file, and that must match etcd's for the same history.
 *
 * Layout, for memory (millions of keys): the current generation is held in fields of the
 * KeyIndex itself and older generations, rare in practice, in an array allocated only when a
 * key is deleted and put again. Revisions are flat number arrays [main0, sub0, main1, sub1,...]
 * rather than objects. A key written once costs one object and one two-slot array. The
 * current generation's last revision is also kept in two fields of its own (lastMain,
 * lastSub), so that ranges find it without the array. etcd's `modified` is the last revision
 * of the last non-empty generation. (etcd keeps it on a key index compacted to empty; the tree
 * index drops such a key index at once, so nothing can tell the difference.)
 */
import { assert, FloeError } from '../pkg';
import { formatRevision, smiIfInt32, type Revision, type RevisionList, type RevisionSet } from './revision';

/** Error code (and etcd's message) when a revision is asked of a key that has none there. */
export const ERR_REVISION_NOT_FOUND = 'ERR_REVISION_NOT_FOUND';

/** etcd's ErrRevisionNotFound, as a FloeError. */
export function revisionNotFound(): FloeError {
  return new FloeError(ERR_REVISION_NOT_FOUND, 'mvcc: revision not found');
}

/** What get() finds: the key's state at a revision. */
export interface KeyAtRevision {
  /** The revision of the change that produced the value seen at the asked revision. */
  readonly modified: Revision;
  /** The revision that created the key in this life (generation). */
  readonly created: Revision;
  /** The number of changes in this life up to and including `modified` (1 at creation). */
  readonly version: number;
}

/** A plain copy of one generation, for tests, debugging and equality checks. */
export interface GenerationView {
  readonly created: Revision;
  readonly version: number;
  readonly revs: Revision[];
}

/**
 * Second result of KeyIndex.doCompact(): index (in revision pairs) of the revision it kept, or
 * -1. Module state rather than a field so that no key index pays 8 bytes for it; read at once
 * by the caller, on one thread.
 */
let keptRevIndex = -1;

/** Shared, frozen revision list of empty generations: put() replaces it, never pushes to it. */
const NO_REVS: number[] = Object.freeze([]) as unknown as number[];

/** A past generation: one that ended with a tombstone. */
interface Generation {
  ver: number;
  createdMain: number;
  createdSub: number;
  revs: number[];
}

/**
 * The revisions of one key. Fields `ver`, `createdMain`, `createdSub` and `revs` describe the
 * current (last) generation; `past` holds older ones, oldest first, or null.
 */
export class KeyIndex {
  private ver = 0;
  private createdMain = 0;
  private createdSub = 0;
  private revs: number[] = NO_REVS;
  private past: Generation[] | null = null;
  /**
   * The current generation's last revision, (0, 0) while it is empty: a copy of its last pair,
   * so that a range reading a key unchanged since the revision it reads touches this object
   * only, not the revisions array too (a 100k-key range spent most of its walk waiting on
   * memory). 8 bytes a key.
   */
  private lastMain = 0;
  private lastSub = 0;

  /** The revision of the last change recorded; 0.0 when the key index is empty. */
  get modified(): Revision {
    const g = this.revs.length > 0 || this.past === null ? this.current() : (this.past[this.past.length - 1] as Generation);
    const n = g.revs.length;
    return n === 0 ? { main: 0, sub: 0 } : { main: g.revs[n - 2] as number, sub: g.revs[n - 1] as number };
  }

  /** Checks that the copy of the current generation's last revision is the last pair. */
  checkLast(): void {
    const n = this.revs.length;
    const main = n === 0 ? 0 : (this.revs[n - 2] as number);
    const sub = n === 0 ? 0 : (this.revs[n - 1] as number);
    assert(this.lastMain === main && this.lastSub === sub, () => `keyIndex: last revision ${this.lastMain}.${this.lastSub}, generation ends at ${main}.${sub}`);
  }

  /** True when the key index holds nothing: a single, empty generation. */
  isEmpty(): boolean {
    return this.past === null && this.revs.length === 0;
  }

  /** True when the key exists now: its current generation is not empty. */
  isLive(): boolean {
    return this.revs.length > 0;
  }

  /** Number of generations, the current (possibly empty) one included. */
  get generationCount(): number {
    return (this.past === null ? 0 : this.past.length) + 1;
  }

  /**
   * Records a change of the key at (main, sub). Revisions must only grow: a put at or below
   * the last recorded revision is a broken invariant of the store.
   */
  put(mainIn: number, subIn: number): void {
    // Unboxed when they fit, whatever computed them: see smiIfInt32 (revision.ts).
    const main = smiIfInt32(mainIn);
    const sub = smiIfInt32(subIn);
    const g = this.revs.length > 0 || this.past === null ? this.current() : (this.past[this.past.length - 1] as Generation);
    const n = g.revs.length;
    const lastMain = n === 0 ? 0 : (g.revs[n - 2] as number);
    const lastSub = n === 0 ? 0 : (g.revs[n - 1] as number);
    // Tested before calling assert so that the hot path builds no message closure.
    if (!(main > lastMain || (main === lastMain && sub > lastSub))) {
      assert(false, `keyIndex: put at ${main}.${sub} is not after the last change ${lastMain}.${lastSub}`);
    }
    if (this.revs.length === 0) {
      // First change of a new life: it creates the key. A literal array has exactly the
      // capacity it needs, unlike one grown by push.
      this.createdMain = main;
      this.createdSub = sub;
      this.revs = [main, sub];
    } else {
      this.revs.push(main, sub);
    }
    this.ver++;
    this.lastMain = main;
    this.lastSub = sub;
  }

  /**
   * Records the deletion of the key at (main, sub): the tombstone ends the current generation
   * and an empty one begins. Throws FloeError ERR_REVISION_NOT_FOUND when the key is already
   * deleted (the current generation is empty). Calling it on an empty key index is a broken
   * invariant: the tree index removes those.
   */
  tombstone(main: number, sub: number): void {
    assert(!this.isEmpty(), 'keyIndex: tombstone on an empty key index');
    if (this.revs.length === 0) throw revisionNotFound();
    this.put(main, sub);
    const ended: Generation = { ver: this.ver, createdMain: this.createdMain, createdSub: this.createdSub, revs: this.revs };
    if (this.past === null) this.past = [ended];
    else this.past.push(ended);
    this.ver = 0;
    this.createdMain = 0;
    this.createdSub = 0;
    this.revs = NO_REVS;
    this.lastMain = 0;
    this.lastSub = 0;
  }

  /**
   * Rebuilds a live key from its newest record in the backend after a restart: one generation
   * created at `created`, last changed at `modified`, with `version` changes so far. Only the
   * newest revision is known, as in etcd; older ones are found by later put() calls or not at
   * all (they are behind the compaction).
   */
  restore(created: Revision, modified: Revision, version: number): void {
    assert(this.isEmpty(), 'keyIndex: restore into a key index that is not empty');
    assert(Number.isSafeInteger(version) && version >= 1, `keyIndex: restore with version ${version}`);
    // Revisions decoded from the backend come as boxes: see smiIfInt32 (revision.ts).
    this.createdMain = smiIfInt32(created.main);
    this.createdSub = smiIfInt32(created.sub);
    this.ver = smiIfInt32(version);
    this.lastMain = smiIfInt32(modified.main);
    this.lastSub = smiIfInt32(modified.sub);
    this.revs = [this.lastMain, this.lastSub];
  }

  /**
   * The key's state at revision `atRev`: the newest change with main <= atRev in the
   * generation alive at atRev. Null when the key did not exist at atRev (before its creation,
   * or between a tombstone and the next put, the tombstone's revision included).
   */
  get(atRev: number): KeyAtRevision | null {
    assert(!this.isEmpty(), 'keyIndex: get on an empty key index');
    const g = this.findGeneration(atRev);
    if (g === null || g.revs.length === 0) return null;
    const n = lastAtOrBelow(g.revs, atRev);
    if (n === -1) return null;
    const count = g.revs.length >> 1;
    return {
      modified: { main: g.revs[2 * n] as number, sub: g.revs[2 * n + 1] as number },
      created: { main: g.createdMain, sub: g.createdSub },
      version: g.ver - (count - n - 1),
    };
  }

  /**
   * get(atRev)?.modified, without building the rest: ranges ask this of every key they walk.
   */
  modifiedAt(atRev: number): Revision | null {
    assert(!this.isEmpty(), 'keyIndex: get on an empty key index');
    const g = this.findGeneration(atRev);
    if (g === null) return null;
    const n = lastAtOrBelow(g.revs, atRev);
    return n === -1 ? null : { main: g.revs[2 * n] as number, sub: g.revs[2 * n + 1] as number };
  }

  /** Pushes modifiedAt(atRev) onto `out` when there is one, allocating nothing; returns whether it did. */
  modifiedAtInto(atRev: number, out: RevisionList): boolean {
    // Alive now and unchanged since atRev: the current generation's last change is the answer.
    if (this.lastMain !== 0 && this.lastMain <= atRev) {
      out.push(this.lastMain, this.lastSub);
      return true;
    }
    assert(!this.isEmpty(), 'keyIndex: get on an empty key index');
    const g = this.findGeneration(atRev);
    if (g === null) return false;
    const n = lastAtOrBelow(g.revs, atRev);
    if (n === -1) return false;
    out.push(g.revs[2 * n] as number, g.revs[2 * n + 1] as number);
    return true;
  }

  /** get(atRev) !== null, allocating nothing: counting a range asks this of every key. */
  existsAt(atRev: number): boolean {
    if (this.lastMain !== 0 && this.lastMain <= atRev) return true;
    assert(!this.isEmpty(), 'keyIndex: get on an empty key index');
    const g = this.findGeneration(atRev);
    return g !== null && lastAtOrBelow(g.revs, atRev) !== -1;
  }

  /**
   * The revisions that changed the key at or after main revision `rev`, oldest first, with only
   * the highest sub kept where several changes share one main revision (a transaction that
   * touched the key twice is seen from outside as its last change).
   */
  since(rev: number): Revision[] {
    assert(!this.isEmpty(), 'keyIndex: since on an empty key index');
    const gens = this.generationCount;
    // Start from the newest generation created strictly before `rev`; newer ones follow.
    // etcd compares full revisions with `rev` read as (rev, 0); subs are never negative, so
    // comparing mains alone gives the same answers.
    let gi = gens - 1;
    for (; gi > 0; gi--) {
      const g = this.generation(gi);
      if (g.revs.length === 0) continue;
      if (rev > g.createdMain) break;
    }
    const out: Revision[] = [];
    let last = 0;
    for (; gi < gens; gi++) {
      const revs = this.generation(gi).revs;
      for (let j = 0; j < revs.length; j += 2) {
        const main = revs[j] as number;
        const sub = revs[j + 1] as number;
        if (main < rev) continue;
        if (main === last && out.length > 0) {
          out[out.length - 1] = { main, sub };
          continue;
        }
        out.push({ main, sub });
        last = main;
      }
    }
    return out;
  }

  /**
   * Compacts the history at main revision `atRev` (see the file comment for the rules) and
   * adds to `available` the revisions whose backend records must survive; the caller deletes
   * the rest at or below atRev. Afterwards the key index may be empty: the caller removes it.
   */
  compact(atRev: number, available: RevisionSet): void {
    assert(!this.isEmpty(), 'keyIndex: compact on an empty key index');
    let genIdx = this.doCompact(atRev, available);
    const revIndex = keptRevIndex;
    const g = this.generation(genIdx);
    if (g.revs.length > 0) {
      if (revIndex > 0) g.revs = g.revs.slice(2 * revIndex); // a fresh array: no slack kept
      // A generation reduced to its tombstone has nothing left to read: drop it, and its
      // tombstone's record with it.
      if (g.revs.length === 2 && genIdx !== this.generationCount - 1) {
        available.deleteParts(g.revs[0] as number, g.revs[1] as number);
        genIdx++;
      }
    }
    this.dropGenerationsBefore(genIdx);
  }

  /**
   * Adds to `available` the revisions compact(atRev) would keep, changing nothing. Used for
   * hashing the store as of a compaction (HashKV) without compacting. An empty key index
   * keeps nothing.
   */
  keep(atRev: number, available: RevisionSet): void {
    if (this.isEmpty()) return;
    const genIdx = this.doCompact(atRev, available);
    const revIndex = keptRevIndex;
    const g = this.generation(genIdx);
    if (g.revs.length > 0 && revIndex === (g.revs.length >> 1) - 1 && genIdx !== this.generationCount - 1) {
      available.deleteParts(g.revs[2 * revIndex] as number, g.revs[2 * revIndex + 1] as number);
    }
  }

  /** Plain copies of the generations, oldest first (tests and debugging; allocates). */
  generations(): GenerationView[] {
    const out: GenerationView[] = [];
    for (let i = 0; i < this.generationCount; i++) {
      const g = this.generation(i);
      const revs: Revision[] = [];
      for (let j = 0; j < g.revs.length; j += 2) revs.push({ main: g.revs[j] as number, sub: g.revs[j + 1] as number });
      out.push({ created: { main: g.createdMain, sub: g.createdSub }, version: g.ver, revs });
    }
    return out;
  }

  /** A one-line description for messages: generations oldest first. */
  toString(): string {
    return this.generations()
      .map((g) => `{created ${formatRevision(g.created)} ver ${g.version} revs [${g.revs.map(formatRevision).join(' ')}]}`)
      .join(' ');
  }

  // ---- internals ----

  /** Generation `i`, oldest first; the last one is this object itself. */
  private generation(i: number): Generation {
    const past = this.past;
    if (past !== null && i < past.length) return past[i] as Generation;
    if (i !== (past === null ? 0 : past.length)) assert(false, `keyIndex: no generation ${i}`);
    return this.current();
  }

  /** The current generation: this object's own fields, seen through the Generation shape. */
  private current(): Generation {
    return this as unknown as Generation;
  }

  private dropGenerationsBefore(genIdx: number): void {
    if (genIdx === 0 || this.past === null) return;
    this.past = genIdx >= this.past.length ? null : this.past.slice(genIdx);
  }

  /**
   * Finds the first generation whose tombstone is after `atRev` (or the current one), and in it
   * the newest revision with main <= atRev, which goes into `available`. Returns the
   * generation's index; the revision's index (pairs) or -1 is left in keptRevIndex.
   */
  private doCompact(atRev: number, available: RevisionSet): number {
    const last = this.generationCount - 1;
    let genIdx = 0;
    let g = this.generation(0);
    while (genIdx < last) {
      assert(g.revs.length > 0, 'keyIndex: a past generation is empty');
      if ((g.revs[g.revs.length - 2] as number) > atRev) break;
      genIdx++;
      g = this.generation(genIdx);
    }
    const n = lastAtOrBelow(g.revs, atRev);
    if (n !== -1) available.addParts(g.revs[2 * n] as number, g.revs[2 * n + 1] as number);
    keptRevIndex = n;
    return genIdx;
  }

  /**
   * The generation alive at `rev`, or null when the key did not exist then: walking from the
   * newest, a past generation whose tombstone is at or below rev means the key was deleted at
   * rev; the first generation created at or below rev is the one.
   */
  private findGeneration(rev: number): Generation | null {
    const last = this.generationCount - 1;
    for (let gi = last; gi >= 0; gi--) {
      const g = this.generation(gi);
      if (g.revs.length === 0) continue;
      if (gi !== last && (g.revs[g.revs.length - 2] as number) <= rev) return null;
      if ((g.revs[0] as number) <= rev) return g;
    }
    return null;
  }
}

/**
 * Index (in pairs) of the newest revision in `revs` with main <= atRev, or -1. Revisions are
 * ascending. Reads at the head revision hit the last pair at once; older reads binary-search,
 * so a key with a long uncompacted history costs O(log n), not a walk.
 */
function lastAtOrBelow(revs: number[], atRev: number): number {
  const count = revs.length >> 1;
  if (count === 0) return -1;
  if ((revs[2 * (count - 1)] as number) <= atRev) return count - 1;
  let lo = 0;
  let hi = count; // answer in [lo - 1, hi - 1]: first index with main > atRev, minus one
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((revs[2 * mid] as number) <= atRev) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
