/**
 * The gRPC handlers of v3lockpb.Lock and v3electionpb.Election. Each call gets an
 * AbortSignal that fires when the client cancels or its deadline passes, so every wait
 * (a lock queue, a campaign, an observe stream) ends with the call and releases its watchers.
 *
 * Errors: etcd serves these services as a client of itself, so every error, including the
 * member's own (e.g. "etcdserver: requested lease not found"), reaches the client as UNKNOWN
 * with etcd's text. `toGrpcError` (the API layer's, injected: this layer sits below it) gives
 * the text; the code is then set to UNKNOWN.
 */
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { isFloeError } from '../pkg';
import type { ElectionHandlers, LockHandlers } from '../etcdpb';
import type { EtcdServerApi } from '../server';
import { campaign, leader, observe, proclaim, resign } from './election';
import { lock, unlock } from './lock';

/** The API layer's translation of a thrown value into etcd's gRPC error. */
export type ToGrpcError = (e: unknown) => grpc.ServiceError;

type Call = { on(event: 'cancelled', fn: () => void): unknown; readonly cancelled: boolean };

/** A signal that aborts when `call` is cancelled (client cancel, deadline, connection lost). */
function callSignal(call: Call): AbortSignal {
  const ac = new AbortController();
  if (call.cancelled) ac.abort();
  else call.on('cancelled', () => ac.abort());
  return ac.signal;
}

function unknownCoded(toGrpcError: ToGrpcError, e: unknown): grpc.ServiceError {
  const se = toGrpcError(e);
  if (!isFloeError(e) || se.code === status.UNKNOWN) return se;
  return Object.assign(new Error(`${status.UNKNOWN} UNKNOWN: ${se.details}`), { code: status.UNKNOWN, details: se.details, metadata: se.metadata });
}

function unary<Req, Res>(toGrpcError: ToGrpcError, fn: (req: Req, signal: AbortSignal) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, callSignal(call)).then(
      (res) => callback(null, res),
      (e: unknown) => callback(unknownCoded(toGrpcError, e)),
    );
  };
}

/** v3lockpb.Lock over `api`. */
export function lockHandlers(api: EtcdServerApi, toGrpcError: ToGrpcError): LockHandlers {
  return {
    Lock: unary(toGrpcError, (req, signal) => lock(api, req, signal)),
    Unlock: unary(toGrpcError, (req) => unlock(api, req)),
  };
}

/** v3electionpb.Election over `api`. */
/**
 * Registers a long-lived stream with the server so a graceful stop ends it at once (api's
 * OpenStreams.add); returns the function that unregisters it.
 */
export type TrackStream = (end: (err: grpc.ServiceError) => void) => () => void;

export function electionHandlers(api: EtcdServerApi, toGrpcError: ToGrpcError, track: TrackStream = () => () => undefined): ElectionHandlers {
  return {
    Campaign: unary(toGrpcError, (req, signal) => campaign(api, req, signal)),
    Proclaim: unary(toGrpcError, (req) => proclaim(api, req)),
    Leader: unary(toGrpcError, (req) => leader(api, req)),
    Resign: unary(toGrpcError, (req) => resign(api, req)),
    Observe: (call) => {
      const ac = new AbortController();
      const signal = ac.signal;
      if (call.cancelled) ac.abort();
      else call.on('cancelled', () => ac.abort());
      // A graceful stop ends the stream with its error (Observe never ends on its own).
      const untrack = track((err) => {
        if (signal.aborted) return;
        ac.abort();
        call.emit('error', err);
      });
      // Backpressure: a full call buffer holds the next message until it drains.
      const send = (resp: Parameters<typeof call.write>[0]): Promise<void> | void => {
        if (signal.aborted || call.write(resp)) return;
        return new Promise((resolve) => {
          const done = (): void => resolve();
          call.once('drain', done);
          signal.addEventListener('abort', done, { once: true });
        });
      };
      observe(api, call.request, signal, send).then(
        () => {
          untrack();
          if (!signal.aborted) call.end();
        },
        (e: unknown) => {
          untrack();
          if (!signal.aborted) call.emit('error', unknownCoded(toGrpcError, e));
        },
      );
    },
  };
}
