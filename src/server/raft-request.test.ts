import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forSeeds, Rng } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { decodeRaftRequest, decodeRaftRequestReflective, encodeRaftRequest, encodeRaftRequestReflective, type RaftRequestIn } from './raft-request';
import { decodePutFast } from './raft-request-fast';

const LEASES = ['0', '1', '127', '128', '16383', '16384', '7587869470837450000', '9223372036854775807', '-1', '-9223372036854775808'];
const IDS = ['1', '127', '128', '9223372036854775807', '9223372036854775808', '18446744073709551615', '7587869470837450001'];

function randomPut(rng: Rng): RaftRequestIn {
  const sizes = [0, 1, 127, 128, 300, 16384, 70000];
  const put: pb.PutRequest = {
    key: rng.bytes(rng.pick(sizes.slice(0, 5))),
    value: rng.bytes(rng.pick(sizes)),
    lease: rng.pick(LEASES),
    prev_kv: rng.chance(0.5),
    ignore_value: rng.chance(0.5),
    ignore_lease: rng.chance(0.5),
  };
  return { put, header: { ID: rng.pick(IDS) } };
}

test('the hand-written put encoder writes exactly the reflective encoder\'s bytes', () => {
  forSeeds(20, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 50; i++) {
      const req = randomPut(rng);
      const fast = Buffer.from(encodeRaftRequest(req));
      const slow = Buffer.from(encodeRaftRequestReflective(req));
      assert.deepEqual(fast, slow, `put ${JSON.stringify({ ...req.put, key: req.put!.key.length, value: req.put!.value.length })} id ${req.header!.ID}`);
      const back = decodeRaftRequest(fast);
      assert.equal(back.header?.ID, req.header!.ID);
      assert.deepEqual(Buffer.from(back.put!.key), Buffer.from(req.put!.key));
      assert.equal(back.put!.lease, req.put!.lease);
    }
  });
});

test('other shapes (extra fields, missing fields, other requests) still encode as before', () => {
  const put: pb.PutRequest = { key: Buffer.from('k'), value: Buffer.from('v'), lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false };
  const shapes: RaftRequestIn[] = [
    { put },
    { put: { key: put.key, value: put.value } as unknown as pb.PutRequest, header: { ID: '5' } },
    { put: { ...put, lease: 5 as unknown as string }, header: { ID: '5' } },
    { delete_range: { key: Buffer.from('a'), range_end: Buffer.alloc(0), prev_kv: false }, header: { ID: '6' } },
    { v2: { Method: 'PUT', Path: '/0/version', Val: '3.4.0' }, header: { ID: '7' } },
  ];
  for (const req of shapes) {
    assert.deepEqual(Buffer.from(encodeRaftRequest(req)), Buffer.from(encodeRaftRequestReflective(req)), JSON.stringify(Object.keys(req)));
  }
});

/** The outcome of a decoder on `data`: its result, or the fact that it threw. */
function outcomeOf(decode: (d: Uint8Array) => unknown, data: Uint8Array): unknown {
  try {
    return { ok: decode(data) };
  } catch {
    return 'threw';
  }
}

test('the hand-written put decoder gives exactly the reflective decoder\'s request, with and without auth fields', () => {
  forSeeds(20, (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < 50; i++) {
      const req = randomPut(rng);
      if (rng.chance(0.3)) req.header = { ID: req.header!.ID, username: rng.pick(['', 'root', 'u-1']), auth_revision: rng.pick(['0', '1', '9007199254740993']) };
      const bytes = encodeRaftRequest(req);
      const fast = decodePutFast(bytes);
      assert.notEqual(fast, null, 'a put entry takes the fast decoder');
      assert.deepEqual(fast, decodeRaftRequestReflective(bytes));
    }
  });
});

test('every other entry shape, and damaged put entries, decode as the reflective decoder decodes them', () => {
  const put: pb.PutRequest = { key: Buffer.from('k'), value: Buffer.from('v'), lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false };
  const whole = Buffer.from(encodeRaftRequest({ put, header: { ID: '5' } }));
  const others: Uint8Array[] = [
    encodeRaftRequestReflective({ put: { key: put.key, value: put.value } as unknown as pb.PutRequest, header: { ID: '5' } }), // zero fields left out, as gogoproto writes them
    encodeRaftRequestReflective({ delete_range: { key: Buffer.from('a'), range_end: Buffer.alloc(0), prev_kv: false }, header: { ID: '6' } }),
    encodeRaftRequestReflective({ v2: { Method: 'PUT', Path: '/0/version', Val: '3.4.0' }, header: { ID: '7' } }),
    encodeRaftRequestReflective({ put }), // no header
    Buffer.concat([whole, whole]), // every field twice: protobuf merges, the fast decoder declines
    Buffer.from([...whole, 0x08, 0x01]), // and a top-level ID
    encodeRaftRequestReflective({ put, header: { ID: '5', username: 'bj\u00f6rk' } }), // non-ASCII user
  ];
  for (const data of others) {
    assert.equal(decodePutFast(data), null);
    assert.deepEqual(outcomeOf(decodeRaftRequest, data), outcomeOf(decodeRaftRequestReflective, data));
  }
  // Damage: every truncation, and random bytes changed, agree with the reflective decoder.
  const rng = new Rng(7);
  const cases: Buffer[] = [];
  for (let n = 0; n < whole.length; n++) cases.push(whole.subarray(0, n));
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(whole);
    for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)] = rng.int(256);
    cases.push(b);
  }
  for (const data of cases) assert.deepEqual(outcomeOf(decodeRaftRequest, data), outcomeOf(decodeRaftRequestReflective, data), data.toString('hex'));
});
