/**
 * TLS cases (issue 5, "What it must show" 1): a server with `--cert-file`/`--key-file`, then
 * one that also requires client certificates (`--trusted-ca-file` + `--client-cert-auth`),
 * reached by etcdctl over `https://` endpoints with `--cacert`/`--cert`/`--key`. Refusals:
 * plaintext to the TLS port, a CA that did not sign the server, no client certificate, a client
 * certificate from another CA, an expired one. With auth on, a certificate's CN is the user.
 *
 * Certificates are made per side in its scratch dir by tls-fixtures.ts (`${DIR}/tls/...`).
 */
import { ctl, untilText, type Case, type RunStep } from './cases';
import { writeTlsFixtures } from './tls-fixtures';

/** etcdctl's ExitError: a request failed (also a connection that never came up in time). */
const FAILED = 1;
/** etcdctl's exit code for a watch the server cancelled. */
const WATCH_CANCELLED = 5;
/** Bound on a watch waiting for known events. */
const WATCH_TIMEOUT_MS = 8_000;

const CA = '--cacert=${DIR}/tls/ca.pem';
const OTHER_CA = '--cacert=${DIR}/tls/other-ca.pem';
/** `--cert`/`--key` of a client certificate made by tls-fixtures.ts. */
const cert = (name: string, key: string = name): string[] => [`--cert=\${DIR}/tls/${name}.pem`, `--key=\${DIR}/tls/${key}-key.pem`];
const SERVER_CERT = ['--cert-file=${DIR}/tls/server.pem', '--key-file=${DIR}/tls/server-key.pem'];
/**
 * etcdctl 3.4 dials in the background and a refused connection only ends the request at the
 * command timeout (5 s by default): refusals get shorter bounds. The error printed is the same
 * for every refusal (`all SubConns are in TransientFailure`, `context deadline exceeded`).
 */
const SHORT = ['--dial-timeout=1s', '--command-timeout=1s'];

function watch(args: readonly string[], stopWhen: (stdout: string) => boolean, options: Omit<RunStep, 'kind' | 'args'> = {}): RunStep {
  return ctl(['watch', ...args], { stopWhen, timeoutMs: WATCH_TIMEOUT_MS, ...options });
}

const tlsServer: Case = {
  name: 'tls-server',
  shows: 'with --cert-file/--key-file the client port speaks TLS: put/get/watch/endpoint health over https with --cacert; plaintext, a wrong CA and no CA are refused',
  setup: writeTlsFixtures,
  serverFlags: SERVER_CERT,
  clientTls: { ctlFlags: [CA] },
  steps: [
    ctl(['put', 'a', '1'], { expect: { exit: 0, stdout: 'OK\n' } }),
    ctl(['get', 'a', '-w', 'json'], { expect: { stdout: '"revision":2,' } }),
    ctl(['endpoint', 'health'], { expect: { exit: 0, stderr: /^https:\/\/127\.0\.0\.1:<client-port#1> is healthy/ } }),
    ctl(['endpoint', 'status']),
    ctl(['member', 'list']),
    watch(['--rev=1', 'a'], untilText('a\n1\n')),
    // A client certificate the server does not ask for changes nothing.
    ctl(['get', 'a'], { ctlFlags: [CA, ...cert('alice')], expect: { exit: 0, stdout: 'a\n1\n' } }),
    // Without --cacert/--cert/--key etcdctl 3.4 speaks plaintext even to an https:// endpoint
    // (--insecure-transport defaults to true); --insecure-transport=false makes it use TLS.
    ctl(['get', 'a'], { ctlFlags: ['--insecure-transport=false', '--insecure-skip-tls-verify'], expect: { exit: 0, stdout: 'a\n1\n' } }),
    // Refusals: plaintext (http:// and https:// without TLS flags), the system's CAs, another CA.
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [], scheme: 'http', expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [], expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: ['--insecure-transport=false'], expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [OTHER_CA], expect: { exit: FAILED } }),
    ctl([...SHORT, 'endpoint', 'health'], { ctlFlags: [OTHER_CA], expect: { exit: FAILED } }),
    ctl(['put', 'a', '2'], { expect: { exit: 0 } }),
    ctl(['get', 'a', '-w', 'json'], { expect: { stdout: '"revision":3,' } }),
  ],
};

const ROOT_CERT = [CA, ...cert('root')];
const ALICE_CERT = [CA, ...cert('alice')];
const BOB_CERT = [CA, ...cert('bob')];

const tlsClientCert: Case = {
  name: 'tls-client-cert',
  shows: 'with --trusted-ca-file and --client-cert-auth only clients with a certificate from that CA get in (not none, another CA, or expired); with auth on the certificate CN is the user',
  setup: writeTlsFixtures,
  serverFlags: [...SERVER_CERT, '--trusted-ca-file=${DIR}/tls/ca.pem', '--client-cert-auth'],
  clientTls: { ctlFlags: ROOT_CERT },
  steps: [
    ctl(['put', 'a', '1'], { expect: { exit: 0, stdout: 'OK\n' } }),
    ctl(['get', 'a']),
    ctl(['endpoint', 'health'], { expect: { exit: 0 } }),
    ctl(['get', 'a'], { ctlFlags: ALICE_CERT, expect: { exit: 0, stdout: 'a\n1\n' } }),
    // Refusals: no client certificate, one from another CA, an expired one.
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [CA], expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [CA, ...cert('stranger')], expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [CA, ...cert('expired', 'root')], expect: { exit: FAILED } }),
    ctl([...SHORT, 'get', 'a'], { ctlFlags: [], scheme: 'http', expect: { exit: FAILED } }),

    // Certificate users: alice has no password; the root certificate's CN is root.
    ctl(['user', 'add', 'root', '--new-user-password=rootpw', '--interactive=false']),
    ctl(['user', 'add', 'alice', '--no-password']),
    ctl(['role', 'add', 'app']),
    ctl(['role', 'grant-permission', 'app', 'readwrite', '--prefix', 'app/']),
    ctl(['user', 'grant-role', 'alice', 'app']),
    ctl(['auth', 'enable'], { expect: { exit: 0, stdout: 'Authentication Enabled\n' } }),
    ctl(['put', 'b', '2'], { expect: { exit: 0 } }), // rev 3, as root by CN
    ctl(['user', 'list'], { expect: { exit: 0, stdout: 'alice\nroot\n' } }),
    ctl(['put', 'app/x', '1'], { ctlFlags: ALICE_CERT, expect: { exit: 0 } }), // rev 4
    ctl(['get', 'app/', '--prefix', '-w', 'json'], { ctlFlags: ALICE_CERT, expect: { stdout: '"revision":4,' } }),
    ctl(['put', 'a', 'x'], { ctlFlags: ALICE_CERT, expect: { exit: FAILED, stderr: 'Error: etcdserver: permission denied\n' } }),
    ctl(['get', 'a'], { ctlFlags: ALICE_CERT, expect: { exit: FAILED, stderr: 'Error: etcdserver: permission denied\n' } }),
    ctl(['user', 'list'], { ctlFlags: ALICE_CERT, expect: { exit: FAILED, stderr: 'Error: etcdserver: permission denied\n' } }),
    watch(['--rev=1', '--prefix', 'app/'], untilText('app/x\n1\n'), { ctlFlags: ALICE_CERT }),
    watch(['--rev=1', 'a'], untilText('never printed'), { ctlFlags: ALICE_CERT, expect: { exit: WATCH_CANCELLED } }),
    // A CN that names no user.
    ctl(['get', 'app/x'], { ctlFlags: BOB_CERT, expect: { exit: FAILED } }),
    // A password login wins over the certificate's CN.
    ctl(['--user=root:rootpw', 'user', 'list'], { ctlFlags: ALICE_CERT, expect: { exit: 0 } }),
    ctl(['--user=alice:x', 'get', 'app/x'], { ctlFlags: ALICE_CERT, expect: { exit: 2 } }),
    ctl(['--user=root:wrong', 'get', 'a'], { expect: { exit: 2 } }),
    ctl(['auth', 'disable'], { ctlFlags: ALICE_CERT, expect: { exit: FAILED } }),
    ctl(['auth', 'disable'], { expect: { exit: 0, stdout: 'Authentication Disabled\n' } }),
    ctl(['get', 'a'], { ctlFlags: BOB_CERT, expect: { exit: 0, stdout: 'a\n1\n' } }),
  ],
};

/** The TLS cases, in the order they run. */
export const TLS_CASES: readonly Case[] = [tlsServer, tlsClientCert];
