/**
 * The file under a database: one fd, pread/pwrite at page offsets, and the page cache in front
 * of the reads. A defragment replaces the file; the old PageFile stays open until the last read
 * transaction that pinned it closes (see db.ts), so its snapshot keeps working.
 */
import * as fs from 'node:fs';
import { assert } from '../pkg';
import { corrupt } from './errors';
import { PageCache } from './page-cache';
import type { RunBuffers } from './run-buffers';
import { pageId, pageOverflow } from './page';

/** A page to write: its id and its bytes (a whole number of pages). */
export interface DirtyPage {
  readonly pgid: number;
  readonly buf: Buffer;
}

/** Linux's IOV_MAX: the most buffers one writev may take. */
const IOV_MAX = 1024;

export class PageFile {
  readonly cache: PageCache;
  /** Bytes in the file, kept current by our own writes (nobody else writes it). */
  sizeBytes: number;
  /** Open read transactions pinning this file. */
  pins = 0;
  /** Set when a defragment replaced this file: close once unpinned. */
  retired = false;
  private closed = false;
  /** The last run of pages read ahead (pages runStart.. of it), or null. */
  private run: Buffer | null = null;
  private runStart = 0;

  /**
   * @param readAheadPages a miss reads this many pages from the missed one on in one pread
   * (1: the page alone). For a reader that walks pages laid out mostly in file order (a sweep
   * of a bucket in another thread, snapshot.ts): fewer reads, and one buffer per run.
   */
  constructor(
    readonly fd: number,
    readonly pageSize: number,
    cacheBytes: number,
    sizeBytes: number,
    private readonly readAheadPages = 1,
    /** Where read-ahead runs get their memory (run-buffers.ts); default a new buffer each. */
    private readonly runs: RunBuffers | null = null,
  ) {
    assert(Number.isSafeInteger(readAheadPages) && readAheadPages >= 1, `page file: read-ahead of ${readAheadPages} pages`);
    this.cache = new PageCache(cacheBytes);
    this.sizeBytes = sizeBytes;
  }

  /**
   * The bytes of page `pgid` and its overflow pages. The result must not be written: it may be
   * shared with the cache and with other readers.
   */
  read(pgid: number): Buffer {
    const hit = this.cache.get(pgid);
    if (hit !== undefined) return hit;
    return this.load(pgid);
  }

  private load(pgid: number): Buffer {
    assert(!this.closed, 'read from a closed page file');
    const ps = this.pageSize;
    const pos = pgid * ps;
    if (pos + ps > this.sizeBytes) throw corrupt(`page ${pgid}: beyond the end of the file`);
    if (this.readAheadPages > 1) {
      const ahead = this.fromRun(pgid) ?? (this.readRun(pgid), this.fromRun(pgid));
      if (ahead !== null) return ahead;
    }
    let buf = Buffer.allocUnsafe(ps);
    this.readFully(buf, 0, ps, pos);
    const id = pageId(buf, 0);
    if (id !== pgid) throw corrupt(`page ${pgid}: header says page ${id}`);
    const overflow = pageOverflow(buf, 0);
    if (overflow > 0) {
      const total = (overflow + 1) * ps;
      if (pos + total > this.sizeBytes) throw corrupt(`page ${pgid}: ${overflow} overflow pages run past the end of the file`);
      const big = Buffer.allocUnsafe(total);
      buf.copy(big, 0);
      this.readFully(big, ps, total - ps, pos + ps);
      buf = big;
    }
    this.cache.put(pgid, buf);
    return buf;
  }

  /** Page `pgid` (with its overflow) out of the last run read ahead; null when the run does not hold it all. */
  private fromRun(pgid: number): Buffer | null {
    const run = this.run;
    const at = (pgid - this.runStart) * this.pageSize;
    if (run === null || at < 0 || at >= run.length) return null;
    const id = pageId(run, at);
    if (id !== pgid) throw corrupt(`page ${pgid}: header says page ${id}`);
    const end = at + (pageOverflow(run, at) + 1) * this.pageSize;
    if (end > run.length) return null;
    const buf = run.subarray(at, end);
    this.cache.put(pgid, buf);
    return buf;
  }

  /** Reads up to readAheadPages pages from `pgid` on (not past the end of the file) as the new run. */
  private readRun(pgid: number): void {
    const ps = this.pageSize;
    const pos = pgid * ps;
    const pages = Math.min(this.readAheadPages, Math.floor((this.sizeBytes - pos) / ps));
    const run = this.runs === null ? Buffer.allocUnsafeSlow(pages * ps) : this.runs.take(pages * ps);
    this.readFully(run, 0, run.length, pos);
    this.run = run;
    this.runStart = pgid;
  }

  /** Reads bytes without the cache (meta pages, check's raw reads). */
  readRaw(pos: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, pos + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  private readFully(buf: Buffer, off: number, length: number, pos: number): void {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, off + done, length - done, pos + done);
      if (n === 0) throw corrupt(`short read at offset ${pos + done}: the file ends early`);
      done += n;
    }
  }

  /**
   * Writes `pages` (sorted by id, non-overlapping), coalescing runs of adjacent pages into one
   * writev each. Pages go into the cache only after every write succeeded.
   */
  writePages(pages: readonly DirtyPage[]): void {
    forEachRun(pages, this.pageSize, (bufs, pos) => this.writevFully(bufs, pos));
    this.publish(pages);
  }

  /** The same as writePages, off the event loop. */
  async writePagesAsync(pages: readonly DirtyPage[]): Promise<void> {
    const runs: Array<[Buffer[], number]> = [];
    forEachRun(pages, this.pageSize, (bufs, pos) => runs.push([bufs, pos]));
    for (const [bufs, pos] of runs) await writevFullyAsync(this.fd, bufs, pos);
    this.publish(pages);
  }

  /** Writes one buffer at `pos` (the meta page). Not cached: metas are read raw. */
  writeAt(buf: Buffer, pos: number): void {
    this.writevFully([buf], pos);
  }

  async writeAtAsync(buf: Buffer, pos: number): Promise<void> {
    await writevFullyAsync(this.fd, [buf], pos);
    this.grewTo(pos + buf.length);
  }

  sync(): void {
    fs.fdatasyncSync(this.fd);
  }

  syncAsync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Ends reading; closes the descriptor unless `keepFd` (someone else owns it). */
  close(keepFd = false): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.run = null;
    if (!keepFd) fs.closeSync(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private publish(pages: readonly DirtyPage[]): void {
    for (const p of pages) {
      this.cache.put(p.pgid, p.buf);
      this.grewTo(p.pgid * this.pageSize + p.buf.length);
    }
  }

  private grewTo(end: number): void {
    if (end > this.sizeBytes) this.sizeBytes = end;
  }

  private writevFully(bufs: Buffer[], pos: number): void {
    let total = 0;
    for (const b of bufs) total += b.length;
    let done = fs.writevSync(this.fd, bufs, pos);
    // A short writev is rare (a full disk reports an error instead); finish buffer by buffer.
    while (done < total) {
      const [b, off] = locate(bufs, done);
      done += fs.writeSync(this.fd, b, off, b.length - off, pos + done);
    }
    this.grewTo(pos + total);
  }
}

/** Calls `fn` with each run of adjacent pages (at most IOV_MAX buffers) and its file offset. */
function forEachRun(pages: readonly DirtyPage[], pageSize: number, fn: (bufs: Buffer[], pos: number) => void): void {
  let i = 0;
  while (i < pages.length) {
    const first = pages[i]!;
    const bufs = [first.buf];
    let next = first.pgid + first.buf.length / pageSize;
    i++;
    while (i < pages.length && pages[i]!.pgid === next && bufs.length < IOV_MAX) {
      assert(pages[i]!.pgid >= next, 'dirty pages overlap');
      bufs.push(pages[i]!.buf);
      next += pages[i]!.buf.length / pageSize;
      i++;
    }
    if (i < pages.length) assert(pages[i]!.pgid >= next, () => `dirty pages overlap at ${pages[i]!.pgid}`);
    fn(bufs, first.pgid * pageSize);
  }
}

function locate(bufs: Buffer[], offset: number): [Buffer, number] {
  let rest = offset;
  for (const b of bufs) {
    if (rest < b.length) return [b, rest];
    rest -= b.length;
  }
  throw new RangeError('offset past the buffers');
}

async function writevFullyAsync(fd: number, bufs: Buffer[], pos: number): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = await new Promise<number>((resolve, reject) =>
    fs.writev(fd, bufs, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
  while (done < total) {
    const [b, off] = locate(bufs, done);
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, b, off, b.length - off, pos + done, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}
