/**
 * The contract's push-style watch stream over MVCC's pull-style one: responses are taken from
 * the MVCC stream's bounded queue and handed to the API layer's sink in order, with etcd's
 * created and canceled notices. When the sink says it is full the adapter stops taking; the
 * MVCC queue then fills and its watchers become victims (writers never wait) until resume().
 */
import { isFloeError, plantedBug } from '../pkg';
import type * as pb from '../etcdpb/messages';
import type { WatchStream as MvccWatchStream } from '../mvcc/watch-stream';
import type { WatchResponse as MvccWatchResponse } from '../mvcc/watcher';
import type { Event } from '../mvcc/kv-codec';
import type { WatchStream } from './contract';
import { int64, toPbKv } from './apply-kv';

/** Builds a response header for a revision (the member's cluster id, member id, term). */
export type HeaderAt = (revision: number) => pb.ResponseHeader;

export class MemberWatchStream implements WatchStream {
  private sink: ((resp: pb.WatchResponse) => boolean) | null = null;
  private paused = false;
  private waiting = false;
  private closed = false;
  /** Notices produced before a sink was set, or while paused; bounded by the watcher count. */
  private readonly notices: pb.WatchResponse[] = [];

  constructor(
    private readonly inner: MvccWatchStream,
    private readonly headerAt: HeaderAt,
  ) {}

  create(req: pb.WatchCreateRequest): number {
    const key = req.key.length === 0 ? Buffer.from([0]) : req.key;
    const wantId = int64(req.watch_id);
    const id = this.inner.watch({
      id: wantId > 0 ? wantId : undefined,
      key,
      end: req.range_end.length === 0 ? null : req.range_end,
      startRevision: int64(req.start_revision),
      noPut: req.filters.includes(0),
      noDelete: req.filters.includes(1),
      prevKv: req.prev_kv,
    });
    this.notice({ header: this.headerAt(this.inner.revision), watch_id: id, created: true });
    return id;
  }

  cancel(watchId: number): boolean {
    try {
      this.inner.cancel(watchId);
    } catch (e) {
      if (isFloeError(e, 'ERR_WATCHER_NOT_EXIST')) return false;
      throw e;
    }
    this.notice({ header: this.headerAt(this.inner.revision), watch_id: watchId, canceled: true });
    return true;
  }

  requestProgress(): void {
    this.inner.requestProgressAll();
  }

  requestWatcherProgress(watchId: number): void {
    this.inner.requestProgress(watchId);
  }

  onResponse(sink: (resp: pb.WatchResponse) => boolean): void {
    this.sink = sink;
    this.pump();
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.inner.close();
  }

  private notice(resp: pb.WatchResponse): void {
    this.notices.push(resp);
    this.pump();
  }

  /** Hands over what is queued, notices first (they precede the watcher's events). */
  private pump(): void {
    if (this.sink === null || this.closed) return;
    while (!this.paused) {
      const n = this.notices.shift();
      if (n !== undefined) {
        if (!this.sink(n)) this.paused = true;
        continue;
      }
      const r = this.inner.poll();
      if (r === undefined) break;
      if (!this.sink(this.convert(r))) this.paused = true;
    }
    if (!this.paused && !this.waiting && !this.closed) {
      this.waiting = true;
      void this.inner.next().then((r) => {
        this.waiting = false;
        if (r === null || this.closed || this.sink === null) return;
        if (!this.sink(this.convert(r))) this.paused = true;
        this.pump();
      });
    }
  }

  private convert(r: MvccWatchResponse): pb.WatchResponse {
    const resp: pb.WatchResponse = { header: this.headerAt(r.revision), watch_id: r.watchId };
    if (r.compactRevision > 0) {
      resp.compact_revision = r.compactRevision;
      // etcd 3.4 reports a compacted watcher as canceled, with no reason text.
      resp.canceled = true;
    }
    let events = r.events;
    if (plantedBug('drop-watch-event') && events.length > 0) {
      // A planted bug for the robustness suite: every 20th event is lost.
      events = events.filter(() => ++droppedEventCounter % 20 !== 0);
    }
    if (events.length > 0) resp.events = events.map(toPbEvent);
    return resp;
  }
}

/** Events seen by the drop-watch-event planted bug. */
let droppedEventCounter = 0;

function toPbEvent(ev: Event): pb.Event {
  const out: pb.Event = { kv: toPbKv(ev.kv) };
  if (ev.type !== 0) out.type = ev.type;
  if (ev.prevKv !== undefined) out.prev_kv = toPbKv(ev.prevKv);
  return out;
}
