/**
 * A RangeResponse whose key-value pairs are already in wire form: the member builds it slice
 * by slice (range-sliced.ts) and the API layer's Range serializer copies the bytes out as they
 * are instead of encoding 100k objects in one turn.
 *
 * The wire form is the concatenation of RangeResponse field 2 (`kvs`) entries: for each pair,
 * tag 0x12, the varint length, then the mvccpb.KeyValue bytes. A response carrying it keeps
 * its other fields (header, more, count) as plain properties and offers `kvs` as a getter that
 * decodes the bytes, so every other reader of RangeResponse (tests, the gateway) sees the
 * usual shape. The bytes hang on a symbol, not enumerable, so copies and comparisons of the
 * object ignore them.
 *
 * The bytes may lie in memory lent by the range worker (range-slabs.ts): such an answer holds
 * it until released. Whoever sends the answer takes the duty (takeWireRelease) and releases
 * once the bytes have left; an answer nobody took releases when it is garbage-collected. Its
 * `kvs` getter decodes from copies, so decoded pairs never point into lent memory, and reading
 * them after the release is an error rather than a read of memory in use elsewhere.
 */
import { assert, putVarint, varintSize } from '../pkg';
import type * as pb from '../etcdpb/messages';
import { decodeKeyValue } from '../mvcc';
import { toPbKv } from './apply-kv';

/** The property holding the wire form of `kvs` (Buffer[], concatenated in order). */
export const WIRE_KVS: unique symbol = Symbol('floe.rangeWireKvs');

/** RangeResponse field 2 (kvs), length-delimited. */
export const KVS_TAG = 0x12;

/**
 * The hold of an answer on lent memory: released by whoever took it (takeWireRelease, which
 * unregisters the backstop), or by the backstop when the answer is collected untaken.
 */
class WireHold {
  released = false;
  constructor(readonly free: () => void) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.free();
  }
}

const backstop = new FinalizationRegistry<() => void>((free) => free());

/** The property holding an answer's WireHold. */
const WIRE_HOLD: unique symbol = Symbol('floe.rangeWireHold');

/** A RangeResponse that may carry its pairs in wire form. */
export type WireRangeResponse = pb.RangeResponse & { [WIRE_KVS]?: readonly Buffer[]; [WIRE_HOLD]?: WireHold };

/** The wire form of `resp.kvs` when the member built it so, else undefined. */
export function wireKvsOf(resp: pb.RangeResponse): readonly Buffer[] | undefined {
  return (resp as WireRangeResponse)[WIRE_KVS];
}

/** Bytes one pair takes in the wire form: tag, length, record. */
export function wireKvSize(recordBytes: number): number {
  return 1 + varintSize(recordBytes) + recordBytes;
}

/** Writes one pair (tag, length, record) at `at` in `out`; returns the offset after it. */
export function putWireKv(out: Buffer, at: number, record: Uint8Array): number {
  out[at++] = KVS_TAG;
  at = putVarint(out, at, record.length);
  out.set(record, at);
  return at + record.length;
}

/**
 * Takes over releasing the lent memory `resp`'s wire form lies in: the returned function
 * must be called once the bytes are sent or dropped. Undefined when there is none to release
 * (or another caller took it).
 */
export function takeWireRelease(resp: pb.RangeResponse): (() => void) | undefined {
  const hold = (resp as WireRangeResponse)[WIRE_HOLD];
  if (hold === undefined || hold.released) return undefined;
  delete (resp as WireRangeResponse)[WIRE_HOLD];
  backstop.unregister(hold);
  return () => hold.release();
}

/**
 * Attaches `chunks` (the wire form of the pairs, in order) to `resp` and defines `kvs` as a
 * getter decoding them; with no bytes `kvs` stays absent, as the one-shot builder leaves it.
 * `release` frees the memory the chunks lie in when it is lent (see the file comment).
 */
export function attachWireKvs(resp: pb.RangeResponse, chunks: readonly Buffer[], release?: () => void): WireRangeResponse {
  Object.defineProperty(resp, WIRE_KVS, { value: chunks, enumerable: false });
  const hold = release === undefined ? undefined : new WireHold(release);
  if (hold !== undefined) {
    Object.defineProperty(resp, WIRE_HOLD, { value: hold, enumerable: false, configurable: true });
    backstop.register(resp, hold.free, hold);
  }
  let total = 0;
  for (const c of chunks) total += c.length;
  if (total > 0) {
    let decoded: pb.KeyValue[] | undefined;
    Object.defineProperty(resp, 'kvs', {
      enumerable: true,
      get: () => {
        if (decoded === undefined) {
          assert(hold === undefined || !hold.released, 'rangeWire: the pairs of an answer read after its memory was released');
          decoded = decodeWireKvs(hold === undefined ? chunks : chunks.map((c) => Buffer.from(c)));
        }
        return decoded;
      },
    });
  }
  return resp as WireRangeResponse;
}

/** The pairs of a wire form, as the one-shot builder would have made them. */
export function decodeWireKvs(chunks: readonly Buffer[]): pb.KeyValue[] {
  const out: pb.KeyValue[] = [];
  for (const c of chunks) {
    let at = 0;
    while (at < c.length) {
      assert(c[at] === KVS_TAG, 'rangeWire: not a kvs field');
      at++;
      let len = 0;
      let mul = 1;
      for (;;) {
        const b = c[at++] as number;
        len += (b & 0x7f) * mul;
        if (b < 0x80) break;
        mul *= 0x80;
      }
      out.push(toPbKv(decodeKeyValue(c.subarray(at, at + len))));
      at += len;
    }
    assert(at === c.length, 'rangeWire: a pair runs past its chunk');
  }
  return out;
}
