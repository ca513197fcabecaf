/**
 * etcd 3.4's server metric families, with etcd's names, labels, types, help texts and bucket
 * layouts (etcdserver/metrics.go, wal/, mvcc/, mvcc/backend/, lease/, rafthttp/, snap/), so
 * dashboards and alerts written for etcd read Floe unchanged.
 *
 * Created once per member on the member's Registry. Counters and histograms are recorded
 * where the event happens; gauges that mirror state (leader, db size, keys, watchers) are set
 * by the member's collector at scrape time.
 *
 * Note on types: etcd declares proposals_committed_total and proposals_applied_total as
 * gauges (they are set from raft's indexes), and wal_write_bytes_total as a gauge; kept so.
 */
import { exponentialBuckets, type Counter, type CounterVec, type Gauge, type GaugeVec, type Histogram, type HistogramVec, type Registry } from './registry';

/** etcd's disk latency buckets: 1 ms to 8 s (ExponentialBuckets(0.001, 2, 14)). */
export const DISK_BUCKETS = exponentialBuckets(0.001, 2, 14);
/** etcd_disk_backend_snapshot_duration_seconds: 10 ms to 655 s. */
export const BACKEND_SNAPSHOT_BUCKETS = exponentialBuckets(0.01, 2, 17);
/** etcd_disk_backend_defrag_duration_seconds: 100 ms to 409 s. */
export const DEFRAG_BUCKETS = exponentialBuckets(0.1, 2, 13);
/** etcd_mvcc_hash(_rev)_duration_seconds: 10 ms to 163 s. */
export const HASH_BUCKETS = exponentialBuckets(0.01, 2, 15);
/** etcd_debugging_lease_ttl_total: 1 s to 2^23 s. */
export const LEASE_TTL_BUCKETS = exponentialBuckets(1, 2, 24);
/** etcd_network_peer_round_trip_time_seconds: 0.1 ms to 3.2 s. */
export const PEER_RTT_BUCKETS = exponentialBuckets(0.0001, 2, 16);

/** Server state and consensus (etcdserver/metrics.go, etcdhttp health). */
export interface ServerMetrics {
  readonly hasLeader: Gauge;
  readonly isLeader: Gauge;
  readonly isLearner: Gauge;
  readonly leaderChanges: Counter;
  readonly heartbeatSendFailures: Counter;
  readonly slowApplies: Counter;
  readonly slowReadIndexes: Counter;
  readonly readIndexFailures: Counter;
  readonly proposalsCommitted: Gauge;
  readonly proposalsApplied: Gauge;
  readonly proposalsPending: Gauge;
  readonly proposalsFailed: Counter;
  readonly quotaBackendBytes: Gauge;
  readonly snapshotApplyInProgress: Gauge;
  readonly learnerPromoteSuccesses: Counter;
  readonly leaseExpired: Counter;
  readonly healthSuccess: Counter;
  readonly healthFailures: Counter;
  /** Labels server_id (hex). */
  readonly id: GaugeVec;
  /** Labels server_version. */
  readonly version: GaugeVec;
  /** Labels cluster_version. */
  readonly clusterVersion: GaugeVec;
  /** Labels type ('unary' | 'stream'), client_api_version (from the call's metadata). */
  readonly clientRequests: CounterVec;
  readonly authRevision: Gauge;
}

/** WAL, backend and snapshot files. */
export interface DiskMetrics {
  readonly walFsyncSeconds: Histogram;
  readonly walWriteBytes: Gauge;
  readonly backendCommitSeconds: Histogram;
  readonly backendSnapshotSeconds: Histogram;
  readonly defragSeconds: Histogram;
  readonly defragInflight: Gauge;
  /** A raft snapshot file written (etcd_debugging_snap_save_total_duration_seconds). */
  readonly snapSaveSeconds: Histogram;
  /** A backend file received from the leader and stored (etcd_snap_db_save_total_duration_seconds). */
  readonly snapDbSaveSeconds: Histogram;
}

/** MVCC store. */
export interface MvccMetrics {
  readonly putTotal: Counter;
  readonly deleteTotal: Counter;
  readonly rangeTotal: Counter;
  readonly txnTotal: Counter;
  readonly debugPutTotal: Counter;
  readonly debugDeleteTotal: Counter;
  readonly debugRangeTotal: Counter;
  readonly debugTxnTotal: Counter;
  readonly totalPutSizeBytes: Gauge;
  readonly keysTotal: Gauge;
  readonly watcherTotal: Gauge;
  readonly slowWatcherTotal: Gauge;
  readonly watchStreamTotal: Gauge;
  readonly currentRevision: Gauge;
  readonly compactRevision: Gauge;
  readonly dbTotalSizeBytes: Gauge;
  readonly debugDbTotalSizeBytes: Gauge;
  readonly dbTotalSizeInUseBytes: Gauge;
  readonly openReadTransactions: Gauge;
  /** Compaction: index and backend batch pauses, the backend part's total, records removed. */
  readonly compaction: {
    readonly indexPauseMs: Histogram;
    readonly dbPauseMs: Histogram;
    readonly dbTotalMs: Histogram;
    readonly dbKeys: Counter;
  };
  readonly hashSeconds: Histogram;
  readonly hashRevSeconds: Histogram;
}

/** Lessor. */
export interface LeaseMetrics {
  readonly granted: Counter;
  readonly revoked: Counter;
  readonly renewed: Counter;
  readonly ttl: Histogram;
}

/** Peer and client network (rafthttp, v3rpc). */
export interface NetworkMetrics {
  /** Labels To (peer id hex). */
  readonly peerSentBytes: CounterVec;
  /** Labels From. */
  readonly peerReceivedBytes: CounterVec;
  /** Labels To. */
  readonly peerSentFailures: CounterVec;
  /** Labels To. */
  readonly peerRoundTripSeconds: HistogramVec;
  /** Labels Local, Remote. */
  readonly activePeers: GaugeVec;
  readonly clientGrpcSentBytes: Counter;
  readonly clientGrpcReceivedBytes: Counter;
}

/** Every etcd family a member records, by subsystem. */
export interface EtcdMetrics {
  readonly registry: Registry;
  readonly server: ServerMetrics;
  readonly disk: DiskMetrics;
  readonly mvcc: MvccMetrics;
  readonly lease: LeaseMetrics;
  readonly network: NetworkMetrics;
}

/** Registers etcd's families on `r` (once per registry). */
export function createEtcdMetrics(r: Registry): EtcdMetrics {
  const server: ServerMetrics = {
    hasLeader: r.gauge({ name: 'etcd_server_has_leader', help: 'Whether or not a leader exists. 1 is existence, 0 is not.' }),
    isLeader: r.gauge({ name: 'etcd_server_is_leader', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.' }),
    isLearner: r.gauge({ name: 'etcd_server_is_learner', help: 'Whether or not this member is a learner. 1 if is, 0 otherwise.' }),
    leaderChanges: r.counter({ name: 'etcd_server_leader_changes_seen_total', help: 'The number of leader changes seen.' }),
    heartbeatSendFailures: r.counter({
      name: 'etcd_server_heartbeat_send_failures_total',
      help: 'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
    }),
    slowApplies: r.counter({ name: 'etcd_server_slow_apply_total', help: 'The total number of slow apply requests (likely overloaded from slow disk).' }),
    slowReadIndexes: r.counter({
      name: 'etcd_server_slow_read_indexes_total',
      help: "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
    }),
    readIndexFailures: r.counter({ name: 'etcd_server_read_indexes_failed_total', help: 'The total number of failed read indexes seen.' }),
    proposalsCommitted: r.gauge({ name: 'etcd_server_proposals_committed_total', help: 'The total number of consensus proposals committed.' }),
    proposalsApplied: r.gauge({ name: 'etcd_server_proposals_applied_total', help: 'The total number of consensus proposals applied.' }),
    proposalsPending: r.gauge({ name: 'etcd_server_proposals_pending', help: 'The current number of pending proposals to commit.' }),
    proposalsFailed: r.counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.' }),
    quotaBackendBytes: r.gauge({ name: 'etcd_server_quota_backend_bytes', help: 'Current backend storage quota size in bytes.' }),
    snapshotApplyInProgress: r.gauge({
      name: 'etcd_server_snapshot_apply_in_progress_total',
      help: '1 if the server is applying the incoming snapshot. 0 if none.',
    }),
    learnerPromoteSuccesses: r.counter({
      name: 'etcd_server_learner_promote_successes',
      help: 'The total number of successful learner promotions while this member is leader.',
    }),
    leaseExpired: r.counter({ name: 'etcd_debugging_server_lease_expired_total', help: 'The total number of expired leases.' }),
    healthSuccess: r.counter({ name: 'etcd_server_health_success', help: 'The total number of successful health checks' }),
    healthFailures: r.counter({ name: 'etcd_server_health_failures', help: 'The total number of failed health checks' }),
    id: r.gaugeVec({
      name: 'etcd_server_id',
      help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
      labelNames: ['server_id'],
    }),
    version: r.gaugeVec({
      name: 'etcd_server_version',
      help: "Which version is running. 1 for 'server_version' label with current version.",
      labelNames: ['server_version'],
    }),
    clusterVersion: r.gaugeVec({
      name: 'etcd_cluster_version',
      help: "Which version is running. 1 for 'cluster_version' label with current cluster version",
      labelNames: ['cluster_version'],
    }),
    authRevision: r.gauge({ name: 'etcd_debugging_auth_revision', help: 'The current revision of auth store.' }),
    clientRequests: r.counterVec({
      name: 'etcd_server_client_requests_total',
      help: 'The total number of client requests per client version.',
      labelNames: ['type', 'client_api_version'],
    }),
  };
  const disk: DiskMetrics = {
    walFsyncSeconds: r.histogram({ name: 'etcd_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by WAL.', buckets: DISK_BUCKETS }),
    walWriteBytes: r.gauge({ name: 'etcd_disk_wal_write_bytes_total', help: 'Total number of bytes written in WAL.' }),
    backendCommitSeconds: r.histogram({
      name: 'etcd_disk_backend_commit_duration_seconds',
      help: 'The latency distributions of commit called by backend.',
      buckets: DISK_BUCKETS,
    }),
    backendSnapshotSeconds: r.histogram({
      name: 'etcd_disk_backend_snapshot_duration_seconds',
      help: 'The latency distribution of backend snapshots.',
      buckets: BACKEND_SNAPSHOT_BUCKETS,
    }),
    defragSeconds: r.histogram({
      name: 'etcd_disk_backend_defrag_duration_seconds',
      help: 'The latency distribution of backend defragmentation.',
      buckets: DEFRAG_BUCKETS,
    }),
    snapSaveSeconds: r.histogram({
      name: 'etcd_debugging_snap_save_total_duration_seconds',
      help: 'The total latency distributions of save called by snapshot.',
      buckets: DISK_BUCKETS,
    }),
    snapDbSaveSeconds: r.histogram({
      name: 'etcd_snap_db_save_total_duration_seconds',
      help: 'The total latency distributions of v3 snapshot save',
      buckets: exponentialBuckets(0.1, 2, 10),
    }),
    defragInflight: r.gauge({ name: 'etcd_disk_defrag_inflight', help: 'Whether or not defrag is active on the member. 1 means active, 0 means not.' }),
  };
  const mvcc: MvccMetrics = {
    putTotal: r.counter({ name: 'etcd_mvcc_put_total', help: 'Total number of puts seen by this member.' }),
    deleteTotal: r.counter({ name: 'etcd_mvcc_delete_total', help: 'Total number of deletes seen by this member.' }),
    rangeTotal: r.counter({ name: 'etcd_mvcc_range_total', help: 'Total number of ranges seen by this member.' }),
    txnTotal: r.counter({ name: 'etcd_mvcc_txn_total', help: 'Total number of txns seen by this member.' }),
    debugPutTotal: r.counter({ name: 'etcd_debugging_mvcc_put_total', help: 'Total number of puts seen by this member.' }),
    debugDeleteTotal: r.counter({ name: 'etcd_debugging_mvcc_delete_total', help: 'Total number of deletes seen by this member.' }),
    debugRangeTotal: r.counter({ name: 'etcd_debugging_mvcc_range_total', help: 'Total number of ranges seen by this member.' }),
    debugTxnTotal: r.counter({ name: 'etcd_debugging_mvcc_txn_total', help: 'Total number of txns seen by this member.' }),
    totalPutSizeBytes: r.gauge({ name: 'etcd_debugging_mvcc_total_put_size_in_bytes', help: 'The total size of put kv pairs seen by this member.' }),
    keysTotal: r.gauge({ name: 'etcd_debugging_mvcc_keys_total', help: 'Total number of keys.' }),
    watcherTotal: r.gauge({ name: 'etcd_debugging_mvcc_watcher_total', help: 'Total number of watchers.' }),
    slowWatcherTotal: r.gauge({ name: 'etcd_debugging_mvcc_slow_watcher_total', help: 'Total number of unsynced slow watchers.' }),
    watchStreamTotal: r.gauge({ name: 'etcd_debugging_mvcc_watch_stream_total', help: 'Total number of watch streams.' }),
    currentRevision: r.gauge({ name: 'etcd_debugging_mvcc_current_revision', help: 'The current revision of store.' }),
    compactRevision: r.gauge({ name: 'etcd_debugging_mvcc_compact_revision', help: 'The revision of the last compaction in store.' }),
    dbTotalSizeBytes: r.gauge({
      name: 'etcd_mvcc_db_total_size_in_bytes',
      help: 'Total size of the underlying database physically allocated in bytes.',
    }),
    debugDbTotalSizeBytes: r.gauge({
      name: 'etcd_debugging_mvcc_db_total_size_in_bytes',
      help: 'Total size of the underlying database physically allocated in bytes.',
    }),
    dbTotalSizeInUseBytes: r.gauge({
      name: 'etcd_mvcc_db_total_size_in_use_in_bytes',
      help: 'Total size of the underlying database logically in use in bytes.',
    }),
    openReadTransactions: r.gauge({ name: 'etcd_mvcc_db_open_read_transactions', help: 'The number of currently open read transactions' }),
    compaction: {
      indexPauseMs: r.histogram({
        name: 'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds',
        help: 'Bucketed histogram of index compaction pause duration.',
        buckets: exponentialBuckets(0.5, 2, 14),
      }),
      dbPauseMs: r.histogram({
        name: 'etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds',
        help: 'Bucketed histogram of db compaction pause duration.',
        buckets: exponentialBuckets(1, 2, 13),
      }),
      dbTotalMs: r.histogram({
        name: 'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
        help: 'Bucketed histogram of db compaction total duration.',
        buckets: exponentialBuckets(100, 2, 14),
      }),
      dbKeys: r.counter({ name: 'etcd_debugging_mvcc_db_compaction_keys_total', help: 'Total number of db keys compacted.' }),
    },
    hashSeconds: r.histogram({ name: 'etcd_mvcc_hash_duration_seconds', help: 'The latency distribution of storage hash operation.', buckets: HASH_BUCKETS }),
    hashRevSeconds: r.histogram({
      name: 'etcd_mvcc_hash_rev_duration_seconds',
      help: 'The latency distribution of storage hash by revision operation.',
      buckets: HASH_BUCKETS,
    }),
  };
  const lease: LeaseMetrics = {
    granted: r.counter({ name: 'etcd_debugging_lease_granted_total', help: 'The total number of granted leases.' }),
    revoked: r.counter({ name: 'etcd_debugging_lease_revoked_total', help: 'The total number of revoked leases.' }),
    renewed: r.counter({ name: 'etcd_debugging_lease_renewed_total', help: 'The number of renewed leases seen by the leader.' }),
    ttl: r.histogram({ name: 'etcd_debugging_lease_ttl_total', help: 'Bucketed histogram of lease TTLs.', buckets: LEASE_TTL_BUCKETS }),
  };
  const network: NetworkMetrics = {
    peerSentBytes: r.counterVec({ name: 'etcd_network_peer_sent_bytes_total', help: 'The total number of bytes sent to peers.', labelNames: ['To'] }),
    peerReceivedBytes: r.counterVec({
      name: 'etcd_network_peer_received_bytes_total',
      help: 'The total number of bytes received from peers.',
      labelNames: ['From'],
    }),
    peerSentFailures: r.counterVec({
      name: 'etcd_network_peer_sent_failures_total',
      help: 'The total number of send failures from peers.',
      labelNames: ['To'],
    }),
    peerRoundTripSeconds: r.histogramVec({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      buckets: PEER_RTT_BUCKETS,
    }),
    activePeers: r.gaugeVec({
      name: 'etcd_network_active_peers',
      help: 'The current number of active peer connections.',
      labelNames: ['Local', 'Remote'],
    }),
    clientGrpcSentBytes: r.counter({ name: 'etcd_network_client_grpc_sent_bytes_total', help: 'The total number of bytes sent to grpc clients.' }),
    clientGrpcReceivedBytes: r.counter({
      name: 'etcd_network_client_grpc_received_bytes_total',
      help: 'The total number of bytes received from grpc clients.',
    }),
  };
  return { registry: r, server, disk, mvcc, lease, network };
}
