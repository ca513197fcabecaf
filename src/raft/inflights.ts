/**
 * Flow control for one follower: the append messages sent but not yet acknowledged, each
 * recorded by the index of its last entry and its size. The window is full when it holds
 * `capacity` messages or, if maxBytes > 0, at least maxBytes of entries; the leader stops
 * sending appends to that follower until acknowledgements free room.
 */
import { assert } from '../pkg';

/** The in-flight window of one follower (see the file comment). */
export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  /** Position of the oldest in-flight message in the arrays above. */
  private head = 0;
  private totalBytes = 0;

  constructor(
    /** Max messages in flight, >= 1. */
    readonly capacity: number,
    /** Max bytes in flight; 0 = no byte limit. */
    readonly maxBytes: number,
  ) {
    assert(capacity >= 1, 'inflights capacity must be >= 1');
  }

  /** Records a message whose last entry is `index` (strictly after every recorded one). */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    const n = this.indexes.length;
    assert(n === this.head || this.indexes[n - 1]! < index, () => `inflight ${index} added out of order`);
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (they have been acknowledged). */
  freeLE(to: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head]! <= to) {
      this.totalBytes -= this.sizes[this.head]!;
      this.head++;
    }
    this.compact();
  }

  /** Frees the oldest message (a heartbeat response proves the follower is alive). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.head]!);
  }

  full(): boolean {
    return this.count >= this.capacity || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  get count(): number {
    return this.indexes.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
    this.totalBytes = 0;
  }

  clone(): Inflights {
    const c = new Inflights(this.capacity, this.maxBytes);
    c.indexes = this.indexes.slice(this.head);
    c.sizes = this.sizes.slice(this.head);
    c.totalBytes = this.totalBytes;
    return c;
  }

  /** Drops freed slots once they are the larger part of the arrays (amortized O(1)). */
  private compact(): void {
    if (this.head === this.indexes.length) {
      this.reset();
    } else if (this.head >= 32 && this.head * 2 >= this.indexes.length) {
      this.indexes = this.indexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
