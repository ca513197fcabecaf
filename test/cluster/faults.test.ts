/**
 * Fault tests on a real 3-member cluster (issue 4): kill -9 of the leader under write load,
 * a partitioned member catching up through a snapshot, and removal of a running member.
 * Each runs against FLOE_CLUSTER_TARGET (`etcd` checks the harness against real etcd; unset,
 * this repository's bin/floe, which needs multi-member Floe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, clusterTargetFromEnv, parseJsonExact, sleep, targetIsEtcd, type Slot } from './cluster';
import { singleEndpointClient, Writer } from './load';

const target = clusterTargetFromEnv();
const ELECTION_TIMEOUT_MS = 1_000;
const HEARTBEAT_MS = 100;
/** Entries etcd keeps in its raft log after a snapshot (DefaultSnapshotCatchUpEntries); a
 * member further behind than this can only catch up from a snapshot. */
const ETCD_CATCH_UP_ENTRIES = 5_000;
const SNAPSHOT_COUNT = 100;

/** Every key under `prefix` as member i serves it (serializable: its own state). */
async function readPrefix(c: Cluster, i: number, prefix: string): Promise<Map<string, string>> {
  const text = await c.ctlOk(['get', prefix, '--prefix', '--consistency=s', '-w', 'json'], { endpoints: c.endpoint(i), timeoutMs: 30_000 });
  const parsed = parseJsonExact(text) as { kvs?: Array<{ key: string; value?: string }> };
  const out = new Map<string, string>();
  for (const kv of parsed.kvs ?? []) out.set(Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value ?? '', 'base64').toString());
  return out;
}

/** Asserts that every member among `indices` holds every acknowledged write. */
async function assertAckedEverywhere(c: Cluster, indices: readonly number[], prefix: string, acked: ReadonlyMap<string, string>): Promise<void> {
  for (const i of indices) {
    const have = await readPrefix(c, i, prefix);
    const missing = [...acked].filter(([k, v]) => have.get(k) !== v);
    assert.equal(missing.length, 0, `${c.slot(i).name} lacks ${missing.length} of ${acked.size} acknowledged writes, e.g. ${JSON.stringify(missing.slice(0, 3))}`);
  }
}

/** Asserts HashKV at `rev` is the same on every member among `indices`. */
async function assertSameHash(c: Cluster, rev: bigint, indices: readonly number[] = c.running()): Promise<string> {
  const hashes = await c.hashKv(rev, indices);
  assert.equal(new Set(hashes.values()).size, 1, `HashKV at revision ${rev} differs: ${JSON.stringify([...hashes])}`);
  return [...hashes.values()][0]!;
}

/** Polls the members' Status over gRPC until one reports a leader other than `oldLeader`. */
async function timeToNewLeader(c: Cluster, survivors: readonly number[], oldLeader: bigint, sinceMs: number, boundMs: number): Promise<number> {
  const clients = survivors.map((i) => singleEndpointClient(c.endpoint(i), 300));
  try {
    while (Date.now() - sinceMs < boundMs) {
      const leaders = await Promise.all(clients.map((cl) => cl.maintenance.status().then((s) => BigInt(s.leader), () => 0n)));
      if (leaders.some((l) => l !== 0n && l !== oldLeader)) return Date.now() - sinceMs;
      await sleep(10);
    }
    throw new Error(`no new leader within ${boundMs} ms of the kill`);
  } finally {
    for (const cl of clients) cl.close();
  }
}

const flagsNote = `--election-timeout=${ELECTION_TIMEOUT_MS} --heartbeat-interval=${HEARTBEAT_MS}`;

/** Leader kills per run: the election time asserted is their median, because one election
 * on a shared, loaded machine can overrun by scheduling delay alone. */
const KILL_ROUNDS = 3;

test(`kill -9 of the leader under write load (${flagsNote}), ${KILL_ROUNDS} times: median time to a new leader within two election timeouts, every acknowledged write survives, restarted members catch up, HashKV equal`, { timeout: 150_000 }, async (t) => {
  const c = await Cluster.start({ command: target, size: 3, prefix: 'floe-cluster-kill-', electionTimeoutMs: ELECTION_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS });
  t.after(() => c.close());
  const writer = new Writer({ endpoints: c.running().map((i) => c.endpoint(i)), prefix: 'load/', maxPuts: 100_000, maxDurationMs: 90_000, concurrency: 8, putTimeoutMs: 1_500 });
  const electionsMs: number[] = [];
  const killedAtMs: number[] = [];
  try {
    for (let round = 0; round < KILL_ROUNDS; round++) {
      await sleep(1_000); // writes flow under this leader
      const leader = await c.leader();
      const oldLeaderId = (await c.status(leader))!.memberId;
      const survivors = c.running().filter((i) => i !== leader);
      killedAtMs.push(Date.now());
      await c.kill9(leader);
      electionsMs.push(await timeToNewLeader(c, survivors, oldLeaderId, killedAtMs[round]!, 10 * ELECTION_TIMEOUT_MS));
      await sleep(1_000); // writes go on under the new leader
      await c.restart(leader);
      await c.waitCaughtUp(leader);
    }
    await sleep(2_000); // writes with every member back
  } finally {
    await writer.stop();
  }
  const result = await writer.done;
  const lastElectionEndMs = killedAtMs[KILL_ROUNDS - 1]! + electionsMs[KILL_ROUNDS - 1]!;
  const ackedAfterLast = result.ackTimesMs.filter((ms) => ms > lastElectionEndMs).length;
  const median = [...electionsMs].sort((a, b) => a - b)[Math.floor(KILL_ROUNDS / 2)]!;
  t.diagnostic(`new leader ${electionsMs.join(', ')} ms after SIGKILL (median ${median}); ${result.acked.size} puts acknowledged (${ackedAfterLast} after the last election), ${result.failed} failed (last error: ${result.lastError ?? 'none'})`);
  assert.ok(median <= 2 * ELECTION_TIMEOUT_MS, `median time to a new leader ${median} ms (${electionsMs.join(', ')}), bound is two election timeouts (${2 * ELECTION_TIMEOUT_MS} ms)`);
  assert.ok(ackedAfterLast > 0, 'no write was acknowledged after the last election');

  const rev = await c.waitConverged();
  // Every member, the ones restarted included, holds every acknowledged write.
  await assertAckedEverywhere(c, c.running(), 'load/', result.acked);
  const hash = await assertSameHash(c, rev);
  t.diagnostic(`HashKV at revision ${rev} on all 3 members: ${hash}`);
});

test(`a partitioned member catches up through a snapshot after the heal (--snapshot-count=${SNAPSHOT_COUNT}): same revision, same HashKV`, { timeout: 150_000 }, async (t) => {
  const c = await Cluster.start({ command: target, size: 3, prefix: 'floe-cluster-partition-', proxies: true, snapshotCount: SNAPSHOT_COUNT, electionTimeoutMs: ELECTION_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS });
  t.after(() => c.close());
  const leader = await c.leader();
  const victim = c.running().find((i) => i !== leader)!;
  const majority = c.running().filter((i) => i !== victim);
  await c.ctlOk(['put', 'before', 'partition']);
  await c.waitConverged();
  const logBefore = c.log(victim).length;

  c.partition(victim);
  const partitionedAtMs = Date.now();
  // More entries than a leader keeps after its snapshot, so the victim needs one.
  const puts = ETCD_CATCH_UP_ENTRIES + 10 * SNAPSHOT_COUNT;
  const result = await new Writer({ endpoints: majority.map((i) => c.endpoint(i)), prefix: 'p/', maxPuts: puts, maxDurationMs: 90_000, concurrency: 32 }).done;
  t.diagnostic(`${result.acked.size} puts acknowledged in ${result.durationMs} ms while ${c.slot(victim).name} was cut off; ${result.failed} failed`);
  assert.equal(result.acked.size, puts, `the majority side did not take every write (${result.failed} failed, last: ${result.lastError ?? 'none'})`);
  const cut = await c.status(victim);
  const majorityRev = (await c.status(leader))!.revision;
  assert.ok(cut !== undefined, 'the partitioned member stopped answering on its client port');
  assert.ok(cut.revision < majorityRev, `the partition did not cut ${c.slot(victim).name} off (revision ${cut.revision}, majority ${majorityRev})`);
  const dropped = c.slots.reduce((n, s: Slot) => n + (s.proxy?.stats.dropped ?? 0), 0);
  assert.ok(dropped > 0, 'the proxies dropped no connection');

  c.heal();
  const healedAtMs = Date.now();
  // One more entry after the heal: etcd 3.4 reports a member's raftAppliedIndex as it was
  // before an applied snapshot until the member applies a later entry.
  await c.ctlOk(['put', 'after', 'heal'], { endpoints: c.endpoints(majority), timeoutMs: 30_000 });
  const rev = await c.waitConverged(c.running(), 60_000);
  t.diagnostic(`partitioned for ${healedAtMs - partitionedAtMs} ms (${dropped} connections dropped); caught up ${Date.now() - healedAtMs} ms after the heal, at revision ${rev}`);
  assert.ok(rev >= majorityRev);
  await assertAckedEverywhere(c, [victim], 'p/', result.acked);
  const hash = await assertSameHash(c, rev);
  t.diagnostic(`HashKV at revision ${rev} on all 3 members: ${hash}`);
  const after = c.log(victim).slice(logBefore);
  const snapshotApplied = /applying snapshot|finished applying incoming snapshot/.test(after);
  t.diagnostic(`the victim's log ${snapshotApplied ? 'shows' : 'does not show'} a snapshot being applied`);
  // etcd's log says so; Floe's wording is its own, so only etcd's is required.
  if (targetIsEtcd(target)) assert.ok(snapshotApplied, 'etcd caught up without applying a snapshot: write more entries');
});

test('member remove of a running member: it stops serving (etcd exits), the rest keep serving', { timeout: 90_000 }, async (t) => {
  const c = await Cluster.start({ command: target, size: 3, prefix: 'floe-cluster-remove-', electionTimeoutMs: ELECTION_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS });
  t.after(() => c.close());
  const leader = await c.leader();
  const victim = c.running().find((i) => i !== leader)!;
  const rest = c.running().filter((i) => i !== victim);
  const id = await c.memberId(victim);
  // etcd refuses a removal while the members left have not all been connected for 5 s
  // ("unhealthy cluster", its strict reconfiguration check), so a fresh cluster is retried.
  let out = '';
  for (const startMs = Date.now(); ; await sleep(500)) {
    const r = await c.ctl(['member', 'remove', id.toString(16)], { endpoints: c.endpoints(rest) });
    out = r.stdout.toString('utf8');
    if (r.exitCode === 0) break;
    if (!/unhealthy cluster/.test(r.stderr) || Date.now() - startMs > 15_000) assert.fail(`member remove failed: exit ${r.exitCode}: ${r.stderr}`);
  }
  // etcdctl prints both ids with `%16x` (space-padded).
  assert.match(out, new RegExp(`^Member +${id.toString(16)} removed from cluster +[0-9a-f]+\\n$`));
  const removedAtMs = Date.now();

  // "Stops serving": the process exits, or a linearizable read on it fails.
  let how = '';
  while (how === '' && Date.now() - removedAtMs < 15_000) {
    if (!c.isRunning(victim)) {
      how = `exited (code ${c.slot(victim).child?.exitCode}, signal ${c.slot(victim).child?.signalCode})`;
      break;
    }
    const r = await c.ctl(['--command-timeout=2s', 'get', 'probe'], { endpoints: c.endpoint(victim), timeoutMs: 5_000 });
    if (r.exitCode !== 0 && c.isRunning(victim)) how = `still running, answers errors: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
    else await sleep(200);
  }
  t.diagnostic(`removed member ${how === '' ? 'kept serving' : how} ${Date.now() - removedAtMs} ms after the removal`);
  assert.notEqual(how, '', 'the removed member still serves linearizable reads 15 s after its removal');
  // etcd exits about a second after applying its removal; give the process a bounded time.
  for (const end = Date.now() + 10_000; c.isRunning(victim) && Date.now() < end; ) await sleep(100);
  assert.ok(!c.isRunning(victim), 'a removed member exits, as etcd does');

  const members = await c.memberList(c.endpoints(rest));
  assert.deepEqual(members.map((m) => m.name).sort(), rest.map((i) => c.slot(i).name).sort());
  for (const i of rest) {
    await c.ctlOk(['put', `after-remove-${i}`, 'ok'], { endpoints: c.endpoint(i) });
    assert.equal(await c.ctlOk(['get', `after-remove-${i}`, '--print-value-only'], { endpoints: c.endpoint(i) }), 'ok\n');
  }
  const rev = await c.waitConverged(rest);
  await assertSameHash(c, rev, rest);
});

test(`a member that crashes while installing a snapshot recovers the saved backend on restart (Floe failpoint server.beforeApplySnapshot)`, { timeout: 150_000, skip: targetIsEtcd(target) ? 'a Floe failpoint' : false }, async (t) => {
  const c = await Cluster.start({ command: target, size: 3, prefix: 'floe-cluster-snapcrash-', snapshotCount: SNAPSHOT_COUNT, electionTimeoutMs: ELECTION_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS });
  t.after(() => c.close());
  const leader = await c.leader();
  const victim = c.running().find((i) => i !== leader)!;
  const majority = c.running().filter((i) => i !== victim);
  await c.stop(victim);
  const puts = ETCD_CATCH_UP_ENTRIES + 10 * SNAPSHOT_COUNT;
  const result = await new Writer({ endpoints: majority.map((i) => c.endpoint(i)), prefix: 's/', maxPuts: puts, maxDurationMs: 90_000, concurrency: 32 }).done;
  assert.equal(result.acked.size, puts, `the majority side did not take every write (${result.failed} failed)`);
  const logBefore = c.log(victim).length;
  // It receives the leader's backend, then dies between saving it and swapping it in.
  const exited = c.startWithEnv(victim, { FLOE_FAILPOINTS: 'server.beforeApplySnapshot=panic' });
  const died = await Promise.race([exited.then(() => true), sleep(60_000).then(() => false)]);
  assert.ok(died, 'the member did not reach the snapshot-install failpoint');
  await c.restart(victim);
  const rev = await c.waitConverged(c.running(), 60_000);
  assert.match(c.log(victim).slice(logBefore), /recovering backend from snapshot/);
  await assertAckedEverywhere(c, [victim], 's/', result.acked);
  const hash = await assertSameHash(c, rev);
  t.diagnostic(`recovered and caught up at revision ${rev}; HashKV ${hash} on all members`);
});
