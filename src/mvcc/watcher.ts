/**
 * Watch requests, watch responses and the watcher record the watchable store keeps for each.
 */
import type { Event } from './kv-codec';
import type { RangeEnd } from './tree-index';
import type { GroupMember, WatcherState } from './watcher-group';
import type { IntervalEnd } from './interval-tree';

/** What a watcher follows and how (the store's part of etcd's WatchCreateRequest). */
export interface WatchOptions {
  /** Watch id wanted on the stream; omitted: the stream picks the lowest free id from 0 up. */
  readonly id?: number;
  /** First key (the API maps an empty key to the one byte 0x00, as etcd does). */
  readonly key: Uint8Array;
  /** null or omitted: the single key; empty or the one byte 0x00: every key >= key; else [key, end). */
  readonly end?: RangeEnd;
  /** First revision to report; 0 or omitted: changes after the current revision. */
  readonly startRevision?: number;
  /** Leave out put events (etcd's NOPUT filter). */
  readonly noPut?: boolean;
  /** Leave out delete events (etcd's NODELETE filter). */
  readonly noDelete?: boolean;
  /** Attach each event's previous pair (etcd's prev_kv). */
  readonly prevKv?: boolean;
}

/** The watch id of a stream-wide progress response (etcd's InvalidWatchID). */
export const PROGRESS_ALL_WATCH_ID = -1;

/**
 * One message of a watch stream. Kinds:
 * - events: `events` non-empty, for `watchId`; `revision` is the revision up to which that
 *   watcher has now seen every change;
 * - progress: `events` empty, `compactRevision` 0; for one watcher, or for the whole stream
 *   when `watchId` is PROGRESS_ALL_WATCH_ID; every change up to `revision` was sent before;
 * - compacted: `compactRevision` > 0: the watcher started below the compaction revision and is
 *   over (the API reports it canceled); `revision` is 0, as in etcd.
 */
export interface WatchResponse {
  readonly watchId: number;
  readonly events: readonly Event[];
  readonly revision: number;
  readonly compactRevision: number;
}

/** Where a watcher's responses go: its stream's bounded queue. */
export interface WatcherSink {
  /** Queues `resp`; false when the queue is full (nothing queued). */
  offer(resp: WatchResponse): boolean;
  /** True when offer() would fail. */
  readonly isFull: boolean;
  /** The stream's victims, in the order they became victims. */
  readonly victims: Set<Watcher>;
  /** Set when something waits for room in the queue: draining it then wakes the store. */
  needsRoom: boolean;
  /** Set while a stream-wide progress response is asked for and not yet queued. */
  progressAllWanted: boolean;
  /** The stream's watchers. */
  readonly watcherList: readonly Watcher[];
  readonly isClosed: boolean;
}

/** One watcher; owned by its stream and moved between the store's groups. */
export class Watcher implements GroupMember {
  /** Lowest revision not yet sent (or queued as `pending`). */
  minRev = 0;
  state: WatcherState = 'unsynced';
  /** A victim's response that did not fit in the stream's queue. */
  pending: WatchResponse | null = null;

  constructor(
    readonly id: number,
    readonly sink: WatcherSink,
    readonly key: string,
    readonly end: IntervalEnd | undefined,
    readonly noPut: boolean,
    readonly noDelete: boolean,
    readonly prevKv: boolean,
  ) {}
}
