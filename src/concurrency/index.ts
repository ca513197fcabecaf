/**
 * etcd's lock and election services (v3lockpb.Lock, v3electionpb.Election), built as recipes
 * over the member's contract API (KV txns, leases, watches), as etcd builds them over its own
 * client. The API layer registers the handlers next to the other services.
 */
export { lockHandlers, electionHandlers, type ToGrpcError, type TrackStream } from './handlers';
export { lock, unlock } from './lock';
export { campaign, proclaim, resign, leader, observe, ELECTION_ERRORS } from './election';
export { DEFAULT_SESSION_TTL_SECONDS } from './session';
export { prefixEnd } from './kv-ops';
