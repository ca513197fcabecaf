/**
 * The etcd v3 API layer's public face: proto loading and message shapes, the one error table,
 * and the JSON gateway's routes.
 */
export * from './proto';
export { EtcdErrors, ErrorCode, etcdError, etcdErrorSpec, toServiceError } from './errors';
export type { EtcdErrorName, EtcdErrorSpec } from './errors';
export { GATEWAY_ROUTES, GATEWAY_LEGACY_PREFIX, gatewayRouteFor } from './gateway-routes';
export type { GatewayRoute } from './gateway-routes';
