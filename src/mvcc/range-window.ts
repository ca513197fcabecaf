/**
 * The records of a big range, fetched in revision order (issue 3: a 100k-key range cost the
 * event loop 0.5 s, mostly in backend lookups).
 *
 * A range read walks the index in key order and gets one revision per key, and the records
 * live in the backend's `key` bucket ordered by revision. Keys are written in any order, so
 * looking each revision up costs a descent of the B+tree from its root into a page that is
 * almost never the one of the previous lookup: about 2.5 us per record here. When the wanted
 * revisions are dense among the bucket's entries (a whole-keyspace range: every key's latest
 * revision, with some history between them), walking the bucket once in order and picking the
 * wanted entries out costs a fifth of that.
 *
 * A window holds the wanted revisions of up to `windowRevs` keys (range-reader.ts), in key order (slot i is the
 * i-th record of the answer). Then, when they are dense enough:
 *   1. sweep: the bucket is walked from the lowest wanted revision to the highest; each entry
 *      whose revision is wanted is kept as the view the backend gave (a published page buffer
 *      is never written again, backend/page.ts, and a value put is copied, so the view stays
 *      valid after this turn). The walk resumes from its last key after every step;
 *   2. lookups: slots the sweep did not reach are looked up one by one and copied into an
 *      arena. The sweep stops after visiting `sweepFactor` entries per wanted revision
 *      (DEFAULT_SWEEP_FACTOR), in case the history between them is longer than their spread said;
 *   3. emit: the records are handed out in slot order.
 * Every phase is bounded per step, so the reader's slices stay short.
 *
 * Revisions at or below the reader's pinned revision are immutable and stay in the backend
 * while it is pinned (kv-store.ts), and later writes only add revisions above it; so a sweep
 * that resumes from a revision key after other writes and commits finds the same records.
 */
import { assert } from '../pkg';
import { compareRevisions, decodeRevision, encodeRevision, type Revision } from './revision';

/** What a window needs from the store. */
export interface WindowHost {
  /** Calls `fn` with each entry of the key bucket from `from` on, until it returns false. */
  scanRecords(from: Buffer, fn: (key: Buffer, record: Buffer) => boolean): void;
  /** Calls `fn` with the stored record of each revision, in order; records are views valid in `fn` only. */
  readRecords(revs: readonly Revision[], fn: (record: Buffer, i: number) => void): void;
}

/**
 * The sweep is chosen when the wanted revisions span at most this many main revisions per
 * wanted one, and it gives up (leaving the rest to lookups) after visiting this many entries
 * per wanted revision. A visited entry costs about a seventh of a lookup, so a sweep that
 * finds nothing still costs less than the lookups it replaced would have.
 */
export const DEFAULT_SWEEP_FACTOR = 4;
/** Bucket entries a sweep visits per step, per key of the reader's step. */
const SWEEP_ENTRIES_PER_KEY = 8;
/** Records emitted per step, per key of the reader's step (a copy each). */
const EMIT_PER_KEY = 4;
/** Size of one arena chunk; a record larger than this gets a chunk of its own. */
const ARENA_CHUNK_BYTES = 1 << 20;

const EMPTY_MEMORY = new ArrayBuffer(0);

const enum Phase { Sweep, Lookup, Emit, Done }

/** One window of a dense range read; see the file comment. */
export class RecordWindow {
  private phase = Phase.Sweep;
  /**
   * Each slot's record once found, as the memory holding it (a backend page buffer when swept,
   * the arena when looked up), its offset and its length (-1: not found yet). Not as a view
   * per record: 100k views living across turns made each scavenge copy them (8-10 ms pauses,
   * --trace-gc), where these arrays only reference buffers that exist anyway.
   */
  private readonly memOf: ArrayBufferLike[];
  private readonly offsetOf: Float64Array;
  private readonly lengthOf: Int32Array;
  private arena: Buffer = Buffer.alloc(0);
  private arenaUsed = 0;
  private found = 0;
  /** Records the sweep found, and records looked up one by one. */
  swept = 0;
  lookedUp = 0;
  private sweepFrom: Buffer;
  private readonly maxRev: Revision;
  private sweepBudget: number;
  private nextLookup = 0;
  private nextEmit = 0;
  private readonly lookupRevs: Revision[] = [];
  private readonly lookupSlots: number[] = [];

  /**
   * @param revs the wanted revisions, in answer order (at least one); kept, not copied.
   * @param slots the same revisions, slot by slot (built while they were gathered).
   */
  constructor(
    private readonly host: WindowHost,
    private readonly revs: readonly Revision[],
    private readonly slots: RevisionSlots,
    sweepFactor: number,
  ) {
    const n = revs.length;
    assert(n > 0 && slots.size === n, 'recordWindow: revisions and slots differ');
    this.memOf = new Array<ArrayBufferLike>(n);
    this.offsetOf = new Float64Array(n);
    this.lengthOf = new Int32Array(n).fill(-1);
    this.sweepFrom = encodeRevision(slots.min);
    this.maxRev = slots.max;
    this.sweepBudget = sweepFactor * n;
  }

  /**
   * True when sweeping for the revisions of `slots` is expected to cost less than looking
   * them up: they span at most `sweepFactor` main revisions each.
   */
  static worthSweeping(slots: RevisionSlots, sweepFactor: number): boolean {
    return slots.max.main - slots.min.main + 1 <= sweepFactor * slots.size;
  }

  /** True once every record was emitted. */
  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /**
   * One bounded step (scaled by `stepKeys`): sweeps, looks up, or emits records in answer
   * order to `onRecord` (views valid inside the call only). Returns the records emitted.
   */
  step(stepKeys: number, onRecord: (record: Buffer) => void): number {
    switch (this.phase) {
      case Phase.Sweep:
        this.sweep(stepKeys * SWEEP_ENTRIES_PER_KEY);
        return 0;
      case Phase.Lookup:
        this.lookup(stepKeys);
        return 0;
      case Phase.Emit:
        return this.emit(stepKeys * EMIT_PER_KEY, onRecord);
      case Phase.Done:
        return 0;
    }
  }

  private sweep(maxEntries: number): void {
    let visited = 0;
    let stopAt: Buffer | null = null;
    const max = this.maxRev;
    this.host.scanRecords(this.sweepFrom, (key, record) => {
      if (visited === maxEntries || this.sweepBudget === 0) {
        stopAt = Buffer.from(key);
        return false;
      }
      visited++;
      this.sweepBudget--;
      const { rev, tombstone } = decodeRevision(key);
      if (rev.main > max.main || (rev.main === max.main && rev.sub > max.sub)) {
        return false;
      }
      if (tombstone) return true;
      const slot = this.slots.get(rev.main, rev.sub);
      if (slot >= 0 && this.lengthOf[slot] === -1) {
        // Held where it lies: published page buffers are never written again
        // (backend/page.ts), so the bytes outlive this turn. The window holds at most the
        // pages it swept.
        this.hold(slot, record);
        this.swept++;
      }
      return this.found < this.revs.length;
    });
    if (stopAt !== null && this.found < this.revs.length && this.sweepBudget > 0) {
      this.sweepFrom = stopAt;
      return;
    }
    // All found, past the highest wanted revision, out of budget, or at the bucket's end:
    // whatever is missing is looked up.
    this.phase = this.found === this.revs.length ? Phase.Emit : Phase.Lookup;
  }

  private lookup(maxKeys: number): void {
    const revs = this.lookupRevs;
    const slots = this.lookupSlots;
    revs.length = 0;
    slots.length = 0;
    const n = this.revs.length;
    while (this.nextLookup < n && revs.length < maxKeys) {
      const i = this.nextLookup++;
      if (this.lengthOf[i] !== -1) continue;
      revs.push(this.revs[i] as Revision);
      slots.push(i);
    }
    if (revs.length > 0) this.host.readRecords(revs, (record, j) => this.keep(slots[j] as number, record));
    this.lookedUp += revs.length;
    if (this.nextLookup === n) {
      assert(this.found === n, () => `recordWindow: ${n - this.found} revisions in the index are not in the backend`);
      this.phase = Phase.Emit;
    }
  }

  private emit(maxRecords: number, onRecord: (record: Buffer) => void): number {
    const n = this.revs.length;
    const end = Math.min(n, this.nextEmit + maxRecords);
    const from = this.nextEmit;
    for (let i = from; i < end; i++) {
      onRecord(Buffer.from(this.memOf[i] as ArrayBuffer, this.offsetOf[i] as number, this.lengthOf[i] as number));
      this.memOf[i] = EMPTY_MEMORY; // what is handed out is not held
    }
    this.nextEmit = end;
    if (end === n) this.phase = Phase.Done;
    return end - from;
  }

  /**
   * Copies a looked-up record into the arena as slot `slot`'s: lookups land on pages all over
   * the file, and holding a view would hold a whole page per record.
   */
  private keep(slot: number, record: Buffer): void {
    if (this.arenaUsed + record.length > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_CHUNK_BYTES, record.length));
      this.arenaUsed = 0;
    }
    const at = this.arenaUsed;
    record.copy(this.arena, at);
    this.arenaUsed += record.length;
    this.hold(slot, this.arena.subarray(at, at + record.length));
  }

  private hold(slot: number, record: Buffer): void {
    this.memOf[slot] = record.buffer;
    this.offsetOf[slot] = record.byteOffset;
    this.lengthOf[slot] = record.length;
    this.found++;
  }
}


/**
 * Revision -> slot, an open-addressing hash table in typed arrays, filled as revisions are
 * gathered (a Map of 100k entries built in one step would hold the event loop for 15 ms).
 * Also keeps the lowest and highest revision added.
 */
export class RevisionSlots {
  private mains = new Float64Array(64);
  private subs = new Float64Array(64);
  /** slot + 1; 0 marks an empty cell. */
  private cells = new Int32Array(64);
  private count = 0;
  private lo: Revision | null = null;
  private hi: Revision | null = null;

  /** Revisions added. */
  get size(): number {
    return this.count;
  }

  /** The lowest revision added (at least one must have been). */
  get min(): Revision {
    assert(this.lo !== null, 'revisionSlots: empty');
    return this.lo;
  }

  /** The highest revision added (at least one must have been). */
  get max(): Revision {
    assert(this.hi !== null, 'revisionSlots: empty');
    return this.hi;
  }

  /** Adds `rev` as slot `slot`; each revision is added once. */
  add(rev: Revision, slot: number): void {
    if (2 * (this.count + 1) > this.cells.length) this.grow();
    this.place(rev.main, rev.sub, slot);
    this.count++;
    if (this.lo === null || compareRevisions(rev, this.lo) < 0) this.lo = rev;
    if (this.hi === null || compareRevisions(rev, this.hi) > 0) this.hi = rev;
  }

  /** The slot of revision (main, sub), or -1. */
  get(main: number, sub: number): number {
    const mask = this.cells.length - 1;
    for (let i = hashRevision(main, sub) & mask; ; i = (i + 1) & mask) {
      const c = this.cells[i] as number;
      if (c === 0) return -1;
      if (this.mains[i] === main && this.subs[i] === sub) return c - 1;
    }
  }

  private place(main: number, sub: number, slot: number): void {
    const mask = this.cells.length - 1;
    let i = hashRevision(main, sub) & mask;
    while (this.cells[i] !== 0) i = (i + 1) & mask;
    this.mains[i] = main;
    this.subs[i] = sub;
    this.cells[i] = slot + 1;
  }

  private grow(): void {
    const { mains, subs, cells } = this;
    this.mains = new Float64Array(2 * cells.length);
    this.subs = new Float64Array(2 * cells.length);
    this.cells = new Int32Array(2 * cells.length);
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i] as number;
      if (c !== 0) this.place(mains[i] as number, subs[i] as number, c - 1);
    }
  }
}

/** Mixes both parts of a revision (each below 2^53) into 32 bits. */
function hashRevision(main: number, sub: number): number {
  const lo = main >>> 0;
  const hi = (main / 0x1_0000_0000) >>> 0;
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(sub, 0xc2b2ae35), 0x9e3779b1) >>> 0;
}
