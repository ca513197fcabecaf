/**
 * Crash safety (issue 2, point 2): a real child process is killed with SIGKILL at each step of
 * a commit (before/after the data sync, before/after the meta sync) and during a defragment.
 * The file left behind must open, pass Floe's check and real bbolt's check, and hold exactly
 * the last committed transaction: the one before the crash if the meta page was not yet
 * written, the crashing one if it was. A torn meta page falls back to the other meta.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DB, type FreelistKind } from './index';
import { crashWorkload, pipelinedWorkload } from './crash-child';
import { boltCheck } from './bolt-tool';
import { ModelBucket, dbDump, modelDump } from './test-model';
import { scratchDir } from '../pkg';

const child = path.join(__dirname, 'crash-child.js');
const seed = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);

function freshFile(): string {
  const file = path.join(scratchDir('floe-crash-'), 'db');
  DB.open(file).close(); // create it outside the child, so failpoint hits count commits only
  return file;
}

/** The dump of what the first `n` transactions of the workload leave. */
function expectedAfter(n: number, kind: FreelistKind): string[] {
  const scratch = freshFile();
  const db = DB.open(scratch, { freelistType: kind, noSync: true });
  const model = new ModelBucket();
  try {
    crashWorkload(db, model, seed, n);
  } finally {
    db.close();
  }
  return modelDump(model);
}

function runChild(args: string[], failpoints: string) {
  return spawnSync(process.execPath, [child, ...args], {
    env: { ...process.env, FLOE_FAILPOINTS: failpoints },
    encoding: 'utf8',
  });
}

function assertIntact(file: string, kind: FreelistKind, expected: string[], what: string): void {
  const db = DB.open(file, { freelistType: kind });
  try {
    assert.deepEqual(db.check(), [], `${what}: Floe's check`);
    assert.deepEqual(dbDump(db), expected, `${what}: content is exactly the last committed transaction`);
  } finally {
    db.close();
  }
  boltCheck(file);
}

const steps: Array<{ point: string; metaWritten: boolean }> = [
  { point: 'backend.commit.beforeDataSync', metaWritten: false },
  { point: 'backend.commit.afterDataSync', metaWritten: false },
  { point: 'backend.commit.beforeMetaSync', metaWritten: true },
  { point: 'backend.commit.afterMetaSync', metaWritten: true },
];

for (const kind of ['hashmap', 'array'] as const) {
  for (const { point, metaWritten } of steps) {
    test(`SIGKILL at ${point} leaves exactly the last committed transaction (freelist ${kind}, seed ${seed})`, () => {
      for (const k of [1, 6]) {
        const file = freshFile();
        const r = runChild(['commits', file, String(seed), '10', kind], `${point}=${k}*panic`);
        assert.equal(r.signal, 'SIGKILL', `child must die at the failpoint (stderr: ${r.stderr})`);
        const committed = metaWritten ? k : k - 1;
        assertIntact(file, kind, expectedAfter(committed, kind), `killed in commit ${k} at ${point}`);
      }
    });
  }

  test(`pipelined commits: SIGKILL at any step of the queued syncs leaves exactly the last durable transaction, though later commits already wrote pages (freelist ${kind}, seed ${seed})`, () => {
    for (const { point, metaWritten } of steps) {
      for (const k of [1, 5, 9]) {
        const file = freshFile();
        const r = runChild(['pipelined', file, String(seed), '12', kind], `${point}=${k}*panic`);
        assert.equal(r.signal, 'SIGKILL', `child must die at the failpoint (stderr: ${r.stderr})`);
        const durable = metaWritten ? k : k - 1;
        assertIntact(file, kind, expectedAfter(durable, kind), `pipelined, killed in the sync of commit ${k} at ${point}`);
      }
    }
    // Without a crash: every commit durable, the same content as synchronous commits.
    const file = freshFile();
    const ok = runChild(['pipelined', file, String(seed), '12', kind], '');
    assert.equal(ok.status, 0, ok.stderr);
    assertIntact(file, kind, expectedAfter(12, kind), 'pipelined, no crash');
  });

  test(`SIGKILL during defragment leaves the old or the new file, never a mix (freelist ${kind})`, () => {
    for (const point of ['backend.defrag.beforeRename', 'backend.defrag.afterRename']) {
      const file = freshFile();
      const ok = runChild(['commits', file, String(seed), '12', kind], '');
      assert.equal(ok.status, 0, ok.stderr);
      const expected = expectedAfter(12, kind);
      const r = runChild(['defrag', file, kind], `${point}=panic`);
      assert.equal(r.signal, 'SIGKILL', `child must die at ${point} (stderr: ${r.stderr})`);
      assertIntact(file, kind, expected, `killed at ${point}`);
      // The survivor can be written and defragmented again.
      const db = DB.open(file, { freelistType: kind });
      db.update((tx) => void tx.createBucketIfNotExists(Buffer.from('after')));
      db.defragment();
      db.close();
      boltCheck(file);
    }
  });
}

test('pipelined commits read and end like synchronous ones; flush() waits for every sync', async () => {
  for (const kind of ['hashmap', 'array'] as const) {
    const file = freshFile();
    const db = DB.open(file, { freelistType: kind });
    const model = new ModelBucket();
    const done = pipelinedWorkload(db, model, seed, 30);
    assert.ok(db.pendingDurable > 0, 'syncs are queued behind the commits');
    await done;
    assert.equal(db.pendingDurable, 0);
    assert.deepEqual(dbDump(db), modelDump(model), 'reads see every pipelined commit');
    assert.deepEqual(db.check(), []);
    db.close();
    assertIntact(file, kind, expectedAfter(30, kind), `reopened after pipelined commits (${kind})`);
  }
});

test('a torn meta page falls back to the other meta (the previous transaction)', () => {
  const file = freshFile();
  const ok = runChild(['commits', file, String(seed), '7', 'hashmap'], '');
  assert.equal(ok.status, 0, ok.stderr);
  const db = DB.open(file);
  const txid = db.stats().txid;
  db.close();
  // Tear the newest meta: keep its first bytes, scramble the rest of its page as a torn write would.
  const pageSize = 4096;
  const fd = fs.openSync(file, 'r+');
  const junk = Buffer.alloc(pageSize - 40, 0xab);
  fs.writeSync(fd, junk, 0, junk.length, (txid % 2) * pageSize + 40);
  fs.closeSync(fd);
  assertIntact(file, 'hashmap', expectedAfter(6, 'hashmap'), 'newest meta torn');
});

test('a pipelined meta written but not yet synced keeps its pages: later commits never overwrite them, so a crash there opens intact', async () => {
  for (const kind of ['hashmap', 'array'] as const) {
    const file = freshFile();
    const db = DB.open(file, { freelistType: kind });
    const name = Buffer.from('b');
    const key = (i: number): Buffer => Buffer.from(`key-${String(i).padStart(4, '0')}`);
    const fill = (tag: string) => (tx: { bucket(n: Uint8Array): { put(k: Uint8Array, v: Uint8Array): void } | null }): void => {
      const b = tx.bucket(name)!;
      for (let i = 0; i < 300; i++) b.put(key(i), Buffer.alloc(100, tag));
    };
    db.update((tx) => void tx.createBucketIfNotExists(name));
    db.update(fill('0'));
    // Each fdatasync of the durability queue waits for a gate the test opens.
    const pf = (db as unknown as { file: { syncAsync(): Promise<void> } }).file;
    const realSync = pf.syncAsync.bind(pf);
    const gates: Array<() => void> = [];
    pf.syncAsync = () => new Promise<void>((resolve) => gates.push(() => void realSync().then(resolve)));
    const commit = (tag: string): void => {
      const tx = db.beginWrite();
      fill(tag)(tx);
      tx.commitPipelined();
    };
    commit('1');
    while (gates.length < 1) await new Promise((r) => setImmediate(r));
    gates[0]!(); // data of commit 1 synced: its meta is written next, then its meta sync waits
    while (gates.length < 2) await new Promise((r) => setImmediate(r));
    // Meta 1 is in the file but not durable. Commit 2 frees commit 1's pages; commit 3 allocates.
    commit('2');
    commit('3');
    // A crash now leaves the file as it is: meta 1 is its newest meta.
    const copy = `${file}.crash`;
    fs.copyFileSync(file, copy);
    pf.syncAsync = realSync;
    for (const g of gates.slice(1)) g();
    await db.flush();
    db.close();
    const survivor = DB.open(copy, { freelistType: kind });
    try {
      assert.deepEqual(survivor.check(), [], `the file a crash leaves opens intact (freelist ${kind})`);
      survivor.view((tx) => {
        for (let i = 0; i < 300; i += 37) assert.equal(tx.bucket(name)!.get(key(i))?.[0], '1'.charCodeAt(0), `key ${i} holds commit 1's value`);
      });
    } finally {
      survivor.close();
    }
  }
});
