/**
 * Certificates for the TLS cases, made with the `openssl` command line into a case's scratch
 * dir (each side makes its own; nothing of a certificate is printed by etcdctl, so the two sides'
 * different keys never show in compared output).
 *
 * Keys are EC P-256 (fast to make, accepted by Go and by Node). An expired certificate needs a
 * validity period in the past: `openssl x509 -days` cannot go negative and OpenSSL 3.0's `x509`
 * has no `-not_before`/`-not_after`, so it is signed with `openssl ca -startdate -enddate`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bound on one openssl invocation. */
const OPENSSL_TIMEOUT_MS = 20_000;
/** Validity of the good certificates: long enough to outlive any test run. */
const VALID_DAYS = 3650;
/** The expired certificate's validity (UTCTime, in the past). */
const EXPIRED_FROM = '200101000000Z';
const EXPIRED_UNTIL = '200102000000Z';

/** Runs openssl in `cwd`; a failure throws with openssl's own message. */
function opensslIn(cwd: string): (args: readonly string[]) => Promise<void> {
  return async (args) => {
    try {
      await run('openssl', [...args], { cwd, timeout: OPENSSL_TIMEOUT_MS });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
    }
  };
}

/** Where `writeTlsFixtures(dir)` puts its files, relative to `dir`; file names for cases. */
export const TLS_DIR = 'tls';

/**
 * Files made under `<dir>/tls/`:
 * - `ca.pem` (CN floe-compat-ca) and `other-ca.pem` (CN floe-compat-other-ca), with keys;
 * - `server.pem`/`server-key.pem`: SAN IP 127.0.0.1 and localhost, server and client auth
 *   (etcd also dials itself with it), signed by ca;
 * - client certificates signed by ca: `root.pem`, `alice.pem`, `bob.pem` (CN = the name), each
 *   with `<name>-key.pem`;
 * - `stranger.pem` (CN root, signed by other-ca, key `stranger-key.pem`);
 * - `expired.pem` (CN root, signed by ca, valid only on 2020-01-01; key `root-key.pem`).
 */
export async function writeTlsFixtures(dir: string): Promise<void> {
  const tls = path.join(dir, TLS_DIR);
  fs.mkdirSync(tls, { recursive: true });
  const openssl = opensslIn(tls);
  fs.writeFileSync(
    path.join(tls, 'ext.cnf'),
    [
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost',
      '[client]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature, keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string): Promise<void> =>
    openssl(['req', '-x509', ...newKey, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', String(VALID_DAYS), '-subj', `/CN=${cn}`]);
  await Promise.all([ca('ca', 'floe-compat-ca'), ca('other-ca', 'floe-compat-other-ca')]);

  let serial = 0;
  const leaf = async (name: string, cn: string, signer: string, extensions: 'server' | 'client'): Promise<void> => {
    const n = ++serial;
    await openssl(['req', ...newKey, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    await openssl([
      'x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}-key.pem`, '-set_serial', String(n),
      '-days', String(VALID_DAYS), '-extfile', 'ext.cnf', '-extensions', extensions, '-out', `${name}.pem`,
    ]);
  };
  await Promise.all([
    leaf('server', 'compat-server', 'ca', 'server'),
    leaf('root', 'root', 'ca', 'client'),
    leaf('alice', 'alice', 'ca', 'client'),
    leaf('bob', 'bob', 'ca', 'client'),
    leaf('stranger', 'root', 'other-ca', 'client'),
  ]);

  // `openssl ca` keeps a small database; it is only used for the one expired certificate.
  fs.writeFileSync(
    path.join(tls, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = compat',
      '[compat]',
      'database = index.txt',
      'new_certs_dir = .',
      'serial = serial',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '[client]',
      'basicConstraints = CA:FALSE',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(tls, 'index.txt'), '');
  fs.writeFileSync(path.join(tls, 'serial'), '64\n');
  await openssl([
    'ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca-key.pem', '-in', 'root.csr', '-notext',
    '-startdate', EXPIRED_FROM, '-enddate', EXPIRED_UNTIL, '-extensions', 'client', '-out', 'expired.pem',
  ]);
}

/**
 * Key pairs for `--auth-token=jwt,...` under `<dir>/tls/`: `jwt-rs256.key`/`.pub` (RSA 2048)
 * and `jwt-es256.key`/`.pub` (EC P-256), PEM, as etcd's `priv-key`/`pub-key` options read them.
 */
export async function writeJwtKeys(dir: string): Promise<void> {
  const tls = path.join(dir, TLS_DIR);
  fs.mkdirSync(tls, { recursive: true });
  const openssl = opensslIn(tls);
  await Promise.all([
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'jwt-rs256.key']),
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'jwt-es256.key']),
  ]);
  await Promise.all([
    openssl(['pkey', '-in', 'jwt-rs256.key', '-pubout', '-out', 'jwt-rs256.pub']),
    openssl(['pkey', '-in', 'jwt-es256.key', '-pubout', '-out', 'jwt-es256.pub']),
  ]);
}
