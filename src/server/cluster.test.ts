/**
 * Members of one cluster in one process, connected by the in-process transport
 * (test-peers.ts): bootstrap, replication, forwarding, leader loss, snapshot catch-up,
 * removal and leader transfer, as etcd's members behave.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { startMember, type Member } from './member';
import type { MemberConfig, MemberLogger } from './config';
import { LocalPeers } from './test-peers';
import { putReq, rangeReq, watchReq, tempDir, keys, sleep } from './test-util';

const NAMES = ['m0', 'm1', 'm2'];
const CLUSTER = NAMES.map((n, i) => `${n}=http://127.0.0.1:${20001 + i}`).join(',');

interface Cluster {
  readonly bus: LocalPeers;
  readonly members: Member[];
  readonly logs: string[][];
  leader(): Member;
  followers(): Member[];
  close(): Promise<void>;
}

async function startCluster(over: Partial<MemberConfig> = {}): Promise<Cluster> {
  const bus = new LocalPeers();
  // The members' timers do not hold the process open (a real one has its listeners); the
  // test does, until the cluster closes.
  const keepAlive = setInterval(() => undefined, 1000);
  const logs: string[][] = NAMES.map(() => []);
  const members = await Promise.all(
    NAMES.map((name, i) => {
      const logger: MemberLogger = { log: (_l, pkg, msg) => logs[i]!.push(`${pkg}: ${msg}`) };
      return startMember(
        {
          name,
          dataDir: tempDir(),
          initialAdvertisePeerUrls: [`http://127.0.0.1:${20001 + i}`],
          advertiseClientUrls: [`http://127.0.0.1:${21001 + i}`],
          initialCluster: CLUSTER,
          heartbeatMs: 10,
          electionMs: 100,
          backendBatchIntervalMs: 20,
          logger,
          ...over,
        },
        bus.factory,
      );
    }),
  );
  await Promise.all(members.map((m) => m.ready));
  const c: Cluster = {
    bus,
    members,
    logs,
    leader: () => {
      const lead = members.find((m) => !isClosed(m) && BigInt(m.header().member_id as string) === leaderOf(m));
      assert.ok(lead !== undefined, 'no leader');
      return lead;
    },
    followers: () => members.filter((m) => m !== c.leader()),
    close: async () => {
      await Promise.all(members.map((m) => m.close()));
      clearInterval(keepAlive);
    },
  };
  return c;
}

const closedSet = new WeakSet<Member>();
function isClosed(m: Member): boolean {
  return closedSet.has(m);
}

function leaderOf(m: Member): bigint {
  return (m as unknown as { lead: bigint }).lead;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('three members bootstrap, publish, elect one leader and serve writes from any member', async () => {
  const c = await startCluster();
  try {
    const leaders = new Set(c.members.map(leaderOf));
    assert.equal(leaders.size, 1, 'every member agrees on one leader');
    const list = await c.members[1]!.memberList({});
    assert.deepEqual(list.members?.map((m) => m.name).sort(), NAMES);
    assert.ok(list.members?.every((m) => (m.clientURLs ?? []).length === 1), 'every member published its client URL');
    // A write through a follower is forwarded to the leader and answered once applied here.
    const f = c.followers()[0]!;
    const r = await f.put(putReq('from-follower', 'v'));
    // A linearizable read on another member sees it.
    const other = c.members.find((m) => m !== f)!;
    const got = await other.range(rangeReq('from-follower'));
    assert.deepEqual(keys(got), ['from-follower']);
    assert.equal(Number(got.header.revision), Number(r.header.revision));
    assert.deepEqual(new Set(c.members.map((m) => m.header().cluster_id)).size, 1);
  } finally {
    await c.close();
  }
});

test('losing the leader: the others elect a new one and go on; the old one catches up when healed', async () => {
  const c = await startCluster();
  try {
    const old = c.leader();
    const oldId = BigInt(old.header().member_id as string);
    c.bus.isolate(oldId);
    const rest = c.members.filter((m) => m !== old);
    await until('a new leader', () => rest.every((m) => leaderOf(m) !== 0n && leaderOf(m) !== oldId));
    for (let i = 0; i < 20; i++) await rest[i % 2]!.put(putReq(`k${i}`, 'v'));
    c.bus.heal();
    // The last put is acknowledged where it was made; the other member may apply it a moment later.
    const rev = Math.max(...rest.map((m) => Number(m.header().revision)));
    await until('the old leader to catch up', () => Number(old.header().revision) === rev).catch((e: unknown) => {
      const st = (m: Member) => JSON.stringify({ lead: leaderOf(m).toString(16), term: m.header().raft_term, rev: m.header().revision, applied: m.appliedIndex });
      throw new Error(`${(e as Error).message}: old ${st(old)} others ${rest.map(st).join(' ')}`);
    });
    const r = await old.range(rangeReq('k', 'l', { count_only: true }));
    assert.equal(Number(r.count), 20);
  } finally {
    await c.close();
  }
});

test('a follower far behind catches up through a snapshot of the leader\'s backend', async () => {
  const c = await startCluster({ snapshotCount: 20, snapshotCatchUpEntries: 5 });
  try {
    const lagging = c.followers()[0]!;
    const idx = c.members.indexOf(lagging);
    // A watch open on the lagging member survives the snapshot (as etcd's watchers do): its
    // stream stays open and delivers every write exactly once, in order.
    const watched: string[] = [];
    const ws = lagging.newWatchStream();
    ws.onResponse((r) => {
      for (const e of r.events ?? []) watched.push(Buffer.from(e.kv.key).toString());
      return true;
    });
    ws.create(watchReq('s', 't'));
    c.bus.isolate(BigInt(lagging.header().member_id as string));
    const lead = c.leader();
    for (let i = 0; i < 120; i++) await lead.put(putReq(`s${String(i).padStart(3, '0')}`, `v${i}`));
    c.bus.heal();
    const rev = Number(lead.header().revision);
    await until('the lagging member to catch up', () => Number(lagging.header().revision) === rev, 10_000);
    assert.ok(
      c.logs[idx]!.some((l) => l.includes('finished applying incoming snapshot')),
      'the lagging member installed a snapshot, not just entries',
    );
    const r = await lagging.range(rangeReq('s', 't', { serializable: true }));
    assert.equal(r.kvs?.length, 120);
    assert.equal(Buffer.from(r.kvs?.[119]?.value ?? '').toString(), 'v119');
    await until('the watch to catch up', () => watched.length >= 120);
    assert.deepEqual(watched, Array.from({ length: 120 }, (_, i) => `s${String(i).padStart(3, '0')}`));
    ws.close();
    // It goes on applying new writes after the snapshot.
    await lead.put(putReq('after', 'x'));
    await until('the write after the snapshot', async () => (await lagging.range(rangeReq('after', '', { serializable: true }))).kvs?.length === 1);
    const hashes = await Promise.all(c.members.map(async (m) => (await m.hashKV({ revision: String(rev) })).hash));
    assert.equal(new Set(hashes).size, 1, `HashKV at ${rev} equal on all members: ${hashes.join(' ')}`);
  } finally {
    await c.close();
  }
});

test('a removed member stops; the others keep serving with a two-member quorum', async () => {
  const c = await startCluster();
  try {
    const victim = c.followers()[0]!;
    const victimId = BigInt(victim.header().member_id as string);
    const lead = c.leader();
    const resp = await lead.memberRemove({ ID: victimId.toString() });
    assert.equal(resp.members?.length, 2);
    const reason = await Promise.race([(victim as unknown as { done: Promise<string> }).done, sleep(3000).then(() => 'not stopped')]);
    assert.equal(reason, 'the member has been permanently removed from the cluster');
    await victim.close();
    closedSet.add(victim);
    await lead.put(putReq('still', 'serving'));
    await assert.rejects(lead.memberRemove({ ID: victimId.toString() }), /member not found/);
  } finally {
    await c.close();
  }
});

test('move-leader hands leadership to the named member; a learner or unknown id is refused', async () => {
  const c = await startCluster();
  try {
    const lead = c.leader();
    const target = c.followers()[0]!;
    const targetId = BigInt(target.header().member_id as string);
    await assert.rejects(c.followers()[1]!.moveLeader({ targetID: targetId.toString() }), /not leader/);
    await assert.rejects(lead.moveLeader({ targetID: '12345' }), /bad leader transferee/);
    await lead.moveLeader({ targetID: targetId.toString() });
    assert.equal(leaderOf(target), targetId);
    await target.put(putReq('after-transfer', 'v'));
  } finally {
    await c.close();
  }
});

test('member add of a voter that never starts is refused by the strict check; a learner is added', async () => {
  const c = await startCluster();
  try {
    const lead = c.leader();
    const added = await lead.memberAdd({ peerURLs: ['http://127.0.0.1:20099'], isLearner: true });
    assert.equal(added.member?.isLearner, true);
    assert.equal(added.members?.length, 4);
    await assert.rejects(lead.memberAdd({ peerURLs: ['http://127.0.0.1:20098'], isLearner: true }), /too many learner members/);
    await assert.rejects(lead.memberAdd({ peerURLs: ['http://127.0.0.1:20099'], isLearner: false }), /Peer URLs already exists/);
    await assert.rejects(
      lead.memberPromote({ ID: String(added.member?.ID) }),
      /can only promote a learner member which is in sync with leader/,
    );
    const list = await c.members[2]!.memberList({});
    assert.equal(list.members?.length, 4);
  } finally {
    await c.close();
  }
});

test('a write the cluster cannot commit fails at the request timeout with etcd\'s error', { timeout: 20_000 }, async () => {
  const c = await startCluster();
  try {
    const old = c.leader();
    c.bus.isolate(BigInt(old.header().member_id as string));
    const start = Date.now();
    const err = await old.put(putReq('stuck', 'v')).then(
      () => assert.fail('a write without a quorum was acknowledged'),
      (e: unknown) => e as Error,
    );
    const elapsed = Date.now() - start;
    // The leader stepped down meanwhile (check-quorum), so the error names its failure.
    assert.match(err.message, /^etcdserver: request timed out/);
    const timeoutMs = 5000 + 2 * 100;
    assert.ok(elapsed >= timeoutMs - 5 && elapsed < timeoutMs + 1000, `failed after ${elapsed} ms (timeout ${timeoutMs} ms)`);
    c.bus.heal();
  } finally {
    await c.close();
  }
});

test('a linearizable read on a member cut off from the leader fails at the request timeout', { timeout: 20_000 }, async () => {
  const c = await startCluster();
  try {
    const [cut] = c.followers();
    c.bus.isolate(BigInt(cut!.header().member_id as string));
    const start = Date.now();
    const err = await cut!.range(rangeReq('k', 'l')).then(
      () => assert.fail('a linearizable read without the leader was answered'),
      (e: unknown) => e as Error,
    );
    const elapsed = Date.now() - start;
    assert.equal(err.message, 'etcdserver: request timed out');
    const timeoutMs = 5000 + 2 * 100;
    assert.ok(elapsed >= timeoutMs - 5 && elapsed < timeoutMs + 1000, `failed after ${elapsed} ms (timeout ${timeoutMs} ms)`);
    // Serializable reads still answer from local state.
    await cut!.range(rangeReq('k', 'l', { serializable: true }));
    c.bus.heal();
  } finally {
    await c.close();
  }
});
