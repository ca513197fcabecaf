/**
 * TLS on the client listener with real grpc-js clients: the verified certificate's CN reaches
 * the handler through clientCommonName on both ways into grpc-js (the TLS socket itself, and
 * the :authority fixer's Duplex); plaintext and CA-less listeners name nobody; refused
 * clients (plaintext, no certificate, untrusted, expired) are closed and reported in etcd's
 * words without disturbing the listener.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { scratchDir } from '../pkg';
import { EMPTY_TLS_INFO, makeTestPki, rejectedConnectionLine, serverTlsOptions, verifyTlsClient, type TestPki, type TlsInfo } from '../tls';
import { acceptH2Connection } from './h2-authority';
import { clientCommonName, linkConnection } from './tls-identity';
import { createClientListener } from './tls-listener';

const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const WHO: grpc.ServiceDefinition = {
  Name: { path: '/test.Who/Name', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};

interface Running {
  readonly port: number;
  readonly rejected: string[];
  close(): void;
}

let pki: TestPki;
before(() => {
  pki = makeTestPki(scratchDir('floe-tls-identity-'), { clients: ['alice'] });
});

async function start(info: TlsInfo): Promise<Running> {
  const server = new grpc.Server();
  server.addService(WHO, {
    Name: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { cn: clientCommonName(call) ?? null, direct: call.getAuthContext().sslPeerCertificate !== undefined }),
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const rejected: string[] = [];
  const listener: net.Server = createClientListener((s) => acceptH2Connection(s, (c) => injector.injectConnection(linkConnection(c, s))), {
    options: serverTlsOptions(info),
    verify: (s) => verifyTlsClient(info, s),
    onReject: (s, err) => rejected.push(rejectedConnectionLine(s, err)),
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  return {
    port: (listener.address() as net.AddressInfo).port,
    rejected,
    close() {
      listener.close();
      server.forceShutdown();
    },
  };
}

function ask(port: number, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}, deadlineMs = 3000): Promise<{ cn: string | null; direct: boolean }> {
  const Client = grpc.makeGenericClientConstructor(WHO, 'Who');
  const c = new Client(`127.0.0.1:${port}`, creds, options) as unknown as grpc.Client & { Name: (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: { cn: string | null; direct: boolean }) => void) => void };
  return new Promise<{ cn: string | null; direct: boolean }>((resolve, reject) => {
    c.Name({}, { deadline: Date.now() + deadlineMs }, (e, v) => (e ? reject(e) : resolve(v)));
  }).finally(() => c.close());
}

const mtls = (): TlsInfo => ({ ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile, trustedCaFile: pki.caFile, clientCertAuth: true });
const clientCreds = (files: { certPem: string; keyPem: string }): grpc.ChannelCredentials =>
  grpc.credentials.createSsl(Buffer.from(pki.caPem), Buffer.from(files.keyPem), Buffer.from(files.certPem));

let srv: Running;
before(async () => {
  srv = await start(mtls());
});
after(() => srv.close());

test('the verified client certificate CN is the caller (TLS socket handed to grpc-js as is)', async () => {
  assert.deepEqual(await ask(srv.port, clientCreds(pki.clients.alice!)), { cn: 'alice', direct: true });
});

test('the CN also reaches calls on connections rewritten by the :authority fixer', async () => {
  // A URL as :authority (what etcdctl sends for http(s):// endpoints) sends the connection
  // through the fixer's Duplex, where grpc-js knows no certificate.
  const creds = clientCreds(pki.clients.alice!);
  const r = await ask(srv.port, creds, { 'grpc.default_authority': `https://127.0.0.1:${srv.port}`, 'grpc.ssl_target_name_override': 'localhost' });
  assert.deepEqual(r, { cn: 'alice', direct: false }, 'grpc-js itself saw no certificate: the Duplex path was taken');
});

test('without client-cert-auth there is no CN, and TLS still serves', async () => {
  const plain = await start({ ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile });
  try {
    assert.deepEqual(await ask(plain.port, grpc.credentials.createSsl(Buffer.from(pki.caPem))), { cn: null, direct: false });
  } finally {
    plain.close();
  }
});

test('refused clients are closed and reported in etcd words; the listener keeps serving', async () => {
  const before = srv.rejected.length;
  const cases: [string, grpc.ChannelCredentials, RegExp][] = [
    ['plaintext', grpc.credentials.createInsecure(), /first record does not look like a TLS handshake/],
    ['no certificate', grpc.credentials.createSsl(Buffer.from(pki.caPem)), /client didn't provide a certificate/],
    ['untrusted', clientCreds(pki.untrustedClient), /certificate signed by unknown authority/],
    ['expired', clientCreds(pki.expiredClient), /certificate has expired or is not yet valid/],
  ];
  for (const [name, creds, want] of cases) {
    const seen = srv.rejected.length;
    await assert.rejects(ask(srv.port, creds, {}, 1500), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED, name);
    for (let i = 0; i < 50 && srv.rejected.length === seen; i++) await new Promise((r) => setTimeout(r, 20));
    const lines = srv.rejected.slice(seen);
    assert.ok(lines.some((l) => want.test(l)), `${name}: ${JSON.stringify(lines)}`);
    assert.match(lines[0]!, /^rejected connection from "127\.0\.0\.1:\d+" \(error "[^"]+", ServerName "[^"]*"\)$/);
  }
  assert.ok(srv.rejected.length > before);
  assert.deepEqual((await ask(srv.port, clientCreds(pki.clients.alice!))).cn, 'alice');
});
