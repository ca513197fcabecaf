/**
 * Prepares the next segment file ahead of time, as etcd's filePipeline does: `0.tmp` and
 * `1.tmp` alternate in the WAL directory, each created and sized to the segment size while
 * the current segment is still being written, so a cut only writes its header and renames.
 *
 * Node has no fallocate; the file is extended with ftruncate, which makes it sparse. Its
 * content (zeros after the last record) is the same as etcd's, which is all the format needs.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { assert } from '../pkg';

/** A prepared, not yet renamed segment file. */
export interface TmpSegment {
  readonly path: string;
  readonly handle: fsp.FileHandle;
}

export class FilePipeline {
  private count = 0;
  private pending: Promise<TmpSegment> | null = null;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly sizeBytes: number,
  ) {
    this.prefetch();
  }

  private prefetch(): void {
    // Alternating names: the file handed out last is renamed before the next open().
    const file = path.join(this.dir, `${this.count % 2}.tmp`);
    this.count++;
    const p = (async (): Promise<TmpSegment> => {
      const handle = await fsp.open(file, 'w', 0o600);
      try {
        await handle.truncate(this.sizeBytes);
      } catch (e) {
        await handle.close();
        throw e;
      }
      return { path: file, handle };
    })();
    // The error, if any, is reported to whoever calls open(); until then it is not unhandled.
    p.catch(() => undefined);
    this.pending = p;
  }

  /** A fresh, sized segment file; rename it before calling open() again. */
  async open(): Promise<TmpSegment> {
    assert(!this.closed && this.pending !== null, 'file pipeline used after close');
    const p = this.pending;
    this.pending = null;
    const seg = await p;
    this.prefetch();
    return seg;
  }

  /** Removes the prepared file that nobody took. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    if (p === null) return;
    let seg: TmpSegment;
    try {
      seg = await p;
    } catch {
      return; // it was never created
    }
    await seg.handle.close();
    await fsp.rm(seg.path, { force: true });
  }
}
