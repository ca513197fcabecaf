/**
 * A watch stream: many watchers sharing one bounded queue of responses, read by one consumer
 * (the API layer's gRPC stream). etcd's mvcc watchStream, with a pull interface:
 *
 *   const ws = store.newWatchStream();
 *   const id = ws.watch({ key, end, startRevision, prevKv });   // throws on a bad request
 *   for await (const resp of ws) send(resp);                     // ends when ws.close()
 *
 * or poll() for what is queued now and next() for a promise of the next response. The queue
 * holds at most `maxQueuedResponses`; when it is full the store parks the watchers that have
 * something to send (victims) and resumes them as the consumer drains the queue, so a slow
 * consumer costs memory bounded by the queue and never blocks writers.
 *
 * Guarantees per watcher, in queue order: responses in revision order; every change in its
 * range from its start revision on, exactly once; a revision's changes in one response.
 * Responses of different watchers interleave.
 */
import { assert, FloeError } from '../pkg';
import { mvccError, ERR_EMPTY_WATCHER_RANGE, ERR_WATCHER_DUPLICATE_ID, ERR_WATCHER_NOT_EXIST, ERR_MVCC_CLOSED } from './errors';
import type { IntervalEnd } from './interval-tree';
import { Watcher, type WatcherSink, type WatchOptions, type WatchResponse } from './watcher';

/** Default bound of a stream's queue (etcd's chanBufLen). */
export const DEFAULT_MAX_QUEUED_RESPONSES = 128;

/** Options of one stream. */
export interface WatchStreamOptions {
  /** Bound of the response queue; >= 1. */
  readonly maxQueuedResponses?: number;
}

/** What a stream needs from the watchable store. */
export interface WatchHost {
  readonly currentRevision: number;
  /** Registers a new watcher starting at `startRev` (0: next revision). */
  addWatcher(w: Watcher, startRev: number): void;
  /** Takes a watcher out of whatever group holds it. */
  removeWatcher(w: Watcher): void;
  /** Queues a progress response for `w` when it is synced. */
  progress(w: Watcher): void;
  /** Called when the consumer took responses and the stream has work waiting for room. */
  streamDrained(ws: WatcherSink): void;
  /** Called when the stream closes, after its watchers were removed. */
  streamClosed(ws: WatchStream): void;
  /** Checks and queues a stream-wide progress response when every watcher is synced. */
  progressAll(ws: WatcherSink): void;
  /** Throws ERR_MVCC_CLOSED when the store is closed. */
  checkOpen(): void;
}

function toBinary(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** A watch stream; see the file comment. */
export class WatchStream implements WatcherSink, AsyncIterable<WatchResponse> {
  readonly maxQueuedResponses: number;
  readonly victims = new Set<Watcher>();
  /** Set by requestProgressAll() until the stream-wide progress response is queued. */
  progressAllWanted = false;
  /** Set by the store when something waits for room in the queue (victims, stalled catch-up). */
  needsRoom = false;
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private queue: WatchResponse[] = [];
  private head = 0;
  private waiter: ((resp: WatchResponse | null) => void) | null = null;
  private closed = false;

  constructor(
    private host: WatchHost,
    opts: WatchStreamOptions = {},
  ) {
    const max = opts.maxQueuedResponses ?? DEFAULT_MAX_QUEUED_RESPONSES;
    if (!Number.isSafeInteger(max) || max < 1) throw new FloeError('ERR_BAD_OPTION', `mvcc: maxQueuedResponses must be an integer >= 1, not ${max}`);
    this.maxQueuedResponses = max;
  }

  /** The store's current revision (the header revision of a created response). */
  get revision(): number {
    return this.host.currentRevision;
  }

  /** Responses waiting for the consumer. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  get isFull(): boolean {
    return this.queued >= this.maxQueuedResponses;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The live watchers of this stream (compacted ones included until canceled), by id. */
  get watcherList(): readonly Watcher[] {
    return [...this.watchers.values()];
  }

  /**
   * Starts a watcher and returns its id. Throws ERR_EMPTY_WATCHER_RANGE when `end` is a real end
   * not after `key`, ERR_WATCHER_DUPLICATE_ID when `id` is in use on this stream, ERR_MVCC_CLOSED
   * after close (of the stream or the store).
   */
  watch(opts: WatchOptions): number {
    this.host.checkOpen();
    if (this.closed) throw mvccError(ERR_MVCC_CLOSED);
    const rawEnd = opts.end ?? null;
    let end: IntervalEnd | undefined;
    if (rawEnd === null) end = undefined;
    else if (rawEnd.length === 0 || (rawEnd.length === 1 && rawEnd[0] === 0)) end = null;
    else {
      if (Buffer.compare(opts.key, rawEnd) >= 0) throw mvccError(ERR_EMPTY_WATCHER_RANGE);
      end = toBinary(rawEnd);
    }
    let id = opts.id;
    if (id === undefined || id < 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else {
      assert(Number.isSafeInteger(id), `watchStream: watch id ${id}`);
      if (this.watchers.has(id)) throw mvccError(ERR_WATCHER_DUPLICATE_ID);
    }
    const startRev = opts.startRevision ?? 0;
    assert(Number.isSafeInteger(startRev), `watchStream: start revision ${startRev}`);
    const w = new Watcher(id, this, toBinary(opts.key), end, opts.noPut === true, opts.noDelete === true, opts.prevKv === true);
    this.watchers.set(id, w);
    this.host.addWatcher(w, Math.max(0, startRev));
    return id;
  }

  /** Stops watcher `id`; nothing more is queued for it. Throws ERR_WATCHER_NOT_EXIST. */
  cancel(id: number): void {
    const w = this.watchers.get(id);
    if (w === undefined || this.closed) throw mvccError(ERR_WATCHER_NOT_EXIST);
    this.host.removeWatcher(w);
    this.watchers.delete(id);
  }

  /** Queues a progress response for watcher `id` if it is synced (best effort, as etcd). */
  requestProgress(id: number): void {
    const w = this.watchers.get(id);
    if (w !== undefined && !this.closed) this.host.progress(w);
  }

  /**
   * Asks for one stream-wide progress response (watch id -1): queued as soon as every watcher of
   * the stream is synced and there is room, so that its revision covers every change sent to
   * every watcher before it.
   */
  requestProgressAll(): void {
    if (this.closed) return;
    this.progressAllWanted = true;
    this.host.progressAll(this);
  }

  /** The next queued response, or undefined when none is queued. */
  poll(): WatchResponse | undefined {
    if (this.head === this.queue.length) return undefined;
    const resp = this.queue[this.head] as WatchResponse;
    this.queue[this.head++] = EMPTY_RESPONSE; // let it be collected
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.drained();
    return resp;
  }

  /** The next response; waits for one. Null once the stream is closed. */
  next(): Promise<WatchResponse | null> {
    const resp = this.poll();
    if (resp !== undefined) return Promise.resolve(resp);
    if (this.closed) return Promise.resolve(null);
    assert(this.waiter === null, 'watchStream: next() called while another next() waits');
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    for (;;) {
      const resp = await this.next();
      if (resp === null) return;
      yield resp;
    }
  }

  /** Cancels every watcher and ends the stream: next() gives null, queued responses are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.host.removeWatcher(w);
    this.watchers.clear();
    this.queue = [];
    this.head = 0;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null) waiter(null);
    this.host.streamClosed(this);
  }

  /** @internal Moves the stream to another store (WatchableStore.adoptStreams). */
  rebind(host: WatchHost): void {
    this.host = host;
  }

  /** @internal Queues a response for the consumer; false when the queue is full. */
  offer(resp: WatchResponse): boolean {
    if (this.closed) return true; // dropped: nobody reads a closed stream
    if (this.waiter !== null) {
      assert(this.queued === 0, 'watchStream: a waiter with responses queued');
      const waiter = this.waiter;
      this.waiter = null;
      waiter(resp);
      return true;
    }
    if (this.isFull) return false;
    this.queue.push(resp);
    return true;
  }

  private drained(): void {
    if (this.needsRoom || this.progressAllWanted) this.host.streamDrained(this);
  }
}

const EMPTY_RESPONSE: WatchResponse = Object.freeze({ watchId: 0, events: [], revision: 0, compactRevision: 0 });
