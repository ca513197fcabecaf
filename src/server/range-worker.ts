/**
 * The thread that fetches big ranges' records (range-offload.ts runs it): for each job, the
 * records of one window of wanted revisions are read from an exported backend snapshot and
 * written in wire form (range-wire.ts) into chunks that are transferred back, not copied.
 *
 * It lowers its own scheduling priority first (Linux nice values are per thread): on a busy
 * machine the writes on the member's thread then win the CPU over a big read.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { fetchWindow, RevisionList, SWEEP_READ_AHEAD_PAGES, type FetchedWindow } from '../mvcc';
import { DEFAULT_PAGE_SIZE, RunBuffers, type SnapshotHandle } from '../backend';
import { putWireKv, wireKvSize } from './range-wire';

/** What range-offload.ts starts the worker with. */
export interface RangeWorkerData {
  /** The nice value to take (0: leave it). */
  readonly nice: number;
  /** The page cache of the worker's snapshot readers. */
  readonly cacheBytes: number;
  /** Read-ahead memory kept from one job for the next (run-buffers.ts). */
  readonly keepRunBytes: number;
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

/** The answer to a job: the window's pairs in wire form (chunks[i] holds lengths[i] bytes), or an error. */
export type RangeJobResult =
  | (FetchedWindow & { readonly id: number; readonly chunks: ArrayBuffer[]; readonly lengths: number[] })
  | { readonly id: number; readonly error: string };

/** The size of a wire chunk; a pair larger than this gets a chunk of its own. */
const CHUNK_BYTES = 1 << 20;

/** Read-ahead memory, reused from job to job (for the usual 4 KiB pages). */
let runs: RunBuffers | null = null;

function runJob(job: RangeJob, data: RangeWorkerData): RangeJobResult {
  const chunks: ArrayBuffer[] = [];
  const lengths: number[] = [];
  let cur: Buffer | null = null;
  let used = 0;
  const onRecord = (record: Buffer): void => {
    const size = wireKvSize(record.length);
    if (cur === null || used + size > cur.length) {
      if (cur !== null) lengths.push(used);
      // Not from Buffer's shared pool: each chunk's memory is transferred on its own.
      cur = Buffer.allocUnsafeSlow(Math.max(size, CHUNK_BYTES));
      chunks.push(cur.buffer as ArrayBuffer);
      used = 0;
    }
    used = putWireKv(cur, used, record);
  };
  let revs: RevisionList;
  try {
    revs = RevisionList.of(job.mains, job.subs, job.length);
  } catch (e) {
    fs.closeSync(job.handle.fd);
    throw e;
  }
  runs ??= new RunBuffers(SWEEP_READ_AHEAD_PAGES * DEFAULT_PAGE_SIZE, data.keepRunBytes);
  const counts = fetchWindow(job.handle, revs, job.sweepFactor, data.cacheBytes, onRecord, runs);
  if (cur !== null) lengths.push(used);
  return { id: job.id, chunks, lengths, swept: counts.swept, lookedUp: counts.lookedUp };
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
  port.on('message', (job: RangeJob) => {
    let result: RangeJobResult;
    try {
      result = runJob(job, data);
    } catch (e) {
      port.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    port.postMessage(result, 'chunks' in result ? result.chunks : []);
  });
}
