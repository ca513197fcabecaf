/**
 * What a member needs from its peer transport (src/rafthttp), as an interface so the member's
 * logic does not depend on how bytes move: raft messages out, a snapshot stream out, and the
 * callbacks for what arrives (see TransportHandler in src/rafthttp).
 */
import type { Message } from '../raft';
import type { PeerTrafficMetrics, TransportHandler } from '../rafthttp';
import type { TlsInfo } from '../tls';
import type { MemberLogger } from './config';

/** Callbacks the transport makes into the member (src/rafthttp's contract, documented there). */
export type PeerHandler = TransportHandler;

/** The sending side and the peer book-keeping. */
export interface PeerTransport {
  addPeer(id: bigint, urls: readonly string[]): void;
  updatePeer(id: bigint, urls: readonly string[]): void;
  removePeer(id: bigint): void;
  send(msgs: readonly Message[]): void;
  sendSnapshot(m: Message, db: { sizeBytes: number; chunks(): AsyncIterable<Buffer> }): void;
  activeSince(id: bigint): number | null;
  close(): Promise<void>;
}

/** A running transport and the listeners serving it. */
export interface Peers {
  readonly transport: PeerTransport;
  close(): Promise<void>;
}

/** What the peer listener serves besides raft traffic. */
export interface PeerInfo {
  membersJson(): string;
  /** The member's own peer endpoints; false for paths it does not serve. */
  readonly routes?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;
  readonly version: { readonly etcdserver: string; readonly etcdcluster: string };
}

/** Starts the transport and listens on `listenUrls`. */
export type PeerFactory = (
  opts: { memberId: bigint; clusterId: bigint; handler: PeerHandler; logger: MemberLogger; tls?: TlsInfo; metrics?: PeerTrafficMetrics },
  listenUrls: readonly string[],
  info: PeerInfo,
) => Promise<Peers>;
