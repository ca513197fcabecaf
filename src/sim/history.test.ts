import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, HISTORY_CAPACITY } from './history';

test('the history keeps the last HISTORY_CAPACITY records, oldest first, stamped with virtual time', () => {
  let now = 0;
  const h = new History(() => now);
  for (let i = 0; i < HISTORY_CAPACITY; i++) h.add(`e${i}`);
  assert.deepEqual(h.tail(2), [`t=0ms e${HISTORY_CAPACITY - 2}`, `t=0ms e${HISTORY_CAPACITY - 1}`]);
  assert.equal(h.tail(HISTORY_CAPACITY + 5).length, HISTORY_CAPACITY);
  now = 7;
  h.add('wrapped'); // one past capacity: the oldest record goes
  const all = h.tail(HISTORY_CAPACITY);
  assert.equal(all.length, HISTORY_CAPACITY);
  assert.equal(all[0], 't=0ms e1');
  assert.equal(all[HISTORY_CAPACITY - 1], 't=7ms wrapped');
  assert.equal(h.count, HISTORY_CAPACITY + 1);
});
