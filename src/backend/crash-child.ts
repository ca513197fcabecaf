/**
 * Test support (not a test file): the child process that crash.test.ts kills at a failpoint.
 *
 *   node crash-child.js commits FILE SEED N FREELIST   run N transactions of the seeded workload
 *   node crash-child.js pipelined FILE SEED N FREELIST the same with commitPipelined, yielding
 *                                                      to the event loop every third commit
 *   node crash-child.js defrag FILE FREELIST           defragment the file
 *
 * The workload is a pure function of SEED, so the parent replays it to know exactly what the
 * first n transactions wrote.
 */
import { DB, type FreelistKind } from './index';
import { ModelBucket, Rng, applyRandomOps } from './test-model';

/** Runs transactions 1..n of the workload for `seed` against `db`, mirroring them in `model`. */
export function crashWorkload(db: DB, model: ModelBucket, seed: number, n: number): void {
  const rng = new Rng(seed);
  for (let i = 1; i <= n; i++) {
    const tx = db.beginWrite();
    applyRandomOps(rng, model, tx, 20 + rng.int(40), i % 4 === 0);
    tx.commit();
  }
}

/** As crashWorkload with pipelined commits: syncs run behind, interleaved with later commits. */
export async function pipelinedWorkload(db: DB, model: ModelBucket, seed: number, n: number): Promise<void> {
  const rng = new Rng(seed);
  for (let i = 1; i <= n; i++) {
    const tx = db.beginWrite();
    applyRandomOps(rng, model, tx, 20 + rng.int(40), i % 4 === 0);
    tx.commitPipelined();
    if (i % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  await db.flush();
}

if (require.main === module) {
  const [mode, file, ...rest] = process.argv.slice(2);
  if (mode === 'commits') {
    const [seed, n, kind] = rest;
    const db = DB.open(file!, { freelistType: kind as FreelistKind });
    crashWorkload(db, new ModelBucket(), Number(seed), Number(n));
    db.close();
  } else if (mode === 'pipelined') {
    const [seed, n, kind] = rest;
    const db = DB.open(file!, { freelistType: kind as FreelistKind });
    void pipelinedWorkload(db, new ModelBucket(), Number(seed), Number(n)).then(() => db.close());
  } else if (mode === 'defrag') {
    const db = DB.open(file!, { freelistType: rest[0] as FreelistKind });
    db.defragment();
    db.close();
  } else {
    process.stderr.write('usage: crash-child commits FILE SEED N FREELIST | defrag FILE FREELIST\n');
    process.exit(2);
  }
}
