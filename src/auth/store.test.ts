import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { DB, BatchTx } from '../backend';
import { isFloeError, scratchDir } from '../pkg';
import { AuthStore } from './store';
import { SimpleTokens } from './tokens';
import { AUTH_BUCKET, AUTH_REVISION_KEY, AUTH_USERS_BUCKET, AUTH_ROLES_BUCKET, decodeUser, decodeRole, PermType } from './schema';

function open(): { db: DB; batch: BatchTx; store: AuthStore; tokens: SimpleTokens; reopen(): AuthStore } {
  const file = path.join(scratchDir('floe-auth-'), 'db');
  const db = DB.open(file, { noSync: true });
  const batch = new BatchTx(db, { intervalMs: 1_000_000, limit: 1_000_000 });
  const tokens = new SimpleTokens(60_000);
  const store = new AuthStore(batch, tokens);
  return { db, batch, store, tokens, reopen: () => new AuthStore(batch, tokens) };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isFloeError(e)) return e.code;
    throw e;
  }
  return 'OK';
}

const b = (s: string): Buffer => Buffer.from(s);
const hash = b('$2b$04$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012');

test('a new store has revision 1 and auth disabled, as etcd creates it', () => {
  const { batch, store } = open();
  assert.equal(store.revision, 1);
  assert.equal(store.enabled, false);
  assert.deepEqual(batch.get(AUTH_BUCKET, AUTH_REVISION_KEY), Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
});

test('enable needs root with the root role; the revision bumps exactly where etcd bumps it', () => {
  const { store } = open();
  assert.equal(code(() => store.authEnable()), 'ERR_ROOT_USER_NOT_EXIST');
  store.userAdd({ name: 'root', passwordHash: hash, noPassword: false });
  assert.equal(store.revision, 2);
  assert.equal(code(() => store.authEnable()), 'ERR_ROOT_ROLE_NOT_EXIST');
  store.userGrantRole('root', 'root'); // the root role need not exist
  assert.equal(store.revision, 3);
  store.userGrantRole('root', 'root'); // already granted: no change, no bump
  assert.equal(store.revision, 3);
  store.authEnable();
  assert.equal(store.revision, 3, 'enable does not bump');
  store.authEnable(); // twice is fine
  assert.equal(code(() => store.userDelete('root')), 'ERR_INVALID_AUTH_MGMT');
  assert.equal(code(() => store.userRevokeRole('root', 'root')), 'ERR_INVALID_AUTH_MGMT');
  assert.equal(code(() => store.roleDelete('root')), 'ERR_INVALID_AUTH_MGMT');
  store.authDisable();
  assert.equal(store.revision, 4, 'disable bumps');
  store.authDisable();
  assert.equal(store.revision, 4, 'disabling a disabled store changes nothing');
  store.userRevokeRole('root', 'root'); // allowed while disabled
  assert.equal(store.revision, 5);
});

test('users and roles: etcd errors for empty, duplicate, missing, not granted', () => {
  const { store } = open();
  assert.equal(code(() => store.userAdd({ name: '', passwordHash: hash, noPassword: false })), 'ERR_USER_EMPTY');
  assert.equal(code(() => store.roleAdd('')), 'ERR_ROLE_EMPTY');
  store.userAdd({ name: 'u', passwordHash: hash, noPassword: false });
  assert.equal(code(() => store.userAdd({ name: 'u', passwordHash: hash, noPassword: false })), 'ERR_USER_ALREADY_EXIST');
  assert.equal(code(() => store.userGet('x')), 'ERR_USER_NOT_FOUND');
  assert.equal(code(() => store.userGrantRole('u', 'r')), 'ERR_ROLE_NOT_FOUND');
  store.roleAdd('r');
  assert.equal(code(() => store.roleAdd('r')), 'ERR_ROLE_ALREADY_EXIST');
  assert.equal(code(() => store.userRevokeRole('u', 'r')), 'ERR_ROLE_NOT_GRANTED');
  store.roleAdd('a');
  store.userGrantRole('u', 'r');
  store.userGrantRole('u', 'a');
  assert.deepEqual(store.userGet('u'), ['a', 'r'], 'roles kept sorted');
  assert.equal(code(() => store.roleRevokePermission('r', b('k'), b(''))), 'ERR_PERMISSION_NOT_GRANTED');
  assert.equal(code(() => store.roleGet('zz')), 'ERR_ROLE_NOT_FOUND');
  store.roleDelete('r');
  assert.deepEqual(store.userGet('u'), ['a'], 'deleting a role takes it from its users');
  assert.deepEqual(store.roleList(), ['a']);
  assert.deepEqual(store.userList(), ['u']);
  store.userDelete('u');
  assert.deepEqual(store.userList(), []);
});

test('records are etcd\'s authpb bytes and read back', () => {
  const { batch, store } = open();
  store.userAdd({ name: 'u', passwordHash: b('H'), noPassword: false });
  // name=1 "u", password=2 "H", options=4 empty message
  assert.deepEqual(batch.get(AUTH_USERS_BUCKET, b('u')), Buffer.from([0x0a, 1, 0x75, 0x12, 1, 0x48, 0x22, 0]));
  store.userAdd({ name: 'c', passwordHash: b('ignored'), noPassword: true });
  assert.deepEqual(decodeUser(batch.get(AUTH_USERS_BUCKET, b('c')) as Buffer), { name: 'c', password: Buffer.alloc(0), roles: [], noPassword: true });
  store.roleAdd('r');
  store.roleGrantPermission('r', { permType: PermType.READWRITE, key: b('a'), rangeEnd: b('b') });
  // name=1 "r", keyPermission=2 { permType=1 2, key=2 "a", range_end=3 "b" }
  assert.deepEqual(batch.get(AUTH_ROLES_BUCKET, b('r')), Buffer.from([0x0a, 1, 0x72, 0x12, 8, 0x08, 2, 0x12, 1, 0x61, 0x1a, 1, 0x62]));
  assert.equal(decodeRole(batch.get(AUTH_ROLES_BUCKET, b('r')) as Buffer).keyPermission.length, 1);
});

test('grant on the same key and range end changes the type; others are added in key order', () => {
  const { store } = open();
  store.roleAdd('r');
  store.roleGrantPermission('r', { permType: PermType.READ, key: b('m'), rangeEnd: b('') });
  store.roleGrantPermission('r', { permType: PermType.WRITE, key: b('a'), rangeEnd: b('') });
  store.roleGrantPermission('r', { permType: PermType.READWRITE, key: b('m'), rangeEnd: b('') });
  assert.deepEqual(store.roleGet('r').map((p) => [p.key.toString(), p.permType]), [['a', 1], ['m', 2]]);
  store.roleRevokePermission('r', b('a'), b(''));
  assert.deepEqual(store.roleGet('r').map((p) => p.key.toString()), ['m']);
});

test('permission checks: disabled allows all; enabled needs a user, a fresh revision, a covering role', () => {
  const { store } = open();
  store.userAdd({ name: 'root', passwordHash: hash, noPassword: false });
  store.userGrantRole('root', 'root');
  store.userAdd({ name: 'u', passwordHash: hash, noPassword: false });
  store.roleAdd('r');
  store.roleGrantPermission('r', { permType: PermType.READ, key: b('foo'), rangeEnd: b('fop') }); // prefix foo
  store.roleGrantPermission('r', { permType: PermType.WRITE, key: b('k'), rangeEnd: b('') });
  store.userGrantRole('u', 'r');
  assert.equal(code(() => store.checkPut(null, b('x'))), 'OK', 'disabled: anything goes');
  store.authEnable();
  const rev = store.revision;
  const u = { username: 'u', revision: rev };
  assert.equal(code(() => store.checkRange(null, b('foo'), b(''))), 'ERR_USER_EMPTY');
  assert.equal(code(() => store.checkRange(u, b('foo1'), b(''))), 'OK');
  assert.equal(code(() => store.checkRange(u, b('foo'), b('fop'))), 'OK');
  assert.equal(code(() => store.checkRange(u, b('foo'), b('foq'))), 'ERR_PERMISSION_DENIED');
  assert.equal(code(() => store.checkPut(u, b('foo1'))), 'ERR_PERMISSION_DENIED', 'read is not write');
  assert.equal(code(() => store.checkPut(u, b('k'))), 'OK');
  assert.equal(code(() => store.checkPut(u, b('k1'))), 'ERR_PERMISSION_DENIED');
  assert.equal(code(() => store.checkAdmin(u)), 'ERR_PERMISSION_DENIED');
  assert.equal(code(() => store.checkAdmin({ username: 'nobody', revision: rev })), 'ERR_USER_NOT_FOUND');
  assert.equal(code(() => store.checkRange({ username: 'nobody', revision: rev }, b('foo'), b(''))), 'ERR_PERMISSION_DENIED');
  assert.equal(code(() => store.checkRange({ username: 'root', revision: rev }, b('\0'), b('\0'))), 'OK', 'root reads everything');
  store.roleAdd('other');
  assert.equal(code(() => store.checkRange(u, b('foo1'), b(''))), 'ERR_AUTH_OLD_REVISION', 'any change makes older credentials stale');
  assert.equal(code(() => store.checkAdmin({ username: 'root', revision: rev })), 'OK', 'admin checks ignore the revision (etcd)');
});

test('a reopened store keeps users, roles, enabled flag and revision', () => {
  const { store, reopen } = open();
  store.userAdd({ name: 'root', passwordHash: hash, noPassword: false });
  store.userGrantRole('root', 'root');
  store.authEnable();
  const again = reopen();
  assert.equal(again.enabled, true);
  assert.equal(again.revision, store.revision);
  assert.deepEqual(again.userGet('root'), ['root']);
});

test('authenticate assigns a simple token prefix.index; password users only; tokens die with their user', () => {
  const { store } = open();
  store.userAdd({ name: 'root', passwordHash: hash, noPassword: false });
  store.userGrantRole('root', 'root');
  store.userAdd({ name: 'cert', passwordHash: Buffer.alloc(0), noPassword: true });
  assert.equal(code(() => store.authenticate('root', 'abc', 7)), 'ERR_AUTH_NOT_ENABLED');
  store.authEnable();
  assert.equal(code(() => store.passwordOf('cert')), 'ERR_AUTH_NO_PASSWORD_USER');
  assert.equal(code(() => store.passwordOf('nobody')), 'ERR_AUTH_FAILED');
  assert.equal(code(() => store.authenticate('cert', 'abc', 7)), 'ERR_AUTH_FAILED');
  const t = store.authenticate('root', 'abcdefghijklmnop', 9);
  assert.equal(t, 'abcdefghijklmnop.9');
  assert.deepEqual(store.authInfoFromToken(t), { username: 'root', revision: store.revision });
  assert.equal(code(() => store.authInfoFromToken('abcdefghijklmnop.10')), 'ERR_INVALID_AUTH_TOKEN');
  assert.equal(code(() => store.authInfoFromToken('garbage')), 'ERR_INVALID_AUTH_TOKEN');
  store.userChangePassword('root', hash);
  assert.equal(code(() => store.authInfoFromToken(t)), 'ERR_INVALID_AUTH_TOKEN', 'a password change drops the user\'s tokens');
});
