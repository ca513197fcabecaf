/**
 * Property test against a trivially correct model (issue 2, point 3): random puts, deletes,
 * bucket creates and deletes, commits, rollbacks, readers held open across many commits, and
 * reopens. After every step the engine must agree with the model: the write transaction sees
 * its own writes, every open reader still sees the snapshot it started with, a rollback leaves
 * nothing behind, and check() finds nothing wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DB, type FreelistKind, type ReadTx } from './index';
import { ModelBucket, Rng, applyRandomOps, dbDump, floeDump, modelDump } from './test-model';

const baseSeed = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);

function run(seed: number, kind: FreelistKind, steps: number): void {
  const rng = new Rng(seed);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'floe-model-')), 'db');
  let db = DB.open(file, { freelistType: kind, noSync: true, pageCacheBytes: 4096 * (8 + rng.int(64)) });
  let committed = new ModelBucket();
  const readers: Array<{ tx: ReadTx; expect: string[] }> = [];
  const closeReaders = () => {
    for (const r of readers.splice(0)) {
      assert.deepEqual(floeDump(r.tx), r.expect, 'a reader kept its snapshot until it closed');
      r.tx.rollback();
    }
  };
  try {
    for (let step = 0; step < steps; step++) {
      const r = rng.int(100);
      if (r < 60) {
        const working = committed.clone();
        const tx = db.beginWrite();
        applyRandomOps(rng, working, tx, 1 + rng.int(30), rng.chance(0.02));
        assert.deepEqual(floeDump(tx), modelDump(working), 'a write tx sees its own writes');
        if (rng.chance(0.8)) {
          tx.commit();
          committed = working;
        } else {
          tx.rollback();
        }
      } else if (r < 75) {
        readers.push({ tx: db.beginRead(), expect: modelDump(committed) });
      } else if (r < 88 && readers.length > 0) {
        const i = rng.int(readers.length);
        const [rd] = readers.splice(i, 1);
        assert.deepEqual(floeDump(rd!.tx), rd!.expect, 'a reader kept its snapshot across commits');
        rd!.tx.rollback();
      } else if (r < 94) {
        closeReaders();
        db.close();
        db = DB.open(file, { freelistType: kind, noSync: true });
      } else {
        assert.deepEqual(db.check(), [], `check at step ${step}`);
      }
      assert.deepEqual(dbDump(db), modelDump(committed), `the last commit is what a new reader sees (step ${step})`);
    }
    closeReaders();
    assert.deepEqual(db.check(), []);
  } finally {
    db.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

for (const kind of ['hashmap', 'array'] as const) {
  test(`the engine agrees with the model under random operations (freelist ${kind})`, () => {
    for (let i = 0; i < 6; i++) {
      const seed = baseSeed + i;
      try {
        run(seed, kind, 120);
      } catch (e) {
        (e as Error).message = `seed ${seed} (replay: FLOE_SEED=${seed}): ${(e as Error).message}`;
        throw e;
      }
    }
  });
}
