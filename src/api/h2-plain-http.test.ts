/**
 * Plain HTTP over HTTP/2 on the gRPC server's listener (h2-plain-http.ts): over TLS with ALPN
 * h2 (what curl negotiates) and in plaintext with prior knowledge, a request that is not gRPC
 * reaches the HTTP handler, while gRPC calls on the same listener still work. Before a handler
 * is set, such a request gets grpc-js's 415. Member: the TEST DOUBLE.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { Etcd3 } from 'etcd3';
import { scratchDir } from '../pkg';
import { EMPTY_TLS_INFO, makeTestPki, serverTlsOptions, verifyTlsClient, type TestPki, type TlsInfo } from '../tls';
import { EtcdGrpcServer } from './grpc-server';
import { MemberDouble } from './test-double';

let pki: TestPki;
let server: EtcdGrpcServer;
let tlsPort: number;
let plainPort: number;
const seen: string[] = [];

before(async () => {
  pki = makeTestPki(scratchDir('floe-h2-plain-'), { clients: [] });
  const info: TlsInfo = { ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile };
  server = new EtcdGrpcServer(new MemberDouble());
  tlsPort = await server.listen('127.0.0.1', 0, { options: serverTlsOptions(info), verify: (s) => verifyTlsClient(info, s), onReject: () => undefined });
  plainPort = await server.listen('127.0.0.1', 0);
});
after(() => server.forceClose());

/** One HTTP/2 request; resolves with status, a header and the body. */
function h2Request(url: string, path: string, body: string | null): Promise<{ status: number; contentType: string; body: string }> {
  const session = http2.connect(url, { ca: pki.caPem });
  return new Promise((resolve, reject) => {
    session.on('error', reject);
    const req = session.request({ ':method': body === null ? 'GET' : 'POST', ':path': path, 'content-type': 'application/json' });
    let status = 0;
    let contentType = '';
    let out = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
      contentType = String(h['content-type'] ?? '');
    });
    req.on('data', (d: Buffer) => (out += d.toString()));
    req.on('end', () => {
      session.close();
      resolve({ status, contentType, body: out });
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

test('before a handler is set, a non-gRPC HTTP/2 request gets grpc-js 415 (what this fixes)', async () => {
  const r = await h2Request(`http://127.0.0.1:${plainPort}`, '/health', null);
  assert.equal(r.status, 415);
});

test('with a handler: non-gRPC HTTP/2 requests over TLS (h2) and plaintext reach it with method, path and body', async () => {
  server.serveHttp2Requests((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ echo: body }));
    });
  });
  const overTls = await h2Request(`https://127.0.0.1:${tlsPort}`, '/v3/kv/range', '{"key":"Zm9v"}');
  assert.deepEqual(overTls, { status: 200, contentType: 'application/json', body: '{"echo":"{\\"key\\":\\"Zm9v\\"}"}' });
  const plain = await h2Request(`http://127.0.0.1:${plainPort}`, '/health', null);
  assert.equal(plain.status, 200);
  assert.deepEqual(seen, ['POST /v3/kv/range {"key":"Zm9v"}', 'GET /health ']);
});

test('gRPC calls on the same listeners still go to the gRPC services', async () => {
  const c = new Etcd3({ hosts: `https://127.0.0.1:${tlsPort}`, credentials: { rootCertificate: Buffer.from(pki.caPem) } });
  try {
    await c.put('k').value('v');
    assert.equal(await c.get('k').string(), 'v');
  } finally {
    c.close();
  }
  const before = seen.length;
  const p = new Etcd3({ hosts: `http://127.0.0.1:${plainPort}` });
  try {
    assert.equal(await p.get('k').string(), 'v');
  } finally {
    p.close();
  }
  assert.equal(seen.length, before, 'no gRPC call reached the HTTP handler');
});
