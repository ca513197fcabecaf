/**
 * Revisions: the logical clock of the key space, and their byte form as keys of the backend's
 * `key` bucket.
 *
 * A revision is a pair (main, sub). `main` is bumped once per write transaction (every change
 * in one transaction shares it and is seen atomically); `sub` numbers the changes inside that
 * transaction from 0. Revisions order by main, then sub.
 *
 * Backend key layout (etcd's, byte for byte, so files move between etcd and Floe):
 *
 *   offset 0..7   main, unsigned 64-bit big-endian
 *   offset 8      '_' (0x5f)
 *   offset 9..16  sub, unsigned 64-bit big-endian
 *   offset 17     't' (0x74), present only when the record is a tombstone (a deletion)
 *
 * Big-endian makes the byte order of keys equal the revision order, so a backend cursor
 * walks history in revision order. etcd stores int64s; we hold them as JS numbers, so both
 * parts must be integers in [0, 2^53): a key outside that range is refused when decoded.
 */
import { assert, FloeError } from '../pkg';

/** One revision. Both parts are non-negative safe integers (below 2^53). */
export interface Revision {
  readonly main: number;
  readonly sub: number;
}

/** Length of the backend key of a normal (live) revision. */
export const REVISION_BYTES = 17;
/** Length of the backend key of a tombstone revision: the normal key plus the marker. */
export const TOMBSTONE_REVISION_BYTES = 18;
/** The separator byte between main and sub: '_'. */
export const REVISION_SEPARATOR = 0x5f;
/** The byte that marks a tombstone record: 't'. */
export const TOMBSTONE_MARK = 0x74;
/** The largest revision part we can hold exactly in a JS number. */
export const MAX_REVISION_PART = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 0x1_0000_0000;

/** Error code for a backend key that is not a well-formed revision key. */
export const ERR_BAD_REVISION_KEY = 'ERR_BAD_REVISION_KEY';

/** True when `n` can be one part of a revision: an integer in [0, 2^53). */
export function isRevisionPart(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Builds a revision; both parts must be valid revision parts (an invariant, not input). */
export function revision(main: number, sub = 0): Revision {
  assert(isRevisionPart(main) && isRevisionPart(sub), () => `bad revision (${main}, ${sub})`);
  return { main, sub };
}

/** Orders revisions by main, then sub: negative, zero or positive like a sort comparator. */
export function compareRevisions(a: Revision, b: Revision): number {
  if (a.main !== b.main) return a.main < b.main ? -1 : 1;
  if (a.sub !== b.sub) return a.sub < b.sub ? -1 : 1;
  return 0;
}

/** True when `a` comes strictly after `b`. */
export function revisionGreaterThan(a: Revision, b: Revision): boolean {
  return a.main > b.main || (a.main === b.main && a.sub > b.sub);
}

/** Writes a 64-bit big-endian unsigned integer that is known to be below 2^53. */
function writeU64(buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_POW_32), offset);
  buf.writeUInt32BE(n % TWO_POW_32, offset + 4);
}

/**
 * Encodes a revision as a backend key: 17 bytes, or 18 with the tombstone marker. The parts
 * must be valid (asserted): revisions are made by the store, never taken from a client as is.
 */
export function encodeRevision(rev: Revision, tombstone = false): Buffer {
  const buf = Buffer.allocUnsafe(tombstone ? TOMBSTONE_REVISION_BYTES : REVISION_BYTES);
  encodeRevisionInto(rev, buf, 0);
  if (tombstone) buf[REVISION_BYTES] = TOMBSTONE_MARK;
  return buf;
}

/**
 * Writes the 17 bytes of a normal revision key into `buf` at `offset` (no tombstone marker).
 * For callers that reuse one buffer across a scan, as compaction does for its range bounds.
 */
export function encodeRevisionInto(rev: Revision, buf: Buffer, offset: number): void {
  assert(isRevisionPart(rev.main) && isRevisionPart(rev.sub), () => `bad revision (${rev.main}, ${rev.sub})`);
  assert(offset >= 0 && offset + REVISION_BYTES <= buf.length, 'revision key does not fit in the buffer');
  writeU64(buf, offset, rev.main);
  buf[offset + 8] = REVISION_SEPARATOR;
  writeU64(buf, offset + 9, rev.sub);
}

/** A decoded backend key. */
export interface DecodedRevisionKey {
  readonly rev: Revision;
  /** True when the key carried the tombstone marker: the record is a deletion. */
  readonly tombstone: boolean;
}

function badKey(key: Uint8Array, why: string): FloeError {
  const shown = Buffer.from(key.subarray(0, 32)).toString('hex');
  return new FloeError(ERR_BAD_REVISION_KEY, `mvcc: malformed revision key ${shown}${key.length > 32 ? '...' : ''} (${key.length} bytes): ${why}`);
}

/**
 * `n` as a small integer V8 stores unboxed (a Smi) when it is one, else `n`. A number read from
 * a Float64Array or computed in floating point is a heap-allocated box even when it is a whole
 * number, and storing one box in a field that held small integers makes V8 box that field in
 * every object of the same shape from then on: 16 bytes more per field, four fields per key
 * in KeyIndex (measured: +63 MB of live heap for 1M keys once one big range had run). Revisions
 * and versions pass through here before they go into long-lived objects. Revisions at or
 * above 2^31 stay boxed: nothing smaller holds them.
 */
export function smiIfInt32(n: number): number {
  return (n | 0) === n ? n | 0 : n;
}

function readPart(key: Uint8Array, offset: number, name: string): number {
  const high = readU32At(key, offset);
  // 2^53 = 2^21 * 2^32: a high word at or above 2^21 does not fit in a safe integer. etcd's
  // int64 could hold it, but no real store reaches 2^53 revisions; refusing is safer than
  // rounding a revision to a neighbour.
  if (high >= 0x20_0000) throw badKey(key, `${name} revision does not fit below 2^53`);
  return smiIfInt32(high * TWO_POW_32 + readU32At(key, offset + 4));
}

/** The big-endian u32 at `at`. */
function readU32At(buf: Uint8Array, at: number): number {
  return (buf[at] as number) * 0x100_0000 + (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number));
}

/**
 * Decodes a backend key of the `key` bucket. Throws FloeError ERR_BAD_REVISION_KEY when the
 * key is not exactly 17 bytes (or 18 with a trailing 't'), lacks the '_' separator, or holds
 * a part at or above 2^53: such a key means the file is not what it should be.
 */
export function decodeRevision(key: Uint8Array): DecodedRevisionKey {
  if (key.length !== REVISION_BYTES && key.length !== TOMBSTONE_REVISION_BYTES) {
    throw badKey(key, `want ${REVISION_BYTES} bytes, or ${TOMBSTONE_REVISION_BYTES} for a tombstone`);
  }
  if (key[8] !== REVISION_SEPARATOR) throw badKey(key, "byte 8 is not the separator '_'");
  const tombstone = key.length === TOMBSTONE_REVISION_BYTES;
  if (tombstone && key[REVISION_BYTES] !== TOMBSTONE_MARK) throw badKey(key, "byte 17 is not the tombstone mark 't'");
  return { rev: { main: readPart(key, 0, 'main'), sub: readPart(key, 9, 'sub') }, tombstone };
}

/**
 * decodeRevision() of the `len` bytes at `at` in `buf`, allocating nothing: main and sub go
 * to out[0] and out[1]; returns whether the key is a tombstone's. Throws as decodeRevision()
 * does (a sweep over the key bucket decodes every key it passes).
 */
export function decodeRevisionAt(buf: Uint8Array, at: number, len: number, out: Float64Array): boolean {
  const tombstone = len === TOMBSTONE_REVISION_BYTES && buf[at + REVISION_BYTES] === TOMBSTONE_MARK;
  const mainHigh = readU32At(buf, at);
  const subHigh = readU32At(buf, at + 9);
  if ((len !== REVISION_BYTES && !tombstone) || buf[at + 8] !== REVISION_SEPARATOR || mainHigh >= 0x20_0000 || subHigh >= 0x20_0000) {
    // Not a well-formed key: decodeRevision says why.
    const d = decodeRevision(buf.subarray(at, at + len));
    out[0] = d.rev.main;
    out[1] = d.rev.sub;
    return d.tombstone;
  }
  out[0] = mainHigh * TWO_POW_32 + readU32At(buf, at + 4);
  out[1] = subHigh * TWO_POW_32 + readU32At(buf, at + 13);
  return tombstone;
}

/** True when `key` is an 18-byte revision key ending in the tombstone mark (etcd's test). */
export function isTombstoneKey(key: Uint8Array): boolean {
  return key.length === TOMBSTONE_REVISION_BYTES && key[REVISION_BYTES] === TOMBSTONE_MARK;
}

/** Formats a revision for messages: "main.sub". */
export function formatRevision(rev: Revision): string {
  return `${rev.main}.${rev.sub}`;
}

/**
 * A list of revisions held as two growable Float64Arrays (mains, subs), not as objects: a range
 * over 100k keys gathers 100k revisions that live across turns of the event loop, and as
 * objects each scavenge copied them. Also keeps the lowest and highest revision pushed.
 */
export class RevisionList {
  private mainsArr: Float64Array = new Float64Array(16);
  private subsArr: Float64Array = new Float64Array(16);
  private count = 0;
  private loAt = -1;
  private hiAt = -1;

  get length(): number {
    return this.count;
  }

  /** A list holding the first `length` revisions of `mains` and `subs` (taken, not copied). */
  static of(mains: Float64Array, subs: Float64Array, length: number): RevisionList {
    assert(length >= 0 && length <= mains.length && length <= subs.length, () => `revisionList: ${length} of ${mains.length}`);
    const list = new RevisionList();
    list.mainsArr = mains;
    list.subsArr = subs;
    for (let i = 0; i < length; i++) {
      if (list.loAt === -1 || list.before(i, list.loAt)) list.loAt = i;
      if (list.hiAt === -1 || list.before(list.hiAt, i)) list.hiAt = i;
    }
    list.count = length;
    return list;
  }

  /** The arrays behind the list (the first `length` entries are its revisions), e.g. to transfer. */
  arrays(): { readonly mains: Float64Array; readonly subs: Float64Array } {
    return { mains: this.mainsArr, subs: this.subsArr };
  }

  push(main: number, sub: number): void {
    if (this.count === this.mainsArr.length) {
      const mains = new Float64Array(2 * this.count);
      const subs = new Float64Array(2 * this.count);
      mains.set(this.mainsArr);
      subs.set(this.subsArr);
      this.mainsArr = mains;
      this.subsArr = subs;
    }
    const i = this.count++;
    this.mainsArr[i] = main;
    this.subsArr[i] = sub;
    if (this.loAt === -1 || this.before(i, this.loAt)) this.loAt = i;
    if (this.hiAt === -1 || this.before(this.hiAt, i)) this.hiAt = i;
  }

  main(i: number): number {
    return this.mainsArr[i] as number;
  }

  sub(i: number): number {
    return this.subsArr[i] as number;
  }

  /** Revision `i` as an object. */
  at(i: number): Revision {
    assert(i >= 0 && i < this.count, () => `revisionList: ${i} out of ${this.count}`);
    return { main: smiIfInt32(this.mainsArr[i] as number), sub: smiIfInt32(this.subsArr[i] as number) };
  }

  /** The lowest revision pushed (the list must not be empty). */
  get min(): Revision {
    return this.at(this.loAt);
  }

  /** The highest revision pushed (the list must not be empty). */
  get max(): Revision {
    return this.at(this.hiAt);
  }

  private before(i: number, j: number): boolean {
    const a = this.mainsArr[i] as number;
    const b = this.mainsArr[j] as number;
    return a < b || (a === b && (this.subsArr[i] as number) < (this.subsArr[j] as number));
  }
}

/**
 * A set of revisions, compact enough for the millions of entries a compaction keeps.
 *
 * Compaction collects, for every key, the one revision to keep in the backend; the backend
 * pass then deletes every older revision not in this set. Stored as main -> sub, widened to a
 * Set of subs only for the mains that hold several (a transaction changing several keys), so
 * the common entry costs one Map slot and no object.
 */
export class RevisionSet {
  private readonly byMain = new Map<number, number | Set<number>>();
  private count = 0;

  /** Number of revisions in the set. */
  get size(): number {
    return this.count;
  }

  /** Adds a revision; adding one already present changes nothing. */
  add(rev: Revision): void {
    this.addParts(rev.main, rev.sub);
  }

  /** Like add(), without building a Revision. */
  addParts(main: number, sub: number): void {
    const cur = this.byMain.get(main);
    if (cur === undefined) {
      this.byMain.set(main, sub);
    } else if (typeof cur === 'number') {
      if (cur === sub) return;
      this.byMain.set(main, new Set([cur, sub]));
    } else {
      if (cur.has(sub)) return;
      cur.add(sub);
    }
    this.count++;
  }

  /** True when the revision is in the set. */
  has(rev: Revision): boolean {
    return this.hasParts(rev.main, rev.sub);
  }

  /** Like has(), without building a Revision: the backend pass calls it once per record. */
  hasParts(main: number, sub: number): boolean {
    const cur = this.byMain.get(main);
    if (cur === undefined) return false;
    return typeof cur === 'number' ? cur === sub : cur.has(sub);
  }

  /** Removes a revision; returns whether it was present. */
  delete(rev: Revision): boolean {
    return this.deleteParts(rev.main, rev.sub);
  }

  /** Like delete(), without building a Revision. */
  deleteParts(main: number, sub: number): boolean {
    const cur = this.byMain.get(main);
    if (cur === undefined) return false;
    if (typeof cur === 'number') {
      if (cur !== sub) return false;
      this.byMain.delete(main);
    } else {
      if (!cur.delete(sub)) return false;
      if (cur.size === 0) this.byMain.delete(main);
    }
    this.count--;
    return true;
  }

  /** Every revision in the set, in revision order (for tests, hashes and messages). */
  toSortedArray(): Revision[] {
    const out: Revision[] = [];
    for (const [main, subs] of this.byMain) {
      if (typeof subs === 'number') out.push({ main, sub: subs });
      else for (const sub of subs) out.push({ main, sub });
    }
    return out.sort(compareRevisions);
  }
}
