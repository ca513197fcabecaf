/**
 * Transactions. You must end every transaction: commit or roll back a write transaction, and
 * roll back (close) a read transaction when done; an open reader pins its snapshot and keeps
 * the pages it can see from being reused.
 *
 * A read transaction sees the meta that was current when it began, for as long as it stays
 * open, however many commits happen meanwhile. There is one write transaction at a time.
 *
 * Commit order (crash safety; README.md):
 *  1. rebalance and spill changed nodes into newly allocated pages, freeing the old ones
 *     (pending: an open reader may still see them);
 *  2. free the old freelist page and write the freelist to a newly allocated page;
 *  3. write every new page, then fdatasync;
 *  4. write the meta page (txid % 2) with its checksum, then fdatasync.
 * Until step 4's write lands the file still holds the previous transaction, whose pages this
 * one never overwrote (it only wrote pages that were free in that transaction's freelist).
 */
import { assert, failpoint, FloeError, verifyEnabled } from '../pkg';
import { Bucket, type BucketTx } from './bucket';
import type { Cursor } from './cursor';
import { backendError, corrupt } from './errors';
import { encodeFreelistPage, freelistPageCount, freelistSizeBytes } from './freelist/codec';
import type { Freelist, Pgid } from './freelist';
import { encodeMetaPage, type Meta } from './meta';
import type { TreeContext } from './node';
import type { DirtyPage, PageFile } from './page-file';

/** What a committed write transaction leaves behind. */
export interface CommitOutcome {
  readonly meta: Meta;
  /** The ids now on the freelist page (free and pending). */
  readonly freeIds: Pgid[];
  /** Pages the new freelist page spans. */
  readonly freelistSpan: number;
}

/** What transactions need from their database (implemented by DB). */
export interface TxHost {
  readonly noSync: boolean;
  readonly fillPercent: number;
  /** The write freelist; only called on by write transactions. */
  writeFreelist(): Freelist;
  /** Pages the committed freelist page spans (freed by the next commit). */
  readonly freelistSpan: number;
  /** The ids on the committed freelist page, for restoring the free set on rollback. */
  readonly committedFreeIds: readonly Pgid[];
  endRead(tx: ReadTx): void;
  /** A write transaction ended; `outcome` is null when it rolled back. */
  endWrite(tx: WriteTx, outcome: CommitOutcome | null): void;
  /** The meta write failed: the file's state is unknown until it is reopened. */
  fail(err: unknown): void;
  /**
   * Queues the durable half of a pipelined commit (sync the data, write and sync the meta
   * page) behind the ones before it; see WriteTx.commitPipelined.
   */
  makeDurable(file: PageFile, txid: number, metaPage: Buffer, metaPos: number): void;
  /** Pipelined commits not yet durable (a synchronous commit waits for none). */
  readonly pendingDurable: number;
}

/** A read-only snapshot of the database. Close it with rollback(). */
export class ReadTx implements BucketTx {
  protected readonly root: Bucket;
  protected closed = false;

  /** @internal use db.beginRead() */
  constructor(
    protected readonly host: TxHost,
    /** The file this transaction reads (pinned until it ends). */
    readonly file: PageFile,
    readonly meta: Meta,
  ) {
    this.root = new Bucket(this, meta.root, meta.sequence, null);
  }

  /** False: a read transaction. (A getter, not a field: the root bucket asks during construction.) */
  get writable(): boolean {
    return false;
  }

  /** The transaction id: the txid of the snapshot (a write transaction's own new txid). */
  get id(): number {
    return this.meta.txid;
  }

  /** Bytes of the database as this transaction sees it (high-water mark * page size). */
  get size(): number {
    return this.meta.pgid * this.meta.pageSize;
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  get ctx(): TreeContext | null {
    return null;
  }

  /** @internal */
  ensureOpen(): void {
    if (this.closed) throw backendError('ERR_TX_CLOSED');
  }

  /** @internal A committed page of this snapshot. */
  page(pgid: number): Buffer {
    if (pgid < 2 || pgid >= this.meta.pgid) {
      throw corrupt(`page ${pgid}: out of bounds (high-water mark ${this.meta.pgid})`);
    }
    return this.file.read(pgid);
  }

  /** The top-level bucket `name`, or null. */
  bucket(name: Uint8Array): Bucket | null {
    return this.root.bucket(name);
  }

  /** A cursor over the top-level bucket names (values are null). */
  cursor(): Cursor {
    return this.root.cursor();
  }

  /** Calls `fn` for every top-level bucket, in name order. */
  forEach(fn: (name: Buffer, bucket: Bucket) => void): void {
    // Only bucket entries: bbolt never puts plain keys at the top level, but a file could.
    this.root.forEach((name, value) => {
      if (value === null) fn(name, this.root.bucket(name)!);
    });
  }

  /** True once the transaction has ended. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Ends the transaction. Calling it again does nothing. */
  rollback(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.endRead(this);
  }

  /** @internal The database closed under this transaction. */
  forceClose(): void {
    this.closed = true;
  }
}

type WriteState = 'open' | 'committing' | 'done';

/** Bytes of one slab of new page buffers (see WriteTx.pageBuffer). */
const SLAB_BYTES = 64 * 1024;

/** A prepared commit: every page to write, in id order, and the meta page. */
interface Prepared {
  readonly pages: DirtyPage[];
  readonly metaPage: Buffer;
  readonly outcome: CommitOutcome;
}

/** The one read-write transaction. End it with commit(), commitAsync() or rollback(). */
export class WriteTx extends ReadTx implements TreeContext {
  override get writable(): boolean {
    return true;
  }
  // Field initialisers run after the base constructor (which builds the root bucket), so
  // nothing the base constructor calls may depend on them (hence `writable` is a getter).
  private state: WriteState = 'open';
  private dirtyPages: DirtyPage[] = [];
  private slab: Buffer | null = null;
  private slabUsed = 0;
  private readonly freelist: Freelist;

  /** @internal use db.beginWrite() */
  constructor(host: TxHost, file: PageFile, meta: Meta) {
    super(host, file, meta);
    this.freelist = host.writeFreelist();
  }

  /** True while commitAsync() is writing. */
  get isCommitting(): boolean {
    return this.state === 'committing';
  }

  override get ctx(): TreeContext {
    return this;
  }

  get fillPercent(): number {
    return this.host.fillPercent;
  }

  override ensureOpen(): void {
    if (this.state !== 'open' || this.closed) throw backendError('ERR_TX_CLOSED');
  }

  // --- TreeContext -------------------------------------------------------------------------

  /** @internal */
  readPage(pgid: number): Buffer {
    return this.page(pgid);
  }

  /** @internal Takes `count` contiguous pages: from the freelist, else past the high-water mark. */
  allocate(count: number): number {
    const id = this.freelist.allocate(this.meta.txid, count);
    if (id !== 0) return id;
    const end = this.meta.pgid;
    this.meta.pgid += count;
    return end;
  }

  /** @internal */
  free(pgid: number, count: number): void {
    this.freelist.free(this.meta.txid, pgid, count);
  }

  /** @internal */
  dirty(pgid: number, buf: Buffer): void {
    this.dirtyPages.push({ pgid, buf });
  }

  /**
   * @internal Page buffers are carved from slabs of SLAB_BYTES: one allocation per 16 pages
   * instead of one per page (an ArrayBuffer per 4 KiB page dominated commit time). A cached
   * page keeps its slab alive, so the cache may hold up to a slab more than its bound per
   * surviving page in the worst case; pages of one commit are cached and evicted together, so
   * in practice the overhead is small.
   */
  pageBuffer(bytes: number): Buffer {
    if (bytes > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(bytes);
    if (this.slab === null || this.slabUsed + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const b = this.slab.subarray(this.slabUsed, this.slabUsed + bytes);
    this.slabUsed += bytes;
    return b;
  }

  // --- top-level buckets -------------------------------------------------------------------

  /** Creates the top-level bucket `name`; 'bucket already exists' when it does. */
  createBucket(name: Uint8Array): Bucket {
    return this.root.createBucket(name);
  }

  /** Returns the top-level bucket `name`, creating it when missing. */
  createBucketIfNotExists(name: Uint8Array): Bucket {
    return this.root.createBucketIfNotExists(name);
  }

  /** Deletes the top-level bucket `name` and everything in it; 'bucket not found' when missing. */
  deleteBucket(name: Uint8Array): void {
    this.root.deleteBucket(name);
  }

  // --- ending ------------------------------------------------------------------------------

  /** Writes everything durably (unless the db was opened with noSync) and ends the transaction. */
  commit(): void {
    if (this.host.pendingDurable > 0) {
      // Its meta would overtake the queued ones: mixing the two kinds of commit is a bug.
      throw new FloeError('ERR_TX_COMMITTING', 'a synchronous commit while pipelined commits are becoming durable (await db.flush() first)');
    }
    const p = this.prepare();
    const ps = this.meta.pageSize;
    try {
      this.file.writePages(p.pages);
      failpoint('backend.commit.beforeDataSync');
      if (!this.host.noSync) this.file.sync();
      failpoint('backend.commit.afterDataSync');
    } catch (e) {
      this.abort();
      throw e;
    }
    try {
      this.file.writeAt(p.metaPage, (this.meta.txid % 2) * ps);
      failpoint('backend.commit.beforeMetaSync');
      if (!this.host.noSync) this.file.sync();
      failpoint('backend.commit.afterMetaSync');
    } catch (e) {
      this.state = 'done';
      this.closed = true;
      this.host.fail(e);
      throw e;
    }
    this.finish(p);
  }

  /**
   * The same steps as commit(), with the writes and syncs off the event loop. The database
   * refuses another write transaction until the returned promise settles.
   */
  async commitAsync(): Promise<void> {
    const p = this.prepare();
    const ps = this.meta.pageSize;
    try {
      await this.file.writePagesAsync(p.pages);
      failpoint('backend.commit.beforeDataSync');
      if (!this.host.noSync) await this.file.syncAsync();
      failpoint('backend.commit.afterDataSync');
    } catch (e) {
      this.abort();
      throw e;
    }
    try {
      await this.file.writeAtAsync(p.metaPage, (this.meta.txid % 2) * ps);
      failpoint('backend.commit.beforeMetaSync');
      if (!this.host.noSync) await this.file.syncAsync();
      failpoint('backend.commit.afterMetaSync');
    } catch (e) {
      this.state = 'done';
      this.closed = true;
      this.host.fail(e);
      throw e;
    }
    this.finish(p);
  }

  /**
   * A commit whose durability follows later, off the event loop: the pages are written into
   * the file now (so reads, of this process, see them at once) and the transaction ends; the
   * data sync, meta write and meta sync are queued in order behind earlier commits
   * (DB.flush() waits for them). Crash safety is kept by two rules the DB enforces: a meta
   * page is written only after its data and the previous meta are durable, and no page the
   * newest durable meta can reach is reused before a newer meta is durable (the durable txid
   * holds freed pages back like an open reader). A crash therefore leaves the last durable
   * commit, never a torn one; what it loses, the member replays from its WAL.
   */
  commitPipelined(): void {
    const p = this.prepare();
    try {
      this.file.writePages(p.pages);
    } catch (e) {
      this.abort();
      throw e;
    }
    const txid = this.meta.txid;
    // Queued before the transaction ends, so the DB never takes this meta for a durable one.
    this.host.makeDurable(this.file, txid, p.metaPage, (txid % 2) * this.meta.pageSize);
    this.finish(p);
  }

  /** Discards every change. Calling it on an ended transaction does nothing. */
  override rollback(): void {
    if (this.state === 'committing') {
      throw new FloeError('ERR_TX_COMMITTING', 'cannot roll back: the transaction is committing');
    }
    if (this.state === 'done') return;
    this.abort();
  }

  /** Steps 1 and 2: the in-memory part of a commit. */
  private prepare(): Prepared {
    this.ensureOpen();
    this.state = 'committing';
    try {
      return this.buildPages();
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private buildPages(): Prepared {
    const meta = this.meta;
    const ps = meta.pageSize;
    this.root.rebalance(this);
    this.root.spill(this);
    meta.root = this.root.root;

    const fl = this.freelist;
    if (meta.freelist !== null) fl.free(meta.txid, meta.freelist, this.host.freelistSpan);
    const span = freelistPageCount(fl.freeCount() + fl.pendingCount(), ps);
    const pgid = this.allocate(span);
    const ids = fl.allIds();
    assert(freelistSizeBytes(ids.length) <= span * ps, 'freelist grew while its page was allocated');
    const flBuf = Buffer.alloc(span * ps);
    encodeFreelistPage(flBuf, pgid, ids, ps);
    this.dirty(pgid, flBuf);
    meta.freelist = pgid;

    const pages = this.dirtyPages;
    this.dirtyPages = [];
    pages.sort((a, b) => a.pgid - b.pgid);
    if (verifyEnabled) {
      // Every page about to be written is allocated to this transaction: below the high-water
      // mark and neither free nor pending (else a reader's page would be overwritten).
      for (const p of pages) {
        const span = p.buf.length / ps;
        assert(p.pgid >= 2 && p.pgid + span <= meta.pgid, () => `dirty page ${p.pgid} outside [2, ${meta.pgid})`);
        for (let id = p.pgid; id < p.pgid + span; id++) assert(!fl.freed(id), () => `dirty page ${id} is on the freelist`);
      }
    }
    const metaPage = Buffer.alloc(ps);
    encodeMetaPage(metaPage, meta);
    return { pages, metaPage, outcome: { meta, freeIds: ids, freelistSpan: span } };
  }

  private finish(p: Prepared): void {
    this.state = 'done';
    this.closed = true;
    this.host.endWrite(this, p.outcome);
  }

  /** Forgets this transaction's frees and allocations; the db keeps its last committed state. */
  private abort(): void {
    this.state = 'done';
    this.closed = true;
    this.dirtyPages = [];
    this.freelist.rollback(this.meta.txid);
    this.freelist.reload(this.host.committedFreeIds);
    this.host.endWrite(this, null);
  }
}
