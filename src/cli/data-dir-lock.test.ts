import { test, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FloeError } from '../pkg';
import { EMPTY_LOCK_GRACE_MS, ERR_DATA_DIR_LOCKED, LOCK_FILE_NAME, lockDataDir, processIsAlive } from './data-dir-lock';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-lock-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const locked = (e: unknown): boolean => e instanceof FloeError && e.code === ERR_DATA_DIR_LOCKED;

/** A pid that is certainly dead: a child that has exited and been reaped. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  assert.ok(pid > 0 && !processIsAlive(pid));
  return pid;
}

test('creates the data dir (0700) and a lock file holding the pid; release removes it', () => {
  const dir = path.join(root, 'a', 'b');
  const lock = lockDataDir(dir, { pid: 4242, isAlive: () => true });
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8'), '4242\n');
  lock.release();
  assert.equal(fs.existsSync(lock.path), false);
  lock.release(); // idempotent
});

test('a lock held by a live process is refused, naming the pid and the file', () => {
  const first = lockDataDir(root, { pid: 111, isAlive: () => true });
  assert.throws(() => lockDataDir(root, { pid: 222, isAlive: (p) => p === 111 }), (e: unknown) => {
    assert.ok(locked(e));
    assert.match((e as Error).message, new RegExp(`^data dir ${root} is in use by process 111 \\(lock file ${first.path}\\)`));
    return true;
  });
  // The same pid twice is refused too: one process must not open a data dir twice.
  assert.throws(() => lockDataDir(root, { pid: 111, isAlive: () => false }), locked);
  first.release();
});

test('a lock left by a dead process is taken over', () => {
  fs.writeFileSync(path.join(root, LOCK_FILE_NAME), `${deadPid()}\n`);
  const lock = lockDataDir(root);
  assert.equal(fs.readFileSync(lock.path, 'utf8'), `${process.pid}\n`);
  assert.deepEqual(fs.readdirSync(root), [LOCK_FILE_NAME], 'no stale files left behind');
  lock.release();
});

test('a lock file without a pid is live for the grace period, stale after it', () => {
  const file = path.join(root, LOCK_FILE_NAME);
  fs.writeFileSync(file, '');
  const mtime = fs.statSync(file).mtimeMs;
  assert.throws(() => lockDataDir(root, { nowMs: () => mtime + EMPTY_LOCK_GRACE_MS - 1 }), (e: unknown) => locked(e) && /a process starting on it/.test((e as Error).message));
  const lock = lockDataDir(root, { nowMs: () => mtime + EMPTY_LOCK_GRACE_MS });
  lock.release();
});

test('release leaves a lock that is no longer ours alone', () => {
  const lock = lockDataDir(root, { pid: 1 });
  fs.writeFileSync(lock.path, '2\n');
  lock.release();
  assert.equal(fs.readFileSync(lock.path, 'utf8'), '2\n');
});

test('racing processes over a stale lock: exactly one wins', async () => {
  const stale = deadPid();
  fs.writeFileSync(path.join(root, LOCK_FILE_NAME), `${stale}\n`);
  const script = `
    const { lockDataDir } = require(${JSON.stringify(path.join(__dirname, 'data-dir-lock.js'))});
    try { lockDataDir(process.argv[1]); process.stdout.write('won'); setTimeout(() => {}, 800); }
    catch (e) { process.stdout.write(e.code === 'ERR_DATA_DIR_LOCKED' ? 'lost' : 'error ' + e.message); }`;
  const racers = Array.from({ length: 6 }, () =>
    new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['-e', script, root]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', () => resolve(out));
    }),
  );
  const results = await Promise.all(racers);
  assert.deepEqual(results.filter((r) => r === 'won').length, 1, results.join(','));
  assert.ok(results.every((r) => r === 'won' || r === 'lost'), results.join(','));
});
