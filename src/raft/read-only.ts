/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4). A read request is answered with the
 * commit index the leader had when the request arrived, once the leader has confirmed that it
 * was still the leader at that time: a quorum acknowledged a heartbeat sent after the request
 * arrived. The application serves the read once it has applied up to that index.
 *
 * Batching: requests are queued in arrival order; a heartbeat round carries the context of
 * the newest queued request, and its acknowledgement by a quorum confirms every request queued
 * before it too. While one round is in flight, new requests wait for the next round, which
 * starts as soon as the current one completes (or with the next regular heartbeat), so one
 * round serves everything that arrived during the previous one.
 */
import { assert } from '../pkg';
import { Message, NodeId } from './types';

/** 'safe': confirm leadership with a heartbeat round; 'leaseBased': trust the leader lease. */
export type ReadOnlyOption = 'safe' | 'leaseBased';

/** The answer to a read request: serve it once the applied index reaches `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/** A queued read request and the acknowledgements its heartbeat round has gathered. */
export interface ReadIndexStatus {
  /** The MsgReadIndex; entries[0].data is the request context. */
  readonly req: Message;
  /** The leader's commit index when the request arrived. */
  readonly index: number;
  /** Voters that acknowledged a heartbeat carrying this request's context. */
  readonly acks: Map<NodeId, boolean>;
}

/** A context as a map key (contexts are small request ids). */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += String.fromCharCode(b);
  return s;
}

/** The leader's queue of read requests awaiting a confirming heartbeat round. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Keys of `pending` in arrival order. */
  private queue: string[] = [];
  /** Key of the request whose context the read heartbeat round in flight carries. */
  private roundKey: string | null = null;

  constructor(readonly option: ReadOnlyOption) {}

  /** Queues a request read at `index`; false if one with the same context is already queued. */
  addRequest(index: number, m: Message): boolean {
    const key = ctxKey(requestCtx(m));
    if (this.pending.has(key)) return false;
    this.pending.set(key, { req: m, index, acks: new Map() });
    this.queue.push(key);
    return true;
  }

  /** Records id's acknowledgement of a heartbeat with `ctx`; the acks so far, or undefined. */
  recvAck(id: NodeId, ctx: Uint8Array): ReadonlyMap<NodeId, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * The round for `ctx` reached a quorum: dequeues and returns that request and every one
   * queued before it, oldest first; [] if ctx is unknown (already served or never queued).
   */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      assert(rs !== undefined, 'cannot find corresponding read state from pending map');
      this.pending.delete(k);
      out.push(rs);
      if (k === this.roundKey) this.roundKey = null;
    }
    return out;
  }

  /** Context of the newest queued request, or null when nothing is queued. */
  lastPendingRequestCtx(): Uint8Array | null {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? null : requestCtx(this.pending.get(key)!.req);
  }

  /** Whether a read heartbeat round is in flight. */
  roundInFlight(): boolean {
    return this.roundKey !== null;
  }

  /** Notes that a heartbeat round carrying `ctx` was just sent. */
  startRound(ctx: Uint8Array): void {
    this.roundKey = ctxKey(ctx);
  }

  get pendingCount(): number {
    return this.queue.length;
  }
}

/** The context of a MsgReadIndex request. */
export function requestCtx(m: Message): Uint8Array {
  const e = m.entries[0];
  assert(e !== undefined, 'MsgReadIndex without its context entry');
  return e.data;
}
