/**
 * Loading TLS settings fails before anything listens, with a message naming the bad file:
 * missing files, files without PEM data, a key that is not the certificate's, a bad CA; and
 * the server options follow etcd's ServerConfig (client certificates demanded with
 * client-cert-auth or a trusted CA). verifyTlsClient / rejectedConnectionLine word refusals
 * as etcd does.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFloeError, scratchDir } from '../pkg';
import { goTlsError, rejectedConnectionLine } from './rejected';
import { makeTestPki, type TestPki } from './test-pki';
import {
  EMPTY_TLS_INFO,
  ERR_TLS_CONFIG,
  checkAllowedPeer,
  clientTlsOptions,
  loadTlsFiles,
  serverTlsOptions,
  TlsClientRejected,
  tlsInfoEmpty,
  tlsInfoString,
  type TlsInfo,
} from './tls-info';

let pki: TestPki;
let dir: string;
before(() => {
  dir = scratchDir('floe-tls-info-');
  pki = makeTestPki(dir, { clients: ['alice', 'bob'] });
});

const server = (): TlsInfo => ({ ...EMPTY_TLS_INFO, certFile: pki.server.certFile, keyFile: pki.server.keyFile });
const refused = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: Error) => isFloeError(e, ERR_TLS_CONFIG) && message.test(e.message), String(message));
};

test('a good certificate and key load; the CA is read when given', () => {
  const loaded = loadTlsFiles({ ...server(), trustedCaFile: pki.caFile });
  assert.equal(loaded.cert, pki.server.certPem);
  assert.equal(loaded.key, pki.server.keyPem);
  assert.equal(loaded.ca, pki.caPem);
  assert.equal(loadTlsFiles(server()).ca, undefined);
});

test('missing files are named with Go\'s wording', () => {
  refused(() => loadTlsFiles({ ...server(), certFile: path.join(dir, 'nope.pem') }), /^open .*nope\.pem: no such file or directory$/);
  refused(() => loadTlsFiles({ ...server(), keyFile: path.join(dir, 'nope-key.pem') }), /^open .*nope-key\.pem: no such file or directory$/);
  refused(() => loadTlsFiles({ ...server(), trustedCaFile: path.join(dir, 'no-ca.pem') }), /^open .*no-ca\.pem: no such file or directory$/);
  refused(() => loadTlsFiles({ ...server(), certFile: dir }), /is a directory/);
  refused(() => loadTlsFiles({ ...server(), keyFile: '' }), /^KeyFile and CertFile must both be present\[key: , cert: .*server\.pem\]$/);
});

test('a key that is not the certificate\'s is refused', () => {
  refused(() => loadTlsFiles({ ...server(), keyFile: pki.clients.alice!.keyFile }), /^tls: private key does not match public key/);
});

test('files without PEM data, or garbage inside PEM, are refused', () => {
  const junk = path.join(dir, 'junk.pem');
  fs.writeFileSync(junk, 'not a certificate\n');
  refused(() => loadTlsFiles({ ...server(), certFile: junk }), /^tls: failed to find any PEM data in certificate input/);
  refused(() => loadTlsFiles({ ...server(), keyFile: junk }), /^tls: failed to find any PEM data in key input/);
  refused(() => loadTlsFiles({ ...server(), trustedCaFile: junk }), /failed to find any PEM data in trusted CA file/);
  const broken = path.join(dir, 'broken.pem');
  fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  refused(() => loadTlsFiles({ ...server(), certFile: broken }), /^tls: failed to parse certificate/);
  refused(() => loadTlsFiles({ ...server(), trustedCaFile: broken }), /malformed certificate in trusted CA file/);
  // The key file holding a certificate: no private key PEM block.
  refused(() => loadTlsFiles({ ...server(), keyFile: pki.caFile }), /^tls: failed to find any PEM data in key input/);
});

test('allowed CN and allowed hostname exclude each other and are checked on the peer certificate', () => {
  refused(() => loadTlsFiles({ ...server(), allowedCn: 'a', allowedHostname: 'b' }), /AllowedCN and AllowedHostname are mutually exclusive/);
  const alice = new crypto.X509Certificate(pki.clients.alice!.certPem);
  const srv = new crypto.X509Certificate(pki.server.certPem);
  assert.equal(checkAllowedPeer({ ...EMPTY_TLS_INFO, allowedCn: 'alice' }, alice), null);
  assert.equal(checkAllowedPeer({ ...EMPTY_TLS_INFO, allowedCn: 'bob' }, alice), 'client certificate authentication failed');
  assert.equal(checkAllowedPeer({ ...EMPTY_TLS_INFO, allowedHostname: 'localhost' }, srv), null);
  assert.equal(checkAllowedPeer({ ...EMPTY_TLS_INFO, allowedHostname: '127.0.0.1' }, srv), null);
  assert.equal(checkAllowedPeer({ ...EMPTY_TLS_INFO, allowedHostname: 'example.com' }, srv), 'client certificate authentication failed');
  assert.equal(checkAllowedPeer(EMPTY_TLS_INFO, alice), null);
});

test('server options: client certificates requested with client-cert-auth or a trusted CA (etcd\'s ServerConfig)', () => {
  assert.equal(serverTlsOptions(server()).requestCert, false);
  assert.equal(serverTlsOptions({ ...server(), clientCertAuth: true }).requestCert, true);
  assert.equal(serverTlsOptions({ ...server(), trustedCaFile: pki.caFile }).requestCert, true);
  const o = serverTlsOptions(server());
  assert.deepEqual(o.ALPNProtocols, ['h2', 'http/1.1']);
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.deepEqual(serverTlsOptions(server(), ['http/1.1']).ALPNProtocols, ['http/1.1']);
});

test('client options: our certificate as client certificate; verification off only for self-signed or insecure', () => {
  const c = clientTlsOptions({ ...server(), trustedCaFile: pki.caFile });
  assert.equal(c.cert, pki.server.certPem);
  assert.equal(c.ca, pki.caPem);
  assert.equal(c.rejectUnauthorized, true);
  assert.equal(clientTlsOptions({ ...server(), selfCert: true }).rejectUnauthorized, false);
  assert.equal(clientTlsOptions({ ...EMPTY_TLS_INFO, insecureSkipVerify: true }).rejectUnauthorized, false);
  assert.deepEqual(clientTlsOptions({ ...EMPTY_TLS_INFO, trustedCaFile: pki.caFile }), { ca: pki.caPem, rejectUnauthorized: true });
});

test('etcd\'s TLSInfo text and emptiness', () => {
  assert.equal(tlsInfoEmpty(EMPTY_TLS_INFO), true);
  assert.equal(tlsInfoEmpty({ ...EMPTY_TLS_INFO, trustedCaFile: 'ca.pem' }), true);
  assert.equal(tlsInfoEmpty({ ...EMPTY_TLS_INFO, keyFile: 'k' }), false);
  assert.equal(
    tlsInfoString({ ...EMPTY_TLS_INFO, certFile: 'c.pem', keyFile: 'k.pem', trustedCaFile: 'ca.pem', clientCertAuth: true }),
    'cert = c.pem, key = k.pem, trusted-ca = ca.pem, client-cert-auth = true, crl-file = ',
  );
});

test('refusals are worded as Go does and logged as etcd logs them', () => {
  const e = (code: string, message: string): Error & { code: string } => Object.assign(new Error(message), { code });
  assert.equal(goTlsError(e('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number')), 'tls: first record does not look like a TLS handshake');
  assert.equal(goTlsError(e('ERR_SSL_HTTP_REQUEST', 'http request')), 'tls: first record does not look like a TLS handshake');
  assert.equal(goTlsError(e('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'x')), "tls: client didn't provide a certificate");
  assert.equal(goTlsError(e('ECONNRESET', 'socket hang up')), 'EOF');
  assert.equal(goTlsError(e('ERR_SSL_NO_SHARED_CIPHER', 'no shared cipher')), 'no shared cipher');
  assert.equal(goTlsError(new TlsClientRejected('tls: exact words', 'X')), 'tls: exact words');
  assert.equal(
    rejectedConnectionLine({ remoteAddress: '127.0.0.1', remotePort: 5000, servername: false }, new TlsClientRejected("tls: client didn't provide a certificate", 'NO_CERTIFICATE')),
    'rejected connection from "127.0.0.1:5000" (error "tls: client didn\'t provide a certificate", ServerName "")',
  );
  assert.equal(
    rejectedConnectionLine({ remoteAddress: '::1', remotePort: 7, servername: 'db' }, e('ECONNRESET', 'socket hang up')),
    'rejected connection from "[::1]:7" (error "EOF", ServerName "db")',
  );
  // A client that hung up before its address could be read.
  assert.equal(rejectedConnectionLine({}, e('ECONNRESET', 'socket hang up')), 'rejected connection from "unknown" (error "EOF", ServerName "")');
});
