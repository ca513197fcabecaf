/**
 * put-codec.ts against the loader's protobufjs codecs: random PutRequests (seeded; the seed is
 * printed on failure) decode to deep-equal objects, including int64 leases over the whole
 * range and repeated fields; random bytes give the same result or the same error; random
 * PutResponse headers encode to the same bytes, and shapes the fast encoder leaves alone
 * (prev_kv, odd numbers) still give the loader's bytes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { etcdServices } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { Rng } from '../pkg/rng';
import { withFastPutCodecs, decodePutRequestFast, encodePutResponseFast } from './put-codec';

const loader = etcdServices().kv.Put;
const fast = withFastPutCodecs(etcdServices().kv).Put;
const loaderDecode = loader.requestDeserialize as (b: Buffer) => pb.PutRequest;
const loaderEncodeReq = loader.requestSerialize as (r: unknown) => Buffer;
const loaderEncode = loader.responseSerialize as (r: pb.PutResponse) => Buffer;
const fastDecode = fast.requestDeserialize as (b: Buffer) => pb.PutRequest;
const fastEncode = fast.responseSerialize as (r: pb.PutResponse) => Buffer;

function seeded(name: string, body: (rng: Rng) => void): void {
  test(name, () => {
    const seed = Number(process.env['FLOE_SEED'] ?? Date.now() % 1_000_000);
    try {
      body(new Rng(seed));
    } catch (e) {
      console.error(`${name}: failed with seed ${seed} (replay with FLOE_SEED=${seed})`);
      throw e;
    }
  });
}

function randomBytes(rng: Rng, max: number): Buffer {
  const b = Buffer.alloc(rng.int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
  return b;
}

function randomInt64(rng: Rng): string {
  switch (rng.int(5)) {
    case 0: return '0';
    case 1: return String(rng.int(1000));
    case 2: return '-' + String(1 + rng.int(1000));
    case 3: return (BigInt.asIntN(64, (BigInt(rng.int(2 ** 30)) << 34n) | BigInt(rng.int(2 ** 30)))).toString();
    default: return rng.int(2) === 0 ? '9223372036854775807' : '-9223372036854775808';
  }
}

seeded('a random PutRequest decodes to what the loader gives', (rng) => {
  for (let i = 0; i < 2000; i++) {
    const req: Record<string, unknown> = {};
    if (rng.int(4) > 0) req['key'] = randomBytes(rng, 40);
    if (rng.int(4) > 0) req['value'] = randomBytes(rng, 300);
    if (rng.int(2) > 0) req['lease'] = randomInt64(rng);
    for (const f of ['prev_kv', 'ignore_value', 'ignore_lease']) if (rng.int(2) > 0) req[f] = rng.int(2) === 0;
    let bytes = loaderEncodeReq(req);
    // Repeated fields: the last one wins in both.
    if (rng.int(5) === 0) bytes = Buffer.concat([bytes, loaderEncodeReq({ key: randomBytes(rng, 5), lease: randomInt64(rng), prev_kv: true })]);
    assert.equal(typeof decodePutRequestFast(bytes), 'object', 'the fast decoder took a well-formed request');
    assert.deepEqual(fastDecode(bytes), loaderDecode(bytes), `request ${bytes.toString('hex')}`);
  }
});

seeded('random bytes: the same request or the same error', (rng) => {
  for (let i = 0; i < 2000; i++) {
    const bytes = randomBytes(rng, 24);
    let want: unknown;
    let wantErr: unknown = null;
    try {
      want = loaderDecode(bytes);
    } catch (e) {
      wantErr = e;
    }
    if (wantErr !== null) {
      assert.throws(() => fastDecode(bytes), (e: Error) => e.message === (wantErr as Error).message, bytes.toString('hex'));
    } else {
      assert.deepEqual(fastDecode(bytes), want, bytes.toString('hex'));
    }
  }
});

seeded('a random PutResponse encodes to the loader\'s bytes', (rng) => {
  const u64 = (): string | number => {
    switch (rng.int(4)) {
      case 0: return rng.int(2) === 0 ? 0 : '0';
      case 1: return rng.int(1_000_000);
      case 2: return (BigInt(rng.int(2 ** 30)) * BigInt(rng.int(2 ** 30)) * BigInt(1 + rng.int(16))).toString();
      default: return '18446744073709551615';
    }
  };
  let taken = 0;
  for (let i = 0; i < 2000; i++) {
    const header: Record<string, unknown> = {};
    for (const f of ['cluster_id', 'member_id', 'revision', 'raft_term']) if (rng.int(5) > 0) header[f] = u64();
    const resp: Record<string, unknown> = { header };
    if (rng.int(10) === 0) resp['prev_kv'] = { key: Buffer.from('k'), value: Buffer.from('v'), create_revision: '3', mod_revision: 4, version: 1, lease: '0' };
    else if (rng.int(10) === 0) resp['prev_kv'] = null;
    if (rng.int(20) === 0) header['revision'] = -5; // left to the loader
    if (Buffer.isBuffer(encodePutResponseFast(resp as unknown as pb.PutResponse))) taken++;
    assert.deepEqual(fastEncode(resp as unknown as pb.PutResponse), loaderEncode(resp as unknown as pb.PutResponse), JSON.stringify(resp));
  }
  assert.ok(taken > 1000, `the fast encoder took ${taken} of 2000`);
});

test('a bool varint longer than 5 bytes gets the loader\'s answer (protobufjs then takes 10 bytes)', () => {
  // ignore_value (field 5) as a 6-byte varint, alone, with a field after it, and as 10 bytes.
  for (const hex of ['28818ed7ae8335', '28818ed7ae833530', '2081808080800130012a0161', '2880808080808080808001', '288080808010']) {
    const bytes = Buffer.from(hex, 'hex');
    let want: unknown;
    try {
      want = loaderDecode(bytes);
    } catch (e) {
      assert.throws(() => fastDecode(bytes), (got: Error) => got.message === (e as Error).message, hex);
      continue;
    }
    assert.deepEqual(fastDecode(bytes), want, hex);
  }
});
