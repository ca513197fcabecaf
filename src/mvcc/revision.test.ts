import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError, AssertionError } from '../pkg';
import {
  compareRevisions,
  decodeRevision,
  encodeRevision,
  encodeRevisionInto,
  isTombstoneKey,
  revision,
  revisionGreaterThan,
  RevisionSet,
  ERR_BAD_REVISION_KEY,
  MAX_REVISION_PART,
  REVISION_BYTES,
  TOMBSTONE_REVISION_BYTES,
} from './revision';
import { Rng, forSeeds } from './test-rng';

test('encodeRevision writes etcd layout: 8-byte big-endian main, "_", 8-byte big-endian sub', () => {
  assert.equal(encodeRevision(revision(0, 0)).toString('hex'), '0000000000000000' + '5f' + '0000000000000000');
  assert.equal(encodeRevision(revision(1, 2)).toString('hex'), '0000000000000001' + '5f' + '0000000000000002');
  assert.equal(encodeRevision(revision(0x0102030405, 0x0a0b)).toString('hex'), '0000000102030405' + '5f' + '0000000000000a0b');
  // 2^53 - 1 = 0x1fffffffffffff, the largest revision a JS number holds exactly.
  const max = encodeRevision(revision(MAX_REVISION_PART, MAX_REVISION_PART));
  assert.equal(max.toString('hex'), '001fffffffffffff' + '5f' + '001fffffffffffff');
  assert.equal(max.length, REVISION_BYTES);
});

test('a tombstone key is the normal key plus a trailing "t" (0x74), 18 bytes', () => {
  const k = encodeRevision(revision(7, 3), true);
  assert.equal(k.length, TOMBSTONE_REVISION_BYTES);
  assert.equal(k.toString('hex'), '0000000000000007' + '5f' + '0000000000000003' + '74');
  assert.equal(isTombstoneKey(k), true);
  assert.equal(isTombstoneKey(encodeRevision(revision(7, 3))), false);
  assert.deepEqual(decodeRevision(k), { rev: { main: 7, sub: 3 }, tombstone: true });
});

test('decode(encode(r)) == r at the edges and at random, with and without the tombstone mark', () => {
  const edges = [0, 1, 0xff, 0x100, 0xffff_ffff, 0x1_0000_0000, 2 ** 52, MAX_REVISION_PART - 1, MAX_REVISION_PART];
  for (const main of edges) {
    for (const sub of edges) {
      for (const tombstone of [false, true]) {
        assert.deepEqual(decodeRevision(encodeRevision(revision(main, sub), tombstone)), { rev: { main, sub }, tombstone });
      }
    }
  }
  forSeeds(3, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 2000; i++) {
      const main = (rng.u32() & 0x1f_ffff) * 0x1_0000_0000 + rng.u32();
      const sub = rng.chance(0.5) ? rng.int(100) : rng.u32();
      assert.deepEqual(decodeRevision(encodeRevision(revision(main, sub))).rev, { main, sub });
    }
  });
});

test('byte order of encoded keys equals revision order (so backend cursors walk history in order)', () => {
  forSeeds(3, (seed) => {
    const rng = new Rng(seed);
    const parts = [0, 1, 255, 256, 65535, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, MAX_REVISION_PART - 1];
    const revs = Array.from({ length: 300 }, () => revision(rng.pick(parts) + rng.int(2), rng.pick(parts)));
    for (let i = 1; i < revs.length; i++) {
      const a = revs[i - 1]!;
      const b = revs[i]!;
      assert.equal(Math.sign(Buffer.compare(encodeRevision(a), encodeRevision(b))), Math.sign(compareRevisions(a, b)), `${a.main}.${a.sub} vs ${b.main}.${b.sub}`);
    }
  });
});

test('decodeRevision refuses malformed keys with ERR_BAD_REVISION_KEY and says why', () => {
  const good = encodeRevision(revision(5, 1));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /0 bytes/],
    ['16 bytes', good.subarray(0, 16), /16 bytes.*want 17/],
    ['19 bytes', Buffer.concat([good, Buffer.from('tt')]), /19 bytes/],
    ['8-byte main only (a compaction bound)', good.subarray(0, 8), /8 bytes/],
    ['bad separator', Buffer.from(good).fill(0x2e, 8, 9), /separator/],
    ['18 bytes without the t mark', Buffer.concat([good, Buffer.from('x')]), /tombstone mark/],
    ['main at 2^53', Buffer.from('0020000000000000' + '5f' + '0000000000000000', 'hex'), /main revision does not fit/],
    ['sub at 2^64-1', Buffer.from('0000000000000001' + '5f' + 'ffffffffffffffff', 'hex'), /sub revision does not fit/],
  ];
  for (const [name, key, why] of cases) {
    assert.throws(
      () => decodeRevision(key),
      (e: unknown) => isFloeError(e, ERR_BAD_REVISION_KEY) && why.test((e as Error).message),
      name,
    );
  }
});

test('decodeRevision reads a key that is a view into a larger buffer', () => {
  const big = Buffer.concat([Buffer.from('junk'), encodeRevision(revision(2 ** 40, 9), true), Buffer.from('more')]);
  assert.deepEqual(decodeRevision(big.subarray(4, 4 + 18)), { rev: { main: 2 ** 40, sub: 9 }, tombstone: true });
});

test('revisions outside [0, 2^53) or not integers are invariant violations when built or encoded', () => {
  for (const bad of [-1, 2 ** 53, 1.5, NaN, Infinity]) {
    assert.throws(() => revision(bad, 0), AssertionError);
    assert.throws(() => revision(0, bad), AssertionError);
    assert.throws(() => encodeRevision({ main: bad, sub: 0 }), AssertionError);
  }
  assert.throws(() => encodeRevisionInto(revision(1), Buffer.alloc(16), 0), AssertionError);
  const into = Buffer.alloc(20, 0xaa);
  encodeRevisionInto(revision(3, 4), into, 2);
  assert.equal(into.toString('hex'), 'aaaa' + '0000000000000003' + '5f' + '0000000000000004' + 'aa');
});

test('compareRevisions and revisionGreaterThan order by main, then sub', () => {
  assert.ok(compareRevisions(revision(1, 9), revision(2, 0)) < 0);
  assert.ok(compareRevisions(revision(2, 1), revision(2, 0)) > 0);
  assert.equal(compareRevisions(revision(2, 1), revision(2, 1)), 0);
  assert.equal(revisionGreaterThan(revision(2, 1), revision(2, 0)), true);
  assert.equal(revisionGreaterThan(revision(2, 0), revision(2, 0)), false);
  assert.equal(revisionGreaterThan(revision(1, 5), revision(2, 0)), false);
  assert.equal(revisionGreaterThan(revision(MAX_REVISION_PART, 0), revision(MAX_REVISION_PART - 1, MAX_REVISION_PART)), true);
});

test('RevisionSet behaves as a set of (main, sub) pairs, including several subs under one main', () => {
  forSeeds(3, (seed) => {
    const rng = new Rng(seed);
    const set = new RevisionSet();
    const model = new Map<string, { main: number; sub: number }>();
    for (let i = 0; i < 3000; i++) {
      const main = rng.chance(0.1) ? MAX_REVISION_PART - rng.int(3) : rng.int(40);
      const sub = rng.int(4);
      const id = `${main}.${sub}`;
      const op = rng.int(3);
      if (op === 0) {
        set.add({ main, sub });
        model.set(id, { main, sub });
      } else if (op === 1) {
        assert.equal(set.delete({ main, sub }), model.delete(id));
      } else {
        assert.equal(set.has({ main, sub }), model.has(id));
      }
      assert.equal(set.size, model.size);
    }
    assert.deepEqual(set.toSortedArray(), [...model.values()].sort(compareRevisions));
  });
});
