import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '../etcdpb/messages';
import { rangeReq } from '../server/test-util';
import { call, pendingAfter, startTestServer, text } from './test-server';

const grant = async (lease: ReturnType<Awaited<ReturnType<typeof startTestServer>>['client']>, ttl: number): Promise<string> =>
  String((await call<pb.LeaseGrantResponse>(lease, 'LeaseGrant', { TTL: ttl, ID: 0 })).ID);

test('an uncontended lock is granted at once under NAME/<lease hex>, attached to the lease', async () => {
  const s = await startTestServer();
  try {
    const lock = s.client('lock');
    const id = await grant(s.client('lease'), 30);
    const r = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('job'), lease: id });
    assert.equal(text(r.key), `job/${BigInt(id).toString(16)}`);
    const got = await s.member.range(rangeReq(text(r.key)));
    assert.equal(String(got.kvs?.[0]?.lease), id);
    // The same lease locking again already holds it (its key is the oldest).
    const again = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('job'), lease: id });
    assert.equal(text(again.key), text(r.key));
    await call(lock, 'Unlock', { key: r.key });
    assert.equal((await s.member.range(rangeReq(text(r.key)))).kvs?.length ?? 0, 0);
  } finally {
    await s.close();
  }
});

test('contention: the second locker gets the lock only after the first unlocks', async () => {
  const s = await startTestServer();
  try {
    const lock = s.client('lock');
    const lease = s.client('lease');
    const a = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('m'), lease: await grant(lease, 30) });
    const second = call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('m'), lease: await grant(lease, 30) });
    assert.equal(await pendingAfter(second, 300), true, 'second locker must wait while the first holds the lock');
    const un = await call<pb.UnlockResponse>(lock, 'Unlock', { key: a.key });
    const b = await second;
    assert.notEqual(text(b.key), text(a.key));
    assert.ok(BigInt(b.header.revision!) >= BigInt(un.header.revision!), 'granted at or after the unlock');
  } finally {
    await s.close();
  }
});

test('contention: a holder whose lease ends (revoked, or expired by TTL) releases the lock', async () => {
  const s = await startTestServer();
  try {
    const lock = s.client('lock');
    const lease = s.client('lease');
    const la = await grant(lease, 30);
    await call(lock, 'Lock', { name: Buffer.from('r'), lease: la });
    const second = call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('r'), lease: await grant(lease, 30) });
    assert.equal(await pendingAfter(second, 200), true);
    await call(lease, 'LeaseRevoke', { ID: la });
    await second;

    const short = await grant(lease, 1);
    const held = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('x'), lease: short });
    const started = Date.now();
    const waiter = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('x'), lease: await grant(lease, 30) });
    assert.notEqual(text(waiter.key), text(held.key));
    assert.ok(Date.now() - started >= 500, 'the waiter was granted only once the 1 s lease expired');
  } finally {
    await s.close();
  }
});

test('a waiting Lock ended by its deadline answers DEADLINE_EXCEEDED and leaves the queue', async () => {
  const s = await startTestServer();
  try {
    const lock = s.client('lock');
    const lease = s.client('lease');
    const a = await call<pb.LockResponse>(lock, 'Lock', { name: Buffer.from('d'), lease: await grant(lease, 30) });
    const lb = await grant(lease, 30);
    await assert.rejects(call(lock, 'Lock', { name: Buffer.from('d'), lease: lb }, 200), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
    // The server saw the cancel and deleted the waiter's key.
    const bKey = `d/${BigInt(lb).toString(16)}`;
    for (let i = 0; i < 50 && ((await s.member.range(rangeReq(bKey))).kvs?.length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await s.member.range(rangeReq(bKey))).kvs?.length ?? 0, 0);
    assert.equal((await s.member.range(rangeReq(text(a.key)))).kvs?.length, 1, 'the holder is untouched');
  } finally {
    await s.close();
  }
});

test("errors are etcd's: UNKNOWN with the member's text for a missing lease", async () => {
  const s = await startTestServer();
  try {
    await assert.rejects(
      call(s.client('lock'), 'Lock', { name: Buffer.from('n'), lease: '12345' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNKNOWN && e.details === 'etcdserver: requested lease not found',
    );
  } finally {
    await s.close();
  }
});

test('lease 0 locks with a fresh 60 s lease', async () => {
  const s = await startTestServer();
  try {
    const r = await call<pb.LockResponse>(s.client('lock'), 'Lock', { name: Buffer.from('z'), lease: '0' });
    const kv = (await s.member.range(rangeReq(text(r.key)))).kvs![0]!;
    const ttl = await call<pb.LeaseTimeToLiveResponse>(s.client('lease'), 'LeaseTimeToLive', { ID: String(kv.lease), keys: false });
    assert.equal(String(ttl.grantedTTL), '60');
  } finally {
    await s.close();
  }
});
