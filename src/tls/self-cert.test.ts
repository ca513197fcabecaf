/**
 * --auto-tls certificates: written once under the given dir (key 0600), valid for one year
 * from now, for the listen hosts (IPs and names, ports dropped), usable by a TLS server, and
 * reused unchanged on the next start.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { scratchDir } from '../pkg';
import { SELF_CERT_VALIDITY_MS, hostOnly, selfCert } from './self-cert';
import { serverTlsOptions } from './tls-info';

test('hosts of URL hosts: ports and brackets dropped', () => {
  assert.equal(hostOnly('127.0.0.1:2379'), '127.0.0.1');
  assert.equal(hostOnly('[::1]:2379'), '::1');
  assert.equal(hostOnly('[::1]'), '::1');
  assert.equal(hostOnly('example.com:2380'), 'example.com');
  assert.equal(hostOnly('example.com'), 'example.com');
  assert.equal(hostOnly('::1'), '::1');
});

test('a self-signed certificate is generated once for the listen hosts, then reused', () => {
  const dir = path.join(scratchDir('floe-selfcert-'), 'fixtures', 'client');
  const now = new Date(Date.now() - 1000);
  const created: string[] = [];
  const info = selfCert(dir, ['127.0.0.1:2379', 'localhost:22379', '[::1]:2379', '127.0.0.1:2380'], { now, onCreated: (f) => created.push(f) });
  assert.equal(info.certFile, path.join(dir, 'cert.pem'));
  assert.equal(info.keyFile, path.join(dir, 'key.pem'));
  assert.equal(info.selfCert, true);
  assert.deepEqual(created, [info.keyFile, info.certFile]);
  assert.equal(fs.statSync(info.keyFile).mode & 0o777, 0o600);
  const x = new crypto.X509Certificate(fs.readFileSync(info.certFile));
  assert.equal(x.subject, 'O=etcd');
  assert.equal(x.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime(), Math.floor(SELF_CERT_VALIDITY_MS / 1000) * 1000);
  assert.equal(Math.floor(new Date(x.validFrom).getTime() / 1000), Math.floor(now.getTime() / 1000));
  assert.match(fs.readFileSync(info.keyFile, 'utf8'), /BEGIN EC PRIVATE KEY/);
  assert.doesNotThrow(() => tls.createSecureContext(serverTlsOptions(info)));

  const before = fs.readFileSync(info.certFile, 'utf8');
  const again = selfCert(dir, ['10.0.0.1:2379'], { onCreated: (f) => created.push(f) });
  assert.deepEqual(again, info);
  assert.equal(fs.readFileSync(info.certFile, 'utf8'), before, 'an existing pair is kept');
  assert.equal(created.length, 2);
});

test('peer certificates also allow client authentication (peers dial with them)', () => {
  const dir = scratchDir('floe-selfcert-peer-');
  const info = selfCert(dir, ['127.0.0.1:2380'], { clientAuth: true });
  const x = new crypto.X509Certificate(fs.readFileSync(info.certFile));
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
});

test('a missing half is regenerated', () => {
  const dir = scratchDir('floe-selfcert-half-');
  const info = selfCert(dir, ['127.0.0.1:2379']);
  const first = fs.readFileSync(info.certFile, 'utf8');
  fs.rmSync(info.keyFile);
  selfCert(dir, ['127.0.0.1:2379']);
  assert.notEqual(fs.readFileSync(info.certFile, 'utf8'), first);
  const x = new crypto.X509Certificate(fs.readFileSync(info.certFile));
  assert.ok(x.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(info.keyFile))));
});
