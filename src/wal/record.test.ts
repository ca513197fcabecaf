import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { crc32c, isFloeError } from '../pkg';
import { encodeConfChange } from '../raft/codec';
import { ERR_WAL_CORRUPT, ERR_WAL_CRC_MISMATCH, ERR_WAL_MAX_ENTRY_SIZE } from './errors';
import { encodeHardState, encodeMemberMetadata, encodeWalSnapshot } from './raftpb-codec';
import {
  FRAME_SIZE_BYTES,
  MAX_RECORD_BYTES,
  RECORD_CRC,
  RECORD_ENTRY,
  RECORD_METADATA,
  RECORD_SNAPSHOT,
  RECORD_STATE,
  RecordWriter,
  SegmentDecoder,
  padBytesFor,
  readLengthWord,
  type WalRecord,
} from './record';
import { varintSize } from './wire';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Decodes every record of `buf` as one (last) segment. */
function decodeAll(buf: Buffer, isLast = true, crc = 0): { records: WalRecord[]; d: SegmentDecoder } {
  const d = new SegmentDecoder(buf, crc, isLast, 'test.wal');
  const records: WalRecord[] = [];
  for (let r = d.next(); r !== null; r = d.next()) records.push({ ...r, data: Buffer.from(r.data) });
  return { records, d };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isFloeError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

describe('record framing', () => {
  it('writes etcd test vector infoRecord (type 1, data 08effd02) with the padding etcd 3.4 adds', () => {
    // etcd's wal/record_test.go infoRecord is the same record without padding (written before
    // padding existed): length 0x0e, then 08 01 10 <crc 99b5e4d003> 1a 04 <data>.
    const w = new RecordWriter(0);
    w.append(RECORD_METADATA, hex('08effd02'));
    assert.deepEqual(w.take(), hex('0e00000000000082 0801 1099b5e4d003 1a04 08effd02 0000'));
  });

  it('reads the unpadded legacy record of etcd test vector and the record after it', () => {
    const legacy = hex('0e00000000000000 0801 1099b5e4d003 1a04 08effd02');
    const w = new RecordWriter(crc32c(hex('08effd02')));
    w.append(RECORD_STATE, hex('0801'));
    const { records, d } = decodeAll(Buffer.concat([legacy, w.take()]));
    assert.equal(records.length, 2);
    assert.deepEqual(records[0], { type: 1, crc: crc32c(hex('08effd02')), data: hex('08effd02') });
    assert.equal(records[1]!.type, RECORD_STATE);
    assert.equal(d.end, 'eof');
  });

  it('encodes the head of a WAL byte-for-byte as `etcdctl snapshot restore` (3.4.23) wrote it', () => {
    // The first 256 bytes of member/wal/0000000000000000-0000000000000000.wal from a real
    // restore of one member m1 (id 0x2943212f5e2cf73, cluster 0x70f9cf875eabdc0b).
    const etcd = hex(
      '040000000000008408041000000000001e0000000000008208011087a1c5ec0b1a1408f39e8bafafc28cca02108bb8aff5f5f0f3fc7000000e0000000000008208051093f0e3b80a1a040800100000006d00000000000083080210b3d6bbd8031a63080110011801225b0800100018f39e8bafafc28cca02224b7b226964223a3138353832383534313634353131353235312c227065657255524c73223a5b22687474703a2f2f3132372e302e302e313a3233383032225d2c226e616d65223a226d31227d00000018000000000000000803108283bef6011a0e080110f39e8bafafc28cca0218010e0000000000008208051096929ad7041a04080110010000',
    );
    const nodeId = 0x2943212f5e2cf73n;
    const w = new RecordWriter(0);
    w.appendCrc();
    w.append(RECORD_METADATA, encodeMemberMetadata({ nodeId, clusterId: 0x70f9cf875eabdc0bn }));
    w.append(RECORD_SNAPSHOT, encodeWalSnapshot({ index: 0, term: 0 }));
    const context = Buffer.from(`{"id":${nodeId},"peerURLs":["http://127.0.0.1:23802"],"name":"m1"}`);
    const cc = encodeConfChange({ kind: 'v1', type: 'ConfChangeAddNode', nodeId, context, id: 0n });
    w.appendEntry({ term: 1, index: 1, type: 'EntryConfChange', data: cc });
    w.append(RECORD_STATE, encodeHardState({ term: 1, vote: nodeId, commit: 1 }));
    w.append(RECORD_SNAPSHOT, encodeWalSnapshot({ index: 1, term: 1 }));
    assert.deepEqual(w.take(), etcd);
    // And it reads back: six records, the chain ends at the last record's crc.
    const { records, d } = decodeAll(etcd);
    assert.deepEqual(
      records.map((r) => r.type),
      [RECORD_CRC, RECORD_METADATA, RECORD_SNAPSHOT, RECORD_ENTRY, RECORD_STATE, RECORD_SNAPSHOT],
    );
    assert.equal(d.crc, records[5]!.crc);
    assert.equal(d.offset, etcd.length);
  });

  it('pads every record to a multiple of 8 and flags the padding in the top byte', () => {
    for (let n = 0; n < 64; n++) {
      const w = new RecordWriter(0);
      w.append(RECORD_ENTRY, Buffer.alloc(n, 7));
      const buf = w.take();
      assert.equal(buf.length % 8, 0, `data ${n}`);
      const { recordBytes, padBytes } = readLengthWord(buf, 0);
      assert.equal(FRAME_SIZE_BYTES + recordBytes + padBytes, buf.length);
      assert.equal(padBytes, padBytesFor(recordBytes));
      assert.equal(buf[7], padBytes === 0 ? 0 : 0x80 | padBytes, `top byte for pad ${padBytes}`);
      assert.ok(buf.subarray(FRAME_SIZE_BYTES + recordBytes).every((b) => b === 0), 'padding is zeros');
    }
  });

  it('chains the crc: each record is CRC-32C of its data seeded with the previous record crc', () => {
    const a = Buffer.from('first record');
    const b = Buffer.from('second record');
    const w = new RecordWriter(0x12345678);
    w.append(RECORD_ENTRY, a);
    w.append(RECORD_ENTRY, b);
    w.appendCrc();
    const { records } = decodeAll(w.take(), true, 0x12345678);
    assert.equal(records[0]!.crc, crc32c(a, 0x12345678));
    assert.equal(records[1]!.crc, crc32c(b, records[0]!.crc));
    assert.equal(records[1]!.crc, crc32c(Buffer.concat([a, b]), 0x12345678));
    assert.equal(records[2]!.type, RECORD_CRC);
    assert.equal(records[2]!.crc, records[1]!.crc, 'a crc record carries the chain value');
    assert.equal(records[2]!.data.length, 0, 'a crc record has no data');
  });

  it('a crc record that disagrees with a running chain is a crc mismatch; a fresh chain accepts it', () => {
    const w = new RecordWriter(0xdeadbeef);
    w.appendCrc();
    const buf = w.take();
    assert.equal(decodeAll(buf, true, 0).records[0]!.crc, 0xdeadbeef);
    assert.equal(codeOf(() => decodeAll(buf, true, 0x1111)), ERR_WAL_CRC_MISMATCH);
  });

  it('every strict prefix of a segment ending mid-record is torn; the empty segment is a clean end', () => {
    const w = new RecordWriter(0);
    w.append(RECORD_ENTRY, Buffer.from('x'.repeat(40)));
    const first = w.sizeBytes;
    w.append(RECORD_ENTRY, Buffer.from('y'.repeat(30)));
    const buf = w.take();
    for (let cut = 0; cut <= buf.length; cut++) {
      const { records, d } = decodeAll(buf.subarray(0, cut));
      const clean = cut === 0 || cut === first || cut === buf.length;
      assert.equal(d.end, clean ? 'eof' : 'torn', `cut at ${cut}`);
      assert.equal(records.length, cut < first ? 0 : cut < buf.length ? 1 : 2);
      assert.equal(d.offset, cut < first ? 0 : cut < buf.length ? first : buf.length);
    }
  });

  it('a zero length word ends the segment (preallocated space)', () => {
    const w = new RecordWriter(0);
    w.append(RECORD_ENTRY, Buffer.from('abc'));
    const buf = Buffer.concat([w.take(), Buffer.alloc(4096)]);
    const { records, d } = decodeAll(buf);
    assert.equal(records.length, 1);
    assert.equal(d.end, 'eof');
    assert.equal(d.offset, 24);
  });

  it('a flipped data byte is a crc mismatch, even in the last record when no sector is zeroed', () => {
    const w = new RecordWriter(0);
    w.append(RECORD_ENTRY, Buffer.from('a'.repeat(100)));
    w.append(RECORD_ENTRY, Buffer.from('b'.repeat(100)));
    const buf = w.take();
    for (const at of [20, buf.length - 20]) {
      const bad = Buffer.from(buf);
      bad[at]! ^= 0x01;
      assert.equal(codeOf(() => decodeAll(bad, true)), ERR_WAL_CRC_MISMATCH, `flip at ${at}`);
      assert.equal(codeOf(() => decodeAll(bad, false)), ERR_WAL_CRC_MISMATCH, `flip at ${at}, not last`);
    }
  });

  it('a zeroed sector inside the last record is a torn write in the last segment only', () => {
    const w = new RecordWriter(0);
    w.append(RECORD_ENTRY, Buffer.from('a'.repeat(100)));
    const first = w.sizeBytes;
    w.append(RECORD_ENTRY, Buffer.alloc(2000, 0x5a));
    const buf = w.take();
    for (let sector = 512; sector < buf.length; sector += 512) {
      const torn = Buffer.from(buf);
      torn.fill(0, sector);
      const { records, d } = decodeAll(torn, true);
      assert.equal(d.end, 'torn', `zeroed from ${sector}`);
      assert.equal(records.length, 1);
      assert.equal(d.offset, first);
      assert.equal(codeOf(() => decodeAll(torn, false)), ERR_WAL_CRC_MISMATCH);
    }
  });

  it('a record that is not protobuf is corrupt', () => {
    const buf = hex('0800000000000000 ffffffffffffffff');
    assert.equal(codeOf(() => decodeAll(buf, false)), ERR_WAL_CORRUPT);
  });

  it('refuses to write a frame of 10 MiB or more and accepts the largest one below', () => {
    // Data length L gives record bytes 2 + 1 + |crc| + 1 + |L| + L; find L whose padded
    // record is exactly MAX_RECORD_BYTES - 8, the largest total the reader accepts.
    const total = (L: number): number => {
      const crc = crc32c(Buffer.alloc(L));
      const rec = 4 + varintSize(crc) + varintSize(L) + L;
      return rec + padBytesFor(rec);
    };
    let L = MAX_RECORD_BYTES - 16;
    while (total(L) > MAX_RECORD_BYTES - 8) L--;
    while (total(L + 1) <= MAX_RECORD_BYTES - 8) L++;
    assert.equal(total(L), MAX_RECORD_BYTES - 8);

    const w = new RecordWriter(0);
    w.append(RECORD_ENTRY, Buffer.alloc(L));
    const ok = w.take();
    assert.equal(ok.length, FRAME_SIZE_BYTES + MAX_RECORD_BYTES - 8);
    assert.equal(decodeAll(ok).records[0]!.data.length, L);

    let big = L + 1;
    while (total(big) < MAX_RECORD_BYTES) big++;
    const w2 = new RecordWriter(7);
    w2.append(RECORD_ENTRY, Buffer.from('kept'));
    assert.equal(codeOf(() => w2.append(RECORD_ENTRY, Buffer.alloc(big))), ERR_WAL_MAX_ENTRY_SIZE);
    assert.equal(w2.sizeBytes, 24, 'the refused record left nothing behind');
    assert.equal(w2.crc, crc32c(Buffer.from('kept'), 7), 'nor moved the chain');

    // The reader refuses a length word claiming MAX_RECORD_BYTES - pad or more.
    const word = Buffer.alloc(8);
    word.writeUInt32LE(MAX_RECORD_BYTES, 0);
    assert.equal(codeOf(() => decodeAll(Buffer.concat([word, Buffer.alloc(64)]))), ERR_WAL_MAX_ENTRY_SIZE);
  });
});
