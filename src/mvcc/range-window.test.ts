/**
 * A big range's records fetched in revision order (range-window.ts): a dense range is served
 * wholly by the sweep, through writes and commits between steps; a sweep that runs out of
 * budget leaves the rest to lookups; records larger than an arena chunk come out whole; and
 * the slot table finds what it holds, with sub revisions and mains above 2^32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { decodeKeyValue, type KeyValue } from './kv-codec';
import { SlotTable } from './range-window';
import { RevisionList } from './revision';
import type { RangeReaderOptions } from './range-reader';
import { Rng } from './test-rng';
import { b, closeStore, openStore, tempDir, type OpenStore } from './test-store';

interface ReadResult {
  readonly kvs: KeyValue[];
  readonly swept: number;
  readonly lookedUp: number;
}

/** Reads [from, to) at the current revision in steps of `stepKeys`, calling `between` after each step. */
function readAll(s: OpenStore, from: string, to: string, opts: RangeReaderOptions, stepKeys: number, between: () => void = () => undefined): ReadResult {
  const reader = s.store.openRange(b(from), b(to), opts);
  const kvs: KeyValue[] = [];
  try {
    while (!reader.step(stepKeys, (r) => kvs.push(decodeKeyValue(Buffer.from(r))))) between();
    return { kvs, swept: reader.sweptRecords, lookedUp: reader.lookedUpRecords };
  } finally {
    reader.close();
  }
}

function withStore(fn: (s: OpenStore) => void | Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  return (async () => {
    try {
      await fn(s);
    } finally {
      await closeStore(s);
      cleanup();
    }
  })();
}

test('a dense range is fetched by the sweep alone, with writes and commits between its steps', () =>
  withStore((s) => {
    const rng = new Rng(7);
    const order = Array.from({ length: 3000 }, (_, i) => i).sort(() => rng.int(3) - 1);
    const key = (i: number): Buffer => b(`k${i.toString().padStart(5, '0')}`);
    for (let i = 0; i < order.length; ) {
      if (rng.chance(0.2)) {
        // Several keys in one revision: records with sub revisions above 0.
        const n = Math.min(2 + rng.int(5), order.length - i);
        s.store.inWrite((t) => {
          for (let j = 0; j < n; j++) t.put(key(order[i + j] as number), rng.bytes(1 + rng.int(300), 8));
        });
        i += n;
      } else s.store.put(key(order[i++] as number), rng.bytes(1 + rng.int(300), 8));
    }
    for (let i = 0; i < 200; i++) s.store.deleteRange(key(rng.int(3000)), null);
    const want = s.store.range(b('k'), b('l')).kvs;
    const got = readAll(s, 'k', 'l', { windowRevs: 1500 }, 50, () => {
      s.store.put(key(rng.int(3000)), b('later'));
      if (rng.chance(0.3)) s.batch.commit();
    });
    assert.deepEqual(got.kvs, want);
    assert.equal(got.swept, want.length, 'every record came from the sweep');
    assert.equal(got.lookedUp, 0);
  }));

test('a sweep out of budget leaves the rest to lookups', () =>
  withStore((s) => {
    for (let i = 0; i < 50; i++) s.store.put(b(`k${i.toString().padStart(3, '0')}`), b(`early${i}`));
    // 30 revisions of 100 records each between the wanted ones: their span (130 revisions)
    // says "sweep", but the entries between them exceed the budget of 4 per wanted record.
    for (let t = 0; t < 30; t++) {
      s.store.inWrite((w) => {
        for (let j = 0; j < 100; j++) w.put(b(`j${t}-${j}`), b('junk'));
      });
    }
    for (let i = 50; i < 100; i++) s.store.put(b(`k${i.toString().padStart(3, '0')}`), b(`late${i}`));
    const got = readAll(s, 'k', 'l', { sweepMinRevs: 1 }, 10);
    assert.deepEqual(got.kvs.map((kv) => kv.value.toString()), [
      ...Array.from({ length: 50 }, (_, i) => `early${i}`),
      ...Array.from({ length: 50 }, (_, i) => `late${i + 50}`),
    ]);
    assert.equal(got.swept + got.lookedUp, 100);
    assert.ok(got.swept >= 50 && got.lookedUp > 0, `swept ${got.swept}, looked up ${got.lookedUp}`);
  }));

test('a range too sparse to sweep is looked up, and one below the minimum too', () =>
  withStore((s) => {
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 300; i++) s.store.put(b(`k${i.toString().padStart(3, '0')}`), b(`v${round}`));
    }
    // 300 wanted revisions spread over the last 300 of 3000: dense, swept.
    assert.equal(readAll(s, 'k', 'l', {}, 100).swept, 300);
    // Only the first 60 keys: below the default minimum of 256, looked up.
    const few = readAll(s, 'k000', 'k060', {}, 100);
    assert.equal(few.kvs.length, 60);
    assert.equal(few.lookedUp, 60);
    // Keys written once long ago among many later revisions: too sparse.
    for (let i = 0; i < 300; i++) s.store.put(b(`old${i.toString().padStart(3, '0')}`), b('x'));
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 300; i++) s.store.put(b(`k${i.toString().padStart(3, '0')}`), b(`w${round}`));
    }
    for (let i = 0; i < 300; i += 2) s.store.put(b(`old${i.toString().padStart(3, '0')}`), b('y'));
    const sparse = readAll(s, 'old', 'olf', {}, 100);
    assert.equal(sparse.kvs.length, 300);
    assert.equal(sparse.swept, 0, 'wanted revisions spread over 1950 revisions were swept');
  }));

test('records larger than an arena chunk come out whole', () =>
  withStore((s) => {
    const big = Buffer.alloc((1 << 20) + 5000, 0x62);
    for (let i = 0; i < 40; i++) s.store.put(b(`k${i.toString().padStart(2, '0')}`), i % 7 === 3 ? big : b(`small${i}`));
    s.batch.commit();
    const got = readAll(s, 'k', 'l', { sweepMinRevs: 1 }, 4);
    assert.equal(got.swept, 40);
    assert.deepEqual(got.kvs.map((kv) => kv.value.length), Array.from({ length: 40 }, (_, i) => (i % 7 === 3 ? big.length : `small${i}`.length)));
    assert.ok(got.kvs.filter((kv) => kv.value.length === big.length).every((kv) => kv.value.equals(big)));
  }));

test('the slot table finds every wanted revision and nothing else, with subs and mains above 2^32', () => {
  const rng = new Rng(3);
  for (const base of [1, 2 ** 32 - 700, 2 ** 52]) {
    const revs: Array<{ main: number; sub: number }> = [];
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const main = base + rng.int(3000);
      const sub = rng.chance(0.3) ? rng.int(200) : 0;
      if (seen.has(`${main}_${sub}`)) continue;
      seen.add(`${main}_${sub}`);
      revs.push({ main, sub });
    }
    const mains = revs.map((r) => r.main);
    const list = new RevisionList();
    for (const r of revs) list.push(r.main, r.sub);
    assert.equal(list.min.main, Math.min(...mains));
    assert.equal(list.max.main, Math.max(...mains));
    const table = new SlotTable(list);
    let steps = 1;
    while (!table.fill(300)) steps++;
    assert.equal(steps, Math.ceil(revs.length / 300));
    revs.forEach((r, slot) => assert.equal(table.get(r.main, r.sub), slot, `${r.main}_${r.sub}`));
    for (let i = 0; i < 2000; i++) {
      const main = base - 5 + rng.int(3010);
      const sub = rng.chance(0.3) ? rng.int(200) : 0;
      if (!seen.has(`${main}_${sub}`)) assert.equal(table.get(main, sub), -1, `${main}_${sub}`);
    }
  }
});
