/**
 * A bounded page cache: page id -> the page's bytes (all its overflow pages included), bounded
 * by total bytes. Replacement is CLOCK (second chance), an LRU approximation whose hit costs one
 * flag write instead of a reordering, which matters on the point-read path.
 *
 * Rule: a buffer, once put here, is never written again. A page rewritten by a commit is put
 * again under its id (replacing the entry), so subarrays handed out earlier keep the bytes a
 * reader's snapshot saw. This is safe because a page is rewritten only after no open reader can
 * reach its old content (the freelist's pending rule).
 */
import { assert } from '../pkg';

interface Entry {
  buf: Buffer;
  referenced: boolean;
}

export class PageCache {
  /** Insertion order is the clock's circle: the hand is always the first entry. */
  private readonly entries = new Map<number, Entry>();
  private hand: IterableIterator<[number, Entry]> | null = null;
  private sizeBytes = 0;
  hits = 0;
  misses = 0;

  /** @param capacityBytes the bound on cached bytes (>= 1). */
  constructor(readonly capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 1, 'page cache capacity must be >= 1 byte');
  }

  get(pgid: number): Buffer | undefined {
    const e = this.entries.get(pgid);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    e.referenced = true;
    return e.buf;
  }

  /** Adds or replaces the entry for `pgid`; a buffer larger than the whole bound is not kept. */
  put(pgid: number, buf: Buffer): void {
    const old = this.entries.get(pgid);
    if (old !== undefined) {
      this.sizeBytes -= old.buf.length;
      this.entries.delete(pgid);
    }
    if (buf.length > this.capacityBytes) return;
    this.evictFor(buf.length);
    this.entries.set(pgid, { buf, referenced: false });
    this.sizeBytes += buf.length;
  }

  clear(): void {
    this.entries.clear();
    this.hand = null;
    this.sizeBytes = 0;
  }

  get bytes(): number {
    return this.sizeBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  private evictFor(incoming: number): void {
    // The clock hand is one live iterator kept across calls: a fresh iterator would rescan the
    // holes that deletions leave at the front of the Map's table, making eviction O(n) per page.
    // A referenced entry loses its bit and moves to the end, so every lap evicts something.
    while (this.sizeBytes + incoming > this.capacityBytes && this.entries.size > 0) {
      this.hand ??= this.entries.entries();
      const r = this.hand.next();
      if (r.done === true) {
        this.hand = null;
        continue;
      }
      const [id, e] = r.value;
      this.entries.delete(id);
      if (e.referenced) {
        e.referenced = false;
        this.entries.set(id, e);
      } else {
        this.sizeBytes -= e.buf.length;
      }
    }
  }
}
