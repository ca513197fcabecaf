/**
 * Peer metrics on a real cluster: three etcd 3.4 members and three Floe members (bin/floe
 * processes), the same few writes on each, then /metrics scraped from every member's client
 * port. Floe must show the peer families etcd shows (bytes sent and received per peer, active
 * peers) with one series per other member, and the cluster-wide leader view etcd gives: every
 * member has a leader, exactly one is it.
 *
 * Round-trip time is not compared here: etcd observes it every 30 s (its
 * statusMonitoringInterval), longer than a test should wait; src/metrics/peer-prober.test.ts
 * checks Floe's prober.
 *
 * FLOE_CLUSTER_TARGET overrides the Floe command (test/cluster/cluster.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, clusterTargetFromEnv } from '../cluster/cluster';
import { etcdCommand } from '../compat/server';
import { httpGet, parseExposition, type Scrape } from './scrape';

const SIZE = 3;
const PEER_FAMILIES = ['etcd_network_peer_sent_bytes_total', 'etcd_network_peer_received_bytes_total', 'etcd_network_active_peers'];

async function scrapeAll(c: Cluster): Promise<Scrape[]> {
  return Promise.all(
    c.slots.map(async (s) => {
      const r = await httpGet(`http://127.0.0.1:${s.clientPort}/metrics`);
      assert.equal(r.status, 200, `member ${s.name}: /metrics`);
      return parseExposition(r.body);
    }),
  );
}

function series(s: Scrape, family: string): [string, number][] {
  return [...s.samples].filter(([k]) => k.startsWith(`${family}{`));
}

test('a 3-member Floe cluster shows etcd\'s peer families and leader view, as a 3-member etcd does', { timeout: 120_000 }, async () => {
  const clusters: Cluster[] = [];
  try {
    const [etcd, floe] = await Promise.all([
      Cluster.start({ command: etcdCommand(), size: SIZE, prefix: 'floe-metrics-etcd-' }),
      Cluster.start({ command: clusterTargetFromEnv(), size: SIZE, prefix: 'floe-metrics-floe-' }),
    ]);
    clusters.push(etcd, floe);
    for (const c of clusters) for (let i = 0; i < 5; i++) await c.ctlOk(['put', `k${i}`, 'v']);
    const [e, f] = await Promise.all([scrapeAll(etcd), scrapeAll(floe)]);
    for (const fam of PEER_FAMILIES) {
      assert.ok(e.every((s) => s.families.has(fam)), `etcd shows ${fam}`);
      console.log(`etcd ${fam}: ${e.map((s) => series(s, fam).length).join(' ')} series per member; Floe: ${f.map((s) => series(s, fam).length).join(' ')}`);
      for (const [i, s] of f.entries()) {
        assert.ok(s.families.has(fam), `Floe member ${i + 1} lacks ${fam}`);
        const got = series(s, fam);
        // The leader talks to every follower; a follower at least to the leader (followers
        // exchange messages only in elections), as on etcd.
        const leader = s.samples.get('etcd_server_is_leader') === 1;
        const want = fam === 'etcd_network_active_peers' || leader ? SIZE - 1 : 1;
        assert.ok(got.length >= want && got.length <= SIZE - 1, `Floe member ${i + 1}: ${fam}: ${JSON.stringify(got)}`);
        if (fam === 'etcd_network_active_peers') assert.ok(got.every(([, v]) => v === 1), `all peers active: ${JSON.stringify(got)}`);
        else assert.ok(got.every(([, v]) => v > 0), `bytes counted: ${JSON.stringify(got)}`);
      }
    }
    for (const [name, scrapes] of [['etcd', e], ['Floe', f]] as const) {
      assert.ok(scrapes.every((s) => s.samples.get('etcd_server_has_leader') === 1), `${name}: every member has a leader`);
      assert.equal(scrapes.filter((s) => s.samples.get('etcd_server_is_leader') === 1).length, 1, `${name}: exactly one leader`);
      assert.ok(scrapes.every((s) => (s.samples.get('etcd_server_leader_changes_seen_total') ?? 0) >= 1), `${name}: a leader change seen`);
    }
    // Every member applied the same writes.
    const puts = f.map((s) => s.samples.get('etcd_mvcc_put_total'));
    assert.deepEqual(puts, e.map((s) => s.samples.get('etcd_mvcc_put_total')), 'puts applied on every member');
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
  }
});
