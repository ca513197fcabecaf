/**
 * The KV service's request checks, seen by real clients: etcdctl 3.4, the npm etcd3 client and
 * raw grpc-js stubs get etcd's status codes and exact messages, and a refused request never
 * reaches the member. The member is the TEST DOUBLE (test-double.ts).
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { Etcd3, EtcdLeaseInvalidError, GRPCInvalidArgumentError } from 'etcd3';
import { call, etcdctl, etcdctlError, startHarness, type Harness } from './test-harness';
import { GRPC_OVERHEAD_BYTES } from './grpc-server';
import { raftEntrySizeBytes } from './validate';

const MAX_REQUEST_BYTES = 4096;
let h: Harness;
let kv: ReturnType<Harness['client']>;

before(async () => {
  h = await startHarness({ double: { maxRequestBytes: MAX_REQUEST_BYTES } });
  kv = h.client('kv');
});
after(() => h.close());

const rejectsWith = async (p: Promise<unknown>, code: status, details: string): Promise<void> => {
  await assert.rejects(p, (e: ServiceError) => {
    assert.equal(e.code, code, `code ${status[e.code]} (${e.details})`);
    assert.equal(e.details, details);
    return true;
  });
};

/** Runs a txn through etcdctl's non-interactive input (compares, success, failure blocks). */
const txnInput = (success: string[], failure: string[] = []): string => ['', ...success, '', ...failure, '', ''].join('\n');

test('etcdctl: an empty key is refused before the member with etcd\'s message', async () => {
  const before = new Map(h.member.calls);
  for (const args of [['put', '', 'v'], ['get', ''], ['del', '']]) {
    const r = await etcdctl(h.endpoint, args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(etcdctlError(r), 'Error: etcdserver: key is not provided');
    assert.match(r.stderr, /code = InvalidArgument desc = etcdserver: key is not provided/);
  }
  assert.deepEqual(h.member.calls, before);
});

test('etcdctl: too many txn ops at 129, accepted at 128', async () => {
  const puts = (n: number): string[] => Array.from({ length: n }, (_, i) => `put ops${i} v`);
  const bad = await etcdctl(h.endpoint, ['txn'], txnInput(puts(129)));
  assert.equal(bad.code, 1);
  assert.equal(etcdctlError(bad), 'Error: etcdserver: too many operations in txn request');
  const good = await etcdctl(h.endpoint, ['txn'], txnInput(puts(128)));
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /^SUCCESS/);
});

test('etcdctl: duplicate keys in a txn, including a put inside a deleted range', async () => {
  for (const success of [['put a 1', 'put a 2'], ['put a 1', 'del a'], ['put ab 1', 'del a b'], ['del a --prefix', 'put ab 1']]) {
    const r = await etcdctl(h.endpoint, ['txn'], txnInput(success));
    assert.equal(r.code, 1, success.join('; '));
    assert.equal(etcdctlError(r), 'Error: etcdserver: duplicate key given in txn request');
  }
  // etcd 3.4 lets a put through next to a from-key delete; so do we.
  const r = await etcdctl(h.endpoint, ['txn'], txnInput(['put a 1', 'del a --from-key']));
  assert.equal(r.code, 0, r.stderr);
});

test('request too large: refused one byte past --max-request-bytes, accepted at it', async () => {
  // A put of key "big": wire bytes = 5 (key field) + 1 + varint(len) + len; the raft entry adds
  // its header. Find the largest value that fits exactly.
  let value = 0;
  while (raftEntrySizeBytes(5 + 1 + (value + 1 < 128 ? 1 : 2) + value + 1) <= MAX_REQUEST_BYTES) value++;
  assert.equal(raftEntrySizeBytes(5 + 1 + 2 + value), MAX_REQUEST_BYTES);
  const putReq = (n: number) => ({ key: Buffer.from('big'), value: Buffer.alloc(n, 120) });
  await call(kv, 'Put', putReq(value));
  await rejectsWith(call(kv, 'Put', putReq(value + 1)), status.INVALID_ARGUMENT, 'etcdserver: request is too large');

  const r = await etcdctl(h.endpoint, ['put', 'big', 'x'.repeat(value + 1)]);
  assert.equal(etcdctlError(r), 'Error: etcdserver: request is too large');

  // A txn with a write is measured; a read-only one is not (etcd reads without raft).
  const bigGet = { request_range: { key: Buffer.alloc(MAX_REQUEST_BYTES, 97) } };
  await call(kv, 'Txn', { success: [bigGet] });
  await rejectsWith(
    call(kv, 'Txn', { success: [bigGet, { request_put: { key: Buffer.from('k'), value: Buffer.from('v') } }] }),
    status.INVALID_ARGUMENT,
    'etcdserver: request is too large',
  );
  await call(kv, 'Range', { key: Buffer.alloc(MAX_REQUEST_BYTES * 2, 97) });
});

test('gRPC refuses messages above --max-request-bytes + 512 KiB before decoding them', async () => {
  const limit = MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES;
  await assert.rejects(call(kv, 'Range', { key: Buffer.alloc(limit + 1, 97) }), (e: ServiceError) => {
    assert.equal(e.code, status.RESOURCE_EXHAUSTED);
    assert.match(e.details, /larger than max/);
    return true;
  });
  await call(kv, 'Range', { key: Buffer.alloc(limit - 16, 97) });
});

test('raw client: ignore_value / ignore_lease conflicts and an empty txn op', async () => {
  await rejectsWith(call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v'), ignore_value: true }), status.INVALID_ARGUMENT, 'etcdserver: value is provided');
  await rejectsWith(call(kv, 'Put', { key: Buffer.from('k'), lease: '7', ignore_lease: true }), status.INVALID_ARGUMENT, 'etcdserver: lease is provided');
  await rejectsWith(call(kv, 'Txn', { success: [{}] }), status.INVALID_ARGUMENT, 'etcdserver: key not found');
  await rejectsWith(call(kv, 'Txn', { compare: [{ key: Buffer.alloc(0) }] }), status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
});

test('member errors reach the client through the error table; headers are filled', async () => {
  await rejectsWith(call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v'), lease: '99' }), status.NOT_FOUND, 'etcdserver: requested lease not found');
  await rejectsWith(call(kv, 'Range', { key: Buffer.from('k'), revision: '1000000' }), status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
  const res = await call<{ header: Record<string, string> }>(kv, 'Put', { key: Buffer.from('hdr'), value: Buffer.from('v') });
  assert.equal(res.header.cluster_id, '14841639068965178418');
  assert.equal(res.header.member_id, '10276657743932975437');
  assert.equal(res.header.raft_term, '2');
  assert.equal(res.header.revision, String(h.member.revision));
});

test('npm etcd3: validation and member errors come back as etcd errors', async () => {
  const client = new Etcd3({ hosts: `http://${h.endpoint}` });
  try {
    // etcd3 types an INVALID_ARGUMENT by its status code, keeping etcd's text.
    await assert.rejects(client.put('').value('v').exec(), (e: unknown) => {
      assert.ok(e instanceof GRPCInvalidArgumentError, String(e));
      assert.match((e as Error).message, /etcdserver: key is not provided/);
      return true;
    });
    await assert.rejects(client.put('k').value('v').lease('99').exec(), EtcdLeaseInvalidError);
    const ops = Array.from({ length: 129 }, (_, i) => client.put(`n${i}`).value('v'));
    await assert.rejects(client.if('a', 'Version', '==', 0).then(...ops).commit(), /etcdserver: too many operations in txn request/);
    await client.put('npm').value('ok');
    assert.equal(await client.get('npm').string(), 'ok');
  } finally {
    client.close();
  }
});
