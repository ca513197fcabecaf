/**
 * Part 2 of `npm run bench:freelist` (`--commit`): commit latency of batches of 10 000 puts into
 * a large file that deletes have left fragmented, once per freelist kind.
 *
 * Steps: build one file (hashmap freelist, no fsync): put keys until the file reaches
 * `--size-gb`, then delete every other block of `--hole-keys` consecutive keys, so about half
 * the pages end up on the freelist in short runs. Copy that file once per kind (the on-disk
 * freelist is the same for both), open the copy with that kind and time `--batches` commits of
 * 10 000 puts of new keys spread over the whole key space. Files live in `--dir` (default
 * the OS temp dir) and are removed afterwards unless `--keep`.
 *
 * The files are driven only through the engine's public face (src/backend's DB).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FreelistKind } from '../src/backend/freelist';
import { FREELIST_KINDS } from '../src/backend/freelist';
import { DB } from '../src/backend';

const PUTS_PER_BATCH = 10_000;
const BUCKET = Buffer.from('bench');

/** Part 2's settings, from the command line. */
export interface CommitOptions {
  sizeBytes: number;
  batches: number;
  valueBytes: number;
  holeKeys: number;
  dir: string;
  keep: boolean;
  sync: boolean;
}

/** Returns part 2's options when `--commit` is given, else undefined. Throws on a bad flag. */
export function parseCommitOptions(argv: readonly string[]): CommitOptions | undefined {
  const opts: CommitOptions = {
    sizeBytes: 2 * 2 ** 30,
    batches: 30,
    valueBytes: 1024,
    holeKeys: 4,
    dir: os.tmpdir(),
    keep: false,
    sync: false,
  };
  let commit = false;
  const num = (i: number, name: string, min: number): number => {
    const v = Number(argv[i]);
    if (!Number.isFinite(v) || v < min) throw new Error(`bench: ${name} needs a number >= ${min}, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--commit') commit = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--sync') opts.sync = true;
    else if (a === '--size-gb') opts.sizeBytes = Math.round(num(++i, a, 0.001) * 2 ** 30);
    else if (a === '--batches') opts.batches = Math.floor(num(++i, a, 1));
    else if (a === '--value-bytes') opts.valueBytes = Math.floor(num(++i, a, 1));
    else if (a === '--hole-keys') opts.holeKeys = Math.floor(num(++i, a, 1));
    else if (a === '--dir') opts.dir = String(argv[++i]);
    else throw new Error(`bench: unknown flag ${a}`);
  }
  return commit ? opts : undefined;
}

/** Key i as 8 big-endian bytes: byte order is numeric order. Fill uses even i, new puts odd. */
function key(i: number): Buffer {
  const k = Buffer.alloc(8);
  k.writeBigUInt64BE(BigInt(i));
  return k;
}

/** mulberry32: seeded, so every run and both kinds put the same keys. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Builds the fragmented file; returns how many keys the fill phase wrote. */
function buildFile(file: string, o: CommitOptions): number {
  const db = DB.open(file, { freelistType: 'hashmap', noSync: !o.sync });
  const value = Buffer.alloc(o.valueBytes, 0x5a);
  const t0 = nowMs();
  let keys = 0;
  // Bound: the fill cannot need more than 4x the raw bytes' worth of batches.
  const maxBatches = Math.ceil((4 * o.sizeBytes) / (PUTS_PER_BATCH * o.valueBytes));
  try {
    for (let b = 0; fs.statSync(file).size < o.sizeBytes; b++) {
      if (b >= maxBatches) throw new Error(`bench: file still below ${o.sizeBytes} bytes after ${b} batches`);
      const tx = db.beginWrite();
      const bucket = tx.createBucketIfNotExists(BUCKET);
      for (let i = 0; i < PUTS_PER_BATCH; i++, keys++) bucket.put(key(2 * keys), value);
      tx.commit();
      if (b % 20 === 0) process.stderr.write(`  fill: ${keys} keys, ${(fs.statSync(file).size / 2 ** 30).toFixed(2)} GiB, ${((nowMs() - t0) / 1000).toFixed(0)} s\n`);
    }
    // Delete every other block of holeKeys keys: frees pages all over the file.
    let pending = 0;
    let tx = db.beginWrite();
    let bucket = tx.createBucketIfNotExists(BUCKET);
    for (let i = 0; i < keys; i++) {
      if (Math.floor(i / o.holeKeys) % 2 === 0) continue;
      bucket.delete(key(2 * i));
      if (++pending === PUTS_PER_BATCH) {
        tx.commit();
        tx = db.beginWrite();
        bucket = tx.createBucketIfNotExists(BUCKET);
        pending = 0;
      }
    }
    tx.commit();
    process.stderr.write(`  built ${file}: ${keys} keys, half deleted in blocks of ${o.holeKeys}, ${(fs.statSync(file).size / 2 ** 30).toFixed(2)} GiB, ${((nowMs() - t0) / 1000).toFixed(0)} s\n`);
  } finally {
    db.close();
  }
  return keys;
}

/** Times `o.batches` commits of PUTS_PER_BATCH new keys; returns commit times in ms. */
function timeCommits(file: string, kind: FreelistKind, keys: number, o: CommitOptions): number[] {
  const db = DB.open(file, { freelistType: kind, noSync: !o.sync });
  const value = Buffer.alloc(o.valueBytes, 0xa5);
  const next = rng(7);
  const commitMs: number[] = [];
  try {
    for (let b = 0; b < o.batches; b++) {
      const tx = db.beginWrite();
      const bucket = tx.createBucketIfNotExists(BUCKET);
      for (let i = 0; i < PUTS_PER_BATCH; i++) bucket.put(key(2 * Math.floor(next() * keys) + 1), value);
      const t0 = nowMs();
      tx.commit();
      commitMs.push(nowMs() - t0);
    }
  } finally {
    db.close();
  }
  return commitMs;
}

/**
 * Runs part 2 and prints its table. Returns false when the run failed.
 * Files are removed on every path unless `keep`.
 */
export async function runCommitBench(o: CommitOptions): Promise<boolean> {
  console.log(`Part 2: commit latency, batches of ${PUTS_PER_BATCH} puts (${o.valueBytes}-byte values) into a file grown with deletes to >= ${(o.sizeBytes / 2 ** 30).toFixed(2)} GiB, ${o.sync ? 'with' : 'without'} fdatasync`);
  const base = path.join(o.dir, `floe-bench-freelist-${process.pid}.db`);
  const files = [base];
  try {
    const keys = buildFile(base, o);
    const results: { kind: FreelistKind; p50: number; p99: number; max: number }[] = [];
    for (const kind of FREELIST_KINDS) {
      const file = `${base}.${kind}`;
      files.push(file);
      fs.copyFileSync(base, file);
      const ms = timeCommits(file, kind, keys, o).sort((a, b) => a - b);
      results.push({ kind, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms[ms.length - 1]! });
    }
    console.log('  kind    | commit p50 ms | commit p99 ms | max ms');
    for (const r of results) {
      console.log(`  ${r.kind.padEnd(7)} | ${r.p50.toFixed(1).padStart(13)} | ${r.p99.toFixed(1).padStart(13)} | ${r.max.toFixed(1).padStart(6)}`);
    }
    const a = results.find((r) => r.kind === 'array')!;
    const h = results.find((r) => r.kind === 'hashmap')!;
    console.log(`  hashmap commit p50 ${(a.p50 / h.p50).toFixed(2)}x, p99 ${(a.p99 / h.p99).toFixed(2)}x faster than array (${o.batches} commits each)`);
    return true;
  } finally {
    if (o.keep) console.log(`  kept: ${files.join(' ')}`);
    else for (const f of files) fs.rmSync(f, { force: true });
  }
}
