/**
 * The Watch service's stream framing, as etcd sends it: created notices with the watch id,
 * client-chosen ids, the refused-create response (id -1, created + canceled + reason), cancel,
 * compacted responses, progress (asked for and periodic), fragments, flow control, and that
 * real clients (etcdctl 3.4, npm etcd3) read it. The member is the TEST DOUBLE.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { call, ETCDCTL, startHarness, type Harness } from './test-harness';

interface Resp {
  header: { revision: string; cluster_id: string };
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: { type: number; kv: { key: Buffer; value: Buffer }; prev_kv: { value: Buffer } | null }[];
}

/** A watch stream of a raw client, with a queue of what arrived. */
class WatchClient {
  readonly stream: grpc.ClientDuplexStream<unknown, Resp>;
  private readonly got: Resp[] = [];
  private waiter: (() => void) | null = null;
  ended: grpc.ServiceError | null = null;

  constructor(h: Harness) {
    this.stream = (h.client('watch') as unknown as { Watch(): grpc.ClientDuplexStream<unknown, Resp> }).Watch();
    this.stream.on('data', (r: Resp) => {
      this.got.push(r);
      this.waiter?.();
    });
    this.stream.on('error', (e: grpc.ServiceError) => {
      this.ended = e;
      this.waiter?.();
    });
  }

  create(req: Record<string, unknown>): void {
    this.stream.write({ create_request: { key: Buffer.from('a'), ...req } });
  }

  async next(timeoutMs = 3000): Promise<Resp> {
    const deadline = Date.now() + timeoutMs;
    while (this.got.length === 0) {
      if (this.ended) throw this.ended;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no watch response in time');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, left);
      });
      this.waiter = null;
    }
    return this.got.shift()!;
  }

  /** Responses that arrive within `ms` (none expected: returns them for the assertion). */
  async drainFor(ms: number): Promise<Resp[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.got.splice(0);
  }

  close(): void {
    this.stream.cancel();
  }
}

let h: Harness;
let kv: ReturnType<Harness['client']>;
const put = (k: string, v: string | Buffer) => call(kv, 'Put', { key: Buffer.from(k), value: typeof v === 'string' ? Buffer.from(v) : v });

/** The progress ticks of the streams opened so far (in order), and their periods. */
const ticks: (() => void)[] = [];
const tickPeriods: number[] = [];

before(async () => {
  h = await startHarness({
    server: {
      watchProgressNotifyIntervalMs: 100,
      random: () => 0,
      progressTimer: (tick, periodMs) => {
        ticks.push(tick);
        tickPeriods.push(periodMs);
        return { stop: () => undefined };
      },
    },
  });
  kv = h.client('kv');
});
after(() => h.close());

test('created notices carry the watch id; server-chosen ids start at 0; events follow', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('w1') });
    const created = await w.next();
    assert.equal(created.created, true);
    assert.equal(created.canceled, false);
    assert.equal(created.watch_id, '0');
    assert.equal(created.header.cluster_id, '14841639068965178418');
    await put('w1', 'v1');
    const ev = await w.next();
    assert.equal(ev.watch_id, '0');
    assert.equal(ev.created, false);
    assert.deepEqual(ev.events.map((e) => [e.kv.key.toString(), e.kv.value.toString()]), [['w1', 'v1']]);
    assert.equal(ev.header.revision, String(h.member.revision));
  } finally {
    w.close();
  }
});

test('client-chosen ids; a taken id gets etcd\'s refused-create response; cancel answers once', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('w2'), watch_id: '7' });
    assert.equal((await w.next()).watch_id, '7');
    w.create({ key: Buffer.from('w2'), watch_id: '7' });
    const refused = await w.next();
    assert.deepEqual(
      { id: refused.watch_id, created: refused.created, canceled: refused.canceled, reason: refused.cancel_reason },
      { id: '-1', created: true, canceled: true, reason: 'mvcc: duplicate watch ID provided on the WatchStream' },
    );
    assert.equal(refused.header.revision, String(h.member.revision));
    // An empty range is refused the same way.
    w.create({ key: Buffer.from('b'), range_end: Buffer.from('a') });
    assert.equal((await w.next()).cancel_reason, 'mvcc: watcher range is empty');

    w.stream.write({ cancel_request: { watch_id: '99' } }); // unknown: etcd sends nothing
    w.stream.write({ cancel_request: { watch_id: '7' } });
    const canceled = await w.next();
    assert.deepEqual({ id: canceled.watch_id, canceled: canceled.canceled, created: canceled.created }, { id: '7', canceled: true, created: false });
    await put('w2', 'after-cancel');
    assert.deepEqual(await w.drainFor(100), []);
  } finally {
    w.close();
  }
});

test('an empty key watches from "\\0": with range end "\\0" it sees every key', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.alloc(0), range_end: Buffer.from([0]) });
    await w.next();
    await put('zz-any', 'x');
    assert.equal((await w.next()).events[0]!.kv.key.toString(), 'zz-any');
  } finally {
    w.close();
  }
});

test('a start below the compacted revision: created, then compact_revision and canceled', async () => {
  await put('c', '1');
  await put('c', '2');
  await call(kv, 'Compact', { revision: String(h.member.revision) });
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('c'), start_revision: '1' });
    assert.equal((await w.next()).created, true);
    const compacted = await w.next();
    assert.equal(compacted.canceled, true);
    assert.equal(compacted.compact_revision, String(h.member.compactRevision));
  } finally {
    w.close();
  }
});

test('a progress request answers id -1 at the current revision', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('p') });
    await w.next();
    w.stream.write({ progress_request: {} });
    const p = await w.next();
    assert.equal(p.watch_id, '-1');
    assert.deepEqual(p.events, []);
    assert.equal(p.header.revision, String(h.member.revision));
  } finally {
    w.close();
  }
});

test('periodic progress reaches only progress_notify watchers, and is skipped after events', async () => {
  // Each stream's timer is ticked by hand: etcd's rule is per tick, not per wall-clock time.
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('pn'), progress_notify: true, watch_id: '1' });
    w.create({ key: Buffer.from('pn'), watch_id: '2' });
    await w.next();
    await w.next();
    const tick = ticks.at(-1)!;
    assert.equal(tickPeriods.at(-1), 100, 'interval 100 ms, no jitter');
    const afterTick = async (): Promise<Resp[]> => {
      tick();
      return w.drainFor(60);
    };
    const ids = (rs: Resp[]): string[] => rs.map((r) => `${r.watch_id}:${r.events.length}`);
    assert.deepEqual(ids(await afterTick()), ['1:0'], 'a notice for watcher 1 only, with no events');
    assert.deepEqual(ids(await afterTick()), ['1:0']);
    await put('pn', 'x');
    assert.deepEqual(ids(await w.drainFor(60)), ['1:1', '2:1']);
    assert.deepEqual(ids(await afterTick()), [], 'events since the last tick: this notice is skipped');
    assert.deepEqual(ids(await afterTick()), ['1:0'], 'and the next one is due again');
  } finally {
    w.close();
  }
});

test('fragment: a response above max-request-bytes + 512 KiB is split, the last unflagged', async () => {
  const big = 600 * 1024;
  for (const k of ['f1', 'f2', 'f3', 'f4']) await put(k, Buffer.alloc(big, 102));
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('f'), range_end: Buffer.from('g'), prev_kv: true, fragment: true, watch_id: '1' });
    w.create({ key: Buffer.from('f'), range_end: Buffer.from('g'), prev_kv: true, watch_id: '2' });
    await w.next();
    await w.next();
    await call(kv, 'DeleteRange', { key: Buffer.from('f'), range_end: Buffer.from('g') });
    const frames: Resp[] = [await w.next(5000), await w.next(5000), await w.next(5000)];
    const fragments = frames.filter((r) => r.watch_id === '1');
    const whole = frames.filter((r) => r.watch_id === '2');
    // 4 events of ~600 KiB against a 2 MiB limit: 3 fit in the first fragment.
    assert.deepEqual(fragments.map((r) => [r.events.length, r.fragment]), [[3, true], [1, false]]);
    assert.deepEqual(whole.map((r) => [r.events.length, r.fragment]), [[4, false]]);
    assert.ok(fragments.every((r) => r.header.revision === whole[0]!.header.revision));
    assert.equal(fragments[0]!.events[0]!.prev_kv!.value.length, big);
  } finally {
    w.close();
  }
});

test('flow control: a client that does not read makes the member hold events; none lost', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('fc') });
    await w.next();
    w.stream.pause();
    const value = Buffer.alloc(16 * 1024, 1);
    const count = 400; // 6.4 MB: far beyond HTTP/2 windows and stream buffers
    for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: 50 }, () => put('fc', value)));
    assert.ok(h.member.heldWatchResponses > 0, 'the sink reported full and the member held events');
    w.stream.resume();
    const revs: number[] = [];
    while (revs.length < count) revs.push(Number((await w.next(5000)).header.revision));
    assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
    assert.equal(new Set(revs).size, count);
    assert.equal(h.member.heldWatchResponses, 0);
  } finally {
    w.close();
  }
});

test('half-closing the client side does not end the stream (as etcd)', async () => {
  const w = new WatchClient(h);
  try {
    w.create({ key: Buffer.from('hc') });
    await w.next();
    w.stream.end();
    await put('hc', 'still');
    assert.equal((await w.next()).events[0]!.kv.value.toString(), 'still');
  } finally {
    w.close();
  }
});

test('a canceled client stream closes the member\'s watch stream', async () => {
  const settle = async (want: number): Promise<void> => {
    for (let i = 0; i < 100 && h.member.openWatchStreams !== want; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.member.openWatchStreams, want);
  };
  await settle(0); // the streams of earlier tests were canceled too
  const w = new WatchClient(h);
  w.create({ key: Buffer.from('x') });
  await w.next();
  assert.equal(h.member.openWatchStreams, 1);
  w.close();
  await settle(0);
});

test('etcdctl watch replays history from --rev and prints live events', async () => {
  await put('ew', 'one');
  const from = h.member.revision;
  await put('ew', 'two');
  const child = spawn(ETCDCTL, [`--endpoints=${h.endpoint}`, 'watch', 'ew', `--rev=${from}`, '--prev-kv']);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const waitFor = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, re);
    };
    await waitFor(/PUT\new\none\nPUT\new\none\new\ntwo\n/);
    await put('ew', 'three');
    await waitFor(/ew\ntwo\new\nthree\n$/);
  } finally {
    child.kill();
  }
});

test('npm etcd3 watch sees puts and deletes', async () => {
  const client = new Etcd3({ hosts: `http://${h.endpoint}` });
  try {
    const watcher = await client.watch().key('n3').create();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      watcher.on('put', (kv) => seen.push(`put ${kv.value.toString()}`));
      watcher.on('delete', () => {
        seen.push('delete');
        resolve();
      });
    });
    await client.put('n3').value('v');
    await client.delete().key('n3');
    await done;
    assert.deepEqual(seen, ['put v', 'delete']);
    await watcher.cancel();
  } finally {
    client.close();
  }
});
