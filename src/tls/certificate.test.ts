/**
 * Certificates built here are what Node's and OpenSSL's parsers read back: fields, SANs,
 * validity, extensions, a valid signature, and a CA-signed chain that `openssl verify` and a
 * real TLS handshake accept.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { isFloeError, scratchDir } from '../pkg';
import { ERR_CERT_BUILD, asIssuer, buildCertificate, createCertificate, generateEcKey } from './certificate';
import { makeTestPki } from './test-pki';

const DAY_MS = 86_400_000;
const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

test('a self-signed certificate parses, verifies with its own key, and carries what was asked', () => {
  const c = createCertificate({
    subject: { organization: 'etcd' },
    hosts: ['127.0.0.1', 'localhost', '::1', 'fe80::1:2', '::ffff:10.0.0.1'],
    notBefore: now,
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
    serial: 0x1234n,
  });
  const x = new crypto.X509Certificate(c.certPem);
  assert.equal(x.subject, 'O=etcd');
  assert.equal(x.issuer, 'O=etcd');
  assert.equal(x.serialNumber, '1234');
  assert.equal(new Date(x.validFrom).getTime(), now.getTime());
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + 365 * DAY_MS);
  assert.equal(x.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:A00:1');
  assert.ok(x.verify(c.publicKey), 'signature verifies with the subject key');
  assert.ok(x.checkPrivateKey(c.privateKey));
  assert.equal(x.ca, false);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkHost('localhost'), 'localhost');
  assert.equal(x.checkHost('example.com'), undefined);
  assert.match(c.keyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
});

test('openssl reads the certificate fields (x509 -text)', () => {
  const dir = scratchDir('floe-cert-');
  const c = createCertificate({ subject: { organization: 'etcd', commonName: 'node-1' }, hosts: ['10.1.2.3', 'db.example'], notBefore: now, notAfter: new Date(now.getTime() + DAY_MS), extKeyUsage: ['serverAuth', 'clientAuth'] });
  const file = path.join(dir, 'c.pem');
  fs.writeFileSync(file, c.certPem);
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
  for (const want of [
    'Version: 3 (0x2)',
    'Signature Algorithm: ecdsa-with-SHA256',
    'Subject: O = etcd, CN = node-1',
    'NIST CURVE: P-256',
    'X509v3 Key Usage: critical',
    'Digital Signature, Key Encipherment',
    'TLS Web Server Authentication, TLS Web Client Authentication',
    'CA:FALSE',
    'IP Address:10.1.2.3, DNS:db.example',
    'Not Before: Jan  2 03:04:05 2026 GMT',
    'Not After : Jan  3 03:04:05 2026 GMT',
  ]) assert.ok(text.includes(want), `missing ${JSON.stringify(want)} in:\n${text}`);
});

test('a CA-signed chain verifies in openssl and in a TLS handshake with client certificates', async () => {
  const dir = scratchDir('floe-pki-');
  const pki = makeTestPki(dir, { clients: ['alice'] });
  const out = execFileSync('openssl', ['verify', '-CAfile', pki.caFile, pki.server.certFile, pki.clients.alice!.certFile], { encoding: 'utf8' });
  assert.match(out, /server\.pem: OK/);
  assert.match(out, /client-alice\.pem: OK/);
  const ca = new crypto.X509Certificate(pki.caPem);
  assert.equal(ca.ca, true);
  assert.ok(new crypto.X509Certificate(pki.server.certPem).checkIssued(ca));
  // The untrusted client's chain does not verify against our CA.
  assert.throws(() => execFileSync('openssl', ['verify', '-CAfile', pki.caFile, pki.untrustedClient.certFile], { stdio: 'pipe' }));

  const server = tls.createServer({ cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(String(s.getPeerX509Certificate()?.subject));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const got = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca: pki.caPem, cert: pki.clients.alice!.certPem, key: pki.clients.alice!.keyPem }, () => undefined);
      let text = '';
      c.on('data', (d: Buffer) => (text += d.toString()));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    assert.equal(got, 'CN=alice');
  } finally {
    server.close();
  }
});

test('a certificate signed by an issuer names the issuer and verifies only with its key', () => {
  const caName = { commonName: 'ca' };
  const ca = createCertificate({ subject: caName, notBefore: now, notAfter: new Date(now.getTime() + DAY_MS), isCa: true });
  const leaf = createCertificate({ subject: { commonName: 'leaf' }, notBefore: now, notAfter: new Date(now.getTime() + DAY_MS) }, asIssuer(ca, caName));
  const x = new crypto.X509Certificate(leaf.certPem);
  assert.equal(x.issuer, 'CN=ca');
  assert.ok(x.verify(ca.publicKey));
  assert.ok(!x.verify(leaf.publicKey));
});

test('bad parameters are refused: validity order, serial range, non-EC keys', () => {
  const k = generateEcKey();
  const issuer = { name: { commonName: 'x' }, ...k };
  const spec = { subject: { commonName: 'x' }, notBefore: now, notAfter: new Date(now.getTime() + 1000) };
  assert.throws(() => buildCertificate({ ...spec, notAfter: now }, k.publicKey, issuer), (e) => isFloeError(e, ERR_CERT_BUILD));
  assert.throws(() => buildCertificate({ ...spec, serial: 0n }, k.publicKey, issuer), (e) => isFloeError(e, ERR_CERT_BUILD));
  assert.throws(() => buildCertificate({ ...spec, serial: 1n << 159n }, k.publicKey, issuer), (e) => isFloeError(e, ERR_CERT_BUILD));
  buildCertificate({ ...spec, serial: (1n << 159n) - 1n }, k.publicKey, issuer); // the largest serial fits
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.throws(() => buildCertificate(spec, rsa.publicKey, issuer), (e) => isFloeError(e, ERR_CERT_BUILD));
});
