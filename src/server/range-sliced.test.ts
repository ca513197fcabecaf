/**
 * A real member serves a large Range in slices: a write proposed while the range runs is
 * durable, applied and answered before the range's answer comes, and the range still answers
 * at the revision it started at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as pb from '../etcdpb/messages';
import { openMember, putReq, rangeReq, tempDir } from './test-util';
import { wireKvsOf } from './range-wire';

const KEYS = 40_000;

function putOp(i: number): pb.RequestOp {
  return { request: 'request_put', request_put: putReq(`key${i.toString().padStart(6, '0')}`, 'v'.repeat(100)) } as pb.RequestOp;
}

test('a write proposed during a long range is answered before the range ends', async () => {
  const m = await openMember(tempDir());
  try {
    for (let i = 0; i < KEYS; i += 128) {
      const ops: pb.RequestOp[] = [];
      for (let j = i; j < Math.min(KEYS, i + 128); j++) ops.push(putOp(j));
      await m.txn({ compare: [], success: ops, failure: [] });
    }
    const startRev = Number(m.header().revision);
    const order: string[] = [];
    const range = m.range(rangeReq('key', 'kez')).then((r) => {
      order.push('range');
      return r;
    });
    const put = m.put(putReq('key000000', 'changed')).then((r) => {
      order.push('put');
      return r;
    });
    const [rr, pr] = await Promise.all([range, put]);
    assert.deepEqual(order, ['put', 'range'], 'the range held the write back until it ended');
    assert.equal(Number(pr.header.revision), startRev + 1);
    // The range answers at its start revision: the first key still has its old value.
    assert.equal(Number(rr.header.revision), startRev);
    assert.equal(Number(rr.count), KEYS);
    assert.ok(wireKvsOf(rr) !== undefined, 'the member did not build the wire form');
    assert.equal(rr.kvs?.length, KEYS);
    assert.equal(Buffer.from(rr.kvs?.[0]?.value ?? []).toString(), 'v'.repeat(100));
  } finally {
    await m.close();
  }
});
