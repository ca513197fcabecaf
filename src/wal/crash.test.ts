import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { entryData, plain, tempDir } from './test-util';
import { MIN_SEGMENT_SIZE_BYTES, WAL } from './wal';

const CHILD = path.join(__dirname, 'crash-child.js');
const BATCH = 5;

/** Runs the child until the failpoint kills it; returns the last index it reported saved. */
function runChild(dir: string, last: number, failpoints: string): { lastSaved: number; signal: string | null } {
  const r = spawnSync(process.execPath, [CHILD, dir, String(MIN_SEGMENT_SIZE_BYTES), String(last), String(BATCH)], {
    env: { ...process.env, FLOE_FAILPOINTS: failpoints },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status === 0 || r.signal === 'SIGKILL', true, `child failed: ${r.stderr}`);
  const saved = r.stdout.split('\n').filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
  return { lastSaved: saved.length === 0 ? -1 : saved[saved.length - 1]!, signal: r.signal };
}

describe('WAL crash safety (child killed at a failpoint)', () => {
  it('loses nothing a resolved save() wrote: killed before a save, after a save, across cuts and reopenings', async () => {
    const seed = Number(process.env.SEED ?? (Date.now() % 1_000_000));
    let x = seed || 1;
    const rnd = (n: number): number => {
      x = (x * 48271) % 2147483647;
      return x % n;
    };
    const { dir, cleanup } = tempDir();
    try {
      let known = 0; // entries 1..known are on disk
      for (let round = 0; round < 6; round++) {
        const point = round % 2 === 0 ? 'wal.beforeSave' : 'wal.afterSave';
        const hit = 1 + rnd(10);
        const { lastSaved, signal } = runChild(dir, 100_000, `${point}=${hit}*panic`);
        const what = `seed ${seed}, round ${round}, ${point}=${hit}*panic`;
        assert.equal(signal, 'SIGKILL', `${what}: the failpoint killed the child`);
        // Saves 1..hit-1 of this run resolved and were reported.
        const reported = hit === 1 ? known : lastSaved;
        assert.equal(reported, known + (hit - 1) * BATCH, `${what}: reported saves`);

        const w = await WAL.open(dir, { index: 0, term: 0 }, { segmentSizeBytes: MIN_SEGMENT_SIZE_BYTES });
        const r = await w.readAll();
        await w.close();
        // Before a save: nothing of it reached the file. After: it was synced before the kill.
        const expected = point === 'wal.beforeSave' ? reported : reported + BATCH;
        const want = [];
        for (let i = 1; i <= expected; i++) want.push({ term: 1, index: i, type: 'EntryNormal' as const, data: entryData(i, 1, 60 + (i % 50)) });
        assert.deepEqual(plain(r.entries), plain(want), `${what}: entries on disk`);
        if (expected > 0) assert.deepEqual(r.hardState, { term: 1, vote: 1n, commit: expected }, `${what}: hard state`);
        known = expected;
      }
      assert.ok(known > 20, 'the rounds wrote several segments worth of entries');
    } finally {
      cleanup();
    }
  });
});
