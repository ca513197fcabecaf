/**
 * etcdserverpb.Watch: one bidirectional stream per client, carrying many watchers, served
 * over the member's WatchStream (src/server/contract.ts).
 *
 * Division of work with the member: the member owns watchers, their events (filters, prev_kv,
 * history, compaction) and the created/canceled/progress notices, and hands responses over in
 * the order they must be sent. This layer decodes requests (an empty key means "\0", as in
 * etcd), answers a create the member refuses (etcd's created+canceled response with watch id
 * -1 and the reason), splits responses of fragmenting watchers (watch-fragment.ts), and runs
 * etcd's periodic progress notification for watchers created with progress_notify.
 *
 * Flow control: the gRPC stream's write returning false means the client is not keeping up.
 * The sink then returns false, the member holds further responses (bounded) until `resume()`,
 * which is called on the stream's 'drain'; meanwhile no more requests are read from the
 * client, so a client that does not read cannot make the server queue more for it.
 *
 * Lifetime: as in etcd, the client half-closing its side does not end the stream (watchers
 * keep reporting); the stream ends when the client cancels it or the server drains.
 */
import type * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';
import type { WatchHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi, WatchStream } from '../server';
import { fillHeader, toGrpcError } from './call';
import { fragmentWatchResponse, type WatchResponseSize } from './watch-fragment';
import type { OpenStreams } from './open-streams';

/** etcd's InvalidWatchID: the id of a refused create and of a stream-wide progress notice. */
export const INVALID_WATCH_ID = -1;
/** etcd's default --experimental-watch-progress-notify-interval. */
export const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 10 * 60 * 1000;
/** etcd raises shorter intervals to this (minWatchProgressInterval). */
export const MIN_PROGRESS_NOTIFY_INTERVAL_MS = 100;

/** Settings of the watch service. */
export interface WatchServiceOptions {
  /**
   * Size at which a fragmenting watcher's response is split: etcd uses --max-request-bytes
   * plus its 512 KiB gRPC overhead allowance.
   */
  readonly fragmentLimitBytes: number;
  /**
   * Period of progress notifications to watchers created with progress_notify, before
   * jitter; at least MIN_PROGRESS_NOTIFY_INTERVAL_MS.
   */
  readonly progressNotifyIntervalMs: number;
  /** Encoded size of a response (the Watch method's response serializer). */
  readonly sizeOf: WatchResponseSize;
  /** Uniform in [0, 1): the jitter of each stream's progress period (etcd adds up to 10%). */
  readonly random: () => number;
  /** Calls `tick` every `periodMs` until stopped (time is injected: tests tick by hand). */
  readonly progressTimer: ProgressTimer;
  /** The server's open long-lived streams (ended on drain). */
  readonly openStreams: OpenStreams;
}

/** A periodic timer: calls `tick` every `periodMs` until `stop()`. */
export type ProgressTimer = (tick: () => void, periodMs: number) => { stop(): void };

/** The real clock's ProgressTimer; it does not keep the process alive. */
export const intervalTimer: ProgressTimer = (tick, periodMs) => {
  const t = setInterval(tick, periodMs);
  t.unref();
  return { stop: () => clearInterval(t) };
};

/** The Watch service's handler over the member. */
export function watchHandlers(api: EtcdServerApi, opts: WatchServiceOptions): WatchHandlers {
  assert(opts.progressNotifyIntervalMs >= MIN_PROGRESS_NOTIFY_INTERVAL_MS, 'progress notify interval below the minimum');
  assert(opts.fragmentLimitBytes > 0, 'fragment limit must be positive');
  return {
    Watch: (call) => {
      new WatchSession(call, api, opts);
    },
  };
}

type WatchCall = grpc.ServerDuplexStream<pb.WatchRequest, pb.WatchResponse>;

/** The flags of a watcher this layer acts on. */
interface WatcherFlags {
  readonly fragment: boolean;
  readonly progressNotify: boolean;
}

/** One client stream. */
class WatchSession {
  private readonly stream: WatchStream;
  /** Watchers whose responses are split (etcd's `fragment` map). */
  private readonly fragmenting = new Set<number>();
  /**
   * Watchers created with progress_notify; the value says whether a notice is due at the next
   * tick, i.e. no events were sent to the watcher since the last one (etcd's `progress` map).
   */
  private readonly progress = new Map<number, boolean>();
  /** The flags of the create in progress, until its id is known (see `registerCreated`). */
  private creating: WatcherFlags | null = null;
  private creatingId: number | null = null;
  /** True while the gRPC stream is full: incoming requests are paused until it drains. */
  private full = false;
  private closed = false;
  private readonly timer: { stop(): void };
  private readonly unregister: () => void;

  constructor(
    private readonly call: WatchCall,
    private readonly api: EtcdServerApi,
    private readonly opts: WatchServiceOptions,
  ) {
    this.stream = api.newWatchStream();
    this.stream.onResponse((resp) => this.send(resp));
    const periodMs = opts.progressNotifyIntervalMs + Math.floor(opts.random() * (opts.progressNotifyIntervalMs / 10));
    this.timer = opts.progressTimer(() => this.progressTick(), periodMs);
    this.unregister = opts.openStreams.add((err) => {
      if (this.closed) return;
      this.close();
      call.emit('error', err);
    });
    call.on('data', (req: pb.WatchRequest) => this.onRequest(req));
    call.on('drain', () => this.onDrain());
    call.on('close', () => this.close());
    call.on('cancelled', () => this.close());
  }

  private onRequest(req: pb.WatchRequest): void {
    if (this.closed) return;
    switch (req.request_union) {
      case 'create_request':
        if (req.create_request !== null) this.create(req.create_request);
        return;
      case 'cancel_request':
        if (req.cancel_request !== null) this.cancel(req.cancel_request.watch_id);
        return;
      case 'progress_request':
        if (req.progress_request !== null) this.stream.requestProgress();
        return;
      default:
        // etcd ignores a request with nothing set rather than ending the stream.
        return;
    }
  }

  private create(creq: pb.WatchCreateRequest): void {
    // An empty key watches from the smallest key, "\0" (etcd's recvLoop does the same).
    const req: pb.WatchCreateRequest = creq.key.length === 0 ? { ...creq, key: Buffer.from([0]) } : creq;
    const flags: WatcherFlags = { fragment: req.fragment, progressNotify: req.progress_notify };
    this.creating = flags;
    this.creatingId = null;
    let id: number;
    try {
      id = this.stream.create(req);
    } catch (e) {
      this.creating = null;
      this.refuseCreate(e);
      return;
    }
    this.creating = null;
    // The created notice may already have named the id (a member that answers synchronously).
    assert(this.creatingId === null || this.creatingId === id, () => `created notice for ${this.creatingId}, create returned ${id}`);
    this.register(id, flags);
  }

  /** etcd's answer to a create the store refuses: created and canceled, id -1, the reason. */
  private refuseCreate(e: unknown): void {
    const err = toGrpcError(e);
    const resp = fillHeader(this.api, {
      header: {},
      watch_id: INVALID_WATCH_ID,
      created: true,
      canceled: true,
      cancel_reason: err.details,
    });
    this.write([resp]);
  }

  private register(id: number, flags: WatcherFlags): void {
    if (flags.fragment) this.fragmenting.add(id);
    if (flags.progressNotify && !this.progress.has(id)) this.progress.set(id, true);
  }

  private cancel(rawId: pb.Int64): void {
    const id = Number(rawId);
    if (!Number.isSafeInteger(id)) return; // no such watcher: etcd sends nothing
    if (this.stream.cancel(id)) this.forget(id);
  }

  private forget(id: number): void {
    this.fragmenting.delete(id);
    this.progress.delete(id);
  }

  /** The member's sink: sends `resp` (split if its watcher fragments); false when full. */
  private send(resp: pb.WatchResponse): boolean {
    if (this.closed) return true; // nobody reads a closed stream: drop
    const id = Number(resp.watch_id ?? 0);
    if (resp.created === true && resp.canceled !== true && this.creating !== null && this.creatingId === null) {
      // The created notice of the create in progress, before create() returned its id.
      this.creatingId = id;
      this.register(id, this.creating);
    }
    const parts = this.fragmenting.has(id) ? fragmentWatchResponse(resp, this.opts.fragmentLimitBytes, this.opts.sizeOf) : [resp];
    const ok = this.write(parts);
    if ((resp.events?.length ?? 0) > 0 && this.progress.get(id) === true) {
      // Events just went out: the next periodic notice for this watcher is not needed.
      this.progress.set(id, false);
    }
    if (resp.canceled === true) this.forget(id);
    return ok;
  }

  private write(parts: readonly pb.WatchResponse[]): boolean {
    let ok = true;
    for (const p of parts) ok = this.call.write(p) && ok;
    if (!ok && !this.full) {
      this.full = true;
      this.call.pause();
    }
    return ok;
  }

  private onDrain(): void {
    if (this.closed || !this.full) return;
    this.full = false;
    this.call.resume();
    this.stream.resume();
  }

  /** etcd's progress ticker: a notice for each progress watcher that got no events since. */
  private progressTick(): void {
    if (this.closed) return;
    for (const [id, due] of this.progress) {
      if (due) this.stream.requestWatcherProgress(id);
      this.progress.set(id, true);
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.stop();
    this.unregister();
    this.stream.close();
  }
}
