/**
 * src/rafthttp — the peer transport between members: raft messages over one long-lived
 * HTTP/1.1 stream per peer, snapshots as streamed uploads, and the peer listener.
 */
export { Transport } from './transport';
export { PeerServer, ERR_PEER_LISTEN } from './peer-server';
export type { PeerServerInfo, PeerServerTls } from './peer-server';
export { peerRequest, peerClientTls } from './dial';
export { fetchMembers, fetchRemoteMembers, ERR_FETCH_MEMBERS } from './fetch-members';
export type { RemoteMembers } from './fetch-members';
export type { TransportHandler, TransportOptions, TransportLogger, PeerTrafficMetrics } from './options';
export { ERR_TRANSPORT_CONFIG } from './options';
export type { SnapshotSource } from './snapshot-sender';
export { ERR_SNAPSHOT_SEND } from './snapshot-sender';
export { encodeMessage, decodeMessage, ERR_BAD_PEER_MESSAGE } from './message-codec';
export { SERVER_VERSION } from './headers';
