/**
 * The npm `etcd3` client's auth flows against a real Floe process, with real etcd 3.4 running
 * the same script first (every expectation is one etcd meets): users and roles through the
 * client's user/role API, enabling auth, the client's `auth` option (it authenticates and
 * sends the `token` metadata), permission denied by prefix, wrong passwords, root-only calls,
 * and re-authentication when a simple token expires (--auth-token-ttl=2): the client gets
 * "invalid auth token", authenticates again and the call succeeds; after a password change
 * its old password no longer gets it in. Everything runs over TLS (--cert-file/--key-file,
 * the client trusting the test CA), as production clients reach etcd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { scratchDir } from '../../src/pkg';
import { commandFromSpec, etcdCommand, startServer, type ServerCommand } from '../compat/server';
import { writeTlsFixtures, TLS_DIR } from '../compat/tls-fixtures';

const floe = path.resolve(__dirname, '..', '..', '..', 'bin', 'floe');
/** Simple tokens live this long after their last use; the script waits past it. */
const TOKEN_TTL_SEC = 2;

/** What a rejected call says: its class and message. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    return `ok ${typeof v === 'string' ? v : JSON.stringify(v ?? null)}`;
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message.replace(/^\d+ [A-Z_]+: /, '')}`;
  }
}

/**
 * The token a client holds now (the `token` metadata its authenticator caches), read to show
 * that expiry made it authenticate again rather than keep using a token the server dropped.
 */
async function heldToken(c: Etcd3): Promise<string> {
  const pool = (c as unknown as { pool: { authenticator: { getMetadata(): Promise<{ get(k: string): unknown[] }> } } }).pool;
  return String((await pool.authenticator.getMetadata()).get('token')[0]);
}

async function script(command: ServerCommand): Promise<string[]> {
  const dir = scratchDir('floe-etcd3-auth-');
  await writeTlsFixtures(dir);
  const tls = path.join(dir, TLS_DIR);
  const server = await startServer(command, {
    name: 'auth',
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, 'log'),
    clientScheme: 'https',
    extraFlags: [`--auth-token-ttl=${TOKEN_TTL_SEC}`, '--bcrypt-cost=4', `--cert-file=${path.join(tls, 'server.pem')}`, `--key-file=${path.join(tls, 'server-key.pem')}`],
    ctlFlags: [`--cacert=${path.join(tls, 'ca.pem')}`],
  });
  const hosts = `https://${server.endpoint}`;
  const credentials = { rootCertificate: fs.readFileSync(path.join(tls, 'ca.pem')) };
  const admin = new Etcd3({ hosts, credentials });
  const clients: Etcd3[] = [admin];
  const as = (username: string, password: string): Etcd3 => {
    const c = new Etcd3({ hosts, credentials, auth: { username, password } });
    clients.push(c);
    return c;
  };
  const seen: string[] = [];
  try {
    await admin.user('root').create('rootpw');
    await admin.user('root').addRole('root');
    await admin.role('app').create();
    await admin.role('app').grant({ permission: 'Readwrite', range: admin.range({ prefix: 'app/' }) });
    await admin.role('app').grant({ permission: 'Read', key: 'shared' });
    await admin.user('alice').create('apw');
    await admin.user('alice').addRole('app');
    await admin.put('shared').value('s');
    seen.push(`roles of alice: ${(await admin.user('alice').roles()).map((r) => r.name).join(',')}`);
    seen.push(`permissions: ${JSON.stringify((await admin.role('app').permissions()).map((p) => [p.permission, p.range.start.toString(), p.range.end.toString()]))}`);
    await admin.auth.authEnable();
    seen.push('auth enabled');

    const root = as('root', 'rootpw');
    const alice = as('alice', 'apw');
    seen.push(`alice put app/x: ${await outcome(alice.put('app/x').value('1').exec().then(() => 'done'))}`);
    seen.push(`alice get app/x: ${await outcome(alice.get('app/x').string())}`);
    seen.push(`alice get shared: ${await outcome(alice.get('shared').string())}`);
    seen.push(`alice put shared: ${await outcome(alice.put('shared').value('2').exec().then(() => 'done'))}`);
    seen.push(`alice put other: ${await outcome(alice.put('other').value('2').exec().then(() => 'done'))}`);
    seen.push(`alice get all: ${await outcome(alice.getAll().prefix('').keys())}`);
    seen.push(`alice users: ${await outcome(alice.getUsers().then((us) => us.map((u) => u.name)))}`);
    seen.push(`root users: ${await outcome(root.getUsers().then((us) => us.map((u) => u.name)))}`);
    seen.push(`root put other: ${await outcome(root.put('other').value('r').exec().then(() => 'done'))}`);
    seen.push(`no credentials: ${await outcome(admin.get('shared').string())}`);
    seen.push(`wrong password: ${await outcome(as('alice', 'nope').get('shared').string())}`);
    seen.push(`unknown user: ${await outcome(as('mallory', 'x').get('shared').string())}`);

    // Token expiry: the client's token dies unused; its next call re-authenticates.
    const before = await heldToken(alice);
    await new Promise((r) => setTimeout(r, (TOKEN_TTL_SEC + 2) * 1000));
    seen.push(`alice after token expiry: ${await outcome(alice.get('app/x').string())}`);
    seen.push(`alice holds a new token: ${(await heldToken(alice)) !== before}`);

    // A password change drops the user's tokens; the old password no longer authenticates.
    await root.user('alice').setPassword('apw2');
    seen.push(`alice with the old password: ${await outcome(alice.get('app/x').string())}`);
    seen.push(`alice with the new password: ${await outcome(as('alice', 'apw2').get('app/x').string())}`);

    await root.role('app').revoke({ permission: 'Readwrite', range: root.range({ prefix: 'app/' }) });
    seen.push(`after revoke: ${await outcome(as('alice', 'apw2').get('app/x').string())}`);
    await root.auth.authDisable();
    seen.push(`after disable, no credentials: ${await outcome(admin.get('other').string())}`);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
  return seen;
}

test('the npm etcd3 client\'s auth flows, over TLS, give the same results on Floe as on etcd 3.4', { timeout: 180_000 }, async () => {
  const reference = await script(etcdCommand());
  const target = await script(commandFromSpec(floe));
  assert.equal(reference.length, 21, `the script ran to its end against etcd:\n${reference.join('\n')}`);
  assert.ok(reference.includes('alice holds a new token: true'), 'the wait outlived the token on etcd');
  assert.deepEqual(target, reference);
});
