/**
 * Engine speed beside a reference (issue 2, point 5): the same workload — puts of 256-byte
 * values in batches of 10 000, then random point reads with a warm cache — against Floe's
 * engine (both freelists) and the `lmdb` package (LMDB, the C engine bbolt descends from), in
 * one run, alternating rounds so machine noise hits all alike. Prints ratios.
 *
 *   npm run bench:engine -- [--count N] [--rounds R]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { floeTarget, runWorkload, type BenchResult, type BenchTarget, type Workload } from '../src/cli/backend-bench';
import { parseArgs, intFlag } from '../src/cli/args';

/** The slice of the `lmdb` package the benchmark uses. */
interface LmdbDb {
  transactionSync<T>(fn: () => T): T;
  putSync(key: Buffer, value: Buffer): boolean;
  getBinary(key: Buffer): Buffer | undefined;
  close(): unknown;
}

/**
 * lmdb is a reference, not a dependency: its prebuilt optional packages for other platforms
 * are missing from the registry this project installs from, which breaks `npm ci`, so
 * `npm run bench:engine` installs it without saving and it is loaded here at run time.
 */
function openLmdb(dir: string): LmdbDb {
  let lmdb: { open(options: Record<string, unknown>): LmdbDb };
  try {
    lmdb = require('lmdb') as typeof lmdb;
  } catch {
    throw new Error('bench:engine needs the lmdb package: npm i --no-save lmdb@3 (npm run bench:engine does this)');
  }
  return lmdb.open({ path: dir, compression: false, encoding: 'binary', keyEncoding: 'binary' });
}

function lmdbTarget(dir: string): BenchTarget {
  const db = openLmdb(dir);
  return {
    name: 'lmdb',
    writeBatch(entries) {
      db.transactionSync(() => {
        for (const [k, v] of entries) db.putSync(k, v);
      });
    },
    get(key) {
      return db.getBinary(key) ?? null;
    },
    close() {
      db.close();
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const p = parseArgs(process.argv.slice(2), { count: 'string', rounds: 'string' });
  const count = intFlag(p, 'count', 200_000, 10_000, 10_000_000);
  const rounds = intFlag(p, 'rounds', 3, 1, 20);
  const w: Workload = { count, valueSizeBytes: 256, batch: 10_000, reads: count };
  const makers: Array<[string, (dir: string) => BenchTarget]> = [
    ['lmdb', (dir) => lmdbTarget(dir)],
    ['floe-hashmap', (dir) => floeTarget(path.join(dir, 'db'), 'hashmap')],
    ['floe-array', (dir) => floeTarget(path.join(dir, 'db'), 'array')],
  ];
  const results = new Map<string, BenchResult[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? makers : [...makers].reverse();
    for (const [name, make] of order) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `floe-engine-${name}-`));
      const t = make(dir);
      try {
        const r = runWorkload(t, w);
        results.set(name, [...(results.get(name) ?? []), r]);
        console.log(`round ${round + 1} ${name}: ${r.putsPerSec} puts/s, ${r.readsPerSec} reads/s, commit p50 ${r.commitP50Ms} ms p99 ${r.commitP99Ms} ms`);
      } finally {
        t.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const med = (name: string, f: (r: BenchResult) => number) => median(results.get(name)!.map(f));
  const lp = med('lmdb', (r) => r.putsPerSec);
  const lr = med('lmdb', (r) => r.readsPerSec);
  console.log(`\n${count} keys, 256-byte values, batches of 10000, ${rounds} rounds (medians):`);
  for (const [name] of makers) {
    const pp = med(name, (r) => r.putsPerSec);
    const rr = med(name, (r) => r.readsPerSec);
    console.log(`${name.padEnd(13)} puts/s ${String(pp).padStart(9)} (${(pp / lp).toFixed(2)}x lmdb)   reads/s ${String(rr).padStart(9)} (${(rr / lr).toFixed(2)}x lmdb)`);
  }
}

main();
