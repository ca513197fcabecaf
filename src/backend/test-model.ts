/**
 * Test support (not a test file): a trivially correct in-memory model of a bbolt database,
 * a seeded generator of random content, and the `bolt dump` text format, so tests can compare
 * Floe's engine, the model and real bbolt line by line.
 *
 * Dump format (the reference tool's): depth first in key order, `b <path>` for a bucket and
 * `k <path> <key> <value>` for a key, every item hex, path = bucket names joined by '/'.
 */
import type { Bucket, DB, ReadTx } from './index';
import { Rng } from '../pkg/rng';

export { Rng };

/** A bucket of the model: hex key -> value bytes or a nested bucket. Hex order is byte order. */
export class ModelBucket {
  readonly entries = new Map<string, Buffer | ModelBucket>();

  clone(): ModelBucket {
    const c = new ModelBucket();
    for (const [k, v] of this.entries) c.entries.set(k, v instanceof ModelBucket ? v.clone() : v);
    return c;
  }

  sortedKeys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

/** Dumps the model (its entries are the top-level buckets). */
export function modelDump(root: ModelBucket): string[] {
  const lines: string[] = [];
  const walk = (b: ModelBucket, path: string) => {
    for (const k of b.sortedKeys()) {
      const v = b.entries.get(k)!;
      if (v instanceof ModelBucket) {
        const p = path === '' ? k : `${path}/${k}`;
        lines.push(`b ${p}`);
        walk(v, p);
      } else {
        lines.push(`k ${path} ${k} ${v.toString('hex')}`);
      }
    }
  };
  walk(root, '');
  return lines;
}

/** Dumps what a Floe transaction sees, in the same format and order. */
export function floeDump(tx: ReadTx): string[] {
  const lines: string[] = [];
  const walk = (b: Bucket, path: string) => {
    b.forEach((k, v) => {
      const hk = Buffer.from(k).toString('hex');
      if (v === null) {
        const p = `${path}/${hk}`;
        lines.push(`b ${p}`);
        walk(b.bucket(k)!, p);
      } else {
        lines.push(`k ${path} ${hk} ${Buffer.from(v).toString('hex')}`);
      }
    });
  };
  tx.forEach((name, b) => {
    const hn = Buffer.from(name).toString('hex');
    lines.push(`b ${hn}`);
    walk(b, hn);
  });
  return lines;
}

/** Dumps the whole database at its last commit. */
export function dbDump(db: DB): string[] {
  return db.view((tx) => floeDump(tx));
}

/** The largest value the tests write: etcd's default request limit, 1.5 MiB. */
export const BIG_VALUE_BYTES = 1_572_864;

/** A random key: short keys from a small alphabet collide often, so updates and deletes hit. */
export function randomKey(rng: Rng): Buffer {
  return rng.chance(0.8) ? rng.bytes(1 + rng.int(6), 6) : rng.bytes(1 + rng.int(64));
}

/**
 * A random value: mostly small, some empty, some spanning pages, and (when `allowBig`) rarely
 * a 1.5 MiB one that needs hundreds of overflow pages.
 */
export function randomValue(rng: Rng, allowBig: boolean): Buffer {
  const r = rng.int(1000);
  if (r < 100) return Buffer.alloc(0);
  if (r < 850) return rng.bytes(rng.int(100));
  if (r < 990 || !allowBig) return rng.bytes(1000 + rng.int(9000));
  return rng.bytes(BIG_VALUE_BYTES);
}

/** Every bucket of the model with its path of raw names (root excluded), depth first. */
export function modelBuckets(root: ModelBucket): Array<{ path: Buffer[]; bucket: ModelBucket }> {
  const out: Array<{ path: Buffer[]; bucket: ModelBucket }> = [];
  const walk = (b: ModelBucket, path: Buffer[]) => {
    for (const k of b.sortedKeys()) {
      const v = b.entries.get(k)!;
      if (v instanceof ModelBucket) {
        const p = [...path, Buffer.from(k, 'hex')];
        out.push({ path: p, bucket: v });
        walk(v, p);
      }
    }
  };
  walk(root, []);
  return out;
}

/** Follows `path` from the top level of a transaction. */
export function txBucket(tx: ReadTx, path: readonly Buffer[]): Bucket {
  let b = tx.bucket(path[0]!);
  for (let i = 1; i < path.length && b !== null; i++) b = b.bucket(path[i]!);
  if (b === null) throw new Error(`test: bucket path ${path.map((p) => p.toString('hex')).join('/')} missing`);
  return b;
}

type WriteTxLike = ReadTx & {
  createBucket(name: Uint8Array): Bucket;
  deleteBucket(name: Uint8Array): void;
};

/**
 * Applies `n` random operations to both the model and a write transaction: bucket creates
 * (top-level and nested), bucket deletes, puts, deletes, and puts that must be refused
 * ('incompatible value': the key names a bucket). The model stays exactly what the engine
 * should hold.
 */
export function applyRandomOps(rng: Rng, model: ModelBucket, tx: WriteTxLike, n: number, allowBig: boolean): void {
  for (let i = 0; i < n; i++) {
    const buckets = modelBuckets(model);
    const r = rng.int(100);
    if (buckets.length === 0 || r < 4) {
      const name = randomKey(rng);
      if (model.entries.has(name.toString('hex'))) continue;
      tx.createBucket(name);
      model.entries.set(name.toString('hex'), new ModelBucket());
    } else if (r < 8) {
      const { path, bucket } = rng.pick(buckets);
      const name = randomKey(rng);
      if (bucket.entries.has(name.toString('hex'))) continue;
      txBucket(tx, path).createBucket(name);
      bucket.entries.set(name.toString('hex'), new ModelBucket());
    } else if (r < 10) {
      const { path } = rng.pick(buckets);
      const parentPath = path.slice(0, -1);
      const name = path[path.length - 1]!;
      if (parentPath.length === 0) tx.deleteBucket(name);
      else txBucket(tx, parentPath).deleteBucket(name);
      const parent = parentPath.length === 0 ? model : modelBuckets(model).find((x) => x.path.length === parentPath.length && x.path.every((p, j) => p.equals(parentPath[j]!)))!.bucket;
      parent.entries.delete(name.toString('hex'));
    } else if (r < 75) {
      const { path, bucket } = rng.pick(buckets);
      const key = randomKey(rng);
      const value = randomValue(rng, allowBig);
      const existing = bucket.entries.get(key.toString('hex'));
      const b = txBucket(tx, path);
      if (existing instanceof ModelBucket) {
        let refused = false;
        try {
          b.put(key, value);
        } catch (e) {
          refused = (e as Error).message === 'incompatible value';
        }
        if (!refused) throw new Error('test: put over a nested bucket was not refused with "incompatible value"');
        continue;
      }
      b.put(key, value);
      bucket.entries.set(key.toString('hex'), value);
    } else {
      const { path, bucket } = rng.pick(buckets);
      const keys = [...bucket.entries.keys()].filter((k) => !(bucket.entries.get(k) instanceof ModelBucket));
      const key = keys.length > 0 && rng.chance(0.8) ? Buffer.from(rng.pick(keys), 'hex') : randomKey(rng);
      if (bucket.entries.get(key.toString('hex')) instanceof ModelBucket) continue;
      txBucket(tx, path).delete(key);
      bucket.entries.delete(key.toString('hex'));
    }
  }
}
