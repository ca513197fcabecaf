/**
 * The Raft log as one node sees it: stable entries in Storage followed by unstable ones not
 * yet persisted, plus the commit and apply cursors.
 *
 * Invariants: applied <= committed <= lastIndex; firstIndex-1 <= committed (everything in a
 * snapshot is committed). Entries at or below `committed` are never replaced.
 */
import { assert, isFloeError } from '../pkg';
import { ERR_COMPACTED, ERR_UNAVAILABLE } from './errors';
import { RaftLogger } from './logger';
import { Unstable } from './log-unstable';
import { limitSize, Storage } from './storage';
import { Entry, Snapshot } from './types';

/** One node's log: storage plus unstable tail, with the commit and apply cursors. */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index the application has been told to apply (and has confirmed by advance). */
  applied: number;
  /**
   * Highest index handed out for applying in a Ready not yet acknowledged (== applied when
   * none is out). While it is above `applied`, the application may still be applying conf
   * changes against the current configuration, so it must not be replaced by a snapshot's.
   */
  applying: number;

  constructor(
    readonly storage: Storage,
    private readonly logger: RaftLogger,
    /** Cap on the total encoded size of committed entries handed out in one Ready. */
    private readonly maxNextEntsSizeBytes: number,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1, logger);
    // Everything up to the last compaction is committed and applied by definition.
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
    this.applying = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.length}`;
  }

  /**
   * Appends a leader's entries that follow (index, logTerm), if our log has that entry; the
   * Raft paper's AppendEntries consistency check. Returns the index of the last new entry, or
   * undefined if the check failed. Entries we already have are kept; from the first conflict
   * on, our tail is replaced. The commit index moves to min(committed, last new index) since
   * beyond that our log may still differ from the leader's.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, () => `entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries after truncating at their first index; returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Index of the first entry in `ents` that our log lacks or holds with another term; 0 when
   * we hold all of them. `ents` must be contiguous.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger.info(`found conflict at index ${e.index} [existing term: ${this.termOrZero(e.index)}, conflicting term: ${e.term}]`);
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * The fast back-off hint: the largest index <= `index` whose term is <= `term`, with that
   * term. Entries in between cannot match anything the other side has at `term` or later, so
   * a whole term's worth of entries is skipped per round trip instead of one entry. When the
   * term at some index is unknown (compacted), returns that index with term 0 (a possible
   * match). `index` must be <= lastIndex.
   */
  findConflictByTerm(index: number, term: number): { readonly index: number; readonly term: number } {
    assert(index <= this.lastIndex(), () => `findConflictByTerm index ${index} > lastIndex ${this.lastIndex()}`);
    for (; index > 0; index--) {
      const ours = this.term(index);
      if (ours === undefined) return { index, term: 0 };
      if (ours <= term) return { index, term: ours };
    }
    return { index: 0, term: 0 };
  }

  /** A copy of the entries not yet persisted. */
  unstableEntries(): Entry[] {
    return this.unstable.unstableEntries();
  }

  /** Committed entries not yet applied, at most maxNextEntsSizeBytes (but at least one). */
  nextEnts(): readonly Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= off) return [];
    const ents = this.slice(off, this.committed + 1, this.maxNextEntsSizeBytes);
    assert(ents !== null, () => `unapplied entries [${off}, ${this.committed}] were compacted`);
    return ents;
  }

  hasNextEnts(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null && this.unstable.snapshot.metadata.index > 0;
  }

  /** The pending snapshot if any, else the storage's (which may throw "temporarily unavailable"). */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /**
   * The last index the application has persisted (confirmed by advance). A pending snapshot
   * counts as persisted: everything in it is committed already.
   */
  lastStableIndex(): number {
    return this.unstable.length > 0 ? this.unstable.offset - 1 : this.lastIndex();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Moves the commit index forward (never back). */
  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      assert(
        toCommit <= this.lastIndex(),
        () => `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
      );
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(
      this.committed >= i && i >= this.applied,
      () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
    this.applying = Math.max(this.applying, i);
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, () => `unexpected error when getting the last term at ${this.lastIndex()}`);
    return t;
  }

  /**
   * Term of entry i, or undefined when i is outside [firstIndex-1, lastIndex] (compacted, or
   * not yet in the log).
   */
  term(i: number): number | undefined {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (isFloeError(e, ERR_COMPACTED) || isFloeError(e, ERR_UNAVAILABLE)) return undefined;
      throw e;
    }
  }

  /** term(i), with 0 for an unknown term. */
  termOrZero(i: number): number {
    return this.term(i) ?? 0;
  }

  /** Entries from i to the end, within maxSizeBytes; null when i is compacted. */
  entries(i: number, maxSizeBytes: number): readonly Entry[] | null {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSizeBytes);
  }

  /** Every entry still held (tests and checks). */
  allEntries(): readonly Entry[] {
    const ents = this.entries(this.firstIndex(), Infinity);
    assert(ents !== null, 'allEntries: log compacted under us');
    return ents;
  }

  /**
   * Raft's election restriction: a candidate whose last entry is (lastIndex, term) is at least
   * as up to date as us if its last term is higher, or equal with a log at least as long.
   */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.term(i);
    return t !== undefined && t === term;
  }

  /**
   * Commits up to maxIndex if that entry is from `term`. A leader only counts replicas for
   * entries of its own term (Raft §5.4.2); older entries commit indirectly with them.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot; everything in it is committed. */
  restore(s: Snapshot): void {
    this.logger.info(`log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`);
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /**
   * Entries [lo, hi) within maxSizeBytes (at least one), from storage and then the unstable
   * tail; null when lo is compacted. hi must be <= lastIndex+1.
   */
  slice(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] | null {
    assert(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) return null;
    assert(hi <= this.lastIndex() + 1, () => `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    let ents: readonly Entry[] = [];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      let stored: readonly Entry[];
      try {
        stored = this.storage.entries(lo, storedHi, maxSizeBytes);
      } catch (e) {
        if (isFloeError(e, ERR_COMPACTED)) return null;
        if (isFloeError(e, ERR_UNAVAILABLE)) assert(false, `entries[${lo}:${storedHi}) is unavailable from storage`);
        throw e;
      }
      // The storage stopped early: the size limit is reached.
      if (stored.length < storedHi - lo) return stored;
      ents = stored;
    }
    if (hi > offset) {
      const tail = this.unstable.slice(Math.max(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(tail) : tail;
    }
    return limitSize(ents, maxSizeBytes);
  }
}
