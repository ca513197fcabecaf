/**
 * TreeIndex against a brute-force model that keeps every event (put or tombstone) ever made
 * and answers each question by scanning them all. After every step of a random history of
 * puts, tombstones, compactions (in small batches, with writes between batches) and keeps,
 * get, range, revisions, countRevisions and rangeSince must agree with the model at every
 * revision the server would still serve (at or above the compacted revision, also between
 * the batches of a compaction in progress), compactions
 * must keep exactly the revisions the model says, and empty key indexes must be gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import { ERR_REVISION_NOT_FOUND } from './key-index';
import { compareRevisions, RevisionSet, type Revision } from './revision';
import { TreeIndex, type RangeEnd } from './tree-index';
import { Rng, forSeeds } from './test-rng';

interface Event {
  readonly key: string; // binary string of the key bytes
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const r = (main: number, sub = 0): Revision => ({ main, sub });

/** Every event, and what compaction has done; answers by scanning everything. */
class Model {
  events: Event[] = [];
  /** The same events grouped by key (a lookup aid; still every event). */
  byKey = new Map<string, Event[]>();
  /** Every key ever written, in byte order. */
  sortedKeys: string[] = [];
  /** The bytes of each key: the model orders by Buffer.compare, independently of the index. */
  bytes = new Map<string, Buffer>();
  /** Keys that still have a key index (removed once compaction empties them). */
  indexed = new Set<string>();
  compacted = 0;

  record(e: Event): void {
    this.events.push(e);
    this.indexed.add(e.key);
    const list = this.byKey.get(e.key);
    if (list !== undefined) {
      list.push(e);
    } else {
      this.byKey.set(e.key, [e]);
      this.bytes.set(e.key, b(e.key));
      this.sortedKeys.push(e.key);
      this.sortedKeys.sort((x, y) => Buffer.compare(this.bytes.get(x)!, this.bytes.get(y)!));
    }
  }

  isLive(key: string): boolean {
    const last = this.lastAtOrBelow(key, Number.MAX_SAFE_INTEGER);
    return last !== null && !last.tombstone;
  }

  lastAtOrBelow(key: string, atRev: number): Event | null {
    let last: Event | null = null;
    for (const e of this.byKey.get(key) ?? []) if (e.main <= atRev) last = e;
    return last;
  }

  get(key: string, atRev: number, atSub = Number.MAX_SAFE_INTEGER): { modified: Revision; created: Revision; version: number } | null {
    const evs = (this.byKey.get(key) ?? []).filter((e) => e.main < atRev || (e.main === atRev && e.sub <= atSub));
    if (evs.length === 0 || evs[evs.length - 1]!.tombstone) return null;
    let start = evs.length - 1;
    while (start > 0 && !evs[start - 1]!.tombstone) start--;
    const last = evs[evs.length - 1]!;
    return { modified: r(last.main, last.sub), created: r(evs[start]!.main, evs[start]!.sub), version: evs.length - start };
  }

  keysIn(key: string, end: string | null): string[] {
    const all = this.sortedKeys;
    if (end === null) return all.filter((k) => k === key);
    const fromKey = end === '' || end === '\0';
    const lo = b(key);
    const hi = b(end);
    return all.filter((k) => Buffer.compare(this.bytes.get(k)!, lo) >= 0 && (fromKey || Buffer.compare(this.bytes.get(k)!, hi) < 0));
  }

  range(key: string, end: string | null, atRev: number): Array<[string, Revision]> {
    const out: Array<[string, Revision]> = [];
    for (const k of this.keysIn(key, end)) {
      const got = this.get(k, atRev);
      if (got !== null) out.push([k, got.modified]);
    }
    return out;
  }

  since(key: string, end: string | null, rev: number): Revision[] {
    const last = new Map<string, Event>(); // per (key, main): the last event, i.e. highest sub
    for (const k of this.keysIn(key, end)) {
      for (const e of this.byKey.get(k)!) if (e.main >= rev) last.set(`${e.key}\u0100${e.main}`, e);
    }
    return [...last.values()].map((e) => r(e.main, e.sub)).sort(compareRevisions);
  }

  /** What a compaction at c must keep: per key, the newest change <= c if it is a put. */
  available(c: number): Revision[] {
    const out: Revision[] = [];
    for (const k of this.sortedKeys) {
      const last = this.lastAtOrBelow(k, c);
      if (last !== null && !last.tombstone) out.push(r(last.main, last.sub));
    }
    return out.sort(compareRevisions);
  }

  compact(c: number): void {
    for (const k of [...this.indexed]) {
      const last = this.lastAtOrBelow(k, c);
      const later = this.byKey.get(k)!.some((e) => e.main > c);
      if (!later && (last === null || last.tombstone)) this.indexed.delete(k);
    }
    this.compacted = c;
  }
}

const ALPHABET = [0x00, 0x01, 0x61, 0x62, 0x80, 0xfe, 0xff];

function randomKey(rng: Rng): string {
  const len = rng.chance(0.02) ? 0 : 1 + rng.int(3); // the empty key is the caller's to refuse
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(rng.pick(ALPHABET));
  return s;
}

function randomEnd(rng: Rng, key: string): string | null {
  switch (rng.int(6)) {
    case 0:
      return null;
    case 1:
      return '';
    case 2:
      return '\0';
    case 3: {
      // The prefix end of `key`: its last byte plus one, as etcd clients compute it.
      for (let i = key.length - 1; i >= 0; i--) {
        if (key.charCodeAt(i) < 0xff) return key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1);
      }
      return '\0';
    }
    default:
      return randomKey(rng);
  }
}

interface World {
  rng: Rng;
  index: TreeIndex;
  model: Model;
  rev: number;
}

/** One write transaction: 1..3 changes at a new main revision, subs counting from 0. */
function writeTxn(w: World): void {
  assert.ok(w.rev < Number.MAX_SAFE_INTEGER, 'the test ran out of revisions');
  const main = ++w.rev;
  let sub = 0;
  const ops = 1 + w.rng.int(3);
  for (let i = 0; i < ops; i++) {
    const key = w.rng.chance(0.7) ? randomKey(w.rng) : pickIndexedKey(w);
    if (w.rng.chance(0.65)) {
      w.index.put(b(key), r(main, sub));
      w.model.record({ key, main, sub, tombstone: false });
      sub++;
    } else if (w.model.isLive(key)) {
      w.index.tombstone(b(key), r(main, sub));
      w.model.record({ key, main, sub, tombstone: true });
      sub++;
    } else {
      assert.throws(
        () => w.index.tombstone(b(key), r(main, sub)),
        (e: unknown) => isFloeError(e, ERR_REVISION_NOT_FOUND),
        `tombstone of a key that does not exist: ${b(key).toString('hex')}`,
      );
    }
  }
}

function pickIndexedKey(w: World): string {
  const keys = [...w.model.indexed];
  return keys.length === 0 ? randomKey(w.rng) : w.rng.pick(keys);
}

function endBuf(end: string | null): RangeEnd {
  return end === null ? null : b(end);
}

/** Compares every read with the model at random points at or above the compacted revision. */
function checkReads(w: World, where: string, lowest = w.model.compacted): void {
  const { rng, index, model } = w;
  const lo = lowest;
  const span = w.rev + 2 - lo;
  for (let q = 0; q < 6; q++) {
    const key = rng.chance(0.5) ? pickIndexedKey(w) : randomKey(rng);
    const end = randomEnd(rng, key);
    const atRev = lo + rng.int(span);
    const at = `${where} key ${b(key).toString('hex')} end ${end === null ? 'null' : b(end).toString('hex')} at ${atRev}`;

    assert.deepEqual(index.get(b(key), atRev), model.get(key, atRev), `${at}: get`);

    const want = model.range(key, end, atRev);
    const limit = rng.pick([0, -1, 1, 2, 3, 1000]);
    const cut = limit > 0 ? want.slice(0, limit) : want;
    const got = index.range(b(key), endBuf(end), atRev, limit);
    assert.deepEqual(got.keys.map((k) => k.toString('latin1')), cut.map(([k]) => k), `${at}: range keys (limit ${limit})`);
    assert.deepEqual(got.revs, cut.map(([, rv]) => rv), `${at}: range revs (limit ${limit})`);

    const revs = index.revisions(b(key), endBuf(end), atRev, limit);
    assert.deepEqual(revs, { revs: cut.map(([, rv]) => rv), total: want.length }, `${at}: revisions (limit ${limit})`);
    assert.equal(index.countRevisions(b(key), endBuf(end), atRev), want.length, `${at}: countRevisions`);

    // Watch catch-up is served only above the compacted revision.
    const since = lo + 1 + rng.int(span);
    assert.deepEqual(index.rangeSince(b(key), endBuf(end), since), model.since(key, end, since), `${at}: rangeSince(${since})`);
  }
  if (lowest === model.compacted) assert.equal(index.size, model.indexed.size, `${where}: number of key indexes`);
}

/** Compacts at a random revision in small batches, with write transactions between batches. */
function compactInBatches(w: World, where: string): void {
  const c = w.model.compacted + w.rng.int(w.rev - w.model.compacted + 1);
  // keep() first: it must report exactly what the compaction will keep and change nothing.
  assert.deepEqual(w.index.keep(c).toSortedArray(), w.model.available(c), `${where}: keep(${c})`);
  const wantKept = w.model.available(c); // events at or below c cannot change from here on
  const available = new RevisionSet();
  let from: Buffer | null = null;
  let batches = 0;
  do {
    from = w.index.compactBatch(c, from, 1 + w.rng.int(4), available);
    batches++;
    if (from !== null && w.rng.chance(0.3)) writeTxn(w);
    // Mid-compaction, reads at or above c must already be right: a half-compacted index
    // answers them exactly like an uncompacted one.
    if (from !== null && w.rng.chance(0.2)) checkReads(w, `${where} between compaction batches`, c);
  } while (from !== null);
  assert.ok(batches >= 1);
  w.model.compact(c);
  assert.deepEqual(available.toSortedArray(), wantKept, `${where}: compact(${c}) kept`);
  w.index.checkInvariants();
}

function runHistory(seed: number, steps: number, firstRev: number): void {
  const w: World = { rng: new Rng(seed), index: new TreeIndex(), model: new Model(), rev: firstRev };
  w.model.compacted = firstRev;
  for (let step = 0; step < steps; step++) {
    const where = `step ${step}`;
    if (w.rng.chance(0.08) && w.rev > w.model.compacted) compactInBatches(w, where);
    else writeTxn(w);
    checkReads(w, where);
  }
}

test('TreeIndex agrees with the brute-force model through random puts, tombstones and batched compactions', () => {
  forSeeds(6, (seed) => runHistory(seed, 250, 0));
});

test('TreeIndex agrees with the model when revisions run near 2^53', () => {
  // Each step and each write between compaction batches takes one revision; a few thousand
  // of headroom keep the run below Number.MAX_SAFE_INTEGER (writeTxn asserts it).
  forSeeds(2, (seed) => runHistory(seed, 300, Number.MAX_SAFE_INTEGER - 5000));
});

test('a restarted index rebuilt from the surviving backend records answers like the original', () => {
  forSeeds(4, (seed) => {
    const w: World = { rng: new Rng(seed), index: new TreeIndex(), model: new Model(), rev: 0 };
    for (let i = 0; i < 150; i++) writeTxn(w);
    const c = 1 + w.rng.int(w.rev);
    const kept = new RevisionSet();
    for (const rv of w.index.compact(c).toSortedArray()) kept.add(rv);
    w.model.compact(c);
    // The backend after compaction: every record above c, and the kept ones at or below it.
    // A put's KeyValue carries create_revision and version; a tombstone's carries neither.
    const restored = new TreeIndex();
    for (const e of w.model.events) {
      if (e.main <= c && !kept.hasParts(e.main, e.sub)) continue;
      const kv = e.tombstone ? null : w.model.get(e.key, e.main, e.sub); // the KeyValue this record holds
      restored.restore(b(e.key), r(e.main, e.sub), {
        tombstone: e.tombstone,
        createRevision: kv === null ? 0 : kv.created.main,
        version: kv === null ? 0 : kv.version,
      });
    }
    restored.checkInvariants();
    assert.equal(restored.size, w.index.size, 'same keys indexed');
    for (let atRev = c; atRev <= w.rev + 1; atRev++) {
      const want = w.index.range(b(''), b('\0'), atRev);
      const got = restored.range(b(''), b('\0'), atRev);
      assert.deepEqual(got, want, `range of everything at ${atRev}`);
      for (const k of want.keys) {
        const a = w.index.get(k, atRev)!;
        const z = restored.get(k, atRev)!;
        // etcd restores the created revision with sub 0; version and modified are exact.
        assert.deepEqual({ ...z, created: z.created.main }, { ...a, created: a.created.main }, `get ${k.toString('hex')} at ${atRev}`);
      }
      assert.deepEqual(restored.rangeSince(b(''), b('\0'), atRev + 1), w.index.rangeSince(b(''), b('\0'), atRev + 1), `since ${atRev + 1}`);
    }
  });
});

test('range ends: null is one key, empty or "\\0" is from-key, otherwise [key, end) and empty when end <= key', () => {
  const index = new TreeIndex();
  ['a', 'ab', 'b', 'c', '\xff'].forEach((k, i) => index.put(b(k), r(i + 1)));
  const keys = (key: string, end: RangeEnd): string[] => index.range(b(key), end, 10).keys.map((k) => k.toString('latin1'));
  assert.deepEqual(keys('a', null), ['a']);
  assert.deepEqual(keys('aa', null), []);
  assert.deepEqual(keys('ab', Buffer.alloc(0)), ['ab', 'b', 'c', '\xff']);
  assert.deepEqual(keys('ab', Buffer.from([0])), ['ab', 'b', 'c', '\xff']);
  assert.deepEqual(keys('a', b('b')), ['a', 'ab']);
  assert.deepEqual(keys('a', b('b\0')), ['a', 'ab', 'b']);
  assert.deepEqual(keys('b', b('b')), []);
  assert.deepEqual(keys('c', b('a')), []);
  assert.deepEqual(keys('', Buffer.from([0])), ['a', 'ab', 'b', 'c', '\xff']);
  // A key that is a view into a larger buffer reads only its own bytes.
  const big = Buffer.from('xxabyy');
  assert.deepEqual(index.get(big.subarray(2, 4), 10)?.modified, r(2));
  assert.deepEqual(index.get(new Uint8Array(big.buffer, big.byteOffset + 2, 2), 10)?.modified, r(2));
});

test('the index copies keys: changing the caller\'s buffer afterwards changes nothing', () => {
  const index = new TreeIndex();
  const key = Buffer.from('abc');
  index.put(key, r(1));
  key[0] = 0x7a;
  assert.deepEqual(index.range(b(''), b('\0'), 1).keys.map((k) => k.toString()), ['abc']);
});

test('revisions counts the whole range whatever the limit', () => {
  const index = new TreeIndex();
  for (let i = 0; i < 50; i++) index.put(b(`k${String(i).padStart(2, '0')}`), r(i + 1));
  index.tombstone(b('k10'), r(51));
  const all = index.revisions(b('k'), b('l'), 51, 5);
  assert.equal(all.total, 49);
  assert.deepEqual(all.revs, [r(1), r(2), r(3), r(4), r(5)]);
  assert.equal(index.revisions(b('k'), b('l'), 50, 0).total, 50, 'before the tombstone');
  assert.equal(index.countRevisions(b('k'), b('l'), 51), 49);
  assert.deepEqual(index.revisions(b('k10'), null, 51, 5), { revs: [], total: 0 });
  assert.deepEqual(index.revisions(b('k11'), null, 51, 5), { revs: [r(12)], total: 1 });
});

test('compactBatch visits at most maxKeys keys per call and resumes where it stopped', () => {
  const index = new TreeIndex();
  for (let i = 0; i < 2500; i++) index.put(b(`key${String(i).padStart(5, '0')}`), r(i + 1));
  for (let i = 0; i < 2500; i += 2) index.tombstone(b(`key${String(i).padStart(5, '0')}`), r(2501 + i));
  const available = new RevisionSet();
  const stops: string[] = [];
  let from: Buffer | null = null;
  do {
    from = index.compactBatch(5000, from, 1000, available);
    if (from !== null) stops.push(from.toString());
  } while (from !== null);
  // 2500 keys in batches of 1000: stops after the 1000th and 2000th keys.
  assert.deepEqual(stops, ['key01000', 'key02000']);
  assert.equal(available.size, 1250, 'the live half keeps its only revision');
  assert.equal(index.size, 1250, 'the deleted half is gone from the index');
  assert.throws(() => index.compactBatch(5000, null, 0, available), /batch of 0 keys/);
});

test('keep changes nothing and reports what compact then keeps', () => {
  const index = new TreeIndex();
  index.put(b('a'), r(1));
  index.put(b('a'), r(2));
  index.put(b('b'), r(3));
  index.tombstone(b('b'), r(4));
  index.put(b('c'), r(5));
  const before = index.range(b(''), b('\0'), 5);
  assert.deepEqual(index.keep(4).toSortedArray(), [r(2)]);
  assert.deepEqual(index.range(b(''), b('\0'), 5), before);
  assert.equal(index.size, 3);
  assert.deepEqual(index.compact(4).toSortedArray(), [r(2)]);
  assert.equal(index.size, 2, '"b" was deleted at or below 4: its key index is dropped');
  assert.equal(index.keyIndex(b('b')), undefined);
});

test('tombstone of an unknown key or a deleted key is etcd\'s "revision not found"', () => {
  const index = new TreeIndex();
  const notFound = (e: unknown): boolean => isFloeError(e, ERR_REVISION_NOT_FOUND) && (e as Error).message === 'mvcc: revision not found';
  assert.throws(() => index.tombstone(b('nope'), r(1)), notFound);
  index.put(b('k'), r(2));
  index.tombstone(b('k'), r(3));
  assert.throws(() => index.tombstone(b('k'), r(4)), notFound);
});

test('restore skips a tombstone of an unknown or deleted key, and replays puts and tombstones in order', () => {
  const index = new TreeIndex();
  const put = (key: string, main: number, createRevision: number, version: number): void =>
    index.restore(b(key), r(main), { tombstone: false, createRevision, version });
  const del = (key: string, main: number): void => index.restore(b(key), r(main), { tombstone: true, createRevision: 0, version: 0 });
  del('gone', 3); // its put was compacted away
  assert.equal(index.size, 0);
  put('k', 4, 2, 3); // newest surviving record: created at 2, third version
  del('k', 5);
  del('k', 6); // a second tombstone in a row changes nothing
  put('k', 7, 7, 1);
  assert.equal(index.size, 1);
  assert.deepEqual(index.get(b('k'), 4), { modified: r(4), created: r(2), version: 3 });
  assert.equal(index.get(b('k'), 6), null);
  assert.deepEqual(index.get(b('k'), 7), { modified: r(7), created: r(7), version: 1 });
  assert.deepEqual(index.rangeSince(b('k'), null, 0), [r(4), r(5), r(7)]);
});
