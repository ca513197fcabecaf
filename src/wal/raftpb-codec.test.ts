import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { entrySizeBytes } from '../raft/codec';
import type { Entry, EntryType, Snapshot } from '../raft/types';
import {
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMemberMetadata,
  decodeSnapshot,
  decodeWalSnapshot,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMemberMetadata,
  encodeSnapshot,
  encodeSnapshotMetadata,
  encodeWalSnapshot,
  entryEncodedSize,
} from './raftpb-codec';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytes = (u: Uint8Array): Buffer => Buffer.from(u);

describe('raftpb encodings (gogoproto byte order)', () => {
  it('Entry: Type=1, Term=2, Index=3 always, Data=4 only when non-empty', () => {
    const e: Entry = { term: 1, index: 2, type: 'EntryNormal', data: Buffer.from('ab') };
    assert.deepEqual(bytes(encodeEntry(e)), hex('0800 1001 1802 22026162'));
    assert.deepEqual(bytes(encodeEntry({ ...e, data: new Uint8Array(0) })), hex('0800 1001 1802'));
    const cc: Entry = { term: 300, index: 2 ** 40, type: 'EntryConfChange', data: Buffer.from('z') };
    assert.deepEqual(bytes(encodeEntry(cc)), hex('0801 10ac02 18808080808020 22017a'));
    assert.deepEqual(decodeEntry(encodeEntry(cc)), { ...cc, data: new Uint8Array(Buffer.from('z')) });
  });

  it('Entry size agrees with raft entrySizeBytes, which the raft byte limits count', () => {
    for (const data of [0, 1, 127, 128, 20000]) {
      const e: Entry = { term: 7, index: 123456, type: 'EntryConfChangeV2', data: new Uint8Array(data) };
      assert.equal(entryEncodedSize(e), entrySizeBytes(e));
      assert.equal(encodeEntry(e).length, entrySizeBytes(e));
    }
  });

  it('HardState: term, vote, commit always, vote as a full uint64', () => {
    assert.deepEqual(bytes(encodeHardState({ term: 5, vote: 0n, commit: 0 })), hex('0805 1000 1800'));
    const max = (1n << 64n) - 1n;
    const b = encodeHardState({ term: 1, vote: max, commit: 3 });
    assert.deepEqual(bytes(b), hex('0801 10ffffffffffffffffff01 1803'));
    assert.deepEqual(decodeHardState(b), { term: 1, vote: max, commit: 3 });
  });

  it('ConfState: unpacked repeated ids in field order, auto_leave always; packed ids decode too', () => {
    const cs = { voters: [1n, 2n], learners: [3n], votersOutgoing: [], learnersNext: [4n], autoLeave: true };
    assert.deepEqual(bytes(encodeConfState(cs)), hex('0801 0802 1003 2004 2801'));
    assert.deepEqual(decodeConfState(encodeConfState(cs)), cs);
    assert.deepEqual(decodeConfState(hex('0a020102 2800')).voters, [1n, 2n]);
    assert.deepEqual(bytes(encodeConfState({ voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false })), hex('2800'));
  });

  it('Snapshot: data (when present) then metadata {conf_state, index, term}', () => {
    const s: Snapshot = {
      data: Buffer.from('x'),
      metadata: { index: 1, term: 1, confState: { voters: [9n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
    };
    assert.deepEqual(bytes(encodeSnapshotMetadata(s.metadata)), hex('0a04 0809 2800 1001 1801'));
    assert.deepEqual(bytes(encodeSnapshot(s)), hex('0a0178 120a 0a0408092800 1001 1801'));
    const back = decodeSnapshot(encodeSnapshot(s));
    assert.deepEqual(bytes(back.data), Buffer.from('x'));
    assert.deepEqual(back.metadata, s.metadata);
  });

  it('walpb.Snapshot and etcdserverpb.Metadata: both fields always', () => {
    assert.deepEqual(bytes(encodeWalSnapshot({ index: 0, term: 0 })), hex('0800 1000'));
    assert.deepEqual(decodeWalSnapshot(hex('0805 1003')), { index: 5, term: 3 });
    // The metadata record `etcdctl snapshot restore` wrote for member 0x2943212f5e2cf73.
    const md = hex('08f39e8bafafc28cca02 108bb8aff5f5f0f3fc70');
    assert.deepEqual(decodeMemberMetadata(md), { nodeId: 0x2943212f5e2cf73n, clusterId: 0x70f9cf875eabdc0bn });
    assert.deepEqual(bytes(encodeMemberMetadata(decodeMemberMetadata(md))), md);
  });

  it('decoders skip unknown fields', () => {
    assert.deepEqual(decodeWalSnapshot(hex('0805 1003 1a03616263 2001 2d01020304')), { index: 5, term: 3 });
  });

  it('random entries round-trip (seeded)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    let x = seed || 1;
    const rnd = (n: number): number => {
      x = (x * 48271) % 2147483647;
      return x % n;
    };
    const types: EntryType[] = ['EntryNormal', 'EntryConfChange', 'EntryConfChangeV2'];
    for (let i = 0; i < 500; i++) {
      const data = new Uint8Array(rnd(3) === 0 ? 0 : rnd(300));
      for (let j = 0; j < data.length; j++) data[j] = rnd(256);
      const e: Entry = { term: rnd(1 << 30), index: rnd(1 << 30) * 1000 + rnd(1000), type: types[rnd(3)]!, data };
      assert.deepEqual(decodeEntry(encodeEntry(e)), e, `seed ${seed}, entry ${i}`);
    }
  });
});
