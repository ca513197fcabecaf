/**
 * The watchable store: the KV store plus watchers (etcd's watchableStore).
 *
 * Every watcher is in exactly one state:
 * - synced: it has been sent everything up to the current revision; each write transaction's
 *   events go straight to it (afterWrite -> notify), one response per revision;
 * - unsynced: it lags (it started in the past, or came back from being a victim); a catch-up
 *   step, run on a later turn of the event loop, reads history from the backend's `key` bucket
 *   in bounded slices of whole revisions and sends it; once caught up it becomes synced;
 * - victim: its stream's queue was full; the response that did not fit is kept (`pending`)
 *   and sent as soon as the consumer makes room; then it is unsynced or synced again;
 * - compacted: it needed history below the compaction revision (or at it, once compaction
 *   removed records there); it got a compacted response and receives nothing more;
 * - canceled: removed.
 *
 * Why nothing is lost or repeated: a watcher's `minRev` is the lowest revision it has not
 * been sent (or has pending), every transition keeps it exact, and only one path (notify,
 * catch-up or victim retry) serves a watcher at a time because it is in one state at a time.
 * Everything runs on one thread, so a write transaction and a catch-up step never interleave.
 *
 * Why writers never wait: notify does a bounded amount of work per watched event and never
 * reads history; catch-up reads at most `catchUpBatchRecords` records (plus the rest of one
 * revision, never split) per step for at most `maxWatchersPerSync` watchers, and yields
 * between steps.
 */
import { assert, FloeError, isFloeError } from '../pkg';
import type { BatchTx } from '../backend';
import { ERR_COMPACTED, ERR_FUTURE_REV } from './errors';
import { decodeKeyValue, EventType, type Event } from './kv-codec';
import { KvStore, type KvStoreOptions } from './kv-store';
import { decodeRevision, encodeRevision } from './revision';
import { KEY_BUCKET } from './schema';
import { WatchStream, type WatchHost, type WatchStreamOptions } from './watch-stream';
import { PROGRESS_ALL_WATCH_ID, type Watcher, type WatcherSink, type WatchResponse } from './watcher';
import { WatcherGroup } from './watcher-group';

/** Watchers served per catch-up step by default (etcd's maxWatchersPerSync). */
export const DEFAULT_MAX_WATCHERS_PER_SYNC = 512;
/** Backend records read per catch-up step by default. */
export const DEFAULT_CATCH_UP_BATCH_RECORDS = 1000;

/** Options of a WatchableStore. */
export interface WatchableStoreOptions extends KvStoreOptions {
  /** Watchers served per catch-up step; >= 1. */
  readonly maxWatchersPerSync?: number;
  /** Backend records read per catch-up step (a revision is never split, so one step may read more); >= 1. */
  readonly catchUpBatchRecords?: number;
  /** Runs a function on a later turn of the event loop; default setImmediate. */
  readonly schedule?: (fn: () => void) => void;
}

/** Watch streams between `detachStreams` and `adoptStreams`. */
export interface DetachedStreams {
  readonly from: WatchableStore;
  readonly streams: readonly WatchStream[];
}

/** Counts of watchers by state (for metrics and tests). */
export interface WatcherCounts {
  readonly synced: number;
  readonly unsynced: number;
  readonly victims: number;
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < 1) throw new FloeError('ERR_BAD_OPTION', `mvcc: ${name} must be an integer >= 1, not ${n}`);
  return n;
}

/** The KV store with watch streams; see the file comment. */
export class WatchableStore extends KvStore implements WatchHost {
  private readonly synced = new WatcherGroup<Watcher>();
  private readonly unsynced = new WatcherGroup<Watcher>();
  private victimCount = 0;
  private syncScheduled = false;
  private readonly retryStreams = new Set<WatcherSink>();
  private readonly streams = new Set<WatchStream>();
  private retryScheduled = false;
  private readonly maxWatchersPerSync: number;
  private readonly catchUpBatchRecords: number;
  private readonly schedule: (fn: () => void) => void;

  constructor(batch: BatchTx, opts: WatchableStoreOptions = {}) {
    super(batch, opts);
    this.maxWatchersPerSync = positiveInt('maxWatchersPerSync', opts.maxWatchersPerSync, DEFAULT_MAX_WATCHERS_PER_SYNC);
    this.catchUpBatchRecords = positiveInt('catchUpBatchRecords', opts.catchUpBatchRecords, DEFAULT_CATCH_UP_BATCH_RECORDS);
    this.schedule = opts.schedule ?? ((fn) => void setImmediate(fn));
  }

  /** A new watch stream (watch-stream.ts). */
  newWatchStream(opts: WatchStreamOptions = {}): WatchStream {
    this.checkOpen();
    const ws = new WatchStream(this, opts);
    this.streams.add(ws);
    return ws;
  }

  /**
   * First half of moving this store's watch streams to a store that replaces it (a raft
   * snapshot brought a new backend): every watcher leaves the synced group for the unsynced one
   * (which a closed store never serves), victims keep their pending response, and the streams
   * are no longer this store's, so closing it leaves them open. Until `adoptStreams` they
   * answer as streams of a closed store (a new watch is refused; cancel and close work).
   */
  detachStreams(): DetachedStreams {
    const streams = [...this.streams];
    const sentUpTo = this.currentRevision;
    for (const ws of streams) {
      for (const w of ws.watcherList) {
        if (w.state !== 'synced') continue;
        this.synced.delete(w);
        // notify() leaves a synced watcher's minRev where it joined; being synced means it
        // was sent everything up to now, which is where it resumes.
        w.minRev = Math.max(w.minRev, sentUpTo + 1);
        w.state = 'unsynced';
        this.unsynced.add(w);
      }
    }
    this.streams.clear();
    this.retryStreams.clear();
    return { from: this, streams };
  }

  /**
   * Second half (etcd's watchableStore.Restore): the streams become this store's; each watcher
   * keeps its id and place and catches up from this store's history, or is told it is compacted
   * when this store's compaction passed its place. Call once this store is open.
   */
  adoptStreams(moved: DetachedStreams): void {
    this.checkOpen();
    const from = moved.from;
    const curRev = this.currentRevision;
    for (const ws of moved.streams) {
      if (ws.isClosed) continue;
      ws.rebind(this);
      this.streams.add(ws);
      for (const w of ws.watcherList) {
        if (w.state === 'unsynced') {
          from.unsynced.delete(w);
          this.rejoin(w, curRev);
        } else if (w.state === 'victim') {
          from.victimCount--;
          this.victimCount++;
        }
      }
      // Pending victims, a stream-wide progress request or a stalled catch-up: try them now.
      if (ws.victims.size > 0 || ws.needsRoom || ws.progressAllWanted) this.streamDrained(ws);
    }
  }

  /** Closes every watch stream (their consumers see the end), then closes the store. */
  override close(): Promise<void> {
    for (const ws of [...this.streams]) ws.close();
    return super.close();
  }

  /** Watch streams open now (etcd's watch_stream_total). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Watchers by state. */
  watcherCounts(): WatcherCounts {
    return { synced: this.synced.size, unsynced: this.unsynced.size, victims: this.victimCount };
  }

  /** True when no catch-up or victim retry is scheduled or waiting (tests use it to settle). */
  get isIdle(): boolean {
    return !this.syncScheduled && !this.retryScheduled;
  }

  // ---- WatchHost ----

  /** @internal etcd's watch(): synced when it starts after the current revision. */
  addWatcher(w: Watcher, startRev: number): void {
    const cur = this.currentRevision;
    if (startRev === 0 || startRev > cur) {
      w.minRev = Math.max(cur + 1, startRev);
      w.state = 'synced';
      this.synced.add(w);
      return;
    }
    w.minRev = startRev;
    w.state = 'unsynced';
    this.unsynced.add(w);
    this.scheduleSync();
  }

  /** @internal */
  removeWatcher(w: Watcher): void {
    switch (w.state) {
      case 'synced':
        assert(this.synced.delete(w), 'watchableStore: synced watcher not in the synced group');
        break;
      case 'unsynced':
        assert(this.unsynced.delete(w), 'watchableStore: unsynced watcher not in the unsynced group');
        break;
      case 'victim':
        assert(w.sink.victims.delete(w), 'watchableStore: victim not in its stream');
        this.victimCount--;
        w.pending = null;
        break;
      case 'compacted':
      case 'canceled':
        break;
    }
    w.state = 'canceled';
    // The stream may have been waiting on this watcher to answer a stream-wide progress request.
    if (w.sink.progressAllWanted) this.progressAll(w.sink);
  }

  /** @internal etcd's progress(): only a synced watcher can claim to be up to date. */
  progress(w: Watcher): void {
    if (w.state !== 'synced') return;
    w.sink.offer({ watchId: w.id, events: [], revision: this.currentRevision, compactRevision: 0 });
  }

  /** @internal */
  progressAll(ws: WatcherSink): void {
    if (!ws.progressAllWanted || ws.isClosed) return;
    for (const w of ws.watcherList) {
      if (w.state === 'unsynced' || w.state === 'victim') return; // asked again when they move
    }
    if (ws.offer({ watchId: PROGRESS_ALL_WATCH_ID, events: [], revision: this.currentRevision, compactRevision: 0 })) {
      ws.progressAllWanted = false;
    } else {
      ws.needsRoom = true;
    }
  }

  /** @internal */
  streamDrained(ws: WatcherSink): void {
    ws.needsRoom = false;
    this.retryStreams.add(ws);
    if (this.retryScheduled) return;
    this.retryScheduled = true;
    this.schedule(() => this.retryVictims());
  }

  /** @internal */
  streamClosed(ws: WatchStream): void {
    this.streams.delete(ws);
    this.retryStreams.delete(ws);
  }

  // ---- notify: the write path ----

  protected override afterWrite(rev: number, events: readonly Event[]): void {
    if (this.synced.size === 0) return;
    const batches = new Map<Watcher, Event[]>();
    for (const ev of events) {
      this.synced.forEachCovering(ev.kv.key.toString('latin1'), (w) => {
        if (ev.kv.modRevision < w.minRev) return;
        const evs = batches.get(w);
        if (evs === undefined) batches.set(w, [ev]);
        else evs.push(ev);
      });
    }
    for (const [w, evs] of batches) {
      const resp = this.buildResponse(w, evs, rev);
      if (resp === null || w.sink.offer(resp)) continue;
      // The consumer is behind: park the watcher with what did not fit.
      this.synced.delete(w);
      this.makeVictim(w, resp, rev + 1);
    }
  }

  // ---- catch-up ----

  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    this.schedule(() => this.syncWatchers());
  }

  /** One catch-up step (etcd's syncWatchers, bounded). */
  private syncWatchers(): void {
    this.syncScheduled = false;
    if (this.isClosed || this.unsynced.size === 0) return;
    const curRev = this.currentRevision;
    const compactRev = this.compactRevision;
    const chosen = new WatcherGroup<Watcher>();
    let minRev = Number.MAX_SAFE_INTEGER;
    for (const w of this.unsynced.watchers) {
      if (chosen.size >= this.maxWatchersPerSync) break;
      if (w.sink.isFull) {
        w.sink.needsRoom = true; // resumed by streamDrained
        continue;
      }
      // Below the compaction revision history is gone; at it, only if compaction removed
      // records there (etcd would then silently miss events: we say compacted instead).
      if (w.minRev < compactRev || (w.minRev === compactRev && this.compactionLosesHistoryAt(compactRev))) {
        const sent = w.sink.offer({ watchId: w.id, events: [], revision: 0, compactRevision: compactRev });
        assert(sent, 'watchableStore: a stream with room refused a response');
        this.unsynced.delete(w);
        w.state = 'compacted';
        continue;
      }
      assert(w.minRev <= curRev, () => `watchableStore: unsynced watcher at ${w.minRev} is ahead of revision ${curRev}`);
      chosen.add(w);
      minRev = Math.min(minRev, w.minRev);
    }
    if (chosen.size === 0) return; // only full streams left: each resumes when drained

    const { keys, values, upTo } = this.readHistory(minRev, curRev);
    const batches = new Map<Watcher, Event[]>();
    for (let i = 0; i < keys.length; i++) {
      const { rev, tombstone } = decodeRevision(keys[i] as Buffer);
      const stored = decodeKeyValue(values[i] as Buffer);
      const k = stored.key.toString('latin1');
      if (!chosen.contains(k)) continue;
      const ev: Event = tombstone ? { type: EventType.DELETE, kv: { ...stored, modRevision: rev.main } } : { type: EventType.PUT, kv: stored };
      chosen.forEachCovering(k, (w) => {
        if (rev.main < w.minRev) return;
        const evs = batches.get(w);
        if (evs === undefined) batches.set(w, [ev]);
        else evs.push(ev);
      });
    }

    for (const w of chosen.watchers) {
      if (w.minRev > upTo) continue; // it starts after this slice; a later step serves it
      this.unsynced.delete(w);
      w.minRev = upTo + 1;
      const evs = batches.get(w);
      const resp = evs === undefined ? null : this.buildResponse(w, evs, upTo);
      if (resp !== null && !w.sink.offer(resp)) {
        this.makeVictim(w, resp, upTo + 1);
        continue;
      }
      this.rejoin(w, curRev);
    }
    if (this.unsynced.size > 0) this.scheduleSync();
  }

  /**
   * Records from revision `minRev` to `curRev`, at most about catchUpBatchRecords of them, cut
   * at a revision boundary; `upTo` is the last revision the slice covers completely.
   */
  private readHistory(minRev: number, curRev: number): { keys: Buffer[]; values: Buffer[]; upTo: number } {
    const limit = this.catchUpBatchRecords;
    const start = encodeRevision({ main: minRev, sub: 0 });
    const r = this.batch.range(KEY_BUCKET, start, encodeRevision({ main: curRev + 1, sub: 0 }), limit);
    if (r.keys.length < limit) return { keys: r.keys, values: r.values, upTo: curRev };
    const lastMain = decodeRevision(r.keys[r.keys.length - 1] as Buffer).rev.main;
    let cut = r.keys.length;
    while (cut > 0 && decodeRevision(r.keys[cut - 1] as Buffer).rev.main === lastMain) cut--;
    if (cut > 0) return { keys: r.keys.slice(0, cut), values: r.values.slice(0, cut), upTo: lastMain - 1 };
    // One revision holds more records than the limit: read all of it, since a revision is
    // never split between responses.
    const whole = this.batch.range(KEY_BUCKET, start, encodeRevision({ main: lastMain + 1, sub: 0 }), 0);
    return { keys: whole.keys, values: whole.values, upTo: lastMain };
  }

  // ---- victims ----

  private makeVictim(w: Watcher, resp: WatchResponse, minRev: number): void {
    w.state = 'victim';
    w.pending = resp;
    w.minRev = minRev;
    w.sink.victims.add(w);
    w.sink.needsRoom = true;
    this.victimCount++;
  }

  /** Sends the pending responses of victims whose streams have room, in the order they stalled. */
  private retryVictims(): void {
    this.retryScheduled = false;
    if (this.isClosed) return;
    const streams = [...this.retryStreams];
    this.retryStreams.clear();
    const curRev = this.currentRevision;
    for (const ws of streams) {
      for (const w of ws.victims) {
        if (!ws.offer(w.pending as WatchResponse)) {
          ws.needsRoom = true;
          break;
        }
        ws.victims.delete(w);
        this.victimCount--;
        w.pending = null;
        this.rejoin(w, curRev);
      }
      this.progressAll(ws);
    }
    if (this.unsynced.size > 0) this.scheduleSync();
  }

  /** Puts a watcher that has been sent everything below its minRev back into a group. */
  private rejoin(w: Watcher, curRev: number): void {
    if (w.minRev > curRev) {
      w.state = 'synced';
      this.synced.add(w);
      if (w.sink.progressAllWanted) this.progressAll(w.sink);
    } else {
      w.state = 'unsynced';
      this.unsynced.add(w);
      this.scheduleSync();
    }
  }

  // ---- responses ----

  /** Applies the watcher's filters and prev_kv; null when every event was filtered out. */
  private buildResponse(w: Watcher, evs: Event[], rev: number): WatchResponse | null {
    let out: Event[] = evs;
    if (w.noPut || w.noDelete) {
      out = evs.filter((ev) => (ev.type === EventType.PUT ? !w.noPut : !w.noDelete));
      if (out.length === 0) return null;
    }
    if (w.prevKv) out = out.map((ev) => this.withPrevKv(ev));
    return { watchId: w.id, events: out, revision: rev, compactRevision: 0 };
  }

  /** etcd's prev_kv: the pair at modRevision - 1, when it is still there; creations have none. */
  private withPrevKv(ev: Event): Event {
    if (ev.type === EventType.PUT && ev.kv.createRevision === ev.kv.modRevision) return ev;
    try {
      const prev = this.range(ev.kv.key, null, { revision: ev.kv.modRevision - 1 }).kvs[0];
      return prev === undefined ? ev : { ...ev, prevKv: prev };
    } catch (e) {
      if (isFloeError(e, ERR_COMPACTED) || isFloeError(e, ERR_FUTURE_REV)) return ev;
      throw e;
    }
  }
}
