/**
 * The encoded size of each request as it arrived, for etcd's "request is too large" check.
 *
 * etcd measures a write by marshalling it into its raft entry. Re-encoding every decoded
 * request here would cost a second encode of up to --max-request-bytes per write, so instead
 * the service definitions are wrapped to note the byte length the decoder was handed: the
 * encoding of a proto3 message is canonical for what etcd's clients send, and the length is
 * free to read.
 */
import type * as grpc from '@grpc/grpc-js';
import { assert } from '../pkg';

const sizes = new WeakMap<object, number>();

/**
 * The same service definition with each method's request decoder noting the encoded length
 * of what it decoded (read back with `requestWireBytes`).
 */
export function recordingRequestSizes<T>(def: grpc.ServiceDefinition<T>): grpc.ServiceDefinition<T> {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(def as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        const msg = decode(bytes);
        if (typeof msg === 'object' && msg !== null) sizes.set(msg, bytes.length);
        return msg;
      },
    };
  }
  return out as unknown as grpc.ServiceDefinition<T>;
}

/** The encoded length of a request decoded through a recording definition. */
export function requestWireBytes(req: object): number {
  const n = sizes.get(req);
  assert(n !== undefined, 'request was not decoded through recordingRequestSizes');
  return n;
}
