/**
 * The etcd v3 API layer's public face: the gRPC server over a member (grpc-server.ts) and the
 * one error table (internal error codes to gRPC status and etcd's exact messages). Protocol
 * shapes live in src/etcdpb; what the member offers is src/server/contract.ts.
 */
export { EtcdErrors, ErrorCode, etcdError, etcdErrorSpec, toServiceError } from './errors';
export type { EtcdErrorName, EtcdErrorSpec } from './errors';
export {
  EtcdGrpcServer,
  GRPC_OVERHEAD_BYTES,
  MAX_SEND_BYTES,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  type GrpcServerOptions,
  type DrainOutcome,
} from './grpc-server';
export { DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS, MIN_PROGRESS_NOTIFY_INTERVAL_MS, INVALID_WATCH_ID } from './watch-service';
export { isHostPort, badUrlReason } from './validate';
