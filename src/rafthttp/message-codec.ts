/**
 * raftpb.Message on the peer wire, with etcd's field numbers:
 *
 *   type=1 to=2 from=3 term=4 logTerm=5 index=6 entries=7 commit=8 snapshot=9
 *   reject=10 rejectHint=11 context=12
 *
 * Scalars are written always, in field-number order, as gogoproto does; `entries` once per
 * entry; `context` only when non-empty. `snapshot` is written only when the message carries
 * one (gogoproto would always write an empty one): our Message uses null for "none" and the
 * round trip must give null back. A Floe-only cluster speaks this; etcd members are no goal.
 *
 * A frame on the stream is an 8-byte big-endian length followed by the encoded message.
 */
import {
  assert,
  FloeError,
  ProtoReader,
  putVarint,
  putVarintBig,
  varintSize,
  varintSizeBig,
  WIRE_BYTES,
  WIRE_VARINT,
} from '../pkg';
import {
  EMPTY_BYTES,
  MESSAGE_TYPE_NUMBER,
  fromNumber,
  type Entry,
  type Message,
  type MessageType,
  type Snapshot,
} from '../raft';
import { decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from '../wal';

/** Code of the FloeError for bytes from a peer that are not a valid message. */
export const ERR_BAD_PEER_MESSAGE = 'ERR_RAFTHTTP_BAD_MESSAGE';

/** Bytes of the length prefix of every frame. */
export const FRAME_HEADER_BYTES = 8;

function checkIndex(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FloeError(ERR_BAD_PEER_MESSAGE, `rafthttp: ${what} ${n} is not a non-negative safe integer`);
  }
}

/**
 * Encodes `m` as one frame: 8-byte big-endian length, then the protobuf. One allocation for
 * the frame (entries are encoded first so the total size is known).
 */
export function encodeFrame(m: Message): Buffer {
  checkIndex(m.term, 'term');
  checkIndex(m.logTerm, 'logTerm');
  checkIndex(m.index, 'index');
  checkIndex(m.commit, 'commit');
  checkIndex(m.rejectHint, 'rejectHint');
  const entries: Uint8Array[] = m.entries.map((e) => encodeEntry(e));
  const snap: Uint8Array | null = m.snapshot === null ? null : encodeSnapshot(m.snapshot);
  let size =
    1 + varintSize(MESSAGE_TYPE_NUMBER[m.type]) +
    1 + varintSizeBig(m.to) +
    1 + varintSizeBig(m.from) +
    1 + varintSize(m.term) +
    1 + varintSize(m.logTerm) +
    1 + varintSize(m.index) +
    1 + varintSize(m.commit) +
    1 + 1 + // reject
    1 + varintSize(m.rejectHint);
  for (const e of entries) size += 1 + varintSize(e.length) + e.length;
  if (snap !== null) size += 1 + varintSize(snap.length) + snap.length;
  if (m.context.length > 0) size += 1 + varintSize(m.context.length) + m.context.length;

  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + size);
  buf.writeBigUInt64BE(BigInt(size), 0);
  let pos = FRAME_HEADER_BYTES;
  const bytes = (tag: number, b: Uint8Array): void => {
    buf[pos++] = tag;
    pos = putVarint(buf, pos, b.length);
    buf.set(b, pos);
    pos += b.length;
  };
  buf[pos++] = 0x08;
  pos = putVarint(buf, pos, MESSAGE_TYPE_NUMBER[m.type]);
  buf[pos++] = 0x10;
  pos = putVarintBig(buf, pos, m.to);
  buf[pos++] = 0x18;
  pos = putVarintBig(buf, pos, m.from);
  buf[pos++] = 0x20;
  pos = putVarint(buf, pos, m.term);
  buf[pos++] = 0x28;
  pos = putVarint(buf, pos, m.logTerm);
  buf[pos++] = 0x30;
  pos = putVarint(buf, pos, m.index);
  for (const e of entries) bytes(0x3a, e);
  buf[pos++] = 0x40;
  pos = putVarint(buf, pos, m.commit);
  if (snap !== null) bytes(0x4a, snap);
  buf[pos++] = 0x50;
  buf[pos++] = m.reject ? 1 : 0;
  buf[pos++] = 0x58;
  pos = putVarint(buf, pos, m.rejectHint);
  if (m.context.length > 0) bytes(0x62, m.context);
  assert(pos === buf.length, () => `rafthttp: encoded ${pos} bytes into a ${buf.length}-byte frame`);
  return buf;
}

/** The protobuf of `m` alone (no frame header). */
export function encodeMessage(m: Message): Buffer {
  return encodeFrame(m).subarray(FRAME_HEADER_BYTES);
}

/** The reader's error for a malformed message. */
function badMessage(why: string): FloeError {
  return new FloeError(ERR_BAD_PEER_MESSAGE, `rafthttp: cannot decode message: ${why}`);
}

/** Decodes a raftpb.Message; malformed input throws FloeError ERR_RAFTHTTP_BAD_MESSAGE. */
export function decodeMessage(buf: Uint8Array): Message {
  let type: MessageType | undefined;
  let to = 0n;
  let from = 0n;
  let term = 0;
  let logTerm = 0;
  let index = 0;
  const entries: Entry[] = [];
  let commit = 0;
  let snapshot: Snapshot | null = null;
  let reject = false;
  let rejectHint = 0;
  let context: Uint8Array = EMPTY_BYTES;
  const r = new ProtoReader(buf, badMessage);
  try {
    while (!r.done()) {
      const key = r.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (field === 0) throw r.fail('field number 0');
      if (wire === WIRE_VARINT) {
        switch (field) {
          case 1: {
            const n = r.varintBig();
            const t = n <= BigInt(Number.MAX_SAFE_INTEGER) ? fromNumber(MESSAGE_TYPE_NUMBER, Number(n)) : undefined;
            if (t === undefined) throw new FloeError(ERR_BAD_PEER_MESSAGE, `rafthttp: unknown message type ${n}`);
            type = t;
            break;
          }
          case 2: to = r.varintBig(); break;
          case 3: from = r.varintBig(); break;
          case 4: term = r.varint(); break;
          case 5: logTerm = r.varint(); break;
          case 6: index = r.varint(); break;
          case 8: commit = r.varint(); break;
          case 10: reject = r.varintBig() !== 0n; break;
          case 11: rejectHint = r.varint(); break;
          default: r.skip(wire); // unknown field: skipped, as protobuf requires
        }
      } else if (wire === WIRE_BYTES) {
        switch (field) {
          case 7: entries.push(decodeEntry(r.bytes())); break;
          case 9: snapshot = decodeSnapshot(r.bytes()); break;
          case 12: context = r.bytesCopy(); break;
          default: r.skip(wire);
        }
      } else {
        r.skip(wire);
      }
    }
  } catch (e) {
    if (e instanceof FloeError && e.code === ERR_BAD_PEER_MESSAGE) throw e;
    throw new FloeError(ERR_BAD_PEER_MESSAGE, `rafthttp: cannot decode message: ${(e as Error).message}`, { cause: e });
  }
  if (type === undefined) throw new FloeError(ERR_BAD_PEER_MESSAGE, 'rafthttp: message without a type');
  return { type, to, from, term, logTerm, index, entries, commit, snapshot, reject, rejectHint, context };
}
