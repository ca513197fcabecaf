import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c, isFloeError } from '../pkg';
import type { Snapshot } from '../raft/types';
import {
  ERR_SNAP_CORRUPT,
  ERR_SNAP_CRC_MISMATCH,
  ERR_SNAP_EMPTY,
  ERR_SNAP_NO_DB,
  ERR_SNAP_NO_SNAPSHOT,
} from './errors';
import { Snapshotter, encodeSnapFile, snapName } from './snapshotter';
import { tempDir } from './test-util';

function snapAt(term: number, index: number, data = `state@${index}`): Snapshot {
  return {
    data: Buffer.from(data),
    metadata: { term, index, confState: { voters: [1n, 2n], learners: [3n], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  };
}

const plainSnap = (s: Snapshot) => ({ ...s, data: Buffer.from(s.data).toString() });

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isFloeError(e, code));
}

describe('Snapshotter', () => {
  it('writes snappb.Snapshot {crc = CRC-32C of data, data = raftpb.Snapshot} in a term-index named file', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s: Snapshot = {
        data: Buffer.from('x'),
        metadata: { index: 1, term: 1, confState: { voters: [9n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
      };
      await new Snapshotter(dir).saveSnap(s);
      const raft = Buffer.from('0a0178120a0a0408092800100118' + '01', 'hex');
      const crc = crc32c(raft);
      const varint: number[] = [];
      for (let v = crc; ; v = Math.floor(v / 128)) {
        if (v < 128) {
          varint.push(v);
          break;
        }
        varint.push((v % 128) | 128);
      }
      const expected = Buffer.concat([Buffer.from([0x08, ...varint, 0x12, raft.length]), raft]);
      assert.deepEqual(fs.readdirSync(dir), ['0000000000000001-0000000000000001.snap']);
      assert.deepEqual(fs.readFileSync(path.join(dir, snapName(1, 1))), expected);
      assert.equal(snapName(0xab, 0x1234), '00000000000000ab-0000000000001234.snap');
    } finally {
      cleanup();
    }
  });

  it('loads the newest snapshot and skips an empty one', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ss = new Snapshotter(dir);
      await rejectsWith(ss.load(), ERR_SNAP_NO_SNAPSHOT);
      await ss.saveSnap({ ...snapAt(0, 0), metadata: { ...snapAt(0, 0).metadata, index: 0 } });
      assert.deepEqual(fs.readdirSync(dir), [], 'an empty snapshot (index 0) is not written');
      for (const [t, i] of [[1, 5], [2, 30], [2, 12], [3, 31]] as const) await ss.saveSnap(snapAt(t, i));
      assert.deepEqual(plainSnap(await ss.load()), plainSnap(snapAt(3, 31)));
    } finally {
      cleanup();
    }
  });

  it('renames unreadable files to .broken and falls back to the next newest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ss = new Snapshotter(dir);
      for (const i of [10, 20, 30, 40]) await ss.saveSnap(snapAt(1, i));
      const flip = path.join(dir, snapName(1, 40));
      const b = fs.readFileSync(flip);
      b[b.length - 3]! ^= 1;
      fs.writeFileSync(flip, b);
      fs.writeFileSync(path.join(dir, snapName(1, 30)), '');
      fs.writeFileSync(path.join(dir, snapName(1, 25)), Buffer.from([0xff, 0xff]));
      assert.deepEqual(plainSnap(await ss.load()), plainSnap(snapAt(1, 20)));
      assert.deepEqual(fs.readdirSync(dir).sort(), [
        snapName(1, 10),
        snapName(1, 20),
        `${snapName(1, 25)}.broken`,
        `${snapName(1, 30)}.broken`,
        `${snapName(1, 40)}.broken`,
      ]);
      await rejectsWith(Snapshotter.read(`${flip}.broken`), ERR_SNAP_CRC_MISMATCH);
      await rejectsWith(Snapshotter.read(path.join(dir, `${snapName(1, 30)}.broken`)), ERR_SNAP_EMPTY);
      await rejectsWith(Snapshotter.read(path.join(dir, `${snapName(1, 25)}.broken`)), ERR_SNAP_CORRUPT);
    } finally {
      cleanup();
    }
  });

  it('loadNewestAvailable takes the newest snapshot the WAL records and leaves newer ones alone', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ss = new Snapshotter(dir);
      for (const i of [10, 20, 30]) await ss.saveSnap(snapAt(2, i));
      const s = await ss.loadNewestAvailable([{ index: 0, term: 0 }, { index: 20, term: 2 }, { index: 30, term: 1 }]);
      assert.equal(s.metadata.index, 20);
      assert.equal(fs.readdirSync(dir).length, 3, 'the unmatched newest file is kept');
      await rejectsWith(ss.loadNewestAvailable([{ index: 5, term: 2 }]), ERR_SNAP_NO_SNAPSHOT);
    } finally {
      cleanup();
    }
  });

  it('removes orphaned db.tmp files, keeps db, and purges the oldest snapshots beyond a count', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ss = new Snapshotter(dir);
      fs.writeFileSync(path.join(dir, 'db'), 'backend');
      fs.writeFileSync(path.join(dir, 'db.tmp.123'), 'defrag leftover');
      for (const i of [1, 2, 3, 4, 5, 6, 7]) await ss.saveSnap(snapAt(1, i));
      assert.deepEqual(await ss.snapNames(), [7, 6, 5, 4, 3, 2, 1].map((i) => snapName(1, i)));
      assert.equal(fs.existsSync(path.join(dir, 'db.tmp.123')), false);
      assert.deepEqual(await ss.purge(5), [snapName(1, 1), snapName(1, 2)]);
      assert.deepEqual(fs.readdirSync(dir).sort(), [...[3, 4, 5, 6, 7].map((i) => snapName(1, i)), 'db']);
    } finally {
      cleanup();
    }
  });

  it('stores backend snapshots as %016x.snap.db atomically and releases the ones before a snapshot', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ss = new Snapshotter(dir);
      assert.equal(path.basename(ss.dbFilePath(0x1f)), '000000000000001f.snap.db');
      await rejectsWith(ss.existingDbFilePath(0x1f), ERR_SNAP_NO_DB);
      assert.equal(await ss.saveDbFrom(Buffer.from('first'), 0x1f), 5);
      async function* chunks() {
        yield Buffer.from('se');
        yield Buffer.from('cond');
      }
      assert.equal(await ss.saveDbFrom(chunks(), 0x30), 6);
      assert.equal(await ss.saveDbFrom(Buffer.from('ignored'), 0x30), 7);
      assert.equal(fs.readFileSync(await ss.existingDbFilePath(0x30), 'utf8'), 'second', 'an existing one is kept');
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('tmp')), [], 'no temporary files left');
      assert.deepEqual(await ss.releaseSnapDbs(snapAt(1, 0x30)), ['000000000000001f.snap.db']);
      assert.deepEqual(fs.readdirSync(dir), ['0000000000000030.snap.db']);
    } finally {
      cleanup();
    }
  });

  it('a .snap file is exactly encodeSnapFile of its snapshot', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = snapAt(7, 99, 'y'.repeat(1000));
      await new Snapshotter(dir).saveSnap(s);
      assert.deepEqual(fs.readFileSync(path.join(dir, snapName(7, 99))), Buffer.from(encodeSnapFile(s)));
    } finally {
      cleanup();
    }
  });
});
