import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Registry } from './registry';
import { createEtcdMetrics } from './etcd-families';
import { MetricsListener, excludedAlarms, observabilityHandler, type ObservabilityHandler } from './observability-http';
import { checkHealth, type HealthSource } from './health';

/** A member whose leader and alarms the test sets; its alarm GET can hang or fail. */
class FakeMember implements HealthSource {
  hasLeader = true;
  alarms: number[] = [];
  mode: 'ok' | 'hang' | 'fail' = 'ok';
  calls = 0;
  alarm(): Promise<{ alarms: { alarm: number }[] }> {
    this.calls++;
    if (this.mode === 'hang') return new Promise(() => undefined);
    if (this.mode === 'fail') return Promise.reject(new Error('etcdserver: request timed out'));
    return Promise.resolve({ alarms: this.alarms.map((alarm) => ({ alarm })) });
  }
}

function setup(opts: { cors: boolean; version: boolean }) {
  const registry = new Registry();
  const etcd = createEtcdMetrics(registry);
  const member = new FakeMember();
  let cluster: string | null = '3.4.0';
  const warnings: string[] = [];
  const handler = observabilityHandler(
    {
      registry,
      health: member,
      healthCounters: { success: etcd.server.healthSuccess, failures: etcd.server.healthFailures },
      versions: () => ({ server: '3.4.23', cluster }),
      warn: (m) => warnings.push(m),
    },
    opts,
  );
  return { registry, etcd, member, handler, warnings, setCluster: (v: string | null) => (cluster = v) };
}

async function serve(handler: ObservabilityHandler): Promise<{ url: string; close: () => Promise<void> }> {
  const l = new MetricsListener(handler);
  const port = await l.listen('127.0.0.1', 0);
  return { url: `http://127.0.0.1:${port}`, close: () => l.close() };
}

function request(url: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('/health: 200 {"health":"true"} with a leader and no alarm; 503 with etcd\'s body otherwise; counted', async () => {
  const s = setup({ cors: false, version: false });
  const srv = await serve(s.handler);
  try {
    let r = await request(`${srv.url}/health`);
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"health":"true"}');
    s.member.hasLeader = false;
    r = await request(`${srv.url}/health`);
    assert.equal(r.status, 503);
    assert.equal(r.body, '{"health":"false"}\n');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    s.member.hasLeader = true;
    s.member.alarms = [1];
    r = await request(`${srv.url}/health`);
    assert.equal(r.status, 503, 'an active NOSPACE alarm makes the member unhealthy');
    r = await request(`${srv.url}/health?exclude=NOSPACE`);
    assert.equal(r.status, 200, 'an excluded alarm does not');
    // 3.4 has no ?serializable: it is ignored, the alarm still counts.
    r = await request(`${srv.url}/health?serializable=true`);
    assert.equal(r.status, 503);
    assert.equal(s.etcd.server.healthSuccess.value, 2);
    assert.equal(s.etcd.server.healthFailures.value, 3);
    assert.equal(s.warnings.length, 3);
    r = await request(`${srv.url}/health`, 'POST');
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
    assert.equal(r.body, 'Method Not Allowed\n');
  } finally {
    await srv.close();
  }
});

test('/health fails when the request through raft fails or outlives its bound, and never throws', async () => {
  const m = new FakeMember();
  m.mode = 'fail';
  assert.match((await checkHealth(m, new Set()))?.reason ?? '', /failed/);
  m.mode = 'hang';
  const t0 = Date.now();
  assert.match((await checkHealth(m, new Set(), 50))?.reason ?? '', /timed out after 50ms/);
  assert.ok(Date.now() - t0 < 1000);
  m.hasLeader = false;
  const calls = m.calls;
  assert.equal((await checkHealth(m, new Set()))?.reason, 'no leader');
  assert.equal(m.calls, calls, 'no request through raft without a leader');
});

test('/metrics serves the text format; a metrics URL answers 404 for /version and other paths', async () => {
  const s = setup({ cors: false, version: false });
  s.etcd.mvcc.putTotal.inc(7);
  const srv = await serve(s.handler);
  try {
    const r = await request(`${srv.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.body, /^etcd_mvcc_put_total 7$/m);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    for (const p of ['/version', '/metrics/x', '/healthz', '/']) {
      const n = await request(`${srv.url}${p}`);
      assert.equal(n.status, 404, p);
      assert.equal(n.body, '404 page not found\n');
    }
  } finally {
    await srv.close();
  }
});

test('client port: /version as etcd prints it (not_decided before a cluster version), CORS headers', async () => {
  const s = setup({ cors: true, version: true });
  const srv = await serve(s.handler);
  try {
    let r = await request(`${srv.url}/version`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-methods'], 'POST, GET, OPTIONS, PUT, DELETE');
    s.setCluster(null);
    r = await request(`${srv.url}/version`);
    assert.equal(r.body, '{"etcdserver":"3.4.23","etcdcluster":"not_decided"}');
    r = await request(`${srv.url}/version`, 'PUT');
    assert.equal(r.status, 405);
  } finally {
    await srv.close();
  }
});

test('the handler declines paths that are not its own, so the caller can route them', () => {
  const s = setup({ cors: true, version: true });
  const req = { url: '/v3/kv/range', method: 'POST', headers: {} } as http.IncomingMessage;
  assert.equal(s.handler(req, {} as http.ServerResponse), false);
});

test('exclude parameters are read as etcd reads them (repeatable)', () => {
  assert.deepEqual([...excludedAlarms('exclude=NOSPACE&exclude=CORRUPT&x=1')], ['NOSPACE', 'CORRUPT']);
  assert.deepEqual([...excludedAlarms('')], []);
});
