import { describe, it, mock } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
// The module object itself (not an import wrapper), so a spy on it is what wal.ts calls.
import nodeFs = require('node:fs');
import { AssertionError, isFloeError } from '../pkg';
import type { HardState } from '../raft/types';
import {
  ERR_WAL_BAD_NAME,
  ERR_WAL_CLOSED,
  ERR_WAL_CORRUPT,
  ERR_WAL_EXISTS,
  ERR_WAL_FILE_NOT_FOUND,
  ERR_WAL_MAX_ENTRY_SIZE,
  ERR_WAL_METADATA_CONFLICT,
  ERR_WAL_SLICE_OUT_OF_RANGE,
  ERR_WAL_SNAPSHOT_MISMATCH,
  ERR_WAL_SNAPSHOT_NOT_FOUND,
} from './errors';
import { parseWalName, walName } from './names';
import { decodeEntry, decodeHardState, encodeWalSnapshot } from './raftpb-codec';
import { RECORD_CRC, RECORD_METADATA, RECORD_SNAPSHOT, RECORD_STATE, RecordWriter } from './record';
import { dumpSegments, makeEntries, plain, tempDir } from './test-util';
import { INLINE_SYNC_MAX_ENTRIES, MIN_SEGMENT_SIZE_BYTES, WAL } from './wal';

const META = Buffer.from('floe-test-metadata');
const SMALL = { segmentSizeBytes: MIN_SEGMENT_SIZE_BYTES };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isFloeError(e), `expected FloeError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function reopen(dir: string, snap = { index: 0, term: 0 }, options = SMALL) {
  const w = await WAL.open(dir, snap, options);
  const contents = await w.readAll();
  return { w, ...contents };
}

function hs(term: number, commit: number, vote = 1n): HardState {
  return { term, vote, commit };
}

describe('WAL', () => {
  it('reads back the metadata, hard state and entries it saved', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const walDir = path.join(dir, 'wal');
      const w = await WAL.create(walDir, META);
      const ents = makeEntries(1, 10);
      await w.save(hs(1, 5), ents);
      await w.close();
      assert.deepEqual(fs.readdirSync(dir).sort(), ['wal'], 'the .tmp directory was renamed away');
      assert.equal(fs.statSync(path.join(walDir, walName(0, 0))).size, 64_000_000, 'preallocated to etcd segment size');

      const r = await reopen(walDir);
      assert.deepEqual(Buffer.from(r.metadata), META);
      assert.deepEqual(r.hardState, hs(1, 5));
      assert.deepEqual(plain(r.entries), plain(ents));
      assert.equal(r.repaired, false);
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('refuses to create over an existing log', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.close();
      await rejectsWith(WAL.create(dir, META, SMALL), ERR_WAL_EXISTS);
      assert.equal(fs.existsSync(`${dir}.tmp`), false);
    } finally {
      cleanup();
    }
  });

  it('spreads many entries over segments named seq-index and reads them all back', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      const all = makeEntries(1, 400);
      for (let i = 0; i < all.length; i += 7) {
        const batch = all.slice(i, i + 7);
        await w.save(hs(1, batch[0]!.index), batch);
        if (batch[batch.length - 1]!.index >= 150 && batch[0]!.index <= 150) {
          await w.saveSnapshot({ index: 150, term: 1 });
        }
      }
      await w.close();

      const segs = await dumpSegments(dir);
      assert.ok(segs.length >= 8, `expected several segments, got ${segs.length}`);
      let lastIndex = 0;
      segs.forEach((s, seq) => {
        const parsed = parseWalName(s.name)!;
        assert.equal(parsed.seq, seq, 'sequence numbers run without gaps');
        if (seq > 0) assert.equal(parsed.index, lastIndex + 1, `${s.name} starts after the last entry of the previous one`);
        for (const r of s.records) if (r.type === 2) lastIndex = decodeEntry(r.data).index;
        if (seq < segs.length - 1) {
          assert.equal(s.endOffset, s.fileBytes, `${s.name} was truncated to its records when cut`);
          assert.ok(s.fileBytes >= MIN_SEGMENT_SIZE_BYTES);
        }
      });

      const r = await reopen(dir);
      assert.deepEqual(plain(r.entries), plain(all));
      assert.deepEqual(r.hardState, hs(1, 400 - ((400 - 1) % 7)));
      await r.w.close();

      const mid = await reopen(dir, { index: 150, term: 1 });
      assert.deepEqual(plain(mid.entries), plain(all.slice(150)), 'entries after the snapshot only');
      await mid.w.close();
    } finally {
      cleanup();
    }
  });

  it('chains the crc across segments: each segment starts with a crc record carrying the previous one last crc', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      let last: HardState = hs(0, 0);
      for (let i = 1; i <= 200; i += 5) {
        last = hs(1 + Math.floor(i / 50), i);
        await w.save(last, makeEntries(i, i + 4, last.term));
      }
      await w.close();
      const segs = await dumpSegments(dir);
      assert.ok(segs.length >= 3);
      for (let i = 1; i < segs.length; i++) {
        const prev = segs[i - 1]!.records;
        const [crcRec, metaRec, stateRec] = segs[i]!.records;
        assert.equal(crcRec!.type, RECORD_CRC);
        assert.equal(crcRec!.crc, prev[prev.length - 1]!.crc, `segment ${i} continues the chain`);
        assert.equal(metaRec!.type, RECORD_METADATA);
        assert.deepEqual(Buffer.from(metaRec!.data), META);
        assert.equal(stateRec!.type, RECORD_STATE, 'the last hard state is repeated at the head');
        const prevStates = prev.filter((r) => r.type === RECORD_STATE);
        assert.deepEqual(decodeHardState(stateRec!.data), decodeHardState(prevStates[prevStates.length - 1]!.data));
      }
    } finally {
      cleanup();
    }
  });

  it('later entries replace the conflicting suffix of earlier ones', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(1, 2), makeEntries(1, 10, 1));
      await w.save(hs(2, 5), makeEntries(6, 8, 2));
      await w.close();
      const r = await reopen(dir);
      assert.deepEqual(plain(r.entries), plain([...makeEntries(1, 5, 1), ...makeEntries(6, 8, 2)]));
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('an entry that leaves a gap is slice out of range', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(1, 1), makeEntries(1, 3));
      await w.save(hs(1, 1), makeEntries(5, 5));
      await w.close();
      const w2 = await WAL.open(dir, { index: 0, term: 0 }, SMALL);
      await rejectsWith(w2.readAll(), ERR_WAL_SLICE_OUT_OF_RANGE);
      await w2.close();
    } finally {
      cleanup();
    }
  });

  it('appends after reopening, across cuts, and keeps everything readable', async () => {
    const { dir, cleanup } = tempDir();
    try {
      let w = await WAL.create(dir, META, SMALL);
      let next = 1;
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k < 10; k++, next += 3) await w.save(hs(round + 1, next), makeEntries(next, next + 2, round + 1));
        await w.close();
        const r = await reopen(dir);
        assert.equal(r.entries.length, next - 1);
        assert.deepEqual(r.hardState, hs(round + 1, next - 3));
        w = r.w;
      }
      await w.close();
      const r = await reopen(dir);
      const expected = [];
      for (let round = 0; round < 6; round++) expected.push(...makeEntries(round * 30 + 1, round * 30 + 30, round + 1).map((e) => e));
      assert.deepEqual(
        r.entries.map((e) => [e.index, e.term]),
        expected.map((e) => [e.index, e.term]),
      );
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('runs saves in call order even when the caller does not wait', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      const ps = [];
      for (let i = 1; i <= 60; i += 3) ps.push(w.save(hs(1, i), makeEntries(i, i + 2)));
      await Promise.all(ps);
      await w.close();
      const r = await reopen(dir);
      assert.deepEqual(plain(r.entries), plain(makeEntries(1, 60)));
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('keeps a commit-only hard state, which is written but not synced on its own', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(3, 1), makeEntries(1, 4, 3));
      await w.save(hs(3, 4), []);
      await w.save({ term: 0, vote: 0n, commit: 0 }, []); // empty: nothing to do
      await w.close();
      const r = await reopen(dir);
      assert.deepEqual(r.hardState, hs(3, 4));
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('syncs a save of at most INLINE_SYNC_MAX_ENTRIES entries on the loop thread, larger or background ones on the pool', async () => {
    const { dir, cleanup } = tempDir();
    const inline = mock.method(nodeFs, 'fdatasyncSync');
    try {
      const w = await WAL.create(dir, META, SMALL);
      const created = inline.mock.callCount();
      const edge = INLINE_SYNC_MAX_ENTRIES;
      await w.save(hs(2, 0), makeEntries(1, edge, 2));
      assert.equal(inline.mock.callCount(), created + 1, 'a save at the edge syncs inline');
      await w.save(hs(2, 0), makeEntries(edge + 1, 2 * edge + 1, 2));
      assert.equal(inline.mock.callCount(), created + 1, 'one entry more goes to the thread pool');
      await w.save(hs(3, 0), []);
      assert.equal(inline.mock.callCount(), created + 2, 'a new term alone (no entries) syncs inline too');
      await w.save(hs(4, 0), [], true);
      assert.equal(inline.mock.callCount(), created + 2, 'asked for a background sync, even a small save uses the pool');
      await w.close();
      const r = await reopen(dir);
      assert.equal(r.entries.length, 2 * edge + 1);
      assert.deepEqual(r.hardState, hs(4, 0));
      await r.w.close();
    } finally {
      inline.mock.restore();
      cleanup();
    }
  });

  it('checks the snapshot it opens at: wrong term is a mismatch, no record is not found', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(1, 3), makeEntries(1, 5));
      await w.saveSnapshot({ index: 3, term: 1 });
      await w.close();
      for (const [snap, code] of [
        [{ index: 3, term: 2 }, ERR_WAL_SNAPSHOT_MISMATCH],
        [{ index: 4, term: 1 }, ERR_WAL_SNAPSHOT_NOT_FOUND],
      ] as const) {
        const w2 = await WAL.open(dir, snap, SMALL);
        await rejectsWith(w2.readAll(), code);
        await w2.close();
      }
      const r = await reopen(dir, { index: 3, term: 1 });
      assert.deepEqual(plain(r.entries), plain(makeEntries(4, 5)));
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('says file not found for an empty or missing directory and a missing segment; bad .wal names are errors', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await rejectsWith(WAL.open(dir, { index: 0, term: 0 }), ERR_WAL_FILE_NOT_FOUND);
      await rejectsWith(WAL.open(path.join(dir, 'nope'), { index: 0, term: 0 }), ERR_WAL_FILE_NOT_FOUND);

      const walDir = path.join(dir, 'wal');
      const w = await WAL.create(walDir, META, SMALL);
      for (let i = 1; i <= 150; i += 5) await w.save(hs(1, i), makeEntries(i, i + 4));
      await w.close();
      const names = fs.readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort();
      assert.ok(names.length >= 3);

      // Leftovers etcd also ignores.
      fs.writeFileSync(path.join(walDir, '0.tmp'), 'junk');
      fs.writeFileSync(path.join(walDir, `${names[0]}.broken`), 'junk');
      await (await reopen(walDir)).w.close();

      fs.writeFileSync(path.join(walDir, 'garbage.wal'), '');
      await rejectsWith(WAL.open(walDir, { index: 0, term: 0 }), ERR_WAL_BAD_NAME);
      fs.rmSync(path.join(walDir, 'garbage.wal'));

      fs.renameSync(path.join(walDir, names[1]!), path.join(dir, 'aside'));
      await rejectsWith(WAL.open(walDir, { index: 0, term: 0 }), ERR_WAL_FILE_NOT_FOUND);
      fs.renameSync(path.join(dir, 'aside'), path.join(walDir, names[1]!));

      fs.rmSync(path.join(walDir, names[0]!));
      // The oldest segment left starts after index 0, so nothing covers snapshot 0.
      await rejectsWith(WAL.open(walDir, { index: 0, term: 0 }), ERR_WAL_FILE_NOT_FOUND);
    } finally {
      cleanup();
    }
  });

  it('refuses segments with different metadata and records of unknown type', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const seg0 = new RecordWriter(0);
      seg0.appendCrc();
      seg0.append(RECORD_METADATA, Buffer.from('A'));
      seg0.append(RECORD_SNAPSHOT, encodeWalSnapshot({ index: 0, term: 0 }));
      const crc0 = seg0.crc;
      fs.writeFileSync(path.join(dir, walName(0, 0)), seg0.take());
      const seg1 = new RecordWriter(crc0);
      seg1.appendCrc();
      seg1.append(RECORD_METADATA, Buffer.from('B'));
      fs.writeFileSync(path.join(dir, walName(1, 1)), seg1.take());
      let w = await WAL.open(dir, { index: 0, term: 0 }, SMALL);
      await rejectsWith(w.readAll(), ERR_WAL_METADATA_CONFLICT);
      await w.close();

      const seg1b = new RecordWriter(crc0);
      seg1b.appendCrc();
      seg1b.append(9, Buffer.from('?'));
      fs.writeFileSync(path.join(dir, walName(1, 1)), seg1b.take());
      w = await WAL.open(dir, { index: 0, term: 0 }, SMALL);
      await rejectsWith(w.readAll(), ERR_WAL_CORRUPT);
      await w.close();
    } finally {
      cleanup();
    }
  });

  it('releaseLockTo lets purge remove only the segments wholly before the index', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      for (let i = 1; i <= 300; i += 5) await w.save(hs(1, i), makeEntries(i, i + 4));
      const held = w.heldSegments();
      assert.ok(held.length >= 6);
      assert.deepEqual(await w.purge(1), [], 'nothing is removed while the WAL holds every segment');

      // etcd's rule: release segments before the last one that starts at or before the index.
      const third = parseWalName(held[3]!)!;
      w.releaseLockTo(third.index);
      assert.deepEqual(w.heldSegments(), held.slice(2), 'segment 2 may still hold entries before the index');
      w.releaseLockTo(third.index + 1);
      assert.deepEqual(w.heldSegments(), held.slice(3));
      w.releaseLockTo(Number.MAX_SAFE_INTEGER);
      assert.deepEqual(w.heldSegments(), held.slice(-1), 'the tail is never released');

      await w.saveSnapshot({ index: 300, term: 1 });
      await w.save(hs(1, 300), []);
      assert.deepEqual(await w.purge(2), held.slice(0, held.length - 2));
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort(), held.slice(-2));
      await w.close();

      // A restart finds its snapshot in what is left: the first segment (index 0) is gone.
      assert.deepEqual(await WAL.validSnapshotEntries(dir), [{ index: 300, term: 1 }]);
      const r = await reopen(dir, { index: 300, term: 1 });
      assert.equal(r.entries.length, 0);
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('refuses an entry too large for a record and stays usable', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(1, 1), makeEntries(1, 1));
      const huge = { term: 1, index: 2, type: 'EntryNormal' as const, data: new Uint8Array(10 * 1024 * 1024) };
      await rejectsWith(w.save(hs(1, 1), [huge]), ERR_WAL_MAX_ENTRY_SIZE);
      await w.save(hs(1, 2), makeEntries(2, 3));
      await w.close();
      const r = await reopen(dir);
      assert.deepEqual(plain(r.entries), plain(makeEntries(1, 3)));
      await r.w.close();
    } finally {
      cleanup();
    }
  });

  it('refuses work when closed, and appending before readAll is a broken invariant', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.close();
      await rejectsWith(w.save(hs(1, 1), makeEntries(1, 1)), ERR_WAL_CLOSED);
      await w.close(); // twice is fine
      const w2 = await WAL.open(dir, { index: 0, term: 0 }, SMALL);
      await assert.rejects(w2.save(hs(1, 1), makeEntries(1, 1)), AssertionError);
      await w2.close();
    } finally {
      cleanup();
    }
  });

  it('lists the committed snapshot records (validSnapshotEntries)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      await w.save(hs(1, 10), makeEntries(1, 20));
      await w.saveSnapshot({ index: 5, term: 1 });
      await w.saveSnapshot({ index: 10, term: 1 });
      await w.saveSnapshot({ index: 15, term: 1 });
      await w.close();
      assert.deepEqual(await WAL.validSnapshotEntries(dir), [
        { index: 0, term: 0 },
        { index: 5, term: 1 },
        { index: 10, term: 1 },
      ]);
    } finally {
      cleanup();
    }
  });
});

