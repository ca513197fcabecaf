/**
 * One remote member as seen by the sender: a bounded queue of encoded frames and the
 * long-lived POST /raft/stream that carries them, reconnected with backoff when it breaks.
 *
 * States: connecting (request sent, waiting for the peer's 200) -> active (frames flow) ->
 * backoff (waiting to reconnect) -> connecting ...; closed is final. Frames are only written
 * once the peer has answered 200, so nothing is written into a refused request.
 *
 * Ordering rules: frames leave in the order send() queued them; when the queue is over its
 * bound the OLDEST frames are dropped (fresh messages carry the current term and state, and a
 * gap is something raft already recovers from), and the handler hears reportUnreachable.
 */
import * as http from 'node:http';
import { assert } from '../pkg';
import type { ResolvedOptions } from './options';
import { HEADER_CLUSTER_ID, idHex, requestHeaders, STREAM_PATH } from './headers';
import { FRAME_HEADER_BYTES } from './message-codec';
import { peerRequest } from './dial';

type State = 'connecting' | 'active' | 'backoff' | 'closed';

/** What a peer needs from its transport. */
export interface PeerContext {
  readonly opts: ResolvedOptions;
  /** Called when a peer answered 410: this member was removed. */
  removed(): void;
  log(level: 'I' | 'N' | 'W' | 'E', msg: string): void;
}

/** Frames waiting for the stream, oldest first (array + head index, compacted lazily). */
class FrameQueue {
  private items: Buffer[] = [];
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(b: Buffer): void {
    this.items.push(b);
    this.bytes += b.length;
  }
  shift(): Buffer {
    assert(this.length > 0, 'shift from an empty frame queue');
    const b = this.items[this.head]!;
    this.items[this.head++] = EMPTY;
    this.bytes -= b.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return b;
  }
  peek(): Buffer {
    return this.items[this.head]!;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}
const EMPTY = Buffer.alloc(0);

export class Peer {
  private urls: readonly string[];
  private urlIndex = 0;
  private state: State = 'backoff';
  private req: http.ClientRequest | null = null;
  private readonly queue = new FrameQueue();
  private activeSinceMs: number | null = null;
  private backoffMs: number;
  private dialTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private flushHandle: NodeJS.Immediate | null = null;
  private waitingDrain = false;
  /** Frames dropped since the queue last had room; logged once per overflow episode. */
  private droppedMsgs = 0;
  /** Dial failures are logged once until the peer becomes active again. */
  private failureLogged = false;
  /** Client requests that have not emitted 'close' yet; close() waits for them. */
  private readonly open = new Set<http.ClientRequest>();

  constructor(
    readonly id: bigint,
    urls: readonly string[],
    readonly ctx: PeerContext,
  ) {
    assert(urls.length > 0, () => `peer ${idHex(id)} added without URLs`);
    this.urls = [...urls];
    this.backoffMs = ctx.opts.reconnectMinMs;
    this.connect();
  }

  /** ms timestamp since which the stream has been continuously up, or null. */
  get activeSince(): number | null {
    return this.activeSinceMs;
  }

  /** The URL the next (or current) stream uses. */
  get url(): string {
    return this.urls[this.urlIndex % this.urls.length]!;
  }

  /** Frames waiting to be written (for tests and status). */
  get queuedMsgs(): number {
    return this.queue.length;
  }

  /** Replaces the peer's URLs; a stream to a URL no longer listed is restarted. */
  updateUrls(urls: readonly string[]): void {
    assert(urls.length > 0, () => `peer ${idHex(this.id)} updated without URLs`);
    const current = this.url;
    this.urls = [...urls];
    const i = this.urls.indexOf(current);
    if (i >= 0) {
      this.urlIndex = i;
      return;
    }
    this.urlIndex = 0;
    if (this.state === 'connecting' || this.state === 'active') this.fail('peer URLs changed', false);
  }

  /** Queues one encoded frame; drops the oldest frames beyond the bounds. Never blocks. */
  enqueue(frame: Buffer): void {
    if (this.state === 'closed') return;
    this.queue.push(frame);
    const { maxQueuedMsgsPerPeer, maxQueuedBytesPerPeer } = this.ctx.opts;
    let dropped = 0;
    while (this.queue.length > maxQueuedMsgsPerPeer || (this.queue.bytes > maxQueuedBytesPerPeer && this.queue.length > 0)) {
      this.queue.shift();
      dropped++;
    }
    if (dropped > 0) {
      if (this.droppedMsgs === 0) {
        this.ctx.log('W', `dropped internal raft message to ${idHex(this.id)} since sending buffer is full (overloaded network)`);
      }
      this.droppedMsgs += dropped;
      this.ctx.opts.metrics.sendFailed(this.id, dropped);
      this.ctx.opts.handler.reportUnreachable(this.id);
    }
    this.scheduleFlush();
  }

  /** Stops the stream and timers; resolves once every socket this peer opened is closed. */
  close(): Promise<void> {
    this.state = 'closed';
    this.clearTimers();
    this.queue.clear();
    const waits = [...this.open].map(
      (r) => new Promise<void>((resolve) => {
        r.once('close', () => resolve());
        r.destroy();
      }),
    );
    this.req = null;
    this.activeSinceMs = null;
    return Promise.all(waits).then(() => undefined);
  }

  /** Tracks a client request so close() can wait for its socket. */
  track(r: http.ClientRequest): void {
    this.open.add(r);
    r.once('close', () => this.open.delete(r));
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const { opts } = this.ctx;
    const url = new URL(STREAM_PATH, this.url);
    let req: http.ClientRequest;
    try {
      req = peerRequest(url, {
        method: 'POST',
        agent: false,
        headers: { ...requestHeaders(opts.clusterId, opts.memberId, this.id), 'Content-Type': 'application/octet-stream' },
      }, opts.tls);
    } catch (e) {
      // The TLS files were checked at start-up; one removed since fails this dial, which is
      // retried like any failed dial.
      this.fail((e as Error).message, true);
      return;
    }
    this.req = req;
    this.track(req);
    req.on('socket', (s) => s.setNoDelay(true));
    this.dialTimer = setTimeout(() => this.failIf(req, `dial timeout after ${opts.dialTimeoutMs} ms`), opts.dialTimeoutMs);
    req.on('error', (err) => this.failIf(req, err.message));
    req.on('close', () => this.failIf(req, 'connection closed'));
    req.on('drain', () => {
      if (req !== this.req) return;
      this.waitingDrain = false;
      this.scheduleFlush();
    });
    req.on('response', (res) => {
      if (req !== this.req) {
        res.resume();
        return;
      }
      this.clearTimer('dial');
      if (res.statusCode === 200) {
        // The receiver's keep-alive bytes (and nothing else) come back on the response.
        res.on('data', () => this.armIdleTimer());
        res.on('end', () => this.failIf(req, 'stream closed by peer'));
        res.on('error', (err) => this.failIf(req, err.message));
        this.activate();
        return;
      }
      this.refused(req, res);
    });
    req.flushHeaders();
  }

  private refused(req: http.ClientRequest, res: http.IncomingMessage): void {
    const status = res.statusCode ?? 0;
    const body: Buffer[] = [];
    res.on('data', (c: Buffer) => {
      if (body.length < 16) body.push(c);
    });
    res.on('error', () => undefined);
    res.on('end', () => {
      const text = Buffer.concat(body).toString('utf8').trim();
      if (status === 412 && text === 'cluster ID mismatch') {
        this.ctx.log(
          'E',
          `request sent was ignored (cluster ID mismatch: peer[${idHex(this.id)}]=${String(res.headers[HEADER_CLUSTER_ID.toLowerCase()] ?? '')}, local=${idHex(this.ctx.opts.clusterId)})`,
        );
      } else if (status === 410) {
        this.ctx.log('E', `peer ${idHex(this.id)} says this member was removed from the cluster (410 Gone)`);
        this.ctx.removed();
      }
      this.failIf(req, `peer answered ${status} ${text}`);
    });
  }

  private activate(): void {
    this.state = 'active';
    this.activeSinceMs = this.ctx.opts.now();
    this.backoffMs = this.ctx.opts.reconnectMinMs;
    this.failureLogged = false;
    this.waitingDrain = false;
    this.ctx.log('I', `peer ${idHex(this.id)} became active`);
    this.armIdleTimer();
    this.scheduleFlush();
  }

  private failIf(req: http.ClientRequest, reason: string): void {
    if (req === this.req) this.fail(reason, true);
  }

  /** Ends the current stream attempt and schedules the next; `report` tells raft. */
  private fail(reason: string, report: boolean): void {
    if (this.state === 'closed') return;
    const req = this.req;
    const wasActive = this.state === 'active';
    this.req = null;
    this.clearTimers();
    this.waitingDrain = false;
    req?.destroy();
    this.activeSinceMs = null;
    if (wasActive) {
      this.ctx.log('W', `peer ${idHex(this.id)} became inactive (message send to peer failed): ${reason}`);
    } else if (report && !this.failureLogged) {
      this.ctx.log('W', `failed to dial ${idHex(this.id)} on stream at ${this.url} (${reason})`);
      this.failureLogged = true;
    }
    if (report) this.ctx.opts.handler.reportUnreachable(this.id);
    // A URL that never answered: try the next one first. (A URL change picked its own.)
    if (report && !wasActive) this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.state = 'backoff';
    const delayMs = wasActive ? this.ctx.opts.reconnectMinMs : this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.ctx.opts.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private scheduleFlush(): void {
    if (this.state !== 'active' || this.waitingDrain || this.flushHandle !== null || this.queue.length === 0) return;
    this.flushHandle = setImmediate(() => {
      this.flushHandle = null;
      this.flush();
    });
  }

  /**
   * Writes queued frames, coalesced into writes of up to maxWriteBytes, until the queue is
   * empty or the socket pushes back (then 'drain' resumes us and the idle timer watches).
   */
  private flush(): void {
    const req = this.req;
    if (this.state !== 'active' || req === null) return;
    const { maxWriteBytes } = this.ctx.opts;
    while (this.queue.length > 0) {
      const parts: Buffer[] = [this.queue.shift()];
      let size = parts[0]!.length;
      while (this.queue.length > 0 && size + this.queue.peek().length <= maxWriteBytes) {
        const b = this.queue.shift();
        parts.push(b);
        size += b.length;
      }
      const ok = req.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
      // etcd counts each message's own size, without the frame's length prefix.
      this.ctx.opts.metrics.sent(this.id, size - parts.length * FRAME_HEADER_BYTES);
      if (!ok) {
        this.waitingDrain = true;
        break;
      }
    }
    if (this.queue.length === 0 && this.droppedMsgs > 0) {
      this.ctx.log('W', `${this.droppedMsgs} messages to ${idHex(this.id)} were dropped while its sending buffer was full`);
      this.droppedMsgs = 0;
    }
  }

  private armIdleTimer(): void {
    this.clearTimer('idle');
    const req = this.req;
    if (req === null) return;
    const ms = this.ctx.opts.streamIdleTimeoutMs;
    this.idleTimer = setTimeout(() => this.failIf(req, `no keep-alive from peer for ${ms} ms`), ms);
  }

  private clearTimer(which: 'dial' | 'idle' | 'reconnect'): void {
    if (which === 'dial' && this.dialTimer !== null) {
      clearTimeout(this.dialTimer);
      this.dialTimer = null;
    } else if (which === 'idle' && this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    } else if (which === 'reconnect' && this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
  }

  private clearTimers(): void {
    this.clearTimer('dial');
    this.clearTimer('idle');
    this.clearTimer('reconnect');
    if (this.flushHandle !== null) {
      clearImmediate(this.flushHandle);
      this.flushHandle = null;
    }
  }
}
