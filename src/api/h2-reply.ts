/**
 * The answers the HTTP/2 front (h2-front.ts) writes for the calls it serves: literal header
 * blocks (the client's HPACK table is never touched) and the frames of a reply.
 */
import type * as grpc from '@grpc/grpc-js';
import { encodeLiteralBlock, type HeaderField } from './hpack';
import { FLAG_END_HEADERS, FLAG_END_STREAM, FRAME_HEADER_BYTES, FrameType, writeFrameHeader } from './h2-wire';
import type { OutItem } from './h2-stream';
import type { Status } from './unary-fast-path';

/** gRPC's message prefix: a compressed flag and a 4-byte big-endian length. */
export const GRPC_MESSAGE_HEADER_BYTES = 5;

/** The literal header blocks of the answers the front writes itself. */
const RESPONSE_BLOCK = encodeLiteralBlock([
  { name: ':status', value: '200', neverIndexed: false },
  { name: 'content-type', value: 'application/grpc+proto', neverIndexed: false },
  { name: 'grpc-accept-encoding', value: 'identity,deflate,gzip', neverIndexed: false },
  { name: 'grpc-encoding', value: 'identity', neverIndexed: false },
]);
const OK_TRAILERS: HeaderField[] = [
  { name: 'grpc-status', value: '0', neverIndexed: false },
  { name: 'grpc-message', value: 'OK', neverIndexed: false },
];
const OK_TRAILERS_BLOCK = encodeLiteralBlock(OK_TRAILERS);

/** Fields of `md` as grpc-js sends them (toHttp2Headers). */
function metadataFields(md: grpc.Metadata | null, into: HeaderField[]): HeaderField[] {
  if (md === null) return into;
  for (const [name, v] of Object.entries(md.toHttp2Headers())) {
    for (const value of Array.isArray(v) ? v : [v]) into.push({ name, value: String(value), neverIndexed: false });
  }
  return into;
}

/** A trailers-only answer carrying `st` (grpc-js's order of fields). */
export function statusBlock(st: Status): Buffer {
  const fields: HeaderField[] = [
    { name: ':status', value: '200', neverIndexed: false },
    { name: 'content-type', value: 'application/grpc+proto', neverIndexed: false },
    { name: 'grpc-status', value: String(st.code), neverIndexed: false },
    { name: 'grpc-message', value: encodeURI(st.details), neverIndexed: false },
  ];
  return encodeLiteralBlock(metadataFields(st.metadata, fields));
}

/** The trailers of a successful answer, with `trailer`'s metadata. */
export function trailersBlock(trailer: grpc.Metadata | null): Buffer {
  return trailer === null ? OK_TRAILERS_BLOCK : encodeLiteralBlock(metadataFields(trailer, OK_TRAILERS.slice()));
}

/**
 * A whole answer on stream `id` in one buffer: HEADERS, one DATA frame holding the message
 * (`parts`, `bodyBytes` in all, behind its prefix), HEADERS with `trailers` and END_STREAM.
 * The caller checked that the DATA frame fits the windows and the peer's frame size.
 */
export function wholeReply(id: number, parts: readonly Buffer[], bodyBytes: number, trailers: Buffer): Buffer {
  const total = bodyBytes + GRPC_MESSAGE_HEADER_BYTES;
  const out = Buffer.allocUnsafe(3 * FRAME_HEADER_BYTES + RESPONSE_BLOCK.length + total + trailers.length);
  let at = 0;
  writeFrameHeader(out, at, RESPONSE_BLOCK.length, FrameType.HEADERS, FLAG_END_HEADERS, id);
  at += FRAME_HEADER_BYTES + RESPONSE_BLOCK.copy(out, at + FRAME_HEADER_BYTES);
  writeFrameHeader(out, at, total, FrameType.DATA, 0, id);
  at += FRAME_HEADER_BYTES;
  out[at] = 0;
  out.writeUInt32BE(bodyBytes, at + 1);
  at += GRPC_MESSAGE_HEADER_BYTES;
  for (const part of parts) at += part.copy(out, at);
  writeFrameHeader(out, at, trailers.length, FrameType.HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id);
  trailers.copy(out, at + FRAME_HEADER_BYTES);
  return out;
}

/** The response headers and the message as queue items (the parts are not copied). */
export function queuedReply(parts: readonly Buffer[], bodyBytes: number): OutItem[] {
  const prefix = Buffer.allocUnsafe(GRPC_MESSAGE_HEADER_BYTES);
  prefix[0] = 0;
  prefix.writeUInt32BE(bodyBytes, 1);
  const items: OutItem[] = [{ block: RESPONSE_BLOCK, end: false }, { data: prefix, end: false }];
  for (const part of parts) if (part.length > 0) items.push({ data: part, end: false });
  return items;
}

/** Node's header object for decoded fields: names as sent, a repeated name as an array. */
export function headersObject(fields: readonly HeaderField[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const f of fields) {
    const had = out[f.name];
    if (had === undefined) out[f.name] = f.value;
    else if (Array.isArray(had)) had.push(f.value);
    else out[f.name] = [had, f.value];
  }
  return out;
}
