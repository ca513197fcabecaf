/**
 * The KV service definition with a Range serializer that passes pre-encoded pairs through
 * (src/server/range-wire.ts): the member builds a large range's `kvs` in wire form slice by
 * slice, so encoding the reply is one copy instead of protobufjs walking 100k objects in one
 * turn. Responses without a wire form (errors aside, none today) take the loader's encoder.
 *
 * The bytes come out in the order protobufjs writes a RangeResponse (fields in number order:
 * header 1, kvs 2, more 3, count 4), so both paths give identical bytes for the same content.
 */
import type * as grpc from '@grpc/grpc-js';
import type { KVHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { takeWireRelease, wireKvsOf } from '../server/range-wire';

/**
 * A response serializer that can also give the message as a list of buffers to be sent in
 * order (`parts`), so a large reply is never gathered into one buffer: on this machine the
 * first write to fresh memory costs ~9 ms per MiB, so one 27 MB copy of a 100k-key range
 * held the event loop for hundreds of milliseconds (issue 3: reads never stall writes).
 * `parts` gives undefined for a message it has no parts form of.
 */
export type PartsSerializer<T> = ((value: T) => Buffer) & {
  readonly parts?: (value: T) => readonly Buffer[] | undefined;
  /**
   * Takes over releasing memory the parts of `value` lie in, lent until they are sent
   * (server/range-wire.ts): call the returned function once they have left or were dropped.
   * Undefined when nothing is lent.
   */
  readonly release?: (value: T) => (() => void) | undefined;
};

/** The parts form of `serialize`, when it has one (see PartsSerializer). */
export function serializerParts<T>(serialize: (value: T) => Buffer): ((value: T) => readonly Buffer[] | undefined) | undefined {
  return (serialize as PartsSerializer<T>).parts;
}

/** The release taker of `serialize`, when it has one (see PartsSerializer). */
export function serializerRelease<T>(serialize: (value: T) => Buffer): ((value: T) => (() => void) | undefined) | undefined {
  return (serialize as PartsSerializer<T>).release;
}

/** A Range response serializer over `encode` (the loader's) that passes wire kvs through. */
export function passThroughRangeSerializer(encode: (resp: pb.RangeResponse) => Buffer): PartsSerializer<pb.RangeResponse> {
  const parts = (resp: pb.RangeResponse): Buffer[] | undefined => {
    const chunks = wireKvsOf(resp);
    if (chunks === undefined) return undefined;
    const head = encode({ header: resp.header });
    const tail: pb.RangeResponse = { header: undefined as unknown as pb.ResponseHeader };
    if (resp.more !== undefined) tail.more = resp.more;
    if (resp.count !== undefined) tail.count = resp.count;
    return [head, ...chunks, encode(tail)];
  };
  const serialize = (resp: pb.RangeResponse): Buffer => {
    const p = parts(resp);
    if (p === undefined) return encode(resp);
    const out = Buffer.concat(p);
    // Copied: the lent memory is free again.
    takeWireRelease(resp)?.();
    return out;
  };
  return Object.assign(serialize, { parts, release: takeWireRelease });
}

/** `def` (the KV service) with Range's response serializer passing wire kvs through. */
export function withPassThroughRange(def: grpc.ServiceDefinition<KVHandlers>): grpc.ServiceDefinition<KVHandlers> {
  const range = def.Range;
  const encode = range.responseSerialize as (resp: pb.RangeResponse) => Buffer;
  return { ...def, Range: { ...range, responseSerialize: passThroughRangeSerializer(encode) } };
}
