/**
 * What a leader knows about one follower's log, and how it talks to it:
 *  - StateProbe: the follower's last index is unknown; the leader sends one append at a time
 *    (then waits for the answer or a heartbeat interval) to find where the logs match.
 *  - StateReplicate: logs match up to `match`; the leader streams appends optimistically
 *    (next runs ahead of match), bounded by the in-flight window.
 *  - StateSnapshot: the entries the follower needs are compacted; a snapshot is on its way and
 *    nothing else is sent until the follower reports back.
 */
import { Inflights } from './inflights';

/** How the leader talks to a follower (see the file comment). */
export type ProgressState = 'StateProbe' | 'StateReplicate' | 'StateSnapshot';

/** The leader's view of one follower. */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  match: number;
  /** Index of the next entry to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'StateProbe';
  /** In StateSnapshot: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (or just added to the config). */
  recentActive: boolean;
  /** In StateProbe: an append is outstanding; send no more until it is answered. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(f: {
    match: number;
    next: number;
    inflights: Inflights;
    isLearner: boolean;
    recentActive: boolean;
  }) {
    this.match = f.match;
    this.next = f.next;
    this.inflights = f.inflights;
    this.isLearner = f.isLearner;
    this.recentActive = f.recentActive;
  }

  /** A copy sharing nothing mutable with this one. */
  clone(): Progress {
    const p = new Progress({
      match: this.match,
      next: this.next,
      inflights: this.inflights.clone(),
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    });
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.probeSent = this.probeSent;
    return p;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Back to probing. Coming from StateSnapshot, the snapshot is taken as delivered (or failed,
   * when pendingSnapshot was cleared first): probe from after it.
   */
  becomeProbe(): void {
    if (this.state === 'StateSnapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('StateProbe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('StateProbe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('StateReplicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('StateSnapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * The follower acknowledged index n. Returns true if that is news (match moved). A stale
   * acknowledgement never moves match or next back.
   */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** In StateReplicate, after sending entries up to n. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected an append at index `rejected`; `matchHint` is the highest index that
   * may still match (from the follower's hint). Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'StateReplicate') {
      // A rejection at or below match answers an older append: we already know better.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // While probing only one append is out, at next-1; any other rejection is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold off sending appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'StateProbe':
        return this.probeSent;
      case 'StateReplicate':
        return this.inflights.full();
      case 'StateSnapshot':
        return true;
    }
  }

  /** etcd's format, e.g. "StateReplicate match=5 next=6 inflight=1". */
  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count;
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}
