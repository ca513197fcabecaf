/**
 * The seeded generator behind every randomized test and simulation: the same seed replays the
 * same sequence, nearby seeds diverge, the sequence does not cycle within millions of draws
 * (its predecessor repeated after ~4096), and draws are spread evenly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './rng';

test('the same seed replays the same sequence; nearby seeds give different ones', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 1000 }, () => a.u32());
  assert.deepEqual(Array.from({ length: 1000 }, () => b.u32()), xs);
  const ys = Array.from({ length: 1000 }, () => c.u32());
  assert.ok(xs.filter((x, i) => x === ys[i]).length < 3);
  for (const x of xs) assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
});

test('no cycle within two million draws, for several seeds', () => {
  for (const seed of [0, 1, 2, 12345, 404823]) {
    const r = new Rng(seed);
    // A repeat of a pair of consecutive draws would mean a cycle (two 32-bit draws by chance: ~2^-64 each).
    const seen = new Set<string>();
    let prev = r.u32();
    for (let i = 0; i < 2_000_000; i++) {
      const cur = r.u32();
      if ((i & 15) === 0) {
        const k = `${prev},${cur}`;
        assert.ok(!seen.has(k), `seed ${seed}: the pair at draw ${i} repeated`);
        seen.add(k);
      }
      prev = cur;
    }
  }
});

test('int() is spread evenly and every bit of u32() is fair', () => {
  const r = new Rng(7);
  const n = 3000;
  const counts = new Array<number>(n).fill(0);
  const draws = 300_000;
  for (let i = 0; i < draws; i++) counts[r.int(n)]!++;
  // 100 per value expected; a chi-square over 2999 degrees of freedom stays well below 3400.
  const chi = counts.reduce((sum, c) => sum + (c - 100) ** 2 / 100, 0);
  assert.ok(chi < 3400, `chi-square ${chi.toFixed(0)}`);
  assert.equal(counts.filter((c) => c === 0).length, 0);
  const ones = new Array<number>(32).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const x = r.u32();
    for (let bit = 0; bit < 32; bit++) if ((x >>> bit) & 1) ones[bit]!++;
  }
  for (let bit = 0; bit < 32; bit++) assert.ok(Math.abs(ones[bit]! - 50_000) < 1_000, `bit ${bit}: ${ones[bit]} ones`);
});
