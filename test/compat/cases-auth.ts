/**
 * Auth cases (issue 5, "What it must show" 1): users, roles and permissions managed with
 * etcdctl 3.4, `auth enable`/`disable`, and requests made as users (`--user=name:password`)
 * that are allowed or denied by key, range and prefix permissions.
 *
 * etcdctl 3.4 has no `auth status` (added in 3.5), so the enabled state shows only through
 * what requests do. Auth requests do not move the store revision, so revisions in the output
 * compare exactly. Tokens are never printed by etcdctl; nothing here needs a token rule.
 */
import { ctl, txnScript, untilText, type Case, type RunStep } from './cases';
import { writeJwtKeys } from './tls-fixtures';

/** etcd's ExitError (a failed request); etcdctl's ExitBadConnection (2) ends failed logins. */
const FAILED = 1;
const LOGIN_FAILED = 2;
/** etcdctl's exit code for a watch the server cancelled. */
const WATCH_CANCELLED = 5;
/** Bound on a watch waiting for known historical events. */
const WATCH_TIMEOUT_MS = 8_000;

const ROOT = '--user=root:rootpw';
const ALICE = '--user=alice:apw';
const BOB = '--user=bob:bpw';

const DENIED = 'Error: etcdserver: permission denied\n';
const NO_USER = 'Error: etcdserver: user name is empty\n';
const BAD_LOGIN = 'Error: etcdserver: authentication failed, invalid user ID or password\n';

/** `etcdctl <user flag> <args>`. */
function as(user: string, args: readonly string[], options: Omit<RunStep, 'kind' | 'args'> = {}): RunStep {
  return ctl([user, ...args], options);
}

function watch(args: readonly string[], stopWhen: (stdout: string) => boolean, options: Omit<RunStep, 'kind' | 'args'> = {}): RunStep {
  return ctl(['watch', ...args], { stopWhen, timeoutMs: WATCH_TIMEOUT_MS, ...options });
}

const authManage: Case = {
  name: 'auth-manage',
  shows: 'user and role management (add, get, list, delete, passwd, grant/revoke role and key, range, prefix, from-key permissions) prints as etcd, with its exact errors',
  steps: [
    ctl(['user', 'add', 'root', '--new-user-password=rootpw', '--interactive=false'], { expect: { exit: 0, stdout: 'User root created\n' } }),
    ctl(['user', 'add', 'root', '--new-user-password=other', '--interactive=false'], {
      expect: { exit: FAILED, stderr: 'Error: etcdserver: user name already exists\n' },
    }),
    ctl(['user', 'add', 'alice:apw']),
    ctl(['user', 'add', 'bob', '--interactive=false'], { stdin: 'bpw\n' }),
    ctl(['user', 'add', 'carol', '--no-password']),
    ctl(['user', 'add', 'dave', '--interactive=false'], { stdin: '' }), // empty password from stdin
    ctl(['user', 'add', '', '--new-user-password=x', '--interactive=false']),
    ctl(['user', 'list'], { expect: { stdout: 'alice\nbob\ncarol\ndave\nroot\n' } }),
    ctl(['user', 'list', '-w', 'json']),
    ctl(['user', 'get', 'alice']),
    ctl(['user', 'get', 'alice', '-w', 'json']),
    ctl(['user', 'get', 'nobody'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: user name not found\n' } }),

    ctl(['role', 'add', 'reader'], { expect: { stdout: 'Role reader created\n' } }),
    ctl(['role', 'add', 'reader'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: role name already exists\n' } }),
    ctl(['role', 'add', 'writer']),
    ctl(['role', 'grant-permission', 'reader', 'read', 'k1'], { expect: { stdout: 'Role reader updated\n' } }),
    ctl(['role', 'grant-permission', 'reader', 'write', 'r/a', 'r/c']),
    ctl(['role', 'grant-permission', 'reader', 'readwrite', '--prefix', 'p/']),
    ctl(['role', 'grant-permission', 'reader', 'read', '--from-key', 'z']),
    ctl(['role', 'grant-permission', 'writer', 'readwrite', 'k1']),
    ctl(['role', 'grant-permission', 'reader', 'rw', 'k2']), // not a permission type: etcdctl's error
    ctl(['role', 'grant-permission', 'nosuch', 'read', 'k2'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: role name not found\n' } }),
    ctl(['role', 'get', 'reader'], { expect: { stdout: '\t[p/, p0) (prefix p/)\n' } }),
    ctl(['role', 'get', 'reader', '-w', 'json']),
    ctl(['role', 'get', 'nosuch'], { expect: { exit: FAILED } }),
    ctl(['role', 'list']),
    ctl(['role', 'list', '-w', 'json']),
    ctl(['role', 'revoke-permission', 'reader', 'k1'], { expect: { stdout: 'Permission of key k1 is revoked from role reader\n' } }),
    ctl(['role', 'revoke-permission', 'reader', 'k1'], {
      expect: { exit: FAILED, stderr: 'Error: etcdserver: permission is not granted to the role\n' },
    }),
    ctl(['role', 'revoke-permission', 'reader', 'r/a', 'r/c']),
    ctl(['role', 'revoke-permission', 'reader', '--from-key', 'z']),
    ctl(['role', 'get', 'reader']),

    ctl(['user', 'grant-role', 'alice', 'reader'], { expect: { stdout: 'Role reader is granted to user alice\n' } }),
    ctl(['user', 'grant-role', 'alice', 'writer']),
    ctl(['user', 'grant-role', 'alice', 'nosuch'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: role name not found\n' } }),
    ctl(['user', 'grant-role', 'nobody', 'reader'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: user name not found\n' } }),
    ctl(['user', 'get', 'alice']),
    ctl(['user', 'get', 'alice', '--detail']),
    ctl(['user', 'get', 'alice', '-w', 'json']),
    ctl(['user', 'revoke-role', 'alice', 'reader'], { expect: { stdout: 'Role reader is revoked from user alice\n' } }),
    ctl(['user', 'revoke-role', 'alice', 'reader'], {
      expect: { exit: FAILED, stderr: 'Error: etcdserver: role is not granted to the user\n' },
    }),
    ctl(['user', 'get', 'alice']),

    ctl(['user', 'passwd', 'alice', '--interactive=false'], { stdin: 'newpw\n', expect: { stdout: 'Password updated\n' } }),
    ctl(['user', 'passwd', 'nobody', '--interactive=false'], { stdin: 'x\n', expect: { exit: FAILED } }),
    ctl(['user', 'delete', 'bob'], { expect: { stdout: 'User bob deleted\n' } }),
    ctl(['user', 'delete', 'bob'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: user name not found\n' } }),
    ctl(['role', 'delete', 'writer'], { expect: { stdout: 'Role writer deleted\n' } }),
    ctl(['role', 'delete', 'writer'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: role name not found\n' } }),
    // Deleting a role takes it away from its users.
    ctl(['user', 'get', 'alice']),
    ctl(['user', 'list']),
    ctl(['role', 'list']),
    // None of the above moved the store revision.
    ctl(['get', 'x', '-w', 'json'], { expect: { stdout: '"revision":1,' } }),
  ],
};

const authEnforce: Case = {
  name: 'auth-enforce',
  shows: 'auth enable needs root; with auth on, get/put/del/txn/watch are allowed or denied by prefix permissions, logins fail as in etcd, root-only calls are refused to users, and auth disable restores open access',
  steps: [
    ctl(['put', 'app/seed', '0']), // rev 2
    ctl(['put', 'other', '0']), // rev 3
    ctl(['auth', 'enable'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: root user does not exist\n' } }),
    ctl(['user', 'add', 'root', '--new-user-password=rootpw', '--interactive=false']),
    ctl(['user', 'add', 'alice', '--new-user-password=apw', '--interactive=false']),
    ctl(['user', 'add', 'bob:bpw']),
    ctl(['role', 'add', 'rw']),
    ctl(['role', 'grant-permission', 'rw', 'readwrite', '--prefix', 'app/']),
    ctl(['role', 'add', 'ro']),
    ctl(['role', 'grant-permission', 'ro', 'read', '--prefix', 'app/']),
    ctl(['role', 'grant-permission', 'ro', 'write', 'log/1']),
    ctl(['user', 'grant-role', 'alice', 'rw']),
    ctl(['user', 'grant-role', 'bob', 'ro']),
    // root has no root role yet: etcd answers "root user does not have root role" and etcdctl
    // then creates the role, grants it to root and enables again.
    ctl(['auth', 'enable'], {
      expect: { exit: 0, stdout: 'Authentication Enabled\n', stderr: 'etcdserver: root user does not have root role' },
    }),
    as(ROOT, ['auth', 'enable'], { expect: { exit: 0 } }),
    as(ROOT, ['role', 'list'], { expect: { stdout: 'ro\nroot\nrw\n' } }),
    as(ROOT, ['user', 'get', 'root']),
    as(ROOT, ['role', 'get', 'root']),

    // No user, wrong password, unknown user, password for a user without one.
    ctl(['put', 'app/x', '1'], { expect: { exit: FAILED, stderr: NO_USER } }),
    ctl(['get', 'other'], { expect: { exit: FAILED, stderr: NO_USER } }),
    ctl(['user', 'list'], { expect: { exit: FAILED, stderr: NO_USER } }),
    as('--user=root:wrong', ['get', 'other'], { expect: { exit: LOGIN_FAILED, stderr: BAD_LOGIN } }),
    as('--user=nobody:x', ['get', 'other'], { expect: { exit: LOGIN_FAILED, stderr: BAD_LOGIN } }),
    ctl(['--user=root', '--password=rootpw', 'get', 'other'], { expect: { exit: 0, stdout: 'other\n0\n' } }),
    as(ROOT, ['user', 'add', 'carol', '--no-password']),
    as('--user=carol:x', ['get', 'other'], { expect: { exit: LOGIN_FAILED, stderr: 'password was given for no password user' } }),

    // alice: readwrite on prefix app/.
    as(ALICE, ['put', 'app/a', '1'], { expect: { exit: 0, stdout: 'OK\n' } }), // rev 4
    as(ALICE, ['get', 'app/', '--prefix']),
    as(ALICE, ['get', 'app/', 'app0', '-w', 'json']), // exactly the prefix's range
    as(ALICE, ['get', 'app/a', '-w', 'json'], { expect: { stdout: '"revision":4,' } }),
    as(ALICE, ['put', 'other', '1'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['get', 'other'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['get', '', '--prefix'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['get', 'app/', '--from-key'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['get', 'app/', 'app1'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['del', 'other'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['del', 'app/', '--prefix', '--prev-kv'], { expect: { exit: 0 } }), // rev 5
    as(ALICE, ['put', 'app/b', '2']), // rev 6
    as(ALICE, ['txn', '-w', 'json'], { stdin: txnScript(['value("app/b") = "2"'], ['put app/c 3', 'get app/b'], ['get app/a']) }), // rev 7
    // Every key a txn touches is checked: compares, and both branches whichever one runs.
    as(ALICE, ['txn'], { stdin: txnScript(['value("other") = "0"'], ['put app/d 4'], []), expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['txn'], { stdin: txnScript(['value("app/b") = "2"'], ['put app/d 4'], ['put other 5']), expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['txn'], { stdin: txnScript([], ['put app/d 4', 'del other'], []), expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['txn'], { stdin: txnScript([], ['get other'], []), expect: { exit: FAILED, stderr: DENIED } }),
    watch([ALICE, '--rev=1', '--prefix', 'app/'], untilText('app/c\n3\n'), { expect: { stdout: 'DELETE\napp/seed\n' } }),
    watch([ALICE, '--rev=1', 'other'], untilText('never printed'), {
      expect: { exit: WATCH_CANCELLED, stderr: 'watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)' },
    }),
    watch([ALICE, '--rev=1', '--prefix', 'app'], untilText('never printed'), { expect: { exit: WATCH_CANCELLED } }),

    // bob: read on prefix app/, write on the single key log/1.
    as(BOB, ['get', 'app/', '--prefix', '--keys-only'], { expect: { exit: 0, stdout: 'app/b\n' } }),
    as(BOB, ['put', 'app/b', 'x'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(BOB, ['del', 'app/b'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(BOB, ['put', 'log/1', 'x'], { expect: { exit: 0 } }), // rev 8
    as(BOB, ['get', 'log/1'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(BOB, ['put', 'log/2', 'x'], { expect: { exit: FAILED, stderr: DENIED } }),
    watch([BOB, '--rev=1', '--prefix', 'app/', '-w', 'json'], untilText('"value":"Mw=="')),

    // Calls etcd reserves for root.
    as(ALICE, ['user', 'list'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['user', 'get', 'alice']),
    as(ALICE, ['user', 'get', 'bob']),
    as(ALICE, ['role', 'get', 'rw']),
    as(ALICE, ['role', 'add', 'mine'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['user', 'passwd', 'alice', '--interactive=false'], { stdin: 'x\n' }),
    as(ALICE, ['auth', 'disable'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ALICE, ['endpoint', 'hashkv'], { expect: { exit: FAILED } }),
    as(ALICE, ['defrag'], { expect: { exit: FAILED } }),
    as(ALICE, ['endpoint', 'status', '-w', 'json']),
    as(ROOT, ['endpoint', 'hashkv', '-w', 'json']),
    as(ALICE, ['compaction', '2'], { expect: { exit: 0 } }), // etcd 3.4 checks no permission on compaction
    as(ROOT, ['get', '', '--prefix', '-w', 'json'], { expect: { stdout: '"revision":8,' } }),

    // root changes alice's password and role; the old password and the old role stop working.
    as(ROOT, ['user', 'passwd', 'alice', '--interactive=false'], { stdin: 'apw2\n' }),
    as(ALICE, ['get', 'app/b'], { expect: { exit: LOGIN_FAILED, stderr: BAD_LOGIN } }),
    as('--user=alice:apw2', ['get', 'app/b'], { expect: { exit: 0, stdout: 'app/b\n2\n' } }),
    as(ROOT, ['user', 'revoke-role', 'alice', 'rw']),
    as('--user=alice:apw2', ['get', 'app/b'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ROOT, ['role', 'grant-permission', 'ro', 'readwrite', 'other']),
    as(BOB, ['put', 'other', 'bob']), // rev 9
    as(ROOT, ['role', 'revoke-permission', 'ro', '--prefix', 'app/']),
    as(BOB, ['get', 'app/b'], { expect: { exit: FAILED, stderr: DENIED } }),
    as(ROOT, ['role', 'delete', 'ro']),
    as(BOB, ['get', 'other'], { expect: { exit: FAILED, stderr: DENIED } }),

    // The root user and role cannot be taken away while auth is on.
    as(ROOT, ['user', 'revoke-role', 'root', 'root'], { expect: { exit: FAILED } }),
    as(ROOT, ['user', 'delete', 'root'], { expect: { exit: FAILED } }),
    as(ROOT, ['role', 'delete', 'root'], { expect: { exit: FAILED } }),

    as(ROOT, ['auth', 'disable'], { expect: { exit: 0, stdout: 'Authentication Disabled\n' } }),
    ctl(['auth', 'disable']),
    ctl(['put', 'other', 'open'], { expect: { exit: 0 } }), // rev 10
    ctl(['user', 'list']),
    // --user with auth off: etcdctl still authenticates first.
    as('--user=alice:apw2', ['get', 'other'], { expect: { exit: 0, stderr: 'etcdserver: authentication is not enabled' } }),
    as('--user=alice:wrong', ['get', 'other']),
    as('--user=nobody:x', ['get', 'other']),
    ctl(['get', '', '--prefix', '-w', 'json'], { expect: { stdout: '"revision":10,' } }),
  ],
};

/**
 * The same logins and checks with JWT tokens (`--auth-token=jwt,...`, keys made by openssl in
 * the scratch dir) and the cheapest bcrypt cost: token format and hashing cost change nothing
 * etcdctl shows.
 */
function jwtCase(signMethod: 'RS256' | 'ES256'): Case {
  const keys = `\${DIR}/tls/jwt-${signMethod.toLowerCase()}`;
  return {
    name: `auth-jwt-${signMethod.toLowerCase()}`,
    shows: `with --auth-token=jwt (${signMethod}) and --bcrypt-cost=4, logins, wrong passwords and permission checks are as with simple tokens`,
    setup: writeJwtKeys,
    serverFlags: [`--auth-token=jwt,pub-key=${keys}.pub,priv-key=${keys}.key,sign-method=${signMethod},ttl=10m`, '--bcrypt-cost=4'],
    steps: [
      ctl(['user', 'add', 'root', '--new-user-password=rootpw', '--interactive=false']),
      ctl(['user', 'add', 'alice:apw']),
      ctl(['role', 'add', 'rw']),
      ctl(['role', 'grant-permission', 'rw', 'readwrite', '--prefix', 'app/']),
      ctl(['user', 'grant-role', 'alice', 'rw']),
      ctl(['auth', 'enable'], { expect: { exit: 0, stdout: 'Authentication Enabled\n' } }),
      as(ROOT, ['put', 'other', '0'], { expect: { exit: 0 } }), // rev 2
      as(ALICE, ['put', 'app/a', '1'], { expect: { exit: 0 } }), // rev 3
      as(ALICE, ['get', 'app/', '--prefix', '-w', 'json'], { expect: { stdout: '"revision":3,' } }),
      as(ALICE, ['get', 'other'], { expect: { exit: FAILED, stderr: DENIED } }),
      as(ALICE, ['txn'], { stdin: txnScript([], ['put app/b 2', 'put other 2'], []), expect: { exit: FAILED, stderr: DENIED } }),
      watch([ALICE, '--rev=1', '--prefix', 'app/'], untilText('app/a\n1\n')),
      watch([ALICE, '--rev=1', 'other'], untilText('never printed'), { expect: { exit: WATCH_CANCELLED } }),
      as('--user=alice:wrong', ['get', 'app/a'], { expect: { exit: LOGIN_FAILED, stderr: BAD_LOGIN } }),
      ctl(['get', 'app/a'], { expect: { exit: FAILED, stderr: NO_USER } }),
      as(ROOT, ['user', 'passwd', 'alice', '--interactive=false'], { stdin: 'apw2\n' }),
      as(ALICE, ['get', 'app/a'], { expect: { exit: LOGIN_FAILED, stderr: BAD_LOGIN } }),
      as('--user=alice:apw2', ['get', 'app/a'], { expect: { exit: 0, stdout: 'app/a\n1\n' } }),
      as(ROOT, ['auth', 'disable'], { expect: { exit: 0 } }),
      ctl(['get', '', '--prefix', '-w', 'json'], { expect: { stdout: '"revision":3,' } }),
    ],
  };
}

/** The auth cases, in the order they run. */
export const AUTH_CASES: readonly Case[] = [authManage, authEnforce, jwtCase('RS256'), jwtCase('ES256')];
