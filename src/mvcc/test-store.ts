/**
 * Test helpers for the store tests (test code only): temporary backend files, opening and
 * reopening a store on them, a "crash" that keeps only what the last commit put on disk, and
 * a seeded loop for async randomized tests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchTx, DB } from '../backend';
import { baseSeed } from './test-rng';
import { WatchableStore, type WatchableStoreOptions } from './watchable-store';

/** A Buffer from a latin1 string. */
export const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-mvcc-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A store on a backend file, with what it takes to close or crash it. */
export interface OpenStore {
  readonly db: DB;
  readonly batch: BatchTx;
  readonly store: WatchableStore;
}

/** Backend batch options used by tests unless given: small limit, long interval (commits are explicit or by limit). */
export interface TestOpenOptions extends WatchableStoreOptions {
  readonly batchLimit?: number;
  readonly batchIntervalMs?: number;
}

/** Opens (or creates) the backend at `file` and a store over it. */
export function openStore(file: string, opts: TestOpenOptions = {}): OpenStore {
  const db = DB.open(file, { noSync: true });
  const batch = new BatchTx(db, { limit: opts.batchLimit ?? 10_000, intervalMs: opts.batchIntervalMs ?? 60_000 });
  const store = new WatchableStore(batch, opts);
  return { db, batch, store };
}

/** Stops the store's jobs, commits and closes the backend. */
export async function closeStore(s: OpenStore): Promise<void> {
  await s.store.close();
  s.batch.close();
  s.db.close();
}

/**
 * Simulates a crash: copies the file as the last commit left it (uncommitted batch writes are
 * not in the file: the backend writes pages only when committing) to `crashFile`, then closes
 * the original without committing anything more.
 */
export async function crashCopy(s: OpenStore, file: string, crashFile: string): Promise<void> {
  fs.copyFileSync(file, crashFile);
  await s.store.close();
  // Closing the batch would commit; the copy is what the crash left, so the original is dropped.
  s.batch.close();
  s.db.close();
}

/** Waits one turn of the event loop. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `fn(seed)` for `runs` seeds from the base seed; a failure names its seed and how to replay it. */
export async function forSeedsAsync(runs: number, fn: (seed: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < runs; i++) {
    const seed = baseSeed + i;
    try {
      await fn(seed);
    } catch (e) {
      if (e instanceof Error) e.message = `seed ${seed} (replay: FLOE_SEED=${seed}): ${e.message}`;
      throw e;
    }
  }
}
