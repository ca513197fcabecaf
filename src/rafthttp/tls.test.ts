/**
 * The peer transport over https:// (etcd's --peer-* TLS flags): raft streams, snapshots and
 * GET /members work with mutual TLS; a dialer without a client certificate or with the wrong
 * CA never gets through, and the listener logs etcd's "rejected connection" line; auto-TLS
 * style self-signed certificates work because dialers skip verification, as etcd's do.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { makeMessage, type Message } from '../raft';
import { isFloeError, scratchDir } from '../pkg';
import { EMPTY_TLS_INFO, makeTestPki, selfCert, type TestPki, type TlsInfo } from '../tls';
import { ERR_FETCH_MEMBERS, fetchMembers } from './fetch-members';
import { liveHandles, TestMember, waitFor } from './test-util';

let pki: TestPki;
let dir: string;
before(() => {
  dir = scratchDir('floe-peer-tls-');
  pki = makeTestPki(path.join(dir, 'pki'));
});

const mutual = (): TlsInfo => ({ ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile, trustedCaFile: pki.caFile, clientCertAuth: true });
const MEMBERS = '[{"id":1}]';

function app(from: bigint, to: bigint, index: number): Message {
  return makeMessage({ type: 'MsgApp', from, to, term: 2, index, commit: index - 1, entries: [{ term: 2, index: index + 1, type: 'EntryNormal', data: Buffer.from(`e${index}`) }] });
}

async function stopAll(...ms: TestMember[]): Promise<void> {
  for (const m of ms) await m.stop();
  await waitFor(() => liveHandles().length === 0, `no live handles (left: ${liveHandles().join(',')})`, 3000);
}

test('mutual TLS: messages both ways in order, a snapshot intact, /members for a holder of a certificate', async () => {
  const a = new TestMember(1n, { tls: mutual() }, MEMBERS);
  const b = new TestMember(2n, { tls: mutual() }, MEMBERS);
  await a.start();
  await b.start();
  assert.match(a.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  a.transport.addPeer(2n, [b.url]);
  b.transport.addPeer(1n, [a.url]);
  const ab = Array.from({ length: 200 }, (_, i) => app(1n, 2n, i + 1));
  const ba = Array.from({ length: 100 }, (_, i) => app(2n, 1n, i + 1));
  a.transport.send(ab);
  b.transport.send(ba);
  await waitFor(() => b.handler.received.length === ab.length && a.handler.received.length === ba.length, 'all messages');
  assert.deepEqual(b.handler.received.map((m) => m.index), ab.map((m) => m.index));
  assert.deepEqual(a.handler.received.map((m) => m.index), ba.map((m) => m.index));

  const body = Buffer.alloc(3 * 1024 * 1024, 7);
  body.write('snapshot over TLS');
  let got = '';
  b.handler.onSnapshot = async (_m, n, stream) => {
    const h = createHash('sha256');
    let size = 0;
    for await (const c of stream) {
      h.update(c);
      size += c.length;
    }
    assert.equal(size, n);
    got = h.digest('hex');
  };
  const snap = makeMessage({
    type: 'MsgSnap', from: 1n, to: 2n, term: 2,
    snapshot: { data: Buffer.from('meta'), metadata: { index: 9, term: 2, confState: { voters: [1n, 2n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } },
  });
  a.transport.sendSnapshot(snap, { sizeBytes: body.length, async *chunks() { yield body.subarray(0, 1000); yield body.subarray(1000); } });
  await waitFor(() => a.handler.snapshotReports.length === 1, 'snapshot report', 10_000);
  assert.deepEqual(a.handler.snapshotReports, [{ id: 2n, status: 'finish' }]);
  assert.equal(got, createHash('sha256').update(body).digest('hex'));

  assert.equal(await fetchMembers([a.url], 2000, mutual()), MEMBERS);
  await stopAll(a, b);
});

test('a dialer without a client certificate, or with the wrong CA, is refused; the listener says why', async () => {
  const a = new TestMember(1n, { tls: mutual() }, MEMBERS);
  await a.start();
  // No certificate of our own: the listener refuses it.
  await assert.rejects(fetchMembers([a.url], 2000, { ...EMPTY_TLS_INFO, trustedCaFile: pki.caFile }), (e: unknown) => isFloeError(e, ERR_FETCH_MEMBERS));
  await waitFor(() => a.hasLog(/^rejected connection from "127\.0\.0\.1:\d+" \(error "tls: client didn't provide a certificate", ServerName ""\)$/), 'rejection logged');
  // Plaintext to a TLS peer port.
  await assert.rejects(fetchMembers([a.url.replace('https:', 'http:')], 2000), (e: unknown) => isFloeError(e, ERR_FETCH_MEMBERS));
  await waitFor(() => a.hasLog(/first record does not look like a TLS handshake/), 'plaintext rejection logged');

  // A member that trusts another CA never brings its stream up and reports the peer unreachable.
  const strangerCa = makeTestPki(path.join(dir, 'other'));
  const c = new TestMember(3n, { tls: { ...mutual(), trustedCaFile: strangerCa.caFile, certFile: strangerCa.server.certFile, keyFile: strangerCa.server.keyFile } });
  c.transport.addPeer(1n, [a.url]);
  c.transport.send([app(3n, 1n, 1)]);
  await waitFor(() => c.handler.unreachable.includes(1n), 'unreachable reported');
  assert.equal(c.transport.activeSince(1n), null);
  assert.equal(a.handler.received.length, 0);
  await stopAll(a, c);
});

test('--peer-cert-allowed-cn: only a certificate with that CN gets in', async () => {
  const ok = new TestMember(1n, { tls: { ...mutual(), allowedCn: 'floe-server' } }, MEMBERS);
  const strict = new TestMember(2n, { tls: { ...mutual(), allowedCn: 'someone-else' } }, MEMBERS);
  await ok.start();
  await strict.start();
  assert.equal(await fetchMembers([ok.url], 2000, mutual()), MEMBERS);
  await assert.rejects(fetchMembers([strict.url], 2000, mutual()), (e: unknown) => isFloeError(e, ERR_FETCH_MEMBERS));
  await waitFor(() => strict.hasLog(/\(error "client certificate authentication failed", ServerName ""\)$/), 'CN refusal logged');
  await stopAll(ok, strict);
});

test('self-signed (--peer-auto-tls) certificates: dialers skip verification, as etcd\'s do', async () => {
  const auto = (name: string): TlsInfo => ({ ...selfCert(path.join(dir, name, 'fixtures', 'peer'), ['127.0.0.1:0'], { clientAuth: true }), insecureSkipVerify: true });
  const a = new TestMember(1n, { tls: auto('a') });
  const b = new TestMember(2n, { tls: auto('b') });
  await a.start();
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  b.transport.addPeer(1n, [a.url]);
  a.transport.send([app(1n, 2n, 1)]);
  b.transport.send([app(2n, 1n, 1)]);
  await waitFor(() => a.handler.received.length === 1 && b.handler.received.length === 1, 'messages');
  // Without skipping verification, a self-signed certificate is not trusted.
  await assert.rejects(fetchMembers([a.url], 2000, { ...EMPTY_TLS_INFO }), (e: unknown) => isFloeError(e, ERR_FETCH_MEMBERS) && /self[- ]signed|unable to verify/i.test(e.message));
  await stopAll(a, b);
});
