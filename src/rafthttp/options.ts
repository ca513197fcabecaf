/**
 * The transport's options, their defaults, and their validation (limits are explicit, have
 * units in their names and are checked once at construction).
 */
import type { Message } from '../raft';
import { FloeError } from '../pkg';
import { EMPTY_TLS_INFO, type TlsInfo } from '../tls';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-decoder';

/** Code of the FloeError for transport options out of range. */
export const ERR_TRANSPORT_CONFIG = 'ERR_RAFTHTTP_CONFIG';

/** What the transport needs from its member. Calls arrive on the event loop, never nested. */
export interface TransportHandler {
  /** A raft message from a peer (never MsgSnap). Called synchronously per frame; must not throw. */
  process(m: Message): void;
  /**
   * A MsgSnap with the sender's backend file as a byte stream of exactly `sizeBytes`.
   * Resolves once the member has stored the file (and stepped `m`); then the transport
   * answers the sender. `body` must be read to its end.
   */
  receiveSnapshot(m: Message, sizeBytes: number, body: AsyncIterable<Buffer>): Promise<void>;
  /** The peer could not be reached / a send to it failed (raft's ReportUnreachable). */
  reportUnreachable(id: bigint): void;
  /** Outcome of a snapshot send (raft's ReportSnapshot). */
  reportSnapshot(id: bigint, status: 'finish' | 'failure'): void;
  /** A peer told us we were removed from the cluster (HTTP 410). Called at most once. */
  onRemoved(): void;
  /** True if `id` was removed from the cluster: its requests get 410 Gone. */
  isRemoved(id: bigint): boolean;
}

/** capnslog-style logger: level letter, package ('rafthttp'), message. */
export interface TransportLogger {
  log(level: 'I' | 'N' | 'W' | 'E', pkg: string, msg: string): void;
}

export interface TransportOptions {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly handler: TransportHandler;
  readonly logger: TransportLogger;
  /** Messages queued per peer before the oldest are dropped (+ reportUnreachable). Default 4096 (etcd's streamBufSize). */
  readonly maxQueuedMsgsPerPeer?: number;
  /** Encoded bytes queued per peer before the oldest are dropped. Default 64 MiB. */
  readonly maxQueuedBytesPerPeer?: number;
  /** Time to connect and get the peer's answer to a stream or snapshot request. Default 1000. */
  readonly dialTimeoutMs?: number;
  /** First reconnect delay after a stream fails; doubles per failure. Default 100. */
  readonly reconnectMinMs?: number;
  /** Largest reconnect delay. Default 2000. */
  readonly reconnectMaxMs?: number;
  /**
   * A stream that neither drains nor hears the receiver's keep-alive for this long is dead
   * (etcd's ConnReadTimeout); receivers send a keep-alive byte every fifth of it. Default 5000.
   */
  readonly streamIdleTimeoutMs?: number;
  /** Time a snapshot sender waits for the answer once the last byte is sent. Default 60000. */
  readonly snapshotResponseTimeoutMs?: number;
  /** Largest message frame accepted from a peer. Default 512 MiB (etcd's readBytesLimit). */
  readonly maxFrameBytes?: number;
  /** Largest single socket write when flushing a queue; bounds one event-loop turn. Default 1 MiB. */
  readonly maxWriteBytes?: number;
  /** Wall clock in ms (activeSince); default Date.now. */
  readonly now?: () => number;
  /** Peer TLS for dialing https:// peer URLs (default: none; then the system roots verify). */
  readonly tls?: TlsInfo;
  /** Where peer traffic is counted (etcd_network_peer_*); not counted by default. */
  readonly metrics?: PeerTrafficMetrics;
}

/** etcd's peer traffic counters, by peer id (src/metrics' peerTraffic fits). */
export interface PeerTrafficMetrics {
  /** Bytes written to the stream to `to` (etcd_network_peer_sent_bytes_total). */
  sent(to: bigint, bytes: number): void;
  /** Bytes of a message frame received from `from` (etcd_network_peer_received_bytes_total). */
  received(from: bigint, bytes: number): void;
  /** Messages to `to` dropped, never sent (etcd_network_peer_sent_failures_total). */
  sendFailed(to: bigint, count: number): void;
}

/** Counts nothing. */
export const NO_PEER_TRAFFIC_METRICS: PeerTrafficMetrics = { sent: () => undefined, received: () => undefined, sendFailed: () => undefined };

/** Options with every default filled in. */
export type ResolvedOptions = Required<TransportOptions>;

export const DEFAULT_MAX_QUEUED_MSGS_PER_PEER = 4096;
export const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 64 * 1024 * 1024;
export const DEFAULT_DIAL_TIMEOUT_MS = 1000;
export const DEFAULT_RECONNECT_MIN_MS = 100;
export const DEFAULT_RECONNECT_MAX_MS = 2000;
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 5000;
export const DEFAULT_SNAPSHOT_RESPONSE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_WRITE_BYTES = 1024 * 1024;

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) {
    throw new FloeError(ERR_TRANSPORT_CONFIG, `rafthttp: ${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

/** Fills in defaults and validates; throws ERR_RAFTHTTP_CONFIG for a value out of range. */
export function resolveOptions(o: TransportOptions): ResolvedOptions {
  if (o.memberId <= 0n || o.memberId >= 1n << 64n) {
    throw new FloeError(ERR_TRANSPORT_CONFIG, `rafthttp: member id ${o.memberId} is not a non-zero uint64`);
  }
  if (o.clusterId < 0n || o.clusterId >= 1n << 64n) {
    throw new FloeError(ERR_TRANSPORT_CONFIG, `rafthttp: cluster id ${o.clusterId} is not a uint64`);
  }
  const r: ResolvedOptions = {
    memberId: o.memberId,
    clusterId: o.clusterId,
    handler: o.handler,
    logger: o.logger,
    maxQueuedMsgsPerPeer: positiveInt('maxQueuedMsgsPerPeer', o.maxQueuedMsgsPerPeer ?? DEFAULT_MAX_QUEUED_MSGS_PER_PEER),
    maxQueuedBytesPerPeer: positiveInt('maxQueuedBytesPerPeer', o.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES_PER_PEER),
    dialTimeoutMs: positiveInt('dialTimeoutMs', o.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS),
    reconnectMinMs: positiveInt('reconnectMinMs', o.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS),
    reconnectMaxMs: positiveInt('reconnectMaxMs', o.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS),
    streamIdleTimeoutMs: positiveInt('streamIdleTimeoutMs', o.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS, 5),
    snapshotResponseTimeoutMs: positiveInt('snapshotResponseTimeoutMs', o.snapshotResponseTimeoutMs ?? DEFAULT_SNAPSHOT_RESPONSE_TIMEOUT_MS),
    maxFrameBytes: positiveInt('maxFrameBytes', o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
    maxWriteBytes: positiveInt('maxWriteBytes', o.maxWriteBytes ?? DEFAULT_MAX_WRITE_BYTES),
    now: o.now ?? Date.now,
    tls: o.tls ?? EMPTY_TLS_INFO,
    metrics: o.metrics ?? NO_PEER_TRAFFIC_METRICS,
  };
  if (r.reconnectMaxMs < r.reconnectMinMs) {
    throw new FloeError(ERR_TRANSPORT_CONFIG, `rafthttp: reconnectMaxMs ${r.reconnectMaxMs} is below reconnectMinMs ${r.reconnectMinMs}`);
  }
  return r;
}
