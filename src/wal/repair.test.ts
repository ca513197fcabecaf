import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFloeError } from '../pkg';
import { ERR_WAL_CRC_MISMATCH, ERR_WAL_UNEXPECTED_EOF } from './errors';
import { readLengthWord } from './record';
import { dumpSegments, makeEntries, plain, tempDir } from './test-util';
import { MIN_SEGMENT_SIZE_BYTES, WAL } from './wal';

const META = Buffer.from('m');
const SMALL = { segmentSizeBytes: MIN_SEGMENT_SIZE_BYTES };
/** The per-offset loops reopen the log ~100 times; syncing each time only costs test time. */
const FAST = { segmentSizeBytes: MIN_SEGMENT_SIZE_BYTES, unsafeNoSync: true };
const START = { index: 0, term: 0 };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isFloeError(e, code));
}

/**
 * A one-segment log of entries 1..n whose last save holds one entry of `lastBytes` payload.
 * Returns the file and the offsets where the last record starts and ends.
 */
async function baseLog(dir: string, n: number, lastBytes: number, segmentSizeBytes = 64 * 1024) {
  const w = await WAL.create(dir, META, { segmentSizeBytes });
  await w.save({ term: 1, vote: 1n, commit: 1 }, makeEntries(1, n - 1));
  await w.save({ term: 0, vote: 0n, commit: 0 }, makeEntries(n, n, 1, () => lastBytes));
  await w.close();
  const [seg] = await dumpSegments(dir);
  const name = seg!.name;
  const file = path.join(dir, name);
  const end = seg!.endOffset;
  const lastRecordBytes = seg!.records[seg!.records.length - 1]!;
  // Frame of the last record: 8-byte word + record + padding, ending at `end`.
  const recordLen = 2 + 1 + varintLen(lastRecordBytes.crc) + 1 + varintLen(lastRecordBytes.data.length) + lastRecordBytes.data.length;
  const start = end - 8 - recordLen - ((8 - (recordLen % 8)) % 8);
  return { file, name, start, end, bytes: fs.readFileSync(file) };
}

/** For each frame of a segment, the offset just after its record (data is the record's last field). */
function recordDataEnds(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const { recordBytes, padBytes } = readLengthWord(buf, off);
    if (recordBytes === 0) break;
    out.push(off + 8 + recordBytes);
    off += 8 + recordBytes + padBytes;
  }
  return out;
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Opens for writing, checks entries 1..n-1 survive, then appends and reopens. */
async function expectRepaired(dir: string, n: number, repaired: boolean, what: string): Promise<void> {
  const w = await WAL.open(dir, START, FAST);
  const r = await w.readAll();
  assert.equal(r.repaired, repaired, `${what}: repaired`);
  assert.deepEqual(plain(r.entries), plain(makeEntries(1, n - 1)), `${what}: only the torn record is lost`);
  await w.save({ term: 2, vote: 1n, commit: n - 1 }, makeEntries(n, n + 1, 2));
  await w.close();
  const w2 = await WAL.open(dir, START, FAST);
  const r2 = await w2.readAll();
  assert.deepEqual(plain(r2.entries), plain([...makeEntries(1, n - 1), ...makeEntries(n, n + 1, 2)]), `${what}: appends after repair read back`);
  assert.equal(r2.repaired, false);
  await w2.close();
}

describe('torn tail repair and corruption', () => {
  it('a file cut at any byte of its last record loses exactly that record and keeps a .broken copy', async () => {
    const { dir: root, cleanup } = tempDir();
    try {
      const base = path.join(root, 'base');
      const n = 12;
      const { name, start, end, bytes } = await baseLog(base, n, 40);
      for (let cut = start; cut < end; cut++) {
        const dir = path.join(root, `cut-${cut}`);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, name), bytes.subarray(0, cut));
        await expectRepaired(dir, n, cut !== start, `cut at ${cut}`);
        if (cut !== start) {
          assert.deepEqual(fs.readFileSync(path.join(dir, `${name}.broken`)), bytes.subarray(0, cut), 'the .broken copy is the file as found');
        }
        fs.rmSync(dir, { recursive: true });
      }
    } finally {
      cleanup();
    }
  });

  it('zeros from any byte of the last length word, or from any sector boundary inside the last record, are a torn write', async () => {
    const { dir: root, cleanup } = tempDir();
    try {
      const base = path.join(root, 'base');
      const n = 6;
      const { name, start, end, bytes } = await baseLog(base, n, 3000);
      const offsets: number[] = [];
      for (let k = start + 1; k < start + 8; k++) offsets.push(k);
      for (let k = Math.ceil((start + 8) / 512) * 512; k < end; k += 512) offsets.push(k);
      assert.ok(offsets.length >= 12);
      for (const k of offsets) {
        const dir = path.join(root, `zero-${k}`);
        fs.mkdirSync(dir);
        const torn = Buffer.from(bytes);
        torn.fill(0, k);
        fs.writeFileSync(path.join(dir, name), torn);
        await expectRepaired(dir, n, true, `zeros from ${k}`);
        fs.rmSync(dir, { recursive: true });
      }
    } finally {
      cleanup();
    }
  });

  it('a flipped byte in any record but a torn last one refuses to open and changes nothing', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      for (let i = 1; i <= 120; i += 4) await w.save({ term: 1, vote: 1n, commit: i }, makeEntries(i, i + 3));
      await w.close();
      const segs = await dumpSegments(dir);
      assert.ok(segs.length >= 3);
      // The last data byte of a record: in the first segment, a middle one, and the last one
      // (a record followed by good ones, and the very last record, which has no zeroed sector).
      const last = segs.length - 1;
      const targets = [
        { seg: 0, record: 4 },
        { seg: 1, record: 5 },
        { seg: last, record: 3 },
        { seg: last, record: segs[last]!.records.length - 1 },
      ];
      for (const { seg, record } of targets) {
        const file = path.join(dir, segs[seg]!.name);
        const before = fs.readFileSync(file);
        const at = recordDataEnds(before)[record]! - 1;
        const bad = Buffer.from(before);
        bad[at]! ^= 0x40;
        fs.writeFileSync(file, bad);
        const w2 = await WAL.open(dir, START, SMALL);
        await rejectsWith(w2.readAll(), ERR_WAL_CRC_MISMATCH);
        await w2.close();
        assert.deepEqual(fs.readFileSync(file), bad, 'no repair was attempted');
        assert.equal(fs.existsSync(`${file}.broken`), false);
        fs.writeFileSync(file, before);
      }
      const ok = await WAL.open(dir, START, SMALL);
      assert.equal((await ok.readAll()).entries.length, 120);
      await ok.close();
    } finally {
      cleanup();
    }
  });

  it('a segment other than the last that ends mid-record is an error, not a repair', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META, SMALL);
      for (let i = 1; i <= 80; i += 4) await w.save({ term: 1, vote: 1n, commit: i }, makeEntries(i, i + 3));
      await w.close();
      const segs = await dumpSegments(dir);
      const file = path.join(dir, segs[0]!.name);
      fs.truncateSync(file, segs[0]!.endOffset - 5);
      const w2 = await WAL.open(dir, START, SMALL);
      await rejectsWith(w2.readAll(), ERR_WAL_UNEXPECTED_EOF);
      await w2.close();
    } finally {
      cleanup();
    }
  });

  it('read-only opening returns what precedes a torn tail and leaves the file alone', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { file, start, end } = await baseLog(dir, 8, 50);
      fs.truncateSync(file, start + Math.floor((end - start) / 2));
      const before = fs.readFileSync(file);
      const w = await WAL.openForRead(dir, START);
      const r = await w.readAll();
      await w.close();
      assert.equal(r.entries.length, 7);
      assert.equal(r.repaired, false);
      assert.deepEqual(fs.readFileSync(file), before);
    } finally {
      cleanup();
    }
  });

  it('zeroes bytes a torn write left after the last record behind a zero length word', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { file, end } = await baseLog(dir, 5, 40);
      const size = fs.statSync(file).size;
      const junk = Buffer.alloc(size);
      fs.readFileSync(file).copy(junk);
      junk.fill(0x77, end + 8, end + 200); // after a zero length word at `end`
      fs.writeFileSync(file, junk);
      const w = await WAL.open(dir, START, SMALL);
      assert.equal((await w.readAll()).entries.length, 5);
      const after = fs.readFileSync(file);
      assert.equal(after.length, size, 'the file keeps its preallocated size');
      assert.ok(after.subarray(end).every((b) => b === 0), 'everything after the last record is zero');
      await w.save({ term: 1, vote: 1n, commit: 5 }, makeEntries(6, 6, 1, () => 4));
      await w.close();
      const w2 = await WAL.open(dir, START, SMALL);
      assert.equal((await w2.readAll()).entries.length, 6);
      await w2.close();
    } finally {
      cleanup();
    }
  });

  it('reads a segment larger than its first read in pieces, records straddling the pieces, and repairs its tail', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await WAL.create(dir, META);
      const sizes = (i: number) => 150_000 + i * 1000;
      const ents = makeEntries(1, 12, 1, sizes);
      for (let i = 0; i < ents.length; i += 3) await w.save({ term: 1, vote: 1n, commit: i }, ents.slice(i, i + 3));
      await w.close();
      const [seg] = await dumpSegments(dir);
      const file = path.join(dir, seg!.name);
      let r = await (await WAL.openForRead(dir, START)).readAll();
      assert.deepEqual(plain(r.entries), plain(ents));
      fs.truncateSync(file, seg!.endOffset - 1000);
      const w2 = await WAL.open(dir, START);
      r = await w2.readAll();
      assert.equal(r.repaired, true);
      assert.deepEqual(plain(r.entries), plain(ents.slice(0, 11)));
      await w2.close();
    } finally {
      cleanup();
    }
  });
});
