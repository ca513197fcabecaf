/**
 * Segment file names: `%016x-%016x.wal`, the segment's sequence number and the raft index of
 * the first entry it may hold (etcd's walName). The sequence must run without gaps from the
 * segment a reader starts at to the last one.
 */
import * as fsp from 'node:fs/promises';
import { ERR_WAL_BAD_NAME, ERR_WAL_FILE_NOT_FOUND, walError } from './errors';

export const WAL_SUFFIX = '.wal';

/** A parsed segment name. `seq` and `index` are uint64 in etcd; Floe keeps them below 2^53. */
export interface SegmentName {
  readonly name: string;
  readonly seq: number;
  readonly index: number;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** The file name of segment `seq` whose first entry is at `index`. */
export function walName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}${WAL_SUFFIX}`;
}

/** Parses a segment name; null when `name` is not one. */
export function parseWalName(name: string): SegmentName | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  const seq = parseInt(m[1]!, 16);
  const index = parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return null;
  return { name, seq, index };
}

/**
 * The segments in `dir`, sorted by name (= by sequence). Files that do not end in `.wal` are
 * ignored (left-over `.tmp` files, `.broken` copies); a `.wal` file with a malformed name is an
 * error, because it means someone put a file there that no WAL writer made.
 */
export async function readSegmentNames(dir: string): Promise<SegmentName[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw walError(ERR_WAL_FILE_NOT_FOUND, `wal: file not found: directory ${dir} does not exist`, e);
    }
    throw e;
  }
  const out: SegmentName[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(WAL_SUFFIX)) continue;
    const parsed = parseWalName(name);
    if (parsed === null) {
      throw walError(ERR_WAL_BAD_NAME, `wal: bad wal name ${JSON.stringify(name)} in ${dir}: want %016x-%016x.wal (sequence-index)`);
    }
    out.push(parsed);
  }
  return out;
}

/** True when `dir` holds at least one `.wal` file (etcd's wal.Exist). */
export async function walExists(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).some((n) => n.endsWith(WAL_SUFFIX));
  } catch {
    return false;
  }
}

/**
 * The position of the last segment whose first index is <= `index`: the segment that holds
 * the snapshot record at `index`. -1 when every segment starts after it.
 */
export function searchIndex(names: readonly SegmentName[], index: number): number {
  for (let i = names.length - 1; i >= 0; i--) {
    if (index >= names[i]!.index) return i;
  }
  return -1;
}

/** The first break in the sequence numbers, or null when they increase by one throughout. */
export function sequenceGap(names: readonly SegmentName[]): { before: SegmentName; after: SegmentName } | null {
  for (let i = 1; i < names.length; i++) {
    if (names[i]!.seq !== names[i - 1]!.seq + 1) return { before: names[i - 1]!, after: names[i]! };
  }
  return null;
}

/**
 * Every segment, oldest first, as etcd's ValidSnapshotEntries reads them: the oldest may start
 * after index 0 once older ones were purged (--max-wals). Throws `wal: file not found` when
 * there are none or one in the middle is missing.
 */
export async function allSegments(dir: string): Promise<SegmentName[]> {
  const names = await readSegmentNames(dir);
  if (names.length === 0) throw walError(ERR_WAL_FILE_NOT_FOUND, `wal: file not found: no .wal files in ${dir}`);
  const gap = sequenceGap(names);
  if (gap !== null) {
    throw walError(ERR_WAL_FILE_NOT_FOUND, `wal: file not found: segment sequence breaks between ${gap.before.name} and ${gap.after.name} in ${dir}`);
  }
  return names;
}

/**
 * The segments a reader starting at snapshot `index` must read, in order. Throws
 * `wal: file not found` when there are none, none covers the index, or one is missing.
 */
export async function selectSegments(dir: string, index: number): Promise<SegmentName[]> {
  const names = await readSegmentNames(dir);
  if (names.length === 0) throw walError(ERR_WAL_FILE_NOT_FOUND, `wal: file not found: no .wal files in ${dir}`);
  const at = searchIndex(names, index);
  if (at < 0) {
    throw walError(
      ERR_WAL_FILE_NOT_FOUND,
      `wal: file not found: no segment in ${dir} covers index ${index} (the oldest, ${names[0]!.name}, starts after it)`,
    );
  }
  const selected = names.slice(at);
  const gap = sequenceGap(selected);
  if (gap !== null) {
    throw walError(ERR_WAL_FILE_NOT_FOUND, `wal: file not found: segment sequence breaks between ${gap.before.name} and ${gap.after.name} in ${dir}`);
  }
  return selected;
}
