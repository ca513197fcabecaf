/**
 * Big ranges with their windows fetched in the range worker (range-offload.ts): the answer is
 * the one the one-shot path gives, with writes, commits and a compaction between slices and
 * windows of random sizes; the worker really fetched them (its counters, its thread's nice
 * value); a job that fails reading fails its fetch only, and a closed offload refuses new
 * jobs; a worker that cannot start or dies leaves its windows to be swept on the range's own
 * thread, and the next job starts a new worker. Answers lie in slabs the worker reuses once
 * they are released, and in memory of its own when every slab is taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { etcdServices } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { Rng } from '../pkg';
import { RevisionList } from '../mvcc';
import { b, closeStore, openStore, tempDir, forSeedsAsync, type OpenStore } from '../mvcc/test-store';
import { applyRange } from './apply-kv';
import { RangeOffload } from './range-offload';
import { rangeInSlices } from './range-sliced';
import { takeWireRelease } from './range-wire';
import { rangeReq } from './test-util';

const encode = etcdServices().kv.Range.responseSerialize as (resp: pb.RangeResponse) => Buffer;

const key = (i: number): Buffer => b(`k${String(i).padStart(5, '0')}`);

async function withStore(fn: (s: OpenStore) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  try {
    await fn(s);
  } finally {
    await closeStore(s);
    cleanup();
  }
}

/** Runs `fn` with a store and an offload of nice value `nice`, closing both after. */
async function withOffload(nice: number, fn: (s: OpenStore, offload: RangeOffload) => Promise<void>): Promise<void> {
  const offload = new RangeOffload({ nice });
  try {
    await withStore((s) => fn(s, offload));
  } finally {
    await offload.close();
  }
}

test('windows fetched by the worker give the one-shot answer, with writes and commits between slices', async () => {
  // Small slabs, few of them: answers span several, big values need memory of the worker's
  // own, and answers left unreleased exhaust the pool.
  const offload = new RangeOffload({ nice: 0, slabBytes: 16 * 1024, slabLimit: 24 });
  try {
    await forSeedsAsync(3, (seed) =>
      withStore(async (s) => {
        const rng = new Rng(seed);
        const n = 2000 + rng.int(2000);
        // Every key once, in random order, then overwrites.
        const order = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [order[i], order[j]] = [order[j] as number, order[i] as number];
        }
        for (const i of order) s.store.put(key(i), rng.bytes(1 + rng.int(300), 8));
        for (let i = 0; i < n / 2; i++) {
          if (rng.chance(0.1)) {
            s.store.inWrite((t) => {
              for (let j = 0; j < 4; j++) t.put(key(rng.int(n)), rng.bytes(rng.int(400), 8));
            });
          } else s.store.put(key(rng.int(n)), rng.bytes(rng.int(400), 8));
          if (rng.chance(0.002)) s.batch.commit();
        }
        // Some values span overflow pages.
        for (let i = 0; i < 5; i++) s.store.put(key(rng.int(n)), rng.bytes(9000 + rng.int(9000), 8));
        const jobsBefore = offload.windows;
        const compactions: Array<Promise<unknown>> = [];
        for (let q = 0; q < 6; q++) {
          const r = rangeReq('', '', {
            key: q === 0 ? b('k') : key(rng.int(n / 2)),
            range_end: q === 1 ? Buffer.from([0]) : b('l'),
            // The first request is the whole range in one window: always swept.
            limit: q > 0 && rng.chance(0.3) ? String(300 + rng.int(800)) : '0',
            revision: rng.chance(0.3) ? String(Math.max(s.store.compactRevision, s.store.currentRevision - rng.int(50))) : '0',
          });
          const view = s.store.read();
          const oneShot = applyRange(view, r);
          oneShot.header = { revision: view.revision };
          view.end();
          const { resp, revision } = await rangeInSlices(s.store, r, {
            stepKeys: 1 + rng.int(200),
            sliceBudgetMs: 0,
            offload,
            // Windows of a third of the keys and more are dense enough to sweep.
            reader: q === 0 ? { windowRevs: n } : { windowRevs: Math.floor(n / (1 + rng.int(3))), sweepMinRevs: 1 + rng.int(300) },
            nextTurn: async () => {
              for (let w = rng.int(4); w > 0; w--) s.store.put(key(rng.int(n)), rng.bytes(rng.int(300), 8));
              if (rng.chance(0.2)) s.batch.commit();
              const at = s.store.currentRevision - 10;
              // Scheduled now, done once this range's pin is released.
              if (rng.chance(0.05) && at > s.store.compactRevision) compactions.push(s.store.compact(at));
            },
          });
          resp.header = { revision };
          assert.ok(encode(resp).equals(encode(oneShot)), `seed ${seed} request ${q}: the answers differ`);
          if (rng.chance(0.7)) takeWireRelease(resp)?.();
          assert.equal(s.store.openReaders, 0);
        }
        await Promise.all(compactions);
        assert.ok(offload.windows > jobsBefore, 'no window went to the worker');
        assert.equal(offload.inFlight, 0);
      }),
    );
  } finally {
    await offload.close();
  }
});

test('answers lie in slabs reused once released; with every slab taken the worker uses memory of its own', () =>
  withStore(async (s) => {
    const offload = new RangeOffload({ nice: 0, slabBytes: 8192, slabLimit: 6 });
    try {
      for (let i = 0; i < 600; i++) s.store.put(key(i), b(`v${i}`.padEnd(60, '.')));
      const r = rangeReq('k', 'l');
      const view = s.store.read();
      const want = encode(applyRange(view, r));
      view.end();
      const range = async (): Promise<pb.RangeResponse> => {
        const { resp } = await rangeInSlices(s.store, r, { offload });
        resp.header = {};
        assert.ok(encode(resp).equals(want), 'the answer differs');
        return resp;
      };
      const first = await range();
      const { created } = offload.slabCounts();
      assert.ok(created >= 3 && created <= 6, `an answer of ${want.length} bytes in ${created} slabs of 8 KiB`);
      assert.deepEqual(offload.slabCounts(), { created, taken: created }, 'held by the answer');
      takeWireRelease(first)!();
      assert.deepEqual(offload.slabCounts(), { created, taken: 0 });
      const second = await range();
      assert.deepEqual(offload.slabCounts(), { created, taken: created }, 'the same slabs again, none created');
      // Held: the next answers find the pool short and end in memory of the worker's own.
      const third = await range();
      const fourth = await range();
      assert.deepEqual(offload.slabCounts(), { created: 6, taken: 6 });
      for (const resp of [second, third, fourth]) takeWireRelease(resp)!();
      assert.deepEqual(offload.slabCounts(), { created: 6, taken: 0 });
      assert.equal(takeWireRelease(fourth), undefined, 'released once');
      // Pairs decoded before the release are copies; decoding after it is refused.
      assert.equal(fourth.kvs?.length, 600);
      const { resp: unread } = await rangeInSlices(s.store, r, { offload });
      takeWireRelease(unread)!();
      assert.throws(() => unread.kvs, /read after its memory was released/);
    } finally {
      await offload.close();
    }
  }));

test('an answer nobody took releases its slabs when it is garbage-collected', () =>
  withStore(async (s) => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const offload = new RangeOffload({ nice: 0, slabBytes: 8192, slabLimit: 8 });
    try {
      for (let i = 0; i < 300; i++) s.store.put(key(i), b(`v${i}`.padEnd(60, '.')));
      let resp: pb.RangeResponse | null = (await rangeInSlices(s.store, rangeReq('k', 'l'), { offload })).resp;
      assert.ok(offload.slabCounts().taken > 0);
      assert.equal(resp.kvs?.length, 300);
      resp = null;
      const deadline = Date.now() + 5000;
      while (offload.slabCounts().taken > 0 && Date.now() < deadline) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(offload.slabCounts().taken, 0, 'the collected answer released its slabs');
    } finally {
      await offload.close();
    }
  }));

test('records looked up here and windows fetched by the worker come out in key order', () =>
  withOffload(0, async (s, offload) => {
    // a-keys spread thin among junk (looked up here), then b-keys written together (swept there).
    for (let i = 0; i < 300; i++) {
      s.store.put(b(`a${String(i).padStart(3, '0')}`), b(`a${i}`));
      for (let j = 0; j < 10; j++) s.store.put(b(`z${j}`), b('junk'));
    }
    for (let i = 0; i < 900; i++) s.store.put(b(`b${String(i).padStart(3, '0')}`), b(`b${i}`));
    const r = rangeReq('a', 'c');
    const { resp } = await rangeInSlices(s.store, r, { offload, reader: { windowRevs: 300, sweepMinRevs: 1 } });
    assert.deepEqual(
      resp.kvs?.map((kv) => kv.value?.toString()),
      [...Array.from({ length: 300 }, (_, i) => `a${i}`), ...Array.from({ length: 900 }, (_, i) => `b${i}`)],
    );
    assert.equal(offload.windows, 3, 'the b-keys went to the worker, the a-keys did not');
  }));

test('the worker runs at its own nice value, below the thread that started it', () =>
  withOffload(7, async (s, offload) => {
    for (let i = 0; i < 600; i++) s.store.put(key(i), b(`v${i}`));
    await rangeInSlices(s.store, rangeReq('k', 'l'), { offload });
    assert.equal(offload.windows, 1);
    const nices = fs.readdirSync('/proc/self/task').map((t) => Number(fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    assert.ok(nices.includes(7), `thread nice values ${nices.join(',')}`);
    assert.equal(nices.filter((v) => v === 7).length, 1, 'only the worker took the nice value');
  }));

test('a job that fails fails its own fetch only; a closed offload refuses new ones', async () => {
  const offload = new RangeOffload({ nice: 0 });
  await withStore(async (s) => {
    for (let i = 0; i < 600; i++) s.store.put(key(i), b(`v${i}`));
    // A handle whose root names a page past the snapshot's end: the worker's read fails.
    const snapshot = s.store.exportRecords();
    const list = new RevisionList();
    list.push(2, 0);
    try {
      await assert.rejects(
        offload.fetch({ ...snapshot.handle, meta: { ...snapshot.handle.meta, root: snapshot.handle.meta.pgid + 5 } }, list, 4),
        (e: Error & { code?: string }) => e.code === 'ERR_RANGE_OFFLOAD' && /out of bounds/.test(e.message),
      );
    } finally {
      snapshot.release();
    }
    // The worker goes on serving.
    const r = rangeReq('k', 'l');
    const { resp } = await rangeInSlices(s.store, r, { offload });
    assert.equal(resp.kvs?.length, 600);
    assert.equal(resp.kvs?.at(-1)?.value?.toString(), 'v599');
    await offload.close();
    assert.equal(offload.inFlight, 0);
    const late = s.store.exportRecords();
    await assert.rejects(offload.fetch(late.handle, list, 4), { code: 'ERR_RANGE_OFFLOAD_CLOSED' });
    late.release();
    assert.throws(() => fs.fstatSync(late.handle.fd), { code: 'EBADF' }, 'the release closed the descriptor');
  });
});

test('a worker that dies fails the jobs it held; the next job starts a new one', () =>
  withOffload(0, async (s, offload) => {
    for (let i = 0; i < 600; i++) s.store.put(key(i), b(`v${i}`));
    const { resp: before } = await rangeInSlices(s.store, rangeReq('k', 'l'), { offload });
    const worker = (offload as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const snapshot = s.store.exportRecords();
    const list = new RevisionList();
    for (let i = 2; i < 602; i++) list.push(i, 0);
    try {
      const job = offload.fetch(snapshot.handle, list, 4);
      void worker.terminate();
      // The job either finished before the worker stopped or failed with the worker's exit.
      await job.then(
        (w) => assert.equal(w.swept + w.lookedUp, 600),
        (e: Error & { code?: string }) => assert.equal(e.code, 'ERR_RANGE_OFFLOAD_EXIT'),
      );
    } finally {
      snapshot.release();
    }
    assert.equal(offload.inFlight, 0);
    const { resp: after } = await rangeInSlices(s.store, rangeReq('k', 'l'), { offload });
    assert.deepEqual(after.kvs, before.kvs);
    assert.notEqual((offload as unknown as { worker: unknown }).worker, worker, 'a new worker serves');
  }));

test('a range whose worker cannot start, or dies in its job, sweeps that window on its own thread', async () => {
  await withStore(async (s) => {
    for (let i = 0; i < 2000; i++) s.store.put(key(i), b(`v${i}`));
    for (let i = 0; i < 500; i++) s.store.put(key((i * 7) % 2000), b(`w${i}`));
    const r = rangeReq('k', 'l');
    const view = s.store.read();
    const want = applyRange(view, r).kvs;
    view.end();
    const broken = new RangeOffload({ nice: 0, script: path.join(__dirname, 'no-such-worker.js') });
    try {
      const { resp } = await rangeInSlices(s.store, r, { offload: broken, reader: { windowRevs: 700 } });
      assert.deepEqual(resp.kvs, want);
      assert.equal(broken.windows, 0);
    } finally {
      await broken.close();
    }
    const dying = new RangeOffload({ nice: 0 });
    const fetch = dying.fetch.bind(dying);
    let killed = 0;
    dying.fetch = (handle, revs, factor) => {
      const job = fetch(handle, revs, factor);
      // Every other job loses its worker right after it was sent.
      if (killed++ % 2 === 0) void (dying as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      return job;
    };
    try {
      const { resp } = await rangeInSlices(s.store, r, { offload: dying, reader: { windowRevs: 700 } });
      assert.deepEqual(resp.kvs, want);
      assert.equal(killed, 3, 'three windows went to the offload');
      assert.equal(s.store.openReaders, 0);
    } finally {
      await dying.close();
    }
  });
});
