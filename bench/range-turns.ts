/**
 * range-turns: the longest synchronous step a 100k-key range costs the event loop, measured
 * in-process on a real store: every turn of rangeInSlices (the time between two yields), then
 * the reply's serialization as the unary fast path does it: its parts (range-passthrough.ts),
 * sent one by one, or with --gather the one-buffer form grpc-js's path uses, framed by a copy.
 * A put waiting behind the range waits at least the longest of these.
 * Usage: node dist/bench/range-turns.js [KEYS] [RANGES] [--gather]   (defaults 100000, 4)
 */
import * as path from 'node:path';
import { etcdServices } from '../src/etcdpb';
import type * as pb from '../src/etcdpb/messages';
import { closeStore, openStore, tempDir } from '../src/mvcc/test-store';
import { rangeInSlices } from '../src/server/range-sliced';
import * as passthrough from '../src/api/range-passthrough';

async function main(): Promise<void> {
  const keys = Number(process.argv[2] ?? 100_000);
  const ranges = Number(process.argv[3] ?? 4);
  const { dir, cleanup } = tempDir();
  const s = openStore(path.join(dir, 'db'));
  const value = Buffer.alloc(256, 0x61);
  for (let i = 0; i < keys; i++) s.store.put(Buffer.from(i.toString().padStart(8, '0')), value, { lease: 0n });
  s.batch.commit();
  const serialize = passthrough.passThroughRangeSerializer(etcdServices().kv.Range.responseSerialize as (r: pb.RangeResponse) => Buffer);
  const gatherAll = process.argv.includes('--gather');
  const req = { key: Buffer.from([1]), range_end: Buffer.from([0xff]), limit: '0', revision: '0', sort_order: 0, sort_target: 0, serializable: true, keys_only: false, count_only: false, min_mod_revision: '0', max_mod_revision: '0', min_create_revision: '0', max_create_revision: '0' } as unknown as pb.RangeRequest;
  for (let n = 0; n < ranges; n++) {
    const turns: number[] = [];
    let last = performance.now();
    const t0 = last;
    const { resp, revision } = await rangeInSlices(s.store, req, {
      nextTurn: async () => {
        turns.push(performance.now() - last);
        await new Promise((r) => setImmediate(r));
        last = performance.now();
      },
    });
    turns.push(performance.now() - last);
    const t1 = performance.now();
    resp.header = { revision };
    let bytes = 0;
    if (gatherAll) {
      const body = serialize(resp);
      const framed = Buffer.allocUnsafe(body.length + 5);
      framed[0] = 0;
      framed.writeUInt32BE(body.length, 1);
      body.copy(framed, 5);
      bytes = framed.length;
    } else {
      for (const p of passthrough.serializerParts(serialize)?.(resp) ?? [serialize(resp)]) bytes += p.length;
      bytes += 5;
    }
    const encodeMs = performance.now() - t1;
    turns.sort((a, b) => a - b);
    const pct = (q: number): string => (turns[Math.min(turns.length - 1, Math.floor(q * turns.length))] as number).toFixed(1);
    console.log(`range ${n}: ${bytes} bytes in ${(t1 - t0).toFixed(0)} ms over ${turns.length} turns (p50 ${pct(0.5)}, p99 ${pct(0.99)}, max ${pct(1)} ms); ${gatherAll ? 'serialize+frame' : 'parts'} ${encodeMs.toFixed(1)} ms in one turn`);
  }
  await closeStore(s);
  cleanup();
}

void main();
