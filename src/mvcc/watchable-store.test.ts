/**
 * Watch: etcd's responses on small cases, then the watch guarantees under random interleavings
 * of writes, watcher starts (past, present, future, below the compaction), cancels, slow and
 * stalled consumers with tiny queues, compactions and progress requests, checked against the
 * full event history of a model:
 *   ordered    each watcher's events come in revision order, and no revision is split
 *              between two responses;
 *   unique     nothing is delivered twice;
 *   reliable   every event in range from the start revision is delivered (once everything
 *              settles, exactly the expected list; before, always a prefix of it);
 *   resumable  a watcher started at any revision at or above the compaction gets the history
 *              from there; below it, a compacted response and nothing else;
 *   bookmarks  a progress response at revision R comes after every event up to R.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { ERR_EMPTY_WATCHER_RANGE, ERR_WATCHER_DUPLICATE_ID, ERR_WATCHER_NOT_EXIST } from './errors';
import { EventType, NO_LEASE, type Event, type KeyValue } from './kv-codec';
import { inRange, KvModel } from './test-kv-model';
import { Rng } from './test-rng';
import { b, closeStore, forSeedsAsync, openStore, tempDir, tick, type OpenStore, type TestOpenOptions } from './test-store';
import type { WatchStream } from './watch-stream';
import { PROGRESS_ALL_WATCH_ID, type WatchResponse } from './watcher';

const code = (c: string) => (e: unknown) => isFloeError(e, c);

function withStore(opts: TestOpenOptions, fn: (s: OpenStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const { dir, cleanup } = tempDir();
    const s = openStore(path.join(dir, 'db'), opts);
    try {
      await fn(s);
    } finally {
      await closeStore(s);
      cleanup();
    }
  };
}

/** Everything queued on the stream after letting scheduled work run. */
async function drain(ws: WatchStream, turns = 5): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  for (let i = 0; i < turns; i++) {
    for (let r = ws.poll(); r !== undefined; r = ws.poll()) out.push(r);
    await tick();
  }
  for (let r = ws.poll(); r !== undefined; r = ws.poll()) out.push(r);
  return out;
}

const summary = (rs: WatchResponse[]): string[] =>
  rs.map((r) => `${r.watchId}@${r.revision}${r.compactRevision ? ` compacted ${r.compactRevision}` : ''}: ` + r.events.map((e) => `${e.type === EventType.PUT ? 'put' : 'del'} ${e.kv.key}=${e.kv.value}@${e.kv.modRevision}${e.prevKv ? ` prev ${e.prevKv.value}` : ''}`).join(', '));

test('a synced watcher gets one response per revision, with filters and prev_kv', withStore({}, async ({ store }) => {
  const ws = store.newWatchStream();
  const all = ws.watch({ key: b('a'), end: b('c'), prevKv: true });
  const noPut = ws.watch({ key: b('b'), noPut: true });
  const fromKey = ws.watch({ key: b('b'), end: Buffer.from([0]), noDelete: true });
  assert.deepEqual([all, noPut, fromKey], [0, 1, 2], 'ids are given from 0 up');
  store.put(b('a'), b('1'));
  store.inWrite((t) => {
    t.put(b('b'), b('2'));
    t.put(b('a'), b('3'));
    t.put(b('z'), b('4'));
  });
  store.deleteRange(b('a'), b('z'));
  assert.deepEqual(summary(await drain(ws)), [
    '0@2: put a=1@2',
    '0@3: put b=2@3, put a=3@3 prev 1',
    '2@3: put b=2@3, put z=4@3',
    '0@4: del a=@4 prev 3, del b=@4 prev 2',
    '1@4: del b=@4',
  ]);
}));

test('a watcher from the past catches up in slices of whole revisions, then follows live', withStore({ catchUpBatchRecords: 4 }, async ({ store }) => {
  for (let i = 0; i < 6; i++) store.put(b(`k${i}`), b(`${i}`)); // revisions 2..7
  store.inWrite((t) => {
    for (let i = 0; i < 10; i++) t.put(b(`t${i}`), b('x')); // revision 8: 10 records > the slice
  });
  store.put(b('k0'), b('last')); // revision 9
  const ws = store.newWatchStream();
  ws.watch({ key: b('\u0000'), end: b('\u0000'), startRevision: 3 });
  assert.equal(ws.poll(), undefined, 'catch-up happens on a later turn, not inside watch()');
  const rs = await drain(ws);
  const revs = rs.map((r) => [r.revision, r.events.map((e) => e.kv.modRevision)]);
  assert.deepEqual(revs, [
    [5, [3, 4, 5]],
    [7, [6, 7]],
    [8, [8, 8, 8, 8, 8, 8, 8, 8, 8, 8]],
    [9, [9]],
  ]);
  store.put(b('live'), b('y'));
  assert.deepEqual(summary(await drain(ws)), ['0@10: put live=y@10']);
  assert.deepEqual(store.watcherCounts(), { synced: 1, unsynced: 0, victims: 0 });
}));

test('a start below the compaction revision gets a compacted response; at it, the history', withStore({}, async ({ store }) => {
  for (let i = 0; i < 5; i++) store.put(b('k'), b(`${i}`)); // revisions 2..6
  await store.compact(4);
  const ws = store.newWatchStream();
  const below = ws.watch({ key: b('k'), startRevision: 3 });
  const at = ws.watch({ key: b('k'), startRevision: 4 });
  const rs = await drain(ws);
  assert.deepEqual(summary(rs), ['0@0 compacted 4: ', '1@6: put k=2@4, put k=3@5, put k=4@6']);
  store.put(b('k'), b('after'));
  assert.deepEqual(summary(await drain(ws)), ['1@7: put k=after@7'], 'the compacted watcher is over');
  ws.cancel(below); // still cancelable, as in etcd
  ws.cancel(at);
  assert.throws(() => ws.cancel(at), code(ERR_WATCHER_NOT_EXIST));
}));

test('at the compaction revision, history that compaction cut is reported compacted, not silently missed', withStore({}, async ({ store }) => {
  store.put(b('k'), b('0')); // 2
  store.inWrite((t) => {
    t.put(b('k'), b('1')); // 3.0: removed by a compaction at 3
    t.put(b('k'), b('2')); // 3.1: kept
  });
  store.put(b('k'), b('3')); // 4
  const ws = store.newWatchStream();
  ws.watch({ key: b('k'), startRevision: 3 });
  await store.compact(3);
  ws.watch({ key: b('k'), startRevision: 3 });
  ws.watch({ key: b('k'), startRevision: 4 });
  assert.deepEqual(summary(await drain(ws)), ['0@0 compacted 3: ', '1@0 compacted 3: ', '2@4: put k=3@4']);
}));

test('a slow consumer: the stream queue stays bounded; nothing is lost or repeated', withStore({ catchUpBatchRecords: 3 }, async ({ store }) => {
  const ws = store.newWatchStream({ maxQueuedResponses: 2 });
  ws.watch({ key: b('a'), end: b('z') });
  ws.watch({ key: b('k') });
  for (let i = 0; i < 30; i++) store.put(b(i % 3 === 0 ? 'k' : `x${i}`), b(`${i}`));
  assert.equal(ws.queued, 2, 'the queue never grows past its bound');
  assert.equal(store.watcherCounts().victims, 2, 'both watchers are parked');
  // Writers were never blocked: every write went through above. Now drain slowly.
  const rs: WatchResponse[] = [];
  for (let i = 0; i < 300 && (i <= 5 || store.watcherCounts().synced < 2 || ws.queued > 0); i++) {
    const r = ws.poll();
    if (r !== undefined) rs.push(r);
    await tick();
    if (i === 5) {
      assert.ok(store.watcherCounts().synced < 2, 'still behind');
      store.put(b('k'), b('mid')); // a write while the watchers are still behind
    }
  }
  const byId = (id: number): number[] => rs.filter((r) => r.watchId === id).flatMap((r) => r.events.map((e) => e.kv.modRevision));
  const expected0 = Array.from({ length: 31 }, (_, i) => i + 2);
  assert.deepEqual(byId(0), expected0);
  assert.deepEqual(byId(1), [...Array.from({ length: 10 }, (_, i) => 2 + 3 * i), 32]);
  assert.deepEqual(store.watcherCounts(), { synced: 2, unsynced: 0, victims: 0 });
}));

test('progress: per watcher only when synced; stream-wide once every watcher is synced', withStore({}, async ({ store }) => {
  for (let i = 0; i < 3; i++) store.put(b('k'), b(`${i}`)); // revisions 2..4
  const ws = store.newWatchStream();
  const live = ws.watch({ key: b('k') });
  const past = ws.watch({ key: b('k'), startRevision: 2 });
  ws.requestProgress(live);
  ws.requestProgress(past); // not synced yet: no answer, as in etcd
  ws.requestProgressAll(); // deferred until `past` has caught up
  const rs = await drain(ws);
  assert.deepEqual(summary(rs), ['0@4: ', '1@4: put k=0@2, put k=1@3, put k=2@4', '-1@4: ']);
  assert.equal(rs[2]?.watchId, PROGRESS_ALL_WATCH_ID);
}));

test('watch requests: duplicate ids, empty ranges, cancel of unknown ids, close', withStore({}, async ({ store }) => {
  const ws = store.newWatchStream();
  assert.equal(ws.watch({ key: b('x'), id: 7 }), 7);
  assert.throws(() => ws.watch({ key: b('x'), id: 7 }), (e: unknown) => isFloeError(e, ERR_WATCHER_DUPLICATE_ID) && (e as Error).message === 'mvcc: duplicate watch ID provided on the WatchStream');
  assert.throws(() => ws.watch({ key: b('b'), end: b('a') }), (e: unknown) => isFloeError(e, ERR_EMPTY_WATCHER_RANGE) && (e as Error).message === 'mvcc: watcher range is empty');
  assert.throws(() => ws.watch({ key: b('b'), end: b('b') }), code(ERR_EMPTY_WATCHER_RANGE));
  assert.equal(ws.watch({ key: b('a') }), 0);
  assert.throws(() => ws.cancel(3), code(ERR_WATCHER_NOT_EXIST));
  const next = ws.next();
  store.put(b('a'), b('1'));
  assert.equal((await next)?.events.length, 1, 'a waiting next() gets the response directly');
  const ended = (async () => {
    const got: WatchResponse[] = [];
    for await (const r of ws) got.push(r);
    return got;
  })();
  ws.close();
  assert.deepEqual(await ended, []);
  assert.deepEqual(store.watcherCounts(), { synced: 0, unsynced: 0, victims: 0 });
}));

test('resumable: a new watcher from the last revision seen + 1 continues exactly, also after a restart', async () => {
  const { dir, cleanup } = tempDir();
  const file = path.join(dir, 'db');
  try {
    let s = openStore(file);
    for (let i = 0; i < 10; i++) s.store.put(b(`k${i % 3}`), b(`${i}`)); // revisions 2..11
    let ws = s.store.newWatchStream();
    ws.watch({ key: b('k'), end: b('l'), startRevision: 2 });
    const first = (await drain(ws)).flatMap((r) => r.events).filter((e) => e.kv.modRevision <= 6);
    assert.equal(first.length, 5);
    ws.close();
    for (let i = 10; i < 14; i++) s.store.put(b(`k${i % 3}`), b(`${i}`)); // revisions 12..15
    await closeStore(s);
    s = openStore(file);
    ws = s.store.newWatchStream();
    ws.watch({ key: b('k'), end: b('l'), startRevision: 7 });
    s.store.put(b('k9'), b('live')); // revision 16, while the new watcher catches up
    const rest = (await drain(ws)).flatMap((r) => r.events);
    assert.deepEqual([...first, ...rest].map((e) => `${e.kv.key}=${e.kv.value}@${e.kv.modRevision}`), [
      ...Array.from({ length: 14 }, (_, i) => `k${i % 3}=${i}@${i + 2}`),
      'k9=live@16',
    ]);
    await closeStore(s);
  } finally {
    cleanup();
  }
});

test('a snapshot replaces the store: open streams move over and their watchers resume in place', async () => {
  const { dir, cleanup } = tempDir();
  // `old` is the member's store; `next` the snapshot's, which has the same first revisions
  // and went on (as a leader's does while the member was away), then compacted at 3.
  const old = openStore(path.join(dir, 'old'));
  const next = openStore(path.join(dir, 'next'));
  try {
    const both = (from: number, to: number, stores = [old, next]): void => {
      for (const s of stores) for (let i = from; i < to; i++) s.store.put(b(`k${i % 2}`), b(`${i}`));
    };
    both(0, 4); // revisions 2..5
    const ws = old.store.newWatchStream({ maxQueuedResponses: 2 });
    const live = ws.watch({ key: b('k'), end: b('l'), prevKv: true }); // synced from 6
    const lagging = ws.watch({ key: b('k0'), startRevision: 2 }); // compacted away in `next`
    const future = ws.watch({ key: b('k1'), startRevision: 11 });
    both(4, 6); // 6..7: `live` is sent them by the old store and stays synced
    both(6, 10, [next]); // 8..11
    await next.store.compact(3);
    const quiet = old.store.newWatchStream();
    const other = quiet.watch({ key: b('k1'), startRevision: 4 }); // unsynced when detached

    const moved = old.store.detachStreams();
    await closeStore(old); // the streams stay open
    assert.equal(ws.isClosed, false);
    assert.throws(() => ws.watch({ key: b('x') }), code('ERR_MVCC_CLOSED'));
    next.store.adoptStreams(moved);
    assert.equal(next.store.streamCount, 2);

    next.store.put(b('k1'), b('after')); // 12, before the catch-up step runs
    const rs = await drain(ws, 10);
    const liveEvents = rs.filter((r) => r.watchId === live).flatMap((r) => r.events).map((e) => `${e.kv.key}=${e.kv.value}@${e.kv.modRevision} prev ${e.prevKv?.value.toString()}`);
    assert.deepEqual(liveEvents, ['k0=4@6 prev 2', 'k1=5@7 prev 3', 'k0=6@8 prev 4', 'k1=7@9 prev 5', 'k0=8@10 prev 6', 'k1=9@11 prev 7', 'k1=after@12 prev 9'], 'from its place, nothing lost or repeated');
    assert.deepEqual(summary(rs.filter((r) => r.watchId === lagging)), [`${lagging}@0 compacted 3: `]);
    assert.deepEqual(summary(rs.filter((r) => r.watchId === future)), [`${future}@12: put k1=9@11, put k1=after@12`]);
    assert.deepEqual(summary(await drain(quiet)), [`${other}@12: put k1=3@5, put k1=5@7, put k1=7@9, put k1=9@11, put k1=after@12`]);
    ws.close();
    quiet.close();
    assert.equal(next.store.streamCount, 0);
  } finally {
    await closeStore(next);
    cleanup();
  }
});

// ---- random interleavings ----

interface Tracked {
  readonly ws: WatchStream;
  readonly streamIdx: number;
  readonly id: number;
  readonly key: string;
  readonly end: string | null;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  /** Effective first revision. */
  readonly start: number;
  delivered: Event[];
  lastRev: number;
  compacted: boolean;
}

const KEYS = ['a', 'ab', 'b', 'ba', 'c', 'd', 'e'];

test('watch guarantees hold under random interleavings', async () => {
  await forSeedsAsync(5, async (seed) => {
    const rng = new Rng(seed);
    const { dir, cleanup } = tempDir();
    const s = openStore(path.join(dir, 'db'), {
      catchUpBatchRecords: 1 + rng.int(6),
      maxWatchersPerSync: 1 + rng.int(3),
      compactionBatchKeys: 1 + rng.int(3),
    });
    const store = s.store;
    const model = new KvModel();
    const streams = Array.from({ length: 3 }, () => store.newWatchStream({ maxQueuedResponses: 1 + rng.int(3) }));
    const speed = streams.map(() => rng.pick([0, 1, 100])); // responses read per step: stalled, slow, fast
    const watchers = new Map<string, Tracked>();
    // Per stream, one set per stream-wide progress response still to come: the watchers it must cover.
    const progressAsked = streams.map((): Set<Tracked>[] => []);
    const tag = (si: number, id: number): string => `${si}/${id}`;

    const expectedFor = (w: Tracked): Event[] =>
      model.eventsFrom(w.start).filter((e) => inRange(e.kv.key.toString('latin1'), w.key, w.end) && !(e.type === EventType.PUT ? w.noPut : w.noDelete));

    const receive = (si: number, r: WatchResponse): void => {
      if (r.watchId === PROGRESS_ALL_WATCH_ID) {
        const covered = (progressAsked[si] as Set<Tracked>[]).shift();
        assert.ok(covered !== undefined, 'a stream-wide progress response nobody asked for');
        for (const w of covered) {
          if (w.compacted || !watchers.has(tag(si, w.id))) continue;
          const want = expectedFor(w).filter((e) => e.kv.modRevision <= r.revision);
          assert.equal(w.delivered.length, want.length, `stream progress at ${r.revision} before all events of ${tag(si, w.id)}`);
        }
        return;
      }
      const w = watchers.get(tag(si, r.watchId));
      if (w === undefined) return; // canceled after the response was queued
      assert.ok(!w.compacted, 'a response after the compacted one');
      if (r.compactRevision > 0) {
        assert.equal(r.events.length, 0);
        assert.ok(r.compactRevision <= store.compactRevision && r.compactRevision > w.lastRev, 'compacted response at a sensible revision');
        const want = expectedFor(w).filter((e) => e.kv.modRevision < r.compactRevision);
        assert.ok(w.delivered.length <= want.length);
        w.compacted = true;
        return;
      }
      if (r.events.length === 0) {
        const want = expectedFor(w).filter((e) => e.kv.modRevision <= r.revision);
        assert.equal(w.delivered.length, want.length, `progress at ${r.revision} before all events of ${tag(si, w.id)}`);
        return;
      }
      const first = (r.events[0] as Event).kv.modRevision;
      assert.ok(first > w.lastRev, `revision ${first} after ${w.lastRev}: out of order, repeated or split`);
      let prev = first;
      for (const e of r.events) {
        assert.ok(e.kv.modRevision >= prev && e.kv.modRevision <= r.revision, 'events in order, none past the response revision');
        prev = e.kv.modRevision;
        if (w.prevKv && !(e.type === EventType.PUT && e.kv.createRevision === e.kv.modRevision)) {
          const want = model.valueAt(e.kv.key.toString('latin1'), e.kv.modRevision - 1);
          if (e.prevKv !== undefined) assert.deepEqual(e.prevKv, want, 'prev_kv');
          else assert.ok(want === undefined || store.compactRevision > e.kv.modRevision - 1, 'prev_kv missing though readable');
        }
        const { prevKv: _p, ...plain } = e;
        w.delivered.push(plain);
      }
      w.lastRev = prev;
      const want = expectedFor(w);
      assert.deepEqual(w.delivered, want.slice(0, w.delivered.length), `events of ${tag(si, w.id)} are a prefix of the history`);
    };

    const readSome = (si: number, max: number): void => {
      const ws = streams[si] as WatchStream;
      for (let i = 0; i < max; i++) {
        const r = ws.poll();
        if (r === undefined) break;
        receive(si, r);
      }
    };

    try {
      for (let step = 0; step < 300; step++) {
        const what = rng.int(100);
        if (what < 45) {
          const txn = store.write();
          const mt = model.begin(step);
          const n = 1 + (rng.chance(0.3) ? rng.int(5) : 0);
          for (let i = 0; i < n; i++) {
            const key = rng.pick(KEYS);
            if (rng.chance(0.75)) {
              txn.put(b(key), b(`${step}.${i}`));
              mt.put(key, b(`${step}.${i}`), NO_LEASE);
            } else {
              const end = rng.chance(0.5) ? null : rng.pick(KEYS);
              txn.deleteRange(b(key), end === null ? null : b(end));
              mt.deleteRange(key, end);
            }
          }
          txn.end();
          mt.end();
        } else if (what < 60) {
          const si = rng.int(streams.length);
          const ws = streams[si] as WatchStream;
          const key = rng.pick(KEYS);
          const kind = rng.int(4);
          const end = kind === 0 ? null : kind === 1 ? '' : rng.pick(KEYS) + 'z';
          if (end !== null && end !== '' && end <= key) continue;
          const cur = store.currentRevision;
          const lo = Math.max(1, store.compactRevision);
          const startChoice = rng.int(5);
          const startRevision = startChoice === 0 ? 0 : startChoice === 1 ? cur + 1 + rng.int(3) : startChoice === 2 && lo > 2 ? 1 + rng.int(lo - 1) : lo + rng.int(cur - lo + 1);
          const opts = { key: b(key), end: end === null ? null : b(end), startRevision, noPut: rng.chance(0.15), noDelete: rng.chance(0.15), prevKv: rng.chance(0.4) };
          const id = ws.watch(opts);
          watchers.set(tag(si, id), {
            ws, streamIdx: si, id, key, end, noPut: opts.noPut, noDelete: opts.noDelete, prevKv: opts.prevKv,
            start: startRevision === 0 ? cur + 1 : startRevision, delivered: [], lastRev: 0, compacted: false,
          });
        } else if (what < 65) {
          const live = [...watchers.values()];
          if (live.length > 0) {
            const w = rng.pick(live);
            w.ws.cancel(w.id);
            watchers.delete(tag(w.streamIdx, w.id));
          }
        } else if (what < 70) {
          const lo = Math.max(1, store.compactRevision + 1);
          const cur = store.currentRevision;
          if (lo <= cur) {
            const rev = lo + rng.int(cur - lo + 1);
            void store.compact(rev);
          }
        } else if (what < 75) {
          const si = rng.int(streams.length);
          if (rng.chance(0.5)) {
            const ws = streams[si] as WatchStream;
            const asked = progressAsked[si] as Set<Tracked>[];
            // Requests made while one is still unanswered are answered by the same response.
            if (!ws.progressAllWanted || asked.length === 0) asked.push(new Set());
            for (const w of watchers.values()) if (w.streamIdx === si) (asked[asked.length - 1] as Set<Tracked>).add(w);
            ws.requestProgressAll();
          } else {
            const mine = [...watchers.values()].filter((w) => w.streamIdx === si);
            if (mine.length > 0) (streams[si] as WatchStream).requestProgress(rng.pick(mine).id);
          }
        } else if (what < 80) {
          const si = rng.int(streams.length);
          speed[si] = rng.pick([0, 1, 100]);
        } else {
          await tick();
        }
        for (let si = 0; si < streams.length; si++) readSome(si, speed[si] as number);
      }

      // Settle: everyone reads everything until nothing is left to do.
      for (let i = 0; ; i++) {
        for (let si = 0; si < streams.length; si++) readSome(si, Number.MAX_SAFE_INTEGER);
        await tick();
        const c = store.watcherCounts();
        if (store.isIdle && c.unsynced === 0 && c.victims === 0 && streams.every((ws) => ws.queued === 0)) break;
        assert.ok(i < 100_000, 'watchers never settled');
      }
      await store.compactionIdle();
      for (const [t, w] of watchers) {
        if (w.compacted) continue;
        assert.deepEqual(w.delivered, expectedFor(w), `watcher ${t} got every event from ${w.start}`);
      }
    } finally {
      for (const ws of streams) ws.close();
      await closeStore(s);
      cleanup();
    }
  });
});

test('model check of prev_kv helper: valueAt follows puts and deletes', () => {
  const m = new KvModel();
  const t = m.begin(1);
  t.put('a', b('1'), NO_LEASE);
  t.end();
  const u = m.begin(2);
  u.deleteRange('a', null);
  u.end();
  assert.equal((m.valueAt('a', 2) as KeyValue).value.toString(), '1');
  assert.equal(m.valueAt('a', 3), undefined);
});
