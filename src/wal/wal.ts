/**
 * The write-ahead log: raft's entries and hard state, appended to segment files in etcd 3.4's
 * format (record framing in record.ts, names in names.ts), so a WAL directory written by etcd
 * (or by `etcdctl snapshot restore`) is read here and one written here is read by etcd.
 *
 * Life cycle (as etcd's): create() makes a new log and is ready to append. open() selects the
 * segments from a snapshot on and must be followed by readAll(), which returns what the log
 * holds after that snapshot, repairs a torn tail, and only then allows appends. openForRead()
 * reads without ever writing (tools); its readAll() tolerates a torn tail without repairing.
 *
 * Durability rule: when save() resolves, its entries and hard state are on disk (fdatasync),
 * except a save that only moves `commit`, which etcd does not sync either (a lost commit index
 * is re-learned from the leader). The event loop never waits on the disk: every write and
 * sync is asynchronous, and one save() issues at most one fdatasync (two more when it fills
 * the segment and cuts a new one).
 *
 * Ordering: operations run one at a time in call order (an internal queue), so a caller that
 * fires save() for the next Ready before the previous resolved still gets them in order. A
 * failed write or sync leaves the file in an unknown state: the WAL refuses everything after it
 * (ERR_WAL_FAILED) and the member must stop, as etcd does.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { assert, failpoint } from '../pkg';
import {
  EMPTY_HARD_STATE,
  isEmptyHardState,
  type Entry,
  type HardState,
} from '../raft/types';
import {
  ERR_WAL_CLOSED,
  ERR_WAL_CORRUPT,
  ERR_WAL_EXISTS,
  ERR_WAL_FAILED,
  ERR_WAL_METADATA_CONFLICT,
  ERR_WAL_SLICE_OUT_OF_RANGE,
  ERR_WAL_SNAPSHOT_MISMATCH,
  ERR_WAL_SNAPSHOT_NOT_FOUND,
  walError,
} from './errors';
import { FilePipeline } from './file-pipeline';
import { fsyncDir } from './fsync-dir';
import { silentWalLogger, type WalLogger } from './logger';
import { allSegments, readSegmentNames, selectSegments, walExists, walName, parseWalName, type SegmentName } from './names';
import {
  decodeEntry,
  decodeHardState,
  decodeWalSnapshot,
  encodeHardState,
  encodeWalSnapshot,
  type WalSnapshot,
} from './raftpb-codec';
import { RECORD_CRC, RECORD_ENTRY, RECORD_METADATA, RECORD_SNAPSHOT, RECORD_STATE, RecordWriter } from './record';
import { scanSegments } from './segment-reader';

/**
 * A save of at most this many entries syncs on the event loop's own thread (unless asked to
 * sync in the background): such a save comes from a member with (nearly) one request in
 * flight, which has nothing to do while the disk works, and the thread pool's round trip (two
 * thread wake-ups) cost more than the fdatasync. Larger saves come with concurrent load; they
 * sync on the pool so the loop serves meanwhile.
 */
export const INLINE_SYNC_MAX_ENTRIES = 1;

/** etcd's segment size: 64 * 1000 * 1000 bytes (not MiB), preallocated per segment. */
export const SEGMENT_SIZE_BYTES = 64_000_000;

export interface WalOptions {
  /** Size each segment is preallocated to and cut at; default SEGMENT_SIZE_BYTES. */
  readonly segmentSizeBytes?: number;
  readonly logger?: WalLogger;
  /** Skip fdatasync (etcd's --unsafe-no-fsync): for tests and throwaway clusters only. */
  readonly unsafeNoSync?: boolean;
  /** Where fdatasync latency and bytes written are reported (etcd's WAL metrics); none by default. */
  readonly metrics?: WalMetrics;
}

/** etcd's WAL metrics, as the WAL records them (src/metrics' histogram and gauge fit). */
export interface WalMetrics {
  /** etcd_disk_wal_fsync_duration_seconds. */
  readonly fsyncSeconds: { observe(seconds: number): void };
  /** etcd_disk_wal_write_bytes_total. */
  readonly writeBytes: { inc(bytes: number): void };
}

/** What readAll() found. */
export interface WalContents {
  /** The metadata record's bytes (etcdserverpb.Metadata for a member); empty if none. */
  readonly metadata: Uint8Array;
  /** The last hard state recorded (empty when none was). */
  readonly hardState: HardState;
  /** The entries after the snapshot index, later records replacing earlier ones they conflict with. */
  readonly entries: Entry[];
  /** True when a torn last record was cut off (write mode only). */
  readonly repaired: boolean;
}

/** The smallest segment size accepted: room for the header records and some entries. */
export const MIN_SEGMENT_SIZE_BYTES = 4096;

type Phase = 'reading' | 'appending' | 'done' | 'closed';

const SEGMENT_FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export class WAL {
  private phase: Phase;
  private failure: unknown = null;
  private queue: Promise<void> = Promise.resolve();

  /** Segments this WAL holds, oldest first; the last is the tail. purge() never removes these. */
  private segments: SegmentName[];
  private tail: fsp.FileHandle | null = null;
  private tailOffset = 0;
  private writer: RecordWriter | null = null;
  private pipeline: FilePipeline | null = null;

  private metadata: Uint8Array = new Uint8Array(0);
  /** The last hard state written (cut() repeats it at the head of each new segment). */
  private state: HardState = EMPTY_HARD_STATE;
  /** Index of the last entry written (names the next segment). */
  private enti = 0;

  private readonly segmentSizeBytes: number;
  private readonly logger: WalLogger;
  private readonly noSync: boolean;
  private readonly metrics: WalMetrics | null;

  private constructor(
    private readonly dir: string,
    options: WalOptions,
    segments: SegmentName[],
    private readonly readOnly: boolean,
    private start: WalSnapshot,
  ) {
    this.segmentSizeBytes = options.segmentSizeBytes ?? SEGMENT_SIZE_BYTES;
    assert(
      Number.isSafeInteger(this.segmentSizeBytes) && this.segmentSizeBytes >= MIN_SEGMENT_SIZE_BYTES,
      () => `segmentSizeBytes ${this.segmentSizeBytes} must be an integer >= ${MIN_SEGMENT_SIZE_BYTES}`,
    );
    this.logger = options.logger ?? silentWalLogger;
    this.noSync = options.unsafeNoSync ?? false;
    this.metrics = options.metrics ?? null;
    this.segments = segments;
    this.phase = 'reading';
  }

  /** True when `dir` holds any `.wal` file. */
  static exists(dir: string): Promise<boolean> {
    return walExists(dir);
  }

  /**
   * Creates a new log in `dir` (which must not hold one) with `metadata` at the head of every
   * segment. The first segment is built in `<dir>.tmp` and renamed, so a crash leaves either
   * no log or a whole one. Ready to append.
   */
  static async create(dir: string, metadata: Uint8Array, options: WalOptions = {}): Promise<WAL> {
    if (await walExists(dir)) throw walError(ERR_WAL_EXISTS, `wal: ${dir} already holds a write-ahead log`);
    const clean = path.resolve(dir);
    const tmpDir = `${clean}.tmp`;
    await fsp.rm(tmpDir, { recursive: true, force: true });
    await fsp.mkdir(tmpDir, { recursive: true, mode: DIR_MODE });

    const w = new WAL(clean, options, [], false, { index: 0, term: 0 });
    const first = parseWalName(walName(0, 0))!;
    const handle = await fsp.open(path.join(tmpDir, first.name), 'w', SEGMENT_FILE_MODE);
    try {
      await handle.truncate(w.segmentSizeBytes);
      // Head of the log: crc record (chain starts at 0), metadata, and the empty snapshot that
      // open(dir, {index: 0, term: 0}) looks for.
      const writer = new RecordWriter(0);
      writer.appendCrc();
      writer.append(RECORD_METADATA, metadata);
      writer.append(RECORD_SNAPSHOT, encodeWalSnapshot({ index: 0, term: 0 }));
      const buf = writer.take();
      await writeFully(handle, buf, 0);
      if (!w.noSync) await handle.datasync();
      w.tailOffset = buf.length;
      w.writer = writer;
      // Replaces whatever `dir` was (it held no .wal files), as etcd does.
      await fsp.rm(clean, { recursive: true, force: true });
      await fsp.rename(tmpDir, clean);
      await fsyncDir(path.dirname(clean));
    } catch (e) {
      await handle.close();
      throw e;
    }

    w.tail = handle;
    w.segments = [first];
    w.metadata = new Uint8Array(metadata);
    w.pipeline = new FilePipeline(clean, w.segmentSizeBytes);
    w.phase = 'appending';
    return w;
  }

  /**
   * Opens the log for appending from snapshot `snap` (which the log must record; {0, 0} for a
   * log with no snapshot yet). Call readAll() before anything else.
   */
  static async open(dir: string, snap: WalSnapshot, options: WalOptions = {}): Promise<WAL> {
    const segments = await selectSegments(dir, snap.index);
    return new WAL(path.resolve(dir), options, segments, false, snap);
  }

  /** Opens the log only to read it: readAll() never writes, and a torn tail is left alone. */
  static async openForRead(dir: string, snap: WalSnapshot, options: WalOptions = {}): Promise<WAL> {
    const segments = await selectSegments(dir, snap.index);
    return new WAL(path.resolve(dir), options, segments, true, snap);
  }

  /**
   * The snapshot records of the whole log whose index the last hard state has committed (etcd's
   * ValidSnapshotEntries): the snapshots a restarting member may start from. Read-only.
   */
  static async validSnapshotEntries(dir: string): Promise<WalSnapshot[]> {
    const segments = await allSegments(dir);
    const snaps: WalSnapshot[] = [];
    let state = EMPTY_HARD_STATE;
    await scanSegments(dir, segments, (rec) => {
      if (rec.type === RECORD_SNAPSHOT) snaps.push(decodeWalSnapshot(rec.data));
      else if (rec.type === RECORD_STATE) state = decodeHardState(rec.data);
    });
    return snaps.filter((s) => s.index <= state.commit);
  }

  /**
   * Runs `op` after every earlier operation. Refuses work once closed, and after a failure
   * (unless `always`: close() must still release the files).
   */
  private run<T>(op: () => Promise<T>, always = false): Promise<T> {
    const p = this.queue.then(() => {
      if (!always) {
        if (this.phase === 'closed') throw walError(ERR_WAL_CLOSED, `wal: ${this.dir} is closed`);
        if (this.failure !== null) {
          throw walError(ERR_WAL_FAILED, `wal: ${this.dir} refuses writes after an earlier write or sync failed`, this.failure);
        }
      }
      return op();
    });
    this.queue = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Runs disk I/O; a failure poisons the WAL (the bytes on disk are now unknown). */
  private async io<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  /**
   * Reads every record from the snapshot on and returns the metadata, the last hard state
   * and the entries after the snapshot index. An entry whose index was already read replaces
   * it and everything after it (a new leader overwrote an uncommitted suffix). In write mode a
   * torn last record is cut off (the file is first copied to `<name>.broken`) and the WAL is
   * then ready to append after the last valid record.
   */
  readAll(): Promise<WalContents> {
    return this.run(async () => {
      assert(this.phase === 'reading', 'readAll() is called once, right after open()');
      const start = this.start;
      let metadata: Uint8Array | null = null;
      let state: HardState = EMPTY_HARD_STATE;
      const entries: Entry[] = [];
      let match = false;
      let enti = 0;

      const end = await scanSegments(this.dir, this.segments, (rec, seg) => {
        switch (rec.type) {
          case RECORD_ENTRY: {
            const e = decodeEntry(rec.data);
            if (e.index > start.index) {
              const up = e.index - start.index - 1;
              if (up > entries.length) {
                throw walError(
                  ERR_WAL_SLICE_OUT_OF_RANGE,
                  `wal: slice bounds out of range: entry ${e.index} in ${seg.name} follows entry ${start.index + entries.length}`,
                );
              }
              entries.length = up;
              entries.push(e);
            }
            enti = e.index;
            break;
          }
          case RECORD_STATE:
            state = decodeHardState(rec.data);
            break;
          case RECORD_METADATA:
            if (metadata !== null && Buffer.compare(metadata, rec.data) !== 0) {
              throw walError(ERR_WAL_METADATA_CONFLICT, `wal: conflicting metadata found in ${seg.name}`);
            }
            metadata = new Uint8Array(rec.data); // a copy: rec.data views the segment buffer
            break;
          case RECORD_CRC:
            break; // checked by the decoder
          case RECORD_SNAPSHOT: {
            const s = decodeWalSnapshot(rec.data);
            if (s.index === start.index) {
              if (s.term !== start.term) {
                throw walError(
                  ERR_WAL_SNAPSHOT_MISMATCH,
                  `wal: snapshot mismatch: the log records snapshot ${s.index} at term ${s.term}, not ${start.term}`,
                );
              }
              match = true;
            }
            break;
          }
          default:
            throw walError(ERR_WAL_CORRUPT, `wal: unexpected block type ${rec.type} in ${seg.name}`);
        }
      });

      let repaired = false;
      const last = this.segments[this.segments.length - 1]!;
      const lastPath = path.join(this.dir, last.name);
      if (!this.readOnly) {
        if (end.end === 'torn') {
          await this.io(() => this.repairTail(lastPath, end.offset, end.fileBytes));
          repaired = true;
        } else if (end.fileBytes > end.offset) {
          // A zero length word ended the log, but bytes of a torn write may lie after it; zero
          // everything after the last record (as etcd does) so new records written over part of
          // them cannot be mistaken for corruption later. The file keeps its size.
          await this.io(async () => {
            const h = await fsp.open(lastPath, 'r+');
            try {
              await h.truncate(end.offset);
              await h.truncate(end.fileBytes);
            } finally {
              await h.close();
            }
          });
        }
      }
      if (!match) {
        throw walError(
          ERR_WAL_SNAPSHOT_NOT_FOUND,
          `wal: snapshot not found: no snapshot record at index ${start.index} (term ${start.term}) in ${this.dir}`,
        );
      }

      this.metadata = metadata ?? new Uint8Array(0);
      this.state = state;
      this.enti = enti;
      this.start = { index: 0, term: 0 };
      if (this.readOnly) {
        this.phase = 'done';
      } else {
        this.tail = await this.io(() => fsp.open(lastPath, 'r+'));
        this.tailOffset = end.offset;
        this.writer = new RecordWriter(end.crc);
        this.pipeline = new FilePipeline(this.dir, this.segmentSizeBytes);
        this.phase = 'appending';
      }
      return { metadata: this.metadata, hardState: state, entries, repaired };
    });
  }

  /** etcd's Repair: keep a `.broken` copy, cut the file at the last valid record, fsync. */
  private async repairTail(file: string, offset: number, fileBytes: number): Promise<void> {
    this.logger.warn(`wal: repairing ${file}: torn record at offset ${offset}, truncating (was ${fileBytes} bytes)`);
    await fsp.copyFile(file, `${file}.broken`);
    const h = await fsp.open(file, 'r+');
    try {
      await h.truncate(offset);
      await h.sync();
    } finally {
      await h.close();
    }
    this.logger.info(`wal: repaired ${file}`);
  }

  private assertAppending(): void {
    assert(this.phase === 'appending', () => `the WAL is ${this.phase}, not appending (readAll() first after open())`);
  }

  /**
   * Appends `entries` and then `hardState` (skipped when empty) and makes them durable with one
   * fdatasync. Entries must be consecutive. Resolves once they are on disk. An empty hard
   * state with no entries does nothing. Failpoints: `wal.beforeSave` before anything of a
   * non-empty save is written, `wal.afterSave` once it is synced (and cut), before resolving.
   * With `background`, the sync always goes to the thread pool: the caller has work that must
   * run while the disk works (a leader's messages to its followers are sent meanwhile).
   */
  save(hardState: HardState, entries: readonly Entry[], background = false): Promise<void> {
    return this.run(async () => {
      this.assertAppending();
      const emptyState = isEmptyHardState(hardState);
      if (emptyState && entries.length === 0) return;
      failpoint('wal.beforeSave');
      // etcd's MustSync: new entries, or a new term or vote, must be durable before raft acts
      // on them; a commit index alone need not be.
      const mustSync = entries.length > 0 || hardState.vote !== this.state.vote || hardState.term !== this.state.term;

      const writer = this.writer!;
      const crcBefore = writer.crc;
      try {
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          assert(i === 0 || e.index === entries[i - 1]!.index + 1, () => `entries not consecutive at ${e.index}`);
          writer.appendEntry(e);
        }
        if (!emptyState) writer.append(RECORD_STATE, encodeHardState(hardState));
      } catch (e) {
        // A refused record (ERR_WAL_MAX_ENTRY_SIZE) leaves nothing written: forget the frames
        // encoded so far and rewind the chain, so the WAL stays usable.
        writer.take();
        writer.crc = crcBefore;
        throw e;
      }
      if (entries.length > 0) this.enti = entries[entries.length - 1]!.index;
      if (!emptyState) this.state = hardState;

      await this.io(() => this.writeTail(writer.take()));
      if (this.tailOffset < this.segmentSizeBytes) {
        if (mustSync) await this.io(() => this.syncTail(!background && entries.length <= INLINE_SYNC_MAX_ENTRIES));
      } else {
        await this.io(() => this.cut());
      }
      failpoint('wal.afterSave');
    });
  }

  /**
   * Records that a snapshot at `snap` exists (written after the snapshot file itself, so the log
   * never names a snapshot that is not on disk) and syncs.
   */
  saveSnapshot(snap: WalSnapshot): Promise<void> {
    return this.run(async () => {
      this.assertAppending();
      const writer = this.writer!;
      writer.append(RECORD_SNAPSHOT, encodeWalSnapshot(snap));
      if (this.enti < snap.index) this.enti = snap.index;
      await this.io(() => this.writeTail(writer.take()));
      await this.io(() => this.syncTail());
    });
  }

  /** fdatasyncs the tail segment. */
  sync(): Promise<void> {
    return this.run(async () => {
      this.assertAppending();
      await this.io(() => this.syncTail());
    });
  }

  private async writeTail(buf: Buffer): Promise<void> {
    // One synchronous write: it only reaches the page cache (microseconds for a Ready's
    // records), where the thread pool round trip of an async write cost more than the write
    // and added a hop to every save's latency. The fdatasync stays off the event loop.
    writeFullySync(this.tail!.fd, buf, this.tailOffset);
    this.tailOffset += buf.length;
    this.metrics?.writeBytes.inc(buf.length);
  }

  private async syncTail(inline = false): Promise<void> {
    if (this.noSync) return;
    const startMs = performance.now();
    if (inline) fs.fdatasyncSync(this.tail!.fd);
    else await this.tail!.datasync();
    this.metrics?.fsyncSeconds.observe((performance.now() - startMs) / 1000);
  }

  /**
   * Closes the full tail segment and starts the next one: the old file is truncated to its
   * records and synced; the new one (prepared by the pipeline) gets a crc record continuing
   * the chain, the metadata and the last hard state, is synced, and only then renamed to its
   * final name, so a segment with a final name always has a complete header.
   */
  private async cut(): Promise<void> {
    const old = this.tail!;
    await old.truncate(this.tailOffset);
    await this.syncTail();

    const prev = this.segments[this.segments.length - 1]!;
    const next = parseWalName(walName(prev.seq + 1, this.enti + 1))!;
    const tmp = await this.pipeline!.open();
    const writer = this.writer!;
    writer.appendCrc();
    writer.append(RECORD_METADATA, this.metadata);
    if (!isEmptyHardState(this.state)) writer.append(RECORD_STATE, encodeHardState(this.state));
    const head = writer.take();
    try {
      await writeFully(tmp.handle, head, 0);
      if (!this.noSync) await tmp.handle.datasync();
      await fsp.rename(tmp.path, path.join(this.dir, next.name));
    } catch (e) {
      await tmp.handle.close();
      throw e;
    }
    await fsyncDir(this.dir);

    this.tail = tmp.handle;
    this.tailOffset = head.length;
    this.segments.push(next);
    await old.close();
    this.logger.info(`wal: created segment ${path.join(this.dir, next.name)}`);
  }

  /**
   * Lets purge() remove segments that only hold entries before `index`: releases every held
   * segment older than the last one starting at or before `index` (etcd's ReleaseLockTo). The
   * tail is never released.
   */
  releaseLockTo(index: number): void {
    let smaller = this.segments.findIndex((s) => s.index >= index) - 1;
    if (smaller === -2) smaller = this.segments.length - 1;
    if (smaller <= 0) return;
    this.segments = this.segments.slice(smaller);
  }

  /** Names of the segments this WAL still holds (for tests and status). */
  heldSegments(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Removes the oldest segment files until at most `maxFiles` remain, stopping at the first one
   * this WAL still holds (etcd's purge with --max-wals). Returns the removed names.
   */
  purge(maxFiles: number): Promise<string[]> {
    assert(Number.isSafeInteger(maxFiles) && maxFiles >= 1, 'maxFiles >= 1');
    return this.run(async () => {
      const names = await readSegmentNames(this.dir);
      const held = new Set(this.segments.map((s) => s.name));
      const removed: string[] = [];
      while (names.length - removed.length > maxFiles) {
        const victim = names[removed.length]!;
        if (held.has(victim.name)) break;
        await fsp.rm(path.join(this.dir, victim.name));
        removed.push(victim.name);
      }
      if (removed.length > 0) {
        await fsyncDir(this.dir);
        this.logger.info(`wal: purged ${removed.join(', ')}`);
      }
      return removed;
    });
  }

  /** Syncs and closes. Safe to call more than once and after a failure. */
  close(): Promise<void> {
    return this.run(async () => {
      if (this.phase === 'closed') return;
      this.phase = 'closed';
      const pipeline = this.pipeline;
      const tail = this.tail;
      this.pipeline = null;
      this.tail = null;
      try {
        if (pipeline !== null) await pipeline.close();
        if (tail !== null && this.failure === null && !this.noSync) await tail.datasync();
      } finally {
        if (tail !== null) await tail.close();
      }
    }, true);
  }
}

/** writeFully on the calling thread (see writeTail). */
function writeFullySync(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    assert(n > 0, 'file write made progress');
    done += n;
  }
}

/** Writes all of `buf` at `position`, looping over short writes. */
async function writeFully(h: fsp.FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await h.write(buf, done, buf.length - done, position + done);
    assert(bytesWritten > 0, 'file write made progress');
    done += bytesWritten;
  }
}
