import * as fsp from 'node:fs/promises';

/** fsyncs a directory so a rename or unlink in it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
