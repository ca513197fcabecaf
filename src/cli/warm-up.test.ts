/**
 * The start-up warm-up on real scratch members: the load it serves, its deadline, abort and
 * failure, and that it always removes its scratch data dir. serve.test.ts covers how `floe`
 * runs it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMember } from '../server';
import { spawnSync } from 'node:child_process';
import { removeStaleScratch, WARM_UP_RANGE_KEYS, WARM_UP_RANGES, warmUp, type WarmUpOptions } from './warm-up';
import { GrpcMessageReader, grpcFrame } from './warm-up-wire';

/** Runs `body` with a temp dir of its own as the warm-up's tmpDir; checks it is left empty. */
async function inTmp(body: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-warm-up-test-'));
  try {
    await body(tmp);
    assert.deepEqual(fs.readdirSync(tmp), [], 'the scratch data dir is removed');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function options(tmpDir: string, extra: Partial<WarmUpOptions> = {}): WarmUpOptions {
  return { startMember, member: {}, server: {}, tmpDir, ...extra };
}

test('the warm-up serves its whole load over a real connection, then removes its scratch member', () =>
  inTmp(async (tmp) => {
    const r = await warmUp(options(tmp));
    assert.equal(r.cutShort, false);
    assert.equal(r.ranges, WARM_UP_RANGES);
    assert.ok(r.calls > WARM_UP_RANGE_KEYS, `${r.calls} calls`);
    assert.ok(r.watchEvents > 0, 'the watch saw the writers');
    assert.ok(r.keepAlives > 0, 'the lease was kept alive');
  }));

test('a deadline of 0 ms stops the load at once: cut short, no big range, still cleaned up', () =>
  inTmp(async (tmp) => {
    const r = await warmUp(options(tmp, { deadlineMs: 0 }));
    assert.equal(r.cutShort, true);
    assert.equal(r.ranges, 0);
  }));

test('aborting mid-load rejects with ERR_WARM_UP_ABORTED and removes the scratch member', () =>
  inTmp(async (tmp) => {
    const ac = new AbortController();
    const run = warmUp(
      options(tmp, {
        signal: ac.signal,
        // Abort once the scratch member is up, while the load runs.
        startMember: async (config) => {
          const m = await startMember(config);
          void m.ready.then(() => setTimeout(() => ac.abort(), 50));
          return m;
        },
      }),
    );
    await assert.rejects(run, (e: Error & { code?: string }) => e.code === 'ERR_WARM_UP_ABORTED');
  }));

test('a scratch member that cannot start fails the warm-up with its error; nothing is left behind', () =>
  inTmp(async (tmp) => {
    const run = warmUp(options(tmp, { startMember: async () => Promise.reject(new Error('no member today')) }));
    await assert.rejects(run, /no member today/);
  }));

test('gRPC messages are split out of chunks cut anywhere, prefixes included', () => {
  const msgs = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('last')];
  const wire = Buffer.concat(msgs.map(grpcFrame));
  for (const cut of [1, 2, 3, 5, 6, 4096, wire.length]) {
    const reader = new GrpcMessageReader();
    const got: Buffer[] = [];
    for (let i = 0; i < wire.length; i += cut) got.push(...reader.push(wire.subarray(i, i + cut)));
    assert.deepEqual(got, msgs, `cut every ${cut} bytes`);
    assert.equal(reader.partialBytes, 0);
  }
  const partial = new GrpcMessageReader();
  assert.deepEqual(partial.push(grpcFrame(Buffer.from('abc')).subarray(0, 6)), []);
  assert.equal(partial.partialBytes, 6);
  const compressed = Buffer.from([1, 0, 0, 0, 1, 9]);
  assert.throws(() => new GrpcMessageReader().push(compressed), /compressed gRPC message \(flag 1\)/);
});

test('scratch dirs left by killed processes are removed; those of running processes are kept', () =>
  inTmp(async (tmp) => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const dirs = [`floe-warm-up-${gone}-abc`, `floe-warm-up-${process.pid}-def`, 'floe-warm-up-other', 'unrelated'];
    for (const d of dirs) fs.mkdirSync(path.join(tmp, d, 'member'), { recursive: true });
    removeStaleScratch(tmp);
    assert.deepEqual(fs.readdirSync(tmp).sort(), dirs.slice(1).sort());
    // A warm-up sweeps the same way before it starts.
    fs.mkdirSync(path.join(tmp, `floe-warm-up-${gone}-ghi`));
    const r = await warmUp(options(tmp, { deadlineMs: 0 }));
    assert.equal(r.cutShort, true);
    assert.deepEqual(fs.readdirSync(tmp).sort(), dirs.slice(1).sort());
    for (const d of dirs.slice(1)) fs.rmSync(path.join(tmp, d), { recursive: true });
  }));
