/**
 * Test certificates: a CA, a server certificate for the loopback hosts, and client
 * certificates by CN, written to a directory (for tests of TLS, client-cert users and peer
 * TLS; not for production). Every certificate is ECDSA P-256, made by certificate.ts.
 *
 *   const pki = makeTestPki(dir, { clients: ['root', 'alice'] });
 *   // pki.caFile, pki.server.certFile/keyFile, pki.clients.alice.certFile/keyFile
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asIssuer, createCertificate, type CertAndKey } from './certificate';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and key written as files, with their PEM text. */
export interface PkiFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What makeTestPki wrote. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  /** For 127.0.0.1, ::1 and localhost; serverAuth and clientAuth (peers dial with it too). */
  readonly server: PkiFiles;
  /** Client certificates (clientAuth) by CN. */
  readonly clients: Readonly<Record<string, PkiFiles>>;
  /** A client certificate (CN "expired") signed by the CA whose validity ended yesterday. */
  readonly expiredClient: PkiFiles;
  /** A client certificate (CN "stranger") from a different, untrusted CA. */
  readonly untrustedClient: PkiFiles;
}

export interface TestPkiOptions {
  /** CNs of the client certificates to make (default ['root']). */
  readonly clients?: readonly string[];
  /** Hosts of the server certificate (default 127.0.0.1, ::1, localhost). */
  readonly serverHosts?: readonly string[];
  /** The clock (default now). */
  readonly now?: Date;
}

function write(dir: string, name: string, c: CertAndKey): PkiFiles {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  fs.writeFileSync(certFile, c.certPem);
  fs.writeFileSync(keyFile, c.keyPem, { mode: 0o600 });
  return { certFile, keyFile, certPem: c.certPem, keyPem: c.keyPem };
}

/** Makes the CA and certificates under `dir` (created if missing). */
export function makeTestPki(dir: string, opts: TestPkiOptions = {}): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const now = opts.now ?? new Date();
  const from = new Date(now.getTime() - DAY_MS);
  const until = new Date(now.getTime() + 30 * DAY_MS);
  const caName = { organization: 'floe-test', commonName: 'floe test CA' };
  const ca = createCertificate({ subject: caName, notBefore: from, notAfter: until, isCa: true, extKeyUsage: ['serverAuth', 'clientAuth'] });
  const issuer = asIssuer(ca, caName);
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, ca.certPem);
  const server = write(dir, 'server', createCertificate({
    subject: { organization: 'floe-test', commonName: 'floe-server' },
    hosts: opts.serverHosts ?? ['127.0.0.1', '::1', 'localhost'],
    notBefore: from,
    notAfter: until,
    extKeyUsage: ['serverAuth', 'clientAuth'],
  }, issuer));
  const clients: Record<string, PkiFiles> = {};
  for (const cn of opts.clients ?? ['root']) {
    clients[cn] = write(dir, `client-${cn.replace(/[^A-Za-z0-9_-]/g, '_')}`, createCertificate({
      subject: { commonName: cn }, notBefore: from, notAfter: until, extKeyUsage: ['clientAuth'],
    }, issuer));
  }
  const expiredClient = write(dir, 'client-expired', createCertificate({
    subject: { commonName: 'expired' },
    notBefore: new Date(now.getTime() - 10 * DAY_MS),
    notAfter: from,
    extKeyUsage: ['clientAuth'],
  }, issuer));
  const otherName = { commonName: 'other CA' };
  const other = createCertificate({ subject: otherName, notBefore: from, notAfter: until, isCa: true });
  const untrustedClient = write(dir, 'client-untrusted', createCertificate({
    subject: { commonName: 'stranger' }, notBefore: from, notAfter: until, extKeyUsage: ['clientAuth'],
  }, asIssuer(other, otherName)));
  return { dir, caFile, caPem: ca.certPem, server, clients, expiredClient, untrustedClient };
}
