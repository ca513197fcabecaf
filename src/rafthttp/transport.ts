/**
 * The peer transport of one member: outgoing message streams and snapshot uploads to every
 * peer, and the handler of incoming ones (served by PeerServer or any node:http server).
 */
import type * as http from 'node:http';
import { assert } from '../pkg';
import type { Message } from '../raft';
import { encodeFrame, FRAME_HEADER_BYTES } from './message-codec';
import { HEADER_CLUSTER_ID, idHex, SERVER_VERSION, SNAPSHOT_PATH, STREAM_PATH, HEADER_VERSION } from './headers';
import { acceptSnapshot, acceptStream, type IncomingContext, type IncomingStream } from './incoming';
import { resolveOptions, type ResolvedOptions, type TransportOptions } from './options';
import { Peer, type PeerContext } from './peer';
import { streamSnapshot, type SnapshotSource } from './snapshot-sender';

const PKG = 'rafthttp';

export class Transport {
  private readonly opts: ResolvedOptions;
  private readonly peers = new Map<bigint, Peer>();
  /** Incoming streams by sender; a newer stream from the same sender replaces the older. */
  private readonly incoming = new Map<bigint, IncomingStream>();
  /** Peers with a snapshot upload in flight (at most one per peer). */
  private readonly snapshotting = new Set<bigint>();
  private readonly ctx: PeerContext & IncomingContext;
  /** Unknown targets already warned about, so a stale peer does not flood the log. */
  private readonly warnedUnknown = new Set<bigint>();
  private removedSignalled = false;
  private closed = false;

  constructor(opts: TransportOptions) {
    this.opts = resolveOptions(opts);
    const { logger, handler } = this.opts;
    this.ctx = {
      opts: this.opts,
      log: (level, msg) => logger.log(level, PKG, msg),
      removed: () => {
        if (this.removedSignalled || this.closed) return;
        this.removedSignalled = true;
        handler.onRemoved();
      },
      streamEnded: (ended) => {
        if (this.incoming.get(ended.from) === ended) this.incoming.delete(ended.from);
      },
    };
  }

  /** Starts streaming to `id` at `urls` (tried in order). Adding a known peer does nothing. */
  addPeer(id: bigint, urls: readonly string[]): void {
    assert(!this.closed, 'addPeer on a closed transport');
    assert(id !== this.opts.memberId, () => `addPeer of the local member ${idHex(id)}`);
    if (this.peers.has(id)) return;
    this.peers.set(id, new Peer(id, urls, this.ctx));
    this.warnedUnknown.delete(id);
    this.ctx.log('I', `added peer ${idHex(id)}`);
  }

  /** Changes a peer's URLs (a stream to a URL no longer listed reconnects). */
  updatePeer(id: bigint, urls: readonly string[]): void {
    const p = this.peers.get(id);
    assert(p !== undefined, () => `updatePeer of unknown peer ${idHex(id)}`);
    p.updateUrls(urls);
    this.ctx.log('I', `updated peer ${idHex(id)}`);
  }

  /** Stops streaming to `id` and drops what is queued for it; its incoming stream is closed. */
  removePeer(id: bigint): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    this.peers.delete(id);
    void p.close();
    this.incoming.get(id)?.close();
    this.ctx.log('I', `removed peer ${idHex(id)}`);
  }

  /**
   * Queues raft messages, each to its `to` peer, in order. Never blocks and never throws for
   * a down peer: a full queue drops its oldest messages and reports the peer unreachable.
   * MsgSnap must go through sendSnapshot (asserted).
   */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    for (const m of msgs) {
      assert(m.type !== 'MsgSnap', 'MsgSnap goes through Transport.sendSnapshot');
      const p = this.peers.get(m.to);
      if (p === undefined) {
        if (!this.warnedUnknown.has(m.to)) {
          this.warnedUnknown.add(m.to);
          this.ctx.log('W', `ignored message send request; unknown remote peer target ${idHex(m.to)}`);
        }
        continue;
      }
      const frame = encodeFrame(m);
      // The receiver would cut the stream over it; refusing here keeps the stream alive.
      if (frame.length - FRAME_HEADER_BYTES > this.opts.maxFrameBytes) {
        this.ctx.log('E', `dropped a ${frame.length}-byte message to ${idHex(m.to)}: larger than maxFrameBytes ${this.opts.maxFrameBytes}`);
        this.opts.handler.reportUnreachable(m.to);
        continue;
      }
      p.enqueue(frame);
    }
  }

  /**
   * Streams a snapshot to `m.to`: the MsgSnap (whose snapshot.data is raft's metadata
   * payload) and the backend file. The outcome goes to handler.reportSnapshot; a failure
   * also reports the peer unreachable. One upload per peer at a time: a second one while
   * the first is in flight fails at once.
   */
  sendSnapshot(m: Message, db: SnapshotSource): void {
    assert(m.type === 'MsgSnap' && m.snapshot !== null, 'sendSnapshot needs a MsgSnap with a snapshot');
    const { handler } = this.opts;
    const p = this.peers.get(m.to);
    const index = m.snapshot.metadata.index;
    if (this.closed || p === undefined || this.snapshotting.has(m.to)) {
      this.ctx.log('W', `database snapshot [index: ${index}, to: ${idHex(m.to)}] not sent: ${p === undefined ? 'unknown peer' : this.closed ? 'transport closed' : 'another snapshot is in flight'}`);
      handler.reportSnapshot(m.to, 'failure');
      return;
    }
    this.snapshotting.add(m.to);
    this.ctx.log('I', `start to send database snapshot [index: ${index}, to ${idHex(m.to)}] (${db.sizeBytes} bytes)`);
    streamSnapshot(p, m, db).then(
      () => {
        this.snapshotting.delete(m.to);
        if (p.closed) return;
        this.ctx.log('I', `database snapshot [index: ${index}, to: ${idHex(m.to)}] sent out successfully`);
        handler.reportSnapshot(m.to, 'finish');
      },
      (e: unknown) => {
        this.snapshotting.delete(m.to);
        if (p.closed) return;
        this.ctx.log('W', `database snapshot [index: ${index}, to: ${idHex(m.to)}] failed to be sent out: ${e instanceof Error ? e.message : String(e)}`);
        handler.reportUnreachable(m.to);
        handler.reportSnapshot(m.to, 'failure');
      },
    );
  }

  /** ms timestamp since which the stream to `id` has been up continuously, or null (etcd's ActiveSince). */
  activeSince(id: bigint): number | null {
    return this.peers.get(id)?.activeSince ?? null;
  }

  /** Messages queued for `id` and not yet written (0 for an unknown peer). */
  queuedMsgs(id: bigint): number {
    return this.peers.get(id)?.queuedMsgs ?? 0;
  }

  /**
   * Handles `req` if its path is a transport path (answering it); returns false otherwise,
   * leaving `res` untouched.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== STREAM_PATH && path !== SNAPSHOT_PATH) return false;
    if (req.method !== 'POST' || this.closed) {
      const status = this.closed ? 503 : 405;
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        [HEADER_CLUSTER_ID]: idHex(this.opts.clusterId),
        [HEADER_VERSION]: SERVER_VERSION,
        ...(status === 405 ? { Allow: 'POST' } : {}),
      });
      res.end(status === 405 ? 'Method Not Allowed\n' : 'transport closed\n');
      req.resume();
      return true;
    }
    if (path === SNAPSHOT_PATH) {
      acceptSnapshot(this.ctx, req, res);
      return true;
    }
    const s = acceptStream(this.ctx, req, res);
    if (s !== null) {
      const old = this.incoming.get(s.from);
      this.incoming.set(s.from, s);
      old?.close();
    }
    return true;
  }

  /** Stops every stream and upload; resolves when this transport's client sockets are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waits = [...this.peers.values()].map((p) => p.close());
    this.peers.clear();
    for (const s of [...this.incoming.values()]) s.close();
    this.incoming.clear();
    await Promise.all(waits);
  }
}
