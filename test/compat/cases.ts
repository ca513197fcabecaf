/**
 * The compatibility cases: sequences of etcdctl 3.4 invocations run against a fresh server of
 * each side. Every case gets its own fresh pair of servers, so its revisions start at 1 and a
 * difference in one case never shifts the output of another; the many checks that do not
 * interfere share a case (and so a server pair) to keep the suite fast.
 *
 * In arguments and stdin, `${NAME}` is replaced by a variable of the side: `DIR` (the side's
 * scratch dir) or one captured from an earlier step's stdout (e.g. a lease id, which differs
 * per server). Arguments use `--flag=value` so the sub-command is easy to find.
 */

/** Runs etcdctl against the case's current server (the last one started). */
export interface RunStep {
  readonly kind: 'run';
  readonly args: readonly string[];
  /** Written to etcdctl's stdin (values for `put`, scripts for `txn`). */
  readonly stdin?: string | Buffer;
  /** Variables taken from stdout: group 1 of the first match. */
  readonly capture?: Readonly<Record<string, RegExp>>;
  /** Stops a `watch` once its output holds everything expected (see `untilText`). */
  readonly stopWhen?: (stdout: string) => boolean;
  readonly timeoutMs?: number;
  /** Start it and go on with the next steps; its result is compared at `join`. */
  readonly background?: string;
  /** What etcd itself must do here: checked on the reference side, so a case that stops
   * exercising what it claims (an error that no longer happens) fails. */
  readonly expect?: Expectation;
  /** etcdctl TLS flags for this step instead of the case's `clientTls.ctlFlags` (`[]`: none). */
  readonly ctlFlags?: readonly string[];
  /** Scheme of this step's `--endpoints`; default `https` with `clientTls`, else none. */
  readonly scheme?: 'http' | 'https';
}

/** Waits for a background step and compares its result at this point of the sequence. */
export interface JoinStep {
  readonly kind: 'join';
  readonly name: string;
}

/** Lets time pass (lease expiry); not compared. */
export interface SleepStep {
  readonly kind: 'sleep';
  readonly ms: number;
}

/**
 * Restores a snapshot file into a new data dir with the side's restore command, starts a new
 * server of the side on it, and makes it the current server. The restore's exit code is
 * compared, its output too when both sides restore with the same tool.
 */
export interface RestoreStep {
  readonly kind: 'restore-and-start';
  /** Path template of the snapshot, e.g. `${DIR}/snap.db`. */
  readonly snapshot: string;
  /** Member name of the restored server. */
  readonly name: string;
  readonly expect?: Expectation;
}

export type Step = RunStep | JoinStep | SleepStep | RestoreStep;

/** A check on etcd's own behaviour at one step. */
export interface Expectation {
  readonly exit?: number;
  /** Must occur in the normalized stdout. */
  readonly stdout?: string | RegExp;
  /** Must occur in the normalized stderr. */
  readonly stderr?: string | RegExp;
}

export interface Case {
  /** Short kebab-case name. */
  readonly name: string;
  /** The property the case shows. */
  readonly shows: string;
  /** Extra flags for the case's servers (both sides); `${DIR}` is the side's scratch dir. */
  readonly serverFlags?: readonly string[];
  /** Runs before the first server starts, with the side's scratch dir (e.g. makes certificates). */
  readonly setup?: (dir: string) => Promise<void>;
  /**
   * The servers' client URLs are `https://` (serverFlags give the certificate), and etcdctl
   * gets `ctlFlags` (`${DIR}` substituted) in the harness's own calls and in every step that
   * does not give its own `ctlFlags`.
   */
  readonly clientTls?: { readonly ctlFlags: readonly string[] };
  readonly steps: readonly Step[];
}

// ---- step builders -------------------------------------------------------------------------

type RunOptions = Omit<RunStep, 'kind' | 'args'>;

/** `etcdctl <words...>`. */
export function ctl(args: readonly string[], options: RunOptions = {}): RunStep {
  return { kind: 'run', args, ...options };
}

/** Several `put key value` steps. */
export function puts(pairs: ReadonlyArray<readonly [string, string]>): RunStep[] {
  return pairs.map(([k, v]) => ctl(['put', k, v]));
}

/**
 * A `txn` script: compare lines, a blank line, success ops, a blank line, failure ops, a blank
 * line. etcdctl reads exactly these three blocks; a missing final blank line is `Error: EOF`.
 */
export function txnScript(compares: readonly string[], success: readonly string[], failure: readonly string[]): string {
  return [...compares, '', ...success, '', ...failure, ''].join('\n') + '\n';
}

/**
 * Stop a watch once stdout contains `text` and ends a line. etcdctl writes each line (or each
 * json response) with one write, so the text must be the end of the last event: stopping in the
 * middle of an event's lines would make the output depend on timing.
 */
export function untilText(text: string): (stdout: string) => boolean {
  return (stdout) => stdout.endsWith('\n') && stdout.includes(text);
}

/** Stop a watch once stdout contains `text` at least `count` times and ends a line. */
export function untilCount(text: string, count: number): (stdout: string) => boolean {
  return (stdout) => stdout.endsWith('\n') && stdout.split(text).length - 1 >= count;
}

/** Bound on a watch that waits for a known set of events. */
const WATCH_TIMEOUT_MS = 8_000;

function watch(args: readonly string[], stopWhen: (stdout: string) => boolean, options: RunOptions = {}): RunStep {
  return ctl(['watch', ...args], { stopWhen, timeoutMs: WATCH_TIMEOUT_MS, ...options });
}

const leaseCapture = (name: string): Readonly<Record<string, RegExp>> => ({ [name]: /^lease ([0-9a-f]{16}) granted/ });

/** Exactly etcd's default --max-request-bytes (1.5 MiB): a value this long is too large. */
const MAX_REQUEST_BYTES = 1_572_864;

/** etcd's ExitError for a failed request; etcdctl's other codes appear where they occur. */
const FAILED = 1;

// ---- the cases -----------------------------------------------------------------------------

const putGet: Case = {
  name: 'put-get-formats',
  shows: 'put and get print the same in every output format (simple, json, fields, protobuf, --hex)',
  steps: [
    ctl(['put', 'a', '1'], { expect: { exit: 0, stdout: 'OK\n' } }),
    ctl(['put', 'a', '2', '--prev-kv'], { expect: { stdout: 'OK\na\n1\n' } }),
    ctl(['put', 'a', '3', '--prev-kv', '-w', 'json']),
    ctl(['put', 'b', '10', '-w', 'fields']),
    ctl(['put', 'c', 'x', '-w', 'protobuf']),
    ctl(['get', 'a']),
    ctl(['get', 'a', '-w', 'json'], { expect: { stdout: '"revision":6' } }),
    ctl(['get', 'a', '-w', 'fields']),
    ctl(['get', 'a', '-w', 'protobuf']),
    ctl(['get', 'missing'], { expect: { exit: 0, stdout: /^$/ } }),
    ctl(['get', 'missing', '-w', 'json']),
    ctl(['get', 'missing', '-w', 'fields']),
    ctl(['--hex', 'get', 'a']),
    ctl(['--hex', 'get', 'a', '-w', 'json']),
    ctl(['put', 'from-stdin'], { stdin: 'line one\nline two\n' }),
    ctl(['get', 'from-stdin', '-w', 'json']),
    ctl(['put', '--', 'dash', '-value']),
    ctl(['get', 'dash']),
    ctl(['put', 'empty', '']),
    ctl(['get', 'empty', '-w', 'json']),
    ctl(['get', 'empty', '-w', 'fields']),
    ctl(['put', 'ключ', 'значение ✓']),
    ctl(['get', 'ключ']),
    ctl(['get', 'ключ', '-w', 'json']),
    ctl(['--hex', 'get', 'ключ']),
    ctl(['put', 'a', '4', '-w', 'protobuf']),
    ctl(['get', 'a', '--consistency=s', '-w', 'json']),
    ctl(['get', 'a', '--rev=-1']),
  ],
};

/** Keys with distinct create, mod, version and value orders, for the range flags. */
const rangeSeed = puts([
  ['a1', 'v5'], // rev 2
  ['a2', 'v4'], // rev 3
  ['a3', 'v3'], // rev 4
  ['b1', 'v2'], // rev 5
  ['b2', 'v1'], // rev 6
  ['a1', 'v6'], // rev 7: a1 version 2
  ['c1', 'v0'], // rev 8
  ['a2', 'v7'], // rev 9: a2 version 2
  ['a2', 'v8'], // rev 10: a2 version 3
]);

const getRange: Case = {
  name: 'get-range-flags',
  shows: 'get honours --prefix, --from-key, range ends, --limit, --rev, --sort-by, --order, --keys-only, --print-value-only exactly as etcd (etcdctl 3.4 has no --count-only)',
  steps: [
    ...rangeSeed,
    ctl(['get', '--prefix', 'a'], { expect: { stdout: 'a1\nv6\na2\nv8\na3\nv3\n' } }),
    ctl(['get', '--prefix', 'a', '-w', 'json']),
    ctl(['get', 'a1', 'b1']),
    ctl(['get', 'a1', 'b1', '-w', 'json']),
    ctl(['get', '--from-key', 'b1']),
    ctl(['get', '--from-key', 'a3', '--keys-only']),
    ctl(['get', '--prefix', '']),
    ctl(['get', '--from-key', '']),
    ctl(['get', '--prefix', 'a', '--limit=2']),
    ctl(['get', '--prefix', 'a', '--limit=2', '-w', 'json'], { expect: { stdout: '"more":true,"count":3' } }),
    ctl(['get', '--prefix', 'a', '--limit=2', '-w', 'fields']),
    ctl(['get', '--prefix', 'a', '--limit=3', '-w', 'json']),
    ctl(['get', '--prefix', 'a', '--rev=4', '-w', 'json']),
    ctl(['get', 'a1', '--rev=2']),
    ctl(['get', 'a1', '--rev=7', '-w', 'json']),
    ctl(['get', 'a2', '--rev=1']),
    ctl(['get', '--prefix', 'a', '--sort-by=CREATE', '--order=DESCEND']),
    ctl(['get', '--prefix', 'a', '--sort-by=KEY', '--order=DESCEND']),
    ctl(['get', '--prefix', 'a', '--sort-by=MODIFY']),
    ctl(['get', '--prefix', 'a', '--sort-by=MODIFY', '--order=DESCEND']),
    ctl(['get', '--prefix', '', '--sort-by=VALUE']),
    ctl(['get', '--prefix', '', '--sort-by=VALUE', '--order=DESCEND']),
    ctl(['get', '--prefix', '', '--sort-by=VERSION', '--order=DESCEND']),
    ctl(['get', '--prefix', '', '--sort-by=VERSION', '--order=ASCEND']),
    ctl(['get', '--prefix', 'a', '--order=DESCEND']),
    ctl(['get', '--prefix', '', '--sort-by=VALUE', '--order=DESCEND', '--limit=2', '-w', 'json']),
    ctl(['get', '--prefix', '', '--keys-only']),
    ctl(['get', '--prefix', '', '--keys-only', '-w', 'json']),
    // etcdctl 3.4 has no --count-only (3.5 added it): a client-side usage error.
    ctl(['get', '--prefix', '', '--count-only'], { expect: { stderr: 'Error: unknown flag: --count-only' } }),
    ctl(['get', '--prefix', '', '--keys-only', '-w', 'fields']),
    ctl(['get', '--prefix', '', '--print-value-only']),
    ctl(['get', '--prefix', '', '--print-value-only', '--limit=2']),
    ctl(['get', '--from-key', 'a2', '--keys-only', '--limit=1', '-w', 'json'], { expect: { stdout: '"more":true,"count":5' } }),
    ctl(['get', '--prefix', 'a', '--limit=2', '--keys-only', '--rev=5', '-w', 'json']),
    ctl(['get', '--prefix', 'a', '--consistency=s', '-w', 'json']),
    ctl(['get', '--prefix', 'a', '--rev=9', '--sort-by=VERSION', '--order=DESCEND', '-w', 'fields']),
    ctl(['get', 'zzz', '--prefix', '-w', 'json']),
  ],
};

const putFlags: Case = {
  name: 'put-flags',
  shows: 'put --lease, --ignore-value, --ignore-lease and --prev-kv behave as in etcd, including their errors',
  steps: [
    ctl(['lease', 'grant', '100'], { capture: leaseCapture('L1') }),
    ctl(['lease', 'grant', '200'], { capture: leaseCapture('L2') }),
    ctl(['put', 'k1', 'v1', '--lease=${L1}']),
    ctl(['get', 'k1', '-w', 'json']),
    ctl(['put', 'k1', 'v2', '--ignore-lease']),
    ctl(['get', 'k1', '-w', 'fields']),
    ctl(['put', 'k1', '--ignore-value', '--lease=${L2}']),
    ctl(['get', 'k1', '-w', 'json']),
    ctl(['put', 'k1', '--ignore-value', '--ignore-lease', '--prev-kv', '-w', 'json']),
    ctl(['put', 'k1', 'v3', '--prev-kv', '-w', 'json']),
    ctl(['get', 'k1', '-w', 'json']),
    ctl(['put', 'missing', '--ignore-value'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: key not found' } }),
    ctl(['put', 'missing', 'v', '--ignore-lease'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: key not found' } }),
    ctl(['put', 'k1', 'v4', '--ignore-value']),
    ctl(['put', 'k1', 'v', '--lease=zz']),
    ctl(['put', 'k2', 'v', '--lease=1234abcd'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: requested lease not found' } }),
    ctl(['put', 'k1', 'v5', '--lease=${L1}', '--prev-kv']),
    ctl(['lease', 'timetolive', '--keys', '${L1}']),
    ctl(['lease', 'timetolive', '--keys', '${L2}']),
    ctl(['get', '--prefix', 'k', '-w', 'json']),
  ],
};

const deleteCase: Case = {
  name: 'del-flags',
  shows: 'del prints deleted counts and previous pairs for keys, ranges, --prefix and --from-key as etcd',
  steps: [
    ...rangeSeed,
    ctl(['del', 'a1'], { expect: { stdout: '1\n' } }),
    ctl(['del', 'a1'], { expect: { exit: 0, stdout: '0\n' } }),
    ctl(['del', 'a2', '--prev-kv']),
    ctl(['del', 'a3', '-w', 'json']),
    ctl(['del', 'b1', '--prev-kv', '-w', 'fields']),
    ctl(['put', 'a4', 'x']),
    ctl(['del', 'b2', 'c2', '--prev-kv', '-w', 'json']),
    ctl(['del', '--prefix', 'a', '-w', 'protobuf']),
    ctl(['put', 'd1', 'x']),
    ctl(['put', 'd2', 'y']),
    ctl(['del', '--from-key', 'c', '--prev-kv']),
    // An empty result has no kvs and no count in json: both are omitted when empty.
    ctl(['get', '--prefix', '', '-w', 'json'], { expect: { stdout: /^\{"header":\{[^}]*\}\}\n$/ } }),
    ctl(['put', 'e', '1']),
    ctl(['del', '--prefix', '']),
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['get', 'a1', '--rev=6', '-w', 'json']),
  ],
};

const txnCase: Case = {
  name: 'txn',
  shows: 'txn (interactive and from stdin) evaluates version, create, mod and value compares like etcd and runs the right branch',
  steps: [
    ctl(['put', 'a', '1']), // rev 2
    ctl(['put', 'b', '2']), // rev 3
    ctl(['put', 'a', '11']), // rev 4
    ctl(['txn', '-i'], {
      stdin: txnScript(
        ['version("a") = "2"', 'create("a") = "2"', 'mod("a") = "4"', 'value("b") = "2"'],
        ['put c 3', 'get a', 'del b'],
        ['put f 1'],
      ),
      expect: { stdout: 'SUCCESS' },
    }),
    ctl(['txn', '-i'], {
      stdin: txnScript(['value("a") = "nope"'], ['put x 1'], ['get a --prefix', 'put y 2', 'del nope']),
      expect: { stdout: 'FAILURE' },
    }),
    ctl(['txn', '-i', '-w', 'json'], {
      stdin: txnScript(['version("a") > "1"', 'mod("a") < "100"', 'value("a") != "x"'], ['get a', 'put a 12', 'del y --prev-kv'], []),
    }),
    ctl(['txn', '-w', 'json'], {
      stdin: txnScript(['create("zz") = "0"', 'version("zz") = "0"'], ['put zz 1 --prev-kv', 'get --prefix ""'], ['get a']),
    }),
    ctl(['txn', '-w', 'fields'], { stdin: txnScript(['mod("zz") > "8"'], ['get zz'], ['get a', 'del a', 'get a']) }),
    ctl(['txn'], { stdin: txnScript(['value("c") = "3"', 'value("c") = "4"'], ['put hit 1'], ['put miss 1']) }),
    ctl(['txn', '-w', 'protobuf'], { stdin: txnScript(['version("c") = "1"'], ['put c 5', 'get c'], []) }),
    ctl(['txn'], { stdin: txnScript([], ['get --prefix "" --keys-only', 'put p "two words"'], []) }),
    ctl(['txn', '-w', 'json'], { stdin: txnScript([], [], []) }),
    ctl(['txn', '-i'], { stdin: txnScript(['value("p") = "two words"'], ['get p --print-value-only'], []) }),
    ctl(['txn', '-w', 'json'], { stdin: txnScript(['mod("a") = "4"'], [], ['get a --rev=4', 'get --prefix "" --keys-only --limit=1']) }),
    ctl(['txn'], { stdin: 'value("a") = "1"\n\nput x 1\n', expect: { exit: 3 } }),
    ctl(['txn'], { stdin: txnScript(['bogus("a") = "1"'], [], []), expect: { exit: 3 } }),
    ctl(['get', '--prefix', '', '-w', 'json']),
  ],
};

function manyPuts(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `put ${prefix}${i} v`);
}

const txnLimits: Case = {
  name: 'txn-errors',
  shows: 'txn limits and request checks: 128 ops pass, 129 fail; duplicate keys fail; empty keys fail; each with etcd message and exit code',
  steps: [
    ctl(['txn'], { stdin: txnScript([], manyPuts(128, 'k'), []), expect: { exit: 0 } }),
    ctl(['txn'], {
      stdin: txnScript([], manyPuts(129, 'k'), []),
      expect: { exit: FAILED, stderr: 'Error: etcdserver: too many operations in txn request' },
    }),
    ctl(['txn'], { stdin: txnScript([], [], manyPuts(129, 'f')), expect: { exit: FAILED } }),
    ctl(['txn'], { stdin: txnScript(manyPuts(129, '').map((_, i) => `version("k${i}") = "1"`), [], []), expect: { exit: FAILED } }),
    ctl(['txn'], { stdin: txnScript([], manyPuts(100, 's'), manyPuts(100, 'f')), expect: { exit: 0 } }),
    ctl(['txn'], {
      stdin: txnScript([], ['put d 1', 'put d 2'], []),
      expect: { exit: FAILED, stderr: 'Error: etcdserver: duplicate key given in txn request' },
    }),
    ctl(['txn'], { stdin: txnScript([], ['put d 1', 'del d'], []) }),
    ctl(['txn'], { stdin: txnScript([], ['del d', 'del d'], []) }),
    ctl(['txn'], { stdin: txnScript([], ['put d1 1', 'del d --prefix'], []) }),
    ctl(['txn'], { stdin: txnScript([], ['get d', 'put d 1'], []) }),
    ctl(['txn'], { stdin: txnScript([], ['put d 1'], ['put d 2']) }),
    ctl(['txn'], { stdin: txnScript([], ['put "" 1'], []), expect: { exit: FAILED } }),
    ctl(['txn'], { stdin: txnScript(['value("") = "1"'], [], []) }),
    ctl(['get', '--prefix', 'd', '-w', 'json']),
    ctl(['get', '--prefix', '', '--keys-only', '-w', 'json']),
  ],
};

const watchSeed = puts([
  ['w/a', '1'], // rev 2
  ['w/b', '2'], // rev 3
  ['w/a', '3'], // rev 4
]);

const watchCase: Case = {
  name: 'watch',
  shows: 'watch replays history from --rev (key, range, --prefix, --prev-kv, json, fields) and delivers live events in order',
  steps: [
    ...watchSeed,
    ctl(['del', 'w/b']), // rev 5
    ctl(['put', 'x', '9']), // rev 6
    ctl(['put', 'w/c', '4']), // rev 7
    ctl(['put', 'w/end', 'done']), // rev 8
    watch(['--rev=1', '--prefix', 'w/'], untilText('w/end\ndone\n'), { expect: { stdout: 'DELETE\nw/b\n' } }),
    watch(['--rev=1', '--prefix', '--prev-kv', 'w/'], untilText('w/end\ndone\n')),
    watch(['--rev=1', 'w/a'], untilText('w/a\n3\n')),
    watch(['--rev=1', 'w/a', 'w/c'], untilText('DELETE\nw/b\n\n')),
    watch(['--rev=4', '--prefix', 'w/', '-w', 'json'], untilText('ZG9uZQ==')),
    watch(['--rev=3', '--prefix', '--prev-kv', 'w/', '-w', 'fields'], untilText('"Value" : "done"\n"Lease" : 0\n')),
    watch(['--rev=9', '--prefix', 'live/'], untilText('live/end\nz\n'), { background: 'live' }),
    ctl(['put', 'live/1', 'a']), // rev 9
    ctl(['put', 'live/2', 'b']), // rev 10
    ctl(['del', 'live/1']), // rev 11
    ctl(['txn'], { stdin: txnScript([], ['put live/3 c', 'del live/2'], []) }), // rev 12
    ctl(['put', 'live/end', 'z']), // rev 13
    { kind: 'join', name: 'live' },
    watch(['--rev=9', '--prefix', '--prev-kv', 'live/', '-w', 'json'], untilText('"value":"eg=="')),
  ],
};

const watchCompacted: Case = {
  name: 'watch-compacted',
  shows: 'a watch below the compacted revision is cancelled with etcd message and exit code; one at it replays',
  steps: [
    ...puts([
      ['k', '1'],
      ['k', '2'],
      ['k', '3'],
      ['k', '4'],
    ]), // revs 2..5
    ctl(['compaction', '4']),
    watch(['--rev=2', 'k'], untilText('never printed'), {
      expect: { exit: 5, stderr: 'watch was canceled (etcdserver: mvcc: required revision has been compacted)' },
    }),
    watch(['--rev=3', '--prefix', 'k'], untilText('never printed')),
    watch(['--rev=4', 'k'], untilText('k\n4\n')),
    watch(['--rev=4', 'k', '-w', 'json'], untilText('NA==')),
  ],
};

const leaseCase: Case = {
  name: 'lease',
  shows: 'lease grant, list, timetolive, keep-alive --once and revoke print as etcd; revoke deletes attached keys at one revision; lease errors match',
  steps: [
    ctl(['lease', 'grant', '100'], { capture: leaseCapture('L1') }),
    ctl(['lease', 'grant', '200', '-w', 'json']),
    ctl(['lease', 'grant', '300', '-w', 'fields']),
    ctl(['lease', 'grant', '400'], { capture: leaseCapture('L4') }),
    ctl(['lease', 'list']),
    ctl(['lease', 'list', '-w', 'json']),
    ctl(['lease', 'list', '-w', 'fields']),
    ctl(['put', 'lk1', 'v', '--lease=${L1}']),
    ctl(['put', 'lk2', 'v', '--lease=${L1}']),
    ctl(['put', 'other', 'v', '--lease=${L4}']),
    ctl(['lease', 'timetolive', '${L1}']),
    ctl(['lease', 'timetolive', '--keys', '${L1}']),
    ctl(['lease', 'timetolive', '${L1}', '-w', 'json']),
    ctl(['lease', 'timetolive', '--keys', '${L1}', '-w', 'json']),
    ctl(['lease', 'timetolive', '--keys', '${L1}', '-w', 'fields']),
    ctl(['lease', 'keep-alive', '--once', '${L1}']),
    ctl(['lease', 'keep-alive', '--once', '${L1}', '-w', 'json']),
    ctl(['lease', 'revoke', '${L1}'], { expect: { exit: 0 } }),
    ctl(['get', '--prefix', 'lk']),
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['lease', 'revoke', '${L1}'], { expect: { exit: FAILED, stderr: 'etcdserver: requested lease not found' } }),
    ctl(['lease', 'timetolive', '${L1}'], { expect: { stdout: 'already expired' } }),
    ctl(['lease', 'timetolive', '${L1}', '-w', 'json']),
    ctl(['lease', 'keep-alive', '--once', '${L1}']),
    ctl(['lease', 'timetolive', '1234abcd']),
    ctl(['lease', 'revoke', '1234abcd']),
    ctl(['put', 'k', 'v', '--lease=1234abcd'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: requested lease not found' } }),
    ctl(['lease', 'grant', '9000000000']),
    ctl(['lease', 'grant', '9000000001'], { expect: { exit: FAILED, stderr: 'etcdserver: too large lease TTL' } }),
    ctl(['lease', 'list']),
    watch(['--rev=1', '--prefix', 'lk'], untilText('DELETE\nlk2\n\n')),
    watch(['--rev=1', '--prefix', 'lk', '-w', 'json'], untilCount('"type":1', 2)),
    // Last, because these leases expire within seconds (etcd's minimum TTL is 2 s): a later
    // `lease list` would depend on timing.
    ctl(['lease', 'grant', '1'], { expect: { stdout: 'TTL(2s)' } }),
    ctl(['lease', 'grant', '0'], { expect: { stdout: 'TTL(2s)' } }),
  ],
};

const leaseExpiry: Case = {
  name: 'lease-expiry',
  shows: 'an expired lease deletes its keys (a DELETE event), and then reads as expired and is gone from the list',
  steps: [
    ctl(['lease', 'grant', '2'], { capture: leaseCapture('L') }),
    ctl(['put', 'ek', 'v', '--lease=${L}']),
    ctl(['put', 'stay', 'v']),
    { kind: 'sleep', ms: 4_500 },
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['lease', 'timetolive', '${L}'], { expect: { stdout: 'already expired' } }),
    ctl(['lease', 'list']),
    watch(['--rev=1', 'ek'], untilText('DELETE\nek\n\n')),
  ],
};

const compactionCase: Case = {
  name: 'compaction',
  shows: 'compaction and reads, watches and hashes around the compacted revision behave and fail as in etcd',
  steps: [
    ...puts([
      ['k', '1'],
      ['k', '2'],
      ['k', '3'],
      ['k', '4'],
      ['k', '5'],
      ['j', '1'],
    ]), // revs 2..7
    ctl(['endpoint', 'hashkv', '-w', 'json']),
    ctl(['compaction', '4'], { expect: { stdout: 'compacted revision 4\n' } }),
    ctl(['get', 'k', '--rev=3'], {
      expect: { exit: FAILED, stderr: 'Error: etcdserver: mvcc: required revision has been compacted' },
    }),
    ctl(['get', 'k', '--rev=4']),
    ctl(['get', 'k', '--rev=4', '-w', 'json']),
    ctl(['get', 'k', '--rev=100'], {
      expect: { exit: FAILED, stderr: 'Error: etcdserver: mvcc: required revision is a future revision' },
    }),
    ctl(['compaction', '4'], { expect: { exit: FAILED } }),
    ctl(['compaction', '3'], { expect: { exit: FAILED } }),
    ctl(['compaction', '100'], { expect: { exit: FAILED, stderr: 'required revision is a future revision' } }),
    ctl(['compaction', '--physical', '5']),
    ctl(['get', 'k', '--rev=4']),
    ctl(['endpoint', 'hashkv', '-w', 'json']),
    ctl(['endpoint', 'hashkv', '--rev=6']),
    ctl(['endpoint', 'hashkv', '--rev=3']),
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['txn'], { stdin: txnScript([], ['get k --rev=2'], []) }),
    ctl(['compaction', '7']),
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['get', '--prefix', '', '--rev=7', '-w', 'json']),
  ],
};

const defragCase: Case = {
  name: 'defrag',
  shows: 'defrag succeeds with etcd output and changes no data, revision or hash',
  steps: [
    // One txn of ten 20 kB values (one revision), then their deletion: free pages to reclaim.
    ctl(['txn'], { stdin: txnScript([], Array.from({ length: 10 }, (_, i) => `put big${i} ${'x'.repeat(20_000)}`), []) }),
    ctl(['del', '--prefix', 'big']),
    ctl(['put', 'kept', 'v']),
    ctl(['endpoint', 'hashkv']),
    ctl(['defrag'], { expect: { exit: 0, stdout: /^Finished defragmenting etcd member\[127\.0\.0\.1:<client-port#1>\]\n$/ } }),
    ctl(['defrag', '-w', 'json']),
    ctl(['endpoint', 'hashkv']),
    ctl(['endpoint', 'status', '-w', 'json']),
    ctl(['get', '--prefix', '', '-w', 'json']),
    ctl(['put', 'after', 'v', '-w', 'json']),
  ],
};

const snapshotCase: Case = {
  name: 'snapshot',
  shows: 'snapshot save and status work against the server, and a restored data dir starts with every key, revision, lease and the compaction',
  steps: [
    ctl(['put', 's/a', '1']), // rev 2
    ctl(['put', 's/b', '2']), // rev 3
    ctl(['put', 's/a', '3']), // rev 4
    ctl(['del', 's/b']), // rev 5
    ctl(['lease', 'grant', '1000'], { capture: leaseCapture('L') }),
    ctl(['put', 's/l', 'leased', '--lease=${L}']), // rev 6
    ctl(['compaction', '3']),
    ctl(['snapshot', 'save', '${DIR}/snap.db'], { expect: { exit: 0, stdout: 'Snapshot saved at <dir>/snap.db' } }),
    ctl(['snapshot', 'status', '${DIR}/snap.db']),
    ctl(['snapshot', 'status', '${DIR}/snap.db', '-w', 'json'], { expect: { stdout: '"revision":6' } }),
    ctl(['snapshot', 'status', '${DIR}/snap.db', '-w', 'table']),
    ctl(['snapshot', 'status', '${DIR}/snap.db', '-w', 'fields']),
    ctl(['put', 's/after-snapshot', 'x']), // rev 7, on the old server only
    { kind: 'restore-and-start', snapshot: '${DIR}/snap.db', name: 'restored', expect: { exit: 0 } },
    ctl(['get', '--prefix', 's/', '-w', 'json'], { expect: { stdout: '"revision":6' } }),
    ctl(['get', 's/a', '--rev=2'], { expect: { exit: FAILED, stderr: 'required revision has been compacted' } }),
    ctl(['get', 's/a', '--rev=3']),
    ctl(['lease', 'list']),
    ctl(['lease', 'timetolive', '--keys', '${L}']),
    ctl(['member', 'list']),
    ctl(['member', 'list', '-w', 'json']),
    ctl(['endpoint', 'status', '-w', 'json']),
    ctl(['put', 's/c', '4', '-w', 'json']),
    watch(['--rev=4', '--prefix', 's/'], untilText('s/c\n4\n')),
    ctl(['lease', 'revoke', '${L}']),
    ctl(['get', '--prefix', 's/', '-w', 'json']),
  ],
};

const endpointMember: Case = {
  name: 'endpoint-member-alarm',
  shows: 'endpoint status/health/hashkv, member list and alarm list print as etcd in every format',
  steps: [
    ctl(['put', 'a', '1']),
    ctl(['put', 'b', '2']),
    ctl(['endpoint', 'status']),
    ctl(['endpoint', 'status', '-w', 'json']),
    ctl(['endpoint', 'status', '-w', 'fields']),
    ctl(['endpoint', 'status', '-w', 'table']),
    ctl(['put', 'c', '3']),
    ctl(['endpoint', 'status', '-w', 'json']),
    ctl(['endpoint', 'health'], { expect: { exit: 0, stderr: 'is healthy: successfully committed proposal: took = <took>' } }),
    ctl(['endpoint', 'health', '-w', 'json']),
    ctl(['endpoint', 'health', '-w', 'fields']),
    ctl(['endpoint', 'health', '-w', 'table']),
    ctl(['endpoint', 'hashkv']),
    ctl(['endpoint', 'hashkv', '-w', 'json']),
    ctl(['endpoint', 'hashkv', '-w', 'fields']),
    ctl(['endpoint', 'hashkv', '-w', 'table']),
    ctl(['endpoint', 'hashkv', '--rev=2']),
    ctl(['endpoint', 'hashkv', '--rev=1', '-w', 'json']),
    ctl(['endpoint', 'hashkv', '--rev=100']),
    ctl(['member', 'list']),
    ctl(['member', 'list', '-w', 'json']),
    ctl(['member', 'list', '-w', 'fields']),
    ctl(['member', 'list', '-w', 'table']),
    ctl(['alarm', 'list'], { expect: { exit: 0, stdout: /^$/ } }),
    ctl(['alarm', 'list', '-w', 'json'], { expect: { stdout: '{}\n' } }),
    ctl(['alarm', 'list', '-w', 'fields']),
    ctl(['alarm', 'disarm']),
    ctl(['endpoint', 'status', '-w', 'json']),
  ],
};

/** Quota small enough for one 300 kB put to exceed it on a fresh member. */
const QUOTA_BYTES = 200_000;

const alarmCase: Case = {
  name: 'alarm-nospace',
  shows: 'exceeding --quota-backend-bytes raises NOSPACE: writes fail, reads and deletes work, disarm restores writes',
  serverFlags: [`--quota-backend-bytes=${QUOTA_BYTES}`],
  steps: [
    ctl(['put', 'a', '1']),
    ctl(['put', 'big'], {
      stdin: 'y'.repeat(300_000),
      expect: { exit: FAILED, stderr: 'Error: etcdserver: mvcc: database space exceeded' },
    }),
    ctl(['alarm', 'list'], { expect: { stdout: 'alarm:NOSPACE' } }),
    ctl(['alarm', 'list', '-w', 'json']),
    ctl(['put', 'b', '1'], { expect: { exit: FAILED } }),
    ctl(['txn'], { stdin: txnScript([], ['put b 1'], []) }),
    ctl(['lease', 'grant', '100']),
    ctl(['get', 'a', '-w', 'json']),
    ctl(['del', 'a']),
    ctl(['endpoint', 'status', '-w', 'json']),
    ctl(['endpoint', 'status']),
    ctl(['alarm', 'disarm']),
    ctl(['alarm', 'disarm', '-w', 'json']),
    ctl(['alarm', 'list']),
    ctl(['put', 'b', '1'], { expect: { exit: 0 } }),
    ctl(['get', '--prefix', '', '-w', 'json']),
  ],
};

const errorsCase: Case = {
  name: 'request-errors',
  shows: 'empty key, future revision, request too large (at the 1.5 MiB edge) and unknown lease fail with etcd messages, gRPC codes and exit codes',
  steps: [
    ctl(['put', 'a', '1']),
    ctl(['put', '', 'v'], { expect: { exit: FAILED, stderr: 'Error: etcdserver: key is not provided' } }),
    ctl(['get', ''], { expect: { exit: FAILED, stderr: 'code = InvalidArgument desc = etcdserver: key is not provided' } }),
    ctl(['del', ''], { expect: { exit: FAILED } }),
    ctl(['get', 'a', '--rev=3'], { expect: { exit: FAILED, stderr: 'code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision' } }),
    ctl(['get', 'a', '--rev=2']),
    ctl(['put', 'big'], {
      stdin: Buffer.alloc(MAX_REQUEST_BYTES, 'x'),
      expect: { exit: FAILED, stderr: 'code = InvalidArgument desc = etcdserver: request is too large' },
    }),
    // 64 bytes under the limit leaves room for the key and the request's framing.
    ctl(['put', 'big'], { stdin: Buffer.alloc(MAX_REQUEST_BYTES - 64, 'x'), expect: { exit: 0 } }),
    ctl(['get', 'big', '--keys-only', '-w', 'json']),
    ctl(['txn'], { stdin: txnScript([], [`put t ${'z'.repeat(100_000)}`], []) }),
    ctl(['lease', 'revoke', '1234abcd'], { expect: { exit: FAILED } }),
    ctl(['lease', 'keep-alive', '--once', '1234abcd']),
    ctl(['put', 'k', 'v', '--lease=1234abcd'], { expect: { exit: FAILED } }),
    ctl(['get', '--prefix', '', '--keys-only']),
  ],
};

/** Every case, in the order the suite runs them. */
export const CASES: readonly Case[] = [
  putGet,
  getRange,
  putFlags,
  deleteCase,
  txnCase,
  txnLimits,
  watchCase,
  watchCompacted,
  leaseCase,
  leaseExpiry,
  compactionCase,
  defragCase,
  snapshotCase,
  endpointMember,
  alarmCase,
  errorsCase,
];
