/**
 * A simulated disk for one node. `storage` is the durable image: only what a completed fsync
 * wrote. A Ready's snapshot, entries and hard state are first handed to write() and become
 * durable when sync() runs (the simulator schedules it after a random fsync delay). A crash in
 * between loses the write, snapshot included, unless the seed decides the data happened to
 * reach the platter anyway (crash(true)): both outcomes are legal for un-synced data.
 *
 * Ordering rule inside a write, as etcd's storage applies it: snapshot, then entries, then
 * hard state.
 */
import { assert } from '../pkg';
import { Entry, HardState, MemoryStorage, Snapshot } from '../raft';

/** What one Ready asks to persist. */
export interface DiskWrite {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

/** Durable state plus at most one write in flight (raft has at most one Ready out). */
export class Disk {
  storage: MemoryStorage = new MemoryStorage();
  private pending: DiskWrite | null = null;
  /** Fsyncs completed, for statistics. */
  syncs = 0;

  /** Starts a write; it is not durable until sync(). */
  write(w: DiskWrite): void {
    assert(this.pending === null, 'a second write started before the first was synced');
    this.pending = w;
  }

  /** Whether a write is waiting for its fsync. */
  get busy(): boolean {
    return this.pending !== null;
  }

  /** Completes the pending fsync: the write becomes part of the durable image. */
  sync(): void {
    const w = this.pending;
    assert(w !== null, 'sync without a pending write');
    this.pending = null;
    this.persist(w);
    this.syncs++;
  }

  /** The machine dies: the un-synced write is lost, or survives when `survives` is true. */
  crash(survives: boolean): void {
    const w = this.pending;
    this.pending = null;
    if (w !== null && survives) this.persist(w);
  }

  private persist(w: DiskWrite): void {
    if (w.snapshot !== null) this.storage.applySnapshot(w.snapshot);
    this.storage.append(w.entries);
    if (w.hardState !== null) this.storage.setHardState(w.hardState);
  }
}
