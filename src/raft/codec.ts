/**
 * The few protobuf encodings raft itself needs, byte-for-byte as etcd (gogoproto) writes them:
 *  - ConfChange and ConfChangeV2, because a conf change entry's `data` is that encoding and
 *    raft must read it back (pending-change checks, auto-leave). A log written by Floe thus
 *    carries the same entry bytes as etcd's.
 *  - the encoded size of an Entry, which is what the byte limits (max bytes per message, per
 *    Ready) count, as etcd does.
 * Everything else (messages, hard state, snapshots) is encoded by the WAL and the transport.
 *
 * gogoproto writes non-nullable scalar fields always (even when zero) in field order, and
 * `bytes` fields only when non-nil; we write `bytes` fields only when non-empty.
 */
import { FloeError, ProtoReader, varintSize } from '../pkg';
import {
  CONF_CHANGE_TRANSITION_NUMBER,
  CONF_CHANGE_TYPE_NUMBER,
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  EMPTY_BYTES,
  ENTRY_TYPE_NUMBER,
  Entry,
  fromNumber,
} from './types';

/** Code of the FloeError for a conf change payload that does not decode. */
export const ERR_BAD_CONF_CHANGE = 'ERR_RAFT_BAD_CONF_CHANGE';

const MAX_UINT64 = (1n << 64n) - 1n;

export { varintSize };

/** Encoded size of an entry as etcd's Entry.Size() computes it. */
export function entrySizeBytes(e: Entry): number {
  let n = 3 + varintSize(ENTRY_TYPE_NUMBER[e.type]) + varintSize(e.term) + varintSize(e.index);
  const l = e.data.length;
  if (l > 0) n += 1 + varintSize(l) + l;
  return n;
}

/** Size of the payload alone; the uncommitted-size limit counts this (as etcd does). */
export function payloadSizeBytes(e: Entry): number {
  return e.data.length;
}

class Writer {
  private readonly bytes: number[] = [];

  varint(v: bigint | number): void {
    let x = BigInt(v);
    if (x < 0n || x > MAX_UINT64) throw new FloeError(ERR_BAD_CONF_CHANGE, `varint out of range: ${x}`);
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  raw(b: Uint8Array): void {
    for (const x of b) this.bytes.push(x);
  }

  lengthDelimited(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.raw(b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function bad(what: string): FloeError {
  return new FloeError(ERR_BAD_CONF_CHANGE, `raft: cannot decode conf change: ${what}`);
}

function changeType(n: number): ConfChangeType {
  const t = fromNumber(CONF_CHANGE_TYPE_NUMBER, n);
  if (t === undefined) throw bad(`unknown conf change type ${n}`);
  return t;
}

function transition(n: number): ConfChangeTransition {
  const t = fromNumber(CONF_CHANGE_TRANSITION_NUMBER, n);
  if (t === undefined) throw bad(`unknown conf change transition ${n}`);
  return t;
}

/** Encodes a V1 conf change as etcd's raftpb.ConfChange. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer();
  w.tag(1, 0);
  w.varint(cc.id);
  w.tag(2, 0);
  w.varint(CONF_CHANGE_TYPE_NUMBER[cc.type]);
  w.tag(3, 0);
  w.varint(cc.nodeId);
  if (cc.context.length > 0) w.lengthDelimited(4, cc.context);
  return w.finish();
}

/** Decodes raftpb.ConfChange; throws FloeError ERR_RAFT_BAD_CONF_CHANGE on malformed input. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const r = new ProtoReader(data, bad);
  let id = 0n;
  let type: ConfChangeType = 'ConfChangeAddNode';
  let nodeId = 0n;
  let context = EMPTY_BYTES;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) id = r.varintBig();
    else if (field === 2 && wt === 0) type = changeType(r.varint());
    else if (field === 3 && wt === 0) nodeId = r.varintBig();
    else if (field === 4 && wt === 2) context = r.bytesCopy();
    else r.skip(wt);
  }
  return { kind: 'v1', type, nodeId, context, id };
}

function encodeSingle(c: ConfChangeSingle): Uint8Array {
  const w = new Writer();
  w.tag(1, 0);
  w.varint(CONF_CHANGE_TYPE_NUMBER[c.type]);
  w.tag(2, 0);
  w.varint(c.nodeId);
  return w.finish();
}

function decodeSingle(data: Uint8Array): ConfChangeSingle {
  const r = new ProtoReader(data, bad);
  let type: ConfChangeType = 'ConfChangeAddNode';
  let nodeId = 0n;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) type = changeType(r.varint());
    else if (field === 2 && wt === 0) nodeId = r.varintBig();
    else r.skip(wt);
  }
  return { type, nodeId };
}

/** Encodes a V2 conf change as etcd's raftpb.ConfChangeV2. */
export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const w = new Writer();
  w.tag(1, 0);
  w.varint(CONF_CHANGE_TRANSITION_NUMBER[cc.transition]);
  for (const c of cc.changes) w.lengthDelimited(2, encodeSingle(c));
  if (cc.context.length > 0) w.lengthDelimited(3, cc.context);
  return w.finish();
}

/** Decodes raftpb.ConfChangeV2; throws FloeError ERR_RAFT_BAD_CONF_CHANGE on malformed input. */
export function decodeConfChangeV2(data: Uint8Array): ConfChangeV2 {
  const r = new ProtoReader(data, bad);
  let tr: ConfChangeTransition = 'ConfChangeTransitionAuto';
  const changes: ConfChangeSingle[] = [];
  let context = EMPTY_BYTES;
  while (!r.done()) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wt = key & 7;
    if (field === 1 && wt === 0) tr = transition(r.varint());
    else if (field === 2 && wt === 2) changes.push(decodeSingle(r.bytesCopy()));
    else if (field === 3 && wt === 2) context = r.bytesCopy();
    else r.skip(wt);
  }
  return { kind: 'v2', transition: tr, changes, context };
}
