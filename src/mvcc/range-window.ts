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
 * A window holds the wanted revisions of up to `windowRevs` keys (range-reader.ts), in key
 * order (slot i is the i-th record of the answer). When they are dense enough, a table from
 * revision to slot is built (SlotTable), then:
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
import type { RawVisitor } from '../backend';
import { decodeRevisionAt, encodeRevision, type Revision, type RevisionList } from './revision';

/** What a window needs from the store. */
export interface WindowHost {
  /** Visits each entry of the key bucket from `from` on, where its bytes lie, until `fn` returns false. */
  scanRecords(from: Buffer, fn: RawVisitor): void;
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
/** Revisions taken into the slot table per step, per key of the reader's step. */
const BUILD_PER_KEY = 64;
/** Records emitted per step, per key of the reader's step (a copy each). */
const EMIT_PER_KEY = 4;
/** Size of one arena chunk; a record larger than this gets a chunk of its own. */
const ARENA_CHUNK_BYTES = 1 << 20;

const EMPTY_MEMORY = new ArrayBuffer(0);

const enum Phase { Build, Sweep, Lookup, Emit, Done }

/** One window of a dense range read; see the file comment. */
export class RecordWindow {
  private phase = Phase.Build;
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
  /** The sweep's decoded revision key: main, sub. */
  private readonly decoded = new Float64Array(2);

  private readonly slots: SlotTable;

  /**
   * @param revs the wanted revisions, in answer order (at least one; worthSweeping() said
   * yes); kept, not copied.
   */
  constructor(
    private readonly host: WindowHost,
    private readonly revs: RevisionList,
    sweepFactor: number,
  ) {
    const n = revs.length;
    assert(n > 0, 'recordWindow: no revisions');
    const minRev = revs.min;
    const maxRev = revs.max;
    this.slots = new SlotTable(revs);
    this.memOf = new Array<ArrayBufferLike>(n);
    this.offsetOf = new Float64Array(n);
    this.lengthOf = new Int32Array(n).fill(-1);
    this.sweepFrom = encodeRevision(minRev);
    this.maxRev = maxRev;
    this.sweepBudget = sweepFactor * n;
  }

  /**
   * True when sweeping for `revs` (not empty) is expected to cost less than looking them up:
   * they span at most `sweepFactor` main revisions each.
   */
  static worthSweeping(revs: RevisionList, sweepFactor: number): boolean {
    const span = revs.max.main - revs.min.main + 1;
    return span <= sweepFactor * revs.length && span <= MAX_SPAN;
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
      case Phase.Build:
        if (this.slots.fill(stepKeys * BUILD_PER_KEY)) this.phase = Phase.Sweep;
        return 0;
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
    const rev = this.decoded;
    this.host.scanRecords(this.sweepFrom, (kBuf, kAt, kLen, vBuf, vAt, vLen) => {
      if (visited === maxEntries || this.sweepBudget === 0) {
        stopAt = Buffer.from(kBuf.subarray(kAt, kAt + kLen));
        return false;
      }
      visited++;
      this.sweepBudget--;
      const tombstone = decodeRevisionAt(kBuf, kAt, kLen, rev);
      const main = rev[0] as number;
      const sub = rev[1] as number;
      if (main > max.main || (main === max.main && sub > max.sub)) return false;
      if (tombstone) return true;
      const slot = this.slots.get(main, sub);
      if (slot >= 0 && this.lengthOf[slot] === -1) {
        // Held where it lies: published page buffers are never written again
        // (backend/page.ts), so the bytes outlive this turn. The window holds at most the
        // pages it swept.
        this.hold(slot, vBuf.buffer, vBuf.byteOffset + vAt, vLen);
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
      revs.push(this.revs.at(i));
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
    this.hold(slot, this.arena.buffer, this.arena.byteOffset + at, record.length);
  }

  private hold(slot: number, memory: ArrayBufferLike, offset: number, length: number): void {
    this.memOf[slot] = memory;
    this.offsetOf[slot] = offset;
    this.lengthOf[slot] = length;
    this.found++;
  }
}

/**
 * Revision -> slot for one window: a direct-address array over the window's span of main
 * revisions (which worthSweeping() bounds to `sweepFactor` per revision), so a lookup costs
 * one array read and building it one pass, with nothing to rehash. Revisions with a sub
 * above 0 (the later puts of a multi-put txn) go to a map.
 */
export class SlotTable {
  /** slot + 1 of revision (base + i, 0); 0: not wanted. */
  private readonly bySub0: Int32Array;
  private readonly others = new Map<string, number>();

  private filled = 0;
  private readonly minMain: number;
  private readonly maxMain: number;

  /**
   * @param revs the wanted revisions, slot by slot (at least one). The table is empty until
   * fill() has taken every revision in.
   */
  constructor(private readonly revs: RevisionList) {
    this.minMain = revs.min.main;
    this.maxMain = revs.max.main;
    const span = this.maxMain - this.minMain + 1;
    assert(Number.isSafeInteger(span) && span >= 1 && span <= MAX_SPAN, () => `slotTable: span of ${span} revisions`);
    this.bySub0 = new Int32Array(span);
  }

  /**
   * Takes in at most `max` more revisions (a window of 100k in one turn took 6-10 ms);
   * returns true once all are in.
   */
  fill(max: number): boolean {
    const revs = this.revs;
    const end = Math.min(revs.length, this.filled + max);
    for (let i = this.filled; i < end; i++) {
      const main = revs.main(i);
      const sub = revs.sub(i);
      assert(main >= this.minMain && main <= this.maxMain, 'slotTable: revision outside its span');
      if (sub === 0) this.bySub0[main - this.minMain] = i + 1;
      else this.others.set(`${main}_${sub}`, i);
    }
    this.filled = end;
    return end === revs.length;
  }

  /** The slot of revision (main, sub), or -1. */
  get(main: number, sub: number): number {
    if (sub !== 0) return this.others.get(`${main}_${sub}`) ?? -1;
    const at = main - this.minMain;
    if (at < 0 || at >= this.bySub0.length) return -1;
    return (this.bySub0[at] as number) - 1;
  }
}

/** The largest span a slot table covers: 4 revisions per record of the largest window, with room. */
const MAX_SPAN = 1 << 26;
