/**
 * The Lease service as etcd answers: the keep-alive stream (one response per request, in
 * order, TTL 0 for an unknown lease, the stream ended by any other failure), TimeToLive of an
 * unknown lease as TTL -1, and real clients (etcdctl 3.4, npm etcd3). Member: the TEST DOUBLE.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { etcdError } from './errors';
import { call, etcdctl, etcdctlError, startHarness, type Harness } from './test-harness';

let h: Harness;
let lease: ReturnType<Harness['client']>;

before(async () => {
  h = await startHarness();
  lease = h.client('lease');
});
after(() => h.close());

interface KeepAliveResp {
  ID: string;
  TTL: string;
  header: { revision: string };
}

function keepAliveStream(): { stream: ClientDuplexStream<unknown, KeepAliveResp>; got: KeepAliveResp[]; status: Promise<ServiceError | 'ok'> } {
  const stream = (lease as unknown as { LeaseKeepAlive(): ClientDuplexStream<unknown, KeepAliveResp> }).LeaseKeepAlive();
  const got: KeepAliveResp[] = [];
  stream.on('data', (r: KeepAliveResp) => got.push(r));
  const status = new Promise<ServiceError | 'ok'>((resolve) => {
    stream.on('error', (e: ServiceError) => resolve(e));
    stream.on('end', () => resolve('ok'));
  });
  return { stream, got, status };
}

test('keep-alive: one response per request, in order; TTL 0 for an unknown lease', async () => {
  const granted = await call<{ ID: string }>(lease, 'LeaseGrant', { TTL: '30' });
  const { stream, got, status: ended } = keepAliveStream();
  const ids = [granted.ID, '12345', granted.ID, granted.ID, '999'];
  for (const ID of ids) stream.write({ ID });
  stream.end();
  assert.equal(await ended, 'ok', 'a half-close ends the stream with OK');
  assert.deepEqual(
    got.map((r) => [r.ID, r.TTL]),
    ids.map((id) => [id, id === granted.ID ? '30' : '0']),
  );
  assert.ok(got.every((r) => r.header.revision !== '0'));
});

test('keep-alive: a failure other than not-found ends the stream with its error', async () => {
  const original = h.member.leaseKeepAlive;
  h.member.leaseKeepAlive = async () => {
    throw etcdError('NO_LEADER');
  };
  try {
    const { stream, status: ended } = keepAliveStream();
    stream.write({ ID: '1' });
    const e = await ended;
    assert.notEqual(e, 'ok');
    assert.equal((e as ServiceError).code, status.UNAVAILABLE);
    assert.equal((e as ServiceError).details, 'etcdserver: no leader');
  } finally {
    h.member.leaseKeepAlive = original;
  }
});

test('TimeToLive of an unknown lease is TTL -1, not an error; Revoke of one is', async () => {
  const ttl = await call<{ ID: string; TTL: string }>(lease, 'LeaseTimeToLive', { ID: '4242' });
  assert.deepEqual([ttl.ID, ttl.TTL], ['4242', '-1']);
  await assert.rejects(call(lease, 'LeaseRevoke', { ID: '4242' }), (e: ServiceError) => e.code === status.NOT_FOUND && e.details === 'etcdserver: requested lease not found');
});

test('etcdctl lease grant / keep-alive --once / timetolive / revoke / list', async () => {
  const g = await etcdctl(h.endpoint, ['lease', 'grant', '60']);
  assert.equal(g.code, 0, g.stderr);
  const id = /^lease ([0-9a-f]+) granted with TTL\(60s\)$/m.exec(g.stdout)?.[1];
  assert.ok(id, g.stdout);
  const ka = await etcdctl(h.endpoint, ['lease', 'keep-alive', '--once', id]);
  assert.equal(ka.stdout, `lease ${id} keepalived with TTL(60)\n`);
  const ttl = await etcdctl(h.endpoint, ['lease', 'timetolive', 'abc123']);
  assert.equal(ttl.stdout, 'lease 0000000000abc123 already expired\n'); // etcdctl prints %016x
  const list = await etcdctl(h.endpoint, ['lease', 'list']);
  assert.match(list.stdout, new RegExp(`^${id}$`, 'm'));
  assert.equal((await etcdctl(h.endpoint, ['lease', 'revoke', id])).stdout, `lease ${id} revoked\n`);
  const again = await etcdctl(h.endpoint, ['lease', 'revoke', id]);
  assert.equal(etcdctlError(again), 'Error: failed to revoke lease (etcdserver: requested lease not found)');
});

test('npm etcd3: grant, keep-alive and revoke a lease', async () => {
  const client = new Etcd3({ hosts: `http://${h.endpoint}` });
  try {
    const l = client.lease(20, { autoKeepAlive: false });
    const id = await l.grant();
    const ka = await l.keepaliveOnce();
    assert.equal(ka.TTL, '20');
    assert.equal(ka.ID, id);
    await l.put('leased').value('v');
    await l.revoke();
    assert.equal(await client.get('leased').string(), null);
  } finally {
    client.close();
  }
});
