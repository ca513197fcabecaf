/**
 * TLS in the serve command. Unit: etcd's start-up checks and lines (https URL without a
 * certificate, a missing file, --auto-tls certificates under <data-dir>/fixtures, the
 * "ignored" warnings for http URLs). Processes: three `floe` members with mutual TLS on both
 * the client and the peer ports form a cluster; writes replicate, lease keep-alives are
 * forwarded to the leader over peer TLS, and a fourth member joins (fetching the member list
 * over TLS); a client without a certificate is refused.
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { scratchDir } from '../pkg';
import { EMPTY_TLS_INFO, makeTestPki, type TestPki } from '../tls';
import { readEtcdFlags, type ServeSettings } from './etcd-flags';
import { prepareServeTls, tlsFlags, type ServeTls } from './serve-tls';

const MAIN = path.resolve(__dirname, 'main.js');
const STARTUP_TIMEOUT_MS = 40_000;

function settingsOf(argv: string[]): { s: ServeSettings; flags: ReturnType<typeof tlsFlags> } {
  const o = readEtcdFlags(argv, {});
  assert.equal(o.kind, 'serve', JSON.stringify(o));
  if (o.kind !== 'serve') throw new Error('unreachable');
  return { s: o.settings, flags: tlsFlags(o.values) };
}

function prepare(argv: string[]): { result: ServeTls | string; lines: string[] } {
  const lines: string[] = [];
  const { s, flags } = settingsOf(argv);
  const result = prepareServeTls(s, flags, { log: (level: string, pkg: string, msg: string) => lines.push(`${level} | ${pkg}: ${msg}`) } as never);
  return { result, lines };
}

const client = (scheme: string): string[] => [`--listen-client-urls=${scheme}://127.0.0.1:2379`, `--advertise-client-urls=${scheme}://127.0.0.1:2379`];

test('https URLs without a certificate stop start-up with etcd\'s words', () => {
  assert.equal(prepare(client('https')).result, 'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme');
  assert.equal(
    prepare(['--listen-peer-urls=https://127.0.0.1:2380', '--initial-advertise-peer-urls=https://127.0.0.1:2380', '--initial-cluster=default=https://127.0.0.1:2380']).result,
    'cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented',
  );
});

test('TLS files are checked before the member starts; etcd\'s ClientTLS / peerTLS lines are logged', () => {
  const dir = scratchDir('floe-serve-tls-');
  const pki = makeTestPki(path.join(dir, 'pki'));
  const missing = path.join(dir, 'missing.pem');
  assert.equal(prepare([...client('https'), `--cert-file=${missing}`, `--key-file=${pki.server.keyFile}`]).result, `open ${missing}: no such file or directory`);
  assert.match(String(prepare([...client('https'), `--cert-file=${pki.server.certFile}`, `--key-file=${pki.clients.root!.keyFile}`]).result), /^tls: private key does not match public key/);
  const ok = prepare([
    ...client('https'), `--cert-file=${pki.server.certFile}`, `--key-file=${pki.server.keyFile}`, `--trusted-ca-file=${pki.caFile}`, '--client-cert-auth',
    `--peer-cert-file=${pki.server.certFile}`, `--peer-key-file=${pki.server.keyFile}`,
  ]);
  assert.notEqual(typeof ok.result, 'string', String(ok.result));
  const r = ok.result as ServeTls;
  assert.equal(r.client.clientCertAuth, true);
  assert.equal(r.clientListen?.options.requestCert, true);
  assert.equal(r.peer.certFile, pki.server.certFile);
  assert.deepEqual(ok.lines, [
    `I | embed: peerTLS: cert = ${pki.server.certFile}, key = ${pki.server.keyFile}, trusted-ca = , client-cert-auth = false, crl-file = `,
    'W | embed: The scheme of peer url http://localhost:2380 is HTTP while peer key/cert files are presented. Ignored peer key/cert files.',
    `I | embed: ClientTLS: cert = ${pki.server.certFile}, key = ${pki.server.keyFile}, trusted-ca = ${pki.caFile}, client-cert-auth = true, crl-file = `,
  ]);
  // http client URLs ignore the files, with etcd's warnings.
  const plain = prepare([...client('http'), `--cert-file=${pki.server.certFile}`, `--key-file=${pki.server.keyFile}`, '--client-cert-auth']);
  assert.equal((plain.result as ServeTls).clientListen, null);
  assert.ok(plain.lines.includes('W | embed: The scheme of client url http://127.0.0.1:2379 is HTTP while peer key/cert files are presented. Ignored key/cert files.'));
  assert.ok(plain.lines.includes('W | embed: The scheme of client url http://127.0.0.1:2379 is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url.'));
});

test('--auto-tls and --peer-auto-tls write certificates under <data-dir>/fixtures; given files win', () => {
  const dir = scratchDir('floe-serve-autotls-');
  const dataDir = path.join(dir, 'd');
  const { result, lines } = prepare([`--data-dir=${dataDir}`, ...client('https'), '--auto-tls', '--peer-auto-tls', '--listen-peer-urls=https://127.0.0.1:2380', '--initial-advertise-peer-urls=https://127.0.0.1:2380', '--initial-cluster=default=https://127.0.0.1:2380']);
  assert.notEqual(typeof result, 'string', String(result));
  const r = result as ServeTls;
  assert.equal(r.client.certFile, path.join(dataDir, 'fixtures', 'client', 'cert.pem'));
  assert.equal(r.peer.keyFile, path.join(dataDir, 'fixtures', 'peer', 'key.pem'));
  assert.equal(r.peer.insecureSkipVerify, true);
  assert.equal(r.client.selfCert, true);
  assert.ok(fs.existsSync(r.client.certFile) && fs.existsSync(r.peer.certFile));
  assert.ok(lines.some((l) => l.startsWith('I | embed: peerTLS: cert = ')));
  const pki = makeTestPki(path.join(dir, 'pki'));
  const given = prepare([`--data-dir=${path.join(dir, 'e')}`, ...client('https'), '--auto-tls', `--cert-file=${pki.server.certFile}`, `--key-file=${pki.server.keyFile}`]);
  assert.equal((given.result as ServeTls).client.certFile, pki.server.certFile);
  assert.ok(given.lines.includes('W | embed: ignoring client auto TLS since certs given'));
  assert.ok(!fs.existsSync(path.join(dir, 'e', 'fixtures')));
  assert.deepEqual(tlsFlags(new Map()).client, EMPTY_TLS_INFO);
});

// ---- real processes ----

const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function ctl(pki: TestPki, endpoint: string, args: string[], certs = true): Promise<{ code: number; out: string; err: string }> {
  const tlsArgs = certs ? [`--cacert=${pki.caFile}`, `--cert=${pki.clients.root!.certFile}`, `--key=${pki.clients.root!.keyFile}`] : [`--cacert=${pki.caFile}`];
  return new Promise((resolve) => {
    execFile('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=2s', '--command-timeout=5s', ...tlsArgs, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, out, err });
    });
  });
}

async function until(what: string, fn: () => Promise<boolean>, logs: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('three members with mutual TLS on client and peer ports: replication, lease forwarding, a joiner', { timeout: 120_000 }, async () => {
  const dir = scratchDir('floe-tls-cluster-');
  const pki = makeTestPki(path.join(dir, 'pki'), { clients: ['root'] });
  const ports = await freePorts(8);
  const names = ['m1', 'm2', 'm3', 'm4'];
  const clientUrl = (i: number): string => `https://127.0.0.1:${ports[i * 2]}`;
  const peerUrl = (i: number): string => `https://127.0.0.1:${ports[i * 2 + 1]}`;
  const initial = [0, 1, 2].map((i) => `${names[i]}=${peerUrl(i)}`).join(',');
  const logFiles: string[] = [];
  const logs = (): string => logFiles.map((f) => `--- ${f}\n${fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : ''}`).join('\n');
  const start = (i: number, cluster: string, state: 'new' | 'existing'): void => {
    const logFile = path.join(dir, `${names[i]}.log`);
    logFiles.push(logFile);
    const out = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(MAIN)}).main(process.argv.slice(1))`, '--',
      `--name=${names[i]}`, `--data-dir=${path.join(dir, names[i]!)}`,
      `--listen-client-urls=${clientUrl(i)}`, `--advertise-client-urls=${clientUrl(i)}`,
      `--listen-peer-urls=${peerUrl(i)}`, `--initial-advertise-peer-urls=${peerUrl(i)}`,
      `--initial-cluster=${cluster}`, `--initial-cluster-state=${state}`, '--initial-cluster-token=tls-test',
      `--cert-file=${pki.server.certFile}`, `--key-file=${pki.server.keyFile}`, `--trusted-ca-file=${pki.caFile}`, '--client-cert-auth',
      `--peer-cert-file=${pki.server.certFile}`, `--peer-key-file=${pki.server.keyFile}`, `--peer-trusted-ca-file=${pki.caFile}`, '--peer-client-cert-auth',
      '--unsafe-no-fsync',
    ], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    children.push(child);
  };
  for (const i of [0, 1, 2]) start(i, initial, 'new');
  const all = [0, 1, 2].map(clientUrl).join(',');
  await until('3 healthy members', async () => (await ctl(pki, all, ['endpoint', 'health'])).code === 0, logs);

  assert.equal((await ctl(pki, clientUrl(0), ['put', 'k', 'over-tls'])).code, 0);
  for (const i of [1, 2]) assert.equal((await ctl(pki, clientUrl(i), ['get', 'k', '--print-value-only'])).out, 'over-tls\n');

  // Keep-alives reach the leader from every member (followers forward over peer TLS).
  const grant = await ctl(pki, clientUrl(0), ['lease', 'grant', '60']);
  const leaseId = /lease ([0-9a-f]+) granted/.exec(grant.out)?.[1];
  assert.ok(leaseId !== undefined, grant.out + grant.err);
  for (const i of [0, 1, 2]) {
    const ka = await ctl(pki, clientUrl(i), ['lease', 'keep-alive', '--once', leaseId]);
    assert.match(ka.out, new RegExp(`lease ${leaseId} keepalived with TTL\\(\\d+\\)`), `${names[i]}: ${ka.err}`);
  }

  const list = await ctl(pki, clientUrl(0), ['member', 'list']);
  for (const i of [0, 1, 2]) assert.ok(list.out.includes(peerUrl(i)), list.out);

  // A fourth member joins: it fetches the member list from the others over peer TLS.
  // etcd refuses reconfiguration until every member has been connected for a few seconds.
  await until('member add', async () => {
    const add = await ctl(pki, clientUrl(0), ['member', 'add', names[3]!, `--peer-urls=${peerUrl(3)}`]);
    assert.ok(add.code === 0 || /unhealthy cluster/.test(add.err), add.err);
    return add.code === 0;
  }, logs);
  start(3, `${initial},${names[3]}=${peerUrl(3)}`, 'existing');
  await until('the joiner serves the replicated key', async () => (await ctl(pki, clientUrl(3), ['get', 'k', '--print-value-only', '--consistency=s'])).out === 'over-tls\n', logs);

  // A client without a certificate gets nothing; the member logs why.
  const refused = await ctl(pki, clientUrl(0), ['get', 'k'], false);
  assert.notEqual(refused.code, 0);
  const log1 = fs.readFileSync(logFiles[0]!, 'utf8');
  assert.match(log1, /embed: rejected connection from "127\.0\.0\.1:\d+" \(error "tls: client didn't provide a certificate", ServerName ""\)/);
  assert.match(log1, /embed: peerTLS: cert = /);
  assert.match(log1, /embed: ClientTLS: cert = /);
  assert.match(log1, new RegExp(`embed: serving client requests on 127\\.0\\.0\\.1:${ports[0]}`));

  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
});
