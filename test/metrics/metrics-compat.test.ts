/**
 * Issue 5, "What it must show" 3: real etcd 3.4 and Floe (bin/floe) each run the same small
 * workload (puts, a range, a txn, a delete, a compaction, a watch, a lease with a keep-alive); then /metrics
 * is scraped from both (on their --listen-metrics-urls listener, which etcd also has) and the
 * etcd metric families Floe lacks are listed. The test requires that list to be empty for the
 * families the issue names, and prints the whole family diff for information.
 *
 * It also checks what must agree after the same workload: gRPC handled totals carry the same
 * method × code series for etcd's services, and the counts that depend only on the workload
 * (puts, live keys, leases granted, handled Put calls) are equal.
 *
 * FLOE_COMPAT_TARGET overrides the Floe command (see test/compat/server.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runEtcdctl, startEtcdctl } from '../compat/etcdctl';
import { etcdCommand, pickFreePorts, startServer, targetFromEnv, type RunningServer, type ServerCommand } from '../compat/server';
import { httpGet, parseExposition, type Scrape } from './scrape';

/**
 * The families the issue names: has_leader, leader changes, proposals, WAL fsync, backend
 * commit, db size and size in use, keys total, watchers, leases, gRPC handled by method and
 * code, peer round-trip time, and the process metrics. A family etcd itself does not show
 * after this workload (peer round-trip needs a peer) cannot be compared and is reported apart.
 */
export const REQUIRED_FAMILIES: readonly string[] = [
  'etcd_server_has_leader',
  'etcd_server_is_leader',
  'etcd_server_leader_changes_seen_total',
  'etcd_server_proposals_committed_total',
  'etcd_server_proposals_applied_total',
  'etcd_server_proposals_pending',
  'etcd_server_proposals_failed_total',
  'etcd_server_id',
  'etcd_server_version',
  'etcd_cluster_version',
  'etcd_server_health_success',
  'etcd_server_health_failures',
  'etcd_disk_wal_fsync_duration_seconds',
  'etcd_disk_backend_commit_duration_seconds',
  'etcd_disk_backend_snapshot_duration_seconds',
  'etcd_mvcc_db_total_size_in_bytes',
  'etcd_mvcc_db_total_size_in_use_in_bytes',
  'etcd_debugging_mvcc_keys_total',
  'etcd_debugging_mvcc_watcher_total',
  'etcd_mvcc_put_total',
  'etcd_mvcc_delete_total',
  'etcd_mvcc_range_total',
  'etcd_mvcc_txn_total',
  'etcd_debugging_lease_granted_total',
  'etcd_debugging_lease_revoked_total',
  'etcd_debugging_lease_renewed_total',
  'etcd_network_peer_round_trip_time_seconds',
  'etcd_network_peer_sent_bytes_total',
  'etcd_network_peer_received_bytes_total',
  'grpc_server_started_total',
  'grpc_server_handled_total',
  'grpc_server_msg_received_total',
  'grpc_server_msg_sent_total',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_start_time_seconds',
  'process_open_fds',
  'process_max_fds',
];

/** Families that describe the Go runtime or Prometheus' Go handler: nothing Floe could mirror. */
const GO_ONLY = /^(go_|promhttp_|etcd_server_go_version$)/;

const CASE_TIMEOUT_MS = 120_000;

interface Side {
  readonly server: RunningServer;
  readonly metricsPort: number;
}

async function start(command: ServerCommand, label: string, scratch: string): Promise<Side> {
  const [metricsPort] = await pickFreePorts(1);
  const dir = fs.mkdtempSync(path.join(scratch, `${label}-`));
  const server = await startServer(command, {
    name: `m-${label}`,
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, 'server.log'),
    extraFlags: [`--listen-metrics-urls=http://127.0.0.1:${metricsPort}`],
  });
  return { server, metricsPort: metricsPort as number };
}

async function ctl(side: Side, args: readonly string[], stdin?: string): Promise<string> {
  const r = await runEtcdctl(args, { endpoint: side.server.endpoint, ...(stdin === undefined ? {} : { stdin }) });
  assert.equal(r.exitCode, 0, `${side.server.command.label}: etcdctl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.toString('utf8');
}

/** The same workload on one side; the watch sees one event before it is stopped. */
async function workload(side: Side): Promise<void> {
  const watch = startEtcdctl(['watch', 'w'], { endpoint: side.server.endpoint, timeoutMs: 10_000, stopWhen: (out) => out.includes('w-value') });
  await ctl(side, ['put', 'a', '1']);
  await ctl(side, ['put', 'b', '2']);
  await ctl(side, ['get', 'a']);
  const grant = await ctl(side, ['lease', 'grant', '60']);
  const id = /lease ([0-9a-f]+) granted/.exec(grant)?.[1];
  assert.ok(id !== undefined, `no lease id in ${JSON.stringify(grant)}`);
  await ctl(side, ['put', 'c', '3', `--lease=${id}`]);
  await ctl(side, ['lease', 'keep-alive', '--once', id]);
  await ctl(side, ['txn'], 'value("a") = "1"\n\nput t x\nget a\n\nput t y\n\n');
  await ctl(side, ['del', 'b']);
  await ctl(side, ['put', 'a', '9']); // revision 7: a@2 and b's history lie below it
  await ctl(side, ['compact', '7', '--physical']);
  // The watch must be registered before the put it waits for: retry the put until it is seen.
  for (let i = 0; i < 20; i++) {
    await ctl(side, ['put', 'w', `w-value`]);
    const done = await Promise.race([watch.result.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 250))]);
    if (done) break;
  }
  const r = await watch.result;
  assert.ok(r.stdout.toString('utf8').includes('w-value'), `${side.server.command.label}: the watch saw no event`);
}

async function scrape(side: Side): Promise<Scrape> {
  const r = await httpGet(`http://127.0.0.1:${side.metricsPort}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

function seriesOf(s: Scrape, family: string, labelFilter: RegExp): string[] {
  return [...s.samples.keys()].filter((k) => k.startsWith(`${family}{`) && labelFilter.test(k)).sort();
}

test('Floe exposes the etcd metric families the issue names, after the same workload as etcd 3.4', { timeout: CASE_TIMEOUT_MS }, async () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-metrics-compat-'));
  const sides: Side[] = [];
  try {
    const [etcd, floe] = await Promise.all([start(etcdCommand(), 'etcd', scratch), start(targetFromEnv(), 'floe', scratch)]);
    sides.push(etcd, floe);
    await Promise.all([workload(etcd), workload(floe)]);
    const [e, f] = await Promise.all([scrape(etcd), scrape(floe)]);

    // The observability paths answer alike on the client port and on the metrics URL.
    for (const [where, etcdPort, floePort] of [
      ['client port', etcd.server.clientPort, floe.server.clientPort],
      ['metrics URL', etcd.metricsPort, floe.metricsPort],
    ] as const) {
      for (const p of ['/health', '/health?exclude=NOSPACE', '/version', '/metrics/x', '/nothing']) {
        const [a, b] = await Promise.all([httpGet(`http://127.0.0.1:${etcdPort}${p}`), httpGet(`http://127.0.0.1:${floePort}${p}`)]);
        assert.equal(b.status, a.status, `${where} ${p}: status`);
        if (a.status === 200) assert.equal(b.body, a.body, `${where} ${p}: body`);
        if (a.status === 200) assert.equal(b.contentType, a.contentType, `${where} ${p}: content type`);
      }
      const m = await httpGet(`http://127.0.0.1:${floePort}/metrics`);
      assert.equal(m.status, 200, `${where}: /metrics`);
      assert.match(m.body, /^etcd_server_has_leader 1$/m);
    }

    const etcdOnly = [...e.families.keys()].filter((n) => !f.families.has(n)).sort();
    const floeOnly = [...f.families.keys()].filter((n) => !e.families.has(n)).sort();
    const typeDiffers = [...e.families.keys()].filter((n) => f.families.has(n) && f.families.get(n) !== e.families.get(n)).sort();
    console.log(`etcd families: ${e.families.size}, Floe families: ${f.families.size}`);
    console.log(`etcd only (${etcdOnly.length}):\n  ${etcdOnly.join('\n  ')}`);
    console.log(`Floe only (${floeOnly.length}):\n  ${floeOnly.join('\n  ') || '(none)'}`);
    console.log(`differing type: ${typeDiffers.join(', ') || '(none)'}`);
    const notShownByEtcd = REQUIRED_FAMILIES.filter((n) => !e.families.has(n));
    console.log(`issue families etcd shows none of here (need peers or events): ${notShownByEtcd.join(', ') || '(none)'}`);

    const missing = REQUIRED_FAMILIES.filter((n) => e.families.has(n) && !f.families.has(n));
    assert.deepEqual(missing, [], `etcd families Floe lacks: ${missing.join(', ')}`);
    assert.deepEqual(typeDiffers, [], 'families with another type than etcd gives them');
    const nonGo = etcdOnly.filter((n) => !GO_ONLY.test(n));
    console.log(`etcd-only families other than Go runtime ones: ${nonGo.length}`);

    // gRPC: the same method x code series for etcd's own services (etcd also registers
    // grpc.health.v1.Health, which Floe does not serve).
    const etcdServices = /grpc_service="etcdserverpb\./;
    for (const fam of ['grpc_server_handled_total', 'grpc_server_started_total', 'grpc_server_msg_sent_total', 'grpc_server_msg_received_total']) {
      assert.deepEqual(seriesOf(f, fam, etcdServices), seriesOf(e, fam, etcdServices), `${fam}: series differ`);
    }
    // Counts that depend only on the workload (not on health probes or timing) must agree.
    const same = [
      'etcd_mvcc_put_total',
      'etcd_mvcc_delete_total',
      'etcd_mvcc_txn_total',
      'etcd_debugging_mvcc_keys_total',
      'etcd_debugging_lease_granted_total',
      'etcd_debugging_mvcc_total_put_size_in_bytes',
      'etcd_debugging_mvcc_db_compaction_keys_total',
      'etcd_debugging_mvcc_compact_revision',
      'etcd_server_has_leader',
      'etcd_server_is_leader',
      'etcd_server_leader_changes_seen_total',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"}',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="LeaseGrant",grpc_service="etcdserverpb.Lease",grpc_type="unary"}',
      'grpc_server_msg_received_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"}',
    ];
    for (const k of same) assert.equal(f.samples.get(k), e.samples.get(k), `${k}: Floe ${f.samples.get(k)}, etcd ${e.samples.get(k)}`);
    // The leases renewed, the watcher seen and the health probes: counted at all.
    assert.ok((f.samples.get('etcd_debugging_lease_renewed_total') ?? 0) >= 1, 'lease renewals are counted');
    assert.ok((f.samples.get('etcd_disk_wal_fsync_duration_seconds_count') ?? 0) >= 1, 'WAL fsyncs are observed');
    assert.ok((f.samples.get('etcd_disk_backend_commit_duration_seconds_count') ?? 0) >= 1, 'backend commits are observed');
  } finally {
    await Promise.all(sides.map((s) => s.server.stop()));
    if (process.env.FLOE_COMPAT_KEEP !== '1') fs.rmSync(scratch, { recursive: true, force: true });
  }
});
