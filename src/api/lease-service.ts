/**
 * etcdserverpb.Lease: Grant, Revoke, TimeToLive, Leases, and the KeepAlive stream.
 *
 * etcd's answers this layer shapes (v3rpc/lease.go): TimeToLive of an unknown lease is not an
 * error but a response with TTL -1; a keep-alive of an unknown lease answers TTL 0; any other
 * keep-alive failure ends the stream with that error.
 *
 * KeepAlive handles one request at a time, in order, one response each, as etcd's loop does:
 * the next request is read only after the previous response was written, and not while the
 * client is not reading responses (the stream is paused until it drains). So a client cannot
 * make the server queue work for it. The client half-closing ends the stream with OK.
 */
import type * as grpc from '@grpc/grpc-js';
import { isFloeError } from '../pkg';
import type { LeaseHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { fillHeader, toGrpcError, unary } from './call';
import { ErrorCode } from './errors';
import type { OpenStreams } from './open-streams';

/** The Lease service's handlers over the member. */
export function leaseHandlers(api: EtcdServerApi, openStreams: OpenStreams): LeaseHandlers {
  return {
    LeaseGrant: unary(async (req) => fillHeader(api, await api.leaseGrant(req))),
    LeaseRevoke: unary(async (req) => fillHeader(api, await api.leaseRevoke(req))),
    LeaseTimeToLive: unary(async (req) => {
      try {
        return fillHeader(api, await api.leaseTimeToLive(req));
      } catch (e) {
        if (!isFloeError(e, ErrorCode.LEASE_NOT_FOUND)) throw e;
        return fillHeader(api, { header: {}, ID: req.ID, TTL: -1 });
      }
    }),
    LeaseLeases: unary(async () => fillHeader(api, await api.leaseLeases())),
    LeaseKeepAlive: (call) => {
      new KeepAliveSession(call, api, openStreams);
    },
  };
}

type KeepAliveCall = grpc.ServerDuplexStream<pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse>;

class KeepAliveSession {
  private closed = false;
  /** Set while a renewal is in flight or the stream is full; requests wait in the stream. */
  private busy = false;
  private readonly unregister: () => void;

  constructor(
    private readonly call: KeepAliveCall,
    private readonly api: EtcdServerApi,
    openStreams: OpenStreams,
  ) {
    this.unregister = openStreams.add((err) => this.fail(err));
    call.on('data', (req: pb.LeaseKeepAliveRequest) => this.onRequest(req));
    call.on('end', () => this.onEnd());
    call.on('drain', () => this.unpause());
    call.on('close', () => this.close());
    call.on('cancelled', () => this.close());
  }

  private onRequest(req: pb.LeaseKeepAliveRequest): void {
    if (this.closed) return;
    this.busy = true;
    this.call.pause();
    this.renew(req).then(
      (resp) => {
        if (this.closed) return;
        const roomLeft = this.call.write(resp);
        // Wait for 'drain' before reading on when the client is behind.
        if (roomLeft) this.unpause();
      },
      (e: unknown) => this.fail(toGrpcError(e)),
    );
  }

  private async renew(req: pb.LeaseKeepAliveRequest): Promise<pb.LeaseKeepAliveResponse> {
    try {
      const resp = await this.api.leaseKeepAlive(req);
      return fillHeader(this.api, { ...resp, ID: req.ID });
    } catch (e) {
      if (!isFloeError(e, ErrorCode.LEASE_NOT_FOUND)) throw e;
      // TTL 0, left unset as etcd encodes zero.
      return fillHeader(this.api, { header: {}, ID: req.ID });
    }
  }

  private unpause(): void {
    if (this.closed || !this.busy) return;
    this.busy = false;
    this.call.resume();
    if (this.ended) this.finish();
  }

  private ended = false;

  /** The client half-closed: finish once the request in flight is answered (etcd returns nil). */
  private onEnd(): void {
    this.ended = true;
    if (!this.busy) this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.close();
    this.call.end();
  }

  private fail(err: grpc.ServiceError): void {
    if (this.closed) return;
    this.close();
    this.call.emit('error', err);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregister();
  }
}
