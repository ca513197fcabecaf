/**
 * Virtual time for the simulator: a queue of events ordered by (time, sequence). Nothing reads
 * the real clock; a run is a pure function of its seed.
 *
 * Ordering rule: events due at the same virtual millisecond run in the order they were
 * scheduled (the sequence number breaks ties), so equal timestamps never depend on heap shape.
 */
import { assert } from '../pkg';

interface Event {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

/** A virtual clock with a min-heap of pending events. */
export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  /** The current virtual time; only moves forward, to the time of the event being run. */
  nowMs = 0;

  /** Runs `run` `delayMs` (>= 0) virtual milliseconds from now. */
  schedule(delayMs: number, run: () => void): void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `bad delay ${delayMs}`);
    this.push({ atMs: this.nowMs + delayMs, seq: this.seq++, run });
  }

  get size(): number {
    return this.heap.length;
  }

  /** Runs the earliest event; returns false when none is pending. */
  runNext(): boolean {
    const e = this.pop();
    if (e === undefined) return false;
    assert(e.atMs >= this.nowMs, 'virtual time went backwards');
    this.nowMs = e.atMs;
    e.run();
    return true;
  }

  private less(a: Event, b: Event): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
