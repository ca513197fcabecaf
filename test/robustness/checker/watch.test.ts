/**
 * Watch validators against hand-written streams: a correct stream passes, and each anomaly is
 * reported under the property it breaks.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { kv, req } from './builders';
import type { KeyValue, Request, WriteEvent } from './history';
import { apply, initialState, writesOf } from './model';
import { mergeWatchEvents, validateWatches, type WatchEvent, type WatchProperty, type WatchRecord, type WatchResponse } from './watch';

/** The writes of: put a@2, put b@3, txn{put a, put b}@4, delete a@5, put c@6. */
function history(): WriteEvent[] {
  const requests: Request[] = [
    req.put('a', '1'),
    req.put('b', '1'),
    req.txn([], [{ type: 'put', key: 'a', value: '2' }, { type: 'put', key: 'b', value: '2' }]),
    req.del('a'),
    req.put('c', '1'),
  ];
  let s = initialState();
  for (const r of requests) s = apply(s, r).next;
  return writesOf(s);
}

const writes = history();

/** The event a watch with prevKv receives for the write of `key` at `revision`. */
function ev(key: string, revision: number): WatchEvent {
  const w = writes.find((x) => x.key === key && x.revision === revision);
  assert.ok(w !== undefined, `no write ${key}@${revision}`);
  const deleted: KeyValue = { key, value: '', createRevision: 0, modRevision: revision, version: 0, lease: 0 };
  return { type: w.type, kv: w.kv ?? deleted, prevKv: w.prevKv };
}

const events = (revision: number, ...list: WatchEvent[]): WatchResponse => ({ revision, events: list });
const progress = (revision: number): WatchResponse => ({ revision, events: [], progressNotify: true });

function watch(responses: WatchResponse[], over: Partial<WatchRecord> = {}): WatchRecord {
  return { name: 'w', key: '\0', rangeEnd: '\0', startRevision: 2, createdRevision: 1, prevKv: true, responses, ...over };
}

/** The correct stream of a watch on every key from revision 2. */
const R = {
  a2: events(2, ev('a', 2)),
  b3: events(3, ev('b', 3)),
  p3: progress(3),
  r4: events(4, ev('a', 4), ev('b', 4)),
  r56: events(6, ev('a', 5), ev('c', 6)),
};

function properties(ws: WatchRecord[]): WatchProperty[] {
  return [...new Set(validateWatches(ws, writes).map((v) => v.property))].sort();
}

test('a complete, ordered stream with a progress notification passes', () => {
  assert.deepEqual(validateWatches([watch([R.a2, R.b3, R.p3, R.r4, R.r56])], writes), []);
});

test('reordered events break "ordered"', () => {
  assert.deepEqual(properties([watch([R.a2, R.r4, R.b3, R.r56])]), ['ordered']);
});

test('a duplicated event breaks "unique" (and splits its revision)', () => {
  const props = properties([watch([R.a2, R.b3, R.b3, R.r4, R.r56])]);
  assert.ok(props.includes('unique'), props.join());
});

test('a missing event breaks "reliable"', () => {
  const v = validateWatches([watch([R.a2, R.r4, R.r56])], writes);
  assert.deepEqual(v.map((x) => x.property), ['reliable']);
  assert.match(v[0]?.message ?? '', /missing put b@3/);
});

test('a lost tail counts as missing only below what the watch has heard of', () => {
  assert.deepEqual(validateWatches([watch([R.a2, R.b3])], writes), [], 'revision 4+ may simply not have arrived yet');
  assert.deepEqual(properties([watch([R.a2, R.b3, progress(6)])]), ['reliable']);
});

test('one revision split over two responses, or delivered in part, breaks "atomic"', () => {
  assert.deepEqual(properties([watch([R.a2, R.b3, events(4, ev('a', 4)), events(4, ev('b', 4)), R.r56])]), ['atomic']);
  assert.deepEqual(properties([watch([R.a2, R.b3, events(4, ev('a', 4)), R.r56])]), ['atomic']);
});

test('an event before the start revision breaks "resumable"', () => {
  assert.deepEqual(properties([watch([R.a2, R.b3, R.r4], { startRevision: 3 })]), ['resumable']);
  // No start revision: the watch starts after the revision it was created at.
  assert.deepEqual(properties([watch([R.b3, R.r4], { startRevision: 0, createdRevision: 3 })]), ['resumable']);
  assert.deepEqual(validateWatches([watch([R.r4], { startRevision: 0, createdRevision: 3 })], writes), []);
});

test('a txn\'s events may come in any order inside their revision: a watch starting there is still resumable', () => {
  // The history merged from watches has a revision's events in key order (a, b); the server
  // sends them in the txn's op order, which may be b first.
  assert.deepEqual(validateWatches([watch([events(4, ev('b', 4), ev('a', 4)), R.r56], { startRevision: 4 })], writes), []);
  assert.deepEqual(properties([watch([events(4, ev('b', 4)), R.r56], { startRevision: 4 })]), ['atomic']);
});

test('a watch that skips the first change at or after its start breaks "resumable"', () => {
  const props = properties([watch([R.r4, R.r56], { startRevision: 3 })]);
  assert.ok(props.includes('resumable') && props.includes('reliable'), props.join());
});

test('an event at or below an earlier progress notification breaks "bookmarkable"', () => {
  assert.deepEqual(properties([watch([R.a2, progress(3), R.b3, R.r4])]), ['bookmarkable']);
});

test('an event that differs from the history, is outside the range, or has a wrong prevKv is not "valid"', () => {
  const wrongValue = events(2, { ...ev('a', 2), kv: kv('a', 'x', 2, 2, 1) });
  assert.deepEqual(properties([watch([wrongValue, R.b3])]), ['valid']);
  const wrongPrev = events(4, { ...ev('a', 4), prevKv: null }, ev('b', 4));
  assert.deepEqual(properties([watch([R.a2, R.b3, wrongPrev])]), ['valid']);
  assert.deepEqual(validateWatches([watch([R.a2, R.b3, wrongPrev], { prevKv: false })], writes), [], 'prevKv is only compared when asked for');
  const onlyA = watch([R.a2, R.b3], { key: 'a', rangeEnd: undefined });
  assert.deepEqual(properties([onlyA]), ['valid']);
});

test('a single-key watch sees exactly that key, including its delete', () => {
  const onlyA = (responses: WatchResponse[]): WatchRecord => watch(responses, { key: 'a', rangeEnd: undefined });
  assert.deepEqual(validateWatches([onlyA([R.a2, events(4, ev('a', 4)), events(5, ev('a', 5))])], writes), []);
  assert.deepEqual(properties([onlyA([R.a2, events(4, ev('a', 4)), progress(6)])]), ['reliable']);
});

test('a watch cancelled for compaction promises nothing more', () => {
  assert.deepEqual(validateWatches([watch([{ revision: 6, events: [], compactRevision: 4 }])], writes), []);
});

test('merging watches rebuilds the write history; disagreeing watches are reported', () => {
  const all = watch([R.a2, R.b3, R.r4, R.r56], { name: 'all' });
  const onlyB = watch([R.b3, events(4, ev('b', 4))], { name: 'b', key: 'b', rangeEnd: undefined, prevKv: false });
  const merged = mergeWatchEvents([onlyB, all]);
  assert.deepEqual(merged.violations, []);
  assert.deepEqual(merged.writes, writes.slice().sort((x, y) => x.revision - y.revision || (x.key < y.key ? -1 : 1)));
  const liar = watch([events(3, { ...ev('b', 3), kv: kv('b', 'lie', 3, 3, 1) })], { name: 'liar', key: 'b', rangeEnd: undefined });
  const bad = mergeWatchEvents([all, liar]);
  assert.deepEqual(bad.violations.map((v) => `${v.property} ${v.watch}`), ['valid liar']);
});
