/**
 * The safety properties the simulator checks while a run goes on. Each check is called at the
 * moment the property could first break, so a violation is reported at the event that caused
 * it:
 *  - election safety: at most one leader per term (after every event);
 *  - log matching: an (index, term) pair names one entry, with one predecessor term; checked
 *    for every entry as it becomes durable, which by induction makes logs that share an
 *    (index, term) identical up to it (and a full pairwise comparison at the end of a run);
 *  - leader completeness: a leader's durable log, once its first Ready as leader is
 *    persisted, holds every entry committed in an earlier term;
 *  - state machine safety: every node applies the same entry at each index (hash chain);
 *  - durability of acknowledged writes: when a client is answered, the entry is durable on a
 *    quorum; at the end of a run it is applied on every member;
 *  - ReadIndex: a read is served at or after every write acknowledged before it started, and
 *    sees, for each key, that write or a later one.
 */
import { ConfState, Entry, MemoryStorage, NodeId } from '../raft';
import { KvValue, text } from './state-machine';

/** A broken safety property; `property` names which one. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`invariant "${property}" violated: ${detail}`);
  }
}

function violate(property: string, detail: string): never {
  throw new InvariantViolation(property, detail);
}

/** A write the client was told succeeded. */
export interface Ack {
  readonly proposal: number;
  readonly key: string;
  readonly index: number;
  readonly term: number;
}

/** A ReadIndex read in flight and what it must observe. */
export interface ReadCheck {
  readonly ctx: string;
  /** The highest index of a write acknowledged before the read started. */
  readonly minIndex: number;
  /** Per key, the index of the latest write to it acknowledged before the read started. */
  readonly perKey: ReadonlyMap<string, number>;
}

interface AppliedAt {
  readonly hash: number;
  readonly term: number;
  /** The lowest term any node was in when applying it: the entry was committed by then. */
  commitTerm: number;
}

/** The checker's memory of the whole run. */
export class Checker {
  private readonly leaders = new Map<number, NodeId>();
  /** `${index}/${term}` -> content and predecessor term of the one entry with that position. */
  private readonly positions = new Map<string, { content: string; prevTerm: number }>();
  private readonly applied = new Map<number, AppliedAt>();
  readonly acks: Ack[] = [];
  /** Per key, the latest acknowledged write's index. */
  private readonly ackedPerKey = new Map<string, number>();
  /** The highest index of any acknowledged write. */
  maxAckedIndex = 0;

  /** At most one leader per term. */
  leaderSeen(id: NodeId, term: number): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) violate('one leader per term', `nodes ${prev} and ${id} both lead term ${term}`);
    this.leaders.set(term, id);
  }

  get leaderTerms(): number {
    return this.leaders.size;
  }

  /** Entries just made durable on node `id` (storage already holds them). */
  entriesPersisted(id: NodeId, storage: MemoryStorage, entries: readonly Entry[]): void {
    const snapIndex = storage.firstIndex() - 1;
    for (const e of entries) {
      if (e.index <= snapIndex) continue; // skipped by the storage: already compacted
      const prevTerm = storage.term(e.index - 1);
      const key = `${e.index}/${e.term}`;
      const content = `${e.type}:${text(e.data)}`;
      const seen = this.positions.get(key);
      if (seen === undefined) this.positions.set(key, { content, prevTerm });
      else if (seen.content !== content || seen.prevTerm !== prevTerm) {
        violate(
          'log matching',
          `node ${id} holds at index ${e.index} term ${e.term} "${content}" after term ${prevTerm}; another node holds "${seen.content}" after term ${seen.prevTerm}`,
        );
      }
    }
  }

  /** Node `id` applied `index` (an entry or a snapshot) reaching chain value `hash`. */
  appliedAt(id: NodeId, index: number, term: number, hash: number, nodeTerm: number): void {
    const prev = this.applied.get(index);
    if (prev === undefined) this.applied.set(index, { hash, term, commitTerm: nodeTerm });
    else if (prev.hash !== hash || prev.term !== term) {
      violate('same entry applied at each index', `node ${id} applied term ${term} hash ${hash} at ${index}; another node applied term ${prev.term} hash ${prev.hash}`);
    } else prev.commitTerm = Math.min(prev.commitTerm, nodeTerm);
  }

  /** The durable log of a node that has just become leader of `term`. */
  leaderLog(id: NodeId, term: number, storage: MemoryStorage): void {
    const snapIndex = storage.firstIndex() - 1;
    for (const [index, a] of this.applied) {
      if (a.commitTerm >= term || index <= snapIndex) continue;
      if (index > storage.lastIndex()) violate('leader completeness', `leader ${id} of term ${term} lacks index ${index} committed by term ${a.commitTerm}`);
      const t = storage.term(index);
      if (t !== a.term) violate('leader completeness', `leader ${id} of term ${term} holds term ${t} at ${index}, committed entry has term ${a.term}`);
    }
  }

  /**
   * A client was answered: the write must be durable on a quorum. `holders` is how many nodes
   * hold it durably; `configs` are the acknowledging node's recent configurations (the leader
   * that committed it may have used any of them, as conf changes apply asynchronously).
   */
  acknowledged(ack: Ack, holders: number, configs: readonly ConfState[]): void {
    let minVoters = Infinity;
    for (const c of configs) {
      minVoters = Math.min(minVoters, c.voters.length);
      if (c.votersOutgoing.length > 0) minVoters = Math.min(minVoters, c.votersOutgoing.length);
    }
    const quorum = Math.floor(minVoters / 2) + 1;
    if (holders < quorum) violate('acknowledged write durable on a quorum', `p${ack.proposal} at ${ack.index} is durable on ${holders} nodes, quorum is ${quorum}`);
    this.acks.push(ack);
    this.maxAckedIndex = Math.max(this.maxAckedIndex, ack.index);
    this.ackedPerKey.set(ack.key, Math.max(this.ackedPerKey.get(ack.key) ?? 0, ack.index));
  }

  /** What a read started now must observe. */
  startRead(ctx: string): ReadCheck {
    return { ctx, minIndex: this.maxAckedIndex, perKey: new Map(this.ackedPerKey) };
  }

  /** Raft answered the read with `index`. */
  readIndexed(id: NodeId, r: ReadCheck, index: number): void {
    if (index < r.minIndex) violate('ReadIndex sees acknowledged writes', `node ${id} read ${r.ctx} at index ${index}, but a write at ${r.minIndex} was acknowledged before it started`);
  }

  /** The read is served from node `id`'s state machine. */
  readServed(id: NodeId, r: ReadCheck, kv: ReadonlyMap<string, KvValue>): void {
    for (const [key, index] of r.perKey) {
      const got = kv.get(key);
      if (got === undefined || got.index < index) {
        violate('ReadIndex sees acknowledged writes', `node ${id} read ${r.ctx}: key ${key} has the write at ${got?.index ?? 'none'}, acknowledged before the read was the one at ${index}`);
      }
    }
  }

  /** End of run: every acknowledged write is applied on node `id`, whose chain reached `appliedIndex`. */
  ackedAppliedOn(id: NodeId, appliedIndex: number): void {
    for (const a of this.acks) {
      if (a.index > appliedIndex) violate('acknowledged writes applied everywhere', `node ${id} applied only up to ${appliedIndex}, acknowledged p${a.proposal} is at ${a.index}`);
    }
  }
}

/** Full pairwise log matching over durable logs (end of run; O(nodes^2 * log)). */
export function checkLogsMatch(logs: readonly { id: NodeId; storage: MemoryStorage }[]): void {
  for (let i = 0; i < logs.length; i++) {
    for (let j = i + 1; j < logs.length; j++) {
      const a = logs[i]!;
      const b = logs[j]!;
      const lo = Math.max(a.storage.firstIndex(), b.storage.firstIndex());
      const hi = Math.min(a.storage.lastIndex(), b.storage.lastIndex());
      let top = 0;
      for (let k = hi; k >= lo; k--) {
        if (a.storage.term(k) === b.storage.term(k)) {
          top = k;
          break;
        }
      }
      if (top < lo) continue;
      const ea = a.storage.entries(lo, top + 1, Infinity);
      const eb = b.storage.entries(lo, top + 1, Infinity);
      for (let k = 0; k < ea.length; k++) {
        const x = ea[k]!;
        const y = eb[k]!;
        if (x.term !== y.term || x.type !== y.type || text(x.data) !== text(y.data)) {
          violate('log matching', `nodes ${a.id} and ${b.id} differ at ${x.index}, below their common entry at ${top}`);
        }
      }
    }
  }
}
