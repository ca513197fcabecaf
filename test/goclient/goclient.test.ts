/**
 * etcd's own Go client (clientv3 3.4) runs the same script against a fresh real etcd and a
 * fresh target server (Floe; FLOE_COMPAT_TARGET overrides, see test/compat/server.ts) and
 * must print the same transcript: revisions, values, versions, counts, watch
 * events, lease behaviour and the exact error strings clients match on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratchDir } from '../../src/pkg';
import { etcdCommand, startServer, targetFromEnv, type ServerCommand } from '../compat/server';

const source = path.resolve(__dirname, '..', '..', '..', 'test', 'goclient', 'goclient.go');

/** Builds the client from Debian's clientv3 sources (GOPATH mode, no network). */
function build(): string {
  const out = scratchDir('floe-goclient-');
  const bin = path.join(out, 'goclient');
  execFileSync('go', ['build', '-o', bin, source], {
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOPROXY: 'off', GOFLAGS: '', GOCACHE: path.join('/tmp', 'floe-goclient-cache') },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return bin;
}

async function transcript(bin: string, command: ServerCommand): Promise<string> {
  const dir = scratchDir('floe-goclient-run-');
  const server = await startServer(command, { name: 'goclient', dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'log') });
  try {
    // The client logs its retries on stderr; only a failure needs them.
    const r = spawnSync(bin, ['--endpoints', server.endpoint], { encoding: 'utf8', timeout: 90_000 });
    if (r.status !== 0) throw new Error(`goclient against ${command.label} failed (${r.status ?? r.signal}):\n${r.stderr}\n${server.logTail()}`);
    return r.stdout;
  } finally {
    await server.stop();
  }
}

test('Go clientv3 sees the same results from the target as from etcd 3.4', { timeout: 240_000 }, async () => {
  assert.ok(fs.existsSync(source), `missing ${source}`);
  const bin = build();
  const [reference, target] = await Promise.all([transcript(bin, etcdCommand()), transcript(bin, targetFromEnv())]);
  assert.match(reference, /get compacted: etcdserver: mvcc: required revision has been compacted/);
  assert.match(reference, /txn 129 ops: etcdserver: too many operations in txn request/);
  assert.match(reference, /watch: 7 events/);
  assert.match(reference, /put 1600 KiB: etcdserver: request is too large/);
  assert.equal(target, reference);
});
