/**
 * The KV store: etcd's revision, version and txn rules on small cases, every range option and
 * error at its edge, then a randomized history (puts, deletes, multi-op transactions,
 * compactions, clean restarts and crashes) checked step by step against a plain model
 * (test-kv-model.ts): ranges at every servable revision, the backend's records after each
 * compaction, the consistent index after a crash, lease attachments, and HashKV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { crc32c, isFloeError } from '../pkg';
import { KEY_BUCKET, CONSISTENT_INDEX_KEY, META_BUCKET, decodeConsistentIndex } from './schema';
import { ERR_COMPACTED, ERR_EMPTY_KEY, ERR_FUTURE_REV, ERR_KEY_NOT_FOUND, ERR_MVCC_CLOSED } from './errors';
import { NO_LEASE, type KeyValue, type LeaseId } from './kv-codec';
import type { LeaseAttacher } from './kv-txn';
import { KvModel, type ModelRecord } from './test-kv-model';
import { Rng } from './test-rng';
import { b, closeStore, crashCopy, forSeedsAsync, openStore, tempDir, type OpenStore } from './test-store';

const code = (c: string) => (e: unknown) => isFloeError(e, c);
const keys = (kvs: readonly KeyValue[]): string[] => kvs.map((kv) => kv.key.toString('latin1'));

/** A lease tracker for tests: a map, checked against the model. */
class MapLeases implements LeaseAttacher {
  readonly byKey = new Map<string, LeaseId>();
  leaseOf(key: Buffer): LeaseId {
    return this.byKey.get(key.toString('latin1')) ?? NO_LEASE;
  }
  attach(lease: LeaseId, key: Buffer): void {
    this.byKey.set(key.toString('latin1'), lease);
  }
  detach(lease: LeaseId, key: Buffer): void {
    const k = key.toString('latin1');
    assert.equal(this.byKey.get(k), lease, `detach of ${k} from a lease it is not attached to`);
    this.byKey.delete(k);
  }
}

function withStore(fn: (s: OpenStore, file: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, 'db');
    const s = openStore(file);
    try {
      await fn(s, file);
    } finally {
      if (!s.store.isClosed) await closeStore(s);
      cleanup();
    }
  };
}

test('revisions start at 1; each changing txn adds one; subs number the changes of a txn', withStore(({ store }) => {
  assert.equal(store.currentRevision, 1);
  assert.equal(store.compactRevision, -1);
  assert.equal(store.put(b('a'), b('1')).revision, 2);
  assert.equal(store.put(b('a'), b('2')).revision, 3);
  const txn = store.write();
  assert.equal(txn.revision, 3, 'a txn reads at the current revision until it changes something');
  txn.put(b('b'), b('x'));
  assert.equal(txn.revision, 4, 'and at its own revision after');
  txn.put(b('a'), b('3'));
  assert.deepEqual(txn.range(b('a'), null).kvs[0], { key: b('a'), createRevision: 2, modRevision: 4, version: 3, value: b('3'), lease: NO_LEASE });
  assert.equal(store.currentRevision, 3, 'not visible outside before end()');
  assert.equal(store.range(b('b'), null).count, 0);
  txn.end();
  assert.equal(store.currentRevision, 4);
  const events = store.range(b('a'), b('c')).kvs;
  assert.deepEqual(keys(events), ['a', 'b']);
  // A txn that changes nothing keeps the revision; a delete of nothing changes nothing.
  assert.deepEqual(store.deleteRange(b('zz'), null), { deleted: 0, revision: 4, prevKvs: [] });
  const empty = store.write();
  empty.range(b('a'), null);
  empty.end();
  assert.equal(store.currentRevision, 4);
  // Delete then re-create: a new life, version 1, new create revision.
  assert.deepEqual(store.deleteRange(b('a'), null), { deleted: 1, revision: 5, prevKvs: [] });
  store.put(b('a'), b('again'));
  assert.deepEqual(store.range(b('a'), null).kvs[0], { key: b('a'), createRevision: 6, modRevision: 6, version: 1, value: b('again'), lease: NO_LEASE });
  // Old revisions stay readable until compacted.
  assert.deepEqual(store.range(b('a'), null, { revision: 3 }).kvs[0]?.value, b('2'));
  assert.equal(store.range(b('a'), null, { revision: 5 }).count, 0);
}));

test('range ends: single key, [key, end), prefix, from key (empty or 0x00), all keys', withStore(({ store }) => {
  for (const k of ['a', 'ab', 'abc', 'b', 'b\u0000', 'c', '\u00ff']) store.put(b(k), b('v'));
  assert.deepEqual(keys(store.range(b('ab'), null).kvs), ['ab']);
  assert.deepEqual(keys(store.range(b('ab'), b('b')).kvs), ['ab', 'abc']);
  assert.deepEqual(keys(store.range(b('b'), b('c')).kvs), ['b', 'b\u0000']);
  assert.deepEqual(keys(store.range(b('b'), Buffer.from([0])).kvs), ['b', 'b\u0000', 'c', '\u00ff']);
  assert.deepEqual(keys(store.range(b('b'), Buffer.alloc(0)).kvs), ['b', 'b\u0000', 'c', '\u00ff']);
  assert.equal(store.range(Buffer.from([0]), Buffer.from([0])).count, 7);
  assert.equal(store.range(b('c'), b('a')).count, 0, 'an end before the key is an empty range');
}));

test('limit, count, more, count_only and keys_only at their edges', withStore(({ store }) => {
  for (const k of ['a', 'b', 'c']) store.put(b(k), b('value-' + k));
  const all = (o: object) => store.range(b('a'), b('z'), o);
  assert.deepEqual([all({ limit: 2 }).kvs.length, all({ limit: 2 }).count, all({ limit: 2 }).more], [2, 3, true]);
  assert.deepEqual([all({ limit: 3 }).kvs.length, all({ limit: 3 }).more], [3, false]);
  assert.deepEqual([all({ limit: 4 }).kvs.length, all({ limit: 4 }).more], [3, false]);
  assert.deepEqual([all({ limit: 0 }).kvs.length, all({ limit: -1 }).kvs.length], [3, 3], 'limit <= 0 means none');
  assert.deepEqual(all({ countOnly: true }), { kvs: [], count: 3, more: false, revision: 4 });
  const ko = all({ keysOnly: true }).kvs;
  assert.deepEqual(ko.map((kv) => [kv.key.toString(), kv.value.length, kv.version]), [['a', 0, 1], ['b', 0, 1], ['c', 0, 1]]);
}));

test('revision errors: future above current, compacted below the compaction revision, not at it', withStore(async ({ store }) => {
  for (let i = 0; i < 5; i++) store.put(b('k'), b(String(i)));
  assert.throws(() => store.range(b('k'), null, { revision: 7 }), code(ERR_FUTURE_REV));
  assert.equal(store.range(b('k'), null, { revision: 6 }).kvs[0]?.value.toString(), '4');
  await store.compact(4);
  assert.throws(() => store.range(b('k'), null, { revision: 3 }), code(ERR_COMPACTED));
  assert.equal(store.range(b('k'), null, { revision: 4 }).kvs[0]?.value.toString(), '2', 'the compaction revision itself stays readable');
  assert.throws(() => store.compact(4), code(ERR_COMPACTED));
  assert.throws(() => store.compact(3), code(ERR_COMPACTED));
  assert.throws(() => store.compact(7), code(ERR_FUTURE_REV));
  assert.throws(() => store.range(b('k'), null, { revision: 100 }), (e: unknown) => isFloeError(e, ERR_FUTURE_REV) && (e as Error).message === 'mvcc: required revision is a future revision');
}));

test('put options: prev_kv, ignore_value and ignore_lease need and use the previous pair', withStore(({ store }) => {
  assert.deepEqual(store.put(b('k'), b('v1'), { prevKv: true }), { revision: 2, prevKv: null });
  store.put(b('k'), b('v2'), { lease: 42n });
  const r = store.put(b('k'), b('ignored'), { ignoreValue: true, prevKv: true });
  assert.equal(r.prevKv?.value.toString(), 'v2');
  let kv = store.range(b('k'), null).kvs[0] as KeyValue;
  assert.deepEqual([kv.value.toString(), kv.lease, kv.version], ['v2', NO_LEASE, 3], 'ignore_value keeps the value; the lease is what was given');
  store.put(b('k'), b('v4'), { lease: 7n });
  store.put(b('k'), b('v5'), { ignoreLease: true });
  kv = store.range(b('k'), null).kvs[0] as KeyValue;
  assert.deepEqual([kv.value.toString(), kv.lease], ['v5', 7n]);
  const before = store.currentRevision;
  assert.throws(() => store.put(b('missing'), b(''), { ignoreValue: true }), code(ERR_KEY_NOT_FOUND));
  assert.throws(() => store.put(b('missing'), b(''), { ignoreLease: true }), code(ERR_KEY_NOT_FOUND));
  assert.equal(store.currentRevision, before, 'a refused put changes nothing');
  assert.throws(() => store.put(b(''), b('x')), code(ERR_EMPTY_KEY));
}));

test('delete_range returns prev_kvs in key order and one revision for all', withStore(({ store }) => {
  for (const k of ['a', 'b', 'c']) store.put(b(k), b(k + k));
  const r = store.deleteRange(b('a'), b('c'), { prevKv: true });
  assert.deepEqual([r.deleted, r.revision, r.prevKvs.map((kv) => kv.value.toString())], [2, 5, ['aa', 'bb']]);
  assert.deepEqual(keys(store.range(b('a'), Buffer.alloc(0)).kvs), ['c']);
}));

test('leases: the tracker hears every attach and detach, and gets them back after a restart', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'db');
  try {
    let leases = new MapLeases();
    let s = openStore(file, { leases });
    s.store.put(b('a'), b('1'), { lease: 5n });
    s.store.put(b('b'), b('1'), { lease: 5n });
    s.store.put(b('a'), b('2'), { lease: 6n });
    s.store.put(b('c'), b('1'), { lease: 6n });
    s.store.deleteRange(b('c'), null);
    s.store.put(b('b'), b('2'));
    assert.deepEqual([...leases.byKey], [['a', 6n]]);
    await closeStore(s);
    leases = new MapLeases();
    s = openStore(file, { leases });
    assert.deepEqual([...leases.byKey], [['a', 6n]]);
    await closeStore(s);
  } finally {
    cleanup();
  }
});

test('consistent index: written with the txn it covers, never split from it by a batch commit', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'db');
  try {
    // The batch limit is 5 operations. A txn of 4 puts plus the index is 5; arriving on a batch
    // holding 2, it crosses the limit: the batch commits once, after the whole txn.
    const s = openStore(file, { batchLimit: 5 });
    const committedCi = (): number => s.db.view((tx) => decodeConsistentIndex(tx.bucket(META_BUCKET)?.get(CONSISTENT_INDEX_KEY) as Buffer));
    s.store.setConsistentIndex(10);
    s.store.put(b('x'), b('0'));
    assert.equal(s.batch.pendingOps, 2, 'the put and the index');
    const commits = s.batch.commits;
    s.store.setConsistentIndex(11);
    s.store.inWrite((t) => ['a', 'b', 'c', 'd'].forEach((k) => t.put(b(k), b('1'))));
    assert.equal(s.batch.commits, commits + 1, 'one commit, after the txn (2 + 5 > 5)');
    assert.equal(s.batch.pendingOps, 0);
    assert.equal(committedCi(), 11);
    s.store.setConsistentIndex(12);
    s.store.put(b('y'), b('2'));
    assert.equal(s.batch.pendingOps, 2);
    assert.equal(committedCi(), 11, 'index 12 is not on disk until its txn is');
    const crashFile = file + '.crash';
    await crashCopy(s, file, crashFile);
    const r = openStore(crashFile);
    assert.equal(r.store.consistentIndex, 11);
    assert.deepEqual(keys(r.store.range(b('a'), Buffer.alloc(0)).kvs), ['a', 'b', 'c', 'd', 'x']);
    assert.equal(r.store.currentRevision, 3);
    await closeStore(r);
  } finally {
    cleanup();
  }
});

test('a closed store refuses work', withStore(async ({ store }) => {
  await store.close();
  assert.throws(() => store.range(b('a'), null), code(ERR_MVCC_CLOSED));
  assert.throws(() => store.put(b('a'), b('')), code(ERR_MVCC_CLOSED));
}));

// ---- the randomized model test ----

const KEYS = ['a', 'ab', 'abc', 'b', 'b\u0000', 'ba', 'c', 'ca', 'd', 'e\u00ff', 'f', 'g'];
const LEASES: LeaseId[] = [NO_LEASE, NO_LEASE, 5n, (1n << 62n) + 3n];

function randomRange(rng: Rng): [string, string | null] {
  const key = rng.pick(KEYS);
  const r = rng.int(10);
  if (r < 4) return [key, null];
  if (r < 5) return [key, rng.chance(0.5) ? '' : '\u0000'];
  if (r < 6) return ['\u0000', '\u0000'];
  return [key, rng.pick(KEYS)];
}

const endBuf = (end: string | null): Buffer | null => (end === null ? null : b(end));

function backendRecords(s: OpenStore): [Buffer, Buffer][] {
  s.batch.commit();
  return s.db.view((tx) => {
    const out: [Buffer, Buffer][] = [];
    tx.bucket(KEY_BUCKET)?.forEach((k, v) => out.push([Buffer.from(k), Buffer.from(v as Buffer)]));
    return out;
  });
}

function modelHashKV(model: KvModel, rev: number): number {
  const live = model.stateAt(rev);
  const keep = new Set<string>();
  for (const [k, l] of live) keep.add(`${l.kv.modRevision}.${l.sub}.${k}`);
  let crc = crc32c(b('key'));
  for (const [i, [rk, v]] of model.backendRecords().entries()) {
    const r = model.records[i] as ModelRecord;
    if (r.main > rev) break;
    if (r.main <= model.compactRev && keep.size > 0 && !keep.has(`${r.main}.${r.sub}.${r.key}`)) continue;
    crc = crc32c(v, crc32c(rk, crc));
  }
  return crc;
}

test('random histories agree with the model through compactions, restarts and crashes', async () => {
  await forSeedsAsync(6, async (seed) => {
    const rng = new Rng(seed);
    const { dir, cleanup } = tempDir();
    let file = path.join(dir, 'db');
    // Batch limit above the largest txn (4 ops x 12 keys + index), so commits split batches only between txns.
    const opts = { batchLimit: 50, compactionBatchKeys: 1 + rng.int(4) };
    let leases = new MapLeases();
    let s = openStore(file, { ...opts, leases });
    const model = new KvModel();
    let ci = 0;
    let pendingCompaction: Promise<void> | null = null;
    let compacting = -1;
    const settleCompaction = async (): Promise<void> => {
      if (pendingCompaction !== null) await pendingCompaction;
      pendingCompaction = null;
      if (compacting > 0) model.compact(compacting);
      compacting = -1;
      assert.deepEqual(backendRecords(s), model.backendRecords(), 'backend records after compaction');
    };
    try {
      for (let step = 0; step < 250; step++) {
        const what = rng.int(100);
        if (what < 60) {
          // One write txn of 1..4 ops (single puts and deletes are the 1-op case).
          ci++;
          s.store.setConsistentIndex(ci);
          const txn = s.store.write();
          const mtxn = model.begin(ci);
          const n = rng.chance(0.5) ? 1 : 1 + rng.int(4);
          for (let i = 0; i < n; i++) {
            if (rng.chance(0.7)) {
              const key = rng.pick(KEYS);
              const value = b(`v${step}.${i}`);
              const prev = mtxn.get(key);
              const ignoreValue = prev !== undefined && rng.chance(0.15);
              const ignoreLease = prev !== undefined && rng.chance(0.15);
              const lease = rng.pick(LEASES);
              const r = txn.put(b(key), value, { lease, prevKv: true, ignoreValue, ignoreLease });
              assert.deepEqual(r.prevKv, prev ?? null, 'put prev_kv');
              mtxn.put(key, ignoreValue ? (prev as KeyValue).value : value, ignoreLease ? (prev as KeyValue).lease : lease);
            } else {
              const [key, end] = randomRange(rng);
              const want = mtxn.rangeNow(key, end);
              const r = txn.deleteRange(b(key), endBuf(end), { prevKv: true });
              assert.deepEqual(r.prevKvs, want, 'delete prev_kvs');
              assert.equal(r.deleted, mtxn.deleteRange(key, end));
            }
            const [key, end] = randomRange(rng);
            assert.deepEqual(txn.range(b(key), endBuf(end)).kvs, mtxn.rangeNow(key, end), 'range inside the txn');
          }
          txn.end();
          assert.equal(s.store.currentRevision, mtxn.end());
        } else if (what < 68) {
          if (compacting === -1 && model.currentRev > model.compactRev) {
            const lo = Math.max(1, model.compactRev + 1);
            const rev = lo + rng.int(model.currentRev - lo + 1);
            pendingCompaction = s.store.compact(rev);
            compacting = rev;
            model.compactRev = rev;
            if (rng.chance(0.5)) await settleCompaction();
          }
        } else if (what < 72) {
          await settleCompaction();
          await closeStore(s);
          leases = new MapLeases();
          s = openStore(file, { ...opts, leases });
        } else if (what < 76) {
          // Crash: the file as the last commit left it. A compaction in flight resumes on open.
          const crashFile = path.join(dir, `crash${step}`);
          await crashCopy(s, file, crashFile);
          file = crashFile;
          leases = new MapLeases();
          s = openStore(file, { ...opts, leases });
          model.truncateAfter(s.store.consistentIndex);
          ci = Math.max(ci, s.store.consistentIndex);
          if (compacting > 0) pendingCompaction = s.store.compactionIdle();
          assert.equal(s.store.compactRevision, model.compactRev);
        } else if (what < 80) {
          await settleCompaction();
          const lo = Math.max(1, model.compactRev + 1);
          const rev = rng.chance(0.3) || lo > model.currentRev ? 0 : lo + rng.int(model.currentRev - lo + 1);
          const h = await s.store.hashKV(rev);
          assert.deepEqual(h, { hash: modelHashKV(model, rev === 0 ? model.currentRev : rev), revision: model.currentRev, compactRevision: model.compactRev });
        } else {
          // Let a compaction batch or two run while the history goes on.
          await new Promise((r) => setImmediate(r));
        }

        // Every step: the current state, and a few reads at servable revisions.
        assert.equal(s.store.currentRevision, model.currentRev, 'current revision');
        assert.equal(s.store.compactRevision, model.compactRev, 'compaction revision');
        assert.deepEqual([...leases.byKey].sort(), [...model.leases()].sort(), 'lease attachments');
        for (let q = 0; q < 3; q++) {
          const [key, end] = randomRange(rng);
          const lo = Math.max(1, model.compactRev);
          const rev = lo + rng.int(model.currentRev - lo + 1);
          const want = model.rangeAt(key, end, rev);
          const limit = rng.chance(0.3) ? 1 + rng.int(3) : 0;
          const got = s.store.range(b(key), endBuf(end), { revision: rev, limit });
          const wantKvs = limit > 0 ? want.slice(0, limit) : want;
          assert.deepEqual(got, { kvs: wantKvs, count: want.length, more: wantKvs.length < want.length, revision: model.currentRev }, `range ${JSON.stringify([key, end])} at ${rev}`);
        }
        if (model.compactRev > 1) {
          assert.throws(() => s.store.range(b('a'), null, { revision: model.compactRev - 1 }), code(ERR_COMPACTED));
        }
        assert.throws(() => s.store.range(b('a'), null, { revision: model.currentRev + 1 }), code(ERR_FUTURE_REV));
      }
      await settleCompaction();
    } finally {
      await closeStore(s);
      cleanup();
    }
  });
});

test('options are validated at their edges', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bad = (opts: object): void => {
      assert.throws(() => openStore(path.join(dir, `bad${Math.random()}`), opts), (e: unknown) => isFloeError(e, 'ERR_BAD_OPTION'), JSON.stringify(opts));
    };
    bad({ compactionBatchKeys: 0 });
    bad({ compactionBatchKeys: 1.5 });
    bad({ hashBatchRecords: 0 });
    bad({ compactionPauseMs: -1 });
    bad({ maxWatchersPerSync: 0 });
    bad({ catchUpBatchRecords: 0 });
    const s = openStore(path.join(dir, 'ok'), { compactionBatchKeys: 1, hashBatchRecords: 1, maxWatchersPerSync: 1, catchUpBatchRecords: 1 });
    s.store.put(b('a'), b('1'));
    s.store.put(b('a'), b('2'));
    await s.store.compact(3);
    assert.equal(s.store.range(b('a'), null).kvs[0]?.value.toString(), '2');
    assert.throws(() => s.store.newWatchStream({ maxQueuedResponses: 0 }), (e: unknown) => isFloeError(e, 'ERR_BAD_OPTION'));
    assert.equal(s.store.newWatchStream({ maxQueuedResponses: 1 }).maxQueuedResponses, 1);
    await closeStore(s);
  } finally {
    cleanup();
  }
});
