/**
 * Reusable memory for big ranges' answers (issue 3: reads never stall writes).
 *
 * The range worker (range-worker.ts) writes a big range's records in wire form, about 27 MB
 * for 100k keys of 256-byte values, into chunks the member's thread sends. Fresh chunks for
 * every range cost three ways: the worker wrote into fresh pages (a page fault per 4 KiB);
 * both isolates counted every chunk as new external memory, and each 64 MiB of it starts a
 * full mark of the heap, so the member's heap (the key index) was marked about every second
 * range; and that marking ran on V8's helper threads at the member's priority. Measured with
 * ranges running: marking was three quarters of the helper threads' CPU, a third of the
 * server's.
 *
 * Slabs are SharedArrayBuffers of `slabBytes` both threads see. The worker takes a free one
 * (SlabSource), fills it and names it in its answer; a slab it created travels with that
 * answer once (a SharedArrayBuffer is shared, not copied). The member's thread (SlabTable)
 * hands views of it to the range's answer and releases it once the answer's bytes have left
 * the socket, or the answer was dropped. Each slab's state is one slot of a shared Int32Array,
 * changed with Atomics: only the worker creates slabs and takes free ones, only the member's
 * thread frees taken ones.
 *
 * Limits: at most `limit` slabs (RANGE_SLAB_LIMIT). A slab, once created, stays for the
 * worker's life: the peak of answers in flight stays resident. With every slab taken, the
 * worker writes into memory of its own and transfers it, as before slabs.
 */
import { assert } from '../pkg';

/** Bytes of one slab: one wire chunk. A pair larger than this gets unpooled memory. */
export const RANGE_SLAB_BYTES = 1 << 20;
/** Slabs at most: about three 100k-key answers of 256-byte values in flight at once. */
export const RANGE_SLAB_LIMIT = 96;

/** A slab's state: not created yet, free, or taken (written by the worker or held by an answer). */
const NONE = 0;
const FREE = 1;
const TAKEN = 2;

/** The worker's side: takes free slabs, creating them up to the limit. */
export class SlabSource {
  private readonly states: Int32Array;
  private readonly slabs: SharedArrayBuffer[] = [];
  /** Where the next search for a free slab starts (slabs are taken round the ring). */
  private next = 0;

  /** @param states the table's `states` (SlabTable.states). */
  constructor(
    states: SharedArrayBuffer,
    readonly slabBytes = RANGE_SLAB_BYTES,
  ) {
    this.states = new Int32Array(states);
  }

  /**
   * A slab, now taken: its index, its memory, and whether it was created for this (the member's
   * thread must then be given it). Null when all `limit` slabs are taken.
   */
  take(): { readonly index: number; readonly memory: SharedArrayBuffer; readonly created: boolean } | null {
    const made = this.slabs.length;
    for (let k = 0; k < made; k++) {
      const i = (this.next + k) % made;
      if (Atomics.compareExchange(this.states, i, FREE, TAKEN) === FREE) {
        this.next = i + 1;
        return { index: i, memory: this.slabs[i] as SharedArrayBuffer, created: false };
      }
    }
    if (made === this.states.length) return null;
    const memory = new SharedArrayBuffer(this.slabBytes);
    this.slabs.push(memory);
    assert(Atomics.exchange(this.states, made, TAKEN) === NONE, 'slabSource: a new slab was already in use');
    return { index: made, memory, created: true };
  }

  /** Frees slabs this side took and never handed out (a job that failed half way). */
  giveBack(indices: readonly number[]): void {
    for (const i of indices) assert(Atomics.compareExchange(this.states, i, TAKEN, FREE) === TAKEN, () => `slabSource: slab ${i} was not taken`);
  }
}

/** The member's side: the slabs the worker made, views of them, and their release. */
export class SlabTable {
  /** The states, to give the worker (SlabSource). */
  readonly states: SharedArrayBuffer;
  private readonly view: Int32Array;
  private readonly slabs: (SharedArrayBuffer | undefined)[] = [];

  constructor(readonly limit = RANGE_SLAB_LIMIT) {
    assert(Number.isSafeInteger(limit) && limit >= 1, `slabTable: limit ${limit}`);
    this.states = new SharedArrayBuffer(4 * limit);
    this.view = new Int32Array(this.states);
  }

  /** Takes note of slab `index`, which the worker created. */
  learn(index: number, memory: SharedArrayBuffer): void {
    assert(index >= 0 && index < this.limit && this.slabs[index] === undefined, () => `slabTable: slab ${index} learned twice or out of range`);
    this.slabs[index] = memory;
  }

  /** The first `length` bytes of taken slab `index`. */
  bytes(index: number, length: number): Buffer {
    const memory = this.slabs[index];
    assert(memory !== undefined && Atomics.load(this.view, index) === TAKEN, () => `slabTable: slab ${index} is not taken`);
    return Buffer.from(memory, 0, length);
  }

  /**
   * A function that frees `indices` (taken slabs) when first called; later calls do nothing.
   * Call it once nothing reads their bytes any more.
   */
  releaser(indices: readonly number[]): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const i of indices) assert(Atomics.compareExchange(this.view, i, TAKEN, FREE) === TAKEN, () => `slabTable: slab ${i} released twice`);
    };
  }

  /** Slabs created so far, and how many of them are taken now. */
  counts(): { readonly created: number; readonly taken: number } {
    let created = 0;
    let taken = 0;
    for (let i = 0; i < this.limit; i++) {
      const s = Atomics.load(this.view, i);
      if (s !== NONE) created++;
      if (s === TAKEN) taken++;
    }
    return { created, taken };
  }
}
