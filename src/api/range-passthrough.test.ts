/**
 * The sliced Range (src/server/range-sliced.ts) encoded through the pass-through serializer
 * gives the very bytes the one-shot path (applyRange + the loader's encoder) gives, for random
 * key sets, histories with deletes, read revisions, limits, sorts, filters, keys_only and
 * count_only, with slices of a few keys and random writes landing between slices, records
 * fetched by lookups or by sweeps of the backend in revision order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { etcdServices } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { Rng } from '../pkg';
import { applyRange } from '../server/apply-kv';
import { rangeInSlices } from '../server/range-sliced';
import { decodeWireKvs, wireKvsOf } from '../server/range-wire';
import { b, closeStore, openStore, tempDir, forSeedsAsync, type OpenStore } from '../mvcc/test-store';
import { passThroughRangeSerializer } from './range-passthrough';
import { rangeReq } from '../server/test-util';

const encode = etcdServices().kv.Range.responseSerialize as (resp: pb.RangeResponse) => Buffer;
const serialize = passThroughRangeSerializer(encode);
const decode = etcdServices().kv.Range.responseDeserialize as (bytes: Buffer) => pb.RangeResponse;

function req(over: Partial<pb.RangeRequest>): pb.RangeRequest {
  return rangeReq('', '', { key: Buffer.alloc(0), range_end: Buffer.alloc(0), ...over });
}

const randomKey = (rng: Rng): Buffer => b(`k${rng.int(60).toString().padStart(2, '0')}`);

/** One random write: a put (sometimes of an empty value, sometimes with a lease) or a delete. */
function randomWrite(s: OpenStore, rng: Rng): void {
  const k = randomKey(rng);
  if (rng.chance(0.2)) s.store.deleteRange(k, rng.chance(0.5) ? null : b(`k${rng.int(60)}`));
  else s.store.put(k, rng.chance(0.1) ? Buffer.alloc(0) : rng.bytes(rng.int(40), 4), { lease: rng.chance(0.1) ? BigInt(rng.int(1000) + 1) : 0n });
  if (rng.chance(0.05)) s.batch.commit();
}

function randomRequest(rng: Rng, curRev: number, compactRev: number): pb.RangeRequest {
  const lo = rng.int(70);
  const shape = rng.int(4);
  const over: { -readonly [K in keyof pb.RangeRequest]?: pb.RangeRequest[K] } = {
    key: b(`k${lo.toString().padStart(2, '0')}`),
    range_end: shape === 0 ? Buffer.alloc(0) : shape === 1 ? Buffer.from([0]) : b(`k${(lo + rng.int(40)).toString().padStart(2, '0')}`),
  };
  if (rng.chance(0.3)) over.key = b('a'); // everything from before the first key
  if (rng.chance(0.4)) over.limit = String(rng.int(12));
  if (rng.chance(0.4)) over.revision = String(Math.max(compactRev, 1) + rng.int(curRev - Math.max(compactRev, 1) + 1));
  if (rng.chance(0.3)) over.sort_order = rng.int(3) as pb.RangeRequest['sort_order'];
  if (rng.chance(0.3)) over.sort_target = rng.int(5) as pb.RangeRequest['sort_target'];
  if (rng.chance(0.15)) over.keys_only = true;
  if (rng.chance(0.1)) over.count_only = true;
  if (rng.chance(0.15)) over.min_mod_revision = String(rng.int(curRev + 1));
  if (rng.chance(0.15)) over.max_mod_revision = String(rng.int(curRev + 1));
  if (rng.chance(0.1)) over.min_create_revision = String(rng.int(curRev + 1));
  if (rng.chance(0.1)) over.max_create_revision = String(rng.int(curRev + 1));
  return req(over);
}

test('sliced ranges encode to the same bytes as the one-shot path, with writes between slices', async () => {
  await forSeedsAsync(6, async (seed) => {
    const rng = new Rng(seed);
    const { dir, cleanup } = tempDir();
    const s = openStore(path.join(dir, 'db'));
    try {
      for (let i = 0; i < 300; i++) randomWrite(s, rng);
      if (rng.chance(0.5)) await s.store.compact(s.store.currentRevision - rng.int(100));
      for (let q = 0; q < 150; q++) {
        const r = randomRequest(rng, s.store.currentRevision, s.store.compactRevision);
        const view = s.store.read();
        const oneShot = applyRange(view, r);
        oneShot.header = { revision: view.revision };
        const want = encode(oneShot);
        const sliceKeys = 1 + rng.int(7);
        const { resp, revision } = await rangeInSlices(s.store, r, {
          stepKeys: sliceKeys,
          sliceBudgetMs: 0,
          // Small windows, often swept (src/mvcc/range-window.ts), or the defaults.
          reader: rng.chance(0.7) ? { windowRevs: 1 + rng.int(30), sweepMinRevs: 1 + rng.int(4), sweepFactor: 1 + rng.int(40) } : {},
          nextTurn: async () => {
            for (let w = rng.int(3); w > 0; w--) randomWrite(s, rng);
          },
        });
        resp.header = { revision };
        const got = serialize(resp);
        assert.ok(got.equals(want), `request ${q} (slices of ${sliceKeys}): bytes differ\n got ${JSON.stringify(decode(got))}\nwant ${JSON.stringify(decode(want))}`);
        // The decoded view offered to other readers matches the one-shot objects too.
        assert.deepEqual(resp.kvs, oneShot.kvs);
        assert.equal(s.store.openReaders, 0);
      }
    } finally {
      await closeStore(s);
      cleanup();
    }
  });
});

test('a response without a wire form takes the loader encoder unchanged', () => {
  const resp: pb.RangeResponse = { header: { revision: 7 }, kvs: [{ key: b('a'), value: b('1'), mod_revision: 3 }], count: 1 };
  assert.ok(serialize(resp).equals(encode(resp)));
  assert.equal(wireKvsOf(resp), undefined);
  assert.deepEqual(decodeWireKvs([]), []);
});
