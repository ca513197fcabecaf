import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashmapFreelist } from './hashmap';

test('hashmap: an exact-size span is taken before a larger one, wherever it lies', () => {
  const f = new HashmapFreelist();
  f.readIds([2, 3, 4, 5, 10, 11, 20, 30, 31, 32]);
  assert.equal(f.allocate(1, 2), 10);
  assert.equal(f.allocate(1, 1), 20);
  assert.equal(f.allocate(1, 3), 30);
  assert.deepEqual(f.freeIds(), [2, 3, 4, 5]);
  f.verify();
});

test('hashmap: with no exact size, the smallest larger span is split and its rest stays usable', () => {
  const f = new HashmapFreelist();
  f.readIds([2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 40, 41, 42, 43, 44]);
  // Sizes 8, 3 and 5: a request for 2 takes the size-3 span.
  assert.equal(f.allocate(1, 2), 20);
  assert.deepEqual(f.freeIds(), [2, 3, 4, 5, 6, 7, 8, 9, 22, 40, 41, 42, 43, 44]);
  assert.equal(f.allocate(1, 1), 22);
  // A request for 6 skips size 5 and splits the size-8 span.
  assert.equal(f.allocate(1, 6), 2);
  assert.deepEqual(f.freeIds(), [8, 9, 40, 41, 42, 43, 44]);
  assert.equal(f.allocate(1, 9), 0);
  f.verify();
});

test('hashmap: a released page merges with the spans on both sides into one span', () => {
  const f = new HashmapFreelist();
  f.readIds([2, 3, 4, 6, 7, 100]);
  f.free(5, 5, 1);
  f.release(5);
  f.verify(); // asserts no two spans touch
  // The merged 6-page span is one span: an exact 6-page allocation finds it.
  assert.equal(f.allocate(6, 6), 2);
  assert.deepEqual(f.freeIds(), [100]);
});

test('hashmap: spans freed in one batch merge with each other and with existing spans', () => {
  const f = new HashmapFreelist();
  f.readIds([10]);
  f.free(3, 13, 2);
  f.free(3, 11, 2);
  f.free(4, 8, 2);
  f.release(4);
  f.verify();
  assert.equal(f.allocate(5, 7), 8);
  assert.equal(f.freeCount(), 0);
});

test('hashmap: the same calls choose the same pages (defined order)', () => {
  const run = () => {
    const f = new HashmapFreelist();
    const ids: number[] = [];
    for (let p = 2; p < 3000; p++) if (p % 3 !== 0 && p % 7 !== 0) ids.push(p);
    f.readIds(ids);
    const got: number[] = [];
    for (let i = 0; i < 300; i++) got.push(f.allocate(1, 1 + (i % 4)));
    return got;
  };
  assert.deepEqual(run(), run());
});

test('hashmap: many distinct sizes stay ordered as buckets empty and reappear', () => {
  const f = new HashmapFreelist();
  const ids: number[] = [];
  let p = 2;
  for (let size = 1; size <= 40; size++) {
    for (let k = 0; k < size; k++) ids.push(p + k);
    p += size + 1;
  }
  f.readIds(ids);
  for (let n = 40; n >= 1; n--) assert.notEqual(f.allocate(1, n), 0, `size ${n}`);
  assert.equal(f.freeCount(), 0);
  f.verify();
  f.readIds(ids);
  // Ascending requests of 2: each takes the smallest span that fits.
  let taken = 0;
  while (f.allocate(2, 2) !== 0) taken += 2;
  f.verify();
  assert.equal(f.freeCount() + taken, ids.length);
});
