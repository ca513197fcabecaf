/**
 * The etcd v3 API layer's public face: the one error table (internal error codes to gRPC
 * status and etcd's exact messages). Protocol shapes live in src/etcdpb.
 */
export { EtcdErrors, ErrorCode, etcdError, etcdErrorSpec, toServiceError } from './errors';
export type { EtcdErrorName, EtcdErrorSpec } from './errors';
