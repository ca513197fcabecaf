/**
 * Test support (not a test file): temporary directories, deterministic entries, and a reader
 * that lists the records of each segment file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Entry } from '../raft/types';
import { readSegmentNames } from './names';
import { SegmentDecoder, type WalRecord } from './record';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'floe-wal-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The payload of entry `index` at `term`: a pure function, so a reader can check it. */
export function entryData(index: number, term: number, sizeBytes: number): Uint8Array {
  const out = Buffer.alloc(sizeBytes);
  const tag = Buffer.from(`e${index}t${term}:`);
  for (let i = 0; i < sizeBytes; i++) out[i] = tag[i % tag.length]!;
  return out;
}

/** Entries first..last at `term`, payload sizes varying with the index. */
export function makeEntries(first: number, last: number, term = 1, sizeBytes = (i: number) => 20 + ((i * 37) % 120)): Entry[] {
  const out: Entry[] = [];
  for (let i = first; i <= last; i++) out.push({ term, index: i, type: 'EntryNormal', data: entryData(i, term, sizeBytes(i)) });
  return out;
}

/** Normalises entries for deepEqual (Buffer vs Uint8Array payloads). */
export function plain(entries: readonly Entry[]): Array<{ term: number; index: number; type: string; data: string }> {
  return entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: Buffer.from(e.data).toString('hex') }));
}

/** The records of each segment in `dir`, each segment decoded on its own (chain from 0). */
export async function dumpSegments(dir: string): Promise<Array<{ name: string; records: WalRecord[]; endOffset: number; fileBytes: number }>> {
  const out = [];
  for (const seg of await readSegmentNames(dir)) {
    const buf = fs.readFileSync(path.join(dir, seg.name));
    const d = new SegmentDecoder(buf, 0, true, seg.name);
    const records: WalRecord[] = [];
    for (let r = d.next(); r !== null; r = d.next()) records.push({ type: r.type, crc: r.crc, data: Buffer.from(r.data) });
    out.push({ name: seg.name, records, endOffset: d.offset, fileBytes: buf.length });
  }
  return out;
}
