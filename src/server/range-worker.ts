/**
 * The thread that fetches big ranges' records (range-offload.ts runs it): for each job, the
 * records of one window of wanted revisions are read from an exported backend snapshot and
 * written in wire form (range-wire.ts) into slabs shared with the member's thread
 * (range-slabs.ts), or into memory transferred back when no slab is free. The snapshot's
 * descriptor stays the member's: it closes it once the job settled (Node warns when a
 * worker closes a descriptor it did not open).
 *
 * It lowers its own scheduling priority first (Linux nice values are per thread): on a busy
 * machine the writes on the member's thread then win the CPU over a big read.
 */
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { fetchWindow, RevisionList, SWEEP_READ_AHEAD_PAGES, type FetchedWindow } from '../mvcc';
import { DEFAULT_PAGE_SIZE, RunBuffers, type SnapshotHandle } from '../backend';
import { SlabSource } from './range-slabs';
import { putWireKv, wireKvSize } from './range-wire';

/** What range-offload.ts starts the worker with. */
export interface RangeWorkerData {
  /** The nice value to take (0: leave it). */
  readonly nice: number;
  /** The page cache of the worker's snapshot readers. */
  readonly cacheBytes: number;
  /** Read-ahead memory kept from one job for the next (run-buffers.ts). */
  readonly keepRunBytes: number;
  /** The slabs' states (range-slabs.ts SlabTable.states), and the bytes of one slab. */
  readonly slabStates: SharedArrayBuffer;
  readonly slabBytes: number;
}

/** One window to fetch. */
export interface RangeJob {
  readonly id: number;
  readonly handle: SnapshotHandle;
  readonly mains: Float64Array;
  readonly subs: Float64Array;
  readonly length: number;
  readonly sweepFactor: number;
}

/** The answer to a job: the window's pairs in wire form, or an error; and the slabs created meanwhile. */
export type RangeJobResult =
  | (FetchedWindow & {
      readonly id: number;
      /** Per chunk: the slab it lies in (range-slabs.ts), or -1 for the next of `own`. */
      readonly slabs: number[];
      /** Per chunk: its bytes. */
      readonly lengths: number[];
      /** Chunks in memory of the worker's own (no slab was free or the pair was larger), transferred. */
      readonly own: ArrayBuffer[];
      readonly created: [number, SharedArrayBuffer][];
    })
  | { readonly id: number; readonly error: string; readonly created: [number, SharedArrayBuffer][] };

/**
 * Writes one job's pairs in wire form into slabs, or into memory of its own when none is free.
 * One writer serves every job (one closure for onRecord: a new one per job cost the hot
 * emitting loop a deoptimization each time).
 */
class ChunkWriter {
  slabs: number[] = [];
  lengths: number[] = [];
  own: ArrayBuffer[] = [];
  created: [number, SharedArrayBuffer][] = [];
  private cur: Buffer | null = null;
  private used = 0;

  constructor(private readonly source: SlabSource) {}

  readonly onRecord = (record: Buffer): void => {
    const size = wireKvSize(record.length);
    let cur = this.cur;
    if (cur === null || this.used + size > cur.length) {
      if (cur !== null) this.lengths.push(this.used);
      cur = this.cur = this.nextChunk(size);
      this.used = 0;
    }
    this.used = putWireKv(cur, this.used, record);
  };

  /** Ends the job's last chunk; the writer starts afresh for the next. */
  finish(): { slabs: number[]; lengths: number[]; own: ArrayBuffer[]; created: [number, SharedArrayBuffer][] } {
    if (this.cur !== null) this.lengths.push(this.used);
    const out = { slabs: this.slabs, lengths: this.lengths, own: this.own, created: this.created };
    this.reset();
    return out;
  }

  /** Gives back the slabs of a failed job; returns the slabs it created (the member must learn them still). */
  abandon(): [number, SharedArrayBuffer][] {
    this.source.giveBack(this.slabs.filter((i) => i >= 0));
    const created = this.created;
    this.reset();
    return created;
  }

  private reset(): void {
    this.slabs = [];
    this.lengths = [];
    this.own = [];
    this.created = [];
    this.cur = null;
    this.used = 0;
  }

  private nextChunk(size: number): Buffer {
    const slab = size <= this.source.slabBytes ? this.source.take() : null;
    if (slab !== null) {
      this.slabs.push(slab.index);
      if (slab.created) this.created.push([slab.index, slab.memory]);
      return Buffer.from(slab.memory);
    }
    // Not from Buffer's shared pool: each chunk's memory is transferred on its own.
    const own = Buffer.allocUnsafeSlow(Math.max(size, this.source.slabBytes));
    this.slabs.push(-1);
    this.own.push(own.buffer as ArrayBuffer);
    return own;
  }
}

/** Read-ahead memory, reused from job to job (for the usual 4 KiB pages). */
let runs: RunBuffers | null = null;

function runJob(job: RangeJob, data: RangeWorkerData, writer: ChunkWriter): RangeJobResult {
  const revs = RevisionList.of(job.mains, job.subs, job.length);
  runs ??= new RunBuffers(SWEEP_READ_AHEAD_PAGES * DEFAULT_PAGE_SIZE, data.keepRunBytes);
  const counts = fetchWindow(job.handle, revs, job.sweepFactor, data.cacheBytes, writer.onRecord, runs);
  return { id: job.id, ...writer.finish(), swept: counts.swept, lookedUp: counts.lookedUp };
}

if (parentPort !== null) {
  const port = parentPort;
  const data = workerData as RangeWorkerData;
  if (data.nice !== 0) {
    try {
      os.setPriority(data.nice);
    } catch {
      // Not permitted here: the worker runs at the member's priority.
    }
  }
  const writer = new ChunkWriter(new SlabSource(data.slabStates, data.slabBytes));
  port.on('message', (job: RangeJob) => {
    let result: RangeJobResult;
    try {
      result = runJob(job, data, writer);
    } catch (e) {
      port.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e), created: writer.abandon() });
      return;
    }
    port.postMessage(result, 'own' in result ? result.own : []);
  });
}
