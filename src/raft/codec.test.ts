import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import {
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
  entrySizeBytes,
  ERR_BAD_CONF_CHANGE,
} from './codec';
import { asV2, confChangeFromEntry, confChangeToEntryParts, enterJoint, leaveJoint, LEAVE_JOINT } from './conf-change';
import { ConfChange, ConfChangeV2, EMPTY_BYTES } from './types';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

// Expected bytes were produced by etcd 3.4's raftpb (gogoproto) Marshal() for the same values.
const V1_CASES: [ConfChange, string][] = [
  [{ kind: 'v1', type: 'ConfChangeAddNode', nodeId: 2n, context: EMPTY_BYTES, id: 0n }, '080010001802'],
  [{ kind: 'v1', type: 'ConfChangeRemoveNode', nodeId: 300n, context: Uint8Array.of(0x61, 0x62), id: 5n }, '0805100118ac0222026162'],
  [
    { kind: 'v1', type: 'ConfChangeAddLearnerNode', nodeId: 0x8000000000000001n, context: EMPTY_BYTES, id: 0xffffffffffffffffn },
    '08ffffffffffffffffff0110031881808080808080808001',
  ],
];

const V2_CASES: [ConfChangeV2, string][] = [
  [LEAVE_JOINT, '0800'],
  [
    {
      kind: 'v2',
      transition: 'ConfChangeTransitionJointExplicit',
      changes: [
        { type: 'ConfChangeAddNode', nodeId: 2n },
        { type: 'ConfChangeAddLearnerNode', nodeId: 3n },
      ],
      context: Uint8Array.of(0x78),
    },
    '08021204080010021204080310031a0178',
  ],
];

test('conf changes encode byte-for-byte as etcd writes them, and decode back', () => {
  for (const [cc, want] of V1_CASES) {
    assert.equal(hex(encodeConfChange(cc)), want);
    assert.deepEqual(decodeConfChange(unhex(want)), cc);
  }
  for (const [cc, want] of V2_CASES) {
    assert.equal(hex(encodeConfChangeV2(cc)), want);
    assert.deepEqual(decodeConfChangeV2(unhex(want)), cc);
  }
});

test('decoding skips unknown fields and rejects malformed input with a typed error', () => {
  // Field 9 (varint 7) and field 10 (bytes "z") before the known ones.
  const withUnknown = unhex('4807' + '5201' + '7a' + '080010001802');
  assert.equal(decodeConfChange(withUnknown).nodeId, 2n);
  const bad = ['08', '08ff', '22056162', '1063', '0800120308'];
  for (const b of bad) {
    assert.throws(
      () => (b.startsWith('0800') ? decodeConfChangeV2(unhex(b)) : decodeConfChange(unhex(b))),
      (e: unknown) => isFloeError(e, ERR_BAD_CONF_CHANGE),
      b,
    );
  }
});

test('entry size matches etcd Entry.Size()', () => {
  // etcd: Entry{Term: 3, Index: 300, Type: EntryConfChangeV2, Data: 200 bytes}.Size() == 210,
  // Entry{}.Size() == 6.
  assert.equal(entrySizeBytes({ term: 3, index: 300, type: 'EntryConfChangeV2', data: new Uint8Array(200) }), 210);
  assert.equal(entrySizeBytes({ term: 0, index: 0, type: 'EntryNormal', data: EMPTY_BYTES }), 6);
});

test('V2 transitions: one change is simple, several or an explicit transition are joint', () => {
  const one: ConfChangeV2 = { kind: 'v2', transition: 'ConfChangeTransitionAuto', changes: [{ type: 'ConfChangeAddNode', nodeId: 1n }], context: EMPTY_BYTES };
  const two: ConfChangeV2 = { ...one, changes: [...one.changes, { type: 'ConfChangeAddNode', nodeId: 2n }] };
  assert.equal(enterJoint(one), null);
  assert.deepEqual(enterJoint(two), { autoLeave: true });
  assert.deepEqual(enterJoint({ ...one, transition: 'ConfChangeTransitionJointImplicit' }), { autoLeave: true });
  assert.deepEqual(enterJoint({ ...one, transition: 'ConfChangeTransitionJointExplicit' }), { autoLeave: false });
  assert.equal(leaveJoint(LEAVE_JOINT), true);
  assert.equal(leaveJoint({ ...LEAVE_JOINT, context: Uint8Array.of(1) }), true, 'context does not matter');
  assert.equal(leaveJoint(one), false);
  assert.equal(leaveJoint({ ...LEAVE_JOINT, transition: 'ConfChangeTransitionJointExplicit' }), false);
});

test('a conf change travels through a log entry unchanged', () => {
  const v1 = V1_CASES[1]![0];
  const parts = confChangeToEntryParts(v1);
  assert.equal(parts.type, 'EntryConfChange');
  assert.deepEqual(confChangeFromEntry({ term: 1, index: 1, ...parts }), v1);
  assert.deepEqual(asV2(v1).changes, [{ type: 'ConfChangeRemoveNode', nodeId: 300n }]);
  const v2 = V2_CASES[1]![0];
  const p2 = confChangeToEntryParts(v2);
  assert.equal(p2.type, 'EntryConfChangeV2');
  assert.deepEqual(confChangeFromEntry({ term: 1, index: 1, ...p2 }), v2);
  assert.equal(confChangeFromEntry({ term: 1, index: 1, type: 'EntryNormal', data: EMPTY_BYTES }), null);
});
