/**
 * A member's settings: etcd 3.4's server flags that concern one member, with etcd's defaults,
 * validated once at start-up (every limit explicit, named with its unit).
 */
import { FloeError } from '../pkg';
import { EMPTY_TLS_INFO, type TlsInfo } from '../tls';
import { createEtcdMetrics, Registry, type EtcdMetrics } from '../metrics';

/** Where the member's log lines go; the serve command prints them in etcd's capnslog format. */
export interface MemberLogger {
  /**
   * One line. `level`: capnslog's letter (I info, N notice, W warning, E error); `pkg`: the
   * etcd package name the line belongs to (e.g. 'etcdserver', 'etcdserver/membership').
   */
  log(level: 'I' | 'N' | 'W' | 'E', pkg: string, msg: string): void;
}

/** A logger that drops everything. */
export const silentMemberLogger: MemberLogger = { log: () => undefined };

/** Settings of one member (etcd's flag names, camel-cased; units last). */
export interface MemberConfig {
  /** --name (default 'default'). */
  readonly name: string;
  /** --data-dir (default '<name>.floe'). */
  readonly dataDir: string;
  /** --initial-advertise-peer-urls (default http://localhost:2380). */
  readonly initialAdvertisePeerUrls: readonly string[];
  /**
   * --listen-peer-urls: where the peer transport listens. Empty (the default of an embedded
   * member) means no peer listener, which only a lone member can do without.
   */
  readonly listenPeerUrls: readonly string[];
  /** --advertise-client-urls (default http://localhost:2379). */
  readonly advertiseClientUrls: readonly string[];
  /** --initial-cluster: 'name=url,name=url' (default '<name>=<initial-advertise-peer-urls>'). */
  readonly initialCluster: string;
  /** --initial-cluster-state: 'new' (default) or 'existing'. */
  readonly initialClusterState: 'new' | 'existing';
  /** --initial-cluster-token (default 'etcd-cluster'). */
  readonly initialClusterToken: string;
  /** --snapshot-count: applied entries between raft snapshots (default 100 000). */
  readonly snapshotCount: number;
  /** Entries kept in the log behind a raft snapshot for slow followers (etcd: 5 000). */
  readonly snapshotCatchUpEntries: number;
  /** --heartbeat-interval in ms (default 100); also the tick interval. */
  readonly heartbeatMs: number;
  /** --election-timeout in ms (default 1000). */
  readonly electionMs: number;
  /** --quota-backend-bytes: 0 means the default 2 GiB; negative disables the quota. */
  readonly quotaBackendBytes: number;
  /** --max-request-bytes (default 1.5 MiB). */
  readonly maxRequestBytes: number;
  /** --max-txn-ops (default 128). */
  readonly maxTxnOps: number;
  /** --auto-compaction-mode: 'periodic' (default) or 'revision'. */
  readonly autoCompactionMode: 'periodic' | 'revision';
  /**
   * --auto-compaction-retention: '0' (default) disables. periodic: a duration ('1h', '30m',
   * '90s') or a bare number of hours; revision: a number of revisions.
   */
  readonly autoCompactionRetention: string;
  /** --backend-batch-interval in ms (default 100). */
  readonly backendBatchIntervalMs: number;
  /** --backend-batch-limit in operations (default 10 000). */
  readonly backendBatchLimit: number;
  /** --backend-bbolt-freelist-type: 'map' (default) or 'array'. */
  readonly freelistType: 'map' | 'array';
  /** --max-wals / --max-snapshots: files kept (default 5 each; 0 keeps all). */
  readonly maxWals: number;
  /** WAL segment size (etcd's 64 MiB; no flag: tests make it small to cut and purge segments). */
  readonly walSegmentSizeBytes?: number;
  readonly maxSnapshots: number;
  /** --unsafe-no-fsync: skip fdatasync (tests and throwaway clusters only). */
  readonly unsafeNoFsync: boolean;
  /** --peer-cert-file, --peer-key-file, ... (or --peer-auto-tls): TLS of https:// peer URLs. */
  readonly peerTls: TlsInfo;
  /** --auth-token: 'simple' (default) or 'jwt,pub-key=...,priv-key=...,sign-method=...[,ttl=...]'. */
  readonly authToken: string;
  /** --bcrypt-cost (default 10): the cost of password hashes; outside 4..31 the default is used, with a warning (etcd). */
  readonly bcryptCost: number;
  /** --auth-token-ttl in seconds (default 300): the life of a simple token after its last use. */
  readonly authTokenTtlSec: number;
  /** Log sink. */
  readonly logger: MemberLogger;
  /** etcd's metric families on the member's own registry (default: a fresh registry). */
  readonly metrics: EtcdMetrics;
}

/** etcd's DefaultQuotaBytes: 2 GiB. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: 8 GiB (etcd warns above it). */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** etcd's ReqTimeout: 5 s plus two election timeouts; a proposal or read index waits no longer. */
export function requestTimeoutMs(c: MemberConfig): number {
  return 5000 + 2 * c.electionMs;
}

/** etcd's default --max-request-bytes: 1.5 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
export const DEFAULT_MAX_TXN_OPS = 128;
export const DEFAULT_SNAPSHOT_COUNT = 100_000;
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** The defaults for `name` (etcd's, with Floe's data dir name). */
export function defaultMemberConfig(name = 'default'): MemberConfig {
  return {
    name,
    dataDir: `${name}.floe`,
    initialAdvertisePeerUrls: ['http://localhost:2380'],
    listenPeerUrls: [],
    advertiseClientUrls: ['http://localhost:2379'],
    initialCluster: `${name}=http://localhost:2380`,
    initialClusterState: 'new',
    initialClusterToken: 'etcd-cluster',
    snapshotCount: DEFAULT_SNAPSHOT_COUNT,
    snapshotCatchUpEntries: DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES,
    heartbeatMs: 100,
    electionMs: 1000,
    quotaBackendBytes: 0,
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
    maxTxnOps: DEFAULT_MAX_TXN_OPS,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '0',
    backendBatchIntervalMs: 100,
    backendBatchLimit: 10_000,
    freelistType: 'map',
    maxWals: 5,
    maxSnapshots: 5,
    unsafeNoFsync: false,
    peerTls: EMPTY_TLS_INFO,
    authToken: 'simple',
    bcryptCost: 10,
    authTokenTtlSec: 300,
    logger: silentMemberLogger,
    metrics: createEtcdMetrics(new Registry()),
  };
}

/**
 * Fills in defaults and validates. When `name` or the peer URLs are given without
 * `initialCluster`, the cluster is this one member, as etcd does.
 */
export function resolveMemberConfig(input: Partial<MemberConfig>): MemberConfig {
  const base = defaultMemberConfig(input.name ?? 'default');
  const peers = input.initialAdvertisePeerUrls ?? base.initialAdvertisePeerUrls;
  const c: MemberConfig = {
    ...base,
    ...stripUndefined(input),
    initialCluster: input.initialCluster ?? `${base.name}=${peers.join(`,${base.name}=`)}`,
  };
  validate(c);
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function bad(msg: string): FloeError {
  return new FloeError('ERR_BAD_CONFIG', msg);
}

function intAtLeast(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw bad(`${name} must be an integer >= ${min}, not ${v}`);
}

function validate(c: MemberConfig): void {
  if (c.name === '') throw bad('--name must not be empty');
  if (c.dataDir === '') throw bad('--data-dir must not be empty');
  intAtLeast('--heartbeat-interval', c.heartbeatMs, 1);
  intAtLeast('--election-timeout', c.electionMs, 1);
  // etcd: "--election-timeout[...] should be at least as 5 times as --heartbeat-interval".
  if (c.electionMs < 5 * c.heartbeatMs) {
    throw bad(`--election-timeout[${c.electionMs}ms] should be at least as 5 times as --heartbeat-interval[${c.heartbeatMs}ms]`);
  }
  if (c.electionMs > 50_000) throw bad(`--election-timeout[${c.electionMs}ms] is too long, and should be set less than 50 seconds`);
  intAtLeast('--snapshot-count', c.snapshotCount, 1);
  intAtLeast('snapshot catch-up entries', c.snapshotCatchUpEntries, 1);
  if (!Number.isSafeInteger(c.quotaBackendBytes)) throw bad(`--quota-backend-bytes must be an integer, not ${c.quotaBackendBytes}`);
  intAtLeast('--max-request-bytes', c.maxRequestBytes, 1);
  intAtLeast('--max-txn-ops', c.maxTxnOps, 1);
  intAtLeast('--backend-batch-interval', c.backendBatchIntervalMs, 1);
  intAtLeast('--backend-batch-limit', c.backendBatchLimit, 1);
  intAtLeast('--max-wals', c.maxWals, 0);
  intAtLeast('--max-snapshots', c.maxSnapshots, 0);
  if (c.freelistType !== 'map' && c.freelistType !== 'array') throw bad(`invalid --backend-bbolt-freelist-type ${String(c.freelistType)}`);
  if (c.initialClusterState !== 'new' && c.initialClusterState !== 'existing') {
    throw bad(`invalid value "${String(c.initialClusterState)}" for flag -initial-cluster-state`);
  }
  if (c.autoCompactionMode !== 'periodic' && c.autoCompactionMode !== 'revision') {
    throw bad(`unknown auto-compaction-mode ${String(c.autoCompactionMode)}`);
  }
  autoCompactionRetention(c); // throws when unparsable
  if (!Number.isSafeInteger(c.authTokenTtlSec) || c.authTokenTtlSec < 0) throw bad(`invalid --auth-token-ttl ${c.authTokenTtlSec}`);
}

/** The effective backend quota in bytes; Infinity when disabled (negative). */
export function effectiveQuotaBytes(c: MemberConfig): number {
  if (c.quotaBackendBytes < 0) return Infinity;
  return c.quotaBackendBytes === 0 ? DEFAULT_QUOTA_BYTES : c.quotaBackendBytes;
}

/**
 * The auto-compaction retention: for 'periodic' a period in ms, for 'revision' a number of
 * revisions; 0 when auto compaction is off. etcd: a bare number in periodic mode is hours.
 */
export function autoCompactionRetention(c: MemberConfig): number {
  const s = c.autoCompactionRetention.trim();
  if (c.autoCompactionMode === 'revision') {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`invalid auto-compaction-retention ${JSON.stringify(s)} for revision mode`);
    return n;
  }
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 3_600_000);
  const ms = parseDurationMs(s);
  if (ms === null) throw bad(`invalid auto-compaction-retention ${JSON.stringify(s)}`);
  return ms;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration for non-negative durations ('1h30m', '90s', '500ms'); null when bad. */
export function parseDurationMs(s: string): number | null {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) return null;
  return Math.round(total);
}
