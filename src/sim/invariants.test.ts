import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_CONF_STATE, Entry, MemoryStorage } from '../raft';
import { Checker, checkLogsMatch, InvariantViolation } from './invariants';
import { bytes } from './state-machine';

const ent = (index: number, term: number, data = ''): Entry => ({ index, term, type: 'EntryNormal', data: bytes(data) });
const broken = (property: string) => (e: unknown) => e instanceof InvariantViolation && e.property === property;
function log(entries: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(entries);
  return s;
}

test('two leaders in one term are reported; one leader per term is fine', () => {
  const c = new Checker();
  c.leaderSeen(1n, 2);
  c.leaderSeen(1n, 2);
  c.leaderSeen(2n, 3);
  assert.throws(() => c.leaderSeen(3n, 2), broken('one leader per term'));
});

test('log matching: one (index, term) may name only one entry with one predecessor', () => {
  const c = new Checker();
  const a = log([ent(1, 1, 'x'), ent(2, 2, 'y')]);
  c.entriesPersisted(1n, a, [ent(1, 1, 'x'), ent(2, 2, 'y')]);
  const b = log([ent(1, 1, 'x'), ent(2, 2, 'y')]);
  c.entriesPersisted(2n, b, [ent(1, 1, 'x'), ent(2, 2, 'y')]);
  const other = log([ent(1, 1, 'x'), ent(2, 2, 'z')]);
  assert.throws(() => c.entriesPersisted(3n, other, [ent(2, 2, 'z')]), broken('log matching'));
  const otherPrev = log([ent(1, 2, 'x'), ent(2, 2, 'y')]);
  assert.throws(() => c.entriesPersisted(3n, otherPrev, [ent(1, 2, 'x'), ent(2, 2, 'y')]), broken('log matching'));
});

test('the full log comparison finds logs that differ below a common entry', () => {
  const a = log([ent(1, 1, 'x'), ent(2, 1, 'y'), ent(3, 2, 'w')]);
  const b = log([ent(1, 1, 'x'), ent(2, 1, 'Q'), ent(3, 2, 'w')]);
  const c = log([ent(1, 1, 'x'), ent(2, 1, 'y'), ent(3, 3, 'v')]);
  checkLogsMatch([{ id: 1n, storage: a }, { id: 3n, storage: c }]); // diverge only at 3: allowed
  assert.throws(() => checkLogsMatch([{ id: 1n, storage: a }, { id: 2n, storage: b }]), broken('log matching'));
});

test('different entries applied at one index are reported', () => {
  const c = new Checker();
  c.appliedAt(1n, 5, 2, 111, 2);
  c.appliedAt(2n, 5, 2, 111, 3);
  assert.throws(() => c.appliedAt(3n, 5, 2, 222, 3), broken('same entry applied at each index'));
});

test('a leader missing an entry committed in an earlier term is reported', () => {
  const c = new Checker();
  c.appliedAt(1n, 1, 1, 1, 1);
  c.appliedAt(1n, 2, 1, 2, 1);
  c.leaderLog(2n, 2, log([ent(1, 1), ent(2, 1), ent(3, 2)]));
  c.leaderLog(3n, 1, log([ent(1, 1)])); // same term as the commit: not required
  assert.throws(() => c.leaderLog(3n, 3, log([ent(1, 1)])), broken('leader completeness'));
  assert.throws(() => c.leaderLog(3n, 3, log([ent(1, 1), ent(2, 2)])), broken('leader completeness'));
});

test('an acknowledged write must be durable on a quorum of the smallest recent configuration', () => {
  const c = new Checker();
  const three = { ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n] };
  const five = { ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n, 4n, 5n] };
  c.acknowledged({ proposal: 1, key: 'a', index: 3, term: 1 }, 2, [three, five]);
  assert.throws(() => c.acknowledged({ proposal: 2, key: 'a', index: 4, term: 1 }, 1, [three]), broken('acknowledged write durable on a quorum'));
  assert.throws(() => c.ackedAppliedOn(2n, 2), broken('acknowledged writes applied everywhere'));
  c.ackedAppliedOn(2n, 3);
});

test('a read must be served at or after every write acknowledged before it started', () => {
  const c = new Checker();
  const three = { ...EMPTY_CONF_STATE, voters: [1n, 2n, 3n] };
  c.acknowledged({ proposal: 1, key: 'a', index: 7, term: 1 }, 3, [three]);
  const r = c.startRead('r1');
  c.acknowledged({ proposal: 2, key: 'b', index: 9, term: 1 }, 3, [three]); // after the start: not required
  assert.throws(() => c.readIndexed(1n, r, 6), broken('ReadIndex sees acknowledged writes'));
  c.readIndexed(1n, r, 7);
  c.readServed(1n, r, new Map([['a', { proposal: 1, index: 7 }]]));
  assert.throws(() => c.readServed(1n, r, new Map([['a', { proposal: 0, index: 4 }]])), broken('ReadIndex sees acknowledged writes'));
});
