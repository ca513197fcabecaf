/**
 * Compaction: runs in bounded batches that yield to the event loop, so writes and reads go on
 * between batches with the right answers; the scheduled revision is on disk before anything is
 * removed, and a compaction cut short by a crash resumes on open and ends with the same records
 * as one that ran through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { ERR_COMPACTED } from './errors';
import { KEY_BUCKET, META_BUCKET, FINISHED_COMPACT_KEY, SCHEDULED_COMPACT_KEY, decodeCompactRevision } from './schema';
import { KvModel } from './test-kv-model';
import { b, closeStore, crashCopy, openStore, tempDir, tick, type OpenStore } from './test-store';
import { NO_LEASE } from './kv-codec';

const N = 300;

/** Writes N keys three times each and deletes every third: 3N + 1 revisions of history. */
function fill(s: OpenStore, model: KvModel): void {
  let ci = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < N; i++) {
      const key = `k${String(i).padStart(4, '0')}`;
      s.store.setConsistentIndex(++ci);
      s.store.put(b(key), b(`${round}`));
      const t = model.begin(ci);
      t.put(key, b(`${round}`), NO_LEASE);
      t.end();
    }
  }
  s.store.setConsistentIndex(++ci);
  const t = model.begin(ci);
  s.store.inWrite((txn) => {
    for (let i = 0; i < N; i += 3) {
      const key = `k${String(i).padStart(4, '0')}`;
      txn.deleteRange(b(key), null);
      t.deleteRange(key, null);
    }
  });
  t.end();
}

function records(s: OpenStore): [Buffer, Buffer][] {
  s.batch.commit();
  return s.db.view((tx) => {
    const out: [Buffer, Buffer][] = [];
    tx.bucket(KEY_BUCKET)?.forEach((k, v) => out.push([Buffer.from(k), Buffer.from(v as Buffer)]));
    return out;
  });
}

function meta(s: OpenStore, key: Buffer): number | null {
  const v = s.db.view((tx) => tx.bucket(META_BUCKET)?.get(key) ?? null);
  return v === null ? null : decodeCompactRevision(v);
}

test('compaction runs in batches; writes and reads go on between them with the right answers', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'), { compactionBatchKeys: 25 });
  try {
    const model = new KvModel();
    fill(s, model);
    const at = 2 * N + 1; // after the second round
    const commitsBefore = s.batch.commits;
    const done = s.store.compact(at);
    assert.equal(meta(s, SCHEDULED_COMPACT_KEY), at, 'scheduled revision committed before compact() returns');
    assert.equal(meta(s, FINISHED_COMPACT_KEY), null);
    model.compactRev = at;
    let finished = false;
    void done.then(() => (finished = true));
    let turns = 0;
    let ci = 10_000;
    while (!finished) {
      // A write and reads on every turn while the compaction is under way.
      const key = `w${turns}`;
      s.store.setConsistentIndex(++ci);
      s.store.put(b(key), b('x'));
      const t = model.begin(ci);
      t.put(key, b('x'), NO_LEASE);
      t.end();
      const rev = at + (turns % (model.currentRev - at + 1));
      assert.deepEqual(s.store.range(b('k'), b('l'), { revision: rev }).kvs, model.rangeAt('k', 'l', rev), `read at ${rev} during compaction`);
      assert.throws(() => s.store.range(b('k0001'), null, { revision: at - 1 }), (e: unknown) => isFloeError(e, ERR_COMPACTED));
      await tick();
      turns++;
      assert.ok(turns < 10_000, 'compaction never finished');
    }
    // Index: ceil(N / 25) batches; backend: the 2N records up to `at` in batches of 25, one commit each.
    assert.ok(turns >= 2 * Math.ceil(N / 25), `compaction should take many turns, took ${turns}`);
    assert.ok(s.batch.commits - commitsBefore >= Math.floor((2 * N) / 25), 'each backend batch is committed');
    model.compact(at);
    assert.deepEqual(records(s), model.backendRecords());
    assert.equal(meta(s, FINISHED_COMPACT_KEY), at);
  } finally {
    await closeStore(s);
    cleanup();
  }
});

test('a compaction cut short by a crash resumes on open and leaves the same records', async () => {
  for (const crashAfterTurns of [0, 3, 20]) {
    const { dir, cleanup } = tempDir();
    const file = path.join(dir, 'db');
    const s = openStore(file, { compactionBatchKeys: 10 });
    try {
      const model = new KvModel();
      fill(s, model);
      const at = 2 * N + 7;
      s.store.commit();
      void s.store.compact(at);
      for (let i = 0; i < crashAfterTurns; i++) await tick();
      const crashFile = path.join(dir, 'crash');
      await crashCopy(s, file, crashFile);
      const r = openStore(crashFile, { compactionBatchKeys: 10 });
      try {
        assert.equal(r.store.compactRevision, at, 'the scheduled compaction is resumed');
        assert.equal(r.store.currentRevision, model.currentRev);
        await r.store.compactionIdle();
        model.compactRev = at;
        model.compact(at);
        assert.deepEqual(records(r), model.backendRecords());
        assert.equal(meta(r, FINISHED_COMPACT_KEY), at);
        assert.deepEqual(r.store.range(b('k'), b('l'), { revision: at }).kvs, model.rangeAt('k', 'l', at));
      } finally {
        await closeStore(r);
      }
    } finally {
      cleanup();
    }
  }
});

test('closing the store stops a compaction at a batch boundary; the next open finishes it', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'db');
  try {
    const s = openStore(file, { compactionBatchKeys: 10 });
    const model = new KvModel();
    fill(s, model);
    const done = s.store.compact(N);
    await tick();
    await closeStore(s);
    await done;
    const r = openStore(file, { compactionBatchKeys: 10 });
    assert.equal(meta(r, FINISHED_COMPACT_KEY), null, 'the stopped compaction did not claim to finish');
    await r.store.compactionIdle();
    model.compactRev = N;
    model.compact(N);
    assert.deepEqual(records(r), model.backendRecords());
    assert.equal(r.store.compactRevision, N);
    await closeStore(r);
  } finally {
    cleanup();
  }
});

test('compacting everything at the current revision keeps exactly the live pairs', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'), { compactionBatchKeys: 7 });
  try {
    const model = new KvModel();
    fill(s, model);
    await s.store.compact(model.currentRev);
    model.compactRev = model.currentRev;
    model.compact(model.currentRev);
    assert.equal(records(s).length, N - Math.ceil(N / 3));
    assert.deepEqual(records(s), model.backendRecords());
  } finally {
    await closeStore(s);
    cleanup();
  }
});
