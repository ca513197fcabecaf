/**
 * Memory for read-ahead runs (page-file.ts), reused from one reader to the next instead of
 * allocated anew: a sweep of a big range reads tens of megabytes of runs, and fresh buffers
 * cost first-touch page faults and drive the garbage collector by their external size.
 *
 * Only buffers of `runBytes` (a full run) are pooled; a shorter run (at the end of the file)
 * gets a buffer of its own. The owner calls recycle() once nothing read through the lent
 * buffers is in use any more (the reader closed, every record copied out); buffers beyond
 * `keepBytes` are dropped then.
 */
import { assert } from '../pkg';

export class RunBuffers {
  private readonly free: Buffer[] = [];
  private readonly lent: Buffer[] = [];

  constructor(
    readonly runBytes: number,
    readonly keepBytes: number,
  ) {
    assert(Number.isSafeInteger(runBytes) && runBytes >= 1, `runBuffers: runs of ${runBytes} bytes`);
    assert(Number.isSafeInteger(keepBytes) && keepBytes >= 0, `runBuffers: keep ${keepBytes} bytes`);
  }

  /** A buffer of `bytes` (its contents are garbage), lent until recycle() when pooled. */
  take(bytes: number): Buffer {
    if (bytes !== this.runBytes) return Buffer.allocUnsafeSlow(bytes);
    const buf = this.free.pop() ?? Buffer.allocUnsafeSlow(bytes);
    this.lent.push(buf);
    return buf;
  }

  /** Every lent buffer is free again; keeps at most keepBytes of them. */
  recycle(): void {
    const keep = Math.floor(this.keepBytes / this.runBytes);
    for (const b of this.lent) if (this.free.length < keep) this.free.push(b);
    this.lent.length = 0;
  }

  /** Bytes kept for reuse. */
  get keptBytes(): number {
    return this.free.length * this.runBytes;
  }
}
