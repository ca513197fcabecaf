/**
 * One watcher on the member's watch stream, read as a queue: `next()` resolves with the next
 * response carrying events. The recipes wait on it for a predecessor's delete or a leader's
 * changes; the caller's AbortSignal ends any wait, and `close()` releases the stream.
 */
import { FloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import type { WatchServer, WatchStream } from '../server';

/** Responses held before the stream is told to hold further events (its own bound applies then). */
export const MAX_QUEUED_RESPONSES = 64;

/** What a wait ended by the caller rejects with (etcd: the context's error). */
export function canceledError(): FloeError {
  return new FloeError('ERR_CONTEXT_CANCELED', 'context canceled');
}

/** A single watcher of `req` on its own stream; see the file comment. */
export class WatchQueue {
  private readonly stream: WatchStream;
  private readonly queue: pb.WatchResponse[] = [];
  private waiter: (() => void) | null = null;
  private paused = false;
  private failure: FloeError | null = null;
  private closed = false;

  constructor(watch: WatchServer, req: pb.WatchCreateRequest) {
    this.stream = watch.newWatchStream();
    this.stream.onResponse((resp) => this.push(resp));
    this.stream.create(req);
  }

  private push(resp: pb.WatchResponse): boolean {
    if (this.closed) return true;
    if (resp.canceled === true) {
      // A compacted start revision or a refused create: the wait cannot go on (etcd's wr.Err()).
      const compacted = resp.compact_revision !== undefined && BigInt(resp.compact_revision) > 0n;
      this.failure = compacted
        ? new FloeError('ERR_COMPACTED', 'etcdserver: mvcc: required revision has been compacted')
        : new FloeError('ERR_WATCH_CANCELED', resp.cancel_reason || 'etcdserver: watch canceled');
    } else if ((resp.events?.length ?? 0) > 0) {
      this.queue.push(resp);
    }
    this.wake();
    this.paused = this.queue.length >= MAX_QUEUED_RESPONSES;
    return !this.paused;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next response with events; rejects when the watcher failed or `signal` aborted. */
  async next(signal: AbortSignal): Promise<pb.WatchResponse> {
    for (;;) {
      if (signal.aborted) throw canceledError();
      const resp = this.queue.shift();
      if (resp !== undefined) {
        if (this.paused && this.queue.length < MAX_QUEUED_RESPONSES / 2) {
          this.paused = false;
          this.stream.resume();
        }
        return resp;
      }
      if (this.failure !== null) throw this.failure;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  /** Releases the watcher and its stream; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.stream.close();
  }
}

/** A watch create request for `key` (and `rangeEnd`) from `startRev`. */
export function watchOf(key: Buffer, startRev: bigint, rangeEnd: Buffer = Buffer.alloc(0)): pb.WatchCreateRequest {
  return {
    key,
    range_end: rangeEnd,
    start_revision: startRev.toString(),
    progress_notify: false,
    filters: [],
    prev_kv: false,
    watch_id: '0',
    fragment: false,
  };
}
