import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageCache } from './page-cache';

test('the cache never holds more bytes than its bound and keeps recently used pages', () => {
  const c = new PageCache(4 * 100);
  for (let i = 0; i < 4; i++) c.put(i, Buffer.alloc(100, i));
  assert.equal(c.bytes, 400);
  c.get(0); // referenced: survives the next eviction
  c.put(4, Buffer.alloc(100));
  assert.equal(c.bytes, 400);
  assert.ok(c.get(0) !== undefined, 'recently used page evicted');
  assert.equal(c.get(1), undefined, 'least recently used page kept');
  for (let i = 10; i < 100; i++) {
    c.put(i, Buffer.alloc(37 + (i % 50)));
    assert.ok(c.bytes <= 400);
  }
});

test('putting a page again replaces it, and buffers handed out earlier are untouched', () => {
  const c = new PageCache(1000);
  const a = Buffer.from('old');
  c.put(7, a);
  const held = c.get(7)!;
  c.put(7, Buffer.from('newer'));
  assert.equal(c.get(7)!.toString(), 'newer');
  assert.equal(held.toString(), 'old');
  assert.equal(c.bytes, 5);
});

test('a buffer larger than the whole bound is not cached; the bound must be at least 1', () => {
  const c = new PageCache(10);
  c.put(1, Buffer.alloc(11));
  assert.equal(c.get(1), undefined);
  assert.equal(c.bytes, 0);
  c.put(2, Buffer.alloc(10));
  assert.equal(c.bytes, 10);
  assert.throws(() => new PageCache(0));
});
