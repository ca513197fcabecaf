/**
 * The pure checks of scenario.ts (no cluster): serializable reads must be consistent
 * snapshots of the linearized writes at their own revision, and may be stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kv, type WriteEvent } from './checker';
import { checkSerializableReads } from './scenario';
import type { SerializableRead } from './client';

const writes: WriteEvent[] = [
  { revision: 2, type: 'put', key: 'key/1', kv: kv('key/1', 'a', 2, 2, 1), prevKv: null },
  { revision: 3, type: 'put', key: 'key/2', kv: kv('key/2', 'b', 3, 3, 1), prevKv: null },
  { revision: 4, type: 'delete', key: 'key/1', kv: null, prevKv: kv('key/1', 'a', 2, 2, 1) },
];

function read(revision: number, kvs: ReturnType<typeof kv>[]): SerializableRead {
  return { clientId: 1, endpoint: 'm1', request: { type: 'range', key: 'key/', rangeEnd: 'key0' }, revision, result: { type: 'range', kvs, count: kvs.length, more: false } };
}

test('a stale serializable read that matches the writes at its own revision passes', () => {
  assert.deepEqual(checkSerializableReads([read(3, [kv('key/1', 'a', 2, 2, 1), kv('key/2', 'b', 3, 3, 1)]), read(1, []), read(4, [kv('key/2', 'b', 3, 3, 1)])], writes), []);
});

test('a read missing a write at or below its revision, showing a deleted key, or beyond the last write fails', () => {
  const bad = checkSerializableReads([read(3, [kv('key/2', 'b', 3, 3, 1)]), read(4, [kv('key/1', 'a', 2, 2, 1), kv('key/2', 'b', 3, 3, 1)]), read(9, [])], writes);
  assert.equal(bad.length, 3, bad.join('\n'));
  assert.match(bad[2]!, /beyond the last linearized write 4/);
});
