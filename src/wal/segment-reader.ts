/**
 * Reads segment files for the WAL: in pieces (a preallocated segment is mostly zeros, so only
 * what its records occupy is read), decoding records as they arrive and carrying the crc
 * chain from one segment into the next.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { assert } from '../pkg';
import { ERR_WAL_UNEXPECTED_EOF, walError } from './errors';
import type { SegmentName } from './names';
import { SegmentDecoder, type SegmentEnd, type WalRecord } from './record';

/**
 * A segment is read in pieces of this size (more when one record is larger), so the zeros
 * after its records stay unread and only a partial frame at a piece's end is copied.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Decodes one segment file piece by piece (a preallocated segment is mostly zeros). Returns
 * the decoder, stopped at the segment's end.
 */
async function decodeSegmentFile(
  file: string,
  crc: number,
  isLast: boolean,
  name: string,
  onRecord: (rec: WalRecord) => void,
): Promise<{ decoder: SegmentDecoder; fileBytes: number }> {
  const h = await fsp.open(file, 'r');
  try {
    const fileBytes = (await h.stat()).size;
    /** The file's bytes [base, base + want) or to its end, starting with `carry` (already read). */
    const readPiece = async (base: number, want: number, carry: Buffer): Promise<Buffer> => {
      const size = Math.min(fileBytes - base, Math.max(want, READ_CHUNK_BYTES));
      const buf = Buffer.allocUnsafe(Math.max(size, carry.length));
      carry.copy(buf, 0);
      let have = carry.length;
      while (have < size) {
        const { bytesRead } = await h.read(buf, have, size - have, base + have);
        if (bytesRead === 0) break; // the file shrank under us: decode what is there
        have += bytesRead;
      }
      return buf.subarray(0, have);
    };
    let base = 0;
    let buf = await readPiece(0, READ_CHUNK_BYTES, Buffer.alloc(0));
    const d = new SegmentDecoder(buf, crc, isLast, name, buf.length === fileBytes);
    for (;;) {
      const rec = d.next();
      if (rec !== null) {
        onRecord(rec);
        continue;
      }
      if (d.end !== null) break;
      // Continue from the end of the last whole record, carrying the partial frame after it.
      const carry = buf.subarray(d.offset - base);
      base = d.offset;
      buf = await readPiece(base, d.wantBytes - base, carry);
      d.extend(buf, base, base + buf.length >= fileBytes || base + buf.length < d.wantBytes);
    }
    return { decoder: d, fileBytes };
  } finally {
    await h.close();
  }
}

/** How scanning the segments ended, for repair and appending. */
export interface ScanEnd {
  readonly crc: number;
  readonly end: SegmentEnd;
  /** Offset after the last valid record of the last segment. */
  readonly offset: number;
  readonly fileBytes: number;
}

/**
 * Decodes `segments` of `dir` in order, one file in memory at a time, calling `onRecord` for
 * every record. A segment other than the last one that ends mid-record is an error.
 */
export async function scanSegments(
  dir: string,
  segments: readonly SegmentName[],
  onRecord: (rec: WalRecord, segment: SegmentName) => void,
): Promise<ScanEnd> {
  let crc = 0;
  let result: ScanEnd | null = null;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const isLast = i === segments.length - 1;
    const { decoder: d, fileBytes } = await decodeSegmentFile(path.join(dir, seg.name), crc, isLast, seg.name, (rec) =>
      onRecord(rec, seg),
    );
    crc = d.crc;
    if (d.end === 'torn' && !isLast) {
      throw walError(
        ERR_WAL_UNEXPECTED_EOF,
        `wal: unexpected EOF: ${seg.name} ends in the middle of a record at offset ${d.offset}, and it is not the last segment`,
      );
    }
    if (isLast) {
      result = { crc, end: d.end!, offset: d.offset, fileBytes };
    }
  }
  assert(result !== null, 'scanned at least one segment');
  return result;
}
