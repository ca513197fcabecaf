/**
 * etcd's interceptor rules, applied around every handler so no service can forget them:
 * - a member that is a learner answers only Status and serializable Range; every other call,
 *   streams included, gets "etcdserver: rpc not supported for learner";
 * - a call whose metadata says `hasleader: true` (clientv3's WithRequireLeader, used by
 *   watches) gets "etcdserver: no leader" while the member knows no leader, so the client
 *   goes to another member instead of waiting on a partitioned one.
 */
import type * as grpc from '@grpc/grpc-js';
import { metadataValue } from './call';
import { etcdError, toServiceError } from './errors';

/** Whether the member is a learner right now (it changes when a learner is promoted). */
export interface LearnerState {
  readonly isLearner: boolean;
  /** Whether the member knows a leader now. */
  readonly hasLeader: boolean;
}

type AnyHandler = (call: unknown, callback?: unknown) => void;

/** Unary methods a learner serves; Range only when serializable. */
function allowedForLearner(method: string, request: unknown): boolean {
  if (method === 'Status') return true;
  if (method === 'Range') return (request as { serializable?: boolean } | null)?.serializable === true;
  return false;
}

/** Wraps each handler of a service with the learner rule. */
export function guardCalls<H extends object>(member: LearnerState, handlers: H): H {
  const out: Record<string, AnyHandler> = {};
  for (const [method, h] of Object.entries(handlers as Record<string, AnyHandler>)) {
    out[method] = (call, callback) => {
      const requireLeader = metadataValue(call, 'hasleader') === 'true';
      if (requireLeader && !member.hasLeader) {
        const noLeader = toServiceError(etcdError('NO_LEADER'));
        if (typeof callback === 'function') (callback as grpc.sendUnaryData<unknown>)(noLeader);
        else (call as grpc.ServerWritableStream<unknown, unknown>).emit('error', noLeader);
        return;
      }
      if (!member.isLearner) return h(call, callback);
      const err = toServiceError(etcdError('NOT_SUPPORTED_FOR_LEARNER'));
      if (typeof callback === 'function') {
        // Unary: the request is already decoded.
        if (allowedForLearner(method, (call as grpc.ServerUnaryCall<unknown, unknown>).request)) return h(call, callback);
        (callback as grpc.sendUnaryData<unknown>)(err);
        return;
      }
      // Streams (Watch, LeaseKeepAlive, Snapshot): refused at once.
      (call as grpc.ServerWritableStream<unknown, unknown>).emit('error', err);
    };
  }
  return out as H;
}
