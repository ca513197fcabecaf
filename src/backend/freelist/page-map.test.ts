import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageMap } from './page-map';

test('page map: random sets, gets and deletes agree with a JS Map (seeded; replay with FLOE_SEED)', () => {
  const seed = process.env.FLOE_SEED !== undefined ? Number(process.env.FLOE_SEED) : Date.now() % 1e9;
  let s = seed >>> 0;
  const r = (n: number) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % n;
  };
  const m = new PageMap();
  const ref = new Map<number, number>();
  // Keys from a narrow range collide and form long probe runs; a few huge ones test hashing.
  const key = () => (r(10) === 0 ? Number.MAX_SAFE_INTEGER - r(50) : 2 + r(3000));
  try {
    for (let step = 0; step < 60000; step++) {
      const k = key();
      const op = r(3);
      if (op === 0) {
        m.set(k, step);
        ref.set(k, step);
      } else if (op === 1) {
        assert.equal(m.delete(k), ref.delete(k), `delete(${k}) at step ${step}`);
      } else {
        assert.equal(m.get(k), ref.has(k) ? ref.get(k)! : -1, `get(${k}) at step ${step}`);
      }
      assert.equal(m.size, ref.size);
      if (step % 20000 === 19999) {
        for (const [k2, v] of ref) assert.equal(m.get(k2), v, `full check of ${k2} at step ${step}`);
        let n = 0;
        m.forEach((k2, v) => {
          assert.equal(ref.get(k2), v);
          n++;
        });
        assert.equal(n, ref.size);
      }
    }
  } catch (e) {
    if (e instanceof Error) e.message = `[FLOE_SEED=${seed}] ${e.message}`;
    throw e;
  }
});

test('page map: clear empties it; a negative key or value is an assertion', () => {
  const m = new PageMap();
  for (let i = 0; i < 1000; i++) m.set(i, i);
  m.clear(10);
  assert.equal(m.size, 0);
  assert.equal(m.get(5), -1);
  m.set(5, 0);
  assert.equal(m.get(5), 0);
  assert.throws(() => m.set(-1, 0));
  assert.throws(() => m.set(1, -1));
});
