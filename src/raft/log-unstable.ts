/**
 * The part of the log not yet persisted: entries the application has been (or will be)
 * handed in a Ready but has not confirmed with advance(), and possibly an incoming snapshot.
 * Entry i lives at entries[i - offset]. When a snapshot is pending, offset is its index + 1.
 *
 * Arrays handed out (unstableEntries(), slice()) are copies, so a later append or truncation
 * never changes an array the application still holds.
 */
import { assert } from '../pkg';
import { RaftLogger } from './logger';
import { Entry, Snapshot } from './types';

/** The not yet persisted tail of the log (see the file comment). */
export class Unstable {
  /** The incoming snapshot, if any, not yet persisted. */
  snapshot: Snapshot | null = null;
  /** Entries not yet persisted; entries[0] has index `offset`. */
  private entries: Entry[] = [];
  offset: number;

  constructor(
    offset: number,
    private readonly logger: RaftLogger,
  ) {
    this.offset = offset;
  }

  /** Index of the first entry when a snapshot is pending (everything before is in it). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot !== null ? this.snapshot.metadata.index + 1 : undefined;
  }

  /** Last index held here (entries, else a pending snapshot), undefined if neither. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.metadata.index;
    return undefined;
  }

  /** Term of entry i if this part of the log knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Number of unstable entries. */
  get length(): number {
    return this.entries.length;
  }

  /** A copy of the unstable entries. */
  unstableEntries(): Entry[] {
    return this.entries.slice();
  }

  /**
   * The application persisted entries up to (i, t). Only drop them if entry i still has term
   * t: if the tail was replaced meanwhile (a new leader overwrote it), the newer entries at
   * those indexes are not the ones that were persisted and must stay unstable.
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  /** The application persisted the snapshot at index i. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  /** Replaces everything with a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /**
   * Appends `ents` (contiguous, non-empty), first discarding any unstable entries at or after
   * ents[0].index: a leader's entries always win over what a follower had at those indexes.
   */
  truncateAndAppend(ents: readonly Entry[]): void {
    assert(ents.length > 0, 'truncateAndAppend of nothing');
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      this.logger.info(`replace the unstable entries from index ${after}`);
      // The new entries start at or before our first unstable one: they replace all of them
      // (and the caller has checked that nothing committed is overwritten).
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.logger.info(`truncate the unstable entries before index ${after}`);
      this.entries = this.entries.slice(0, after - this.offset);
      for (const e of ents) this.entries.push(e);
    }
  }

  /** A copy of the entries [lo, hi), which must lie within the unstable entries. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi, () => `invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    assert(lo >= this.offset && hi <= upper, () => `unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
