import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError, isFloeError } from '../pkg';
import { entrySizeBytes } from './codec';
import { ERR_COMPACTED, ERR_SNAP_OUT_OF_DATE, ERR_UNAVAILABLE } from './errors';
import { limitSize, MemoryStorage } from './storage';
import { EMPTY_BYTES, EMPTY_CONF_STATE, Entry } from './types';

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: 'EntryNormal', data: Uint8Array.from(data, (c) => c.charCodeAt(0)) };
}

/** A storage holding a snapshot at 3 (term 3) and entries 4 (term 4) and 5 (term 5). */
function storage345(): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 3, term: 3, confState: EMPTY_CONF_STATE } });
  s.append([ent(4, 4), ent(5, 5)]);
  return s;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isFloeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

test('a new storage is empty with first index 1', () => {
  const s = new MemoryStorage();
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 0);
  assert.equal(s.term(0), 0, 'the dummy entry answers term(0)');
  assert.equal(code(() => s.entries(1, 1, Infinity)), ERR_UNAVAILABLE);
});

test('term answers from the snapshot index to the last index', () => {
  const s = storage345();
  assert.equal(code(() => s.term(2)), ERR_COMPACTED);
  assert.equal(s.term(3), 3);
  assert.equal(s.term(4), 4);
  assert.equal(s.term(5), 5);
  assert.equal(code(() => s.term(6)), ERR_UNAVAILABLE);
});

test('entries are limited by size but always at least one', () => {
  const s = storage345();
  s.append([ent(6, 6, 'abc')]);
  assert.equal(code(() => s.entries(3, 5, Infinity)), ERR_COMPACTED);
  assert.deepEqual(s.entries(4, 5, Infinity).map((e) => e.index), [4]);
  assert.deepEqual(s.entries(4, 7, Infinity).map((e) => e.index), [4, 5, 6]);
  assert.deepEqual(s.entries(4, 7, 0).map((e) => e.index), [4], 'one entry even over the limit');
  const two = entrySizeBytes(ent(4, 4)) + entrySizeBytes(ent(5, 5));
  assert.deepEqual(s.entries(4, 7, two).map((e) => e.index), [4, 5], 'exactly at the limit');
  assert.deepEqual(s.entries(4, 7, two - 1).map((e) => e.index), [4], 'one byte under');
  assert.deepEqual(s.entries(5, 5, Infinity), []);
  assert.throws(() => s.entries(4, 8, Infinity), AssertionError, 'beyond the last index');
});

test('limitSize keeps the longest prefix within the limit, at least one entry', () => {
  const ents = [ent(1, 1, 'aaaa'), ent(2, 1, 'bbbb'), ent(3, 1, 'cccc')];
  const one = entrySizeBytes(ents[0]!);
  assert.equal(limitSize(ents, 0).length, 1);
  assert.equal(limitSize(ents, one).length, 1);
  assert.equal(limitSize(ents, 2 * one - 1).length, 1);
  assert.equal(limitSize(ents, 2 * one).length, 2);
  assert.equal(limitSize(ents, Infinity).length, 3);
  assert.equal(limitSize([], 0).length, 0);
});

test('append overwrites a conflicting tail, skips compacted entries and refuses gaps', () => {
  const s = storage345();
  s.append([ent(5, 6), ent(6, 6)]);
  assert.deepEqual([s.term(4), s.term(5), s.term(6)], [4, 6, 6]);
  s.append([ent(2, 3), ent(3, 3), ent(4, 7)]);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(4), 7);
  assert.equal(s.lastIndex(), 4, 'the tail after the overwritten entry is gone');
  s.append([ent(1, 1), ent(2, 1)]);
  assert.equal(s.lastIndex(), 4, 'entries entirely before the snapshot are ignored');
  assert.throws(() => s.append([ent(6, 7)]), AssertionError, 'a gap');
});

test('compact keeps the compacted index term and refuses to compact twice', () => {
  const s = storage345();
  s.compact(4);
  assert.equal(s.firstIndex(), 5);
  assert.equal(s.term(4), 4);
  assert.equal(code(() => s.term(3)), ERR_COMPACTED);
  assert.equal(code(() => s.compact(4)), ERR_COMPACTED);
  assert.throws(() => s.compact(6), AssertionError, 'beyond the last index');
  s.compact(5);
  assert.equal(s.firstIndex(), 6);
  assert.equal(s.lastIndex(), 5);
});

test('createSnapshot takes the term of its index and refuses older snapshots', () => {
  const s = storage345();
  const cs = { ...EMPTY_CONF_STATE, voters: [1n, 2n] };
  const snap = s.createSnapshot(5, cs, Uint8Array.of(9));
  assert.deepEqual(snap.metadata, { index: 5, term: 5, confState: cs });
  assert.equal(s.snapshot(), snap);
  assert.equal(code(() => s.createSnapshot(4, null, EMPTY_BYTES)), ERR_SNAP_OUT_OF_DATE);
  assert.equal(s.firstIndex(), 4, 'creating a snapshot does not compact');
});

test('applySnapshot replaces the log and refuses older or equal snapshots', () => {
  const s = storage345();
  assert.equal(code(() => s.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 3, term: 3, confState: EMPTY_CONF_STATE } })), ERR_SNAP_OUT_OF_DATE);
  s.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 10, term: 8, confState: EMPTY_CONF_STATE } });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 8);
});
