/**
 * The database: one file, one write transaction at a time, any number of read transactions.
 *
 * Page reuse rule: pages freed by write transaction T stay pending while any reader that could
 * still see them is open. At each beginWrite the db releases the pending pages of every
 * transaction older than the oldest open reader, and of the ranges between open readers whose
 * pages were both allocated and freed inside the range (bbolt's rule; see freelist/types.ts).
 *
 * A read-only db never writes the file and loads the freelist only when asked for stats/check.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FloeError, assert, failpoint } from '../pkg';
import { backendError, corrupt } from './errors';
import { FREELIST_KINDS, newFreelist, type Freelist, type FreelistKind, type Pgid } from './freelist';
import { decodeFreelistPage, encodeFreelistPage } from './freelist/codec';
import { inspect } from './walk';
import { META_SIZE, copyMeta, decodeMeta, encodeMetaPage, metaProblem, validPageSize, type Meta } from './meta';
import { LEAF_PAGE_FLAG, PAGE_HEADER_SIZE, pageOverflow, writePageHeader } from './page';
import { PageFile } from './page-file';
import { ReadTx, WriteTx, type CommitOutcome, type TxHost } from './tx';
import { checkDb } from './check';
import { collectStats, type DbStats } from './stats';
import { copyTree } from './defrag';

/** Options for DB.open. */
export interface OpenOptions {
  /** Freelist implementation: 'hashmap' (default, etcd's `map`) or 'array'. */
  freelistType?: FreelistKind;
  /** Bound of the page cache in bytes, default 64 MiB; at least one page. */
  pageCacheBytes?: number;
  /** Open O_RDONLY: never write; beginWrite() throws. */
  readOnly?: boolean;
  /** Skip fdatasync (benchmarks and tests only: a crash can lose or corrupt commits). */
  noSync?: boolean;
  /** Split threshold as a fraction of a page, default 0.5, in [0.1, 1.0]. */
  fillPercent?: number;
  /** Page size for a new file, default 4096; an existing file keeps its own. */
  pageSize?: number;
}

export const DEFAULT_PAGE_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PAGE_SIZE = 4096;
export const DEFAULT_FILL_PERCENT = 0.5;
/** Page sizes a new file may have. */
export const MIN_NEW_PAGE_SIZE = 1024;
export const MAX_NEW_PAGE_SIZE = 65536;

/** Suffix of the temporary file a defragment writes before swapping it in. */
export const DEFRAG_SUFFIX = '.defrag';
/** Pages a defragment writes are this full: room for a few inserts before the first split (etcd's choice). */
const DEFRAG_FILL_PERCENT = 0.9;

interface Resolved {
  freelistType: FreelistKind;
  pageCacheBytes: number;
  readOnly: boolean;
  noSync: boolean;
  fillPercent: number;
  pageSize: number;
}

function resolve(opts: OpenOptions): Resolved {
  const r: Resolved = {
    freelistType: opts.freelistType ?? 'hashmap',
    pageCacheBytes: opts.pageCacheBytes ?? DEFAULT_PAGE_CACHE_BYTES,
    readOnly: opts.readOnly ?? false,
    noSync: opts.noSync ?? false,
    fillPercent: opts.fillPercent ?? DEFAULT_FILL_PERCENT,
    pageSize: opts.pageSize ?? DEFAULT_PAGE_SIZE,
  };
  if (!FREELIST_KINDS.includes(r.freelistType)) {
    throw new FloeError('ERR_BAD_OPTION', `freelistType must be array or hashmap, not ${String(r.freelistType)}`);
  }
  if (!(r.fillPercent >= 0.1 && r.fillPercent <= 1.0)) {
    throw new FloeError('ERR_BAD_OPTION', `fillPercent must be in [0.1, 1.0], not ${r.fillPercent}`);
  }
  if (!(Number.isInteger(r.pageSize) && r.pageSize >= MIN_NEW_PAGE_SIZE && r.pageSize <= MAX_NEW_PAGE_SIZE && (r.pageSize & (r.pageSize - 1)) === 0)) {
    throw new FloeError('ERR_BAD_OPTION', `pageSize must be a power of two in [${MIN_NEW_PAGE_SIZE}, ${MAX_NEW_PAGE_SIZE}], not ${r.pageSize}`);
  }
  if (!Number.isSafeInteger(r.pageCacheBytes) || r.pageCacheBytes < 1) {
    throw new FloeError('ERR_BAD_OPTION', `pageCacheBytes must be a positive integer, not ${r.pageCacheBytes}`);
  }
  return r;
}

export class DB implements TxHost {
  readonly readOnly: boolean;
  readonly noSync: boolean;
  readonly fillPercent: number;
  readonly freelistType: FreelistKind;
  private readonly cacheBytes: number;

  private file: PageFile;
  private meta: Meta;
  private freelist: Freelist | null = null;
  /** @internal */
  committedFreeIds: readonly Pgid[] = [];
  /** @internal */
  freelistSpan = 0;
  private writer: WriteTx | null = null;
  private readonly txs = new Set<ReadTx>();
  /** Open read transactions per snapshot txid, on the current file. */
  private readers = new Map<number, number>();
  private failure: unknown = null;
  private closed = false;
  /** The newest commit whose meta page is durable on disk. */
  private durableTxid: number;
  /** The queue of pipelined commits still becoming durable (settled when none). */
  private durability: Promise<void> = Promise.resolve();
  private durablePending = 0;
  /** Txids of pipelined commits queued in `durability` and not yet durable. */
  private readonly undurableTxids = new Set<number>();

  private constructor(readonly path: string, r: Resolved, file: PageFile, meta: Meta) {
    this.readOnly = r.readOnly;
    this.noSync = r.noSync;
    this.fillPercent = r.fillPercent;
    this.freelistType = r.freelistType;
    this.cacheBytes = Math.max(r.pageCacheBytes, meta.pageSize);
    this.file = file;
    this.meta = meta;
    this.durableTxid = meta.txid;
  }

  /** Opens (or, unless readOnly, creates) the database file at `file`. */
  static open(file: string, opts: OpenOptions = {}): DB {
    const r = resolve(opts);
    if (!r.readOnly) removeStaleDefrag(file);
    const fd = openFd(file, r.readOnly);
    try {
      let size = fs.fstatSync(fd).size;
      if (size === 0) {
        if (r.readOnly) throw backendError('ERR_INVALID');
        initFile(fd, r.pageSize, r.noSync);
        fsyncDir(path.dirname(file), r.noSync);
        size = 4 * r.pageSize;
      }
      const meta = readMeta(fd, size, r.pageSize);
      const pf = new PageFile(fd, meta.pageSize, Math.max(r.pageCacheBytes, meta.pageSize), size);
      const db = new DB(file, r, pf, meta);
      if (!r.readOnly) {
        db.loadFreelist();
        // A file written without a synced freelist: write one now so every bbolt can open it.
        if (meta.freelist === null) db.beginWrite().commit();
      }
      return db;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** The file's size now (O(1); stats() walks every page for the same figure). */
  get fileSizeBytes(): number {
    return this.file.sizeBytes;
  }

  /**
   * Pages the freelist holds, free or pending release, O(1): the file less these is the size
   * in use (etcd's db_total_size_in_use_in_bytes) without the page walk stats() makes.
   */
  get freelistPageCount(): number {
    const f = this.loadedFreelist();
    return f.freeCount() + f.pendingCount();
  }

  /** Read transactions open now (etcd's mvcc_db_open_read_transactions). */
  get openReadTxCount(): number {
    return this.txs.size - (this.writer === null ? 0 : 1);
  }

  /** The last committed txid. */
  get txid(): number {
    return this.meta.txid;
  }

  /** Starts a read transaction on the last committed state. Close it with rollback(). */
  beginRead(): ReadTx {
    this.ensureUsable();
    const tx = new ReadTx(this, this.file, this.meta);
    this.file.pins++;
    this.readers.set(tx.id, (this.readers.get(tx.id) ?? 0) + 1);
    this.txs.add(tx);
    return tx;
  }

  /** Starts the write transaction; throws ERR_TX_WRITE_OPEN while another one is open. */
  beginWrite(): WriteTx {
    this.ensureUsable();
    if (this.readOnly) throw backendError('ERR_DB_READ_ONLY');
    if (this.writer !== null) throw backendError('ERR_TX_WRITE_OPEN');
    this.releasePending();
    const meta = copyMeta(this.meta);
    meta.txid += 1;
    const tx = new WriteTx(this, this.file, meta);
    this.writer = tx;
    this.txs.add(tx);
    return tx;
  }

  /** Runs `fn` in a read transaction (closed afterwards) and returns its result. */
  view<T>(fn: (tx: ReadTx) => T): T {
    const tx = this.beginRead();
    try {
      return fn(tx);
    } finally {
      tx.rollback();
    }
  }

  /**
   * Runs `fn` in a write transaction: commits when it returns, rolls back when it throws.
   * `fn` must be synchronous (a returned promise is refused: the commit would race it).
   */
  update<T>(fn: (tx: WriteTx) => T): T {
    const tx = this.beginWrite();
    let result: T;
    try {
      result = fn(tx);
    } catch (e) {
      tx.rollback();
      throw e;
    }
    if (result instanceof Promise) {
      tx.rollback();
      throw new FloeError('ERR_ASYNC_UPDATE', 'db.update() needs a synchronous function; use beginWrite() and commitAsync()');
    }
    tx.commit();
    return result;
  }

  /** Pages by kind, free and pending pages, depth, sizes (walks every page: O(file)). */
  stats(): DbStats {
    return this.view((tx) => collectStats(tx, this.loadedFreelist(), this.file.sizeBytes));
  }

  /** Every consistency problem found in the last committed state; [] when consistent. */
  check(): string[] {
    return this.view((tx) => checkDb(tx, this.writer === null ? this.freelist : null));
  }

  /**
   * Rewrites the live data into a fresh file and swaps it in atomically (README.md). Open read
   * transactions keep reading their snapshot from the old file, which is closed when the last
   * of them ends. Refused while a write transaction is open.
   */
  defragment(): void {
    this.ensureUsable();
    if (this.readOnly) throw backendError('ERR_DB_READ_ONLY');
    if (this.writer !== null) throw backendError('ERR_TX_WRITE_OPEN');
    if (this.durablePending > 0) {
      throw new FloeError('ERR_TX_COMMITTING', 'cannot defragment while pipelined commits are becoming durable (await flush() first)');
    }
    const tmp = this.path + DEFRAG_SUFFIX;
    removeStaleDefrag(this.path);
    // The copy runs without syncs; one fsync of the finished file before the rename makes it
    // durable as a whole.
    const dst = DB.open(tmp, { pageSize: this.meta.pageSize, freelistType: this.freelistType, noSync: true, fillPercent: DEFRAG_FILL_PERCENT });
    try {
      this.view((tx) => copyTree(tx, dst));
    } catch (e) {
      dst.close();
      removeStaleDefrag(this.path);
      throw e;
    }
    dst.close();
    syncFile(tmp, this.noSync);
    failpoint('backend.defrag.beforeRename');
    fs.renameSync(tmp, this.path);
    fsyncDir(path.dirname(this.path), this.noSync);
    failpoint('backend.defrag.afterRename');

    let fd = -1;
    let meta: Meta;
    let sizeBytes: number;
    try {
      fd = openFd(this.path, false);
      sizeBytes = fs.fstatSync(fd).size;
      meta = readMeta(fd, sizeBytes, this.meta.pageSize);
    } catch (e) {
      if (fd !== -1) fs.closeSync(fd);
      // The new file is in place but cannot be used: writing on to the old one would be lost.
      this.failure = e;
      throw e;
    }
    const old = this.file;
    old.retired = true;
    if (old.pins === 0) old.close();
    this.file = new PageFile(fd, meta.pageSize, this.cacheBytes, sizeBytes);
    this.meta = meta;
    this.durableTxid = meta.txid;
    this.readers = new Map();
    this.freelist = null;
    this.loadFreelist();
  }

  /** Resolves once every pipelined commit is durable (rejects if one failed). */
  async flush(): Promise<void> {
    await this.durability;
    if (this.failure !== null) this.ensureUsable();
  }

  /** Pipelined commits not yet durable. */
  get pendingDurable(): number {
    return this.durablePending;
  }

  /**
   * Ends every open transaction and closes the file. Refused while a commit is in flight.
   * Pipelined commits still becoming durable finish first: the file closes after them.
   */
  close(): void {
    if (this.closed) return;
    if (this.writer !== null) {
      if (this.writer.isCommitting) {
        throw new FloeError('ERR_TX_COMMITTING', 'cannot close the database while a commit is in flight');
      }
      this.writer.rollback();
    }
    for (const tx of this.txs) {
      tx.forceClose();
      if (tx.file !== this.file && !tx.file.isClosed) tx.file.close();
    }
    this.txs.clear();
    this.closed = true;
    const file = this.file;
    if (this.durablePending === 0) file.close();
    else void this.durability.finally(() => file.close());
  }

  /** True until close(). */
  get isOpen(): boolean {
    return !this.closed;
  }

  // --- TxHost ------------------------------------------------------------------------------

  /** @internal */
  writeFreelist(): Freelist {
    return this.loadedFreelist();
  }

  /** @internal */
  endRead(tx: ReadTx): void {
    this.txs.delete(tx);
    const f = tx.file;
    f.pins--;
    if (f === this.file) {
      const n = this.readers.get(tx.id)! - 1;
      if (n === 0) this.readers.delete(tx.id);
      else this.readers.set(tx.id, n);
    } else if (f.retired && f.pins === 0) {
      f.close();
    }
  }

  /** @internal */
  endWrite(tx: WriteTx, outcome: CommitOutcome | null): void {
    assert(this.writer === tx, 'endWrite from a transaction that is not the writer');
    this.writer = null;
    this.txs.delete(tx);
    if (outcome !== null) {
      // A synchronous commit's meta is durable when it ends; a pipelined one's becomes so in
      // its queue (makeDurable, called before it ends, raised durablePending).
      if (this.durablePending === 0) this.durableTxid = outcome.meta.txid;
      this.meta = outcome.meta;
      this.committedFreeIds = outcome.freeIds;
      this.freelistSpan = outcome.freelistSpan;
    }
  }

  /** @internal */
  fail(err: unknown): void {
    this.failure = err;
    this.writer = null;
  }

  /** @internal */
  makeDurable(file: PageFile, txid: number, metaPage: Buffer, metaPos: number): void {
    this.durablePending++;
    this.undurableTxids.add(txid);
    const noSync = this.noSync;
    this.durability = this.durability.then(async () => {
      try {
        if (this.failure !== null) return;
        failpoint('backend.commit.beforeDataSync');
        if (!noSync) await file.syncAsync();
        failpoint('backend.commit.afterDataSync');
        file.writeAt(metaPage, metaPos);
        failpoint('backend.commit.beforeMetaSync');
        if (!noSync) await file.syncAsync();
        failpoint('backend.commit.afterMetaSync');
        if (txid > this.durableTxid) this.durableTxid = txid;
      } catch (e) {
        // The file's state is unknown: refuse everything until it is reopened.
        this.fail(e);
      } finally {
        this.durablePending--;
        this.undurableTxids.delete(txid);
      }
    });
  }

  // --- internals ---------------------------------------------------------------------------

  private ensureUsable(): void {
    if (this.closed) throw backendError('ERR_DB_NOT_OPEN');
    if (this.failure !== null) {
      const why = this.failure instanceof Error ? this.failure.message : String(this.failure);
      throw new FloeError('ERR_DB_FAILED', `database failed (${why}); reopen it`, { cause: this.failure });
    }
  }

  /** bbolt's freePages: release what no open reader of this file can see. */
  private releasePending(): void {
    const fl = this.loadedFreelist();
    const ids = [...this.readers.keys()];
    // Pages the newest durable meta still reaches stay pending until a newer meta is durable.
    if (this.durableTxid < this.meta.txid && !this.readers.has(this.durableTxid)) ids.push(this.durableTxid);
    // So do the pages of every commit whose meta is queued but not yet durable: its meta may
    // already be in the file (written, fsync pending), and a crash then leaves it as the
    // newest meta. Reusing a page it reaches would corrupt the tree the file opens with.
    for (const t of this.undurableTxids) if (t !== this.durableTxid && !this.readers.has(t)) ids.push(t);
    ids.sort((a, b) => a - b);
    let minid = ids.length > 0 ? ids[0]! : Number.MAX_SAFE_INTEGER;
    if (minid > 0) fl.release(minid - 1);
    for (const t of ids) {
      fl.releaseRange(minid, t - 1);
      minid = t + 1;
    }
    fl.releaseRange(minid, Number.MAX_SAFE_INTEGER);
  }

  private loadedFreelist(): Freelist {
    if (this.freelist === null) this.loadFreelist();
    return this.freelist!;
  }

  /** Loads the freelist from its page, or rebuilds it by walking the tree when none was synced. */
  private loadFreelist(): void {
    const fl = newFreelist(this.freelistType);
    const m = this.meta;
    let ids: Pgid[];
    if (m.freelist !== null) {
      const head = this.file.readRaw(m.freelist * m.pageSize, m.pageSize);
      if (head.length < PAGE_HEADER_SIZE) throw corrupt(`page ${m.freelist}: freelist page beyond the end of the file`);
      const span = pageOverflow(head, 0) + 1;
      const buf = span === 1 ? head : this.file.readRaw(m.freelist * m.pageSize, span * m.pageSize);
      if (buf.length < span * m.pageSize) throw corrupt(`page ${m.freelist}: freelist page runs past the end of the file`);
      ids = decodeFreelistPage(buf, m.freelist);
      const bad = ids.findIndex((id, i) => id < 2 || id >= m.pgid || (i > 0 && id === ids[i - 1]));
      if (bad !== -1) throw corrupt(`page ${m.freelist}: freelist holds an invalid or repeated page id ${ids[bad]}`);
      this.freelistSpan = span;
    } else {
      const ins = inspect(m, (id) => this.file.read(id));
      if (ins.problems.length > 0) throw corrupt(`cannot rebuild the freelist: ${ins.problems[0]}`);
      ids = [];
      for (let id = 2; id < m.pgid; id++) if (ins.reachable[id] === 0) ids.push(id);
      this.freelistSpan = 0;
    }
    fl.readIds(ids);
    this.freelist = fl;
    this.committedFreeIds = ids;
  }
}

function openFd(file: string, readOnly: boolean): number {
  try {
    return readOnly ? fs.openSync(file, 'r') : fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FloeError('ERR_NO_FILE', `${file}: no such file`, { cause: e });
    throw new FloeError('ERR_OPEN', `${file}: cannot open: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Writes a defragmented copy of the database at `srcPath` into a new file `dstPath` (which must
 * not exist). Pages are filled to `fillPercent` (default 1.0: the smallest file).
 */
export function compact(srcPath: string, dstPath: string, opts: { fillPercent?: number; freelistType?: FreelistKind; pageCacheBytes?: number } = {}): void {
  if (fs.existsSync(dstPath)) throw new FloeError('ERR_EXISTS', `${dstPath}: already exists; refusing to overwrite`);
  const src = DB.open(srcPath, { readOnly: true, pageCacheBytes: opts.pageCacheBytes });
  try {
    const dst = DB.open(dstPath, {
      pageSize: src.pageSize, noSync: true, fillPercent: opts.fillPercent ?? 1.0, freelistType: opts.freelistType, pageCacheBytes: opts.pageCacheBytes,
    });
    try {
      src.view((tx) => copyTree(tx, dst));
    } finally {
      dst.close();
    }
    syncFile(dstPath, false);
    fsyncDir(path.dirname(path.resolve(dstPath)), false);
  } finally {
    src.close();
  }
}

function syncFile(file: string, noSync: boolean): void {
  if (noSync) return;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function removeStaleDefrag(file: string): void {
  try {
    fs.unlinkSync(file + DEFRAG_SUFFIX);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** fsyncs a directory so a created or renamed entry survives a crash. */
export function fsyncDir(dir: string, noSync: boolean): void {
  if (noSync) return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a new file's four pages: metas (txid 0 and 1), an empty freelist, an empty root leaf. */
function initFile(fd: number, pageSize: number, noSync: boolean): void {
  const buf = Buffer.alloc(4 * pageSize);
  for (let i = 0; i < 2; i++) {
    const meta: Meta = { pageSize, flags: 0, root: 3, sequence: 0, freelist: 2, pgid: 4, txid: i };
    encodeMetaPage(buf.subarray(i * pageSize, (i + 1) * pageSize), meta);
  }
  encodeFreelistPage(buf.subarray(2 * pageSize, 3 * pageSize), 2, [], pageSize);
  writePageHeader(buf, 3 * pageSize, 3, LEAF_PAGE_FLAG, 0, 0);
  fs.writeSync(fd, buf, 0, buf.length, 0);
  if (!noSync) fs.fdatasyncSync(fd);
}

/**
 * Reads both metas and returns the usable one with the higher txid. The page size comes from
 * meta 0; when meta 0 is unreadable, meta 1 is looked for at each plausible page size.
 */
function readMeta(fd: number, fileSizeBytes: number, hintPageSize: number): Meta {
  const read = (pos: number): Buffer => {
    const b = Buffer.alloc(PAGE_HEADER_SIZE + META_SIZE);
    const n = fs.readSync(fd, b, 0, b.length, pos);
    return b.subarray(0, n);
  };
  const m0 = decodeMeta(read(0), 0);
  let pageSize = 0;
  if (!(m0 instanceof FloeError) && validPageSize(m0.pageSize)) {
    pageSize = m0.pageSize;
  } else {
    const candidates = [hintPageSize, DEFAULT_PAGE_SIZE];
    for (let ps = 512; ps <= 1 << 20; ps *= 2) candidates.push(ps);
    for (const ps of candidates) {
      const m1 = decodeMeta(read(ps), 0);
      if (!(m1 instanceof FloeError) && m1.pageSize === ps) {
        pageSize = ps;
        break;
      }
    }
  }
  if (pageSize === 0) throw m0 instanceof FloeError ? m0 : backendError('ERR_INVALID');
  if (fileSizeBytes < 2 * pageSize) throw backendError('ERR_INVALID');
  const metas = [m0, decodeMeta(read(pageSize), 0)];
  let best: Meta | null = null;
  let firstError: FloeError | null = null;
  for (const m of metas) {
    if (m instanceof FloeError) {
      firstError ??= m;
      continue;
    }
    const problem = m.pageSize !== pageSize ? `page size ${m.pageSize} differs from ${pageSize}` : metaProblem(m, fileSizeBytes);
    if (problem !== null) {
      firstError ??= corrupt(`meta page: ${problem}`);
      continue;
    }
    if (best === null || m.txid > best.txid) best = m;
  }
  if (best === null) throw firstError ?? backendError('ERR_INVALID');
  return best;
}
