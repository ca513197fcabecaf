/**
 * The interceptor rules (call-guard.ts) over real gRPC (member: the test double): a learner serves Status and
 * serializable Range only; everything else, streams included, gets etcd's error. A voter is
 * unaffected.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { call, startHarness, type Harness } from './test-harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const LEARNER_ERROR = /etcdserver: rpc not supported for learner/;
const range = (serializable: boolean) => ({ key: Buffer.from('k'), serializable });

test('a learner answers Status and serializable Range, and refuses the rest', async () => {
  h.member.isLearner = true;
  try {
    const kv = h.client('kv');
    const maint = h.client('maintenance');
    await call(maint, 'Status', {});
    await call(kv, 'Range', range(true));
    await assert.rejects(call(kv, 'Range', range(false)), LEARNER_ERROR);
    await assert.rejects(call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') }), LEARNER_ERROR);
    await assert.rejects(call(h.client('cluster'), 'MemberList', {}), LEARNER_ERROR);
    await assert.rejects(call(maint, 'HashKV', {}), LEARNER_ERROR);
    const watch = h.client('watch') as unknown as { Watch(): ClientDuplexStream<unknown, unknown> };
    const err = await new Promise<ServiceError>((resolve) => {
      const s = watch.Watch();
      s.on('error', resolve);
      s.on('data', () => undefined);
      s.write({ create_request: { key: Buffer.from('k') } });
    });
    assert.match(err.details, LEARNER_ERROR);
  } finally {
    h.member.isLearner = false;
  }
});

test('with hasleader metadata, a member without a leader answers etcd\'s no-leader error; without it, the call is served', async () => {
  const { Metadata } = await import('@grpc/grpc-js');
  const kv = h.client('kv') as unknown as { Range(req: unknown, md: InstanceType<typeof Metadata>, cb: (e: ServiceError | null) => void): void };
  const md = new Metadata();
  md.set('hasleader', 'true');
  const range = (m: InstanceType<typeof Metadata>) => new Promise<void>((resolve, reject) => kv.Range({ key: Buffer.from('k') }, m, (e) => (e ? reject(e) : resolve())));
  h.member.hasLeader = false;
  try {
    await assert.rejects(range(md), /etcdserver: no leader/);
    await range(new Metadata());
  } finally {
    h.member.hasLeader = true;
  }
  await range(md);
});

test('a voter serves everything (the rule follows the member\'s current role)', async () => {
  const kv = h.client('kv');
  await call(kv, 'Range', range(false));
  await call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
  await call(h.client('cluster'), 'MemberList', {});
});
