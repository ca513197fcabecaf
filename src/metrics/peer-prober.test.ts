import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Registry } from './registry';
import { createEtcdMetrics } from './etcd-families';
import { PeerProber } from './peer-prober';
import { PeerTraffic } from './peer-traffic';

const DELAY_MS = 30;

async function slowPeer(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    assert.equal(req.url, '/version');
    setTimeout(() => res.end('{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}'), DELAY_MS);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('the prober measures each peer\'s round trip and reports the smoothed value under To=<id>', async () => {
  const peer = await slowPeer();
  const r = new Registry();
  const m = createEtcdMetrics(r);
  let targets = new Map([['8e9e05c52164694d', peer.url]]);
  // Timers far away: the test drives the rounds.
  const prober = new PeerProber(m.network.peerRoundTripSeconds, () => targets, { probeIntervalMs: 60_000, reportIntervalMs: 60_000 });
  try {
    assert.doesNotMatch(r.expose(), /etcd_network_peer_round_trip_time_seconds/, 'no series before a report');
    prober.probeAll();
    prober.probeAll(); // at most one probe in flight per peer
    await until(() => prober.srttSeconds('8e9e05c52164694d') !== null, 'the probe was answered');
    assert.equal(peer.hits(), 1);
    const srtt = prober.srttSeconds('8e9e05c52164694d') as number;
    assert.ok(srtt >= DELAY_MS / 1000 && srtt < 5, `srtt ${srtt}`);
    prober.report();
    prober.report(); // nothing new answered: nothing more observed
    const text = r.expose();
    assert.match(text, /^etcd_network_peer_round_trip_time_seconds_count\{To="8e9e05c52164694d"\} 1$/m);
    assert.match(text, /^etcd_network_peer_round_trip_time_seconds_bucket\{To="8e9e05c52164694d",le="0.0256"\} 0$/m);
    // A peer that left is no longer probed.
    targets = new Map();
    prober.probeAll();
    assert.equal(prober.srttSeconds('8e9e05c52164694d'), null);
    assert.equal(peer.hits(), 1);
  } finally {
    prober.close();
    await peer.close();
  }
});

test('an unreachable peer is never reported', async () => {
  const r = new Registry();
  const m = createEtcdMetrics(r);
  const prober = new PeerProber(m.network.peerRoundTripSeconds, () => new Map([['1', 'http://127.0.0.1:1']]), { probeIntervalMs: 500, reportIntervalMs: 60_000 });
  try {
    prober.probeAll();
    await new Promise((res) => setTimeout(res, 100));
    prober.report();
    assert.equal(prober.srttSeconds('1'), null);
    assert.doesNotMatch(r.expose(), /round_trip/);
  } finally {
    prober.close();
  }
});

test('peer traffic is counted per peer id in hex, as etcd labels it', () => {
  const r = new Registry();
  const m = createEtcdMetrics(r);
  const t = new PeerTraffic(m.network);
  t.sent(0x8e9e05c52164694dn, 100);
  t.sent(0x8e9e05c52164694dn, 20);
  t.received(0xaan, 7);
  t.sendFailed(0xaan, 3);
  const text = r.expose();
  assert.match(text, /^etcd_network_peer_sent_bytes_total\{To="8e9e05c52164694d"\} 120$/m);
  assert.match(text, /^etcd_network_peer_received_bytes_total\{From="aa"\} 7$/m);
  assert.match(text, /^etcd_network_peer_sent_failures_total\{To="aa"\} 3$/m);
});
