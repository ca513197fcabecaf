/**
 * KeyIndex against etcd's documented behaviour: the example histories and expected tables
 * below are etcd's (mvcc/key_index_test.go, 3.4), rewritten as our tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { AssertionError, isFloeError } from '../pkg';
import { KeyIndex, ERR_REVISION_NOT_FOUND, type GenerationView } from './key-index';
import { RevisionList, RevisionSet, type Revision } from './revision';

const r = (main: number, sub = 0): Revision => ({ main, sub });
const gen = (created: Revision, version: number, revs: Revision[]): GenerationView => ({ created, version, revs });
const EMPTY = gen(r(0), 0, []);

/**
 * etcd's test history for key "foo":
 *   {2.0, 4.0, 6.0(t)}  {8.0, 10.0, 12.0(t)}  {14.0, 14.1, 16.0(t)}  {}
 */
function fooHistory(): KeyIndex {
  const ki = new KeyIndex();
  ki.put(2, 0);
  ki.put(4, 0);
  ki.tombstone(6, 0);
  ki.put(8, 0);
  ki.put(10, 0);
  ki.tombstone(12, 0);
  ki.put(14, 0);
  ki.put(14, 1);
  ki.tombstone(16, 0);
  return ki;
}

function setOf(...revs: Revision[]): Revision[] {
  return revs;
}

test('put records revisions in the current generation; the first put creates the key', () => {
  const ki = new KeyIndex();
  assert.equal(ki.isEmpty(), true);
  ki.put(5, 0);
  assert.deepEqual(ki.generations(), [gen(r(5), 1, [r(5)])]);
  assert.deepEqual(ki.modified, r(5));
  ki.put(7, 0);
  assert.deepEqual(ki.generations(), [gen(r(5), 2, [r(5), r(7)])]);
  assert.deepEqual(ki.modified, r(7));
  assert.equal(ki.isEmpty(), false);
});

test('put at or below the last change is a broken invariant', () => {
  const ki = new KeyIndex();
  assert.throws(() => ki.put(0, 0), AssertionError); // etcd: must be after 0.0
  ki.put(5, 1);
  assert.throws(() => ki.put(5, 1), AssertionError);
  assert.throws(() => ki.put(5, 0), AssertionError);
  assert.throws(() => ki.put(4, 9), AssertionError);
  ki.put(5, 2);
  ki.tombstone(6, 0);
  assert.throws(() => ki.put(6, 0), AssertionError, 'the tombstone counts as the last change');
  ki.put(6, 1);
});

test('tombstone ends the generation and opens an empty one; a second tombstone is not found', () => {
  const ki = new KeyIndex();
  ki.put(5, 0);
  ki.tombstone(7, 0);
  assert.deepEqual(ki.generations(), [gen(r(5), 2, [r(5), r(7)]), EMPTY]);
  assert.deepEqual(ki.modified, r(7));
  ki.put(8, 0);
  ki.put(9, 0);
  ki.tombstone(15, 0);
  assert.deepEqual(ki.generations(), [gen(r(5), 2, [r(5), r(7)]), gen(r(8), 3, [r(8), r(9), r(15)]), EMPTY]);
  assert.deepEqual(ki.modified, r(15));
  assert.throws(
    () => ki.tombstone(16, 0),
    (e: unknown) => isFloeError(e, ERR_REVISION_NOT_FOUND) && (e as Error).message === 'mvcc: revision not found',
  );
  assert.throws(() => new KeyIndex().tombstone(1, 0), AssertionError, 'tombstone on an empty key index');
});

test('restore rebuilds a live key from its newest record: one generation, given version', () => {
  const ki = new KeyIndex();
  ki.restore(r(5), r(7), 2);
  assert.deepEqual(ki.generations(), [gen(r(5), 2, [r(7)])]);
  assert.deepEqual(ki.modified, r(7));
  assert.deepEqual(ki.get(7), { modified: r(7), created: r(5), version: 2 });
  ki.put(9, 0);
  assert.deepEqual(ki.get(9), { modified: r(9), created: r(5), version: 3 });
  assert.throws(() => ki.restore(r(1), r(1), 1), AssertionError, 'restore only into a new key index');
});

test('get after compact(4) follows etcd: modified, created and version at each revision', () => {
  const ki = fooHistory();
  ki.compact(4, new RevisionSet());
  const table: Array<[number, Revision | null, Revision | null, number]> = [
    [17, null, null, 0],
    [16, null, null, 0],
    [15, r(14, 1), r(14), 2],
    [14, r(14, 1), r(14), 2],
    [13, null, null, 0],
    [12, null, null, 0],
    [11, r(10), r(8), 2],
    [10, r(10), r(8), 2],
    [9, r(8), r(8), 1],
    [8, r(8), r(8), 1],
    [7, null, null, 0],
    [6, null, null, 0],
    [5, r(4), r(2), 2],
    [4, r(4), r(2), 2],
    [3, null, null, 0],
    [2, null, null, 0],
    [1, null, null, 0],
    [0, null, null, 0],
  ];
  for (const [at, modified, created, version] of table) {
    const got = ki.get(at);
    if (modified === null) assert.equal(got, null, `get(${at})`);
    else assert.deepEqual(got, { modified, created, version }, `get(${at})`);
  }
});

test('get on an uncompacted history finds the generation alive at each revision', () => {
  // etcd's findGeneration table: 0,1 before creation; 2..5 first life; 6,7 deleted; 8..11
  // second life; 12,13 deleted.
  const ki = fooHistory();
  const alive: Array<[number, Revision | null]> = [
    [0, null], [1, null], [2, r(2)], [3, r(2)], [4, r(2)], [5, r(2)], [6, null], [7, null],
    [8, r(8)], [9, r(8)], [10, r(8)], [11, r(8)], [12, null], [13, null], [14, r(14)], [15, r(14)], [16, null], [99, null],
  ];
  for (const [at, created] of alive) assert.deepEqual(ki.get(at)?.created ?? null, created, `get(${at})`);
  assert.deepEqual(ki.get(3), { modified: r(2), created: r(2), version: 1 });
});

test('since after compact(4) follows etcd: one revision per main, the highest sub', () => {
  const ki = fooHistory();
  ki.compact(4, new RevisionSet());
  const all = [r(4), r(6), r(8), r(10), r(12), r(14, 1), r(16)];
  const table: Array<[number, Revision[]]> = [
    [17, []], [16, all.slice(6)], [15, all.slice(6)], [14, all.slice(5)], [13, all.slice(5)],
    [12, all.slice(4)], [11, all.slice(4)], [10, all.slice(3)], [9, all.slice(3)], [8, all.slice(2)],
    [7, all.slice(2)], [6, all.slice(1)], [5, all.slice(1)], [4, all], [3, all], [2, all], [1, all], [0, all],
  ];
  for (const [rev, want] of table) assert.deepEqual(ki.since(rev), want, `since(${rev})`);
});

/** etcd's table for compaction at 1..16 of fooHistory(): the key index after, and what is kept. */
const compactTable: Array<{ at: number; gens: GenerationView[]; kept: Revision[] }> = [
  { at: 1, kept: [], gens: [gen(r(2), 3, [r(2), r(4), r(6)]), gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 2, kept: setOf(r(2)), gens: [gen(r(2), 3, [r(2), r(4), r(6)]), gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 3, kept: setOf(r(2)), gens: [gen(r(2), 3, [r(2), r(4), r(6)]), gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 4, kept: setOf(r(4)), gens: [gen(r(2), 3, [r(4), r(6)]), gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 5, kept: setOf(r(4)), gens: [gen(r(2), 3, [r(4), r(6)]), gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 6, kept: [], gens: [gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 7, kept: [], gens: [gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 8, kept: setOf(r(8)), gens: [gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 9, kept: setOf(r(8)), gens: [gen(r(8), 3, [r(8), r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 10, kept: setOf(r(10)), gens: [gen(r(8), 3, [r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 11, kept: setOf(r(10)), gens: [gen(r(8), 3, [r(10), r(12)]), gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 12, kept: [], gens: [gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 13, kept: [], gens: [gen(r(14), 3, [r(14), r(14, 1), r(16)]), EMPTY] },
  { at: 14, kept: setOf(r(14, 1)), gens: [gen(r(14), 3, [r(14, 1), r(16)]), EMPTY] },
  { at: 15, kept: setOf(r(14, 1)), gens: [gen(r(14), 3, [r(14, 1), r(16)]), EMPTY] },
  { at: 16, kept: [], gens: [EMPTY] },
];

/** keep(at) must report what compact(at) keeps and change nothing; then compact(at) is checked. */
function keepThenCompact(ki: KeyIndex, row: (typeof compactTable)[number], where: string): void {
  const before = ki.generations();
  const kept = new RevisionSet();
  ki.keep(row.at, kept);
  assert.deepEqual(ki.generations(), before, `${where}: keep changed the key index`);
  assert.deepEqual(kept.toSortedArray(), row.kept, `${where}: keep`);
  const available = new RevisionSet();
  ki.compact(row.at, available);
  assert.deepEqual(ki.generations(), row.gens, `${where}: generations after compact`);
  assert.deepEqual(available.toSortedArray(), row.kept, `${where}: compact kept`);
}

test('compact and keep follow etcd on a continuous series of compactions 1..16', () => {
  const ki = fooHistory();
  for (const row of compactTable) keepThenCompact(ki, row, `continuous compact(${row.at})`);
  assert.equal(ki.isEmpty(), true, 'compact(16) leaves an empty key index for the tree to drop');
});

test('compact and keep follow etcd when compactions jump (skipping revisions)', () => {
  const ki = fooHistory();
  compactTable.forEach((row, i) => {
    if ((i % 2 === 0 && i < 6) || (i % 2 === 1 && i > 6)) keepThenCompact(ki, row, `jump compact(${row.at})`);
  });
});

test('compact and keep follow etcd for a single compaction at each revision', () => {
  for (const row of compactTable) keepThenCompact(fooHistory(), row, `once compact(${row.at})`);
});

test('compact beyond the last change keeps the newest revision of the live generation', () => {
  const ki = new KeyIndex();
  ki.put(1, 0);
  ki.put(2, 0);
  const available = new RevisionSet();
  ki.compact(3, available);
  assert.deepEqual(ki.generations(), [gen(r(1), 2, [r(2)])]);
  assert.deepEqual(ki.modified, r(2));
  assert.deepEqual(available.toSortedArray(), [r(2)]);
  // Version still counts the compacted change: get reports 2, as before compaction.
  assert.deepEqual(ki.get(3), { modified: r(2), created: r(1), version: 2 });
});

test('keep on an empty key index keeps nothing; compact on one is a broken invariant', () => {
  const ki = new KeyIndex();
  const available = new RevisionSet();
  ki.keep(10, available);
  assert.equal(available.size, 0);
  assert.throws(() => ki.compact(10, available), AssertionError);
  assert.throws(() => ki.get(10), AssertionError);
  assert.throws(() => ki.since(10), AssertionError);
});

test('revisions near 2^53 work like small ones', () => {
  const top = Number.MAX_SAFE_INTEGER;
  const ki = new KeyIndex();
  ki.put(top - 10, 0);
  ki.put(top - 10, 1);
  ki.tombstone(top - 5, 0);
  ki.put(top - 1, 0);
  ki.put(top, 0);
  assert.deepEqual(ki.get(top - 6), { modified: r(top - 10, 1), created: r(top - 10), version: 2 });
  assert.equal(ki.get(top - 5), null);
  assert.deepEqual(ki.get(top), { modified: r(top), created: r(top - 1), version: 2 });
  assert.deepEqual(ki.since(top - 10), [r(top - 10, 1), r(top - 5), r(top - 1), r(top)]);
  const available = new RevisionSet();
  ki.compact(top - 1, available);
  assert.deepEqual(available.toSortedArray(), [r(top - 1)]);
  assert.deepEqual(ki.generations(), [gen(r(top - 1), 2, [r(top - 1), r(top)])]);
});

test('get on a long history finds the right revision at every point (binary search path)', () => {
  const ki = new KeyIndex();
  for (let i = 1; i <= 1000; i++) ki.put(3 * i, i % 3);
  for (let at = 0; at <= 3003; at++) {
    const got = ki.get(at);
    const i = Math.floor(at / 3);
    if (i === 0) assert.equal(got, null, `get(${at})`);
    else assert.deepEqual(got, { modified: r(3 * Math.min(i, 1000), Math.min(i, 1000) % 3), created: r(3, 1), version: Math.min(i, 1000) }, `get(${at})`);
  }
});

test('modifiedAt, modifiedAtInto and existsAt agree with get at every revision, before and after compaction', () => {
  // fooHistory ends deleted; the same followed by a new life ends alive (the fast path of
  // modifiedAtInto and existsAt: the current generation's last revision).
  const alive = fooHistory();
  alive.put(17, 0);
  alive.put(18, 0);
  const restored = new KeyIndex();
  restored.restore({ main: 3, sub: 0 }, { main: 9, sub: 2 }, 4);
  for (const [name, ki, compactions] of [
    ['deleted', fooHistory(), [0, 4, 11, 14]],
    ['alive', alive, [0, 4, 11, 14, 17]],
    ['restored', restored, [0, 5, 9, 12]],
  ] as const) {
    for (const compactAt of compactions) {
      if (compactAt > 0) ki.compact(compactAt, new RevisionSet());
      ki.checkLast();
      for (let at = compactAt; at <= 20; at++) {
        const got = ki.get(at);
        const what = `${name}: at ${at} after compact(${compactAt})`;
        assert.deepEqual(ki.modifiedAt(at), got === null ? null : got.modified, `modifiedAt, ${what}`);
        assert.equal(ki.existsAt(at), got !== null, `existsAt, ${what}`);
        const into = new RevisionList();
        assert.equal(ki.modifiedAtInto(at, into), got !== null, `modifiedAtInto, ${what}`);
        assert.deepEqual(into.length === 0 ? null : into.at(0), got === null ? null : got.modified, `modifiedAtInto's revision, ${what}`);
      }
    }
  }
});

test('revisions that arrive boxed (read from a Float64Array) cost a key index no more heap than small integers', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const keys = 50_000;
  /** Live heap per key index of `keys` built by `fill`, kept until measured. */
  const perKey = (fill: (ki: KeyIndex, i: number) => void): number => {
    gc();
    const before = v8.getHeapStatistics().used_heap_size;
    const kept: KeyIndex[] = [];
    for (let i = 0; i < keys; i++) {
      const ki = new KeyIndex();
      fill(ki, i);
      kept.push(ki);
    }
    gc();
    const bytes = v8.getHeapStatistics().used_heap_size - before;
    assert.equal(kept.length, keys);
    return bytes / keys;
  };
  // Small integers first: once V8 has boxed the fields of the shape, every later object pays.
  const small = perKey((ki, i) => ki.put(i + 1, 0));
  // Numbers read from a Float64Array are heap boxes even when whole, as revisions decoded by a
  // backend sweep or a revision list are; so is arithmetic in floating point.
  const f64 = new Float64Array(3);
  const viaPut = perKey((ki, i) => {
    f64[0] = i + 1;
    ki.put(f64[0], f64[1]!);
  });
  const viaRestore = perKey((ki, i) => {
    f64[0] = i + 1;
    f64[2] = 1;
    ki.restore({ main: f64[0], sub: f64[1]! }, { main: f64[0], sub: f64[1]! }, f64[2]);
  });
  // Boxed fields would add 4 x 16 bytes to each (about x1.4).
  for (const [how, bytes] of [['put', viaPut], ['restore', viaRestore]] as const) {
    assert.ok(bytes < small * 1.1, `${how}: ${bytes.toFixed(0)} bytes a key index, against ${small.toFixed(0)} with small integers`);
  }
});
