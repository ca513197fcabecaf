import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forSeeds, Rng } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { decodeRaftRequest, encodeRaftRequest, encodeRaftRequestReflective, type RaftRequestIn } from './raft-request';

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
