import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { forSeeds, isFloeError, Rng } from '../pkg';
import { makeMessage, MESSAGE_TYPE_NUMBER, type Entry, type Message, type MessageType, type Snapshot } from '../raft';
import { decodeMessage, encodeFrame, encodeMessage, ERR_BAD_PEER_MESSAGE, FRAME_HEADER_BYTES } from './message-codec';

const MAX_U64 = (1n << 64n) - 1n;
const ALL_TYPES = Object.keys(MESSAGE_TYPE_NUMBER) as MessageType[];

const snap: Snapshot = {
  data: Buffer.from('raft snapshot metadata payload'),
  metadata: {
    index: 1234,
    term: 7,
    confState: { voters: [1n, 2n, MAX_U64], learners: [4n], votersOutgoing: [1n], learnersNext: [5n], autoLeave: true },
  },
};
const entries: Entry[] = [
  { term: 3, index: 10, type: 'EntryNormal', data: Buffer.from('put k v') },
  { term: 3, index: 11, type: 'EntryConfChange', data: Buffer.from([8, 1, 16, 0]) },
  { term: 4, index: 12, type: 'EntryConfChangeV2', data: new Uint8Array(0) },
];

function full(type: MessageType): Message {
  return makeMessage({
    type,
    to: MAX_U64,
    from: 0x8e9e05c52164694dn,
    term: 2 ** 53 - 1,
    logTerm: 5,
    index: 99,
    entries,
    commit: 98,
    snapshot: type === 'MsgSnap' ? snap : null,
    reject: true,
    rejectHint: 77,
    context: Buffer.from('ctx'),
  });
}

/** `m` with every payload as a plain Uint8Array, as the decoder returns them. */
function plain(m: Message): Message {
  return {
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: new Uint8Array(e.data) })),
    snapshot: m.snapshot === null ? null : { ...m.snapshot, data: new Uint8Array(m.snapshot.data) },
    context: new Uint8Array(m.context),
  };
}

test('every message type round-trips with entries, snapshot, context and extreme ids', () => {
  for (const type of ALL_TYPES) {
    const m = full(type);
    assert.deepEqual(decodeMessage(encodeMessage(m)), plain(m), type);
  }
});

test('an all-default message round-trips to null snapshot and empty context', () => {
  const m = makeMessage({ type: 'MsgHeartbeat' });
  const back = decodeMessage(encodeMessage(m));
  assert.equal(back.snapshot, null);
  assert.equal(back.context.length, 0);
  assert.deepEqual(back, m);
});

test('scalars are written always, in field order, with etcd field numbers', () => {
  // MsgHeartbeat(8) to=2 from=1 term=5 commit=3, nothing else set.
  const m = makeMessage({ type: 'MsgHeartbeat', to: 2n, from: 1n, term: 5, commit: 3 });
  const expected = Buffer.from([0x08, 8, 0x10, 2, 0x18, 1, 0x20, 5, 0x28, 0, 0x30, 0, 0x40, 3, 0x50, 0, 0x58, 0]);
  assert.deepEqual(encodeMessage(m), expected);
  const frame = encodeFrame(m);
  assert.equal(frame.readBigUInt64BE(0), BigInt(expected.length), 'frame header is the big-endian payload length');
  assert.deepEqual(frame.subarray(FRAME_HEADER_BYTES), expected);
});

test('unknown fields are skipped', () => {
  const m = makeMessage({ type: 'MsgApp', to: 2n, from: 1n, term: 1 });
  const extra = Buffer.concat([encodeMessage(m), Buffer.from([0x68, 0x01, 0x72, 0x02, 0xaa, 0xbb])]); // fields 13 (varint), 14 (bytes)
  assert.deepEqual(decodeMessage(extra), m);
});

test('malformed input is refused with ERR_RAFTHTTP_BAD_MESSAGE', () => {
  const bad = (b: Buffer, why: string): void =>
    assert.throws(() => decodeMessage(b), (e: unknown) => isFloeError(e, ERR_BAD_PEER_MESSAGE), why);
  const good = encodeMessage(full('MsgApp'));
  bad(good.subarray(0, good.length - 2), 'truncated');
  bad(Buffer.from([0x08, 99]), 'unknown type');
  bad(Buffer.from([0x10, 1]), 'no type');
  // term = 2^53 does not fit a number
  bad(Buffer.from([0x08, 3, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), 'term 2^53');
  bad(Buffer.from([0x08, 3, 0x3a, 2, 0x08, 9]), 'entry with unknown type');
});

test('term 2^53-1 is the largest accepted on encode', () => {
  assert.doesNotThrow(() => encodeFrame(makeMessage({ type: 'MsgApp', term: 2 ** 53 - 1 })));
  assert.throws(() => encodeFrame(makeMessage({ type: 'MsgApp', term: 2 ** 53 })), (e: unknown) => isFloeError(e, ERR_BAD_PEER_MESSAGE));
});

test('random messages round-trip (seeded)', () => {
  forSeeds(20, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 50; i++) {
      const type = rng.pick(ALL_TYPES);
      const n = rng.int(4);
      const es: Entry[] = [];
      for (let j = 0; j < n; j++) {
        es.push({ term: rng.int(1000), index: rng.u32() * 1000 + j, type: rng.pick(['EntryNormal', 'EntryConfChange', 'EntryConfChangeV2'] as const), data: new Uint8Array(rng.bytes(rng.int(300))) });
      }
      const big = (): bigint => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
      const m = makeMessage({
        type,
        to: big(),
        from: big(),
        term: rng.u32(),
        logTerm: rng.u32(),
        index: rng.u32() * 2 ** 20,
        entries: es,
        commit: rng.u32(),
        snapshot: type === 'MsgSnap' ? snap : null,
        reject: rng.chance(0.5),
        rejectHint: rng.u32(),
        context: new Uint8Array(rng.bytes(rng.int(3) * 5)),
      });
      const back = decodeMessage(encodeMessage(m));
      assert.deepEqual(back, plain(m));
    }
  });
});
