import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../pkg';
import { entrySizeBytes } from './codec';
import { silentLogger } from './logger';
import { Unstable } from './log-unstable';
import { RaftLog } from './raft-log';
import { MemoryStorage } from './storage';
import { EMPTY_BYTES, EMPTY_CONF_STATE, Entry, Snapshot } from './types';

function ent(index: number, term: number): Entry {
  return { index, term, type: 'EntryNormal', data: EMPTY_BYTES };
}

/** Entries 1..n with the given terms. */
function ents(...terms: number[]): Entry[] {
  return terms.map((t, i) => ent(i + 1, t));
}

function snap(index: number, term: number): Snapshot {
  return { data: EMPTY_BYTES, metadata: { index, term, confState: EMPTY_CONF_STATE } };
}

function log(stored: Entry[] = [], unstable: Entry[] = [], maxNextEnts = Infinity): RaftLog {
  const s = new MemoryStorage();
  s.append(stored);
  const l = new RaftLog(s, silentLogger, maxNextEnts);
  if (unstable.length > 0) l.append(unstable);
  return l;
}

test('findConflict: first index we lack or hold with another term, 0 when we have all', () => {
  const l = log(ents(1, 2, 3));
  assert.equal(l.findConflict([]), 0);
  assert.equal(l.findConflict(ents(1, 2, 3)), 0);
  assert.equal(l.findConflict([ent(2, 2), ent(3, 3)]), 0);
  assert.equal(l.findConflict([ent(2, 2), ent(3, 3), ent(4, 4)]), 4, 'new entries');
  assert.equal(l.findConflict([ent(2, 2), ent(3, 4)]), 3, 'term conflict');
  assert.equal(l.findConflict([ent(1, 4), ent(2, 4)]), 1);
});

test('findConflictByTerm: the last index at or below with term <= the given term', () => {
  // Terms by index: 1:1 2:1 3:2 4:2 5:5 6:5 7:6
  const l = log(ents(1, 1, 2, 2, 5, 5, 6));
  assert.deepEqual(l.findConflictByTerm(7, 6), { index: 7, term: 6 });
  assert.deepEqual(l.findConflictByTerm(7, 5), { index: 6, term: 5 });
  assert.deepEqual(l.findConflictByTerm(7, 4), { index: 4, term: 2 }, 'skips all of term 5 at once');
  assert.deepEqual(l.findConflictByTerm(6, 1), { index: 2, term: 1 });
  assert.deepEqual(l.findConflictByTerm(6, 0), { index: 0, term: 0 });
  assert.throws(() => l.findConflictByTerm(8, 6), AssertionError, 'beyond the last index');
  // Compacted terms are unknown: a possible match, with term 0.
  const s = new MemoryStorage();
  s.applySnapshot(snap(4, 2));
  s.append([ent(5, 5), ent(6, 5)]);
  const c = new RaftLog(s, silentLogger, Infinity);
  assert.deepEqual(c.findConflictByTerm(6, 3), { index: 4, term: 2 }, 'the snapshot term is known');
  s.compact(5);
  const c2 = new RaftLog(s, silentLogger, Infinity);
  // Now 5 is the dummy entry (term 5) and 4 is compacted: unknown, a possible match.
  assert.deepEqual(c2.findConflictByTerm(6, 3), { index: 4, term: 0 });
});

test('maybeAppend: appends after a match, truncates a conflicting tail, and commits no further than it verified', () => {
  // Log: 1:1 2:2 3:3, committed 1.
  const mk = () => {
    const l = log(ents(1, 2, 3));
    l.commitTo(1);
    return l;
  };
  let l = mk();
  assert.equal(l.maybeAppend(3, 2, 3, []), undefined, 'prev term mismatch');
  assert.equal(l.maybeAppend(4, 3, 3, []), undefined, 'prev index beyond our log');

  l = mk();
  assert.equal(l.maybeAppend(3, 3, 3, []), 3);
  assert.equal(l.committed, 3);

  l = mk();
  assert.equal(l.maybeAppend(3, 3, 5, [ent(4, 4)]), 4);
  assert.equal(l.committed, 4, 'commit is capped at the last new entry');
  assert.equal(l.lastIndex(), 4);

  l = mk();
  assert.equal(l.maybeAppend(1, 1, 3, [ent(2, 4)]), 2);
  assert.equal(l.lastIndex(), 2, 'the conflicting tail 2:2 3:3 is replaced');
  assert.equal(l.term(2), 4);

  l = mk();
  assert.equal(l.maybeAppend(1, 1, 1, [ent(2, 2)]), 2);
  assert.equal(l.lastIndex(), 3, 'an entry we already have keeps what follows');
  assert.equal(l.committed, 1);

  l = mk();
  l.commitTo(3);
  assert.throws(() => l.maybeAppend(1, 1, 3, [ent(2, 4)]), AssertionError, 'overwriting committed entries is a broken invariant');
});

test('commitTo never goes back and never past the last index', () => {
  const l = log(ents(1, 2, 3));
  l.commitTo(2);
  l.commitTo(1);
  assert.equal(l.committed, 2);
  assert.throws(() => l.commitTo(4), AssertionError);
});

test('maybeCommit only commits an entry of the given term', () => {
  const l = log(ents(1, 2, 2));
  assert.equal(l.maybeCommit(3, 1), false);
  assert.equal(l.maybeCommit(3, 2), true);
  assert.equal(l.committed, 3);
  assert.equal(l.maybeCommit(2, 2), false, 'not backwards');
});

test('isUpToDate: higher last term wins, then longer log', () => {
  const l = log(ents(1, 2, 3));
  assert.equal(l.isUpToDate(1, 4), true);
  assert.equal(l.isUpToDate(2, 3), false);
  assert.equal(l.isUpToDate(3, 3), true);
  assert.equal(l.isUpToDate(4, 3), true);
  assert.equal(l.isUpToDate(9, 2), false);
});

test('term answers across storage and unstable entries, undefined outside the log', () => {
  const l = log(ents(1, 2), [ent(3, 3), ent(4, 3)]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => l.term(i)), [0, 1, 2, 3, 3, undefined]);
  const s = new MemoryStorage();
  s.applySnapshot(snap(10, 4));
  const c = new RaftLog(s, silentLogger, Infinity);
  assert.equal(c.term(9), undefined, 'compacted');
  assert.equal(c.term(10), 4, 'the snapshot entry');
  assert.equal(c.firstIndex(), 11);
  assert.equal(c.committed, 10, 'everything in a snapshot is committed');
  assert.equal(c.applied, 10);
});

test('slice spans storage and unstable entries and honours the size limit', () => {
  const l = log(ents(1, 1, 1), [ent(4, 2), ent(5, 2)]);
  assert.deepEqual(l.slice(2, 6, Infinity)!.map((e) => e.index), [2, 3, 4, 5]);
  assert.deepEqual(l.slice(4, 6, Infinity)!.map((e) => e.index), [4, 5]);
  const size = entrySizeBytes(ent(1, 1));
  assert.deepEqual(l.slice(2, 6, 2 * size)!.map((e) => e.index), [2, 3], 'stops in storage');
  assert.deepEqual(l.slice(3, 6, 2 * size)!.map((e) => e.index), [3, 4], 'spans into unstable');
  assert.deepEqual(l.slice(2, 6, 0)!.map((e) => e.index), [2], 'at least one');
  assert.throws(() => l.slice(2, 7, Infinity), AssertionError);
  const s = new MemoryStorage();
  s.applySnapshot(snap(3, 1));
  s.append([ent(4, 1)]);
  assert.equal(new RaftLog(s, silentLogger, Infinity).slice(3, 5, Infinity), null, 'compacted');
});

test('nextEnts hands out committed, unapplied entries within the per-Ready size limit', () => {
  const size = entrySizeBytes(ent(1, 1));
  const l = log(ents(1, 1, 1, 1), [], 2 * size);
  assert.equal(l.hasNextEnts(), false);
  l.commitTo(3);
  assert.deepEqual(l.nextEnts().map((e) => e.index), [1, 2]);
  l.appliedTo(2);
  assert.deepEqual(l.nextEnts().map((e) => e.index), [3]);
  l.appliedTo(3);
  assert.equal(l.hasNextEnts(), false);
  assert.throws(() => l.appliedTo(4), AssertionError, 'cannot apply past commit');
  assert.throws(() => l.appliedTo(2), AssertionError, 'cannot go back');
});

test('restore replaces the log with a snapshot that is then pending', () => {
  const l = log(ents(1, 1, 2));
  l.restore(snap(10, 3));
  assert.equal(l.firstIndex(), 11);
  assert.equal(l.lastIndex(), 10);
  assert.equal(l.committed, 10);
  assert.equal(l.hasPendingSnapshot(), true);
  assert.equal(l.term(10), 3);
  assert.equal(l.hasNextEnts(), false, 'nothing to apply beyond the snapshot');
  l.stableSnapTo(10);
  assert.equal(l.hasPendingSnapshot(), false);
});

test('unstable: stableTo drops persisted entries only if they were not replaced meanwhile', () => {
  const u = new Unstable(5, silentLogger);
  u.truncateAndAppend([ent(5, 1), ent(6, 1), ent(7, 1)]);
  u.stableTo(6, 2);
  assert.equal(u.offset, 5, 'term mismatch: entry 6 was replaced, keep it');
  u.stableTo(6, 1);
  assert.equal(u.offset, 7);
  assert.equal(u.length, 1);
  u.stableTo(4, 1);
  assert.equal(u.offset, 7, 'below the unstable entries: nothing');
});

test('unstable: truncateAndAppend appends, replaces, or truncates then appends', () => {
  const u = new Unstable(5, silentLogger);
  u.truncateAndAppend([ent(5, 1), ent(6, 1)]);
  const handedOut = u.unstableEntries();
  u.truncateAndAppend([ent(7, 1)]);
  assert.deepEqual(u.slice(5, 8).map((e) => e.index), [5, 6, 7]);
  u.truncateAndAppend([ent(6, 2)]);
  assert.deepEqual(u.slice(5, 7).map((e) => `${e.index}:${e.term}`), ['5:1', '6:2']);
  u.truncateAndAppend([ent(4, 3)]);
  assert.equal(u.offset, 4);
  assert.deepEqual(u.slice(4, 5).map((e) => `${e.index}:${e.term}`), ['4:3']);
  assert.deepEqual(handedOut.map((e) => e.index), [5, 6], 'arrays handed out never change');
});

test('unstable: a pending snapshot answers first index, last index and its own term', () => {
  const u = new Unstable(1, silentLogger);
  assert.equal(u.maybeFirstIndex(), undefined);
  assert.equal(u.maybeLastIndex(), undefined);
  u.restore(snap(9, 4));
  assert.equal(u.maybeFirstIndex(), 10);
  assert.equal(u.maybeLastIndex(), 9);
  assert.equal(u.maybeTerm(9), 4);
  assert.equal(u.maybeTerm(8), undefined);
  u.truncateAndAppend([ent(10, 4)]);
  assert.equal(u.maybeLastIndex(), 10);
});
