import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../pkg';
import { EMPTY_BYTES, EMPTY_CONF_STATE, Entry } from '../raft';
import { Disk } from './disk';

const ent = (index: number, term: number): Entry => ({ index, term, type: 'EntryNormal', data: EMPTY_BYTES });
const snap = { data: EMPTY_BYTES, metadata: { index: 5, term: 2, confState: { ...EMPTY_CONF_STATE, voters: [1n] } } };

test('a write becomes durable only when its fsync completes', () => {
  const d = new Disk();
  d.write({ snapshot: null, entries: [ent(1, 1), ent(2, 1)], hardState: { term: 1, vote: 1n, commit: 1 } });
  assert.equal(d.storage.lastIndex(), 0, 'nothing durable before sync');
  d.sync();
  assert.equal(d.storage.lastIndex(), 2);
  assert.deepEqual(d.storage.initialState().hardState, { term: 1, vote: 1n, commit: 1 });
});

test('a crash loses the un-synced write: entries, hard state and snapshot', () => {
  const d = new Disk();
  d.write({ snapshot: null, entries: [ent(1, 1)], hardState: { term: 1, vote: 0n, commit: 0 } });
  d.sync();
  d.write({ snapshot: snap, entries: [ent(6, 2)], hardState: { term: 2, vote: 2n, commit: 6 } });
  d.crash(false);
  assert.equal(d.storage.lastIndex(), 1);
  assert.equal(d.storage.snapshot().metadata.index, 0);
  assert.deepEqual(d.storage.initialState().hardState, { term: 1, vote: 0n, commit: 0 });
  assert.equal(d.busy, false);
});

test('un-synced data may also survive a crash, written in order snapshot, entries, hard state', () => {
  const d = new Disk();
  d.write({ snapshot: snap, entries: [ent(6, 2)], hardState: { term: 2, vote: 2n, commit: 6 } });
  d.crash(true);
  assert.equal(d.storage.snapshot().metadata.index, 5);
  assert.equal(d.storage.lastIndex(), 6);
  assert.equal(d.storage.initialState().hardState.commit, 6);
});

test('one write at a time: a second write before the fsync is a broken invariant', () => {
  const d = new Disk();
  d.write({ snapshot: null, entries: [ent(1, 1)], hardState: null });
  assert.throws(() => d.write({ snapshot: null, entries: [ent(2, 1)], hardState: null }), AssertionError);
  assert.throws(() => new Disk().sync(), AssertionError);
});
