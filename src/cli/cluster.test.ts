import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { scratchDir } from '../pkg';
import { MAX_CLUSTER_SIZE, parseClusterArgs, runCluster, type ClusterIo } from './cluster';

function captureIo(memberCommand?: readonly string[]) {
  let out = '';
  let err = '';
  let handler: ((s: NodeJS.Signals) => void) | undefined;
  let onReady: (endpoints: readonly string[]) => void = () => undefined;
  const ready = new Promise<readonly string[]>((resolve) => (onReady = resolve));
  const io: ClusterIo = {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    onSignal: (h) => {
      handler = h;
      return () => (handler = undefined);
    },
    ...(memberCommand === undefined ? {} : { memberCommand }),
    onReady: (e) => onReady(e),
  };
  return { io, ready, out: () => out, err: () => err, signal: (s: NodeJS.Signals) => handler?.(s), listening: () => handler !== undefined };
}

test('floe cluster refuses bad flags with exit 2 and a usage, at the edges of every limit', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--size', '0'], /--size: must be between 1 and 7/],
    [['--size', String(MAX_CLUSTER_SIZE + 1)], /--size: must be between 1 and 7/],
    [['--size', 'three'], /not a non-negative integer/],
    [['--base-port', '1023'], /--base-port: must be between 1024 and 65530/],
    [['--base-port', '65531'], /--base-port: must be between 1024 and 65530/],
    [['--size', '7', '--base-port', '65523'], /--base-port: must be between 1024 and 65522/],
    [['--data-dir='], /invalid value "" for --data-dir/],
    [['--bogus'], /unknown flag: --bogus/],
    [['extra'], /unexpected argument "extra"/],
  ];
  for (const [argv, want] of cases) {
    const c = captureIo(['/nonexistent/never-started']);
    assert.equal(await runCluster(argv, c.io), 2, argv.join(' '));
    assert.match(c.err(), want, argv.join(' '));
    assert.match(c.err(), /usage: floe cluster/);
    assert.equal(c.listening(), false, 'a bad flag must not leave a signal handler behind');
  }
  // The accepted edges.
  assert.equal(parseClusterArgs(['--size', '1']).size, 1);
  assert.equal(parseClusterArgs(['--size', '7', '--base-port', '65522']).basePort, 65522);
  assert.equal(parseClusterArgs(['--base-port', '1024']).basePort, 1024);
  const d = parseClusterArgs([]);
  assert.deepEqual([d.size, d.basePort, path.basename(d.dataDir)], [3, 23790, 'floe-cluster.data']);
});

test('floe cluster reports a member that cannot start and exits 1', async () => {
  const dir = scratchDir('floe-cli-cluster-bad-');
  const c = captureIo(['/nonexistent/never-started']);
  const code = await runCluster(['--size', '2', '--base-port', '20000', '--data-dir', dir], c.io);
  assert.equal(code, 1);
  assert.match(c.err(), /cannot start m1|m1 exited during start-up/);
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A base port with 2 * size free ports above it (below Linux's ephemeral range). */
async function freeBase(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 5_000);
    const taken = await Promise.all(Array.from({ length: 2 * size }, (_, i) => portOpen(base + i)));
    if (!taken.some((t) => t)) return base;
  }
  throw new Error('no free port range found in 50 attempts');
}

function hasEtcd(): boolean {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts a 3-member cluster, checks it serves as one cluster, stops it by a signal. */
async function roundTrip(memberCommand: readonly string[] | undefined): Promise<void> {
  const dir = scratchDir('floe-cli-cluster-');
  const base = await freeBase(3);
  const c = captureIo(memberCommand);
  const done = runCluster(['--size', '3', '--base-port', String(base), '--data-dir', dir], c.io);
  const endpoints = await Promise.race([c.ready, done.then((code) => assert.fail(`exited ${code} before ready: ${c.err()}`))]);
  assert.deepEqual(endpoints, [0, 2, 4].map((d) => `127.0.0.1:${base + d}`));
  assert.match(c.out(), new RegExp(`etcdctl --endpoints=${endpoints.join(',')} member list`));
  const list = execFileSync('etcdctl', [`--endpoints=${endpoints[0]}`, 'member', 'list'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString();
  assert.deepEqual(list.trim().split('\n').map((l) => l.split(', ')[2]).sort(), ['m1', 'm2', 'm3'], list);
  c.signal('SIGINT');
  assert.equal(await done, 0, c.err());
  assert.match(c.out(), /SIGINT: stopping 3 member\(s\)\nfloe cluster: stopped\n$/);
  for (const e of endpoints) assert.equal(await portOpen(Number(e.split(':')[1])), false, `${e} still open after the stop`);
  for (const m of ['m1', 'm2', 'm3']) assert.ok(fs.existsSync(path.join(dir, `${m}.log`)));
}

test('floe cluster round trip with etcd as the member command (the same flags): 3 members form one cluster, SIGINT stops them all', { skip: hasEtcd() ? false : 'etcd is not installed', timeout: 90_000 }, async () => {
  await roundTrip(['etcd']);
});

test('floe cluster round trip with bin/floe members', { timeout: 90_000 }, async () => {
  await roundTrip(undefined);
});
