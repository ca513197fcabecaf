import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DB } from './db';
import { ModelBucket, Rng, applyRandomOps, dbDump, modelDump } from './test-model';
import { bolt, boltCheck, boltDump, boltLoad } from './bolt-tool';
import { scratchDir } from './test-util';

// Real bbolt (1.3.6, through the reference tool) must accept what Floe writes and Floe must read
// what bbolt writes. The lead's bolt-compat tests go wider; this catches format slips early.
const dir = scratchDir('bbolt');

function seedOf(): number {
  return Number(process.env.FLOE_SEED ?? 0) || 1 + Math.floor(Math.random() * 1e9);
}

test('bbolt checks and dumps what Floe wrote: random content, many commits, deletes, defragment', () => {
  const seed = seedOf();
  try {
    const rng = new Rng(seed);
    const file = path.join(dir, `floe-${seed}.db`);
    const db = DB.open(file, { noSync: true, freelistType: rng.chance(0.5) ? 'array' : 'hashmap' });
    const model = new ModelBucket();
    for (let round = 0; round < 25; round++) {
      db.update((tx) => applyRandomOps(rng, model, tx, 1 + rng.int(200), round === 10));
    }
    db.close();
    boltCheck(file);
    assert.deepEqual(boltDump(file), modelDump(model));

    const again = DB.open(file, { noSync: true });
    again.defragment();
    const ours = again.stats();
    again.close();
    boltCheck(file);
    assert.deepEqual(boltDump(file), modelDump(model));
    const theirs = JSON.parse(bolt(['stats', file]).stdout) as Record<string, number>;
    assert.equal(theirs.max_depth, ours.depth);
    assert.equal(theirs.inline_buckets, ours.inlineBucketCount);
    const topBuckets = [...model.entries.values()].filter((v) => v instanceof ModelBucket).length;
    assert.equal(theirs.keys_incl_nested, ours.keyCount + ours.bucketCount - topBuckets);
  } catch (e) {
    console.error(`bbolt round trip failed with seed ${seed} (replay: FLOE_SEED=${seed})`);
    throw e;
  }
});

const loads = [
  { freelist: 'array', noSyncFreelist: false },
  { freelist: 'hashmap', noSyncFreelist: false },
  { freelist: 'hashmap', noSyncFreelist: true },
] as const;
for (const opts of loads) {
  const tag = `${opts.freelist}${opts.noSyncFreelist ? '-nosync' : ''}`;
  test(`Floe reads and extends a file bbolt wrote (bolt load, ${tag} freelist)`, () => {
    const seed = seedOf();
    try {
      const rng = new Rng(seed);
      const scratch = DB.open(path.join(dir, `scratch-${tag}-${seed}.db`), { noSync: true });
      const model = new ModelBucket();
      for (let i = 0; i < 10; i++) scratch.update((tx) => applyRandomOps(rng, model, tx, 200, i === 4));
      scratch.close();
      const file = path.join(dir, `bolt-${tag}-${seed}.db`);
      boltLoad(file, modelDump(model), opts);

      const ro = DB.open(file, { readOnly: true });
      assert.deepEqual(ro.check(), []);
      assert.deepEqual(dbDump(ro), modelDump(model));
      ro.close();

      const db = DB.open(file, { noSync: true, freelistType: opts.freelist });
      for (let i = 0; i < 5; i++) db.update((tx) => applyRandomOps(rng, model, tx, 150, false));
      assert.deepEqual(dbDump(db), modelDump(model));
      assert.deepEqual(db.check(), []);
      db.close();
      boltCheck(file);
      assert.deepEqual(boltDump(file), modelDump(model));
    } catch (e) {
      console.error(`bbolt load test failed with seed ${seed} (replay: FLOE_SEED=${seed})`);
      throw e;
    }
  });
}
