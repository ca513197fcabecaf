/**
 * Test-only helpers for this folder: a settable clock, a seeded random source, an in-memory
 * LeaseStore, and a key deleter that behaves like the MVCC store towards the lessor.
 */
import { Lessor, type LeaseClock, type LeaseKeyDeleter, type LeaseStore, type LessorOptions } from './index';

/** A clock tests move by hand. */
export class ManualClock implements LeaseClock {
  constructor(public ms = 1_000_000) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export { Rng, baseSeed, forSeeds } from '../pkg/rng';

/** A LeaseStore in memory: one bucket map, ranges in byte order. */
export class MemoryStore implements LeaseStore {
  readonly buckets = new Map<string, Map<string, Buffer>>();
  puts = 0;
  createBucket(bucket: Uint8Array): void {
    const name = Buffer.from(bucket).toString('latin1');
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }
  put(bucket: Uint8Array, key: Uint8Array, value: Uint8Array): void {
    this.bucket(bucket).set(Buffer.from(key).toString('latin1'), Buffer.from(value));
    this.puts++;
  }
  delete(bucket: Uint8Array, key: Uint8Array): void {
    this.bucket(bucket).delete(Buffer.from(key).toString('latin1'));
  }
  get(bucket: Uint8Array, key: Uint8Array): Buffer | undefined {
    return this.bucket(bucket).get(Buffer.from(key).toString('latin1'));
  }
  range(bucket: Uint8Array, start: Uint8Array, end: Uint8Array | null, limit: number): { keys: Buffer[]; values: Buffer[] } {
    const b = this.bucket(bucket);
    const s = Buffer.from(start).toString('latin1');
    const e = end === null ? null : Buffer.from(end).toString('latin1');
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (const k of [...b.keys()].sort()) {
      if (k < s || (e === null ? k !== s : k >= e)) continue;
      keys.push(Buffer.from(k, 'latin1'));
      values.push(b.get(k)!);
      if (limit > 0 && keys.length >= limit) break;
    }
    return { keys, values };
  }
  private bucket(name: Uint8Array): Map<string, Buffer> {
    const b = this.buckets.get(Buffer.from(name).toString('latin1'));
    if (b === undefined) throw new Error('bucket not found');
    return b;
  }
}

/**
 * Stands in for the MVCC store towards the lessor: it keeps which keys exist, tells the lessor
 * about every put and delete through `keyTracker` (one key at a time, as MVCC does), and each
 * deleteKeys call is one revision that detaches every deleted key re-entrantly.
 */
export class KvDeleter implements LeaseKeyDeleter {
  /** One entry per revision: the keys deleted in it, as latin1 strings. */
  readonly revisions: string[][] = [];
  /** Keys currently stored. */
  readonly kv = new Set<string>();
  lessor: Lessor | null = null;

  deleteKeys(keys: readonly Buffer[]): void {
    const rev: string[] = [];
    for (const key of keys) {
      const k = key.toString('latin1');
      if (!this.kv.has(k)) continue;
      this.del(k);
      rev.push(k);
    }
    this.revisions.push(rev);
  }

  /** A put of `key` with `lease` (0n: none). */
  put(key: string, lease: bigint): void {
    const t = this.lessor!.keyTracker;
    const k = Buffer.from(key, 'latin1');
    const prev = this.kv.has(key) ? t.leaseOf(k) : 0n;
    if (prev !== 0n) t.detach(prev, k);
    if (lease !== 0n) t.attach(lease, k);
    this.kv.add(key);
  }

  /** A delete of `key`. */
  del(key: string): void {
    if (!this.kv.has(key)) return;
    const t = this.lessor!.keyTracker;
    const k = Buffer.from(key, 'latin1');
    const lease = t.leaseOf(k);
    if (lease !== 0n) t.detach(lease, k);
    this.kv.delete(key);
  }
}

/** A lessor on an in-memory store with a manual clock and a KvDeleter. */
export function memoryLessor(opts: LessorOptions = {}, store = new MemoryStore(), clock = new ManualClock()) {
  const deleter = new KvDeleter();
  const lessor = Lessor.open({ store, keyDeleter: deleter, clock }, opts);
  deleter.lessor = lessor;
  return { lessor, store, clock, deleter };
}
