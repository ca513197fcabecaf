/**
 * Raft snapshot files in etcd 3.4's format, one per snapshot, named `%016x-%016x.snap`
 * (term-index) and holding snappb.Snapshot { crc = 1 (uint32, CRC-32C of data), data = 2
 * (raftpb.Snapshot) }. Loading takes the newest file that reads back whole; a file that does
 * not is renamed to `<name>.broken` and skipped, as etcd does.
 *
 * Backend snapshots received from a leader are kept beside them as `%016x.snap.db` (the raft
 * index) until the member switches to them; the member's live backend is `db` (layout.ts).
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { crc32c, isFloeError } from '../pkg';
import { isEmptySnap, type Snapshot } from '../raft/types';
import {
  ERR_SNAP_CORRUPT,
  ERR_SNAP_CRC_MISMATCH,
  ERR_SNAP_EMPTY,
  ERR_SNAP_NO_DB,
  ERR_SNAP_NO_SNAPSHOT,
  ERR_WAL_CORRUPT,
  walError,
} from './errors';
import { fsyncDir } from './fsync-dir';
import { BACKEND_FILE_NAME } from './layout';
import { decodeSnapshot, encodeSnapshot, type WalSnapshot } from './raftpb-codec';
import { putVarint, varintSize, WireReader } from './wire';
import { silentWalLogger, type WalLogger } from './logger';

export const SNAP_SUFFIX = '.snap';
export const SNAP_DB_SUFFIX = '.snap.db';
export const BROKEN_SUFFIX = '.broken';

/** etcd writes snapshot files with mode 0666 (before umask). */
const SNAP_FILE_MODE = 0o666;

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

/** `%016x-%016x.snap` for a snapshot at `term`, `index`. */
export function snapName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}${SNAP_SUFFIX}`;
}

/** snappb.Snapshot bytes for a raft snapshot (what a `.snap` file holds). */
export function encodeSnapFile(snapshot: Snapshot): Uint8Array {
  const data = encodeSnapshot(snapshot);
  const crc = crc32c(data);
  const out = new Uint8Array(1 + varintSize(crc) + 1 + varintSize(data.length) + data.length);
  let pos = 0;
  out[pos++] = 0x08;
  pos = putVarint(out, pos, crc);
  out[pos++] = 0x12;
  pos = putVarint(out, pos, data.length);
  out.set(data, pos);
  return out;
}

/** Decodes a `.snap` file's bytes, checking its crc; `name` is for messages. */
export function decodeSnapFile(bytes: Uint8Array, name: string): Snapshot {
  if (bytes.length === 0) throw walError(ERR_SNAP_EMPTY, `snap: empty snapshot: ${name} is empty`);
  let crc = 0;
  let data: Uint8Array = new Uint8Array(0);
  try {
    const r = new WireReader(bytes, 'snappb.Snapshot');
    while (!r.done()) {
      const key = r.varint();
      const field = Math.floor(key / 8);
      const wt = key & 7;
      if (field === 1 && wt === 0) crc = Number(r.varintBig() & 0xffffffffn);
      else if (field === 2 && wt === 2) data = r.bytes();
      else r.skip(wt);
    }
  } catch (e) {
    throw walError(ERR_SNAP_CORRUPT, `snap: corrupt snapshot file ${name}: ${(e as Error).message}`, e);
  }
  if (data.length === 0 || crc === 0) throw walError(ERR_SNAP_EMPTY, `snap: empty snapshot: ${name} holds no data`);
  const actual = crc32c(data);
  if (actual !== crc) {
    throw walError(ERR_SNAP_CRC_MISMATCH, `snap: crc mismatch: ${name} records ${crc.toString(16)}, its data gives ${actual.toString(16)}`);
  }
  try {
    return decodeSnapshot(data);
  } catch (e) {
    if (!isFloeError(e, ERR_WAL_CORRUPT)) throw e;
    throw walError(ERR_SNAP_CORRUPT, `snap: corrupt snapshot file ${name}: ${e.message}`, e);
  }
}

export interface SnapshotterOptions {
  readonly logger?: WalLogger;
}

export class Snapshotter {
  private readonly logger: WalLogger;

  constructor(
    readonly dir: string,
    options: SnapshotterOptions = {},
  ) {
    this.logger = options.logger ?? silentWalLogger;
  }

  /**
   * Writes `snapshot` to its `.snap` file and syncs it (then the directory, which etcd does
   * not, so the new name survives a crash too). An empty snapshot (index 0) is not written.
   * On failure the partial file is removed.
   */
  async saveSnap(snapshot: Snapshot): Promise<void> {
    if (isEmptySnap(snapshot)) return;
    const file = path.join(this.dir, snapName(snapshot.metadata.term, snapshot.metadata.index));
    const bytes = encodeSnapFile(snapshot);
    try {
      const h = await fsp.open(file, 'w', SNAP_FILE_MODE);
      try {
        await h.writeFile(bytes);
        await h.sync();
      } finally {
        await h.close();
      }
      await fsyncDir(this.dir);
    } catch (e) {
      this.logger.warn(`snap: failed to write ${file}: ${(e as Error).message}`);
      await fsp.rm(file, { force: true });
      throw e;
    }
  }

  /** Reads and checks one `.snap` file. */
  static async read(file: string): Promise<Snapshot> {
    return decodeSnapFile(await fsp.readFile(file), file);
  }

  /** The newest snapshot that reads back whole. */
  load(): Promise<Snapshot> {
    return this.loadMatching(() => true);
  }

  /**
   * The newest snapshot that reads back whole and that the WAL records (`walSnaps`, from
   * WAL.validSnapshotEntries): a member must start from a snapshot its log knows.
   */
  loadNewestAvailable(walSnaps: readonly WalSnapshot[]): Promise<Snapshot> {
    return this.loadMatching((s) => walSnaps.some((w) => w.index === s.metadata.index && w.term === s.metadata.term));
  }

  private async loadMatching(match: (s: Snapshot) => boolean): Promise<Snapshot> {
    for (const name of await this.snapNames()) {
      const file = path.join(this.dir, name);
      let snap: Snapshot;
      try {
        snap = await Snapshotter.read(file);
      } catch (e) {
        this.logger.warn(`snap: cannot read ${file} (${(e as Error).message}); renaming it to ${name}${BROKEN_SUFFIX}`);
        try {
          await fsp.rename(file, file + BROKEN_SUFFIX);
        } catch (re) {
          this.logger.warn(`snap: cannot rename ${file}: ${(re as Error).message}`);
        }
        continue;
      }
      if (match(snap)) return snap;
    }
    throw walError(ERR_SNAP_NO_SNAPSHOT, `snap: no available snapshot in ${this.dir}`);
  }

  /**
   * `.snap` files, newest first (the names sort by term, then index). Removes `db.tmp*` files
   * left by an interrupted defragmentation on the way, as etcd does.
   */
  async snapNames(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await fsp.readdir(this.dir)) {
      if (name.startsWith(`${BACKEND_FILE_NAME}.tmp`)) {
        this.logger.info(`snap: removing orphaned defragmentation file ${name}`);
        await fsp.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      if (name.endsWith(SNAP_SUFFIX)) out.push(name);
      else if (name !== BACKEND_FILE_NAME) this.logger.warn(`snap: skipping unexpected file ${name}`);
    }
    return out.sort().reverse();
  }

  /** Removes the oldest `.snap` files until at most `maxFiles` remain (--max-snapshots). */
  async purge(maxFiles: number): Promise<string[]> {
    const names = (await fsp.readdir(this.dir)).filter((n) => n.endsWith(SNAP_SUFFIX)).sort();
    const removed = names.slice(0, Math.max(0, names.length - maxFiles));
    for (const name of removed) await fsp.rm(path.join(this.dir, name), { force: true });
    if (removed.length > 0) await fsyncDir(this.dir);
    return removed;
  }

  /** Path of the backend snapshot for raft index `index` (`%016x.snap.db`). */
  dbFilePath(index: number): string {
    return path.join(this.dir, `${hex16(index)}${SNAP_DB_SUFFIX}`);
  }

  /** The backend snapshot for `index`, which must exist. */
  async existingDbFilePath(index: number): Promise<string> {
    const file = this.dbFilePath(index);
    try {
      await fsp.access(file);
      return file;
    } catch {
      throw walError(ERR_SNAP_NO_DB, `snap: snapshot file doesn't exist: ${file}`);
    }
  }

  /**
   * Stores a backend snapshot for `index` from `source`: written to a temporary file, synced,
   * then renamed, so the final name only ever holds a whole file. Keeps an existing one.
   * Returns the bytes received.
   */
  async saveDbFrom(source: Uint8Array | AsyncIterable<Uint8Array>, index: number): Promise<number> {
    const tmp = path.join(this.dir, `tmp${crypto.randomBytes(6).toString('hex')}`);
    let n = 0;
    const h = await fsp.open(tmp, 'wx', 0o600);
    try {
      const chunks = source instanceof Uint8Array ? [source] : source;
      for await (const chunk of chunks) {
        await h.write(chunk);
        n += chunk.length;
      }
      await h.sync();
    } catch (e) {
      await h.close();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await h.close();
    const file = this.dbFilePath(index);
    try {
      await fsp.access(file);
      await fsp.rm(tmp, { force: true });
      return n;
    } catch {
      // not there yet: move ours in
    }
    await fsp.rename(tmp, file);
    await fsyncDir(this.dir);
    this.logger.info(`snap: saved backend snapshot ${file} (${n} bytes)`);
    return n;
  }

  /** Removes backend snapshots older than `snapshot` (no longer needed once it is applied). */
  async releaseSnapDbs(snapshot: Snapshot): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await fsp.readdir(this.dir)) {
      if (!name.endsWith(SNAP_DB_SUFFIX)) continue;
      const hex = name.slice(0, -SNAP_DB_SUFFIX.length);
      if (!/^[0-9a-f]{1,16}$/i.test(hex)) {
        this.logger.warn(`snap: cannot parse the index of ${name}`);
        continue;
      }
      if (parseInt(hex, 16) < snapshot.metadata.index) {
        await fsp.rm(path.join(this.dir, name), { force: true });
        removed.push(name);
      }
    }
    return removed;
  }
}
