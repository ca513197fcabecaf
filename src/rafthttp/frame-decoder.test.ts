import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { forSeeds, isFloeError, Rng } from '../pkg';
import { ERR_FRAME_TOO_LARGE, FrameDecoder } from './frame-decoder';

function frame(payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeBigUInt64BE(BigInt(payload.length));
  return Buffer.concat([h, payload]);
}

test('frames come out whole and in order however the stream is cut (seeded)', () => {
  forSeeds(20, (seed) => {
    const rng = new Rng(seed);
    const payloads = Array.from({ length: 30 }, () => rng.bytes(rng.chance(0.2) ? 0 : rng.int(3000)));
    const stream = Buffer.concat(payloads.map(frame));
    const d = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < stream.length) {
      const n = rng.chance(0.3) ? 1 : 1 + rng.int(4000);
      out.push(...d.push(stream.subarray(pos, pos + n)));
      pos += n;
    }
    assert.deepEqual(out, payloads);
    assert.equal(d.pendingBytes, 0);
  });
});

test('a frame split at every byte boundary decodes identically', () => {
  const payload = Buffer.from('0123456789abcdef');
  const f = frame(payload);
  for (let cut = 0; cut <= f.length; cut++) {
    const d = new FrameDecoder(100);
    const out = [...d.push(f.subarray(0, cut)), ...d.push(f.subarray(cut))];
    assert.deepEqual(out, [payload], `cut at ${cut}`);
  }
});

test('the frame size limit is inclusive: limit accepted, limit+1 refused', () => {
  const limit = 64;
  assert.deepEqual(new FrameDecoder(limit).push(frame(Buffer.alloc(limit, 7))), [Buffer.alloc(limit, 7)]);
  const d = new FrameDecoder(limit);
  assert.throws(() => d.push(frame(Buffer.alloc(limit + 1))), (e: unknown) => isFloeError(e, ERR_FRAME_TOO_LARGE));
  // A header announcing 2^64-1 bytes is refused before anything is allocated for it.
  assert.throws(() => new FrameDecoder(limit).push(Buffer.alloc(8, 0xff)), (e: unknown) => isFloeError(e, ERR_FRAME_TOO_LARGE));
});
