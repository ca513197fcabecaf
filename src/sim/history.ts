/**
 * The simulator's event history: a bounded ring of one-line records stamped with virtual time,
 * printed with a failure so the seed's last moments can be read without replaying.
 */

/** How many records the ring keeps (a failure prints the tail). */
export const HISTORY_CAPACITY = 400;

/** A bounded log of what happened, oldest first. */
export class History {
  private readonly lines: string[] = [];
  private start = 0;
  /** Total records ever added (the ring keeps the last HISTORY_CAPACITY). */
  count = 0;

  constructor(private readonly now: () => number) {}

  add(line: string): void {
    const rec = `t=${this.now()}ms ${line}`;
    if (this.lines.length < HISTORY_CAPACITY) this.lines.push(rec);
    else {
      this.lines[this.start] = rec;
      this.start = (this.start + 1) % HISTORY_CAPACITY;
    }
    this.count++;
  }

  /** The last `n` records, oldest first. */
  tail(n: number): string[] {
    const ordered = [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    return ordered.slice(Math.max(0, ordered.length - n));
  }
}
