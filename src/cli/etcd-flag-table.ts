/**
 * Every flag etcd 3.4 (3.4.23, Debian's etcd-server) accepts, with its value type, default and
 * help text, plus the names Floe adds (`--backend-bbolt-freelist-type`, etcd 3.5's name for
 * the freelist flag, and `--experimental-warm-up`, warm-up.ts). `support` says what Floe does
 * with it:
 *
 * - 'yes': honored.
 * - 'accepted': parsed and validated like etcd, without effect yet (profiling, metrics detail);
 *   listed so etcd command lines start.
 * - 'refused': Floe cannot do what the flag asks (TLS, discovery, proxy, v2): a value other than
 *   the default stops start-up with a clear message instead of being silently ignored.
 *
 * Help texts are written for Floe; flag names, types and defaults are etcd's.
 */

/** How a flag's value is parsed (Go's flag.Value behind each etcd flag). */
export type FlagKind =
  | 'string'
  | 'bool'
  /** Go uint / uint64 (strconv.ParseUint, base from prefix). */
  | 'uint'
  /** Go int / int64. */
  | 'int'
  /** etcd's flags.Uint32Value (strconv.ParseUint, base 10, 32 bits, raw strconv errors). */
  | 'uint32'
  /** Go time.Duration. */
  | 'duration'
  /** etcd's flags.UniqueURLs: comma-separated URLs, checked, de-duplicated and sorted. */
  | 'urls'
  /** etcd's flags.SelectiveStringValue: one of `choices`, else "invalid value". */
  | 'choice'
  /** etcd's flags.UniqueStringsValue / StringsValue: comma-separated, never fails. */
  | 'strings'
  /** etcd's flags.IgnoredFlag: a flag of old etcd versions, accepted as a bool and ignored. */
  | 'ignored';

export type FlagSupport = 'yes' | 'accepted' | 'refused';

export type FlagSection =
  | 'Member'
  | 'Clustering'
  | 'Security'
  | 'Auth'
  | 'Profiling and Monitoring'
  | 'Logging'
  | 'v2 Proxy (to be deprecated in v4)'
  | 'Experimental feature'
  | 'Unsafe feature'
  | 'TO BE DEPRECATED';

export interface FlagDef {
  readonly name: string;
  readonly kind: FlagKind;
  /** The default, as the text the flag would be given. */
  readonly def: string;
  readonly support: FlagSupport;
  readonly section: FlagSection | null;
  readonly help: string;
  /** For 'choice'. */
  readonly choices?: readonly string[];
  /** For 'urls': values taken as given without URL checks (etcd's exceptions, e.g. "*"). */
  readonly exceptions?: readonly string[];
  /** How help shows the default when not `'<def>'`. */
  readonly shownDefault?: string;
}

const f = (
  name: string,
  kind: FlagKind,
  def: string,
  support: FlagSupport,
  section: FlagSection | null,
  help: string,
  extra: Partial<Pick<FlagDef, 'choices' | 'exceptions' | 'shownDefault'>> = {},
): FlagDef => ({ name, kind, def, support, section, help, ...extra });

/** The flags, in the order help lists them. */
export const FLAGS: readonly FlagDef[] = [
  // Member
  f('name', 'string', 'default', 'yes', 'Member', 'Human-readable name for this member.'),
  f('data-dir', 'string', '', 'yes', 'Member', 'Path to the data directory.', { shownDefault: "'${name}.floe'" }),
  f('wal-dir', 'string', '', 'refused', 'Member', 'Path to the dedicated wal directory (not supported by Floe yet).'),
  f('snapshot-count', 'uint', '100000', 'yes', 'Member', 'Number of committed transactions to trigger a snapshot to disk.'),
  f('heartbeat-interval', 'uint', '100', 'yes', 'Member', 'Time (in milliseconds) of a heartbeat interval.'),
  f('election-timeout', 'uint', '1000', 'yes', 'Member', 'Time (in milliseconds) for an election to timeout.'),
  f('initial-election-tick-advance', 'bool', 'true', 'accepted', 'Member', 'Whether to fast-forward initial election ticks on boot for faster election.'),
  f('listen-peer-urls', 'urls', 'http://localhost:2380', 'yes', 'Member', 'List of URLs to listen on for peer traffic.'),
  f('listen-client-urls', 'urls', 'http://localhost:2379', 'yes', 'Member', 'List of URLs to listen on for client traffic.'),
  f('max-snapshots', 'uint', '5', 'yes', 'Member', 'Maximum number of snapshot files to retain (0 is unlimited).'),
  f('max-wals', 'uint', '5', 'yes', 'Member', 'Maximum number of wal files to retain (0 is unlimited).'),
  f('quota-backend-bytes', 'int', '0', 'yes', 'Member', 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).'),
  f('backend-batch-interval', 'duration', '0s', 'yes', 'Member', 'BackendBatchInterval is the maximum time before commit the backend transaction (0: 100ms).', { shownDefault: "''" }),
  f('backend-batch-limit', 'int', '0', 'yes', 'Member', 'BackendBatchLimit is the maximum operations before commit the backend transaction (0: 10000).'),
  f('max-txn-ops', 'uint', '128', 'yes', 'Member', 'Maximum number of operations permitted in a transaction.'),
  f('max-request-bytes', 'uint', '1572864', 'yes', 'Member', 'Maximum client request size in bytes the server will accept.'),
  f('max-concurrent-streams', 'uint32', '4294967295', 'yes', 'Member', 'Maximum concurrent streams that each client can open at a time.', { shownDefault: "'math.MaxUint32'" }),
  f('grpc-keepalive-min-time', 'duration', '5s', 'accepted', 'Member', 'Minimum duration interval that a client should wait before pinging server.'),
  f('grpc-keepalive-interval', 'duration', '2h0m0s', 'yes', 'Member', 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).', { shownDefault: "'2h'" }),
  f('grpc-keepalive-timeout', 'duration', '20s', 'yes', 'Member', 'Additional duration of wait before closing a non-responsive connection (0 to disable).'),

  // Clustering
  f('initial-advertise-peer-urls', 'urls', 'http://localhost:2380', 'yes', 'Clustering', "List of this member's peer URLs to advertise to the rest of the cluster."),
  f('initial-cluster', 'string', 'default=http://localhost:2380', 'yes', 'Clustering', 'Initial cluster configuration for bootstrapping.'),
  f('initial-cluster-state', 'choice', 'new', 'yes', 'Clustering', "Initial cluster state ('new' or 'existing').", { choices: ['new', 'existing'] }),
  f('initial-cluster-token', 'string', 'etcd-cluster', 'yes', 'Clustering', 'Initial cluster token for the etcd cluster during bootstrap.'),
  f('advertise-client-urls', 'urls', 'http://localhost:2379', 'yes', 'Clustering', "List of this member's client URLs to advertise to the public."),
  f('discovery', 'string', '', 'refused', 'Clustering', 'Discovery URL used to bootstrap the cluster (not supported by Floe).'),
  f('discovery-fallback', 'choice', 'proxy', 'accepted', 'Clustering', "Expected behavior ('exit' or 'proxy') when discovery services fails.", { choices: ['proxy', 'exit'] }),
  f('discovery-proxy', 'string', '', 'refused', 'Clustering', 'HTTP proxy to use for traffic to discovery service (not supported by Floe).'),
  f('discovery-srv', 'string', '', 'refused', 'Clustering', 'DNS srv domain used to bootstrap the cluster (not supported by Floe).'),
  f('discovery-srv-name', 'string', '', 'refused', 'Clustering', 'Suffix to the dns srv name queried when bootstrapping (not supported by Floe).'),
  f('strict-reconfig-check', 'bool', 'true', 'accepted', 'Clustering', 'Reject reconfiguration requests that would cause quorum loss.'),
  f('pre-vote', 'bool', 'false', 'accepted', 'Clustering', 'Enable to run an additional Raft election phase.'),
  f('auto-compaction-retention', 'string', '0', 'yes', 'Clustering', 'Auto compaction retention length. 0 means disable auto compaction.'),
  f('auto-compaction-mode', 'string', 'periodic', 'yes', 'Clustering', "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention."),
  f('enable-v2', 'bool', 'false', 'refused', 'Clustering', 'Accept etcd V2 client requests (not supported by Floe).'),

  // Security
  f('cert-file', 'string', '', 'yes', 'Security', 'Path to the client server TLS cert file.'),
  f('key-file', 'string', '', 'yes', 'Security', 'Path to the client server TLS key file.'),
  f('client-cert-auth', 'bool', 'false', 'yes', 'Security', 'Enable client cert authentication.'),
  f('client-crl-file', 'string', '', 'refused', 'Security', 'Path to the client certificate revocation list file.'),
  f('client-cert-allowed-hostname', 'string', '', 'yes', 'Security', 'Allowed TLS hostname for client cert authentication.'),
  f('trusted-ca-file', 'string', '', 'yes', 'Security', 'Path to the client server TLS trusted CA cert file.'),
  f('auto-tls', 'bool', 'false', 'yes', 'Security', 'Client TLS using generated certificates.'),
  f('peer-cert-file', 'string', '', 'yes', 'Security', 'Path to the peer server TLS cert file.'),
  f('peer-key-file', 'string', '', 'yes', 'Security', 'Path to the peer server TLS key file.'),
  f('peer-client-cert-auth', 'bool', 'false', 'yes', 'Security', 'Enable peer client cert authentication.'),
  f('peer-trusted-ca-file', 'string', '', 'yes', 'Security', 'Path to the peer server TLS trusted CA file.'),
  f('peer-cert-allowed-cn', 'string', '', 'yes', 'Security', 'Required CN for client certs connecting to the peer endpoint.'),
  f('peer-cert-allowed-hostname', 'string', '', 'yes', 'Security', 'Allowed TLS hostname for inter peer authentication.'),
  f('peer-auto-tls', 'bool', 'false', 'yes', 'Security', 'Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.'),
  f('peer-crl-file', 'string', '', 'refused', 'Security', 'Path to the peer certificate revocation list file.'),
  f('cipher-suites', 'strings', '', 'refused', 'Security', 'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).'),
  f('cors', 'urls', '*', 'accepted', 'Security', 'Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).', { exceptions: ['*'] }),
  f('host-whitelist', 'strings', '*', 'accepted', 'Security', 'Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).'),

  // Auth
  f('auth-token', 'string', 'simple', 'yes', 'Auth', "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
  f('bcrypt-cost', 'uint', '10', 'yes', 'Auth', 'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.', { shownDefault: '10' }),
  f('auth-token-ttl', 'uint', '300', 'yes', 'Auth', 'Time (in seconds) of the auth-token-ttl.', { shownDefault: '300' }),

  // Profiling and Monitoring
  f('enable-pprof', 'bool', 'false', 'accepted', 'Profiling and Monitoring', 'Enable runtime profiling data via HTTP server (accepted; Floe serves no pprof data).'),
  f('metrics', 'string', 'basic', 'yes', 'Profiling and Monitoring', "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics."),
  f('listen-metrics-urls', 'urls', '', 'yes', 'Profiling and Monitoring', 'URLs of extra HTTP listeners that answer only /metrics and /health (http:// only in Floe).'),

  // Logging
  f('logger', 'string', 'capnslog', 'yes', 'Logging', "Specify 'zap' for structured logging or 'capnslog'."),
  f('log-outputs', 'strings', 'default', 'yes', 'Logging', "Specify 'stdout' or 'stderr' (default: stderr)."),
  f('log-level', 'string', 'info', 'yes', 'Logging', 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.'),

  // v2 proxy
  f('proxy', 'choice', 'off', 'refused', 'v2 Proxy (to be deprecated in v4)', "Proxy mode setting ('off', 'readonly' or 'on'); Floe is never a proxy.", { choices: ['off', 'readonly', 'on'] }),
  f('proxy-failure-wait', 'uint', '5000', 'accepted', 'v2 Proxy (to be deprecated in v4)', 'Time (in milliseconds) an endpoint will be held in a failed state.', { shownDefault: '5000' }),
  f('proxy-refresh-interval', 'uint', '30000', 'accepted', 'v2 Proxy (to be deprecated in v4)', 'Time (in milliseconds) of the endpoints refresh interval.', { shownDefault: '30000' }),
  f('proxy-dial-timeout', 'uint', '1000', 'accepted', 'v2 Proxy (to be deprecated in v4)', 'Time (in milliseconds) for a dial to timeout.', { shownDefault: '1000' }),
  f('proxy-write-timeout', 'uint', '5000', 'accepted', 'v2 Proxy (to be deprecated in v4)', 'Time (in milliseconds) for a write to timeout.', { shownDefault: '5000' }),
  f('proxy-read-timeout', 'uint', '0', 'accepted', 'v2 Proxy (to be deprecated in v4)', 'Time (in milliseconds) for a read to timeout.', { shownDefault: '0' }),

  // Experimental
  f('experimental-initial-corrupt-check', 'bool', 'false', 'accepted', 'Experimental feature', 'Enable to check data corruption before serving any client/peer traffic.'),
  f('experimental-corrupt-check-time', 'duration', '0s', 'accepted', 'Experimental feature', 'Duration of time between cluster corruption check passes.'),
  f('experimental-enable-v2v3', 'string', '', 'refused', 'Experimental feature', 'Serve v2 requests through the v3 backend under a given prefix (not supported by Floe).'),
  f('experimental-backend-bbolt-freelist-type', 'string', 'map', 'yes', 'Experimental feature', "The freelist type of the backend file ('array' or 'map'; Floe's default is map)."),
  f('backend-bbolt-freelist-type', 'string', 'map', 'yes', 'Experimental feature', "etcd 3.5's name of --experimental-backend-bbolt-freelist-type."),
  f('experimental-enable-lease-checkpoint', 'bool', 'false', 'accepted', 'Experimental feature', 'Enable leader to send regular checkpoints to other members to prevent reset of remaining TTL on leader change.'),
  f('experimental-enable-lease-checkpoint-persist', 'bool', 'false', 'accepted', 'Experimental feature', 'Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases.'),
  f('experimental-compaction-batch-limit', 'int', '1000', 'accepted', 'Experimental feature', 'Sets the maximum revisions deleted in each compaction batch.', { shownDefault: '1000' }),
  f('experimental-peer-skip-client-san-verification', 'bool', 'false', 'accepted', 'Experimental feature', 'Skip verification of SAN field in client certificate for peer connections.'),
  f('experimental-watch-progress-notify-interval', 'duration', '10m0s', 'yes', 'Experimental feature', 'Duration of periodical watch progress notification.', { shownDefault: "'10m'" }),
  f('experimental-warm-up', 'bool', 'true', 'yes', 'Experimental feature', "Floe: serve a short mixed load on a scratch member before serving clients, so the first big range does not slow writes."),
  f('experimental-warning-apply-duration', 'duration', '100ms', 'accepted', 'Experimental feature', 'Warning is generated if requests take more than this duration.'),

  // Unsafe
  f('force-new-cluster', 'bool', 'false', 'refused', 'Unsafe feature', 'Force to create a new one-member cluster (not supported by Floe yet).'),
  f('unsafe-no-fsync', 'bool', 'false', 'yes', 'Unsafe feature', 'Disables fsync, unsafe, will cause data loss.'),

  // Deprecated
  f('debug', 'bool', 'false', 'yes', 'TO BE DEPRECATED', "Enable debug-level logging. Use '--log-level=debug' instead."),
  f('log-package-levels', 'string', '', 'accepted', 'TO BE DEPRECATED', "Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG')."),
  f('log-output', 'strings', 'default', 'yes', null, "[TO BE DEPRECATED IN v3.5] use '--log-outputs'."),

  // Not in help
  f('config-file', 'string', '', 'refused', null, 'Path to the server configuration file (not supported by Floe yet).'),
  f('enable-grpc-gateway', 'bool', 'true', 'accepted', null, 'Enable GRPC gateway.'),
  f('version', 'bool', 'false', 'yes', null, 'Print the version and exit.'),

  // etcd's IgnoredFlag list: options of old etcd versions.
  ...[
    'cluster-active-size',
    'cluster-remove-delay',
    'cluster-sync-interval',
    'config',
    'force',
    'max-result-buffer',
    'max-retry-attempts',
    'peer-heartbeat-interval',
    'peer-election-timeout',
    'retry-interval',
    'snapshot',
    'v',
    'vv',
    'test.coverprofile',
    'test.outputdir',
  ].map((name) => f(name, 'ignored', '', 'accepted', null, '')),
];

/** The flags by name. */
export const FLAGS_BY_NAME: ReadonlyMap<string, FlagDef> = new Map(FLAGS.map((d) => [d.name, d]));

/** The short usage etcd prints after a flag error (its `usageline`), for Floe. */
export const USAGE = `Usage:

  floe [flags]
    Start a Floe member: an etcd v3 server.

  floe --version
    Show the version of Floe.

  floe -h | --help
    Show the help information about Floe.

  floe backend <command> [args]
    The storage engine's offline tools (check, stats, buckets, keys, get, compact, bench).
`;

/** The full help (etcd's `flagsline`), generated from the table. */
export function flagsHelp(): string {
  const lines: string[] = [];
  let section: FlagSection | null = null;
  for (const d of FLAGS) {
    if (d.section === null) continue;
    if (d.section !== section) {
      section = d.section;
      lines.push('', `${section}:`);
    }
    lines.push(`  --${d.name} ${d.shownDefault ?? `'${d.def}'`}`, `    ${d.help}`);
  }
  return lines.join('\n') + '\n';
}
