/**
 * etcd 3.4's command line for `floe` (serve): its flags, defaults and ETCD_* environment
 * variables, parsed the way etcd parses them, then validated once, up front (style.md
 * principle 4), into the settings the serve command needs.
 *
 * Three stages, each failing the way etcd fails:
 * 1. Parse (Go's flag package): `-name`, `--name`, `-name=value`, `-name value`; a bool flag
 *    takes no separate value; parsing stops at the first non-flag or `--`. An unknown flag,
 *    a missing value or a bad value prints Go's message and the usage: exit 2. `-h`/`-help`
 *    print the help: exit 0.
 * 2. Environment: each flag not given on the command line may come from ETCD_<NAME> (upper
 *    case, '-' as '_'). A variable that names a flag also given on the command line is a fatal
 *    conflict in etcd 3.4 ("conflicting environment variable ... is shadowed by corresponding
 *    command-line flag"), and here. A bad value is an error naming the variable.
 * 3. Validate: etcd's Config.Validate checks with etcd's messages, plus what Floe cannot do
 *    (refused flags, TLS, unix sockets): "error verifying flags, <why>": exit 1.
 */
import { FLAGS, FLAGS_BY_NAME, type FlagDef } from './etcd-flag-table';
import { parseGoBool, parseGoDurationNs, parseGoInt, parseGoUint } from './go-values';
import { isHostPort } from '../api';

/** A parsed flag value. */
export type FlagValue = string | boolean | bigint | readonly string[];

/** One listen URL, split for binding. */
export interface ListenUrl {
  readonly url: string;
  readonly scheme: string;
  /** As written in the URL, without brackets for IPv6. */
  readonly host: string;
  readonly port: number;
}

/** What the serve command runs with; every value validated. */
export interface ServeSettings {
  readonly name: string;
  /** The data dir; `${name}.floe` when none was given (see `dataDirDefaulted`). */
  readonly dataDir: string;
  readonly dataDirDefaulted: boolean;
  readonly listenClientUrls: readonly ListenUrl[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly snapshotCount: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  /** 0: etcd's default quota (2 GiB); negative: no quota. */
  readonly quotaBackendBytes: number;
  /** 0: the member's default (100 ms). */
  readonly backendBatchIntervalMs: number;
  /** 0: the member's default (10 000). */
  readonly backendBatchLimit: number;
  readonly freelistType: 'map' | 'array';
  readonly maxTxnOps: number;
  readonly maxRequestBytes: number;
  readonly maxConcurrentStreams: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxSnapshots: number;
  readonly maxWals: number;
  readonly autoCompactionMode: 'periodic' | 'revision';
  /** Normalized: a count of revisions, or for periodic mode a duration such as '3600000ms'. */
  readonly autoCompactionRetention: string;
  readonly watchProgressNotifyIntervalMs: number;
  readonly unsafeNoFsync: boolean;
  /** --experimental-warm-up (warm-up.ts). */
  readonly warmUp: boolean;
  readonly logger: 'capnslog' | 'zap';
  readonly logLevel: LogLevel;
  readonly logOutput: 'stderr' | 'stdout';
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'panic', 'fatal'];

/** A line to log once logging is set up: etcd's notes about the environment. */
export interface EnvNote {
  readonly level: 'I' | 'W';
  readonly msg: string;
}

/** The outcome of reading the command line. */
export type FlagsOutcome =
  | { readonly kind: 'serve'; readonly settings: ServeSettings; readonly notes: readonly EnvNote[]; readonly values: ReadonlyMap<string, FlagValue> }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  /** Go flag errors: print `message` then the usage on stderr; exit 2. */
  | { readonly kind: 'usage-error'; readonly message: string }
  /** etcd's "error verifying flags, <message>. See 'floe --help'.": exit 1. */
  | { readonly kind: 'invalid'; readonly message: string; readonly notes: readonly EnvNote[] }
  /** etcd's fatal env conflict (a C-level log line): exit 1. */
  | { readonly kind: 'env-conflict'; readonly message: string };

/** The error text a Go flag.Value.Set gives for `raw`, or the parsed value. */
function setValue(d: FlagDef, raw: string): { value: FlagValue } | { error: string } {
  switch (d.kind) {
    case 'string':
      return { value: raw };
    case 'bool': {
      const b = parseGoBool(raw);
      return b === null ? { error: 'parse error' } : { value: b };
    }
    case 'uint':
    case 'int': {
      const n = d.kind === 'uint' ? parseGoUint(raw, 64) : parseGoInt(raw, 64);
      if (n === 'syntax') return { error: 'parse error' };
      if (n === 'range') return { error: 'value out of range' };
      return { value: n };
    }
    case 'uint32': {
      // etcd's Uint32Value: strconv.ParseUint(s, 10, 32), its error text unchanged.
      if (!/^[0-9]+$/.test(raw)) return { error: `strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax` };
      const n = BigInt(raw);
      if (n > 0xffffffffn) return { error: `strconv.ParseUint: parsing ${JSON.stringify(raw)}: value out of range` };
      return { value: n };
    }
    case 'duration': {
      const ns = parseGoDurationNs(raw);
      return ns === null ? { error: 'parse error' } : { value: ns };
    }
    case 'urls': {
      if (d.exceptions?.includes(raw)) return { value: [raw] };
      const urls = parseUrls(raw.split(','));
      return 'error' in urls ? urls : { value: urls.value };
    }
    case 'choice':
      return d.choices!.includes(raw) ? { value: raw } : { error: 'invalid value' };
    case 'strings':
      return { value: raw.split(',') };
    case 'ignored':
      return { value: true };
  }
}

/** A flag's value before anything sets it (an empty URL list when its default is empty). */
function defaultValue(d: FlagDef): FlagValue {
  if (d.kind === 'ignored') return false;
  if (d.kind === 'urls' && d.def === '') return [];
  const v = setValue(d, d.def);
  if ('error' in v) throw new Error(`flag table: bad default for --${d.name}: ${v.error}`);
  return v.value;
}

/**
 * etcd's types.NewURLs for a flag: each URL trimmed, scheme http/https/unix/unixs, a
 * "host:port" authority, no path; returned de-duplicated and sorted as etcd keeps them.
 */
export function parseUrls(list: readonly string[]): { value: string[] } | { error: string } {
  const out = new Set<string>();
  for (const raw of list) {
    const s = raw.trim();
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/([^/?#]*))?([^?#]*)/.exec(s);
    if (m === null || !['http', 'https', 'unix', 'unixs'].includes(m[1]!.toLowerCase())) {
      // Go's url.Parse fails before the scheme check on a colon in the first path segment.
      if (m === null && /^[^/:]*:/.test(s)) return { error: `parse ${JSON.stringify(s)}: first path segment in URL cannot contain colon` };
      return { error: `URL scheme must be http, https, unix, or unixs: ${s}` };
    }
    const authority = m[3] ?? '';
    const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
    if (!isHostPort(hostPort)) return { error: `URL address does not have the form "host:port": ${s}` };
    if ((m[4] ?? '') !== '') return { error: `URL must not contain a path: ${s}` };
    out.add(`${m[1]!.toLowerCase()}://${authority}${s.slice(m[0].length)}`);
  }
  return { value: [...out].sort() };
}

/** ETCD_<NAME> for a flag name (etcd's flags.FlagToEnv). */
export function flagToEnv(name: string): string {
  return `ETCD_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Reads the command line and environment; see the file comment for the stages. */
export function readEtcdFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): FlagsOutcome {
  const values = new Map<string, FlagValue>();
  for (const d of FLAGS) values.set(d.name, defaultValue(d));
  const setOnCommandLine = new Set<string>();
  const notes: EnvNote[] = [];

  // Stage 1: Go's flag parsing.
  let i = 0;
  for (; i < argv.length; i++) {
    const s = argv[i]!;
    if (s.length < 2 || s[0] !== '-') break;
    let minuses = 1;
    if (s[1] === '-') {
      minuses = 2;
      if (s.length === 2) {
        i++;
        break;
      }
    }
    let name = s.slice(minuses);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') return { kind: 'usage-error', message: `bad flag syntax: ${s}` };
    let value: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const d = FLAGS_BY_NAME.get(name);
    if (d === undefined) {
      if (name === 'help' || name === 'h') return { kind: 'help' };
      return { kind: 'usage-error', message: `flag provided but not defined: -${name}` };
    }
    if (d.kind === 'bool' || d.kind === 'ignored') {
      const r = setValue(d, value ?? 'true');
      if ('error' in r) return { kind: 'usage-error', message: `invalid boolean value ${JSON.stringify(value)} for -${name}: ${r.error}` };
      if (d.kind === 'ignored') notes.push({ level: 'W', msg: `flag "-${name}" is no longer supported - ignoring.` });
      values.set(name, r.value);
    } else {
      if (value === undefined && i + 1 < argv.length) value = argv[++i];
      if (value === undefined) return { kind: 'usage-error', message: `flag needs an argument: -${name}` };
      const r = setValue(d, value);
      if ('error' in r) return { kind: 'usage-error', message: `invalid value ${JSON.stringify(value)} for flag -${name}: ${r.error}` };
      values.set(name, r.value);
    }
    setOnCommandLine.add(name);
  }
  const rest = argv.slice(i);

  // etcd checks for leftover arguments before it looks at --version.
  if (rest.length > 0) return { kind: 'invalid', message: `'${rest[0]}' is not a valid flag`, notes };
  if (values.get('version') === true) return { kind: 'version' };

  // Stage 2: the environment. etcd handles --config-file first; Floe refuses config files.
  const used = new Set<string>();
  for (const d of FLAGS) {
    const key = flagToEnv(d.name);
    if (setOnCommandLine.has(d.name)) continue;
    const raw = env[key];
    if (raw === undefined || raw === '') continue;
    used.add(key);
    const r = setValue(d, raw);
    if ('error' in r) return { kind: 'invalid', message: `invalid value ${JSON.stringify(raw)} for ${key}: ${r.error}`, notes };
    values.set(d.name, r.value);
    notes.push({ level: 'I', msg: `recognized and used environment variable ${key}=${raw}` });
  }
  for (const [key, raw] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (raw === undefined || used.has(key)) continue;
    const shadowed = [...setOnCommandLine].some((n) => flagToEnv(n) === key);
    if (shadowed) {
      return {
        kind: 'env-conflict',
        message: `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      };
    }
    if (key.startsWith('ETCD_')) notes.push({ level: 'W', msg: `unrecognized environment variable ${key}=${raw}` });
  }

  // Stage 3: validation.
  const given = (name: string): boolean => setOnCommandLine.has(name) || used.has(flagToEnv(name));
  const settings = resolve(values, given);
  if (typeof settings === 'string') return { kind: 'invalid', message: settings, notes };
  return { kind: 'serve', settings, notes, values };
}

const MAX_ELECTION_MS = 50_000;
const NS_PER_MS = 1_000_000n;

/** Validates and converts; a string is the reason the flags are refused. */
function resolve(values: ReadonlyMap<string, FlagValue>, given: (name: string) => boolean): ServeSettings | string {
  const str = (n: string): string => values.get(n) as string;
  const bool = (n: string): boolean => values.get(n) as boolean;
  const big = (n: string): bigint => values.get(n) as bigint;
  const list = (n: string): readonly string[] => values.get(n) as readonly string[];

  // What Floe cannot do, refused up front rather than ignored.
  for (const d of FLAGS) {
    if (d.support !== 'refused' || !given(d.name)) continue;
    if (JSON.stringify(defaultValue(d), bigintJson) !== JSON.stringify(values.get(d.name), bigintJson)) {
      return `--${d.name} is not supported by Floe yet`;
    }
  }

  // etcd's setupLogging.
  const logger = str('logger');
  if (logger !== 'capnslog' && logger !== 'zap') return `unknown logger option ${JSON.stringify(logger)}`;
  const logLevel = bool('debug') ? 'debug' : str('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) return `unknown level ${JSON.stringify(logLevel)}`;
  const outputs = given('log-outputs') ? list('log-outputs') : list('log-output');
  if (outputs.length !== 1 || !['default', 'stderr', 'stdout'].includes(outputs[0]!)) {
    return `--log-outputs ${JSON.stringify(outputs.join(','))}: Floe logs to one of 'stderr' (default) or 'stdout'`;
  }

  // Listen and advertise URLs (etcd's checkBindURLs, checkHostURLs).
  const lcurls = list('listen-client-urls');
  const lpurls = list('listen-peer-urls');
  for (const u of [...lpurls, ...lcurls]) {
    const host = splitHost(u);
    if (host === 'localhost' || u.startsWith('unix')) continue;
    if (!isIp(host)) return `expected IP in URL for binding (${u})`;
  }
  const apurls = list('initial-advertise-peer-urls');
  const acurls = given('listen-client-urls') && !given('advertise-client-urls') ? [] : list('advertise-client-urls');
  for (const [flag, urls] of [['--initial-advertise-peer-urls', apurls], ['--advertise-client-urls', acurls]] as const) {
    const empty = urls.find((u) => splitHost(u) === '');
    if (empty !== undefined) return `${flag} ${JSON.stringify(urls.join(','))} must be "host:port" (unexpected empty host (${empty}))`;
  }
  const initialCluster = str('initial-cluster');
  const bootstraps = [str('discovery') !== '', initialCluster !== '', str('discovery-srv') !== ''].filter(Boolean).length;
  if (bootstraps > 1) return 'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"';

  const heartbeatMs = Number(big('heartbeat-interval'));
  const electionMs = Number(big('election-timeout'));
  if (heartbeatMs <= 0) return `--heartbeat-interval must be >0 (set to ${heartbeatMs}ms)`;
  if (electionMs <= 0) return `--election-timeout must be >0 (set to ${electionMs}ms)`;
  if (5 * heartbeatMs > electionMs) return `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`;
  if (electionMs > MAX_ELECTION_MS) return `--election-timeout[${electionMs}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`;
  if (lcurls.length > 0 && acurls.length === 0) return '--advertise-client-urls is required when --listen-client-urls is set explicitly';

  const mode = str('auto-compaction-mode');
  if (mode !== 'periodic' && mode !== 'revision') return `unknown auto-compaction-mode ${JSON.stringify(mode)}`;
  if (bool('experimental-enable-lease-checkpoint-persist') && !bool('experimental-enable-lease-checkpoint')) {
    return 'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint';
  }
  const retention = compactionRetention(mode, str('auto-compaction-retention'));
  if (retention === null) return `error parsing CompactionRetention: time: invalid duration ${JSON.stringify(str('auto-compaction-retention'))}`;

  // Floe's own bounds: what etcd would accept but Floe cannot represent or act on.
  const freelist = given('backend-bbolt-freelist-type') ? str('backend-bbolt-freelist-type') : str('experimental-backend-bbolt-freelist-type');
  if (freelist !== 'map' && freelist !== 'array') return `invalid backend freelist type ${JSON.stringify(freelist)} (want 'map' or 'array')`;
  for (const u of [...lcurls, ...acurls]) if (!u.startsWith('http://') && !u.startsWith('https://')) return `only http:// and https:// client URLs are supported by Floe yet (${u})`;
  const safe = (n: string, min: bigint): number | string => {
    const v = big(n);
    if (v < min || v > BigInt(Number.MAX_SAFE_INTEGER)) return `--${n} must be between ${min} and ${Number.MAX_SAFE_INTEGER} (set to ${v})`;
    return Number(v);
  };
  const ms = (n: string): number | string => {
    const v = big(n);
    if (v < 0n) return `--${n} must not be negative (set to ${v}ns)`;
    return Number(v / NS_PER_MS);
  };
  const checked = {
    snapshotCount: safe('snapshot-count', 1n),
    quotaBackendBytes: safe('quota-backend-bytes', -(2n ** 53n)),
    backendBatchLimit: safe('backend-batch-limit', 0n),
    maxTxnOps: safe('max-txn-ops', 1n),
    // gRPC's receive limit (max-request-bytes + 512 KiB) must stay below 2^31.
    maxRequestBytes: safe('max-request-bytes', 1n),
    maxSnapshots: safe('max-snapshots', 0n),
    maxWals: safe('max-wals', 0n),
    backendBatchIntervalMs: ms('backend-batch-interval'),
    keepaliveIntervalMs: ms('grpc-keepalive-interval'),
    keepaliveTimeoutMs: ms('grpc-keepalive-timeout'),
    watchProgressNotifyIntervalMs: ms('experimental-watch-progress-notify-interval'),
  };
  for (const v of Object.values(checked)) if (typeof v === 'string') return v;
  const n = checked as { [K in keyof typeof checked]: number };
  if (n.maxRequestBytes > 2 ** 31 - 1 - 512 * 1024) return `--max-request-bytes must be at most ${2 ** 31 - 1 - 512 * 1024} (set to ${n.maxRequestBytes})`;
  const maxConcurrentStreams = Number(big('max-concurrent-streams'));
  if (maxConcurrentStreams < 1) return '--max-concurrent-streams must be at least 1';

  const listenClientUrls: ListenUrl[] = [];
  for (const u of lcurls) {
    const m = /^(\w+):\/\/(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*):(\d*)$/.exec(u);
    const port = m === null ? NaN : Number(m[3]);
    if (m === null || m[3] === '' || !Number.isInteger(port) || port > 65535) return `bad listen URL ${u}: want http://IP:port`;
    listenClientUrls.push({ url: u, scheme: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port });
  }

  const name = str('name');
  const dataDirGiven = str('data-dir');
  // etcd: only the name given => the initial cluster is this member at its advertised peer URLs.
  const cluster = name !== 'default' && initialCluster === 'default=http://localhost:2380' ? apurls.map((u) => `${name}=${u}`).join(',') : initialCluster;
  return {
    name,
    dataDir: dataDirGiven === '' ? `${name}.floe` : dataDirGiven,
    dataDirDefaulted: dataDirGiven === '',
    listenClientUrls,
    advertiseClientUrls: acurls,
    listenPeerUrls: lpurls,
    initialAdvertisePeerUrls: apurls,
    initialCluster: cluster,
    initialClusterState: str('initial-cluster-state') as 'new' | 'existing',
    initialClusterToken: str('initial-cluster-token'),
    snapshotCount: n.snapshotCount,
    heartbeatMs,
    electionMs,
    quotaBackendBytes: n.quotaBackendBytes,
    backendBatchIntervalMs: n.backendBatchIntervalMs,
    backendBatchLimit: n.backendBatchLimit,
    freelistType: freelist,
    maxTxnOps: n.maxTxnOps,
    maxRequestBytes: n.maxRequestBytes,
    maxConcurrentStreams,
    keepaliveIntervalMs: n.keepaliveIntervalMs,
    keepaliveTimeoutMs: n.keepaliveTimeoutMs,
    maxSnapshots: n.maxSnapshots,
    maxWals: n.maxWals,
    autoCompactionMode: mode,
    autoCompactionRetention: retention,
    watchProgressNotifyIntervalMs: n.watchProgressNotifyIntervalMs,
    unsafeNoFsync: bool('unsafe-no-fsync'),
    warmUp: bool('experimental-warm-up'),
    logger,
    logLevel: logLevel as LogLevel,
    logOutput: outputs[0] === 'stdout' ? 'stdout' : 'stderr',
  };
}

/**
 * etcd's parseCompactionRetention: a non-negative integer is hours (periodic) or revisions;
 * anything else must be a Go duration. Normalized for the member: revisions as an integer,
 * periods as whole milliseconds ('90000ms'). Returns null when unparsable.
 */
function compactionRetention(mode: 'periodic' | 'revision', raw: string): string | null {
  const text = raw === '' ? '0' : raw;
  // strconv.Atoi: optional sign, decimal digits only.
  if (/^[+-]?[0-9]+$/.test(text) && BigInt(text) >= 0n) {
    const h = BigInt(text);
    return mode === 'revision' ? String(h) : `${h * 3_600_000n}ms`;
  }
  const ns = parseGoDurationNs(text);
  if (ns === null) return null;
  // etcd keeps a duration given in revision mode as that many revisions (its nanoseconds).
  return mode === 'revision' ? String(ns) : `${ns / NS_PER_MS}ms`;
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** The host of a flag URL (no brackets), '' when there is none. */
function splitHost(u: string): string {
  const m = /^\w+:\/\/(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*)/.exec(u);
  return (m?.[1] ?? '').replace(/^\[|\]$/g, '');
}

function isIp(host: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(host)) return host.split('.').every((p) => Number(p) <= 255);
  return host.includes(':') && /^[0-9a-fA-F:.]+$/.test(host);
}
