/**
 * The Range RPC served in slices (issue 3: reads never block writes). A range over 100k keys
 * done in one turn holds the event loop for tens of milliseconds and then hands grpc-js 100k
 * objects to encode in one more; meanwhile no write is proposed, persisted or answered.
 *
 * Here the store's RangeReader fixes the revision R and pins it; each step does a bounded
 * piece of work (walks at most `stepKeys` keys of the index, or fetches or hands out a bounded
 * number of records: a big range's records are fetched by one sweep of the backend,
 * mvcc/range-window.ts), and the records handed out are written straight into wire form
 * (range-wire.ts: the stored mvccpb.KeyValue bytes are the wire bytes); steps run until the
 * slice's time budget is spent, then the event loop turns (setImmediate), so the ready loop,
 * proposals and replies run. A range that fits in one slice finishes in the turn it started,
 * with no yield; a single-key get (no range_end: the common case) takes the one-shot path,
 * which costs less than the wire form's setup for one pair.
 *
 * The result is byte for byte the one applyRange (the one-shot path, still used inside txns)
 * gives, including its quirks: filters and a sort need every pair, then the limit applies; a
 * sort target without a sort order sorts the first limit + 1 pairs only (etcd 3.4).
 * What is not sliced: sorting (one Array.sort over the kept pairs, after the last slice).
 */
import { assert, verifyEnabled } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { decodeKeyValue, encodeKeyValue, type KeyValue, type KvStore, type RangeReaderOptions, type RevisionList } from '../mvcc';
import { applyRange, int64, passesFilters, rangeEnd, rangeShape } from './apply-kv';
import { workerLost, type OffloadedWindow, type RangeOffload } from './range-offload';
import { attachWireKvs, putWireKv, wireKvSize, type WireRangeResponse } from './range-wire';

/**
 * Keys walked per step by default: a step costs 0.2-0.5 ms for 256-byte values on this machine
 * when the backend pages are cached, several times that when they must be read from the file.
 */
export const DEFAULT_RANGE_STEP_KEYS = 100;
/**
 * Work per turn of the event loop by default: steps run until this much time went by, then the
 * loop turns. Measured (100k keys of 256 bytes): fixed slices of 1000 keys took 2 ms at the
 * median but 20-37 ms when a run of backend pages had to be read, and a write needs several
 * turns (propose, persist, apply, reply); a time bound keeps slices even. 1 ms starved the
 * range under a put load (0.05 ranges/s against etcd's 0.7) for no gain in write p99, which is
 * dominated by the reply's copies (see the issue report); 4 ms is the compromise.
 */
export const DEFAULT_RANGE_SLICE_BUDGET_MS = 4;

/** Options of rangeInSlices. */
export interface SlicedRangeOptions {
  /** Keys walked per step; >= 1. */
  readonly stepKeys?: number;
  /** Steps run in one turn until this many milliseconds went by; 0: one step per turn. */
  readonly sliceBudgetMs?: number;
  /** Waits between slices (default: one turn of the event loop). */
  readonly nextTurn?: () => Promise<void>;
  /** How the store's reader fetches records (tests force small windows and sweeps). */
  readonly reader?: Pick<RangeReaderOptions, 'windowRevs' | 'sweepMinRevs' | 'sweepFactor'>;
  /**
   * Where windows worth sweeping are fetched (range-offload.ts: a worker thread); none: here,
   * in slices. Only for answers written as stored (no filter, sort or keys_only).
   */
  readonly offload?: RangeOffload;
}

const nextImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const EMPTY: Buffer = Buffer.alloc(0);
/** The first chunk of an answer's wire form, and the size chunks double up to. */
const FIRST_CHUNK_BYTES = 1024;
const MAX_CHUNK_BYTES = 1 << 20;

/** A pair kept for filtering or sorting: its decoded fields and its wire bytes. */
interface Kept {
  readonly kv: KeyValue;
  readonly wire: Buffer;
}

/**
 * Serves `r` (a RangeRequest, already validated) from `store` in slices; see the file comment.
 * The response has no header yet; `revision` is the store's revision when the read began (the
 * header's revision). Throws as the store's range does (compacted, future revision, closed).
 */
export async function rangeInSlices(
  store: KvStore,
  r: pb.RangeRequest,
  opts: SlicedRangeOptions = {},
): Promise<{ readonly resp: WireRangeResponse | pb.RangeResponse; readonly revision: number }> {
  const stepKeys = opts.stepKeys ?? DEFAULT_RANGE_STEP_KEYS;
  assert(Number.isSafeInteger(stepKeys) && stepKeys >= 1, `rangeInSlices: stepKeys ${stepKeys}`);
  const budgetMs = opts.sliceBudgetMs ?? DEFAULT_RANGE_SLICE_BUDGET_MS;
  assert(Number.isFinite(budgetMs) && budgetMs >= 0, `rangeInSlices: sliceBudgetMs ${budgetMs}`);
  const nextTurn = opts.nextTurn ?? nextImmediate;
  if (r.range_end.length === 0) {
    const view = store.read();
    try {
      return { resp: applyRange(view, r), revision: view.revision };
    } finally {
      view.end();
    }
  }
  const shape = rangeShape(r);
  const { reqLimit, compare } = shape;
  // The wire path copies records as they are; filters, sorts and keys_only need them decoded.
  const keepAll = shape.needAll || compare !== null;
  let fetchLimit = shape.needAll ? 0 : reqLimit;
  if (fetchLimit > 0 && compare !== null) fetchLimit += 1; // applyRange's limit + 1, then sort
  const offload = keepAll || r.keys_only ? undefined : opts.offload;
  const reader = store.openRange(r.key, rangeEnd(r.range_end), {
    revision: int64(r.revision),
    limit: fetchLimit,
    countOnly: r.count_only,
    ...opts.reader,
    offload: offload !== undefined,
  });
  const chunks: Buffer[] = [];
  // Releases of the worker's memory the fetched windows lie in (range-slabs.ts).
  const lent: (() => void)[] = [];
  const kept: Kept[] = [];
  const keysOnly = r.keys_only;
  // Records are copied straight into `cur` (a view into backend pages is valid in this turn
  // only): chunks start small, since a one-key range is the common case, and double up to
  // MAX_CHUNK_BYTES. With filters or a sort, each step's pairs are decoded as they land.
  let cur = EMPTY;
  let used = 0;
  let stepStart = 0;
  let offsets: number[] = [];
  const seal = (): void => {
    if (keepAll && used > stepStart) keepDecoded(cur.subarray(stepStart, used), offsets, kept, shape);
    stepStart = used;
    offsets = [];
  };
  // The wire chunk being written is done (kept, unless the pairs go through `kept`); `next` follows it.
  const endChunk = (next: Buffer): void => {
    if (!keepAll && used > 0) chunks.push(cur.subarray(0, used));
    cur = next;
    used = 0;
    stepStart = 0;
  };
  const onRecord = (stored: Buffer): void => {
    if (verifyEnabled) {
      // The wire path trusts stored records to be in etcd's canonical encoding.
      assert(encodeKeyValue(decodeKeyValue(stored)).equals(stored), 'rangeInSlices: a stored record is not in canonical form');
    }
    const record = keysOnly ? withoutValue(stored) : stored;
    const size = wireKvSize(record.length);
    if (used + size > cur.length) {
      seal();
      endChunk(Buffer.allocUnsafe(Math.max(size, Math.min(MAX_CHUNK_BYTES, 2 * cur.length), FIRST_CHUNK_BYTES)));
    }
    if (keepAll) offsets.push(used - stepStart);
    used = putWireKv(cur, used, record);
  };
  try {
    let sliceStart = performance.now();
    for (;;) {
      let done = reader.step(stepKeys, onRecord);
      seal();
      const window = offload === undefined ? null : reader.takeWindow();
      if (window !== null) {
        // The window's chunks follow what this reader wrote so far.
        endChunk(EMPTY);
        const fetched = await fetchElsewhere(store, offload as RangeOffload, window, reader.windowSweepFactor);
        if (fetched === null) {
          reader.sweepHere(window); // no worker: swept here, in the steps that follow
        } else {
          lent.push(fetched.release);
          for (const c of fetched.chunks) chunks.push(c);
          reader.finishWindow(fetched.swept, fetched.lookedUp);
          done = reader.done;
        }
        sliceStart = performance.now();
      }
      if (done) break;
      if (performance.now() - sliceStart < budgetMs) continue;
      await nextTurn();
      sliceStart = performance.now();
    }
  } catch (e) {
    for (const release of lent) release();
    throw e;
  } finally {
    reader.close();
  }
  endChunk(EMPTY);

  let more = false;
  if (keepAll) {
    // Stable sort: ties keep key order, as applyRange.
    if (compare !== null) kept.sort((a, b) => compare(a.kv, b.kv));
    let n = kept.length;
    if (reqLimit > 0 && n > reqLimit) {
      n = reqLimit;
      more = true;
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += (kept[i] as Kept).wire.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const w = (kept[i] as Kept).wire;
      w.copy(out, at);
      at += w.length;
    }
    if (total > 0) chunks.push(out);
  } else {
    more = reqLimit > 0 && reader.count > reqLimit && !r.count_only;
  }
  const resp: pb.RangeResponse = { header: {} };
  if (more) resp.more = true;
  if (reader.count !== 0) resp.count = reader.count;
  const release = lent.length === 0 ? undefined : () => lent.forEach((r) => r());
  return { resp: attachWireKvs(resp, chunks, release), revision: reader.revision };
}

/**
 * The records of `revs` fetched by `offload` from a snapshot of `store`, pinned until they are
 * in; null when there was no worker to fetch them (workerLost()).
 */
async function fetchElsewhere(store: KvStore, offload: RangeOffload, revs: RevisionList, sweepFactor: number): Promise<OffloadedWindow | null> {
  const snapshot = store.exportRecords();
  try {
    return await offload.fetch(snapshot.handle, revs, sweepFactor);
  } catch (e) {
    if (workerLost(e)) return null;
    throw e;
  } finally {
    snapshot.release();
  }
}

/** The record of `stored` with its value left out (keys_only), as applyRange returns it. */
function withoutValue(stored: Buffer): Buffer {
  const kv = decodeKeyValue(stored);
  return encodeKeyValue({ ...kv, value: EMPTY });
}

/** Decodes the pairs of one chunk (wire entries starting at `offsets`) and keeps those passing the filters. */
function keepDecoded(chunk: Buffer, offsets: readonly number[], kept: Kept[], shape: ReturnType<typeof rangeShape>): void {
  for (let i = 0; i < offsets.length; i++) {
    const start = offsets[i] as number;
    const end = i + 1 < offsets.length ? (offsets[i + 1] as number) : chunk.length;
    const wire = chunk.subarray(start, end);
    let at = 1;
    while ((wire[at] as number) >= 0x80) at++;
    const kv = decodeKeyValue(wire.subarray(at + 1));
    if (passesFilters(shape, kv)) kept.push({ kv, wire });
  }
}
