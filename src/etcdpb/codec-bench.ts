/**
 * Measures the cost of proto-loader's dynamic codec on the messages that dominate the server's
 * time: a RangeResponse of many KeyValues (encode on the server, decode on a client) and the
 * small Range/Put requests decoded once per call. Bounded in iterations and time; prints
 * one line per case.
 *
 *   node dist/src/api/codec-bench.js [--kvs 1000] [--value-bytes 256] [--iterations 200]
 */
import { performance } from 'node:perf_hooks';
import { etcdServices, type KeyValue, type RangeResponse } from './proto';

interface Options {
  readonly kvs: number;
  readonly valueBytes: number;
  readonly iterations: number;
}

const MAX_TIME_PER_CASE_MS = 3_000;

function parseOptions(argv: readonly string[]): Options {
  const get = (name: string, dflt: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return dflt;
    const v = Number(argv[i + 1]);
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
    return v;
  };
  return { kvs: get('kvs', 1000), valueBytes: get('value-bytes', 256), iterations: get('iterations', 200) };
}

function rangeResponse(o: Options, int64As: 'number' | 'string'): RangeResponse {
  const n = (v: number): number | string => (int64As === 'number' ? v : String(v));
  const value = Buffer.alloc(o.valueBytes, 0x61);
  const kvs: KeyValue[] = [];
  for (let i = 0; i < o.kvs; i++) {
    kvs.push({
      key: Buffer.from(`/registry/pods/default/pod-${String(i).padStart(6, '0')}`),
      create_revision: n(1_000_000 + i),
      mod_revision: n(2_000_000 + i),
      version: n(1 + (i % 7)),
      value,
      lease: i % 2 === 0 ? undefined : '7587869876868838053', // left out when 0, as etcd does
    });
  }
  return {
    header: { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: n(3_000_000), raft_term: n(5) },
    kvs,
    count: n(o.kvs),
  };
}

/**
 * Baseline only, to size what a hand-written codec could save: encodes a RangeResponse whose
 * int64 fields are numbers straight into one Buffer. main() checks its bytes equal
 * proto-loader's before timing it. Not used by the server.
 */
function handEncodeRange(res: RangeResponse): Buffer {
  // int64 as a non-negative safe number where possible (cheap arithmetic), bigint otherwise.
  const i64 = (v: number | string | undefined): number | bigint => {
    if (v === undefined) return 0;
    if (typeof v === 'number') return v >= 0 ? v : BigInt(v);
    return v.length < 16 && v[0] !== '-' ? Number(v) : BigInt(v);
  };
  const sizeOf = (v: number | bigint): number => {
    if (typeof v === 'number') {
      let n = 1;
      for (; v >= 128; v = Math.floor(v / 128)) n++;
      return n;
    }
    let n = 1;
    for (let x = BigInt.asUintN(64, v); x >= 0x80n; x >>= 7n) n++;
    return n;
  };
  const isZero = (v: number | bigint): boolean => v === 0 || v === 0n;
  const fieldSize = (v: number | bigint): number => (isZero(v) ? 0 : 1 + sizeOf(v));
  const bytesSize = (b: Uint8Array | undefined): number => (b === undefined || b.length === 0 ? 0 : 1 + sizeOf(b.length) + b.length);
  const kvs = res.kvs ?? [];
  const sizes = new Array<number>(kvs.length);
  const h = res.header;
  const hv = [i64(h.cluster_id), i64(h.member_id), i64(h.revision), i64(h.raft_term)];
  const headerSize = fieldSize(hv[0]!) + fieldSize(hv[1]!) + fieldSize(hv[2]!) + fieldSize(hv[3]!);
  let total = 1 + sizeOf(headerSize) + headerSize;
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    const n =
      bytesSize(kv.key) +
      fieldSize(i64(kv.create_revision)) +
      fieldSize(i64(kv.mod_revision)) +
      fieldSize(i64(kv.version)) +
      bytesSize(kv.value) +
      fieldSize(i64(kv.lease));
    sizes[i] = n;
    total += 1 + sizeOf(n) + n;
  }
  const count = i64(res.count);
  total += fieldSize(count);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  const writeVarint = (v: number | bigint): void => {
    if (typeof v === 'number') {
      for (; v >= 128; v = Math.floor(v / 128)) buf[pos++] = (v % 128) | 0x80;
      buf[pos++] = v;
      return;
    }
    let x = BigInt.asUintN(64, v);
    for (; x >= 0x80n; x >>= 7n) buf[pos++] = Number(x & 0x7fn) | 0x80;
    buf[pos++] = Number(x);
  };
  const writeBytes = (tag: number, b: Uint8Array | undefined): void => {
    if (b === undefined || b.length === 0) return;
    buf[pos++] = tag;
    writeVarint(b.length);
    buf.set(b, pos);
    pos += b.length;
  };
  const writeInt = (tag: number, v: number | bigint): void => {
    if (isZero(v)) return;
    buf[pos++] = tag;
    writeVarint(v);
  };
  buf[pos++] = 0x0a;
  writeVarint(headerSize);
  for (let i = 0; i < 4; i++) writeInt(0x08 + 8 * i, hv[i]!);
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    buf[pos++] = 0x12;
    writeVarint(sizes[i]!);
    writeBytes(0x0a, kv.key);
    writeInt(0x10, i64(kv.create_revision));
    writeInt(0x18, i64(kv.mod_revision));
    writeInt(0x20, i64(kv.version));
    writeBytes(0x2a, kv.value);
    writeInt(0x30, i64(kv.lease));
  }
  writeInt(0x20, count);
  if (pos !== total) throw new Error(`hand encoder wrote ${pos} of ${total} bytes`);
  return buf;
}

/** Mean time per call of `fn`, after a short warm-up; stops early at MAX_TIME_PER_CASE_MS. */
function measure(iterations: number, fn: () => unknown): { perOpMs: number; runs: number } {
  for (let i = 0; i < Math.min(20, iterations); i++) fn();
  const start = performance.now();
  let runs = 0;
  while (runs < iterations && performance.now() - start < MAX_TIME_PER_CASE_MS) {
    fn();
    runs++;
  }
  return { perOpMs: (performance.now() - start) / runs, runs };
}

function main(): void {
  const o = parseOptions(process.argv.slice(2));
  const { kv } = etcdServices();
  const report = (name: string, r: { perOpMs: number; runs: number }, bytes?: number): void => {
    const rate = bytes === undefined ? '' : `  ${((bytes / 1e6) / (r.perOpMs / 1e3)).toFixed(0)} MB/s`;
    console.log(`${name.padEnd(52)} ${(r.perOpMs * 1e3).toFixed(1).padStart(10)} µs/op  (${r.runs} runs)${rate}`);
  };

  for (const int64As of ['number', 'string'] as const) {
    const res = rangeResponse(o, int64As);
    const wire = kv.Range.responseSerialize(res);
    report(`encode RangeResponse ${o.kvs} kvs, int64 as ${int64As}`, measure(o.iterations, () => kv.Range.responseSerialize(res)), wire.length);
    if (int64As === 'number') {
      const hand = handEncodeRange(res);
      if (!hand.equals(wire)) { let i = 0; while (hand[i] === wire[i]) i++; throw new Error(`baseline encoder disagrees with proto-loader at byte ${i}: ${hand.subarray(Math.max(0,i-8), i+8).toString('hex')} vs ${wire.subarray(Math.max(0,i-8), i+8).toString('hex')} (${hand.length} vs ${wire.length})`); }
      report(`  baseline: hand-written encode, same bytes`, measure(o.iterations, () => handEncodeRange(res)), wire.length);
      report(`decode RangeResponse ${o.kvs} kvs (client side)`, measure(o.iterations, () => kv.Range.responseDeserialize(wire)), wire.length);
      console.log(`  wire size ${wire.length} bytes`);
    }
  }
  const rangeReq = kv.Range.requestSerialize({ key: Buffer.from('/registry/pods/'), range_end: Buffer.from('/registry/pods0'), limit: '500' } as never);
  report('decode RangeRequest', measure(o.iterations * 100, () => kv.Range.requestDeserialize(rangeReq)));
  const putReq = kv.Put.requestSerialize({ key: Buffer.from('/registry/pods/default/pod-000001'), value: Buffer.alloc(o.valueBytes) } as never);
  report('decode PutRequest', measure(o.iterations * 100, () => kv.Put.requestDeserialize(putReq)));
  report(
    'encode PutResponse',
    measure(o.iterations * 100, () => kv.Put.responseSerialize({ header: { cluster_id: '1', member_id: '2', revision: 3, raft_term: 4 } })),
  );
}

if (require.main === module) main();
