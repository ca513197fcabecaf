/** Test support for the engine's own tests (not a test file): scratch directories. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh directory under the OS temp dir, removed when the process exits. */
export function scratchDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `floe-${tag}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
