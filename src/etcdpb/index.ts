/**
 * etcd's protocol facts, shared by the layers that speak it: the .proto files (etcd 3.4's
 * messages, field numbers and services), their loader, the TypeScript shapes of the messages,
 * and the JSON gateway's routes. The server encodes raft entries and builds responses with
 * these shapes; the API layer serves them over gRPC. Holding them below both keeps the server
 * from importing the API layer.
 */
export * from './proto';
export { GATEWAY_ROUTES, GATEWAY_LEGACY_PREFIX, gatewayRouteFor } from './gateway-routes';
export type { GatewayRoute } from './gateway-routes';
