/**
 * One process per data dir. etcd gets this from flock(2) on its WAL files; Node has no
 * flock or fcntl lock API, so Floe uses a lock file instead:
 *
 * - Taking it: create `<data-dir>/floe.lock` with O_CREAT|O_EXCL (atomic on local file
 *   systems: exactly one of two racing creators succeeds) and write our pid into it.
 * - Unlike a flock, the file outlives a process killed with SIGKILL. So a lock held by a pid
 *   that no longer exists is stale and is taken over; a lock held by a live pid is refused
 *   with a message naming that pid and the file.
 * - Taking over a stale lock is itself a race with other starters: the stale file is renamed
 *   to a name of our own first (only one racer's rename succeeds), checked to still be the
 *   stale one, and only then removed before creating ours again.
 * - Releasing removes the file only if it still holds our pid.
 *
 * Limits, stated: a pid reused by an unrelated process makes a stale lock look live (start-up
 * is refused, the message says which file to remove: the safe direction); a lock file whose
 * pid line is missing (a starter killed between create and write) counts as live for
 * `EMPTY_LOCK_GRACE_MS`, then as stale; the lock does not exclude processes that do not use
 * it (real etcd on the same dir).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FloeError } from '../pkg';

/** File name of the lock inside the data dir. */
export const LOCK_FILE_NAME = 'floe.lock';
/** How long a lock file without a pid is taken to be mid-creation by a live starter. */
export const EMPTY_LOCK_GRACE_MS = 2000;
const TAKEOVER_ATTEMPTS = 3;

export const ERR_DATA_DIR_LOCKED = 'ERR_DATA_DIR_LOCKED';

/** A held lock. */
export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file if it is still ours; idempotent. */
  release(): void;
}

export interface LockOptions {
  /** The pid written into the lock (default process.pid). */
  readonly pid?: number;
  /** Whether a process exists (default: signal 0). */
  readonly isAlive?: (pid: number) => boolean;
  readonly nowMs?: () => number;
}

/** Whether `pid` names a live process: signal 0 checks existence without signalling. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `dir` if needed (mode 0700, as etcd) and takes its lock; throws
 * ERR_DATA_DIR_LOCKED when another live process holds it.
 */
export function lockDataDir(dir: string, opts: LockOptions = {}): DataDirLock {
  const pid = opts.pid ?? process.pid;
  const isAlive = opts.isAlive ?? processIsAlive;
  const nowMs = opts.nowMs ?? Date.now;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lockPath = path.join(dir, LOCK_FILE_NAME);

  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
    if (tryCreate(lockPath, pid)) return held(lockPath, pid);
    const holder = readHolder(lockPath);
    if (holder === 'gone') continue; // released between our create and read: try again
    const live =
      holder.pid === null ? nowMs() - holder.mtimeMs < EMPTY_LOCK_GRACE_MS : holder.pid === pid || isAlive(holder.pid);
    if (live) {
      const who = holder.pid === null ? 'a process starting on it' : `process ${holder.pid}`;
      throw new FloeError(
        ERR_DATA_DIR_LOCKED,
        `data dir ${dir} is in use by ${who} (lock file ${lockPath}); if no Floe process uses it, remove the lock file`,
      );
    }
    removeStale(lockPath, holder.text);
  }
  throw new FloeError(ERR_DATA_DIR_LOCKED, `data dir ${dir}: could not take lock file ${lockPath} (others keep taking it)`);
}

function tryCreate(lockPath: string, pid: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, `${pid}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readHolder(lockPath: string): { pid: number | null; text: string; mtimeMs: number } | 'gone' {
  try {
    const text = fs.readFileSync(lockPath, 'utf8');
    const mtimeMs = fs.statSync(lockPath).mtimeMs;
    const m = /^(\d+)\n$/.exec(text);
    const pid = m === null ? null : Number(m[1]);
    return { pid: pid !== null && Number.isSafeInteger(pid) && pid > 0 ? pid : null, text, mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
}

/** Moves the stale lock aside, then deletes it if it is still the stale one we judged. */
function removeStale(lockPath: string, staleText: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another starter took it over
    throw e;
  }
  if (fs.readFileSync(aside, 'utf8') === staleText) {
    fs.unlinkSync(aside);
    return;
  }
  // We moved a fresh lock another starter had just created: put it back (never over one).
  try {
    fs.linkSync(aside, lockPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  fs.unlinkSync(aside);
}

function held(lockPath: string, pid: number): DataDirLock {
  let released = false;
  return {
    path: lockPath,
    release() {
      if (released) return;
      released = true;
      try {
        if (fs.readFileSync(lockPath, 'utf8') === `${pid}\n`) fs.unlinkSync(lockPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    },
  };
}
