/**
 * etcd's command line, edge by edge: the parse errors word for word as real etcd 3.4 prints
 * them (checked against the installed `etcd` where present), the ETCD_* environment rules,
 * and the start-up validation with etcd's messages and Floe's own bounds.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { FLAGS, flagsHelp } from './etcd-flag-table';
import { flagToEnv, parseUrls, readEtcdFlags, type FlagsOutcome, type ServeSettings } from './etcd-flags';

const ETCD = '/usr/bin/etcd';
const read = (argv: string[], env: Record<string, string> = {}): FlagsOutcome => readEtcdFlags(argv, env);
const settings = (argv: string[], env: Record<string, string> = {}): ServeSettings => {
  const r = read(argv, env);
  assert.equal(r.kind, 'serve', JSON.stringify(r));
  return (r as { settings: ServeSettings }).settings;
};
const invalid = (argv: string[], env: Record<string, string> = {}): string => {
  const r = read(argv, env);
  assert.equal(r.kind, 'invalid', JSON.stringify(r));
  return (r as { message: string }).message;
};
const usageError = (argv: string[]): string => {
  const r = read(argv);
  assert.equal(r.kind, 'usage-error', JSON.stringify(r));
  return (r as { message: string }).message;
};

/** Flag-syntax errors: Go's flag package text, exit 2 (these exact lines were seen from etcd 3.4.23). */
const USAGE_ERRORS: [string[], string][] = [
  [['--bogus'], 'flag provided but not defined: -bogus'],
  [['-bogus=1'], 'flag provided but not defined: -bogus'],
  [['--snapshot-count', 'abc'], 'invalid value "abc" for flag -snapshot-count: parse error'],
  [['--snapshot-count=-1'], 'invalid value "-1" for flag -snapshot-count: parse error'],
  [['--snapshot-count=99999999999999999999'], 'invalid value "99999999999999999999" for flag -snapshot-count: value out of range'],
  [['--heartbeat-interval=x'], 'invalid value "x" for flag -heartbeat-interval: parse error'],
  [['--quota-backend-bytes=1.5'], 'invalid value "1.5" for flag -quota-backend-bytes: parse error'],
  [['--max-request-bytes', '-5'], 'invalid value "-5" for flag -max-request-bytes: parse error'],
  [['--initial-cluster-state=foo'], 'invalid value "foo" for flag -initial-cluster-state: invalid value'],
  [['--backend-batch-interval=10'], 'invalid value "10" for flag -backend-batch-interval: parse error'],
  [['--enable-pprof=maybe'], 'invalid boolean value "maybe" for -enable-pprof: parse error'],
  [['--name'], 'flag needs an argument: -name'],
  [['--listen-client-urls=foo'], 'invalid value "foo" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: foo'],
  [['--listen-client-urls=http://127.0.0.1'], 'invalid value "http://127.0.0.1" for flag -listen-client-urls: URL address does not have the form "host:port": http://127.0.0.1'],
  [['--advertise-client-urls=http://a:1/x'], 'invalid value "http://a:1/x" for flag -advertise-client-urls: URL must not contain a path: http://a:1/x'],
  [['--max-concurrent-streams=x'], 'invalid value "x" for flag -max-concurrent-streams: strconv.ParseUint: parsing "x": invalid syntax'],
  [['--max-concurrent-streams=4294967296'], 'invalid value "4294967296" for flag -max-concurrent-streams: strconv.ParseUint: parsing "4294967296": value out of range'],
  [['---x'], 'bad flag syntax: ---x'],
  [['-=x'], 'bad flag syntax: -=x'],
];

test('flag syntax errors are Go\'s messages, word for word', () => {
  for (const [argv, want] of USAGE_ERRORS) assert.equal(usageError(argv), want, argv.join(' '));
});

test('the same bad flags make real etcd 3.4 print the same first line and exit 2', { skip: !fs.existsSync(ETCD) && `${ETCD} not installed` }, () => {
  // Only argument errors: etcd stops before touching any data dir or port.
  for (const [argv, want] of USAGE_ERRORS) {
    const r = spawnSync(ETCD, argv, { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
    assert.equal(r.status, 2, argv.join(' '));
    assert.equal(r.stderr.split('\n')[0], want, argv.join(' '));
  }
});

test('-h, -help and --help ask for help; --version asks for the version', () => {
  for (const a of ['-h', '--help', '-help', '--h', '-help=1']) assert.equal(read([a]).kind, 'help', a);
  assert.equal(read(['--version']).kind, 'version');
  assert.equal(read(['--version=false', '--name=x']).kind, 'serve');
  // etcd checks for leftover arguments first.
  assert.equal(read(['--version', 'extra']).kind, 'invalid');
});

test('parsing stops at the first non-flag and at "--"; bool flags take no separate value', () => {
  assert.equal(invalid(['positional']), "'positional' is not a valid flag");
  assert.equal(invalid(['--name', 'n', 'x', '--snapshot-count=abc']), "'x' is not a valid flag");
  assert.equal(invalid(['--', '--name=x']), "'--name=x' is not a valid flag");
  assert.equal(invalid(['--enable-pprof', 'false']), "'false' is not a valid flag");
  assert.equal(invalid(['-']), "'-' is not a valid flag");
  assert.equal(settings(['-name', 'a', '--name=b']).name, 'b'); // later wins; one dash works
  assert.equal(settings(['--unsafe-no-fsync']).unsafeNoFsync, true);
  assert.equal(settings(['--unsafe-no-fsync=F']).unsafeNoFsync, false);
});

test('numbers parse as Go does: base prefixes, octal zero, underscores', () => {
  assert.equal(settings(['--snapshot-count=0x100']).snapshotCount, 256);
  assert.equal(settings(['--snapshot-count=010']).snapshotCount, 8);
  assert.equal(settings(['--snapshot-count=1_000']).snapshotCount, 1000);
  assert.equal(usageError(['--snapshot-count=08']), 'invalid value "08" for flag -snapshot-count: parse error');
});

test('defaults: etcd\'s, with the data dir named <name>.floe', () => {
  const s = settings([]);
  assert.equal(s.name, 'default');
  assert.equal(s.dataDir, 'default.floe');
  assert.equal(s.dataDirDefaulted, true);
  assert.deepEqual(s.listenClientUrls, [{ url: 'http://localhost:2379', scheme: 'http', host: 'localhost', port: 2379 }]);
  assert.deepEqual(s.advertiseClientUrls, ['http://localhost:2379']);
  assert.deepEqual(s.listenPeerUrls, ['http://localhost:2380']);
  assert.equal(s.initialCluster, 'default=http://localhost:2380');
  assert.equal(s.initialClusterState, 'new');
  assert.equal(s.initialClusterToken, 'etcd-cluster');
  assert.equal(s.snapshotCount, 100000);
  assert.deepEqual([s.heartbeatMs, s.electionMs], [100, 1000]);
  assert.deepEqual([s.maxRequestBytes, s.maxTxnOps], [1572864, 128]);
  assert.equal(s.maxConcurrentStreams, 4294967295);
  assert.deepEqual([s.keepaliveIntervalMs, s.keepaliveTimeoutMs], [7_200_000, 20_000]);
  assert.equal(s.watchProgressNotifyIntervalMs, 600_000);
  assert.deepEqual([s.quotaBackendBytes, s.backendBatchIntervalMs, s.backendBatchLimit], [0, 0, 0]);
  assert.equal(s.freelistType, 'map');
  assert.deepEqual([s.autoCompactionMode, s.autoCompactionRetention], ['periodic', '0ms']);
  assert.deepEqual([s.logger, s.logLevel, s.logOutput], ['capnslog', 'info', 'stderr']);
  assert.equal(settings(['--name=n1']).dataDir, 'n1.floe');
  assert.equal(settings(['--data-dir=x']).dataDirDefaulted, false);
});

test('only --name given: the initial cluster is this member at its peer URLs (as etcd)', () => {
  assert.equal(settings(['--name=n1']).initialCluster, 'n1=http://localhost:2380');
  assert.equal(
    settings(['--name=n1', '--initial-advertise-peer-urls=http://127.0.0.1:2,http://127.0.0.1:1']).initialCluster,
    'n1=http://127.0.0.1:1,n1=http://127.0.0.1:2',
  );
  assert.equal(settings(['--name=n1', '--initial-cluster=a=http://x:1']).initialCluster, 'a=http://x:1');
});

test('URL lists are checked, de-duplicated and sorted as etcd keeps them', () => {
  assert.deepEqual(parseUrls(['http://b:1', ' http://a:1', 'http://b:1']), { value: ['http://a:1', 'http://b:1'] });
  assert.deepEqual(parseUrls(['HTTP://a:1']), { value: ['http://a:1'] });
  assert.deepEqual(parseUrls(['127.0.0.1:2379']), { error: 'parse "127.0.0.1:2379": first path segment in URL cannot contain colon' });
  const s = settings(['--listen-client-urls=http://127.0.0.1:2,http://[::1]:3', '--advertise-client-urls=http://127.0.0.1:2']);
  assert.deepEqual(
    s.listenClientUrls.map((u) => [u.host, u.port]),
    [['127.0.0.1', 2], ['::1', 3]],
  );
});

test('environment: ETCD_<NAME> sets a flag not on the command line; a conflict is fatal', () => {
  const r = read(['--data-dir=d'], { ETCD_SNAPSHOT_COUNT: '5', ETCD_BOGUS: '1', ETCDCTL_API: '3', HOME: '/x' });
  assert.equal(r.kind, 'serve');
  const ok = r as Extract<FlagsOutcome, { kind: 'serve' }>;
  assert.equal(ok.settings.snapshotCount, 5);
  assert.deepEqual(ok.notes, [
    { level: 'I', msg: 'recognized and used environment variable ETCD_SNAPSHOT_COUNT=5' },
    { level: 'W', msg: 'unrecognized environment variable ETCD_BOGUS=1' },
  ]);
  const conflict = read(['--name=y'], { ETCD_NAME: 'x' });
  assert.deepEqual(conflict, {
    kind: 'env-conflict',
    message: 'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
  });
  assert.equal(invalid([], { ETCD_SNAPSHOT_COUNT: 'abc' }), 'invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error');
  // Empty variables are not set (etcd skips them).
  assert.equal(settings([], { ETCD_NAME: '' }).name, 'default');
  // Listening set through the environment also needs advertising, as on the command line.
  assert.match(invalid([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1' }), /--advertise-client-urls is required/);
  assert.equal(flagToEnv('experimental-watch-progress-notify-interval'), 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL');
});

test('validation: etcd\'s Config.Validate messages', () => {
  assert.equal(invalid(['--listen-client-urls=http://127.0.0.1:1']), '--advertise-client-urls is required when --listen-client-urls is set explicitly');
  assert.equal(invalid(['--heartbeat-interval=2000']), '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[2000ms]');
  assert.equal(invalid(['--heartbeat-interval=0']), '--heartbeat-interval must be >0 (set to 0ms)');
  assert.equal(invalid(['--election-timeout=0']), '--election-timeout must be >0 (set to 0ms)');
  assert.equal(invalid(['--election-timeout=50001']), '--election-timeout[50001ms] is too long, and should be set less than 50000ms');
  assert.equal(settings(['--election-timeout=50000']).electionMs, 50000);
  assert.equal(settings(['--heartbeat-interval=200']).heartbeatMs, 200); // exactly 5x: accepted
  assert.equal(invalid(['--auto-compaction-mode=foo']), 'unknown auto-compaction-mode "foo"');
  assert.equal(invalid(['--auto-compaction-retention=abc']), 'error parsing CompactionRetention: time: invalid duration "abc"');
  assert.equal(invalid(['--logger=foo']), 'unknown logger option "foo"');
  assert.equal(invalid(['--log-level=loud']), 'unknown level "loud"');
  assert.equal(invalid(['--listen-peer-urls=http://example.com:1']), 'expected IP in URL for binding (http://example.com:1)');
  assert.equal(invalid(['--experimental-enable-lease-checkpoint-persist']), 'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint');
  assert.equal(
    invalid(['--initial-cluster=a=http://x:1', '--discovery=http://d']),
    '--discovery is not supported by Floe yet',
  );
});

test('what Floe cannot do is refused, not ignored; accepted flags start', () => {
  for (const a of ['--client-crl-file=c', '--cipher-suites=x', '--wal-dir=w', '--proxy=on', '--enable-v2', '--config-file=f', '--force-new-cluster']) {
    assert.match(invalid([a]), /is not supported by Floe yet$/, a);
  }
  // Given with their defaults they are fine.
  assert.equal(read(['--proxy=off', '--enable-v2=false', '--cert-file=']).kind, 'serve');
  assert.match(invalid(['--listen-client-urls=unix://s:1', '--advertise-client-urls=unix://s:1']), /only http:\/\/ and https:\/\/ client URLs/);
  assert.match(invalid(['--log-outputs=/var/log/x']), /Floe logs to one of/);
  for (const a of ['--enable-pprof', '--metrics=extensive', '--pre-vote', '--auth-token=jwt', '--experimental-initial-corrupt-check', '--cors=http://a:1', '--peer-heartbeat-interval', '--cert-file=c', '--auto-tls', '--peer-auto-tls', '--peer-client-cert-auth']) {
    assert.equal(read([a]).kind, 'serve', a);
  }
});

test('settings Floe derives: retention, freelist, logging, bounds at their edges', () => {
  assert.equal(settings(['--auto-compaction-retention=1']).autoCompactionRetention, '3600000ms');
  assert.equal(settings(['--auto-compaction-retention=5m']).autoCompactionRetention, '300000ms');
  assert.equal(settings(['--auto-compaction-mode=revision', '--auto-compaction-retention=100']).autoCompactionRetention, '100');
  assert.equal(settings(['--experimental-backend-bbolt-freelist-type=array']).freelistType, 'array');
  assert.equal(settings(['--backend-bbolt-freelist-type=array']).freelistType, 'array');
  assert.match(invalid(['--backend-bbolt-freelist-type=list']), /invalid backend freelist type "list"/);
  assert.equal(settings(['--debug']).logLevel, 'debug');
  assert.equal(settings(['--log-outputs=stdout']).logOutput, 'stdout');
  assert.equal(settings(['--logger=zap']).logger, 'zap');
  assert.equal(settings(['--backend-batch-interval=250ms']).backendBatchIntervalMs, 250);
  assert.equal(settings(['--experimental-watch-progress-notify-interval=1s']).watchProgressNotifyIntervalMs, 1000);
  assert.match(invalid(['--grpc-keepalive-timeout=-1s']), /must not be negative/);
  assert.match(invalid(['--max-txn-ops=0']), /--max-txn-ops must be between 1 and/);
  assert.equal(settings(['--max-txn-ops=1']).maxTxnOps, 1);
  const maxReq = 2 ** 31 - 1 - 512 * 1024;
  assert.equal(settings([`--max-request-bytes=${maxReq}`]).maxRequestBytes, maxReq);
  assert.match(invalid([`--max-request-bytes=${maxReq + 1}`]), /--max-request-bytes must be at most/);
  assert.match(invalid(['--max-request-bytes=0']), /--max-request-bytes must be between 1/);
  assert.match(invalid(['--max-concurrent-streams=0']), /at least 1/);
  assert.match(invalid(['--snapshot-count=0']), /--snapshot-count must be between 1/);
  assert.equal(settings(['--quota-backend-bytes=-1']).quotaBackendBytes, -1);
});

test('help lists every documented flag once, with its default', () => {
  const help = flagsHelp();
  for (const d of FLAGS) {
    if (d.section === null) continue;
    assert.equal(help.split(`\n  --${d.name} `).length, 2, d.name);
  }
  assert.match(help, /^  --data-dir '\$\{name\}\.floe'$/m);
  assert.match(help, /^  --max-request-bytes '1572864'$/m);
});
