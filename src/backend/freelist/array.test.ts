import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayFreelist } from './array';

test('array: allocate is first fit: the lowest run of n consecutive free pages', () => {
  const f = new ArrayFreelist();
  f.readIds([3, 5, 6, 9, 10, 11, 20, 21, 22, 23]);
  assert.equal(f.allocate(1, 2), 5);
  assert.equal(f.allocate(1, 3), 9);
  assert.equal(f.allocate(1, 1), 3);
  assert.equal(f.allocate(1, 5), 0);
  assert.equal(f.allocate(1, 4), 20);
  assert.equal(f.allocate(1, 1), 0);
  assert.equal(f.freeCount(), 0);
  f.verify();
});

test('array: a run is found across the whole array, including at its very end', () => {
  const f = new ArrayFreelist();
  const ids: number[] = [];
  for (let p = 2; p < 2000; p += 2) ids.push(p);
  ids.push(2001, 2002);
  f.readIds(ids);
  assert.equal(f.allocate(1, 2), 2001);
  assert.equal(f.allocate(1, 2), 0);
  assert.equal(f.freeCount(), ids.length - 2);
  f.verify();
});

test('array: release merges the pending pages into the sorted array, so they join runs', () => {
  const f = new ArrayFreelist();
  f.readIds([2, 4, 8]);
  f.free(5, 7, 1);
  f.free(5, 3, 1);
  f.free(6, 9, 2);
  f.release(6);
  assert.deepEqual(f.freeIds(), [2, 3, 4, 7, 8, 9, 10]);
  assert.equal(f.allocate(7, 4), 7);
  assert.equal(f.allocate(7, 3), 2);
  f.verify();
});

test('array: freeIds returns a copy, so the caller cannot corrupt the freelist', () => {
  const f = new ArrayFreelist();
  f.readIds([2, 3]);
  f.freeIds().push(99);
  f.readIds([2, 3]);
  const ids = [4, 5];
  f.readIds(ids);
  ids.push(6);
  assert.deepEqual(f.freeIds(), [4, 5]);
  f.verify();
});
