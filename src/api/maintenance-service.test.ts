/**
 * Maintenance, Cluster and Auth as real etcdctl 3.4 sees them: the snapshot stream's chunking
 * and trailing sha256 (what `etcdctl snapshot save` writes), status/hashkv/defrag/alarm, the
 * member list, MemberAdd's URL check, and the auth-disabled answers. Member: the TEST DOUBLE.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { call, etcdctl, etcdctlError, startHarness, type Harness } from './test-harness';

// Whole 4 KiB pages (etcdctl checks size % 512 == 32 to find the checksum), not a whole
// number of 32 KiB chunks.
const SNAPSHOT_BYTES = 51 * 4096;
let h: Harness;
let tmp: string;

before(async () => {
  h = await startHarness({ double: { snapshotBytes: SNAPSHOT_BYTES } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-api-maint-'));
});
after(async () => {
  await h.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('snapshot frames: remaining_bytes counts down to 0, then the sha256 of the data', async () => {
  const maint = h.client('maintenance') as unknown as { Snapshot(req: unknown): ClientReadableStream<{ remaining_bytes: string; blob: Buffer }> };
  const frames: { remaining: number; blob: Buffer }[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = maint.Snapshot({});
    s.on('data', (r) => frames.push({ remaining: Number(r.remaining_bytes), blob: r.blob }));
    s.on('end', resolve);
    s.on('error', reject);
  });
  const data = frames.slice(0, -1);
  assert.ok(data.every((f, i) => i === data.length - 1 || f.blob.length === 32 * 1024));
  let left = SNAPSHOT_BYTES;
  for (const f of data) {
    left -= f.blob.length;
    assert.equal(f.remaining, left);
  }
  assert.equal(left, 0);
  const sha = frames.at(-1)!;
  assert.equal(sha.remaining, 0);
  assert.deepEqual(sha.blob, createHash('sha256').update(Buffer.concat(data.map((f) => f.blob))).digest());
});

test('etcdctl snapshot save writes the data with its sha256 appended', async () => {
  const file = path.join(tmp, 'snap.db');
  const r = await etcdctl(h.endpoint, ['snapshot', 'save', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Snapshot saved at /m);
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.length, SNAPSHOT_BYTES + 32);
  assert.deepEqual(bytes.subarray(SNAPSHOT_BYTES), createHash('sha256').update(bytes.subarray(0, SNAPSHOT_BYTES)).digest());
});

test('etcdctl endpoint status / hashkv / defrag / alarm list', async () => {
  const st = await etcdctl(h.endpoint, ['endpoint', 'status']);
  assert.match(st.stdout, new RegExp(`^${h.endpoint.replace(/\./g, '\\.')}, 8e9e05c52164694d, 3\\.4\\.23, `, 'm'));
  const hk = await etcdctl(h.endpoint, ['endpoint', 'hashkv']);
  assert.equal(hk.stdout, `${h.endpoint}, 6789\n`);
  const df = await etcdctl(h.endpoint, ['defrag']);
  assert.equal(df.stdout, `Finished defragmenting etcd member[${h.endpoint}]\n`);
  assert.equal(h.member.calls.get('defragment'), 1);
  const al = await etcdctl(h.endpoint, ['alarm', 'list']);
  assert.deepEqual([al.code, al.stdout], [0, '']);
  // etcd sends alarms without a response header.
  h.member.alarms = [{ memberID: '10276657743932975437', alarm: 1 }];
  try {
    const json = await etcdctl(h.endpoint, ['alarm', 'list', '-w', 'json']);
    assert.equal(json.stdout, '{"alarms":[{"memberID":10276657743932975437,"alarm":1}]}\n');
    assert.equal((await etcdctl(h.endpoint, ['alarm', 'list'])).stdout, 'memberID:10276657743932975437 alarm:NOSPACE \n');
  } finally {
    h.member.alarms = [];
  }
});

test('etcdctl member list; MemberAdd with a bad URL is refused before the member', async () => {
  const ml = await etcdctl(h.endpoint, ['member', 'list']);
  assert.equal(ml.stdout, '8e9e05c52164694d, started, default, http://localhost:2380, http://localhost:2379, false\n');
  const cluster = h.client('cluster');
  for (const peerURLs of [['foo'], ['http://a:1/path'], []]) {
    await assert.rejects(call(cluster, 'MemberAdd', { peerURLs }), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.equal(e.details, 'etcdserver: given member URLs are invalid');
      return true;
    });
  }
  assert.equal(h.member.calls.get('memberAdd'), undefined);
});

test('auth, disabled with an empty store: etcd\'s answers', async () => {
  const run = (...args: string[]) => etcdctl(h.endpoint, args);
  assert.deepEqual([(await run('user', 'list')).code, (await run('user', 'list')).stdout], [0, '']);
  assert.deepEqual([(await run('role', 'list')).code, (await run('role', 'list')).stdout], [0, '']);
  assert.equal((await run('auth', 'disable')).stdout, 'Authentication Disabled\n');
  assert.equal(etcdctlError(await run('auth', 'enable')), 'Error: etcdserver: root user does not exist');
  assert.equal(etcdctlError(await run('user', 'get', 'nope')), 'Error: etcdserver: user name not found');
  assert.equal(etcdctlError(await run('user', 'delete', 'nope')), 'Error: etcdserver: user name not found');
  assert.equal(etcdctlError(await run('role', 'get', 'nope')), 'Error: etcdserver: role name not found');
  assert.equal(etcdctlError(await run('role', 'grant-permission', 'nope', 'read', 'a')), 'Error: etcdserver: role name not found');
  assert.equal(etcdctlError(await run('user', 'add', 'foo:bar')), 'Error: etcdserver: authentication is not enabled');
  // clientv3 takes "authentication is not enabled" as "no auth needed" and carries on.
  const withUser = await run('--user', 'foo:bar', 'put', 'authed', 'v');
  assert.equal(withUser.code, 0, withUser.stderr);
});
