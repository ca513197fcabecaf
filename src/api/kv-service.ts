/**
 * etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact. Each request is checked as etcd's
 * v3rpc checks it (validate.ts), then handed to the member; the answer gets etcd's header.
 *
 * The size check applies where etcd makes it, to requests that become raft entries: puts,
 * deletes and txns with a write. Reads (ranges and read-only txns) are served without raft in
 * etcd 3.4, so only gRPC's receive limit bounds them.
 */
import type { KVHandlers } from '../etcdpb';
import type { EtcdServerApi } from '../server';
import { fillHeader, unary } from './call';
import { requestWireBytes } from './request-size';
import {
  checkDeleteRequest,
  checkIntervals,
  checkPutRequest,
  checkRangeRequest,
  checkRequestSize,
  checkTxnRequest,
  isTxnReadonly,
} from './validate';

/** The KV service's handlers over the member. */
export function kvHandlers(api: EtcdServerApi): KVHandlers {
  const { maxRequestBytes, maxTxnOps } = api.limits;
  return {
    Range: unary(async (req) => {
      checkRangeRequest(req);
      return fillHeader(api, await api.range(req));
    }),
    Put: unary(async (req) => {
      checkPutRequest(req);
      checkRequestSize(requestWireBytes(req), maxRequestBytes);
      return fillHeader(api, await api.put(req));
    }),
    DeleteRange: unary(async (req) => {
      checkDeleteRequest(req);
      checkRequestSize(requestWireBytes(req), maxRequestBytes);
      return fillHeader(api, await api.deleteRange(req));
    }),
    Txn: unary(async (req) => {
      checkTxnRequest(req, maxTxnOps);
      // Overlaps are checked after the op counts, which bound their cost (as etcd orders it).
      checkIntervals(req.success);
      checkIntervals(req.failure);
      if (!isTxnReadonly(req)) checkRequestSize(requestWireBytes(req), maxRequestBytes);
      return fillHeader(api, await api.txn(req));
    }),
    Compact: unary(async (req) => fillHeader(api, await api.compact(req))),
  };
}
