/**
 * RangeReader: a range read in slices at a pinned revision sees exactly what a one-turn read
 * at that revision sees, whatever is written or compacted between its slices; a compaction
 * above the pinned revision removes nothing until the reader closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { ERR_COMPACTED, ERR_FUTURE_REV } from './errors';
import { decodeKeyValue, type KeyValue } from './kv-codec';
import { Rng } from './test-rng';
import { b, closeStore, forSeedsAsync, openStore, tempDir, tick } from './test-store';

/** Reads the whole reader, calling `between` after every slice. */
async function readAll(step: (fn: (r: Buffer) => void) => boolean, between: () => void | Promise<void>): Promise<KeyValue[]> {
  const out: KeyValue[] = [];
  while (!step((r) => out.push(decodeKeyValue(Buffer.from(r))))) await between();
  return out;
}

test('slices at a pinned revision equal a one-turn read there, with writes and compactions between slices', async () => {
  await forSeedsAsync(4, async (seed) => {
    const rng = new Rng(seed);
    const { dir, cleanup } = tempDir();
    const s = openStore(path.join(dir, 'db'), { compactionBatchKeys: 3 });
    try {
      const key = (): Buffer => b(`k${rng.int(200).toString().padStart(3, '0')}`);
      for (let i = 0; i < 600; i++) {
        if (rng.chance(0.2)) s.store.deleteRange(key(), null);
        else if (rng.chance(0.2)) {
          // Several puts in one revision: records with sub revisions above 0.
          const keys = new Set(Array.from({ length: 2 + rng.int(4) }, () => key().toString()));
          s.store.inWrite((t) => {
            for (const k of keys) t.put(b(k), rng.bytes(1 + rng.int(20), 8));
          });
        } else s.store.put(key(), rng.bytes(1 + rng.int(20), 8));
      }
      const at = s.store.currentRevision - rng.int(300);
      const limit = rng.chance(0.5) ? 0 : 1 + rng.int(100);
      const want = s.store.range(b('k'), b('l'), { revision: at, limit });
      const sweep = rng.chance(0.7) ? { windowRevs: 1 + rng.int(60), sweepMinRevs: 1 + rng.int(8), sweepFactor: 1 + rng.int(40) } : {};
      const reader = s.store.openRange(b('k'), b('l'), { revision: at, limit, ...sweep });
      const compactions: Array<Promise<void>> = [];
      const got = await readAll(
        (fn) => reader.step(1 + rng.int(9), fn),
        async () => {
          for (let w = rng.int(4); w > 0; w--) {
            if (rng.chance(0.3)) s.store.deleteRange(key(), null);
            else s.store.put(key(), rng.bytes(5, 8));
          }
          // A compaction above the pinned revision, requested mid-read, must wait for it.
          const rev = s.store.currentRevision - rng.int(3);
          if (rng.chance(0.1) && rev > s.store.compactRevision) compactions.push(s.store.compact(rev));
          await tick();
        },
      );
      assert.equal(reader.count, want.count);
      reader.close();
      assert.deepEqual(got, want.kvs);
      await Promise.all(compactions);
    } finally {
      await closeStore(s);
      cleanup();
    }
  });
});

test('a compaction above a pinned revision removes nothing until the reader closes', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'), { compactionBatchKeys: 2 });
  try {
    for (let i = 0; i < 20; i++) s.store.put(b(`k${i.toString().padStart(2, '0')}`), b(`old${i}`));
    const pinned = s.store.currentRevision;
    for (let i = 0; i < 20; i++) s.store.put(b(`k${i.toString().padStart(2, '0')}`), b(`new${i}`));
    const reader = s.store.openRange(b('k'), b('l'), { revision: pinned });
    const firstSlice: string[] = [];
    reader.step(5, (r) => firstSlice.push(decodeKeyValue(r).value.toString()));
    let compacted = false;
    const job = s.store.compact(s.store.currentRevision).then(() => {
      compacted = true;
    });
    // Reads below the new compaction revision are refused from now on; the open reader goes on.
    assert.throws(() => s.store.openRange(b('k'), b('l'), { revision: pinned }), (e) => isFloeError(e) && e.code === ERR_COMPACTED);
    const rest: string[] = [];
    for (let turn = 0; !reader.done; turn++) {
      for (let t = 0; t < 5; t++) await tick();
      assert.equal(compacted, false, 'the compaction finished while a reader below it was open');
      reader.step(5, (r) => rest.push(decodeKeyValue(r).value.toString()));
    }
    assert.deepEqual([...firstSlice, ...rest], Array.from({ length: 20 }, (_, i) => `old${i}`));
    assert.equal(compacted, false);
    reader.close();
    await job;
    assert.equal(s.store.openReaders, 0);
    // Now the old revisions are gone from the backend.
    assert.throws(() => s.store.range(b('k'), b('l'), { revision: pinned }), (e) => isFloeError(e) && e.code === ERR_COMPACTED);
    let records = 0;
    s.db.view((tx) => {
      const c = tx.bucket(b('key'))?.cursor();
      for (let e = c?.first() ?? null; e !== null; e = c?.next() ?? null) records++;
    });
    assert.equal(records, 20);
  } finally {
    await closeStore(s);
    cleanup();
  }
});

test('openRange checks revisions as range does, and a reader at or above the compaction does not hold it', async () => {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  try {
    for (let i = 0; i < 5; i++) s.store.put(b(`k${i}`), b('v'));
    assert.throws(() => s.store.openRange(b('k'), b('l'), { revision: s.store.currentRevision + 1 }), (e) => isFloeError(e) && e.code === ERR_FUTURE_REV);
    const reader = s.store.openRange(b('k'), b('l'), { revision: 4 });
    await s.store.compact(4); // at the pinned revision: keeps what the reader sees, no wait
    assert.equal(reader.step(100, () => {}), true);
    assert.equal(reader.count, 3);
    reader.close();
    reader.close(); // idempotent
    assert.equal(s.store.openReaders, 0);
    // count_only reads no record; a limit bounds records but not the count.
    const counting = s.store.openRange(b('k'), b('l'), { countOnly: true });
    let seen = 0;
    assert.equal(counting.step(1, () => seen++), false);
    while (!counting.step(1, () => seen++));
    counting.close();
    assert.equal(seen, 0);
    assert.equal(counting.count, 5);
    const limited = s.store.openRange(b('k'), b('l'), { limit: 2 });
    while (!limited.step(1, () => seen++));
    limited.close();
    assert.equal(seen, 2);
    assert.equal(limited.count, 5);
  } finally {
    await closeStore(s);
    cleanup();
  }
});
