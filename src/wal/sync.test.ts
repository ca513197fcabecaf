import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
// The module object itself (not an import wrapper): wal.ts's small saves call its fdatasyncSync.
import nodeFs = require('node:fs');
import { isFloeError } from '../pkg';
import { ERR_WAL_FAILED } from './errors';
import { makeEntries, tempDir } from './test-util';
import { WAL } from './wal';

/**
 * These tests wrap FileHandle.prototype.datasync and fs.fdatasyncSync (which the WAL uses for
 * saves of at most INLINE_SYNC_MAX_ENTRIES entries), this test file's process only, to see when
 * the WAL syncs relative to when save() resolves.
 */
type Datasync = (this: fsp.FileHandle) => Promise<void>;
let proto: { datasync: Datasync };
let original: Datasync;
let originalSync: typeof nodeFs.fdatasyncSync;
let events: string[] = [];
let failNext = false;

before(async () => {
  const { dir, cleanup } = tempDir();
  const h = await fsp.open(path.join(dir, 'probe'), 'w');
  proto = Object.getPrototypeOf(h) as { datasync: Datasync };
  await h.close();
  cleanup();
  original = proto.datasync;
  proto.datasync = async function (this: fsp.FileHandle): Promise<void> {
    events.push('sync-start');
    await new Promise((r) => setTimeout(r, 20));
    if (failNext) {
      failNext = false;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    await original.call(this);
    events.push('sync-end');
  };
  originalSync = nodeFs.fdatasyncSync;
  nodeFs.fdatasyncSync = (fd: number): void => {
    events.push('sync-start');
    if (failNext) {
      failNext = false;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    originalSync(fd);
    events.push('sync-end');
  };
});

after(() => {
  proto.datasync = original;
  nodeFs.fdatasyncSync = originalSync;
});

const syncs = (): number => events.filter((e) => e === 'sync-start').length;

describe('WAL syncing', () => {
  it('save() resolves only after its single fdatasync completed; a commit-only save does not sync', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, Buffer.from('m'));
      events = [];
      await w.save({ term: 1, vote: 1n, commit: 0 }, makeEntries(1, 50)).then(() => events.push('resolved'));
      assert.deepEqual(events, ['sync-start', 'sync-end', 'resolved']);

      events = [];
      await w.save({ term: 1, vote: 1n, commit: 50 }, []);
      assert.equal(syncs(), 0, 'only the commit index moved');
      await w.save({ term: 2, vote: 1n, commit: 50 }, []);
      assert.equal(syncs(), 1, 'a new term must be durable');
      await w.save({ term: 2, vote: 3n, commit: 50 }, []);
      assert.equal(syncs(), 2, 'a new vote must be durable');
      await w.saveSnapshot({ index: 10, term: 1 });
      assert.equal(syncs(), 3, 'a snapshot record is synced');
      await w.close();
    } finally {
      cleanup();
    }
  });

  it('unsafeNoSync never syncs', async () => {
    const { dir, cleanup } = tempDir();
    try {
      events = [];
      const w = await WAL.create(dir, Buffer.from('m'), { unsafeNoSync: true });
      await w.save({ term: 1, vote: 1n, commit: 0 }, makeEntries(1, 5));
      await w.close();
      assert.equal(syncs(), 0);
    } finally {
      cleanup();
    }
  });

  it('a failed fdatasync fails that save and every later one (ERR_WAL_FAILED); close still works', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, Buffer.from('m'));
      await w.save({ term: 1, vote: 1n, commit: 0 }, makeEntries(1, 5));
      failNext = true;
      await assert.rejects(w.save({ term: 1, vote: 1n, commit: 5 }, makeEntries(6, 6)), /EIO/);
      await assert.rejects(w.save({ term: 1, vote: 1n, commit: 6 }, makeEntries(7, 7)), (e: unknown) => isFloeError(e, ERR_WAL_FAILED));
      await assert.rejects(w.sync(), (e: unknown) => isFloeError(e, ERR_WAL_FAILED));
      await w.close();
    } finally {
      cleanup();
    }
  });
});
