/** etcd's schema facts: bucket names, meta keys and their value encodings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import * as schema from './schema';

test('bucket and meta key names are etcd 3.4 bytes', () => {
  const names = [
    schema.KEY_BUCKET, schema.META_BUCKET, schema.LEASE_BUCKET, schema.ALARM_BUCKET, schema.AUTH_BUCKET, schema.AUTH_USERS_BUCKET,
    schema.AUTH_ROLES_BUCKET, schema.MEMBERS_BUCKET, schema.MEMBERS_REMOVED_BUCKET, schema.CLUSTER_BUCKET,
    schema.CONSISTENT_INDEX_KEY, schema.SCHEDULED_COMPACT_KEY, schema.FINISHED_COMPACT_KEY,
  ].map((x) => x.toString('latin1'));
  assert.deepEqual(names, [
    'key', 'meta', 'lease', 'alarm', 'auth', 'authUsers', 'authRoles', 'members', 'members_removed', 'cluster',
    'consistent_index', 'scheduledCompactRev', 'finishedCompactRev',
  ]);
});

test('the consistent index is 8 bytes big-endian and round-trips up to 2^53 - 1', () => {
  assert.deepEqual(schema.encodeConsistentIndex(0x0102030405), Buffer.from('0000000102030405', 'hex'));
  for (const i of [0, 1, 255, 2 ** 32, 2 ** 53 - 1]) assert.equal(schema.decodeConsistentIndex(schema.encodeConsistentIndex(i)), i);
  assert.throws(() => schema.decodeConsistentIndex(Buffer.from('0020000000000000', 'hex')), (e: unknown) => isFloeError(e, schema.ERR_BAD_META));
  assert.throws(() => schema.decodeConsistentIndex(Buffer.alloc(7)), (e: unknown) => isFloeError(e, schema.ERR_BAD_META));
  assert.throws(() => schema.encodeConsistentIndex(-1), (e: unknown) => isFloeError(e, schema.ERR_BAD_META));
});

test('compaction revisions are the 17-byte revision key of (main, 0)', () => {
  const enc = schema.encodeCompactRevision(0x1234);
  assert.deepEqual(enc, Buffer.from('0000000000001234' + '5f' + '0000000000000000', 'hex'));
  assert.equal(schema.decodeCompactRevision(enc), 0x1234);
});
