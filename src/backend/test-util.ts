/** Test support for the engine's own tests (not a test file): scratch directories. */
import { scratchDir as pkgScratchDir } from '../pkg';

/** A fresh directory `floe-<tag>-XXXXXX` under the OS temp dir, removed when the process exits. */
export function scratchDir(tag: string): string {
  return pkgScratchDir(`floe-${tag}-`);
}
