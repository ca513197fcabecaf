/**
 * `floe backend bench`: puts in batches, then random point reads with a warm cache, on a fresh
 * file. The workload is shared with bench/engine.ts, which runs it against the lmdb package
 * in the same process so the two engines are compared in one run.
 */
import * as fs from 'node:fs';
import { DB, type FreelistKind } from '../backend';
import { FloeError } from '../pkg';
import { parseArgs, intFlag, choiceFlag } from './args';

/** What a benchmarked engine must do. */
export interface BenchTarget {
  readonly name: string;
  /** Writes all entries in one durable transaction. */
  writeBatch(entries: ReadonlyArray<readonly [Buffer, Buffer]>): void;
  /** Reads one key; a missing key is a failed benchmark (the workload only reads what it wrote). */
  get(key: Buffer): Uint8Array | null | undefined;
  close(): void;
}

export interface Workload {
  readonly count: number;
  readonly valueSizeBytes: number;
  readonly batch: number;
  readonly reads: number;
}

export interface BenchResult {
  readonly target: string;
  readonly count: number;
  readonly putsPerSec: number;
  readonly readsPerSec: number;
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
}

/**
 * The i-th key: 16 bytes, "k" + 15 decimal digits of a bijective scramble of i, so keys arrive
 * in random order (the hard case for a B+tree) yet are reproducible without a stored list.
 */
export function benchKey(i: number): Buffer {
  const scrambled = Math.imul(i, 0x9e3779b1) >>> 0; // odd multiplier: a bijection on 32 bits
  return Buffer.from('k' + String(scrambled).padStart(15, '0'));
}

function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return 0;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))]!;
}

/** Runs the workload against `target`; reads pick keys with a fixed-seed generator. */
export function runWorkload(target: BenchTarget, w: Workload): BenchResult {
  const value = Buffer.alloc(w.valueSizeBytes, 0x61);
  const commitMs: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < w.count; start += w.batch) {
    const entries: Array<[Buffer, Buffer]> = [];
    for (let i = start; i < Math.min(w.count, start + w.batch); i++) entries.push([benchKey(i), value]);
    const c0 = process.hrtime.bigint();
    target.writeBatch(entries);
    commitMs.push(Number(process.hrtime.bigint() - c0) / 1e6);
  }
  const putSec = Number(process.hrtime.bigint() - t0) / 1e9;

  // Warm the cache with one pass, then time random reads.
  for (let i = 0; i < w.count; i++) target.get(benchKey(i));
  let x = 0x2545f491;
  const r0 = process.hrtime.bigint();
  for (let n = 0; n < w.reads; n++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32
    const k = benchKey((x >>> 0) % w.count);
    const v = target.get(k);
    if (v === null || v === undefined || v.length !== w.valueSizeBytes) {
      throw new FloeError('ERR_BENCH', `${target.name}: read back a wrong value for ${k.toString()}`);
    }
  }
  const readSec = Number(process.hrtime.bigint() - r0) / 1e9;
  commitMs.sort((a, b) => a - b);
  return {
    target: target.name,
    count: w.count,
    putsPerSec: Math.round(w.count / putSec),
    readsPerSec: Math.round(w.reads / readSec),
    commitP50Ms: Number(percentile(commitMs, 50).toFixed(3)),
    commitP99Ms: Number(percentile(commitMs, 99).toFixed(3)),
  };
}

const BUCKET = Buffer.from('bench');

/** A Floe backend file as a benchmark target: one write transaction per batch. */
export function floeTarget(path: string, freelistType: FreelistKind): BenchTarget {
  const db = DB.open(path, { freelistType });
  db.update((tx) => void tx.createBucketIfNotExists(BUCKET));
  let reader: ReturnType<DB['beginRead']> | null = null;
  return {
    name: `floe-${freelistType}`,
    writeBatch(entries) {
      const tx = db.beginWrite();
      const b = tx.bucket(BUCKET)!;
      for (const [k, v] of entries) b.put(k, v);
      tx.commit();
    },
    get(key) {
      reader ??= db.beginRead();
      return reader.bucket(BUCKET)!.get(key);
    },
    close() {
      reader?.rollback();
      db.close();
    },
  };
}

const benchFlags = {
  path: 'string', count: 'string', 'value-size': 'string', batch: 'string',
  freelist: 'string', reads: 'string', keep: 'bool',
} as const;

/** The `floe backend bench` command. */
export function runBackendBench(argv: readonly string[], out: (line: string) => void): number {
  const p = parseArgs(argv, benchFlags);
  if (p.positional.length > 0) throw new FloeError('ERR_BAD_ARG', `unexpected argument: ${p.positional[0]}`);
  const path = p.flags.get('path');
  if (path === undefined) throw new FloeError('ERR_BAD_FLAG', 'flag is required: --path');
  if (fs.existsSync(path)) throw new FloeError('ERR_EXISTS', `${path}: already exists; bench needs a fresh file`);
  const count = intFlag(p, 'count', 100_000, 1, 100_000_000);
  const w: Workload = {
    count,
    valueSizeBytes: intFlag(p, 'value-size', 256, 0, 1_572_864),
    batch: intFlag(p, 'batch', 10_000, 1, 10_000_000),
    reads: intFlag(p, 'reads', count, 0, 1_000_000_000),
  };
  const freelist = choiceFlag(p, 'freelist', ['array', 'hashmap'] as const, 'hashmap');
  const target = floeTarget(path, freelist);
  try {
    const r = runWorkload(target, w);
    out(`${r.target}: ${r.count} puts in batches of ${w.batch} (${w.valueSizeBytes}-byte values): ` +
      `${r.putsPerSec} puts/s, commit p50 ${r.commitP50Ms} ms p99 ${r.commitP99Ms} ms; ` +
      `${w.reads} random reads: ${r.readsPerSec} reads/s`);
    out(JSON.stringify(r));
  } finally {
    target.close();
    if (p.flags.get('keep') !== 'true') fs.rmSync(path, { force: true });
  }
  return 0;
}
