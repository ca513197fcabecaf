/**
 * Reads leases that real etcd 3.4 wrote: a fresh etcd grants leases (etcdctl), stops, and the
 * lessor opens a copy of its backend file through Floe's storage engine. Every lease must come
 * back with etcd's id and TTL, and the records must be byte-identical to what our encoder
 * writes for the same values. Skipped when etcd and etcdctl are not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchTx, DB } from '../backend';
import { LEASE_BUCKET, Lessor } from './index';
import { encodeLeaseRecord } from './lease-codec';
import { leaseIdFromKey, leaseIdHex } from './lease-id';
import { KvDeleter, ManualClock } from './test-support';

const ETCD = '/usr/bin/etcd';
const ETCDCTL = '/usr/bin/etcdctl';
const haveEtcd = fs.existsSync(ETCD) && fs.existsSync(ETCDCTL);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(endpoint: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync(ETCDCTL, ['--endpoints', endpoint, '--dial-timeout=1s', 'endpoint', 'health'], { stdio: 'pipe', env: { ...process.env, ETCDCTL_API: '3' } });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('etcd did not become healthy');
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

test('leases granted by real etcd 3.4 load from its backend file with their ids and TTLs', { skip: !haveEtcd && 'etcd not installed' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-lease-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD,
    [
      '--name=lease-compat',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=lease-compat=${peer}`,
    ],
    { stdio: 'ignore' },
  );
  const granted = new Map<bigint, number>();
  try {
    await waitHealthy(endpoint);
    const ctl = (...args: string[]) =>
      execFileSync(ETCDCTL, ['--endpoints', endpoint, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    for (const ttl of [600, 3000, 9_000_000_000]) {
      // "lease 694d7a4c0b2e4f05 granted with TTL(600s)"
      const m = /^lease ([0-9a-f]+) granted with TTL\((\d+)s\)/.exec(ctl('lease', 'grant', String(ttl)));
      assert.ok(m !== null, 'etcdctl printed the granted lease');
      granted.set(BigInt.asIntN(64, BigInt(`0x${m[1]}`)), Number(m[2]));
      ctl('put', `key-${ttl}`, 'v', `--lease=${m[1]}`);
    }
  } finally {
    await stop(child);
  }

  const file = path.join(dir, 'floe.db');
  fs.copyFileSync(path.join(dir, 'etcd', 'member', 'snap', 'db'), file);
  const db = DB.open(file, { noSync: true });
  const batch = new BatchTx(db);
  try {
    // The raw records are exactly what our encoder writes for the same values.
    const raw = db.view((tx) => {
      const out: Array<[Buffer, Buffer]> = [];
      tx.bucket(LEASE_BUCKET)!.forEach((k, v) => out.push([k, v!]));
      return out;
    });
    assert.equal(raw.length, granted.size);
    for (const [k, v] of raw) {
      const id = leaseIdFromKey(k);
      assert.ok(granted.has(id), `etcd stored lease ${leaseIdHex(id)}`);
      assert.equal(v.toString('hex'), encodeLeaseRecord({ id, ttlSec: granted.get(id)!, remainingTtlSec: 0 }).toString('hex'));
    }
    const lessor = Lessor.open({ store: batch, keyDeleter: new KvDeleter(), clock: new ManualClock() });
    assert.deepEqual(lessor.leaseIds(), [...granted.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    for (const [id, ttl] of granted) assert.equal(lessor.lookup(id)!.ttlSec, ttl);
  } finally {
    batch.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
