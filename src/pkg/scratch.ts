/**
 * Scratch directories for tests and benchmarks: created under the OS temp dir and removed
 * when the process exits (each node:test file runs in its own process), pass or fail.
 * Set FLOE_KEEP_SCRATCH=1 to keep them for a post-mortem.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const dirs: string[] = [];
let hooked = false;

/** A fresh empty directory named `<prefix>XXXXXX` under the temp dir. */
export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  if (!hooked && process.env.FLOE_KEEP_SCRATCH !== '1') {
    hooked = true;
    process.on('exit', () => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}
