/**
 * Big ranges' records fetched in a worker thread (issue 3: reads never block writes).
 *
 * A 100k-key range costs the member's thread about 0.4 s of CPU, more than half of it reading
 * records out of backend pages and writing them in wire form. Sliced (range-sliced.ts), that
 * work never holds the event loop for long, but the thread stays busy, and on a machine whose
 * cores are all busy (the reading client decodes a 27 MB answer at the same time) the kernel
 * shares the CPU between threads, not between requests: writes then wait behind the read.
 *
 * So when a range's reader has gathered a window of wanted revisions dense enough to sweep
 * (range-window.ts), the window goes here: the store commits its batch and exports a snapshot
 * of the backend (backend/snapshot.ts), and the worker (range-worker.ts) sweeps it through its
 * own file descriptor, at a lower scheduling priority, writing the wire form into slabs shared
 * with this thread (range-slabs.ts). The member's thread keeps the index walk and the socket
 * writes, and releases a window's slabs once its answer is sent (OffloadedWindow.release).
 * Windows of all ranges queue in one worker, in order.
 *
 * Limits: one worker; its page cache is RANGE_WORKER_CACHE_BYTES (the swept pages themselves
 * are read through it once per window); its slabs are RANGE_SLAB_LIMIT of RANGE_SLAB_BYTES
 * (range-slabs.ts). If the worker cannot start or dies, the jobs it held fail with a
 * worker-lost error (workerLost()), their ranges sweep those windows on the member's thread as
 * before, and the next job starts a new worker with slabs of its own (answers still holding
 * the old ones keep them until they are released).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SnapshotHandle } from '../backend';
import type { RevisionList } from '../mvcc';
import { FloeError } from '../pkg';
import type { RangeJob, RangeJobResult, RangeWorkerData } from './range-worker';
import { RANGE_SLAB_BYTES, RANGE_SLAB_LIMIT, SlabTable } from './range-slabs';

/** The worker's nice value: below the member's thread on a busy machine, not starved on an idle one. */
export const RANGE_WORKER_NICE = 10;
/** The worker's page cache: branch pages; the leaves a sweep reads are read once each. */
export const RANGE_WORKER_CACHE_BYTES = 8 << 20;
/** Read-ahead memory the worker keeps between windows (run-buffers.ts). */
export const RANGE_WORKER_KEEP_RUN_BYTES = 64 << 20;

/** A window's records in wire form, and how they were found. */
export interface OffloadedWindow {
  /** Views of the worker's slabs (or memory it transferred): valid until release(). */
  readonly chunks: Buffer[];
  readonly swept: number;
  readonly lookedUp: number;
  /** Frees the chunks' slabs; call it once, when nothing reads the chunks any more. */
  readonly release: () => void;
}

export interface RangeOffloadOptions {
  /** The worker's nice value; default RANGE_WORKER_NICE (0: the member's priority). */
  readonly nice?: number;
  readonly cacheBytes?: number;
  readonly keepRunBytes?: number;
  /** Slabs (range-slabs.ts): how many at most, and their size. */
  readonly slabLimit?: number;
  readonly slabBytes?: number;
  /** The worker's script; default range-worker.js (tests give one that fails). */
  readonly script?: string;
}

/**
 * True when a fetch failed because there was no worker to run it (it could not start, died,
 * or the offload closed), not because of what it read: the window can be swept elsewhere.
 */
export function workerLost(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_RANGE_OFFLOAD_START' || code === 'ERR_RANGE_OFFLOAD_LOST' || code === 'ERR_RANGE_OFFLOAD_EXIT' || code === 'ERR_RANGE_OFFLOAD_CLOSED';
}

interface Pending {
  /** The slabs of the worker the job went to. */
  readonly slabs: SlabTable;
  readonly resolve: (w: OffloadedWindow) => void;
  readonly reject: (e: Error) => void;
}

/** The member's range worker; see the file comment. */
export class RangeOffload {
  private worker: Worker | null = null;
  /** The slabs of the current worker. */
  private slabs: SlabTable | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly opts: RangeOffloadOptions;
  private readonly script: string;

  constructor(opts: RangeOffloadOptions = {}) {
    this.script = opts.script ?? path.join(__dirname, 'range-worker.js');
    this.opts = opts;
  }

  /** The current worker's slabs: created so far, and taken now (by the worker or by answers not sent yet). */
  slabCounts(): { readonly created: number; readonly taken: number } {
    return this.slabs?.counts() ?? { created: 0, taken: 0 };
  }

  /** Windows fetched so far. */
  windows = 0;

  /** Jobs sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Fetches the records of `revs` from `handle`'s snapshot. The caller keeps the snapshot
   * pinned and its descriptor open until this settles (the worker is then done with it, or
   * gone). `revs` is copied (1.6 MB for 100k revisions), so that the caller can still sweep it
   * itself when the worker is lost (workerLost()).
   */
  fetch(handle: SnapshotHandle, revs: RevisionList, sweepFactor: number): Promise<OffloadedWindow> {
    if (this.closed) return Promise.reject(new FloeError('ERR_RANGE_OFFLOAD_CLOSED', 'range worker: closed'));
    let worker: Worker;
    let slabs: SlabTable;
    try {
      [worker, slabs] = this.ensureWorker();
    } catch (e) {
      return Promise.reject(new FloeError('ERR_RANGE_OFFLOAD_START', `range worker: cannot start: ${(e as Error).message}`));
    }
    const id = this.nextId++;
    const arrays = revs.arrays();
    const mains = arrays.mains.slice(0, revs.length);
    const subs = arrays.subs.slice(0, revs.length);
    const job: RangeJob = { id, handle, mains, subs, length: revs.length, sweepFactor };
    return new Promise<OffloadedWindow>((resolve, reject) => {
      this.pending.set(id, { slabs, resolve, reject });
      try {
        worker.postMessage(job, [mains.buffer as ArrayBuffer, subs.buffer as ArrayBuffer]);
      } catch (e) {
        this.pending.delete(id);
        throw e;
      }
      if (this.pending.size === 1) worker.ref();
    });
  }

  /** Stops the worker; jobs in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.slabs = null;
    if (w !== null) await w.terminate();
    this.failAll(new FloeError('ERR_RANGE_OFFLOAD_CLOSED', 'range worker: closed'));
  }

  private ensureWorker(): [Worker, SlabTable] {
    if (this.worker !== null && this.slabs !== null) return [this.worker, this.slabs];
    const opts = this.opts;
    const slabs = new SlabTable(opts.slabLimit ?? RANGE_SLAB_LIMIT);
    const data: RangeWorkerData = {
      nice: opts.nice ?? RANGE_WORKER_NICE,
      cacheBytes: opts.cacheBytes ?? RANGE_WORKER_CACHE_BYTES,
      keepRunBytes: opts.keepRunBytes ?? RANGE_WORKER_KEEP_RUN_BYTES,
      slabStates: slabs.states,
      slabBytes: opts.slabBytes ?? RANGE_SLAB_BYTES,
    };
    const w = new Worker(this.script, { workerData: data });
    // Only a job in flight keeps the process alive.
    w.unref();
    w.on('message', (r: RangeJobResult) => this.settle(w, r));
    w.on('error', (e) => this.lost(w, new FloeError('ERR_RANGE_OFFLOAD_LOST', `range worker: ${e.message}`)));
    w.on('exit', (code) => this.lost(w, new FloeError('ERR_RANGE_OFFLOAD_EXIT', `range worker: exited with code ${code}`)));
    this.worker = w;
    this.slabs = slabs;
    return [w, slabs];
  }

  private settle(w: Worker, r: RangeJobResult): void {
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) w.unref();
    const slabs = p.slabs;
    for (const [index, memory] of r.created) slabs.learn(index, memory);
    if ('error' in r) {
      p.reject(new FloeError('ERR_RANGE_OFFLOAD', `range worker: ${r.error}`));
      return;
    }
    this.windows++;
    const chunks: Buffer[] = [];
    const held: number[] = [];
    let own = 0;
    for (let i = 0; i < r.slabs.length; i++) {
      const slab = r.slabs[i] as number;
      const length = r.lengths[i] as number;
      if (slab >= 0) {
        held.push(slab);
        chunks.push(slabs.bytes(slab, length));
      } else chunks.push(Buffer.from(r.own[own++] as ArrayBuffer, 0, length));
    }
    p.resolve({ chunks, swept: r.swept, lookedUp: r.lookedUp, release: slabs.releaser(held) });
  }

  private lost(w: Worker, e: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.slabs = null;
    this.failAll(e);
  }

  private failAll(e: Error): void {
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const p of jobs) p.reject(e);
  }
}
