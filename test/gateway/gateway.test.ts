/**
 * The JSON gateway against the real thing (issue 5, "Gateway"; "What it must show" 4 for
 * oversize bodies and invalid base64): the same HTTP/1.1 requests, in the same order, go to a
 * fresh etcd 3.4 and a fresh target server (FLOE_COMPAT_TARGET, default this repository's
 * bin/floe), both with --max-request-bytes=2000, and every normalized answer (status, the
 * gateway's headers and trailers, body; see http-steps.ts) must be equal. The steps include
 * bad input (invalid JSON, invalid base64, wrong types, unknown enum names, oversize bodies,
 * wrong method and paths); the reads after them show that they changed nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { etcdCommand, startServer, targetFromEnv, type RunningServer, type ServerCommand } from '../compat/server';
import { runStep, type HttpResult, type HttpStep } from './http-steps';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const json = (v: unknown): string => JSON.stringify(v);
const FOO = b64('foo');
/** A value whose request is over --max-request-bytes (2000) but under the gRPC limit. */
const OVER_LIMIT = json({ key: FOO, value: Buffer.alloc(3000).toString('base64') });
/** A value whose request is over the gRPC receive limit (2000 + 512 KiB). */
const OVER_GRPC_LIMIT = json({ key: FOO, value: Buffer.alloc(600_000).toString('base64') });

const put = (key: string, value: string): HttpStep => ({ path: '/v3/kv/put', body: json({ key: b64(key), value: b64(value) }) });

/** The steps, in order; each result is compared. */
const STEPS: readonly HttpStep[] = [
  put('foo', 'bar'),
  { path: '/v3/kv/put', body: json({ key: FOO, value: b64('baz'), prev_kv: true }) },
  { path: '/v3/kv/range', body: json({ key: FOO }) },
  { path: '/v3/kv/range', body: json({ key: b64('none') }) },
  { path: '/v3/kv/range', body: '{"key":"' + FOO + '","keysOnly":true,"bogus":1}' },
  { path: '/v3beta/kv/range', body: json({ key: FOO, count_only: true }) },
  // Bad input: each must be refused with etcd's text and change nothing.
  { path: '/v3/kv/put', body: '{"key":"Zm9v!","value":"YQ=="}' },
  { path: '/v3/kv/put', body: '{"key":"Zm9","value":"YQ=="}' },
  { path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YQ==",}' },
  { path: '/v3/kv/put', body: '{bad json' },
  { path: '/v3/kv/put', body: '{"key":"Zm9v","value":"YQ=="' },
  { path: '/v3/kv/put', body: '[1]' },
  { path: '/v3/kv/put', body: '{"key":1}' },
  { path: '/v3/kv/put', body: '{"key":"Zm9v","lease":"abc"}' },
  { path: '/v3/kv/put', body: '{"key":"Zm9v","lease":1.5}' },
  { path: '/v3/kv/put', body: '{"key":"Zm9v","prev_kv":"true"}' },
  { path: '/v3/kv/range', body: '{"key":"Zm9v","sort_order":"NOPE"}' },
  { path: '/v3/kv/put', body: OVER_LIMIT },
  { path: '/v3/kv/put', body: OVER_GRPC_LIMIT },
  { path: '/v3/kv/put', body: '' },
  { path: '/v3/kv/put', body: 'null' },
  { path: '/v3/kv/range', body: json({ key: FOO }), method: 'GET' },
  { path: '/v3/kv/range', body: json({ key: FOO }), method: 'PUT' },
  { path: '/v3alpha/kv/range', body: json({ key: FOO }) },
  { path: '/v3/kv/nothing', body: '{}' },
  { path: '/nothing', body: '{}' },
  { path: '/v3/kv/range', method: 'OPTIONS' },
  { path: '/v3/kv/range', body: json({ key: FOO, revision: 100 }) },
  // Nothing above changed the store: same value, same revision.
  { path: '/v3/kv/range', body: json({ key: FOO }) },
  // Transactions, deletes, compaction.
  {
    path: '/v3/kv/txn',
    body: json({
      compare: [{ key: FOO, result: 'EQUAL', target: 'VERSION', version: '2' }],
      success: [{ request_put: { key: FOO, value: b64('x') } }, { request_range: { key: FOO } }],
      failure: [{ request_range: { key: FOO } }],
    }),
  },
  { path: '/v3/kv/txn', body: json({ compare: [{ key: FOO, target: 'VALUE', value: b64('nope') }], success: [{ requestDeleteRange: { key: FOO } }] }) },
  put('a', '1'),
  put('b', '2'),
  { path: '/v3/kv/range', body: json({ key: b64('a'), range_end: b64('c'), sort_order: 'DESCEND', limit: 1 }) },
  { path: '/v3/kv/deleterange', body: json({ key: b64('a'), range_end: b64('c'), prev_kv: true }) },
  { path: '/v3/kv/compaction', body: json({ revision: '3' }) },
  { path: '/v3/kv/compaction', body: json({ revision: '2' }) },
  { path: '/v3/kv/range', body: json({ key: FOO, revision: '2' }) },
  // Leases (explicit IDs: granted IDs are random).
  { path: '/v3/lease/grant', body: json({ TTL: 60, ID: '7' }) },
  { path: '/v3/lease/grant', body: json({ TTL: 60, ID: '7' }) },
  { path: '/v3/kv/put', body: json({ key: b64('leased'), value: b64('v'), lease: '7' }) },
  { path: '/v3/lease/timetolive', body: json({ ID: '7', keys: true }) },
  { path: '/v3/kv/lease/leases', body: '{}' },
  { path: '/v3/lease/keepalive', body: json({ ID: '7' }), streamMs: 1500 },
  { path: '/v3/lease/revoke', body: json({ ID: '7' }) },
  { path: '/v3/kv/lease/revoke', body: json({ ID: '7' }) },
  { path: '/v3/lease/timetolive', body: json({ ID: '7' }) },
  // Watch: a stream of results while other requests write.
  {
    path: '/v3/watch',
    body: json({ create_request: { key: b64('w'), prev_kv: true } }) + json({ create_request: { key: b64('v') } }),
    streamMs: 2000,
    during: [put('w', '1'), put('w', '2'), { path: '/v3/kv/deleterange', body: json({ key: b64('w') }) }, put('v', '3')],
  },
  { path: '/v3/watch', body: json({ create_request: { key: 'Zm9v!' } }), streamMs: 1500 },
  { path: '/v3/watch', body: '{bad', streamMs: 1500 },
  { path: '/v3/watch', body: json({ create_request: { key: FOO, start_revision: '2' } }), streamMs: 1500 },
  // Cluster, maintenance, auth.
  { path: '/v3/cluster/member/list', body: '{}' },
  { path: '/v3/maintenance/status', body: '{}' },
  { path: '/v3/maintenance/alarm', body: json({ action: 'GET' }) },
  { path: '/v3/maintenance/hash', body: '{}' },
  { path: '/v3/auth/user/list', body: '{}' },
  { path: '/v3/auth/role/list', body: '{}' },
  { path: '/v3/auth/enable', body: '{}' },
  { path: '/v3/kv/range', body: json({ key: FOO }), headers: { Authorization: 'not-a-token' } },
];

async function runAll(command: ServerCommand, dir: string, label: string): Promise<{ results: HttpResult[]; server: RunningServer }> {
  const server = await startServer(command, {
    name: 'gw',
    dataDir: path.join(dir, `${label}-data`),
    logFile: path.join(dir, `${label}.log`),
    extraFlags: ['--max-request-bytes=2000'],
  });
  const results: HttpResult[] = [];
  try {
    for (const step of STEPS) {
      // A connection the server drops is an answer too (and must match).
      results.push(await runStep(server.clientPort, step).catch((e: Error) => ({ status: -1, headers: {}, trailers: {}, body: e.message })));
    }
  } finally {
    await server.stop();
  }
  return { results, server };
}

test('the JSON gateway answers every step as etcd 3.4 does', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-gateway-'));
  const target = targetFromEnv();
  const [ref, got] = await Promise.all([runAll(etcdCommand(), dir, 'etcd'), runAll(target, dir, 'target')]);
  const diffs: string[] = [];
  STEPS.forEach((step, i) => {
    try {
      assert.deepEqual(got.results[i], ref.results[i]);
    } catch {
      diffs.push(`step ${i} ${step.method ?? 'POST'} ${step.path} ${String(step.body ?? '').slice(0, 80)}\n  etcd:   ${JSON.stringify(ref.results[i])}\n  target: ${JSON.stringify(got.results[i])}`);
    }
  });
  assert.equal(diffs.length, 0, `${diffs.length} of ${STEPS.length} steps differ (${target.label} vs etcd):\n${diffs.join('\n')}`);
  fs.rmSync(dir, { recursive: true, force: true });
});
