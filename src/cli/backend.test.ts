/**
 * `floe backend <cmd>` as a user runs it (a real child process): right answers on a good file,
 * and on bad input (a missing file, a file that is not bbolt, a corrupt page, a bad flag) one
 * clear line on stderr, a non-zero exit, no stack trace, and the file unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB } from '../backend';
import { boltCheck } from '../backend/bolt-tool';
import { scratchDir } from '../pkg';



const floe = path.resolve(__dirname, '..', '..', '..', 'bin', 'floe');

function run(...args: string[]) {
  const r = spawnSync(floe, args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmpdir(): string {
  return scratchDir('floe-cli-');
}

function sha(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A one-line error: exit code non-zero, exactly one stderr line starting "floe: ", no stack. */
function assertOneLineError(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${r.err}`);
  assert.match(lines[0]!, /^floe: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

function sampleFile(dir: string): string {
  const file = path.join(dir, 'sample.db');
  const db = DB.open(file);
  db.update((tx) => {
    const b = tx.createBucket(Buffer.from('widgets'));
    for (let i = 0; i < 500; i++) b.put(Buffer.from(`w${String(i).padStart(4, '0')}`), Buffer.from(`value-${i}`));
    b.createBucket(Buffer.from('nested')).put(Buffer.from('inner'), Buffer.from([0, 1, 2, 255]));
    tx.createBucket(Buffer.from('empty'));
  });
  db.close();
  return file;
}

test('inspection commands answer from a good file and leave it unchanged', () => {
  const file = sampleFile(tmpdir());
  const before = sha(file);
  assert.equal(run('backend', 'check', file).out.trim(), 'OK');
  assert.deepEqual(run('backend', 'buckets', file).out.trim().split('\n'), ['empty', 'widgets']);
  const keys = run('backend', 'keys', file, 'widgets').out.trim().split('\n');
  assert.equal(keys.length, 501);
  assert.equal(keys[0], 'nested');
  assert.equal(keys[1], 'w0000');
  assert.equal(run('backend', 'get', file, 'widgets', 'w0042').out.trim(), 'value-42');
  assert.equal(run('backend', 'get', file, 'widgets', 'nested', 'inner').out.trim(), '000102ff', 'binary values print as hex');
  assert.equal(run('backend', 'get', '--format', 'hex', file, 'widgets', 'w0001').out.trim(), Buffer.from('value-1').toString('hex'));
  assert.equal(run('backend', 'get', '--parse-format', 'hex', file, Buffer.from('widgets').toString('hex'), Buffer.from('w0002').toString('hex')).out.trim(), 'value-2');
  const stats = JSON.parse(run('backend', 'stats', file).out) as Record<string, number>;
  assert.equal(stats.pageSize, 4096);
  assert.equal(stats.fileSizeBytes, fs.statSync(file).size);
  assert.ok(stats.leafPages! >= 2 && stats.depth! >= 2, 'stats count pages by kind and depth');
  assertOneLineError(run('backend', 'get', file, 'widgets', 'nope'), /key not found: nope/);
  assertOneLineError(run('backend', 'keys', file, 'missing'), /bucket not found/);
  assert.equal(sha(file), before, 'inspection never changes the file');
});

test('compact writes a valid, smaller copy and refuses to overwrite', () => {
  const dir = tmpdir();
  const file = sampleFile(dir);
  const db = DB.open(file);
  db.update((tx) => {
    const b = tx.bucket(Buffer.from('widgets'))!;
    for (let i = 0; i < 450; i++) b.delete(Buffer.from(`w${String(i).padStart(4, '0')}`));
  });
  db.close();
  const dst = path.join(dir, 'compact.db');
  const r = run('backend', 'compact', file, dst);
  assert.equal(r.code, 0, r.err);
  boltCheck(dst);
  assert.equal(run('backend', 'get', dst, 'widgets', 'w0499').out.trim(), 'value-499');
  assert.ok(fs.statSync(dst).size <= fs.statSync(file).size);
  assertOneLineError(run('backend', 'compact', file, dst), /already exists/);
});

test('bad input gets one clear line, a non-zero exit and no change to the file', () => {
  const dir = tmpdir();
  assertOneLineError(run('backend', 'check', path.join(dir, 'nope.db')), /no such file/);
  assertOneLineError(run('backend', 'check', dir), /not a regular file/);

  const junk = path.join(dir, 'junk.db');
  fs.writeFileSync(junk, Buffer.alloc(16384, 0x5a));
  const junkSum = sha(junk);
  for (const cmd of ['check', 'stats', 'buckets']) assertOneLineError(run('backend', cmd, junk), /cannot open as a bbolt file/);
  assert.equal(sha(junk), junkSum);

  const empty = path.join(dir, 'empty.db');
  fs.writeFileSync(empty, '');
  assertOneLineError(run('backend', 'stats', empty), /cannot open as a bbolt file/);
  assert.equal(fs.statSync(empty).size, 0, 'an empty file is not initialised by an inspection');

  // A corrupt page: scramble the page-type flags of every data page after the metas.
  const file = sampleFile(dir);
  const fd = fs.openSync(file, 'r+');
  const pages = fs.statSync(file).size / 4096;
  for (let id = 2; id < pages; id++) fs.writeSync(fd, Buffer.from([0x77, 0x00]), 0, 2, id * 4096 + 8);
  fs.closeSync(fd);
  const sum = sha(file);
  const check = run('backend', 'check', file);
  assert.notEqual(check.code, 0);
  assert.doesNotMatch(check.err, /\n\s+at /);
  assert.match(check.err.trim().split('\n').pop()!, /^floe: .*(problem|invalid|corrupt)/);
  assertOneLineError(run('backend', 'keys', file, 'widgets'), /.+/);
  assert.equal(sha(file), sum, 'a corrupt file is never changed by the tools');

  assertOneLineError(run('backend', 'frobnicate', file), /unknown backend command: frobnicate/);
  assertOneLineError(run('backend', 'stats', file, '--bogus'), /unknown flag: --bogus/);
  assertOneLineError(run('backend', 'bench', '--path', file), /already exists/);
  assertOneLineError(run('backend', 'bench', '--path', path.join(dir, 'b.db'), '--freelist', 'list'), /must be one of array, hashmap/);
  assertOneLineError(run('backend', 'bench', '--path', path.join(dir, 'b.db'), '--count', '0'), /must be between 1 and/);
});

test('bench writes and reads back on a fresh file, and removes it unless --keep', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'bench.db');
  const r = run('backend', 'bench', '--path', file, '--count', '3000', '--value-size', '100', '--batch', '1000', '--freelist', 'array');
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out.trim().split('\n').pop()!) as { putsPerSec: number; readsPerSec: number; count: number };
  assert.equal(result.count, 3000);
  assert.ok(result.putsPerSec > 0 && result.readsPerSec > 0);
  assert.equal(fs.existsSync(file), false);
  const kept = run('backend', 'bench', '--path', file, '--count', '100', '--keep');
  assert.equal(kept.code, 0, kept.err);
  boltCheck(file);
});
