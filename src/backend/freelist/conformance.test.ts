/**
 * Both freelists against a trivially correct per-page model of types.ts, under seeded random
 * operation sequences, plus the contract every kind must keep (assertions, release rules).
 * Replay a failure with FLOE_SEED=<seed printed in the message>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../../pkg';
import { FreelistBase } from './base';
import { FREELIST_KINDS, newFreelist } from './index';
import type { Freelist, FreelistKind, Pgid, Txid } from './types';

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
}

const SEEDS = [1, 2, 3, 42, process.env.FLOE_SEED !== undefined ? Number(process.env.FLOE_SEED) : Date.now() % 1e9];

/** Runs `body` with `seed`; a failure's message names the seed. */
function withSeed(seed: number, body: () => void): void {
  try {
    body();
  } catch (e) {
    if (e instanceof Error) e.message = `[FLOE_SEED=${seed}] ${e.message}`;
    throw e;
  }
}

/** The reference: one Set of free pages, pending pages per txid with their allocator. */
class Model {
  free = new Set<Pgid>();
  pending = new Map<Txid, { page: Pgid; allocTx: Txid }[]>();
  allocs = new Map<Pgid, Txid>();

  pendingPages(): Pgid[] {
    const out: Pgid[] = [];
    for (const list of this.pending.values()) for (const e of list) out.push(e.page);
    return out;
  }
  freeIds(): Pgid[] {
    return [...this.free].sort((a, b) => a - b);
  }
  allIds(): Pgid[] {
    return [...this.free, ...this.pendingPages()].sort((a, b) => a - b);
  }
  isFreed(p: Pgid): boolean {
    return this.free.has(p) || this.pendingPages().includes(p);
  }
  hasRun(n: number): boolean {
    for (const p of this.free) {
      let k = 1;
      while (k < n && this.free.has(p + k)) k++;
      if (k === n) return true;
    }
    return false;
  }
  takeRun(txid: Txid, start: Pgid, n: number): void {
    for (let k = 0; k < n; k++) {
      assert.ok(this.free.has(start + k), `allocate returned page ${start + k}, which was not free`);
      this.free.delete(start + k);
    }
    this.allocs.set(start, txid);
  }
  doFree(txid: Txid, start: Pgid, n: number): void {
    const allocTx = this.allocs.get(start) ?? 0;
    this.allocs.delete(start);
    const list = this.pending.get(txid) ?? [];
    for (let k = 0; k < n; k++) list.push({ page: start + k, allocTx });
    this.pending.set(txid, list);
  }
  release(txid: Txid): void {
    for (const [tid, list] of [...this.pending]) {
      if (tid > txid) continue;
      for (const e of list) this.free.add(e.page);
      this.pending.delete(tid);
    }
  }
  releaseRange(begin: Txid, end: Txid): void {
    for (const [tid, list] of [...this.pending]) {
      if (tid < begin || tid > end) continue;
      const kept = list.filter((e) => !(e.allocTx >= begin && e.allocTx <= end));
      for (const e of list) if (e.allocTx >= begin && e.allocTx <= end) this.free.add(e.page);
      if (kept.length === 0) this.pending.delete(tid);
      else this.pending.set(tid, kept);
    }
  }
  rollback(txid: Txid): void {
    for (const e of this.pending.get(txid) ?? []) if (e.allocTx !== 0 && e.allocTx !== txid) this.allocs.set(e.page, e.allocTx);
    this.pending.delete(txid);
  }
  readIds(ids: readonly Pgid[]): void {
    this.free = new Set(ids);
    this.pending.clear();
    this.allocs.clear();
  }
  reload(ids: readonly Pgid[]): void {
    const pend = new Set(this.pendingPages());
    this.free = new Set(ids.filter((p) => !pend.has(p)));
  }
}

/** Asserts `f` holds exactly what `m` holds; checks freed() on every page up to `hwm`. */
function assertSame(f: Freelist, m: Model, hwm: number, step: string): void {
  const what = `${f.kind} after ${step}`;
  assert.deepEqual(f.freeIds(), m.freeIds(), `${what}: freeIds`);
  assert.deepEqual(f.allIds(), m.allIds(), `${what}: allIds`);
  assert.equal(f.freeCount(), m.free.size, `${what}: freeCount`);
  assert.equal(f.pendingCount(), m.pendingPages().length, `${what}: pendingCount`);
  const freed = new Set(m.allIds());
  for (let p = 0; p <= hwm + 1; p++) assert.equal(f.freed(p), freed.has(p), `${what}: freed(${p})`);
  assert.ok(f instanceof FreelistBase);
  f.verify();
}

test('both kinds and the model agree exactly after every step of random frees, releases, range releases, rollbacks and reloads', () => {
  for (const seed of SEEDS) {
    withSeed(seed, () => {
      const r = rng(seed);
      const hwm = 300;
      const kinds = FREELIST_KINDS.map((k) => newFreelist(k));
      const model = new Model();
      const initial: Pgid[] = [];
      for (let p = 2; p < hwm; p++) if (r(3) === 0) initial.push(p);
      for (const f of kinds) f.readIds(initial);
      model.readIds(initial);
      let txid = 1;
      for (let step = 0; step < 600; step++) {
        const op = r(100);
        let desc: string;
        if (op < 50) {
          // Free a run of pages that are neither free nor pending.
          const start = 2 + r(hwm - 2);
          const n = 1 + r(4);
          let ok = start + n <= hwm;
          for (let k = 0; ok && k < n; k++) ok = !model.isFreed(start + k);
          if (!ok) continue;
          const tx = txid - r(3);
          for (const f of kinds) f.free(tx, start, n);
          model.doFree(tx, start, n);
          desc = `free(${tx}, ${start}, ${n})`;
        } else if (op < 60) {
          txid++;
          desc = `txid++ -> ${txid}`;
        } else if (op < 72) {
          const t = txid - r(5);
          for (const f of kinds) f.release(t);
          model.release(t);
          desc = `release(${t})`;
        } else if (op < 82) {
          const begin = txid - r(6);
          const end = begin + r(4) - 1;
          for (const f of kinds) f.releaseRange(begin, end);
          model.releaseRange(begin, end);
          desc = `releaseRange(${begin}, ${end})`;
        } else if (op < 90) {
          const t = txid - r(3);
          for (const f of kinds) f.rollback(t);
          model.rollback(t);
          desc = `rollback(${t})`;
        } else if (op < 96) {
          // Any ascending set may come back from disk; pending pages in it must be filtered.
          const ids: Pgid[] = [];
          for (let p = 2; p < hwm; p++) if (r(4) === 0) ids.push(p);
          for (const f of kinds) f.reload(ids);
          model.reload(ids);
          desc = `reload(${ids.length} ids)`;
        } else {
          const ids = model.allIds();
          for (const f of kinds) f.readIds(ids);
          model.readIds(ids);
          desc = `readIds(${ids.length} ids)`;
        }
        for (const f of kinds) assertSame(f, model, hwm, `step ${step} ${desc}`);
      }
    });
  }
});

/**
 * A small engine over each kind: write transactions that allocate (growing the file when the
 * freelist has no run), free live allocations, commit or roll back (rollback + reload of the
 * committed freelist, as the engine does), readers that hold back release, and reopen. The
 * kinds may choose different pages, so each is checked against its own model; every
 * allocation must return n pages that were all free, and 0 only when no run of n exists.
 */
function engineRun(kind: FreelistKind, seed: number): { allocs: number; grows: number } {
  const r = rng(seed);
  const f = newFreelist(kind);
  const m = new Model();
  let hwm = 2;
  let txid = 1;
  let live: { start: Pgid; n: number }[] = [];
  let committed = { ids: [] as Pgid[], hwm, live: [] as { start: Pgid; n: number }[] };
  const readers: Txid[] = [];
  let writing = 0;
  let allocs = 0;
  let grows = 0;
  for (let step = 0; step < 1500; step++) {
    const op = r(100);
    let desc: string;
    if (writing === 0) {
      if (op < 15 && readers.length < 4) {
        readers.push(txid);
        desc = `open reader at ${txid}`;
      } else if (op < 30 && readers.length > 0) {
        const [t] = readers.splice(r(readers.length), 1);
        desc = `close reader ${t}`;
      } else if (op < 33 && readers.length === 0) {
        f.readIds(committed.ids);
        m.readIds(committed.ids);
        desc = 'reopen';
      } else {
        writing = txid + 1;
        // bbolt's rule: release below the oldest reader, then the gaps between readers.
        const sorted = [...readers].sort((a, b) => a - b);
        const minReader = sorted.length > 0 ? sorted[0]! : writing;
        f.release(minReader - 1);
        m.release(minReader - 1);
        for (let i = 0; i < sorted.length; i++) {
          const begin = sorted[i]! + 1;
          const end = i + 1 < sorted.length ? sorted[i + 1]! - 1 : writing - 1;
          f.releaseRange(begin, end);
          m.releaseRange(begin, end);
        }
        desc = `begin write ${writing} (readers ${sorted.join(',')})`;
      }
    } else if (op < 45) {
      const n = [1, 1, 1, 2, 3, 5, 8][r(7)]!;
      const start = f.allocate(writing, n);
      allocs++;
      if (start === 0) {
        assert.ok(!m.hasRun(n), `${kind}: allocate(${n}) returned 0 but a run of ${n} is free`);
        live.push({ start: hwm, n });
        hwm += n;
        grows++;
      } else {
        m.takeRun(writing, start, n);
        live.push({ start, n });
      }
      desc = `allocate(${writing}, ${n}) -> ${start}`;
    } else if (op < 80 && live.length > 0) {
      const [a] = live.splice(r(live.length), 1);
      f.free(writing, a!.start, a!.n);
      m.doFree(writing, a!.start, a!.n);
      desc = `free(${writing}, ${a!.start}, ${a!.n})`;
    } else if (op < 92) {
      txid = writing;
      writing = 0;
      committed = { ids: f.allIds(), hwm, live: live.slice() };
      desc = `commit ${txid}`;
    } else {
      f.rollback(writing);
      m.rollback(writing);
      f.reload(committed.ids);
      m.reload(committed.ids);
      hwm = committed.hwm;
      live = committed.live.slice();
      desc = `rollback ${writing}`;
      writing = 0;
    }
    assertSame(f, m, hwm, `step ${step} ${desc}`);
  }
  // Conservation: every page below the high-water mark is live, free or pending, once.
  const seen = new Set(f.allIds());
  for (const a of live) for (let k = 0; k < a.n; k++) {
    assert.ok(!seen.has(a.start + k), `${kind}: live page ${a.start + k} also on the freelist`);
    seen.add(a.start + k);
  }
  if (writing === 0) assert.equal(seen.size, hwm - 2, `${kind}: pages lost or duplicated`);
  return { allocs, grows };
}

test('each kind, driven like the engine drives it, matches the model and never loses or hands out a live page', () => {
  for (const seed of SEEDS) {
    withSeed(seed, () => {
      for (const kind of FREELIST_KINDS) {
        const { allocs, grows } = engineRun(kind, seed);
        // The run must exercise reuse, not only file growth.
        assert.ok(allocs - grows > allocs / 4, `${kind}: only ${allocs - grows} of ${allocs} allocations reused pages`);
      }
    });
  }
});

for (const kind of FREELIST_KINDS) {
  test(`${kind}: freeing page 0 or 1, a free page, a pending page or a bad count is an assertion`, () => {
    const f = newFreelist(kind);
    f.readIds([5, 6, 7]);
    f.free(3, 10, 2);
    assert.throws(() => f.free(4, 0, 1), AssertionError);
    assert.throws(() => f.free(4, 1, 1), AssertionError);
    assert.throws(() => f.free(4, 6, 1), /page 6 already freed/);
    assert.throws(() => f.free(4, 9, 2), /page 10 already freed/);
    assert.throws(() => f.free(4, 11, 1), AssertionError);
    assert.throws(() => f.free(4, 20, 0), AssertionError);
    assert.throws(() => f.free(4, 20, 1.5), AssertionError);
    assert.throws(() => f.allocate(4, 0), AssertionError);
    assert.throws(() => f.readIds([3, 2]), AssertionError);
    assert.throws(() => f.readIds([2, 2]), AssertionError);
    assert.throws(() => f.readIds([1, 2]), AssertionError);
    // Nothing above changed the state.
    assert.deepEqual(f.allIds(), [5, 6, 7, 10, 11]);
    assert.deepEqual(f.freeIds(), [5, 6, 7]);
  });

  test(`${kind}: pending pages are not allocatable until released, then are`, () => {
    const f = newFreelist(kind);
    f.free(5, 100, 3);
    assert.equal(f.allocate(6, 1), 0);
    f.release(4);
    assert.equal(f.pendingCount(), 3);
    f.release(5);
    assert.equal(f.pendingCount(), 0);
    assert.equal(f.allocate(6, 3), 100);
    assert.equal(f.freeCount(), 0);
  });

  test(`${kind}: releaseRange frees only pages both allocated and freed inside the range`, () => {
    const f = newFreelist(kind);
    f.readIds([10, 11, 12, 13]);
    assert.equal(f.allocate(6, 1), 10);
    assert.equal(f.allocate(3, 1), 11);
    f.free(7, 10, 1); // allocated by 6: invisible to a reader at 5 once released in [6, 8]
    f.free(7, 11, 1); // allocated by 3: a reader at 5 still sees it
    f.free(7, 50, 1); // allocator unknown (before open): stays pending
    f.releaseRange(6, 8);
    assert.deepEqual(f.freeIds(), [10, 12, 13]);
    assert.equal(f.pendingCount(), 2);
    f.releaseRange(9, 8); // empty range: no effect
    assert.equal(f.pendingCount(), 2);
    f.release(7);
    assert.deepEqual(f.freeIds(), [10, 11, 12, 13, 50]);
  });

  test(`${kind}: rollback forgets the pending frees of one transaction only`, () => {
    const f = newFreelist(kind);
    f.free(7, 20, 2);
    f.free(8, 30, 1);
    f.rollback(8);
    assert.deepEqual(f.allIds(), [20, 21]);
    assert.equal(f.freed(30), false);
    f.rollback(99); // unknown tx: no effect
    f.free(9, 30, 1); // page 30 is live again, so freeing it is legal
    assert.deepEqual(f.allIds(), [20, 21, 30]);
  });

  test(`${kind}: reload replaces the free set but keeps pending pages pending`, () => {
    const f = newFreelist(kind);
    f.readIds([2, 3, 4]);
    f.free(5, 10, 1);
    f.reload([3, 10, 11]);
    assert.deepEqual(f.freeIds(), [3, 11]);
    assert.deepEqual(f.allIds(), [3, 10, 11]);
    assert.equal(f.pendingCount(), 1);
  });

  test(`${kind}: page ids up to the largest safe integer work; past it is an assertion`, () => {
    const f = newFreelist(kind);
    const top = Number.MAX_SAFE_INTEGER - 1;
    f.free(1, top - 2, 3);
    f.free(1, 65535, 2); // straddles two bit-set chunks
    f.release(1);
    assert.deepEqual(f.freeIds(), [65535, 65536, top - 2, top - 1, top]);
    assert.equal(f.allocate(2, 3), top - 2);
    assert.equal(f.allocate(2, 2), 65535);
    assert.throws(() => f.free(3, Number.MAX_SAFE_INTEGER, 1), AssertionError);
  });

  test(`${kind}: allIds and freeIds are ascending whatever order pages were freed in`, () => {
    const f = newFreelist(kind);
    const pages = [900, 3, 70000, 41, 40, 200000, 5];
    pages.forEach((p, i) => f.free(i + 1, p, 1));
    f.release(3);
    const sorted = [...pages].sort((a, b) => a - b);
    assert.deepEqual(f.allIds(), sorted);
    assert.deepEqual(f.freeIds(), [3, 900, 70000]);
  });
}
