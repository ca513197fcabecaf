/**
 * The storage raft reads its stable log from. Raft never writes to it: the application
 * persists what a Ready hands it (entries, hard state, snapshot) and then calls advance().
 * The server's WAL-backed storage implements this interface; MemoryStorage is the in-memory
 * one used by tests (and, as in etcd, as the in-memory cache in front of the WAL).
 *
 * Layout: the storage holds a contiguous run of entries [firstIndex, lastIndex] preceded by
 * the snapshot at firstIndex-1, whose index and term are kept so that term(firstIndex-1)
 * still answers (log matching needs the term of the entry before the first one).
 */
import { assert } from '../pkg';
import { entrySizeBytes } from './codec';
import { errCompacted, errSnapOutOfDate, errUnavailable } from './errors';
import { ConfState, EMPTY_BYTES, EMPTY_CONF_STATE, EMPTY_HARD_STATE, Entry, HardState, Snapshot } from './types';

/** Read access to the stable log; implemented by MemoryStorage and the server's WAL storage. */
export interface Storage {
  /** The persisted hard state and the configuration as of the last snapshot. */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /**
   * Entries [lo, hi), at most `maxSizeBytes` in total encoded size but always at least one
   * when lo < hi. Throws FloeError ERR_RAFT_COMPACTED when lo <= the snapshot index and
   * ERR_RAFT_UNAVAILABLE when the storage holds no entries. hi <= lastIndex()+1 is the
   * caller's duty.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[];
  /**
   * Term of the entry at `index`, for index in [firstIndex()-1, lastIndex()]. Throws
   * ERR_RAFT_COMPACTED below that range and ERR_RAFT_UNAVAILABLE above it.
   */
  term(index: number): number;
  lastIndex(): number;
  /** Index of the first entry possibly available through entries() (snapshot index + 1). */
  firstIndex(): number;
  /**
   * The most recent snapshot. May throw ERR_RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE while one is
   * being prepared; raft then retries on a later heartbeat.
   */
  snapshot(): Snapshot;
}

/** The longest prefix of `ents` within `maxSizeBytes`, but never less than one entry. */
export function limitSize(ents: readonly Entry[], maxSizeBytes: number): readonly Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n]!);
    if (size > maxSizeBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

const EMPTY_SNAPSHOT: Snapshot = {
  data: EMPTY_BYTES,
  metadata: { confState: EMPTY_CONF_STATE, index: 0, term: 0 },
};

/**
 * Storage in memory. `ents[0]` is a dummy entry holding the snapshot's index and term; real
 * entries follow it, so ents[i] has index ents[0].index + i.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [{ term: 0, index: 0, type: 'EntryNormal', data: EMPTY_BYTES }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Records the hard state (the application calls this when persisting a Ready). */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): readonly Entry[] {
    const offset = this.dummy().index;
    if (lo <= offset) throw errCompacted();
    assert(hi <= this.lastIndex() + 1, () => `entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    assert(lo <= hi, () => `invalid range [${lo}, ${hi})`);
    if (this.ents.length === 1) throw errUnavailable();
    const start = lo - offset;
    const end = hi - offset;
    if (start === end) return [];
    // Limit while scanning rather than slicing the whole range first: a follower far behind
    // asks for everything after its index and gets one message's worth.
    let size = entrySizeBytes(this.ents[start]!);
    let n = start + 1;
    for (; n < end; n++) {
      size += entrySizeBytes(this.ents[n]!);
      if (size > maxSizeBytes) break;
    }
    return this.ents.slice(start, n);
  }

  term(index: number): number {
    const offset = this.dummy().index;
    if (index < offset) throw errCompacted();
    if (index - offset >= this.ents.length) throw errUnavailable();
    return this.ents[index - offset]!.term;
  }

  lastIndex(): number {
    return this.dummy().index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.dummy().index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole contents with a snapshot (a follower restoring one from its leader).
   * Throws ERR_RAFT_SNAP_OUT_OF_DATE when the snapshot is not newer than the current one.
   */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw errSnapOutOfDate();
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'EntryNormal', data: EMPTY_BYTES }];
  }

  /**
   * Makes a snapshot of the state machine at `index` (which the application has applied) with
   * the given configuration and data, for followers that need one. Does not compact; call
   * compact() for that. Throws ERR_RAFT_SNAP_OUT_OF_DATE if `index` is not newer.
   */
  createSnapshot(index: number, confState: ConfState | null, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw errSnapOutOfDate();
    assert(index <= this.lastIndex(), () => `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    const offset = this.dummy().index;
    this.snap = {
      data,
      metadata: {
        index,
        term: this.ents[index - offset]!.term,
        confState: confState ?? this.snap.metadata.confState,
      },
    };
    return this.snap;
  }

  /**
   * Discards entries up to and including `compactIndex`; its term stays as the dummy entry.
   * The application must only compact what it has applied and snapshotted. Throws
   * ERR_RAFT_COMPACTED when `compactIndex` is already compacted.
   */
  compact(compactIndex: number): void {
    const offset = this.dummy().index;
    if (compactIndex <= offset) throw errCompacted();
    assert(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const kept = this.ents.slice(i);
    const head = kept[0]!;
    kept[0] = { term: head.term, index: head.index, type: 'EntryNormal', data: EMPTY_BYTES };
    this.ents = kept;
  }

  /**
   * Appends entries, replacing any existing entries from the first new index on (a follower
   * overwriting a conflicting tail). Entries already compacted are skipped. The entries must
   * be contiguous with the stored ones (no gap).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.dummy().index;
    assert(offset <= this.ents.length, () => `missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
    if (offset < this.ents.length) this.ents = this.ents.slice(0, offset);
    for (const e of ents) this.ents.push(e);
  }

  private dummy(): Entry {
    return this.ents[0]!;
  }
}
