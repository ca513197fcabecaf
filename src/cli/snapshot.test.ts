/**
 * `floe snapshot` against etcdctl 3.4 and etcd 3.4 on this machine: snapshots cross both ways
 * (etcd → floe restore → Floe serves the same keys, revisions and lease; Floe → etcdctl
 * restore → etcd serves the same keys and revision), status prints what etcdctl prints, bad
 * input fails with etcdctl's messages and exit codes, and a restore writes etcdctl's WAL and
 * .snap bytes.
 */
import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DB } from '../backend';
import { runEtcdctl, type EtcdctlResult } from '../../test/compat/etcdctl';
import { etcdCommand, pickFreePorts, startServer, type RunningServer, type ServerCommand } from '../../test/compat/server';
import { goJsonString } from './snapshot-go';
import { humanizeBytes } from './snapshot-status';

const MAIN_JS = path.join(__dirname, 'main.js');
/** Bound on one `floe snapshot` child. */
const FLOE_TIMEOUT_MS = 30_000;

/** Floe from this build, started the way bin/floe starts it. */
function floeCommand(): ServerCommand {
  const args = ['-e', `require(${JSON.stringify(MAIN_JS)}).main(process.argv.slice(1))`, '--'];
  return { label: 'floe', command: process.execPath, args, restore: { command: process.execPath, args: [...args, 'snapshot', 'restore'] } };
}

interface Ran {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `floe <args>` in a child process (exit codes and output as a user sees them). */
function floe(args: readonly string[]): Promise<Ran> {
  const c = floeCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(c.command, [...c.args, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), FLOE_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

async function etcdctl(args: readonly string[], endpoint?: string): Promise<EtcdctlResult> {
  return runEtcdctl(args, endpoint === undefined ? {} : { endpoint });
}

async function ok(args: readonly string[], endpoint?: string): Promise<string> {
  const r = await etcdctl(args, endpoint);
  assert.equal(r.exitCode, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString('utf8');
}

/** stderr without the JSON progress lines both tools log (their timestamps differ). */
function errorLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('{"level":'))
    .join('\n');
}

interface KvJson {
  key: string;
  value?: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number;
}

/** Every key as `get -w json` reports it, and the store revision. */
async function dump(endpoint: string): Promise<{ kvs: KvJson[]; revision: number }> {
  const j = JSON.parse(await ok(['get', '', '--prefix', '-w', 'json'], endpoint)) as { kvs?: KvJson[]; header: { revision: number } };
  return { kvs: j.kvs ?? [], revision: j.header.revision };
}

function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'floe-snapshot-test-'));
}

/** Starts a server, restored or fresh, under `root`. */
function start(command: ServerCommand, root: string, name: string, dataDir: string, ports?: { client: number; peer: number }): Promise<RunningServer> {
  return startServer(command, { name, dataDir, logFile: path.join(root, `${name}.log`), ...(ports === undefined ? {} : { ports }) });
}

/** Restore flags for a one-member cluster whose peer URL uses `peer`. */
function restoreFlags(name: string, dataDir: string, peer: number): string[] {
  const url = `http://127.0.0.1:${peer}`;
  return [`--data-dir=${dataDir}`, `--name=${name}`, `--initial-cluster=${name}=${url}`, `--initial-advertise-peer-urls=${url}`];
}

function installed(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

describe('floe snapshot, against etcd 3.4 and etcdctl 3.4', { skip: !(installed(process.env.ETCD_BIN ?? 'etcd', ['--version']) && installed(process.env.ETCDCTL_BIN ?? 'etcdctl', ['version'])) && 'etcd or etcdctl not installed' }, () => {
  let root: string;
  let etcdSnap: string;
  let floeSnap: string;
  let floeSnapByFloe: string;
  const servers: RunningServer[] = [];
  let etcdState: { kvs: KvJson[]; revision: number };
  let leaseHex: string;

  before(async () => {
    root = tempRoot();
    // A real etcd with overwritten, deleted and leased keys and a compaction, saved.
    const etcd = await start(etcdCommand(), root, 'src-etcd', path.join(root, 'src-etcd'));
    servers.push(etcd);
    for (let i = 0; i < 20; i++) await ok(['put', `k/${String(i).padStart(2, '0')}`, `v${i}`], etcd.endpoint);
    await ok(['put', 'k/03', 'again'], etcd.endpoint);
    await ok(['del', 'k/04'], etcd.endpoint);
    leaseHex = /lease ([0-9a-f]+) granted/.exec(await ok(['lease', 'grant', '3000'], etcd.endpoint))![1]!;
    await ok(['put', 'k/leased', 'l', `--lease=${leaseHex}`], etcd.endpoint);
    await ok(['compaction', '5'], etcd.endpoint);
    etcdState = await dump(etcd.endpoint);
    etcdSnap = path.join(root, 'etcd.db');
    await ok(['snapshot', 'save', etcdSnap], etcd.endpoint);
    await etcd.stop();

    // A fresh Floe with some keys, saved by etcdctl and by floe.
    const f = await start(floeCommand(), root, 'src-floe', path.join(root, 'src-floe'));
    servers.push(f);
    for (let i = 0; i < 15; i++) await ok(['put', `f/${i}`, `x${i}`], f.endpoint);
    await ok(['del', 'f/7'], f.endpoint);
    floeSnap = path.join(root, 'floe.db');
    await ok(['snapshot', 'save', floeSnap], f.endpoint);
    floeSnapByFloe = path.join(root, 'floe-by-floe.db');
    const saved = await floe(['snapshot', 'save', floeSnapByFloe, `--endpoints=${f.endpoint}`]);
    assert.equal(saved.exitCode, 0, saved.stderr);
    assert.equal(saved.stdout, `Snapshot saved at ${floeSnapByFloe}\n`);
    assert.ok(!fs.existsSync(`${floeSnapByFloe}.part`), 'no part file left');
    await f.stop();
  });

  after(async () => {
    for (const s of servers) await s.stop();
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  it('restores an etcd snapshot that Floe then serves with every key, revision, the compaction and the lease', async () => {
    const [client, peer] = await pickFreePorts(2);
    const dataDir = path.join(root, 'etcd-to-floe');
    const r = await floe(['snapshot', 'restore', etcdSnap, ...restoreFlags('r1', dataDir, peer!)]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, '');
    const s = await start(floeCommand(), root, 'r1', dataDir, { client: client!, peer: peer! });
    servers.push(s);
    assert.deepEqual(await dump(s.endpoint), etcdState, 'same keys, values, revisions, versions and leases');
    const compacted = await etcdctl(['get', 'k/01', '--rev=4'], s.endpoint);
    assert.equal(compacted.exitCode, 1);
    assert.match(compacted.stderr, /required revision has been compacted/);
    assert.equal(await ok(['get', 'k/03', '--rev=5', '--print-value-only'], s.endpoint), 'v3\n');
    assert.match(await ok(['lease', 'list'], s.endpoint), new RegExp(`\\b${leaseHex}\\b`));
    assert.match(await ok(['lease', 'timetolive', leaseHex, '--keys'], s.endpoint), /attached keys\(\[k\/leased\]\)/);
    const members = JSON.parse(await ok(['member', 'list', '-w', 'json'], s.endpoint)) as { members: Array<{ name: string; peerURLs: string[] }> };
    assert.deepEqual(members.members.map((m) => [m.name, m.peerURLs]), [['r1', [`http://127.0.0.1:${peer}`]]], 'only the new member');
    const put = JSON.parse(await ok(['put', 'k/new', 'n', '-w', 'json'], s.endpoint)) as { header: { revision: number } };
    assert.equal(put.header.revision, etcdState.revision + 1);
    await s.stop();
  });

  it('real etcd starts from a data dir floe restored, with every key, revision and the lease', async () => {
    const [client, peer] = await pickFreePorts(2);
    const dataDir = path.join(root, 'floe-restored-for-etcd');
    const r = await floe(['snapshot', 'restore', etcdSnap, ...restoreFlags('r3', dataDir, peer!)]);
    assert.equal(r.exitCode, 0, r.stderr);
    const s = await start(etcdCommand(), root, 'r3', dataDir, { client: client!, peer: peer! });
    servers.push(s);
    assert.deepEqual(await dump(s.endpoint), etcdState);
    assert.match(await ok(['lease', 'timetolive', leaseHex, '--keys'], s.endpoint), /attached keys\(\[k\/leased\]\)/);
    const members = JSON.parse(await ok(['member', 'list', '-w', 'json'], s.endpoint)) as { members: Array<{ name: string }> };
    assert.deepEqual(members.members.map((m) => m.name), ['r3']);
    await s.stop();
  });

  it('a Floe snapshot (saved by etcdctl and by floe) restores with real etcdctl and etcd serves the same keys and revision', async () => {
    // The two saves ran one after the other, so the member's file may differ in its meta pages,
    // but the content (etcd's status hash covers every bucket, key and value) is the same.
    const statusOf = async (file: string) => (await ok(['snapshot', 'status', file, '-w', 'json'])).replace(/"totalSize":\d+/, '');
    assert.equal(await statusOf(floeSnapByFloe), await statusOf(floeSnap), 'floe snapshot save got the content etcdctl got');
    const [client, peer] = await pickFreePorts(2);
    const dataDir = path.join(root, 'floe-to-etcd');
    const r = await etcdctl(['snapshot', 'restore', floeSnapByFloe, ...restoreFlags('r2', dataDir, peer!)]);
    assert.equal(r.exitCode, 0, r.stderr);
    const s = await start(etcdCommand(), root, 'r2', dataDir, { client: client!, peer: peer! });
    servers.push(s);
    const got = await dump(s.endpoint);
    assert.equal(got.revision, 17);
    assert.deepEqual(
      got.kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value ?? '', 'base64').toString(), kv.mod_revision]),
      Array.from({ length: 15 }, (_, i) => i)
        .filter((i) => i !== 7)
        .map((i) => [`f/${i}`, `x${i}`, i + 2])
        .sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    await s.stop();
  });

  it('status prints exactly what etcdctl prints, in every format, for etcd, Floe and hash-less files', async () => {
    const noHash = path.join(root, 'nohash.db');
    const bytes = fs.readFileSync(etcdSnap);
    fs.writeFileSync(noHash, bytes.subarray(0, bytes.length - 32));
    for (const file of [etcdSnap, floeSnap, noHash]) {
      for (const w of ['simple', 'json', 'table', 'fields']) {
        const want = await etcdctl(['snapshot', 'status', file, '-w', w]);
        const got = await floe(['snapshot', 'status', file, '-w', w]);
        assert.equal(want.exitCode, 0);
        assert.deepEqual([got.exitCode, got.stdout, got.stderr], [0, want.stdout.toString('utf8'), ''], `${path.basename(file)} -w ${w}`);
      }
    }
  });

  it('bad input fails with etcdctl messages and exit codes', async () => {
    const dir = path.join(root, 'bad');
    fs.mkdirSync(dir);
    const rand = path.join(dir, 'rand.db');
    fs.writeFileSync(rand, Buffer.alloc(20_512, 7));
    const flipped = path.join(dir, 'flipped.db');
    const b = Buffer.from(fs.readFileSync(etcdSnap));
    b[b.length - 100] ^= 0xff;
    fs.writeFileSync(flipped, b);
    const noHash = path.join(dir, 'nohash2.db');
    fs.writeFileSync(noHash, fs.readFileSync(etcdSnap).subarray(0, b.length - 32));
    const tiny = path.join(dir, 'tiny.db');
    fs.writeFileSync(tiny, 'x');
    const existing = path.join(dir, 'exists');
    fs.mkdirSync(existing);
    const f = (n: string) => path.join(dir, n);
    // `DD:x` is a data dir, made per tool (`etcdctl-x`, `floe-x`) so neither sees the other's.
    const cases: string[][] = [
      ['snapshot', 'status', f('missing.db')],
      ['snapshot', 'status', rand],
      ['snapshot', 'status'],
      ['snapshot', 'status', 'a', 'b'],
      ['snapshot', 'status', etcdSnap, '-w', 'protobuf'],
      ['snapshot', 'status', etcdSnap, '-w', 'yaml'],
      ['snapshot', 'restore'],
      ['snapshot', 'restore', f('missing.db'), 'DD:missing'],
      ['snapshot', 'restore', rand, 'DD:rand'],
      ['snapshot', 'restore', flipped, 'DD:flipped'],
      ['snapshot', 'restore', noHash, 'DD:nohash'],
      ['snapshot', 'restore', tiny, 'DD:tiny', '--skip-hash-check'],
      ['snapshot', 'restore', etcdSnap, `--data-dir=${existing}`],
      ['snapshot', 'restore', etcdSnap, 'DD:name', '--name=nobody'],
      ['snapshot', 'restore', etcdSnap, 'DD:url', '--initial-advertise-peer-urls=foo'],
      ['snapshot', 'restore', etcdSnap, 'DD:path', '--initial-cluster=default=http://h:1/p', '--initial-advertise-peer-urls=http://h:1/p'],
      ['snapshot', 'save'],
      ['snapshot', 'save', f('x.db'), '--endpoints=127.0.0.1:1,127.0.0.1:2'],
    ];
    const forTool = (args: string[], tool: string) => args.map((a) => (a.startsWith('DD:') ? `--data-dir=${f(`${tool}-${a.slice(3)}`)}` : a));
    for (const args of cases) {
      const want = await runEtcdctl(forTool(args, 'etcdctl'), { timeoutMs: 15_000 });
      const got = await floe(forTool(args, 'floe'));
      const label = args.join(' ');
      assert.equal(got.exitCode, want.exitCode, `${label}: exit code (floe stderr: ${got.stderr})`);
      assert.equal(got.stdout, want.stdout.toString('utf8'), `${label}: stdout`);
      const wantErr = errorLines(want.stderr).split(f('etcdctl-')).join(f('floe-'));
      assert.equal(errorLines(got.stderr), wantErr, `${label}: error text`);
      assert.notEqual(wantErr, '', `${label}: etcdctl failed with a message`);
    }
  });

  it('save gives up after --dial-timeout on an endpoint nobody serves (etcdctl would wait for ever) and leaves no file', async () => {
    const [port] = await pickFreePorts(1);
    const file = path.join(root, 'nobody.db');
    const started = Date.now();
    const r = await floe(['snapshot', 'save', file, `--endpoints=127.0.0.1:${port}`, '--dial-timeout=300ms']);
    assert.deepEqual([r.exitCode, r.stdout, errorLines(r.stderr)], [5, '', 'Error: context deadline exceeded']);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(!fs.existsSync(file) && !fs.existsSync(`${file}.part`));
  });

  it('restore writes the WAL and .snap etcdctl writes, byte for byte, empties the old members and sets the consistent index', async () => {
    const cluster = '--initial-cluster=b=http://127.0.0.1:2,a=http://127.0.0.1:1,c=http://127.0.0.1:3,c=http://127.0.0.1:4';
    const flags = (dir: string) => [`--data-dir=${dir}`, '--name=c', cluster, '--initial-advertise-peer-urls=http://127.0.0.1:4,http://127.0.0.1:3', '--initial-cluster-token=tok'];
    const ours = path.join(root, 'bytes-floe');
    const theirs = path.join(root, 'bytes-etcdctl');
    const r = await floe(['snapshot', 'restore', etcdSnap, ...flags(ours)]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal((await etcdctl(['snapshot', 'restore', etcdSnap, ...flags(theirs)])).exitCode, 0);
    for (const sub of ['member/wal', 'member/snap']) {
      const names = fs.readdirSync(path.join(theirs, sub)).sort();
      assert.deepEqual(fs.readdirSync(path.join(ours, sub)).sort(), names);
      for (const n of names.filter((x) => x !== 'db')) {
        assert.ok(fs.readFileSync(path.join(ours, sub, n)).equals(fs.readFileSync(path.join(theirs, sub, n))), `${sub}/${n} differs`);
      }
    }
    const db = DB.open(path.join(ours, 'member/snap/db'), { readOnly: true });
    try {
      db.view((tx) => {
        const members: Buffer[] = [];
        tx.bucket(Buffer.from('members'))?.forEach((k) => members.push(k));
        assert.deepEqual(members, [], 'the old cluster is gone');
        assert.equal(tx.bucket(Buffer.from('meta'))!.get(Buffer.from('consistent_index'))!.readBigUInt64BE(0), 3n, 'consistent index = members');
      });
    } finally {
      db.close();
    }
  });
});

describe('Go renderings', () => {
  it('humanizeBytes rounds as go-humanize and Go print (ties to even)', () => {
    assert.deepEqual(
      [0, 9, 10, 999, 1000, 1049, 1050, 20480, 20512, 21500, 999_000, 999_500, 4_096_000].map(humanizeBytes),
      ['0 B', '9 B', '10 B', '999 B', '1.0 kB', '1.0 kB', '1.1 kB', '20 kB', '20 kB', '22 kB', '999 kB', '1000 kB', '4.1 MB'],
    );
  });

  it('goJsonString escapes as encoding/json', () => {
    assert.equal(goJsonString('a<b>&"\\b\u0008\f\n\u2028'), '"a\\u003cb\\u003e\\u0026\\"\\\\b\\u0008\\u000c\\n\\u2028"');
  });
});
