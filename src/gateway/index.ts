/**
 * The client port's HTTP/1.x side: etcd's JSON gateway (`/v3/...`) and the front handler that
 * also offers requests to the observability endpoints. See gateway.ts and client-http.ts.
 */
export { Gateway, gatewayMethods, metadataFromHeaders, GRPC_OVERHEAD_BYTES, BODY_BYTES_PER_MESSAGE_BYTE, type GatewayOptions } from './gateway';
export { clientHttpHandler, clientHttpServer, type ClientHttpOptions, type ObservabilityHandler } from './client-http';
