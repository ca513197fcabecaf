import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { openMember, tempDir, putReq, rangeReq, delReq, watchReq, values, keys, sleep } from './test-util';

test('a new member has etcd\'s data dir layout, ids and header', async () => {
  const dir = tempDir();
  const m = await openMember(dir);
  try {
    assert.ok(fs.existsSync(path.join(dir, 'member', 'snap', 'db')));
    assert.ok(fs.readdirSync(path.join(dir, 'member', 'wal')).some((f) => f.endsWith('.wal')));
    const h = m.header();
    assert.equal(BigInt(h.member_id as string).toString(16), '8e9e05c52164694d');
    assert.equal(BigInt(h.cluster_id as string).toString(16), 'cdf818194e3a8c32');
    const list = await m.memberList({});
    assert.equal(list.members?.length, 1);
    assert.equal(list.members?.[0]?.name, 'default');
    assert.deepEqual(list.members?.[0]?.clientURLs, ['http://localhost:2379']);
  } finally {
    await m.close();
  }
});

test('acknowledged writes survive close and reopen; revisions continue without a gap', async () => {
  const dir = tempDir();
  let m = await openMember(dir);
  const revs: number[] = [];
  for (let i = 0; i < 50; i++) revs.push(Number((await m.put(putReq(`k${i}`, `v${i}`))).header.revision));
  assert.deepEqual(revs, Array.from({ length: 50 }, (_, i) => i + 2));
  await m.deleteRange(delReq('k0'));
  await m.close();
  m = await openMember(dir);
  try {
    const r = await m.range(rangeReq('k', 'l', { count_only: true }));
    assert.equal(Number(r.count), 49);
    assert.equal(Number(r.header.revision), 52);
    const next = await m.put(putReq('after', 'x'));
    assert.equal(Number(next.header.revision), 53);
  } finally {
    await m.close();
  }
});

test('a member restarts after --max-wals purged the WAL segment that began at index 0', async () => {
  const dir = tempDir();
  const opts = { walSegmentSizeBytes: 16 * 1024, maxWals: 1, snapshotCount: 40, snapshotCatchUpEntries: 5 };
  let m = await openMember(dir, opts);
  for (let i = 0; i < 400; i++) await m.put(putReq(`w${i % 50}`, 'v'.repeat(100) + i));
  await m.close();
  const segments = fs.readdirSync(path.join(dir, 'member', 'wal')).filter((n) => n.endsWith('.wal'));
  assert.ok(!segments.includes('0000000000000000-0000000000000000.wal'), `the first segment was purged: ${segments.join(' ')}`);
  m = await openMember(dir, opts);
  try {
    const r = await m.range(rangeReq('w', 'x', { count_only: true }));
    assert.equal(Number(r.count), 50);
    assert.equal(Number(r.header.revision), 401);
  } finally {
    await m.close();
  }
});

test('range honours limit, sort, count_only, keys_only and revision filters as etcd does', async () => {
  const m = await openMember(tempDir());
  try {
    for (const [k, v] of [['b', '3'], ['a', '2'], ['c', '1']] as const) await m.put(putReq(k, v));
    await m.put(putReq('a', '9')); // a: version 2, mod 5
    const lim = await m.range(rangeReq('a', 'z', { limit: '2' }));
    assert.deepEqual(keys(lim), ['a', 'b']);
    assert.equal(lim.more, true);
    assert.equal(Number(lim.count), 3);
    const byValueDesc = await m.range(rangeReq('a', 'z', { sort_order: 2, sort_target: 4 }));
    assert.deepEqual(values(byValueDesc), ['9', '3', '1']);
    const byCreate = await m.range(rangeReq('a', 'z', { sort_target: 2 })); // no order: ascend
    assert.deepEqual(keys(byCreate), ['b', 'a', 'c']);
    const minMod = await m.range(rangeReq('a', 'z', { min_mod_revision: '4' }));
    assert.deepEqual(keys(minMod), ['a', 'c']);
    const maxCreate = await m.range(rangeReq('a', 'z', { max_create_revision: '2' }));
    assert.deepEqual(keys(maxCreate), ['b']);
    const old = await m.range(rangeReq('a', '', { revision: '3' }));
    assert.deepEqual(values(old), ['2']);
    const fromKey = await m.range(rangeReq('b', '\0', { keys_only: true, serializable: true }));
    assert.deepEqual(keys(fromKey), ['b', 'c']);
    assert.equal(fromKey.kvs?.[0]?.value, undefined);
    await assert.rejects(m.range(rangeReq('a', '', { revision: '100' })), (e) => isFloeError(e, 'ERR_FUTURE_REV'));
  } finally {
    await m.close();
  }
});

test('txn: compares choose the branch, nested txns see the state before the txn, a refused txn changes nothing', async () => {
  const m = await openMember(tempDir());
  try {
    await m.put(putReq('x', '1'));
    const cmp = (key: string, value: string): pb.Compare => ({ result: 0, target: 3, key: Buffer.from(key), range_end: Buffer.alloc(0), target_union: 'value', value: Buffer.from(value) });
    const t = await m.txn({
      compare: [cmp('x', '1')],
      success: [
        { request: 'request_put', request_put: putReq('x', '2') },
        { request: 'request_txn', request_txn: { compare: [cmp('x', '1')], success: [{ request: 'request_put', request_put: putReq('y', 'nested') }], failure: [] } },
      ],
      failure: [],
    });
    assert.equal(t.succeeded, true);
    assert.equal(Number(t.header.revision), 3);
    assert.deepEqual(values(await m.range(rangeReq('y'))), ['nested']);
    await assert.rejects(
      m.txn({ compare: [], success: [{ request: 'request_put', request_put: putReq('z', '1') }, { request: 'request_put', request_put: putReq('w', '1', { lease: '12345' }) }], failure: [] }),
      (e) => isFloeError(e, 'ERR_LEASE_NOT_FOUND'),
    );
    assert.equal((await m.range(rangeReq('z'))).kvs, undefined);
    const miss = await m.txn({ compare: [cmp('nokey', 'v')], success: [], failure: [{ request: 'request_range', request_range: rangeReq('x') }] });
    assert.equal(miss.succeeded, undefined);
    assert.equal(Number(miss.header.revision), 3);
  } finally {
    await m.close();
  }
});

test('watch: events arrive in revision order, complete, with created and compacted notices', async () => {
  const m = await openMember(tempDir());
  try {
    await m.put(putReq('w0', 'old'));
    const got: pb.WatchResponse[] = [];
    const ws = m.newWatchStream();
    ws.onResponse((r) => {
      got.push(r);
      return true;
    });
    const id = ws.create(watchReq('w', 'x', { start_revision: '1' }));
    const writes: Promise<unknown>[] = [];
    for (let i = 1; i <= 30; i++) writes.push(i % 5 === 0 ? m.deleteRange(delReq(`w${i - 1}`)) : m.put(putReq(`w${i}`, `v${i}`)));
    await Promise.all(writes);
    for (let i = 0; i < 100 && got.flatMap((r) => r.events ?? []).length < 31; i++) await sleep(10);
    assert.equal(got[0]?.created, true);
    assert.equal(Number(got[0]?.watch_id ?? 0), id);
    const evRevs = got.flatMap((r) => (r.events ?? []).map((e) => Number(e.kv.mod_revision)));
    assert.deepEqual(evRevs, Array.from({ length: 31 }, (_, i) => i + 2));
    // A watcher starting below the compaction revision gets etcd's compacted cancel.
    await m.compact({ revision: '10', physical: true });
    const ws2 = m.newWatchStream();
    const got2: pb.WatchResponse[] = [];
    ws2.onResponse((r) => {
      got2.push(r);
      return true;
    });
    ws2.create(watchReq('w', 'x', { start_revision: '5' }));
    for (let i = 0; i < 100 && got2.length < 2; i++) await sleep(10);
    assert.equal(got2[1]?.canceled, true);
    assert.equal(Number(got2[1]?.compact_revision), 10);
    ws.close();
    ws2.close();
  } finally {
    await m.close();
  }
});

test('compaction: physical waits, old revisions fail with ERR_COMPACTED, HashKV is stable across reopen', async () => {
  const dir = tempDir();
  let m = await openMember(dir);
  for (let i = 0; i < 20; i++) await m.put(putReq('c', String(i)));
  await m.compact({ revision: '15', physical: true });
  await assert.rejects(m.range(rangeReq('c', '', { revision: '10' })), (e) => isFloeError(e, 'ERR_COMPACTED'));
  assert.deepEqual(values(await m.range(rangeReq('c', '', { revision: '15' }))), ['13']);
  await assert.rejects(m.compact({ revision: '15', physical: false }), (e) => isFloeError(e, 'ERR_COMPACTED'));
  const h1 = await m.hashKV({ revision: '0' });
  await m.close();
  m = await openMember(dir);
  try {
    const h2 = await m.hashKV({ revision: '0' });
    assert.equal(h2.hash, h1.hash);
    assert.equal(Number(h2.compact_revision), 15);
  } finally {
    await m.close();
  }
});

test('leases: keys die with their lease when it expires; keepalive renews; TimeToLive answers -1 when gone', async () => {
  const m = await openMember(tempDir());
  try {
    const g = await m.leaseGrant({ TTL: '1', ID: '0' });
    const id = String(g.ID);
    assert.ok(BigInt(id) > 0n);
    await m.put(putReq('lk', 'v', { lease: id }));
    const ttl = await m.leaseTimeToLive({ ID: id, keys: true });
    assert.deepEqual((ttl.keys ?? []).map((k) => Buffer.from(k).toString()), ['lk']);
    const ka = await m.leaseKeepAlive({ ID: id });
    assert.ok(Number(ka.TTL) >= 1);
    // The minimum TTL here is ceil(1.5 * electionMs) = 1 s; expiry is checked every 500 ms.
    for (let i = 0; i < 60 && (await m.range(rangeReq('lk'))).kvs !== undefined; i++) await sleep(50);
    assert.equal((await m.range(rangeReq('lk'))).kvs, undefined);
    assert.equal(Number((await m.leaseTimeToLive({ ID: id, keys: false })).TTL), -1);
    assert.equal((await m.leaseKeepAlive({ ID: id })).TTL, undefined);
    await assert.rejects(m.leaseRevoke({ ID: id }), (e) => isFloeError(e, 'ERR_LEASE_NOT_FOUND'));
  } finally {
    await m.close();
  }
});

test('snapshot: the stream is the backend file followed by its sha256, and opens as a bbolt file', async () => {
  const dir = tempDir();
  const m = await openMember(dir);
  try {
    for (let i = 0; i < 100; i++) await m.put(putReq(`s${i}`, 'x'.repeat(100)));
    const snap = await m.snapshot();
    const parts: Buffer[] = [];
    for await (const c of snap.chunks()) parts.push(c);
    const all = Buffer.concat(parts);
    assert.equal(all.length, snap.sizeBytes + 32);
    const body = all.subarray(0, snap.sizeBytes);
    assert.deepEqual(all.subarray(snap.sizeBytes), createHash('sha256').update(body).digest());
    const file = path.join(tempDir(), 'snap.db');
    fs.writeFileSync(file, body);
    const { DB } = await import('../backend');
    const db = DB.open(file, { readOnly: true });
    try {
      assert.deepEqual(db.check(), []);
      const n = db.view((tx) => {
        let c = 0;
        tx.bucket(Buffer.from('key'))?.forEach(() => c++);
        return c;
      });
      assert.equal(n, 100);
    } finally {
      db.close();
    }
  } finally {
    await m.close();
  }
});

test('status: dbSize and dbSizeInUse without a page walk equal what the walk counts', async () => {
  const m = await openMember(tempDir());
  try {
    for (let i = 0; i < 300; i++) await m.put(putReq(`s${i % 120}`, 'x'.repeat(500 + (i % 7) * 100)));
    await m.deleteRange(delReq('s1', 's2'));
    await m.compact({ revision: '250', physical: true });
    await m.put(putReq('after', 'y'));
    const status = await m.status();
    const walked = (m as unknown as { db: { stats(): { fileSizeBytes: number; freePages: number; pendingPages: number; pageSize: number } } }).db.stats();
    assert.equal(Number(status.dbSize), walked.fileSizeBytes);
    assert.equal(Number(status.dbSizeInUse), walked.fileSizeBytes - (walked.freePages + walked.pendingPages) * walked.pageSize);
    assert.ok(walked.freePages + walked.pendingPages > 0, 'the case has free pages');
  } finally {
    await m.close();
  }
});

test('NOSPACE: over the quota puts fail and the alarm is raised; deletes still work; disarm restores puts', async () => {
  const m = await openMember(tempDir(), { quotaBackendBytes: 64 * 1024 });
  try {
    let err: unknown = null;
    // As in etcd, the quota is checked against the backend's size as of its last commit (every
    // backendBatchIntervalMs): a burst faster than that can overshoot, so the burst pauses.
    for (let i = 0; i < 400 && err === null; i++) {
      if (i % 25 === 24) await sleep(m.config.backendBatchIntervalMs + 20);
      try {
        await m.put(putReq(`q${i}`, 'x'.repeat(2000)));
      } catch (e) {
        err = e;
      }
    }
    assert.ok(isFloeError(err, 'ERR_NO_SPACE'), String(err));
    for (let i = 0; i < 50 && (await m.alarm({ action: 0, memberID: '0', alarm: 0 })).alarms === undefined; i++) await sleep(10);
    const alarms = await m.alarm({ action: 0, memberID: '0', alarm: 0 });
    assert.equal(alarms.alarms?.[0]?.alarm, 1);
    assert.ok((await m.status()).errors?.[0]?.includes('NOSPACE'));
    await assert.rejects(m.put(putReq('more', 'x')), (e) => isFloeError(e, 'ERR_NO_SPACE'));
    await m.deleteRange(delReq('q', 'r'));
    await m.alarm({ action: 2, memberID: String(alarms.alarms?.[0]?.memberID), alarm: 1 });
    assert.equal((await m.alarm({ action: 0, memberID: '0', alarm: 0 })).alarms, undefined);
  } finally {
    await m.close();
  }
});

test('raft snapshots every snapshotCount entries; the member restarts from snapshot plus WAL', async () => {
  const dir = tempDir();
  let m = await openMember(dir, { snapshotCount: 20, snapshotCatchUpEntries: 5 });
  for (let i = 0; i < 60; i++) await m.put(putReq(`r${i}`, String(i)));
  await m.close();
  const snaps = fs.readdirSync(path.join(dir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
  assert.ok(snaps.length >= 2, snaps.join(','));
  m = await openMember(dir, { snapshotCount: 20, snapshotCatchUpEntries: 5 });
  try {
    assert.equal(Number((await m.range(rangeReq('r', 's', { count_only: true }))).count), 60);
    assert.equal((await m.memberList({})).members?.length, 1);
  } finally {
    await m.close();
  }
});

test('concurrent linearizable reads share read-index rounds and see every acknowledged write', async () => {
  const m = await openMember(tempDir());
  try {
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      ops.push(
        m.put(putReq('lin', String(i))).then(async (p) => {
          const r = await m.range(rangeReq('lin'));
          assert.ok(Number(r.kvs?.[0]?.mod_revision) >= Number(p.header.revision));
        }),
      );
    }
    await Promise.all(ops);
  } finally {
    await m.close();
  }
});

test('periodic auto compaction compacts to the revision of one period ago', async () => {
  const m = await openMember(tempDir(), { autoCompactionRetention: '200ms' });
  try {
    for (let i = 0; i < 5; i++) await m.put(putReq('p', String(i)));
    const rev = Number(m.header().revision);
    await sleep(350);
    await m.put(putReq('p', 'later'));
    for (let i = 0; i < 50; i++) {
      try {
        await m.range(rangeReq('p', '', { revision: String(rev - 1) }));
      } catch (e) {
        if (isFloeError(e, 'ERR_COMPACTED')) return;
        throw e;
      }
      await sleep(20);
    }
    assert.fail('no auto compaction happened');
  } finally {
    await m.close();
  }
});
