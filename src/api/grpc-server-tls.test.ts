/**
 * The gRPC server on a TLS listener, seen by real clients: the npm etcd3 client (grpc-js with
 * SSL credentials) and etcdctl 3.4 with --cacert/--cert/--key work over TLS with ALPN h2; a
 * plaintext client, a client without a certificate and an untrusted one are refused (and
 * logged) while the listener keeps serving. Member: the TEST DOUBLE.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { scratchDir } from '../pkg';
import { EMPTY_TLS_INFO, makeTestPki, rejectedConnectionLine, serverTlsOptions, verifyTlsClient, type TestPki, type TlsInfo } from '../tls';
import { EtcdGrpcServer } from './grpc-server';
import { etcdctl, etcdctlError } from './test-harness';
import { MemberDouble } from './test-double';

let pki: TestPki;
let server: EtcdGrpcServer;
let port: number;
const rejected: string[] = [];

before(async () => {
  pki = makeTestPki(scratchDir('floe-grpc-tls-'), { clients: ['root'] });
  const info: TlsInfo = { ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile, trustedCaFile: pki.caFile, clientCertAuth: true };
  server = new EtcdGrpcServer(new MemberDouble());
  port = await server.listen('127.0.0.1', 0, {
    options: serverTlsOptions(info),
    verify: (s) => verifyTlsClient(info, s),
    onReject: (s, e) => rejected.push(rejectedConnectionLine(s, e)),
  });
});
after(() => server.forceClose());

const tlsClient = (files: { certPem: string; keyPem: string }): Etcd3 =>
  new Etcd3({
    hosts: `https://127.0.0.1:${port}`,
    credentials: { rootCertificate: Buffer.from(pki.caPem), privateKey: Buffer.from(files.keyPem), certChain: Buffer.from(files.certPem) },
  });

test('npm etcd3 over TLS with a client certificate: put, get, delete', async () => {
  const c = tlsClient(pki.clients.root!);
  try {
    await c.put('k').value('v');
    assert.equal(await c.get('k').string(), 'v');
    assert.equal((await c.delete().key('k')).deleted, '1');
  } finally {
    c.close();
  }
});

test('npm etcd3 in plaintext, without a certificate, or with an untrusted one fails; the server logs why', async () => {
  const clients: [string, Etcd3, RegExp][] = [
    ['plaintext', new Etcd3({ hosts: `http://127.0.0.1:${port}` }), /first record does not look like a TLS handshake/],
    ['no certificate', new Etcd3({ hosts: `https://127.0.0.1:${port}`, credentials: { rootCertificate: Buffer.from(pki.caPem) } }), /client didn't provide a certificate/],
    ['untrusted', tlsClient(pki.untrustedClient), /certificate signed by unknown authority/],
    ['expired', tlsClient(pki.expiredClient), /certificate has expired or is not yet valid/],
  ];
  for (const [name, c, why] of clients) {
    const seen = rejected.length;
    try {
      await assert.rejects(c.get('k').options({ deadline: new Date(Date.now() + 1500) }).string(), name);
    } finally {
      c.close();
    }
    assert.ok(rejected.slice(seen).some((l) => why.test(l)), `${name}: ${JSON.stringify(rejected.slice(seen))}`);
  }
  const ok = tlsClient(pki.clients.root!);
  try {
    await ok.put('after').value('refusals');
    assert.equal(await ok.get('after').string(), 'refusals');
  } finally {
    ok.close();
  }
});

test('etcdctl 3.4 over TLS, with https:// and with bare endpoints', async () => {
  const certs = [`--cacert=${pki.caFile}`, `--cert=${pki.clients.root!.certFile}`, `--key=${pki.clients.root!.keyFile}`];
  for (const endpoint of [`https://127.0.0.1:${port}`, `127.0.0.1:${port}`]) {
    const put = await etcdctl(endpoint, [...certs, 'put', 'e', endpoint]);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(endpoint, [...certs, 'get', 'e', '--print-value-only']);
    assert.equal(get.stdout, `${endpoint}\n`, get.stderr);
  }
  const bad = await etcdctl(`https://127.0.0.1:${port}`, [`--cacert=${pki.caFile}`, '--dial-timeout=1s', '--command-timeout=2s', 'get', 'e']);
  assert.notEqual(bad.code, 0);
  assert.match(etcdctlError(bad) ?? '', /context deadline exceeded/);
});
