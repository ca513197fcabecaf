/**
 * What every service shares: turning a thrown value into the gRPC error etcd would send,
 * serving a unary call from a promise, and filling response headers the way etcd's v3rpc
 * `header.fill` does.
 */
import type * as grpc from '@grpc/grpc-js';
import { status, Metadata } from '@grpc/grpc-js';
import { AssertionError, isFloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { toServiceError } from './errors';

/**
 * The gRPC error for a thrown value. A FloeError goes through the error table. An
 * AssertionError means the member's state is broken: it is rethrown outside the promise
 * chain so that the process crashes (style.md principle 2), and the caller still gets an
 * answer. Anything else goes out as etcd sends errors it has no mapping for: UNKNOWN with the
 * error's text.
 */
export function toGrpcError(e: unknown): grpc.ServiceError {
  if (isFloeError(e)) return toServiceError(e);
  if (e instanceof AssertionError) {
    process.nextTick(() => {
      throw e;
    });
  }
  const details = e instanceof Error ? e.message : String(e);
  return Object.assign(new Error(`${status.UNKNOWN} UNKNOWN: ${details}`), {
    code: status.UNKNOWN,
    details,
    metadata: new Metadata(),
  });
}

/** A call that can answer one metadata key without building its whole grpc.Metadata (the fast path's). */
export interface MetadataPeek {
  /** The key's first value as grpc-js's Metadata would give it; undefined when absent. */
  metadataValue(key: string): string | Buffer | undefined;
}

/**
 * The first value of metadata `key` on a call (a grpc-js call or the fast path's), as
 * `call.metadata.get(key)[0]`; undefined when the call has no such key or no metadata.
 */
export function metadataValue(call: unknown, key: string): string | Buffer | undefined {
  const peek = (call as Partial<MetadataPeek>).metadataValue;
  if (typeof peek === 'function') return peek.call(call, key);
  return (call as { metadata?: grpc.Metadata }).metadata?.get(key)[0];
}

/**
 * A unary handler from an async function of the request. A synchronous throw (a failed
 * request check) and a rejection are answered alike.
 */
export function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let result: Promise<Res> | Res;
    try {
      result = fn(call.request);
    } catch (e) {
      callback(toGrpcError(e));
      return;
    }
    Promise.resolve(result).then(
      (res) => callback(null, res),
      (e: unknown) => callback(toGrpcError(e)),
    );
  };
}

const isZero = (v: pb.Int64Like | undefined): boolean => v === undefined || v === 0 || v === '0';

/**
 * etcd's header.fill: cluster id, member id and raft term from the member, and the current
 * revision unless the response already names one (a write names the revision it produced).
 * The member's own values are kept when it set them; `api.header()` is only asked when a
 * field is missing, so a member that fills its headers costs nothing here.
 */
export function fillHeader<T extends { header?: pb.ResponseHeader | null }>(api: EtcdServerApi, resp: T): T {
  const h = resp.header;
  if (h && !isZero(h.cluster_id) && !isZero(h.member_id) && !isZero(h.raft_term) && !isZero(h.revision)) return resp;
  const cur = api.header();
  const out: pb.ResponseHeader = { ...(h ?? {}) };
  if (isZero(out.cluster_id)) out.cluster_id = cur.cluster_id;
  if (isZero(out.member_id)) out.member_id = cur.member_id;
  if (isZero(out.raft_term)) out.raft_term = cur.raft_term;
  if (isZero(out.revision)) out.revision = cur.revision;
  resp.header = out;
  return resp;
}
