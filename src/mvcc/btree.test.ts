import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../pkg';
import { BTree, compareBinaryStrings, compareBuffers } from './btree';
import { Rng, forSeeds } from './test-rng';

/** The model: a sorted array of [key, value] pairs, searched linearly. Obviously right. */
class SortedArrayModel {
  entries: Array<[Buffer, number]> = [];

  private find(key: Buffer): number {
    return this.entries.findIndex(([k]) => k.equals(key));
  }
  get(key: Buffer): number | undefined {
    const i = this.find(key);
    return i === -1 ? undefined : this.entries[i]![1];
  }
  set(key: Buffer, value: number): boolean {
    const i = this.find(key);
    if (i !== -1) {
      this.entries[i]![1] = value;
      return false;
    }
    this.entries.push([key, value]);
    this.entries.sort((a, b) => Buffer.compare(a[0], b[0]));
    return true;
  }
  delete(key: Buffer): boolean {
    const i = this.find(key);
    if (i === -1) return false;
    this.entries.splice(i, 1);
    return true;
  }
  range(gte: Buffer | undefined, lt: Buffer | undefined): Array<[Buffer, number]> {
    return this.entries.filter(([k]) => (gte === undefined || Buffer.compare(k, gte) >= 0) && (lt === undefined || Buffer.compare(k, lt) < 0));
  }
}

function randomKey(rng: Rng): Buffer {
  // Short keys over a small alphabet collide often and share prefixes; 0x00 and 0xff test the
  // ends of byte order.
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff];
  const len = rng.int(4);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = rng.pick(alphabet);
  return out;
}

function collect(tree: BTree<Buffer, number>, walk: (t: BTree<Buffer, number>, v: (k: Buffer, x: number) => void) => void): Array<[Buffer, number]> {
  const out: Array<[Buffer, number]> = [];
  walk(tree, (k, v) => {
    out.push([k, v]);
  });
  return out;
}

function runAgainstModel(seed: number, nodeCapacity: number, steps: number): void {
  const rng = new Rng(seed);
  const tree = new BTree<Buffer, number>(compareBuffers, { nodeCapacity });
  const model = new SortedArrayModel();
  for (let step = 0; step < steps; step++) {
    const key = randomKey(rng);
    const op = rng.int(10);
    const where = `step ${step} op ${op} key ${key.toString('hex')}`;
    if (op < 5) {
      assert.equal(tree.set(key, step), model.set(key, step), where);
    } else if (op < 8) {
      assert.equal(tree.delete(key), model.delete(key), where);
    } else {
      assert.equal(tree.get(key), model.get(key), where);
      assert.equal(tree.has(key), model.get(key) !== undefined, where);
    }
    assert.equal(tree.size, model.entries.length, where);
    if (step % 16 === 0 || op >= 8) {
      tree.checkInvariants();
      const a = rng.chance(0.2) ? undefined : randomKey(rng);
      const b = rng.chance(0.2) ? undefined : randomKey(rng);
      const want = model.range(a, b);
      assert.deepEqual(collect(tree, (t, v) => t.ascendRange(a, b, v)), want, `${where} ascendRange`);
      assert.deepEqual(collect(tree, (t, v) => t.ascendFrom(a, v)), model.range(a, undefined), `${where} ascendFrom`);
      // descendRange(lte, gt) visits (gt, lte] backwards.
      const wantDesc = model.entries
        .filter(([k]) => (a === undefined || Buffer.compare(k, a) <= 0) && (b === undefined || Buffer.compare(k, b) > 0))
        .reverse();
      assert.deepEqual(collect(tree, (t, v) => t.descendRange(a, b, v)), wantDesc, `${where} descendRange`);
      assert.deepEqual(collect(tree, (t, v) => t.descendFrom(undefined, v)), [...model.entries].reverse(), `${where} descendFrom`);
      // Cursor: forward from a, then back again.
      const fwd: Array<[Buffer, number]> = [];
      const c = tree.seek(a);
      for (; c.valid; c.next()) fwd.push([c.key, c.value]);
      assert.deepEqual(fwd, model.range(a, undefined), `${where} cursor`);
      const back: Buffer[] = [];
      const c2 = tree.seek(a);
      if (c2.valid) for (; c2.valid; c2.prev()) back.push(c2.key);
      const firstAt = a === undefined ? 0 : model.entries.findIndex(([k]) => Buffer.compare(k, a) >= 0);
      const wantBack = firstAt === -1 ? [] : model.entries.slice(0, firstAt + 1).map(([k]) => k).reverse();
      assert.deepEqual(back, wantBack, `${where} cursor backwards`);
      assert.deepEqual(tree.minKey(), model.entries[0]?.[0], `${where} minKey`);
      assert.deepEqual(tree.maxKey(), model.entries[model.entries.length - 1]?.[0], `${where} maxKey`);
    }
  }
  tree.checkInvariants();
}

test('BTree agrees with a sorted-array model under random set/delete/get and every walk (small nodes)', () => {
  // Capacity 4 forces splits, borrows and merges at every level within a few hundred keys.
  forSeeds(4, (seed) => runAgainstModel(seed, 4, 3000));
});

test('BTree agrees with a sorted-array model at odd and default node capacities', () => {
  forSeeds(2, (seed) => {
    runAgainstModel(seed, 5, 1500);
    runAgainstModel(seed, 64, 1500);
  });
});

test('BTree stays valid through bulk ascending inserts and deletes (deep trees, all merge paths)', () => {
  forSeeds(2, (seed) => {
    const rng = new Rng(seed);
    const tree = new BTree<string, number>(compareBinaryStrings, { nodeCapacity: 6 });
    const n = 5000;
    const keyOf = (i: number): string => i.toString(36).padStart(4, '0');
    for (let i = 0; i < n; i++) tree.set(keyOf(i), i);
    tree.checkInvariants();
    assert.equal(tree.size, n);
    // Delete in a shuffled order, checking the structure as the tree shrinks level by level.
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let k = 0; k < n; k++) {
      assert.equal(tree.delete(keyOf(order[k]!)), true);
      if (k % 97 === 0) tree.checkInvariants();
    }
    tree.checkInvariants();
    assert.equal(tree.size, 0);
    assert.equal(tree.minKey(), undefined);
  });
});

test('ascend stops when the visitor returns false, and bounds are half-open [gte, lt)', () => {
  const tree = new BTree<string, number>(compareBinaryStrings, { nodeCapacity: 4 });
  for (let i = 0; i < 100; i++) tree.set(String.fromCharCode(65 + (i % 26)) + String(i).padStart(3, '0'), i);
  const seen: string[] = [];
  tree.ascendFrom(undefined, (k) => {
    seen.push(k);
    return seen.length < 3;
  });
  assert.equal(seen.length, 3);
  const inRange: string[] = [];
  tree.ascendRange('B', 'C', (k) => void inRange.push(k));
  assert.ok(inRange.length > 0 && inRange.every((k) => k >= 'B' && k < 'C'));
  const empty: string[] = [];
  tree.ascendRange('C', 'B', (k) => void empty.push(k));
  assert.deepEqual(empty, []);
});

test('byte-wise order: binary strings compare exactly like Buffer.compare on the same bytes', () => {
  forSeeds(3, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 5000; i++) {
      const a = randomKey(rng);
      const b = randomKey(rng);
      assert.equal(Math.sign(compareBinaryStrings(a.toString('latin1'), b.toString('latin1'))), Math.sign(Buffer.compare(a, b)), `${a.toString('hex')} vs ${b.toString('hex')}`);
    }
  });
});

test('changing the tree during a walk, or using a stale cursor, is caught', () => {
  const tree = new BTree<string, number>(compareBinaryStrings);
  for (let i = 0; i < 10; i++) tree.set(`k${i}`, i);
  assert.throws(() => tree.ascendFrom(undefined, (k) => void tree.delete(k)), AssertionError);
  const c = tree.seek('k5');
  tree.set('k99', 1);
  assert.throws(() => c.key, AssertionError);
  // Replacing a value is not a structural change: a cursor stays usable.
  const d = tree.seek('k5');
  tree.set('k5', 55);
  assert.equal(d.value, 55);
});

test('node capacity below the minimum is refused', () => {
  assert.throws(() => new BTree<string, number>(compareBinaryStrings, { nodeCapacity: 3 }), AssertionError);
  assert.doesNotThrow(() => new BTree<string, number>(compareBinaryStrings, { nodeCapacity: 4 }));
});
