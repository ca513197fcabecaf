/**
 * An in-process peer transport for member tests: members started with one LocalPeers bus talk
 * to each other through it, with messages delivered on a later turn of the event loop (never
 * synchronously inside a Ready) and snapshots streamed chunk by chunk. Links can be cut to
 * partition a member. The real transport (src/rafthttp) is tested on its own and with real
 * processes; this one lets member logic (elections, replication, conf changes, snapshot
 * install) be tested fast and in one process.
 */
import type { Message } from '../raft';
import type { PeerFactory, PeerHandler, Peers, PeerTransport } from './peers';

interface Node {
  readonly id: bigint;
  readonly handler: PeerHandler;
  readonly peers: Set<bigint>;
  readonly since: Map<bigint, number>;
  closed: boolean;
}

/** A bus of in-process members. */
export class LocalPeers {
  private readonly nodes = new Map<bigint, Node>();
  private readonly cut = new Set<bigint>();
  /** Messages delivered, for tests that check traffic flowed. */
  delivered = 0;

  /** The factory to pass to startMember. */
  readonly factory: PeerFactory = async (opts) => {
    const node: Node = { id: opts.memberId, handler: opts.handler, peers: new Set(), since: new Map(), closed: false };
    this.nodes.set(node.id, node);
    const transport: PeerTransport = {
      addPeer: (id) => {
        node.peers.add(id);
        if (!node.since.has(id)) node.since.set(id, Date.now() - 60_000);
      },
      updatePeer: (id) => {
        node.peers.add(id);
      },
      removePeer: (id) => {
        node.peers.delete(id);
        node.since.delete(id);
      },
      send: (msgs) => {
        for (const m of msgs) this.deliver(node, m);
      },
      sendSnapshot: (m, db) => {
        void this.deliverSnapshot(node, m, db);
      },
      activeSince: (id) => (this.reachable(node.id, id) ? (node.since.get(id) ?? null) : null),
      close: async () => {
        node.closed = true;
      },
    };
    const peers: Peers = {
      transport,
      close: async () => {
        node.closed = true;
        if (this.nodes.get(node.id) === node) this.nodes.delete(node.id);
      },
    };
    return peers;
  };

  /** Cuts every link of member `id` (both directions) until heal(). */
  isolate(id: bigint): void {
    this.cut.add(id);
  }

  heal(id?: bigint): void {
    if (id === undefined) this.cut.clear();
    else this.cut.delete(id);
  }

  private reachable(from: bigint, to: bigint): boolean {
    const target = this.nodes.get(to);
    return target !== undefined && !target.closed && !this.cut.has(from) && !this.cut.has(to);
  }

  private deliver(from: Node, m: Message): void {
    if (!from.peers.has(m.to)) return;
    setImmediate(() => {
      if (from.closed || !this.reachable(from.id, m.to)) {
        if (!from.closed) from.handler.reportUnreachable(m.to);
        return;
      }
      const to = this.nodes.get(m.to) as Node;
      if (to.handler.isRemoved(from.id)) {
        from.handler.onRemoved();
        return;
      }
      this.delivered++;
      to.handler.process(m);
    });
  }

  private async deliverSnapshot(from: Node, m: Message, db: { sizeBytes: number; chunks(): AsyncIterable<Buffer> }): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const to = this.nodes.get(m.to);
    if (to === undefined || !this.reachable(from.id, m.to)) {
      from.handler.reportSnapshot(m.to, 'failure');
      return;
    }
    try {
      await to.handler.receiveSnapshot(m, db.sizeBytes, db.chunks());
      if (!from.closed) from.handler.reportSnapshot(m.to, 'finish');
    } catch {
      if (!from.closed) from.handler.reportSnapshot(m.to, 'failure');
    }
  }
}
