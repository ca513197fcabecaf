/**
 * Graceful stop of the gRPC server: calls in flight finish, long-lived streams are ended with
 * etcd's "server stopped", nothing new starts, and a call that never finishes is cut off at
 * the timeout. Member: the TEST DOUBLE.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { call, startHarness } from './test-harness';

const streamEnd = (s: ClientDuplexStream<unknown, unknown>): Promise<ServiceError | 'ok'> =>
  new Promise((resolve) => {
    s.on('data', () => undefined);
    s.on('error', (e: ServiceError) => resolve(e));
    s.on('end', () => resolve('ok'));
  });

test('drain: an in-flight put completes, streams end with "server stopped", then the server is gone', async () => {
  const h = await startHarness();
  const kv = h.client('kv');
  const watch = h.client('watch') as unknown as { Watch(): ClientDuplexStream<unknown, unknown> };
  const lease = h.client('lease') as unknown as { LeaseKeepAlive(): ClientDuplexStream<unknown, unknown> };
  try {
    const w = watch.Watch();
    const wEnd = streamEnd(w);
    w.write({ create_request: { key: Buffer.from('a') } });
    const ka = lease.LeaseKeepAlive();
    const kaEnd = streamEnd(ka);
    for (let i = 0; i < 100 && h.server.openStreamCount < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.server.openStreamCount, 2);

    let release!: () => void;
    h.member.writeGate = new Promise((r) => (release = r));
    const inFlight = call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    for (let i = 0; i < 100 && !h.member.calls.get('put'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.member.calls.get('put'), 1, 'the put reached the member');

    const drained = h.server.drain(5000);
    for (const end of [await wEnd, await kaEnd]) {
      assert.notEqual(end, 'ok');
      assert.equal((end as ServiceError).code, status.UNAVAILABLE);
      assert.equal((end as ServiceError).details, 'etcdserver: server stopped');
    }
    assert.equal(h.server.openStreamCount, 0);
    // The put is still waiting in the member; the drain waits for it.
    const early = await Promise.race([drained, new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    assert.equal(early, 'waiting');
    release();
    await inFlight;
    assert.equal(await drained, 'drained');
    await assert.rejects(call(kv, 'Range', { key: Buffer.from('k') }), (e: ServiceError) => e.code === status.UNAVAILABLE);
  } finally {
    await h.close();
  }
});

test('drain: a call that does not finish in time is cut off', async () => {
  const h = await startHarness();
  const kv = h.client('kv');
  try {
    h.member.writeGate = new Promise(() => undefined); // never released
    const stuck = call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    for (let i = 0; i < 100 && !h.member.calls.get('put'); i++) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    assert.equal(await h.server.drain(200), 'forced');
    assert.ok(Date.now() - started >= 190);
    await assert.rejects(stuck, (e: ServiceError) => e.code === status.UNAVAILABLE || e.code === status.CANCELLED || e.code === status.INTERNAL);
  } finally {
    await h.close();
  }
});
