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
import { wireKvsOf } from '../server/range-wire';

/** A Range response serializer over `encode` (the loader's) that passes wire kvs through. */
export function passThroughRangeSerializer(encode: (resp: pb.RangeResponse) => Buffer): (resp: pb.RangeResponse) => Buffer {
  return (resp) => {
    const chunks = wireKvsOf(resp);
    if (chunks === undefined) return encode(resp);
    const head = encode({ header: resp.header });
    const tail: pb.RangeResponse = { header: undefined as unknown as pb.ResponseHeader };
    if (resp.more !== undefined) tail.more = resp.more;
    if (resp.count !== undefined) tail.count = resp.count;
    const rest = encode(tail);
    let total = head.length + rest.length;
    for (const c of chunks) total += c.length;
    const out = Buffer.allocUnsafe(total);
    let at = head.copy(out, 0);
    for (const c of chunks) at += c.copy(out, at);
    rest.copy(out, at);
    return out;
  };
}

/** `def` (the KV service) with Range's response serializer passing wire kvs through. */
export function withPassThroughRange(def: grpc.ServiceDefinition<KVHandlers>): grpc.ServiceDefinition<KVHandlers> {
  const range = def.Range;
  const encode = range.responseSerialize as (resp: pb.RangeResponse) => Buffer;
  return { ...def, Range: { ...range, responseSerialize: passThroughRangeSerializer(encode) } };
}
