/**
 * The simulated network between nodes. Every message is delivered after a random delay drawn
 * per message (so messages on one link overtake each other: reordering), may be dropped, and
 * may be delivered twice. Partitions cut links both ways; a message is lost if its link is cut
 * when it is sent or when it would arrive.
 */
import { Rng } from '../pkg';
import { Message, NodeId } from '../raft';
import { EventQueue } from './clock';

/** Fault rates of the links (all links share them). */
export interface LinkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered a second time (after its own random delay). */
  readonly duplicateRate: number;
  /** Delivery delay is uniform in [minDelayMs, maxDelayMs]. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/** A network with no faults and a 1 ms delay (used to heal at the end of a run). */
export const RELIABLE: LinkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 1 };

function linkKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** Why a message did not arrive (reported to the sender's transport). */
export type DropReason = 'drop' | 'partition';

/** Callbacks into the cluster: deliver a message, or tell the sender it was lost. */
export interface NetworkHandler {
  deliver(m: Message): void;
  lost(m: Message, why: DropReason): void;
}

/** Links between every pair of nodes, all subject to the same faults. */
export class Network {
  private readonly cut = new Set<string>();
  faults: LinkFaults;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly rng: Rng,
    faults: LinkFaults,
    private readonly handler: NetworkHandler,
  ) {
    this.faults = faults;
  }

  /** Sends `m`; it arrives (or is lost) later, through the handler. */
  send(m: Message): void {
    this.sent++;
    if (this.isCut(m.from, m.to)) return this.lose(m, 'partition');
    if (this.rng.chance(this.faults.dropRate)) return this.lose(m, 'drop');
    this.schedule(m);
    if (this.rng.chance(this.faults.duplicateRate)) {
      this.duplicated++;
      this.schedule(m);
    }
  }

  private schedule(m: Message): void {
    const f = this.faults;
    const delayMs = f.minDelayMs + this.rng.int(f.maxDelayMs - f.minDelayMs + 1);
    this.queue.schedule(delayMs, () => {
      if (this.isCut(m.from, m.to)) this.lose(m, 'partition');
      else this.handler.deliver(m);
    });
  }

  private lose(m: Message, why: DropReason): void {
    this.dropped++;
    this.handler.lost(m, why);
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.cut.has(linkKey(a, b));
  }

  /** Cuts every link between `side` and the other nodes of `all`. */
  partition(side: readonly NodeId[], all: readonly NodeId[]): void {
    const s = new Set(side);
    for (const a of all) for (const b of all) if (a < b && s.has(a) !== s.has(b)) this.cut.add(linkKey(a, b));
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }
}
