/**
 * The `floe` process: flag errors with etcd's wording and exit code, etcd's start-up lines,
 * the data-dir lock between processes, and SIGTERM/SIGINT draining in-flight requests before
 * a clean exit 0. Serving runs in a child process (test-serve-child.ts) over the member TEST
 * DOUBLE; flag handling goes through the real entry point (main.js).
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { etcdctl, etcdctlError } from '../api/test-harness';
import { LOCK_FILE_NAME } from './data-dir-lock';

const MAIN = path.join(__dirname, 'main.js');
const CHILD = path.join(__dirname, 'test-serve-child.js');
let root: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-serve-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs `floe ARGS` through the real entry point. */
function floe(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['-e', `require(${JSON.stringify(MAIN)}).main(process.argv.slice(1))`, '--', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '' },
  });
}

interface Served {
  readonly child: ChildProcess;
  readonly endpoint: string;
  stderr(): string;
  exit: Promise<number | null>;
}

/** Starts the serve command over the double on a free port; resolves once it serves. */
async function startServing(dataDir: string, opts: { env?: Record<string, string>; listen?: string } = {}): Promise<Served> {
  const listen = opts.listen ?? 'http://127.0.0.1:0';
  const child = spawn(process.execPath, [CHILD, `--data-dir=${dataDir}`, `--listen-client-urls=${listen}`, '--advertise-client-urls=http://127.0.0.1:2379'], {
    env: { PATH: process.env.PATH ?? '', ...opts.env },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 200; i++) {
    const m = /serving insecure client requests on ([\d.]+:\d+), this is strongly discouraged!/.exec(err);
    if (m !== null) return { child, endpoint: m[1]!, stderr: () => err, exit };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not come up:\n${err}`);
}

test('floe --bogus: etcd\'s message, the usage, exit 2', () => {
  const r = floe(['--bogus']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^flag provided but not defined: -bogus\nUsage:\n\n {2}floe \[flags\]\n/);
  assert.equal(r.stdout, '');
  const bad = floe(['--snapshot-count', 'abc']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.split('\n')[0], 'invalid value "abc" for flag -snapshot-count: parse error');
});

test('floe --version, floe --help, and an invalid combination (exit 1)', () => {
  const v = floe(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^Floe Version: \d+\.\d+\.\d+\netcd API Version: 3\.4\nNode Version: v\d+/);
  const h = floe(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^ {2}--listen-client-urls 'http:\/\/localhost:2379'$/m);
  const inv = floe(['--listen-client-urls=http://127.0.0.1:1']);
  assert.equal(inv.status, 1);
  assert.match(inv.stderr, / E \| etcdmain: error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly\. See 'floe --help'\.\n/);
});

test('serves etcd clients, logs etcd\'s start-up lines, holds the lock; SIGTERM drains a slow put and exits 0', async () => {
  const dir = path.join(root, 'm1');
  const s = await startServing(dir, { env: { FLOE_TEST_WRITE_DELAY_MS: '800' } });
  try {
    const log = s.stderr();
    for (const re of [
      / I \| etcdmain: Floe Version: /,
      / I \| embed: data dir = /,
      / I \| embed: ready to serve client requests\n/,
      / N \| embed: serving insecure client requests on 127\.0\.0\.1:\d+, this is strongly discouraged!\n/,
    ]) {
      assert.match(log, re);
    }
    assert.ok(log.indexOf('ready to serve client requests') < log.indexOf('serving insecure client requests'));
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8'), `${s.child.pid}\n`);

    const put = etcdctl(s.endpoint, ['put', 'k', 'v']);
    await new Promise((r) => setTimeout(r, 300)); // the put is now inside the (slow) member
    s.child.kill('SIGTERM');
    const r = await put;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'OK\n');
    assert.equal(await s.exit, 0);
    assert.match(s.stderr(), / N \| pkg\/osutil: received terminated signal, shutting down\.\.\.\n/);
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE_NAME)), false, 'the lock is released');
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('a second process on the same data dir refuses clearly; the first keeps serving; SIGINT stops it', async () => {
  const dir = path.join(root, 'm2');
  const a = await startServing(dir);
  try {
    const b = spawnSync(process.execPath, [CHILD, `--data-dir=${dir}`, '--listen-client-urls=http://127.0.0.1:0', '--advertise-client-urls=http://127.0.0.1:2379'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(b.status, 1);
    assert.match(b.stderr, new RegExp(` C \\| etcdmain: data dir ${dir} is in use by process ${a.child.pid} \\(lock file ${path.join(dir, LOCK_FILE_NAME)}\\)`));
    assert.doesNotMatch(b.stderr, /ready to serve/);
    const get = await etcdctl(a.endpoint, ['put', 'still', 'here']);
    assert.equal(get.code, 0, get.stderr);
    a.child.kill('SIGINT');
    assert.equal(await a.exit, 0);
    assert.match(a.stderr(), / N \| pkg\/osutil: received interrupt signal, shutting down\.\.\.\n/);
  } finally {
    a.child.kill('SIGKILL');
  }
});

test('a lock left by a killed process does not block the next start', async () => {
  const dir = path.join(root, 'm3');
  const a = await startServing(dir);
  a.child.kill('SIGKILL');
  await a.exit;
  assert.ok(fs.existsSync(path.join(dir, LOCK_FILE_NAME)), 'SIGKILL leaves the lock file');
  const b = await startServing(dir, { listen: 'http://localhost:0' });
  try {
    assert.match(b.endpoint, /^127\.0\.0\.1:\d+$/, 'localhost is bound as 127.0.0.1');
    const r = await etcdctl(b.endpoint, ['get', '']);
    assert.equal(etcdctlError(r), 'Error: etcdserver: key is not provided');
  } finally {
    b.child.kill('SIGTERM');
    await b.exit;
  }
});

test('the warm-up runs on a scratch member before "ready to serve client requests" and leaves nothing behind', async () => {
  const tmp = fs.mkdtempSync(path.join(root, 'tmp-'));
  const s = await startServing(path.join(root, 'w1'), { env: { FLOE_TEST_WARM_UP: '1', TMPDIR: tmp } });
  try {
    const log = s.stderr();
    const m = / I \| floe: warmed up the request paths in (\d+)ms \((\d+) calls, (\d+) big ranges\)\n/.exec(log);
    assert.ok(m !== null, log);
    assert.equal(Number(m[3]), 2);
    assert.ok(log.indexOf('warmed up the request paths') < log.indexOf('ready to serve client requests'));
    assert.deepEqual(fs.readdirSync(tmp), [], 'the scratch data dir is removed');
    // The warm-up's writes went to its scratch member, not to the member that serves.
    const r = await etcdctl(s.endpoint, ['get', 'warm-up/', '--prefix', '--keys-only']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  } finally {
    s.child.kill('SIGTERM');
    await s.exit;
  }
});

test('--experimental-warm-up=false skips the warm-up; a warm-up that cannot start is logged and serving goes on', async () => {
  const off = await startServing(path.join(root, 'w2'), { env: { FLOE_TEST_WARM_UP: '1', ETCD_EXPERIMENTAL_WARM_UP: 'false' } });
  off.child.kill('SIGTERM');
  assert.equal(await off.exit, 0);
  assert.doesNotMatch(off.stderr(), /warm/);
  const failing = await startServing(path.join(root, 'w3'), { env: { FLOE_TEST_WARM_UP: '1', TMPDIR: path.join(root, 'no-such-dir') } });
  try {
    assert.match(failing.stderr(), / W \| floe: warm-up failed, serving without it: ENOENT[^\n]*no-such-dir/);
    const r = await etcdctl(failing.endpoint, ['put', 'k', 'v']);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    failing.child.kill('SIGTERM');
    await failing.exit;
  }
});

test('SIGTERM during the warm-up stops it, removes its scratch member and exits 0 without serving', async () => {
  const tmp = fs.mkdtempSync(path.join(root, 'tmp-'));
  const child = spawn(process.execPath, [CHILD, `--data-dir=${path.join(root, 'w4')}`, '--listen-client-urls=http://127.0.0.1:0', '--advertise-client-urls=http://127.0.0.1:2379'], {
    env: { PATH: process.env.PATH ?? '', FLOE_TEST_WARM_UP: '1', TMPDIR: tmp },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // The scratch data dir appears once the warm-up has begun.
    for (let i = 0; i < 200 && fs.readdirSync(tmp).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fs.readdirSync(tmp).length, 1, err);
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.doesNotMatch(err, /ready to serve|warmed up|warm-up failed/);
    assert.deepEqual(fs.readdirSync(tmp), []);
  } finally {
    child.kill('SIGKILL');
  }
});
