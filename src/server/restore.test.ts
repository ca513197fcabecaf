import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openMember, tempDir, putReq, rangeReq, values } from './test-util';

function haveEtcdctl(): boolean {
  try {
    execFileSync('etcdctl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a Floe snapshot passes real `etcdctl snapshot restore`, and a member starts on its output with every key', { skip: !haveEtcdctl() && 'etcdctl not installed' }, async () => {
  const src = await openMember(tempDir());
  const file = path.join(tempDir(), 'floe.snap.db');
  let wantRev: number;
  try {
    for (let i = 0; i < 30; i++) await src.put(putReq(`key${i}`, `value${i}`));
    const lease = await src.leaseGrant({ TTL: '600', ID: '0' });
    await src.put(putReq('leased', 'v', { lease: String(lease.ID) }));
    wantRev = Number(src.header().revision);
    const snap = await src.snapshot();
    const out = fs.openSync(file, 'w');
    for await (const c of snap.chunks()) fs.writeSync(out, c);
    fs.closeSync(out);
  } finally {
    await src.close();
  }
  const dataDir = path.join(tempDir(), 'restored');
  const env = { ...process.env, ETCDCTL_API: '3' };
  // etcdctl checks the trailing sha256 and the file's bbolt format while restoring.
  execFileSync('etcdctl', ['snapshot', 'restore', file, '--data-dir', dataDir, '--name', 'default', '--initial-cluster', 'default=http://localhost:2380'], {
    env,
    stdio: 'pipe',
  });
  const status = execFileSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env }).toString();
  assert.equal(JSON.parse(status).revision, wantRev);

  const m = await openMember(dataDir);
  try {
    assert.equal(m.memberId.toString(16), '8e9e05c52164694d');
    const r = await m.range(rangeReq('key', 'kez'));
    assert.equal(Number(r.count), 30);
    assert.deepEqual(values(await m.range(rangeReq('key7'))), ['value7']);
    assert.equal(Number(m.header().revision), wantRev);
    const leases = await m.leaseLeases();
    assert.equal(leases.leases?.length, 1);
    const next = await m.put(putReq('new', 'x'));
    assert.equal(Number(next.header.revision), wantRev + 1);
    const list = await m.memberList({});
    assert.deepEqual(list.members?.map((x) => x.name), ['default']);
  } finally {
    await m.close();
  }
  // Restarting on the same dir replays nothing twice.
  const again = await openMember(dataDir);
  try {
    assert.equal(Number(again.header().revision), wantRev + 1);
  } finally {
    await again.close();
  }
});
