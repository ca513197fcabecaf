/**
 * etcd's peer traffic counters (rafthttp metrics): bytes sent to and received from each peer
 * and messages to a peer dropped unsent, labelled with the peer's id in hex (To / From).
 * Each peer's children are looked up once and kept, so counting is a map lookup and an add.
 */
import type { Counter } from './registry';
import type { NetworkMetrics } from './etcd-families';

/** Hex id as etcd prints a types.ID (lower case, no padding). */
function hexId(id: bigint): string {
  return id.toString(16);
}

/** The counters of rafthttp's PeerTrafficMetrics over etcd's families. */
export class PeerTraffic {
  private readonly sentTo = new Map<bigint, Counter>();
  private readonly receivedFrom = new Map<bigint, Counter>();
  private readonly failedTo = new Map<bigint, Counter>();

  constructor(private readonly network: NetworkMetrics) {}

  sent(to: bigint, bytes: number): void {
    let c = this.sentTo.get(to);
    if (c === undefined) this.sentTo.set(to, (c = this.network.peerSentBytes.labels(hexId(to))));
    c.inc(bytes);
  }

  received(from: bigint, bytes: number): void {
    let c = this.receivedFrom.get(from);
    if (c === undefined) this.receivedFrom.set(from, (c = this.network.peerReceivedBytes.labels(hexId(from))));
    c.inc(bytes);
  }

  sendFailed(to: bigint, count: number): void {
    let c = this.failedTo.get(to);
    if (c === undefined) this.failedTo.set(to, (c = this.network.peerSentFailures.labels(hexId(to))));
    c.inc(count);
  }
}
