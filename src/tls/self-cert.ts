/**
 * etcd's --auto-tls / --peer-auto-tls (transport.SelfCert): a self-signed ECDSA certificate
 * for the listen hosts, written once to `<dir>/cert.pem` and `<dir>/key.pem` (the key 0600)
 * and reused on later starts while both files exist.
 *
 * etcd 3.4 writes under `<data-dir>/fixtures/client` and `<data-dir>/fixtures/peer`, with
 * Organization "etcd", one year of validity, serverAuth (plus clientAuth for peers, which
 * present the same certificate when dialing), and the hosts as SANs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FloeError } from '../pkg';
import { createCertificate } from './certificate';
import { EMPTY_TLS_INFO, ERR_TLS_CONFIG, type TlsInfo } from './tls-info';

/** Validity of a generated certificate: etcd's 365 days. */
export const SELF_CERT_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;

/** Options of selfCert. */
export interface SelfCertOptions {
  /** Wall clock for notBefore (default: now). */
  readonly now?: Date;
  /** Extended key usages beyond serverAuth (etcd adds clientAuth for peers). */
  readonly clientAuth?: boolean;
  /** Called with each file created (etcd logs "created cert file"). */
  readonly onCreated?: (file: string) => void;
}

/** The host part of a URL host ("127.0.0.1:2379", "[::1]:2379", "example.com:2380"). */
export function hostOnly(hostPort: string): string {
  const bracket = /^\[([^\]]*)\](?::\d*)?$/.exec(hostPort);
  if (bracket !== null) return bracket[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon >= 0 && hostPort.indexOf(':') === colon ? hostPort.slice(0, colon) : hostPort;
}

/**
 * Returns TLS settings using the certificate in `dir`, generating it first when cert.pem or
 * key.pem is missing. `hosts` are URL hosts (with or without ports).
 */
export function selfCert(dir: string, hosts: readonly string[], opts: SelfCertOptions = {}): TlsInfo {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const info: TlsInfo = { ...EMPTY_TLS_INFO, certFile, keyFile, selfCert: true };
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return info;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new FloeError(ERR_TLS_CONFIG, `cannot create cert directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const now = opts.now ?? new Date();
  const unique = [...new Set(hosts.map(hostOnly).filter((h) => h !== ''))];
  const made = createCertificate({
    subject: { organization: 'etcd' },
    hosts: unique,
    notBefore: now,
    notAfter: new Date(now.getTime() + SELF_CERT_VALIDITY_MS),
    extKeyUsage: opts.clientAuth === true ? ['serverAuth', 'clientAuth'] : ['serverAuth'],
  });
  // The key first and private: a crash between the writes leaves no certificate without key,
  // and the next start regenerates both.
  fs.writeFileSync(keyFile, made.keyPem, { mode: 0o600 });
  opts.onCreated?.(keyFile);
  fs.writeFileSync(certFile, made.certPem);
  opts.onCreated?.(certFile);
  return info;
}
