import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../etcdpb';
import { Gateway, GRPC_OVERHEAD_BYTES } from './gateway';
import { clientHttpServer } from './client-http';

/**
 * The gateway over a small gRPC server of our own (not Floe's member): it records every call
 * that reaches it, so the tests can show what the gateway refuses never reaches the server.
 */
const MAX_REQUEST_BYTES = 100;
const calls: { method: string; request: unknown; metadata: grpc.Metadata }[] = [];
let cancelled = 0;
let grpcServer: grpc.Server;
let httpServer: http.Server;
let gateway: Gateway;
let port = 0;

before(async () => {
  grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES });
  const svc = etcdServices();
  const header = { cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 };
  grpcServer.addService(svc.kv, {
    Range: (c: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls.push({ method: 'Range', request: c.request, metadata: c.metadata });
      cb(null, { header, kvs: [{ key: Buffer.from('k'), value: Buffer.from('<v>'), create_revision: '9223372036854775807', version: 1 }], count: 1 });
    },
    Put: (c: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls.push({ method: 'Put', request: c.request, metadata: c.metadata });
      cb({ code: grpc.status.FAILED_PRECONDITION, details: 'etcdserver: some <failure>' });
    },
    DeleteRange: () => assert.fail('not called'),
    Txn: () => assert.fail('not called'),
    Compact: () => assert.fail('not called'),
  });
  grpcServer.addService(svc.watch, {
    Watch: (c: grpc.ServerDuplexStream<{ create_request: { key: Buffer } | null }, unknown>) => {
      calls.push({ method: 'Watch', request: null, metadata: c.metadata });
      c.on('cancelled', () => cancelled++);
      c.on('data', (req) => {
        const key = req.create_request?.key.toString() ?? '';
        if (key === 'fail') c.emit('error', { name: 'e', message: 'x', code: grpc.status.NOT_FOUND, details: 'no such thing' });
        else c.write({ header, watch_id: calls.length, created: true });
      });
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  gateway = new Gateway({ target: () => `127.0.0.1:${grpcPort}`, maxRequestBytes: MAX_REQUEST_BYTES });
  httpServer = clientHttpServer({
    gateway,
    observability: (req, res) => {
      if (req.url !== '/metrics') return false;
      res.end('metrics');
      return true;
    },
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  port = (httpServer.address() as AddressInfo).port;
});

after(() => {
  gateway.close();
  httpServer.closeAllConnections();
  httpServer.close();
  grpcServer.forceShutdown();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: string;
}

function request(path: string, body: string | Buffer = '', opts: { method?: string; headers?: Record<string, string>; readMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode!, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks).toString() });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      if (opts.readMs !== undefined) {
        setTimeout(() => {
          finish();
          req.destroy();
        }, opts.readMs);
      }
    });
    req.on('error', reject);
    req.end(body);
  });
}

const callCount = (): number => calls.length;

test('a unary call is answered 200 with the response as etcd writes it', async () => {
  const a = await request('/v3/kv/range', '{"key":"aw==","limit":"5","sortOrder":"DESCEND"}', { headers: { Authorization: 'tok', 'Grpc-Metadata-Token': 't2' } });
  assert.equal(a.status, 200);
  assert.equal(a.headers['content-type'], 'application/json');
  assert.equal(a.headers['grpc-metadata-content-type'], 'application/grpc');
  assert.equal(a.body, '{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"4"},"kvs":[{"key":"aw==","create_revision":"9223372036854775807","version":"1","value":"PHY+"}],"count":"1"}');
  const last = calls.at(-1)!;
  assert.deepEqual(last.metadata.get('authorization'), ['tok']);
  assert.deepEqual(last.metadata.get('token'), ['t2']);
  const req = last.request as { key: Buffer; limit: string; sort_order: number };
  assert.equal(req.key.toString(), 'k');
  assert.equal(req.limit, '5');
  assert.equal(req.sort_order, 2);
});

test('a gRPC failure is answered with its HTTP status, error body and content-type trailer', async () => {
  const a = await request('/v3/kv/put', '{"key":"aw=="}');
  assert.equal(a.status, 412);
  assert.equal(a.headers.trailer, 'Grpc-Trailer-Content-Type');
  assert.equal(a.trailers['grpc-trailer-content-type'], 'application/grpc');
  assert.equal(a.body, '{"error":"etcdserver: some \\u003cfailure\\u003e","message":"etcdserver: some \\u003cfailure\\u003e","code":9}');
});

test('bad input is refused with Go\'s text and never reaches the server', async () => {
  const before = callCount();
  const cases: [string, string][] = [
    ['{"key":"aw=!"}', 'illegal base64 data at input byte 2'],
    ['{"key":', 'unexpected EOF'],
    ['{"key":"aw==","limit":"x"}', "invalid character 'x' looking for beginning of value"],
    ['{"key":"aw==","limit":"-"}', "invalid character ' ' in numeric literal"],
    ['{"key":"aw==","serializable":1}', 'json: cannot unmarshal number into Go value of type bool'],
    ['"str"', 'json: cannot unmarshal string into Go value of type map[string]json.RawMessage'],
  ];
  for (const [body, text] of cases) {
    const a = await request('/v3/kv/range', body);
    assert.equal(a.status, 400, body);
    assert.equal(a.headers.trailer, undefined, body);
    assert.deepEqual(JSON.parse(a.body), { error: text, message: text, code: 3 }, body);
  }
  assert.equal(callCount(), before);
});

test('routes: /v3beta rewritten, /v3alpha and unknown paths 404, other methods 405, OPTIONS 200, observability first', async () => {
  assert.equal((await request('/v3beta/kv/range', '{"key":"aw=="}')).status, 200);
  const alpha = await request('/v3alpha/kv/range', '{}');
  assert.equal(alpha.status, 404);
  assert.equal(alpha.body, '404 page not found\n');
  const unknown = await request('/v3/kv/nothing', '{}');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body, 'Not Found\n');
  const get = await request('/v3/kv/range', '', { method: 'GET' });
  assert.equal(get.status, 405);
  assert.equal(get.body, 'Method Not Allowed\n');
  assert.equal(get.headers['x-content-type-options'], 'nosniff');
  const options = await request('/v3/kv/range', '', { method: 'OPTIONS' });
  assert.equal(options.status, 200);
  assert.equal(options.headers['access-control-allow-origin'], '*');
  assert.equal((await request('/metrics', '', { method: 'GET' })).body, 'metrics');
});

test('the server\'s receive limit: a message of exactly the limit is sent, one byte more is refused', async () => {
  const limit = MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES;
  // RangeRequest{key: "k", range_end: N bytes}: 3 bytes for the key, 1 + 3 (varint) + N.
  const body = (n: number): string => JSON.stringify({ key: 'aw==', range_end: Buffer.alloc(n).toString('base64') });
  const before = callCount();
  assert.equal((await request('/v3/kv/range', body(limit - 7))).status, 200);
  assert.equal(callCount(), before + 1);
  const over = await request('/v3/kv/range', body(limit - 6));
  assert.equal(over.status, 429);
  const text = `grpc: received message larger than max (${limit + 1} vs. ${limit})`;
  assert.deepEqual(JSON.parse(over.body), { error: text, message: text, code: 8 });
  assert.equal(callCount(), before + 1);
});

test('a body over the gateway\'s bound is refused unread, at one byte over and not at the bound', async () => {
  const bound = gateway.bodyLimitBytes;
  const padded = (size: number): string => '{"key":"aw=="}'.padEnd(size, ' ');
  assert.equal((await request('/v3/kv/range', padded(bound))).status, 200);
  const before = callCount();
  const over = await request('/v3/kv/range', padded(bound + 1));
  assert.equal(over.status, 429);
  assert.equal(JSON.parse(over.body).code, 8);
  assert.equal(callCount(), before);
});

test('a watch streams one result line per response; a bad later value only stops sending', async () => {
  const a = await request('/v3/watch', '{"create_request":{"key":"YQ=="}} {"create_request":{"key":"Yg=="}} {"bad', { readMs: 500 });
  assert.equal(a.status, 200);
  const lines = a.body.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 2);
  for (const l of lines) assert.match(l, /^\{"result":\{"header":\{"cluster_id":"1",.*"created":true\}\}$/);
});

test('a bad first watch value is answered 500 with code 2 and opens no stream', async () => {
  const before = callCount();
  const a = await request('/v3/watch', '{"create_request":{"key":"!"}}');
  assert.equal(a.status, 500);
  assert.deepEqual(JSON.parse(a.body), { error: 'illegal base64 data at input byte 0', message: 'illegal base64 data at input byte 0', code: 2 });
  assert.equal(callCount(), before);
});

test('a stream failing before any result is answered with its status and one error chunk', async () => {
  const a = await request('/v3/watch', `{"create_request":{"key":"${Buffer.from('fail').toString('base64')}"}}`, { readMs: 1000 });
  assert.equal(a.status, 404);
  assert.equal(a.body, '{"error":{"grpc_code":5,"http_code":404,"message":"no such thing","http_status":"Not Found"}}');
});

test('a client that hangs up cancels its watch on the server', async () => {
  const before = cancelled;
  await request('/v3/watch', '{"create_request":{"key":"YQ=="}}', { readMs: 300 });
  for (let i = 0; i < 50 && cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(cancelled, before + 1);
});
