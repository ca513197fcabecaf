/**
 * Key index speed and memory (issue 3, MVCC): put N keys (Kubernetes-like names, in random
 * order, one revision each), then get random keys, range 1000 keys, update a tenth of the
 * keys and compact in batches of 1000 keys. Prints ops/s, the longest compaction batch and
 * heap bytes per key.
 *
 *   node dist/bench/key-index.js [--keys N]        (default 1 000 000)
 *   node --expose-gc dist/bench/key-index.js        (adds an exact heap-per-key figure)
 *
 * Bounded: every phase does a fixed number of operations.
 */
import { parseArgs, intFlag } from '../src/cli/args';
import { COMPACTION_BATCH_KEYS, RevisionSet, TreeIndex } from '../src/mvcc';

/** Deterministic xorshift32, so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function keyOf(i: number): Buffer {
  return Buffer.from(`/registry/pods/ns-${String(i % 1000).padStart(4, '0')}/pod-${String(i).padStart(8, '0')}`);
}

/** Wall and CPU seconds of one phase. CPU time is the steadier figure on a shared machine. */
interface Timing {
  wallSec: number;
  cpuSec: number;
}

function timeIt(fn: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const c = process.cpuUsage(c0);
  return { wallSec: Number(process.hrtime.bigint() - t0) / 1e9, cpuSec: (c.user + c.system) / 1e6 };
}

function rate(ops: number, t: Timing, unit = 'ops'): string {
  const perSec = (sec: number): string => Math.round(ops / sec).toLocaleString('en-US');
  return `${perSec(t.wallSec)} ${unit}/s (${perSec(t.cpuSec)} ${unit}/s of CPU, ${((t.cpuSec / ops) * 1e6).toFixed(2)} us CPU each)`;
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function main(): void {
  const p = parseArgs(process.argv.slice(2), { keys: 'string' });
  const n = intFlag(p, 'keys', 1_000_000, 10_000, 5_000_000);
  const random = rng(42);

  // Keys made up front so that the put phase measures the index, not string formatting.
  const keys = Array.from({ length: n }, (_, i) => keyOf(i));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }

  const index = new TreeIndex();
  const heapBefore = heapUsed();
  let rev = 0;
  const putT = timeIt(() => {
    for (const k of keys) index.put(k, { main: ++rev, sub: 0 });
  });
  const heapAfter = heapUsed();
  console.log(`put ${n.toLocaleString('en-US')} new keys: ${rate(n, putT)}`);
  const gcNote = (globalThis as { gc?: () => void }).gc === undefined ? ' (approximate: run with --expose-gc for exact)' : '';
  console.log(`heap per key: ${Math.round((heapAfter - heapBefore) / n)} bytes${gcNote}`);

  const gets = Math.min(n, 1_000_000);
  let found = 0;
  const getT = timeIt(() => {
    for (let i = 0; i < gets; i++) if (index.get(keys[Math.floor(random() * n)]!, rev) !== null) found++;
  });
  if (found !== gets) throw new Error(`bench: ${gets - found} keys not found`);
  console.log(`get random key at head: ${rate(gets, getT)}`);

  const ranges = 2000;
  let rangeKeys = 0;
  const rangeT = timeIt(() => {
    for (let i = 0; i < ranges; i++) {
      const start = keyOf(Math.floor(random() * n));
      rangeKeys += index.range(start, Buffer.alloc(0), rev, 1000).keys.length;
    }
  });
  console.log(`range 1000 keys (limit 1000, from a random key): ${rate(ranges, rangeT)}`);
  console.log(`  = ${rate(rangeKeys, rangeT, 'keys')}`);

  const counts = 5;
  const countT = timeIt(() => {
    for (let i = 0; i < counts; i++) index.countRevisions(Buffer.from('/registry/pods/'), Buffer.from('/registry/pods0'), rev);
  });
  console.log(`count a prefix holding all ${n.toLocaleString('en-US')} keys: ${((countT.wallSec / counts) * 1000).toFixed(0)} ms per count (${((countT.cpuSec / counts) * 1000).toFixed(0)} ms CPU)`);

  // A tenth of the keys get a second revision, then a compaction at the head keeps one each.
  const updates = Math.floor(n / 10);
  const updT = timeIt(() => {
    for (let i = 0; i < updates; i++) index.put(keys[i]!, { main: ++rev, sub: 0 });
  });
  console.log(`put ${updates.toLocaleString('en-US')} updates of existing keys: ${rate(updates, updT)}`);

  const available = new RevisionSet();
  let batches = 0;
  let worstMs = 0;
  const compactT = timeIt(() => {
    let from: Buffer | null = null;
    do {
      const t0 = process.hrtime.bigint();
      from = index.compactBatch(rev, from, COMPACTION_BATCH_KEYS, available);
      worstMs = Math.max(worstMs, Number(process.hrtime.bigint() - t0) / 1e6);
      batches++;
    } while (from !== null);
  });
  if (available.size !== n) throw new Error(`bench: compaction kept ${available.size} revisions, want ${n}`);
  console.log(`compact ${n.toLocaleString('en-US')} keys: ${rate(n, compactT, 'keys')}, ${batches} batches of ${COMPACTION_BATCH_KEYS}, longest batch ${worstMs.toFixed(2)} ms`);
  console.log(`heap after compaction: ${Math.round((heapUsed() - heapBefore) / n)} bytes per key (index ${index.size.toLocaleString('en-US')} keys, keep set ${available.size.toLocaleString('en-US')})`);
}

main();
