import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '../etcdpb/messages';
import { putReq, delReq, rangeReq } from '../server/test-util';
import { campaign, observe } from './election';
import { lock } from './lock';
import { call, pendingAfter, startTestServer, text, type TestServer } from './test-server';

const name = Buffer.from('e');

async function grant(s: TestServer, ttl = 30): Promise<string> {
  return String((await call<pb.LeaseGrantResponse>(s.client('lease'), 'LeaseGrant', { TTL: ttl, ID: 0 })).ID);
}

const leaderKeyIn = (l: pb.LeaderKey): unknown => ({ name: l.name, key: l.key, rev: String(l.rev), lease: String(l.lease) });

test('leader changes: a second candidate leads only once the first resigns; Leader and Proclaim follow', async () => {
  const s = await startTestServer();
  try {
    const el = s.client('election');
    await assert.rejects(call(el, 'Leader', { name }), (e: grpc.ServiceError) => e.code === grpc.status.UNKNOWN && e.details === 'election: no leader');
    const a = await call<pb.CampaignResponse>(el, 'Campaign', { name, lease: await grant(s), value: Buffer.from('a1') });
    assert.ok(a.leader && text(a.leader.key).startsWith('e/'));
    const second = call<pb.CampaignResponse>(el, 'Campaign', { name, lease: await grant(s), value: Buffer.from('b1') });
    assert.equal(await pendingAfter(second, 300), true, 'the second candidate must wait while the first leads');
    assert.equal(text((await call<pb.LeaderResponse>(el, 'Leader', { name })).kv?.value), 'a1');
    await call(el, 'Proclaim', { leader: leaderKeyIn(a.leader!), value: Buffer.from('a2') });
    assert.equal(text((await call<pb.LeaderResponse>(el, 'Leader', { name })).kv?.value), 'a2');
    await call(el, 'Resign', { leader: leaderKeyIn(a.leader!) });
    const b = await second;
    assert.notEqual(text(b.leader!.key), text(a.leader!.key));
    assert.equal(text((await call<pb.LeaderResponse>(el, 'Leader', { name })).kv?.value), 'b1');
    // The old leader can no longer proclaim; resigning again changes nothing.
    await assert.rejects(
      call(el, 'Proclaim', { leader: leaderKeyIn(a.leader!), value: Buffer.from('x') }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNKNOWN && e.details === 'election: not leader',
    );
    await call(el, 'Resign', { leader: leaderKeyIn(a.leader!) });
    assert.equal(text((await call<pb.LeaderResponse>(el, 'Leader', { name })).kv?.value), 'b1');
    await assert.rejects(call(el, 'Resign', {}), (e: grpc.ServiceError) => e.details === '"leader" field must be provided');
  } finally {
    await s.close();
  }
});

test('a campaign whose lease is revoked loses: the next candidate leads', async () => {
  const s = await startTestServer();
  try {
    const el = s.client('election');
    const la = await grant(s);
    await call(el, 'Campaign', { name, lease: la, value: Buffer.from('a') });
    const second = call<pb.CampaignResponse>(el, 'Campaign', { name, lease: await grant(s), value: Buffer.from('b') });
    assert.equal(await pendingAfter(second, 200), true);
    await call(s.client('lease'), 'LeaseRevoke', { ID: la });
    await second;
    assert.equal(text((await call<pb.LeaderResponse>(el, 'Leader', { name })).kv?.value), 'b');
  } finally {
    await s.close();
  }
});

test('a waiting campaign ended by its deadline withdraws its candidacy', async () => {
  const s = await startTestServer();
  try {
    const el = s.client('election');
    await call(el, 'Campaign', { name, lease: await grant(s), value: Buffer.from('a') });
    await assert.rejects(call(el, 'Campaign', { name, lease: await grant(s), value: Buffer.from('b') }, 200), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
    let count = 2;
    for (let i = 0; i < 50 && count > 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      count = Number((await s.member.range({ ...rangeAll('e/') })).count ?? 0);
    }
    assert.equal(count, 1, 'only the leader is left');
  } finally {
    await s.close();
  }
});

/** Counts the keys under `prefix` (one-byte increment of its last byte as the end). */
function rangeAll(prefix: string): pb.RangeRequest {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  return rangeReq(prefix, end, { count_only: true });
}

test('observe streams the first leader, its proclaimed values, then its successor', async () => {
  const s = await startTestServer();
  try {
    const el = s.client('election');
    const seen: string[] = [];
    const stream = el.Observe!({ name }) as grpc.ClientReadableStream<pb.LeaderResponse>;
    stream.on('data', (r: pb.LeaderResponse) => seen.push(`${text(r.kv?.key)}=${text(r.kv?.value)}@${String(r.header.revision)}`));
    stream.on('error', () => undefined); // CANCELLED, from the cancel below
    const waitFor = async (n: number): Promise<void> => {
      for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(seen.length, n, `observed: ${seen.join(', ')}`);
    };
    await new Promise((r) => setTimeout(r, 100)); // nobody leads yet: the observer waits for a put
    const r1 = await s.member.put(putReq('e/a', 'p1'));
    await waitFor(1);
    await s.member.put(putReq('e/b', 'q')); // a later candidate: not reported while e/a leads
    const r3 = await s.member.put(putReq('e/a', 'p2'));
    await waitFor(2);
    await s.member.deleteRange(delReq('e/a'));
    await waitFor(3);
    assert.deepEqual(seen, [`e/a=p1@${String(r1.header.revision)}`, `e/a=p2@${String(r3.header.revision)}`, seen[2]]);
    assert.match(seen[2]!, /^e\/b=q@\d+$/);
    stream.cancel();
  } finally {
    await s.close();
  }
});

test('aborting observe, a waiting campaign or a waiting lock closes every watch stream they opened', async () => {
  const s = await startTestServer();
  try {
    let open = 0;
    const member = s.member;
    const counted = new Proxy(member, {
      get(target, prop, receiver) {
        if (prop !== 'newWatchStream') {
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        }
        return () => {
          const ws = target.newWatchStream();
          open++;
          const close = ws.close.bind(ws);
          ws.close = () => {
            open--;
            close();
          };
          return ws;
        };
      },
    });
    await member.put(putReq('e/a', 'p1'));
    await member.put(putReq('l/a', 'held'));
    const ac = new AbortController();
    const sent: string[] = [];
    const observing = observe(counted, { name }, ac.signal, (r) => void sent.push(text(r.kv?.value)));
    const campaigning = campaign(counted, { name, lease: await grant(s), value: Buffer.from('c') }, ac.signal);
    const locking = lock(counted, { name: Buffer.from('l'), lease: await grant(s) }, ac.signal);
    for (let i = 0; i < 100 && open < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(open, 3, 'each waiter watches one key');
    ac.abort();
    await observing;
    await assert.rejects(campaigning, /context canceled/);
    await assert.rejects(locking, /context canceled/);
    assert.equal(open, 0);
    assert.deepEqual(sent, ['p1']);
  } finally {
    await s.close();
  }
});

test('a graceful stop ends an open observe stream at once with "server stopped" (it never ends on its own)', async () => {
  const s = await startTestServer();
  try {
    const stream = s.client('election').Observe!({ name }) as grpc.ClientReadableStream<pb.LeaderResponse>;
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.server.openStreamCount, 1, 'the observe stream is registered as long-lived');
    const startMs = performance.now();
    assert.equal(await s.server.drain(5000), 'drained');
    assert.ok(performance.now() - startMs < 2000, 'the drain did not wait for its timeout');
    const err = await ended;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /server stopped/);
  } finally {
    await s.close();
  }
});
