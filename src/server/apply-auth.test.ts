/**
 * Auth on a running member: management through raft, permission checks in apply (as the
 * proposer named in the entry's header), reads and watch creates checked as the caller,
 * root-only calls, simple token expiry, stale JWT revisions, and persistence across restart.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { DB, BatchTx } from '../backend';
import { AuthStore, SimpleTokens, type CallIdentity } from '../auth';
import type * as pb from '../etcdpb/messages';
import { startMember, type Member } from './member';
import { LocalPeers } from './test-peers';
import type { AuthServer } from './contract';
import { applyAuth } from './apply-auth';
import { decodeRaftRequest, encodeRaftRequestReflective, type RaftRequestIn } from './raft-request';
import { openMember, tempDir, putReq, rangeReq, delReq, watchReq, sleep } from './test-util';

const COST = 4;

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'OK';
  } catch (e) {
    if (isFloeError(e)) return e.code;
    throw e;
  }
}

function authOf(m: Member): AuthServer {
  assert.ok(m.auth !== undefined);
  return m.auth;
}

/** root (root role) and alice (readwrite on prefix "a/", read on "pub"), auth enabled. */
async function setUp(m: Member): Promise<{ root: CallIdentity; alice: CallIdentity }> {
  const a = authOf(m);
  await a.userAdd({ name: 'root', password: 'rpw', options: null });
  await a.userAdd({ name: 'alice', password: 'apw', options: null });
  await a.roleAdd({ name: 'r' });
  await a.roleGrantPermission({ name: 'r', perm: { permType: 2, key: Buffer.from('a/'), range_end: Buffer.from('a0') } });
  await a.roleGrantPermission({ name: 'r', perm: { permType: 0, key: Buffer.from('pub'), range_end: Buffer.alloc(0) } });
  await a.userGrantRole({ user: 'alice', role: 'r' });
  await a.userGrantRole({ user: 'root', role: 'root' });
  await a.authEnable({});
  const root = { token: (await a.authenticate({ name: 'root', password: 'rpw' })).token as string, commonName: null };
  const alice = { token: (await a.authenticate({ name: 'alice', password: 'apw' })).token as string, commonName: null };
  return { root, alice };
}

test('enabling needs root; writes are checked in apply as the proposer; reads as the caller', async () => {
  const m = await openMember(tempDir(), { bcryptCost: COST });
  const a = authOf(m);
  try {
    assert.equal(await code(a.authEnable({})), 'ERR_ROOT_USER_NOT_EXIST');
    const { root, alice } = await setUp(m);
    const as = <T>(id: CallIdentity, fn: () => Promise<T>): Promise<T> => a.runAs(id, fn);
    assert.equal(await code(m.put(putReq('a/1', 'x'))), 'ERR_USER_EMPTY', 'no credentials with auth on');
    assert.equal(await code(as(alice, () => m.put(putReq('a/1', 'x')))), 'OK');
    assert.equal(await code(as(alice, () => m.put(putReq('b', 'x')))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(alice, () => m.put(putReq('pub', 'x')))), 'ERR_PERMISSION_DENIED', 'read-only key');
    assert.equal(await code(as(alice, () => m.range(rangeReq('pub')))), 'OK');
    assert.equal(await code(as(alice, () => m.range(rangeReq('a/', 'a0')))), 'OK');
    assert.equal(await code(as(alice, () => m.range(rangeReq('a/', 'b')))), 'ERR_PERMISSION_DENIED', 'a range wider than the grant');
    assert.equal(await code(as(alice, () => m.deleteRange(delReq('a/', 'a0', true)))), 'OK');
    assert.equal(await code(as(root, () => m.put(putReq('b', 'x')))), 'OK', 'root writes anything');
    // A nested txn op is checked like a top-level one.
    const nested: pb.TxnRequest = {
      compare: [],
      success: [{ request: 'request_txn', request_txn: { compare: [], success: [{ request: 'request_put', request_put: putReq('b', 'y') }], failure: [] } } as pb.RequestOp],
      failure: [],
    };
    assert.equal(await code(as(alice, () => m.txn(nested))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(root, () => m.txn(nested))), 'OK');
    assert.equal(await code(as({ token: 'forged.1', commonName: null }, () => m.put(putReq('a/1', 'x')))), 'ERR_INVALID_AUTH_TOKEN');
    // A lease holding a key alice may not write can't be revoked by her.
    const lease = await as(root, () => m.leaseGrant({ TTL: '60', ID: '0' }));
    await as(root, () => m.put(putReq('b', 'z', { lease: String(lease.ID) })));
    assert.equal(await code(as(alice, () => m.leaseRevoke({ ID: String(lease.ID) }))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(alice, () => m.put(putReq('a/2', 'z', { lease: String(lease.ID) })))), 'ERR_PERMISSION_DENIED', 'nor attach to it');
    assert.equal(await code(as(root, () => m.leaseRevoke({ ID: String(lease.ID) }))), 'OK');
  } finally {
    await m.close();
  }
});

test('root-only calls, user/role gets of oneself, and denied watch creates', async () => {
  const m = await openMember(tempDir(), { bcryptCost: COST });
  const a = authOf(m);
  try {
    const { root, alice } = await setUp(m);
    const as = <T>(id: CallIdentity, fn: () => Promise<T>): Promise<T> => a.runAs(id, fn);
    // Maintenance answers with the auth store's own error, unmapped (etcd's maintenance server).
    const calls: (() => Promise<unknown>)[] = [() => m.hashKV({ revision: '0' }), () => m.hash(), () => m.defragment(), () => m.snapshot()];
    for (const call of calls) {
      assert.equal(await code(as(alice, call)), 'ERR_AUTH_UNMAPPED');
      assert.equal(await code(as(root, call)), 'OK');
    }
    assert.equal(await code(as(alice, () => m.memberUpdate({ ID: String(m.memberId), peerURLs: ['http://localhost:2380'] }))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(alice, () => m.status())), 'OK', 'status is open to all');
    assert.equal(await code(as(alice, () => a.userList({}))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(alice, () => a.userGet({ name: 'alice' }))), 'OK', 'one\'s own user');
    assert.equal(await code(as(alice, () => a.userGet({ name: 'root' }))), 'ERR_PERMISSION_DENIED');
    assert.equal(await code(as(alice, () => a.roleGet({ role: 'r' }))), 'OK', 'a role one holds');
    assert.equal(await code(as(alice, () => a.roleAdd({ name: 'x' }))), 'ERR_PERMISSION_DENIED');
    assert.deepEqual((await as(root, () => a.userList({}))).users, ['alice', 'root']);
    // Watch: the stream is opened as alice; each create is checked (etcd's cancel reason text).
    const ws = as(alice, async () => m.newWatchStream());
    const stream = await ws;
    stream.onResponse(() => true);
    assert.throws(() => stream.create(watchReq('b')), (e: Error) => e.message === 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
    assert.ok(stream.create(watchReq('a/', 'a0')) >= 0);
    stream.close();
  } finally {
    await m.close();
  }
});

test('a simple token expires --auth-token-ttl after its last use', async () => {
  const m = await openMember(tempDir(), { bcryptCost: COST, authTokenTtlSec: 1 });
  const a = authOf(m);
  try {
    const { alice } = await setUp(m);
    const get = (): Promise<string> => code(a.runAs(alice, () => m.range(rangeReq('pub'))));
    await sleep(600);
    assert.equal(await get(), 'OK');
    await sleep(600);
    assert.equal(await get(), 'OK', 'the use at 0.6 s extended it');
    await sleep(1300);
    assert.equal(await get(), 'ERR_INVALID_AUTH_TOKEN');
    assert.equal(await code(a.authenticate({ name: 'alice', password: 'wrong' })), 'ERR_AUTH_FAILED');
  } finally {
    await m.close();
  }
});

test('a JWT issued before an auth change is stale: "revision of auth store is old"', async () => {
  const dir = tempDir();
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'jwt.pem');
  fs.writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const m = await openMember(path.join(dir, 'data'), { bcryptCost: COST, authToken: `jwt,priv-key=${keyFile},sign-method=ES256` });
  const a = authOf(m);
  try {
    const { root, alice } = await setUp(m);
    assert.match(alice.token as string, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(await code(a.runAs(alice, () => m.range(rangeReq('pub')))), 'OK');
    await a.runAs(root, () => a.roleAdd({ name: 'other' }));
    assert.equal(await code(a.runAs(alice, () => m.range(rangeReq('pub')))), 'ERR_AUTH_OLD_REVISION');
    assert.equal(await code(a.runAs(alice, () => m.put(putReq('a/1', 'x')))), 'ERR_AUTH_OLD_REVISION');
    const fresh = { token: (await a.authenticate({ name: 'alice', password: 'apw' })).token as string, commonName: null };
    assert.equal(await code(a.runAs(fresh, () => m.put(putReq('a/1', 'x')))), 'OK');
  } finally {
    await m.close();
  }
});

test('users, roles and the enabled flag survive a restart', async () => {
  const dir = tempDir();
  let m = await openMember(dir, { bcryptCost: COST });
  await setUp(m);
  await m.close();
  m = await openMember(dir, { bcryptCost: COST });
  const a = authOf(m);
  try {
    assert.equal(await code(m.put(putReq('a/1', 'x'))), 'ERR_USER_EMPTY', 'still enabled');
    const alice = { token: (await a.authenticate({ name: 'alice', password: 'apw' })).token as string, commonName: null };
    assert.equal(await code(a.runAs(alice, () => m.put(putReq('a/1', 'x')))), 'OK');
  } finally {
    await m.close();
  }
});

test('apply: a proposer whose auth revision is older than the store is refused; no header is nobody', () => {
  const db = DB.open(path.join(tempDir(), 'db'), { noSync: true });
  const batch = new BatchTx(db, { intervalMs: 1_000_000, limit: 1_000_000 });
  const auth = new AuthStore(batch, new SimpleTokens(60_000));
  auth.userAdd({ name: 'root', passwordHash: Buffer.from('h'), noPassword: false });
  auth.userGrantRole('root', 'root');
  auth.authEnable();
  const deps = { auth, index: 9, bcryptCost: COST, leaseKeys: () => null, header: () => ({}) };
  const entry = (req: RaftRequestIn) => decodeRaftRequest(encodeRaftRequestReflective(req));
  const put = (h: RaftRequestIn['header']) => entry({ header: h, put: putReq('k', 'v') });
  const rev = String(auth.revision);
  assert.equal(applyAuth(deps, put({ ID: '1', username: 'root', auth_revision: rev })), null, 'allowed: applied as usual');
  assert.throws(() => applyAuth(deps, put({ ID: '1', username: 'root', auth_revision: String(auth.revision - 1) })), /revision of auth store is old/);
  assert.throws(() => applyAuth(deps, put({ ID: '1' })), /user name is empty/);
  // An etcd 3.4 entry carries the clear password: apply hashes it (and only then).
  const add = applyAuth(deps, entry({ header: { ID: '2', username: 'root', auth_revision: rev }, auth_user_add: { name: 'u', password: 'pw', options: null } }));
  assert.notEqual(add, null);
  assert.deepEqual(auth.userList(), ['root', 'u']);
  db.close();
});

test('with auth on, expired leases are still revoked (the member proposes the revoke as root)', async () => {
  const m = await openMember(tempDir(), { bcryptCost: COST });
  const a = authOf(m);
  try {
    const { root } = await setUp(m);
    const lease = await a.runAs(root, () => m.leaseGrant({ TTL: '1', ID: '0' }));
    await a.runAs(root, () => m.put(putReq('b', 'leased', { lease: String(lease.ID) })));
    const deadline = Date.now() + 5000;
    let count = 1;
    while (count > 0 && Date.now() < deadline) {
      await sleep(100);
      count = Number((await a.runAs(root, () => m.range(rangeReq('b')))).count ?? 0);
    }
    assert.equal(count, 0, 'the leased key went with its lease');
  } finally {
    await m.close();
  }
});

test('in a cluster a simple token made through one member works on every member', async () => {
  const names = ['a0', 'a1', 'a2'];
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${22001 + i}`).join(',');
  const bus = new LocalPeers();
  const keepAlive = setInterval(() => undefined, 1000);
  const members = await Promise.all(
    names.map((name, i) =>
      startMember(
        {
          name,
          dataDir: tempDir(),
          initialAdvertisePeerUrls: [`http://127.0.0.1:${22001 + i}`],
          initialCluster: cluster,
          heartbeatMs: 10,
          electionMs: 100,
          backendBatchIntervalMs: 20,
          bcryptCost: COST,
        },
        bus.factory,
      ),
    ),
  );
  try {
    await Promise.all(members.map((m) => m.ready));
    const first = members[0] as Member;
    await setUp(first);
    for (const via of members) {
      // Authenticate through `via`; the token is assigned when the entry applies, on all three.
      const alice = { token: (await authOf(via).authenticate({ name: 'alice', password: 'apw' })).token as string, commonName: null };
      for (const m of members) {
        const a = authOf(m);
        const run = <T>(fn: () => Promise<T>): Promise<T> => {
          const wait = a.whenTokenKnown(alice);
          return (wait ?? Promise.resolve()).then(() => a.runAs(alice, fn));
        };
        assert.equal(await code(run(() => m.put(putReq('a/x', m.config.name)))), 'OK');
        assert.equal(await code(run(() => m.put(putReq('b', 'x')))), 'ERR_PERMISSION_DENIED');
        assert.equal(await code(run(() => m.range(rangeReq('a/x')))), 'OK');
      }
    }
  } finally {
    clearInterval(keepAlive);
    await Promise.all(members.map((m) => m.close()));
  }
});
