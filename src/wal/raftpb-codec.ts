/**
 * The protobuf encodings the WAL and the snapshot files carry, byte-for-byte as etcd 3.4
 * (gogoproto, proto2) writes them:
 *
 *   raftpb.Entry            Type=1 Term=2 Index=3 Data=4   (written in field-number order)
 *   raftpb.HardState        term=1 vote=2 commit=3
 *   raftpb.ConfState        voters=1 learners=2 voters_outgoing=3 learners_next=4 auto_leave=5
 *   raftpb.SnapshotMetadata conf_state=1 index=2 term=3
 *   raftpb.Snapshot         data=1 metadata=2
 *   walpb.Snapshot          index=1 term=2
 *   etcdserverpb.Metadata   NodeID=1 ClusterID=2  (the WAL's metadata record)
 *
 * gogoproto writes every non-nullable scalar, zero or not, and a `bytes` field only when it is
 * non-nil; Floe's types use an empty array for "absent", so empty bytes are omitted. Repeated
 * uint64 fields are unpacked (proto2); the decoders accept the packed form too, as any
 * protobuf parser must. Unknown fields are skipped.
 */
import { assert } from '../pkg';
import {
  EMPTY_BYTES,
  ENTRY_TYPE_NUMBER,
  fromNumber,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type NodeId,
  type Snapshot,
  type SnapshotMetadata,
} from '../raft/types';
import { putVarint, putVarintBig, varintSize, varintSizeBig, WireReader } from './wire';

/** walpb.Snapshot: where a snapshot sits in the log (etcd 3.4 records index and term only). */
export interface WalSnapshot {
  readonly index: number;
  readonly term: number;
}

/** etcdserverpb.Metadata: the member and cluster a WAL belongs to. */
export interface MemberMetadata {
  readonly nodeId: bigint;
  readonly clusterId: bigint;
}

function assertIndex(n: number, what: string): void {
  assert(Number.isSafeInteger(n) && n >= 0, () => `${what} ${n} is not a non-negative safe integer`);
}

// ---- Entry (the hot path: one per log entry) ----

/** Encoded size of the entry's fields before `data`'s bytes (tags, varints, data length). */
export function entryHeadSize(e: Entry): number {
  let n = 3 + varintSize(ENTRY_TYPE_NUMBER[e.type]) + varintSize(e.term) + varintSize(e.index);
  if (e.data.length > 0) n += 1 + varintSize(e.data.length);
  return n;
}

/** Encoded size of a raftpb.Entry. */
export function entryEncodedSize(e: Entry): number {
  return entryHeadSize(e) + e.data.length;
}

/**
 * Writes the entry's fields up to (not including) the data bytes at `pos`; returns the end.
 * The WAL checksums head and data separately so the payload is copied only once.
 */
export function putEntryHead(buf: Uint8Array, pos: number, e: Entry): number {
  assertIndex(e.term, 'entry term');
  assertIndex(e.index, 'entry index');
  buf[pos++] = 0x08;
  pos = putVarint(buf, pos, ENTRY_TYPE_NUMBER[e.type]);
  buf[pos++] = 0x10;
  pos = putVarint(buf, pos, e.term);
  buf[pos++] = 0x18;
  pos = putVarint(buf, pos, e.index);
  if (e.data.length > 0) {
    buf[pos++] = 0x22;
    pos = putVarint(buf, pos, e.data.length);
  }
  return pos;
}

/** raftpb.Entry as etcd marshals it. */
export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(entryEncodedSize(e));
  const pos = putEntryHead(out, 0, e);
  out.set(e.data, pos);
  return out;
}

/** Decodes raftpb.Entry; the data is copied out of `buf`. */
export function decodeEntry(buf: Uint8Array): Entry {
  const r = new WireReader(buf, 'raftpb.Entry');
  let type: EntryType = 'EntryNormal';
  let term = 0;
  let index = 0;
  let data: Uint8Array = EMPTY_BYTES;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) {
      const n = r.varint();
      const t = fromNumber(ENTRY_TYPE_NUMBER, n);
      if (t === undefined) throw r.fail(`unknown entry type ${n}`);
      type = t;
    } else if (field === 2 && wt === 0) term = r.varint();
    else if (field === 3 && wt === 0) index = r.varint();
    else if (field === 4 && wt === 2) data = r.bytesCopy();
    else r.skip(wt);
  }
  return { term, index, type, data };
}

// ---- small messages ----

/** A fixed-capacity byte builder for the small messages below (sizes computed up front). */
class Builder {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(sizeBytes: number) {
    this.buf = new Uint8Array(sizeBytes);
  }
  uint(field: number, v: number): void {
    assertIndex(v, `field ${field}`);
    this.pos = putVarint(this.buf, this.pos, field * 8);
    this.pos = putVarint(this.buf, this.pos, v);
  }
  uintBig(field: number, v: bigint): void {
    this.pos = putVarint(this.buf, this.pos, field * 8);
    this.pos = putVarintBig(this.buf, this.pos, v);
  }
  bytes(field: number, b: Uint8Array): void {
    this.pos = putVarint(this.buf, this.pos, field * 8 + 2);
    this.pos = putVarint(this.buf, this.pos, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  finish(): Uint8Array {
    assert(this.pos === this.buf.length, () => `encoded ${this.pos} bytes, sized ${this.buf.length}`);
    return this.buf;
  }
}

const uintFieldSize = (v: number): number => 1 + varintSize(v);
const bigFieldSize = (v: bigint): number => 1 + varintSizeBig(v);
const bytesFieldSize = (n: number): number => 1 + varintSize(n) + n;

/** raftpb.HardState: all three fields, always. */
export function encodeHardState(hs: HardState): Uint8Array {
  const b = new Builder(uintFieldSize(hs.term) + bigFieldSize(hs.vote) + uintFieldSize(hs.commit));
  b.uint(1, hs.term);
  b.uintBig(2, hs.vote);
  b.uint(3, hs.commit);
  return b.finish();
}

export function decodeHardState(buf: Uint8Array): HardState {
  const r = new WireReader(buf, 'raftpb.HardState');
  let term = 0;
  let vote: NodeId = 0n;
  let commit = 0;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) term = r.varint();
    else if (field === 2 && wt === 0) vote = r.varintBig();
    else if (field === 3 && wt === 0) commit = r.varint();
    else r.skip(wt);
  }
  return { term, vote, commit };
}

const CONF_STATE_LISTS = ['voters', 'learners', 'votersOutgoing', 'learnersNext'] as const;

/** raftpb.ConfState: each id list unpacked in its order, then auto_leave (always). */
export function encodeConfState(cs: ConfState): Uint8Array {
  let size = 2;
  for (const list of CONF_STATE_LISTS) for (const id of cs[list]) size += bigFieldSize(id);
  const b = new Builder(size);
  CONF_STATE_LISTS.forEach((list, i) => {
    for (const id of cs[list]) b.uintBig(i + 1, id);
  });
  b.uint(5, cs.autoLeave ? 1 : 0);
  return b.finish();
}

export function decodeConfState(buf: Uint8Array): ConfState {
  const r = new WireReader(buf, 'raftpb.ConfState');
  const lists: NodeId[][] = [[], [], [], []];
  let autoLeave = false;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field >= 1 && field <= 4 && wt === 0) lists[field - 1]!.push(r.varintBig());
    else if (field >= 1 && field <= 4 && wt === 2) {
      const packed = new WireReader(r.bytes(), 'raftpb.ConfState (packed ids)');
      while (!packed.done()) lists[field - 1]!.push(packed.varintBig());
    } else if (field === 5 && wt === 0) autoLeave = r.varintBig() !== 0n;
    else r.skip(wt);
  }
  return { voters: lists[0]!, learners: lists[1]!, votersOutgoing: lists[2]!, learnersNext: lists[3]!, autoLeave };
}

export function encodeSnapshotMetadata(m: SnapshotMetadata): Uint8Array {
  const cs = encodeConfState(m.confState);
  const b = new Builder(bytesFieldSize(cs.length) + uintFieldSize(m.index) + uintFieldSize(m.term));
  b.bytes(1, cs);
  b.uint(2, m.index);
  b.uint(3, m.term);
  return b.finish();
}

export function decodeSnapshotMetadata(buf: Uint8Array): SnapshotMetadata {
  const r = new WireReader(buf, 'raftpb.SnapshotMetadata');
  let confState = decodeConfState(EMPTY_BYTES);
  let index = 0;
  let term = 0;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 2) confState = decodeConfState(r.bytes());
    else if (field === 2 && wt === 0) index = r.varint();
    else if (field === 3 && wt === 0) term = r.varint();
    else r.skip(wt);
  }
  return { confState, index, term };
}

/** raftpb.Snapshot: data (when non-empty), then metadata (always). */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  const meta = encodeSnapshotMetadata(s.metadata);
  const b = new Builder((s.data.length > 0 ? bytesFieldSize(s.data.length) : 0) + bytesFieldSize(meta.length));
  if (s.data.length > 0) b.bytes(1, s.data);
  b.bytes(2, meta);
  return b.finish();
}

/** Decodes raftpb.Snapshot; the data is copied out of `buf`. */
export function decodeSnapshot(buf: Uint8Array): Snapshot {
  const r = new WireReader(buf, 'raftpb.Snapshot');
  let data: Uint8Array = EMPTY_BYTES;
  let metadata = decodeSnapshotMetadata(EMPTY_BYTES);
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 2) data = r.bytesCopy();
    else if (field === 2 && wt === 2) metadata = decodeSnapshotMetadata(r.bytes());
    else r.skip(wt);
  }
  return { data, metadata };
}

/** walpb.Snapshot: index and term, always. */
export function encodeWalSnapshot(s: WalSnapshot): Uint8Array {
  const b = new Builder(uintFieldSize(s.index) + uintFieldSize(s.term));
  b.uint(1, s.index);
  b.uint(2, s.term);
  return b.finish();
}

export function decodeWalSnapshot(buf: Uint8Array): WalSnapshot {
  const r = new WireReader(buf, 'walpb.Snapshot');
  let index = 0;
  let term = 0;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) index = r.varint();
    else if (field === 2 && wt === 0) term = r.varint();
    else r.skip(wt);
  }
  return { index, term };
}

/** etcdserverpb.Metadata: NodeID and ClusterID, always. */
export function encodeMemberMetadata(m: MemberMetadata): Uint8Array {
  const b = new Builder(bigFieldSize(m.nodeId) + bigFieldSize(m.clusterId));
  b.uintBig(1, m.nodeId);
  b.uintBig(2, m.clusterId);
  return b.finish();
}

export function decodeMemberMetadata(buf: Uint8Array): MemberMetadata {
  const r = new WireReader(buf, 'etcdserverpb.Metadata');
  let nodeId = 0n;
  let clusterId = 0n;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) nodeId = r.varintBig();
    else if (field === 2 && wt === 0) clusterId = r.varintBig();
    else r.skip(wt);
  }
  return { nodeId, clusterId };
}
