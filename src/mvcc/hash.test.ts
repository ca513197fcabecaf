/**
 * HashKV and Hash on a history small enough to work out by hand. The expected values are the
 * CRC-32C of the byte strings written out below, computed once with a bit-by-bit CRC-32C
 * (polynomial 0x82F63B78, independent of src/pkg's table-driven one):
 *
 *   rev 2 put foo=bar, rev 3 put foo=baz, rev 4 delete foo, rev 5 put a=1, then compact at 3.
 *
 *   k2 = 0000000000000002 5f 0000000000000000      v2 = 0a03666f6f 1002 1802 2001 2a03626172
 *   k3 = 0000000000000003 5f 0000000000000000      v3 = 0a03666f6f 1002 1803 2002 2a0362617a
 *   k4 = 0000000000000004 5f 0000000000000000 74   v4 = 0a03666f6f
 *   k5 = 0000000000000005 5f 0000000000000000      v5 = 0a0161 1005 1805 2001 2a0131
 *
 * Before compaction, HashKV(5) = crc("key" k2 v2 k3 v3 k4 v4 k5 v5) = 1967179850.
 * After it the bucket holds k3 (foo's value at 3), k4, k5. HashKV(5): a compaction at 5 would
 * keep only a@5, so k3 (at or below the compaction revision, not kept) is skipped:
 * crc("key" k4 v4 k5 v5) = 3151081578. HashKV(4): nothing is alive at 4, the keep set is empty
 * and etcd then skips nothing: crc("key" k3 v3 k4 v4) = 588758777.
 * Hash of a store holding only rev 2, with a consistent index set: buckets in name order,
 * consistent_index skipped: crc("key" k2 v2 "meta") = 3910273899.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { ERR_COMPACTED, ERR_FUTURE_REV } from './errors';
import { b, closeStore, openStore, tempDir } from './test-store';

test('HashKV equals the hand-computed CRC-32C before and after compaction', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  try {
    s.store.put(b('foo'), b('bar'));
    s.store.put(b('foo'), b('baz'));
    s.store.deleteRange(b('foo'), null);
    s.store.put(b('a'), b('1'));
    assert.deepEqual(await s.store.hashKV(0), { hash: 1967179850, revision: 5, compactRevision: -1 });
    await s.store.compact(3);
    assert.deepEqual(await s.store.hashKV(5), { hash: 3151081578, revision: 5, compactRevision: 3 });
    assert.deepEqual(await s.store.hashKV(0), { hash: 3151081578, revision: 5, compactRevision: 3 });
    assert.deepEqual(await s.store.hashKV(4), { hash: 588758777, revision: 5, compactRevision: 3 });
    assert.throws(() => s.store.hashKV(3), (e: unknown) => isFloeError(e, ERR_COMPACTED));
    assert.throws(() => s.store.hashKV(6), (e: unknown) => isFloeError(e, ERR_FUTURE_REV));
  } finally {
    await closeStore(s);
    cleanup();
  }
});

test('Hash covers every bucket in name order and skips the consistent index', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  try {
    s.store.setConsistentIndex(77);
    s.store.put(b('foo'), b('bar'));
    assert.deepEqual(await s.store.hash(), { hash: 3910273899, revision: 2 });
    s.store.setConsistentIndex(78);
    s.store.commit();
    assert.deepEqual(await s.store.hash(), { hash: 3910273899, revision: 2 }, 'a new consistent index changes nothing');
  } finally {
    await closeStore(s);
    cleanup();
  }
});

test('a hash waits for a compaction asked before it, and sees its result', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'), { compactionBatchKeys: 1, hashBatchRecords: 1 });
  try {
    s.store.put(b('foo'), b('bar'));
    s.store.put(b('foo'), b('baz'));
    s.store.deleteRange(b('foo'), null);
    s.store.put(b('a'), b('1'));
    void s.store.compact(3);
    const h = s.store.hashKV(5);
    // Writes go on while both run; they are above revision 5 and change neither answer.
    s.store.put(b('z'), b('later'));
    assert.deepEqual(await h, { hash: 3151081578, revision: 5, compactRevision: 3 });
  } finally {
    await closeStore(s);
    cleanup();
  }
});
