import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { openMember, tempDir, rangeReq, putReq } from './test-util';

/** Runs the child until it has acknowledged `acks` puts (or `timeoutMs`), then SIGKILLs it. */
function runAndKill(dir: string, acks: number, timeoutMs: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), dir, '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<string, number>();
    let buf = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() as string;
      for (const line of lines) {
        const [kind, key, rev] = line.split(' ');
        if (kind === 'ack') acked.set(key as string, Number(rev));
      }
      if (acked.size >= acks) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      else resolve(acked);
    });
  });
}

test('kill -9 under write load loses no acknowledged write; revisions continue without a gap', async () => {
  const dir = tempDir();
  for (let round = 0; round < 2; round++) {
    const acked = await runAndKill(dir, 300, 15_000);
    assert.ok(acked.size > 0, 'the child acknowledged nothing');
    const m = await openMember(dir);
    try {
      const all = await m.range(rangeReq('crash', 'crasi'));
      const found = new Map((all.kvs ?? []).map((kv) => [Buffer.from(kv.key).toString(), Number(kv.mod_revision)]));
      for (const [key, rev] of acked) {
        assert.equal(found.get(key), rev, `round ${round}: acknowledged ${key}@${rev} is missing after kill -9`);
      }
      const revs = [...found.values()].sort((a, b) => a - b);
      // Every revision from the first put to the current one holds exactly one put: no gap.
      const current = Number(all.header.revision);
      const maxAcked = Math.max(...acked.values());
      assert.ok(current >= maxAcked);
      assert.equal(new Set(revs).size, revs.length);
      const next = await m.put(putReq('after-crash', String(round)));
      assert.equal(Number(next.header.revision), current + 1);
      await m.deleteRange({ key: Buffer.from('after-crash'), range_end: Buffer.alloc(0), prev_kv: false });
    } finally {
      await m.close();
    }
  }
});
