/**
 * Test support (not a test file): the reference `bolt` command over the real bbolt library
 * (../shared/tools/bolt), built once per machine, and thin wrappers around its verbs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | null = null;

/**
 * Finds shared/tools/bolt/build.sh in a folder beside an ancestor of the compiled file or of
 * the working directory (CI: ../shared beside the clone; builds may also live outside it).
 */
function findBuildScript(): string {
  const tried: string[] = [];
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'shared', 'tools', 'bolt', 'build.sh');
      tried.push(candidate);
      if (fs.existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`reference tool missing: no shared/tools/bolt/build.sh beside any ancestor (../shared must sit beside the repository); tried ${tried[0]}`);
}

/** Path of the built reference tool; builds it (and installs Go/bbolt if needed) on first use. */
export function boltPath(): string {
  if (cached !== null) return cached;
  const build = findBuildScript();
  const out = execFileSync('bash', [build, '/tmp/floe-bolt-tool'], { encoding: 'utf8' }).trim().split('\n');
  cached = out[out.length - 1]!;
  return cached;
}

export interface BoltRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the reference tool with `args`, feeding `input` on stdin. */
export function bolt(args: readonly string[], input?: string): BoltRun {
  const r = spawnSync(boltPath(), args, { input, encoding: 'utf8', maxBuffer: 1 << 30 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `bolt check FILE`: throws with bbolt's own findings unless the file is consistent. */
export function boltCheck(file: string): void {
  const r = bolt(['check', file]);
  if (r.status !== 0) throw new Error(`bolt check ${file} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

/** `bolt dump FILE` as lines. */
export function boltDump(file: string): string[] {
  const r = bolt(['dump', file]);
  if (r.status !== 0) throw new Error(`bolt dump ${file} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** `bolt load`: writes a new real bbolt file holding exactly `lines`. */
export function boltLoad(file: string, lines: readonly string[], opts: { freelist: 'array' | 'hashmap'; noSyncFreelist?: boolean; fill?: number }): void {
  const args = ['load', '--freelist', opts.freelist];
  if (opts.noSyncFreelist === true) args.push('--no-sync-freelist');
  if (opts.fill !== undefined) args.push('--fill', String(opts.fill));
  args.push(file);
  const r = bolt(args, lines.join('\n') + '\n');
  if (r.status !== 0) throw new Error(`bolt load failed: ${r.stderr}`);
}
