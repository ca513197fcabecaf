/**
 * The interval tree against a plain list: after every random insert, overwrite and delete, a
 * stab at random points must return exactly the intervals of the list that contain the point,
 * in (start, end) order, and the treap's order, heap and max-end invariants must hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalTree, type IntervalEnd } from './interval-tree';
import { Rng, forSeeds } from './test-rng';

interface Item {
  start: string;
  end: IntervalEnd;
  value: number;
}

function cmp(a: Item, b: Item): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.end === b.end) return 0;
  if (a.end === null) return 1;
  if (b.end === null) return -1;
  return a.end < b.end ? -1 : 1;
}

function randomKey(rng: Rng): string {
  const n = 1 + rng.int(3);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.1) ? rng.pick([0, 255]) : 97 + rng.int(6));
  return s;
}

test('stab returns exactly the intervals containing the point, in order', () => {
  forSeeds(10, (seed) => {
    const rng = new Rng(seed);
    const tree = new IntervalTree<number>();
    let list: Item[] = [];
    for (let step = 0; step < 600; step++) {
      if (list.length > 0 && rng.chance(0.35)) {
        const victim = rng.pick(list);
        assert.equal(tree.delete(victim.start, victim.end), true);
        list = list.filter((x) => x !== victim);
        assert.equal(tree.delete(victim.start, victim.end), false, 'deleting twice finds nothing');
      } else {
        const a = randomKey(rng);
        let end: IntervalEnd = rng.chance(0.2) ? null : randomKey(rng);
        if (end !== null && end <= a) end = a + '\u0000';
        const value = step;
        const existing = list.find((x) => x.start === a && x.end === end);
        if (existing !== undefined) existing.value = value;
        else list.push({ start: a, end, value });
        tree.set(a, end, value);
      }
      assert.equal(tree.size, list.length);
      tree.checkInvariants();
      for (let q = 0; q < 5; q++) {
        const p = randomKey(rng);
        const got: Item[] = [];
        tree.stab(p, (value, start, end) => got.push({ start, end, value }));
        const want = list.filter((x) => x.start <= p && (x.end === null || p < x.end)).sort(cmp);
        assert.deepEqual(got, want, `stab ${JSON.stringify(p)}`);
      }
      const some = rng.pick(list.length > 0 ? list : [{ start: 'zz', end: null, value: -1 }]);
      assert.equal(tree.get(some.start, some.end), some.value === -1 ? undefined : some.value);
    }
  });
});

test('an empty or reversed interval is refused', () => {
  const t = new IntervalTree<number>();
  assert.throws(() => t.set('b', 'a', 1));
  assert.throws(() => t.set('b', 'b', 1));
  assert.equal(t.size, 0);
});
