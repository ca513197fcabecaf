import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { makeMessage, type Message, type Snapshot } from '../raft';
import { liveHandles, TestMember, waitFor } from './test-util';

const CHUNK_BYTES = 64 * 1024;

function snapMsg(from: bigint, to: bigint, index: number): Message {
  const snapshot: Snapshot = {
    data: Buffer.from('v2 store / raft snapshot metadata'),
    metadata: { index, term: 4, confState: { voters: [from, to], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  };
  return makeMessage({ type: 'MsgSnap', from, to, term: 4, snapshot });
}

/** Chunk i: 64 KiB whose bytes depend on i, so reordering or loss changes the hash. */
function chunk(i: number): Buffer {
  const b = Buffer.alloc(CHUNK_BYTES, (i * 7 + 3) & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

async function stopAll(...ms: TestMember[]): Promise<void> {
  for (const m of ms) await m.stop();
  await waitFor(() => liveHandles().length === 0, `no live handles (left: ${liveHandles().join(',')})`, 2000);
}

test('a 32 MiB snapshot streams intact, with bounded lag between producer and consumer', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  const chunks = 512; // 32 MiB
  const sizeBytes = chunks * CHUNK_BYTES;
  const sent = createHash('sha256');
  let producedBytes = 0;
  let consumedBytes = 0;
  let maxLagBytes = 0;
  let producedAtFirstReceive = -1;
  let got: { m: Message; sizeBytes: number; hash: string } | null = null;
  b.handler.onSnapshot = async (m, n, body) => {
    const h = createHash('sha256');
    let k = 0;
    for await (const c of body) {
      if (producedAtFirstReceive < 0) producedAtFirstReceive = producedBytes;
      h.update(c);
      consumedBytes += c.length;
      // A slow disk for the first chunks: a sender without backpressure would race ahead.
      if (k++ < 20) await new Promise((r) => setTimeout(r, 10));
    }
    got = { m, sizeBytes: n, hash: h.digest('hex') };
  };
  const m = snapMsg(1n, 2n, 777);
  a.transport.sendSnapshot(m, {
    sizeBytes,
    async *chunks() {
      for (let i = 0; i < chunks; i++) {
        const c = chunk(i);
        sent.update(c);
        producedBytes += c.length;
        maxLagBytes = Math.max(maxLagBytes, producedBytes - consumedBytes);
        yield c;
      }
    },
  });
  await waitFor(() => a.handler.snapshotReports.length === 1, 'snapshot outcome', 20_000);
  assert.deepEqual(a.handler.snapshotReports, [{ id: 2n, status: 'finish' }]);
  assert.ok(got !== null);
  const g = got as { m: Message; sizeBytes: number; hash: string };
  assert.equal(g.sizeBytes, sizeBytes);
  assert.equal(g.hash, sent.digest('hex'), 'bytes arrive intact and in order');
  assert.deepEqual(g.m, { ...m, snapshot: { ...m.snapshot!, data: new Uint8Array(m.snapshot!.data) } });
  assert.ok(producedAtFirstReceive >= 0 && producedAtFirstReceive < sizeBytes / 2, `first bytes reached the member after ${producedAtFirstReceive} of ${sizeBytes} were produced`);
  // Neither side holds the file: the producer never gets further ahead than socket buffers.
  assert.ok(maxLagBytes < sizeBytes / 2, `producer ran ${maxLagBytes} bytes ahead of the consumer`);
  assert.ok(b.hasLog(/received and saved database snapshot \[index: 777, from: 1\] successfully/));
  assert.ok(a.hasLog(/database snapshot \[index: 777, to: 2\] sent out successfully/));
  await stopAll(a, b);
});

test('a member failing to store the snapshot makes the sender report failure and unreachable', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  b.handler.onSnapshot = async (_m, _n, body) => {
    for await (const _ of body) throw new Error('disk full');
  };
  a.transport.sendSnapshot(snapMsg(1n, 2n, 5), {
    sizeBytes: 4 * CHUNK_BYTES,
    async *chunks() {
      for (let i = 0; i < 4; i++) yield chunk(i);
    },
  });
  await waitFor(() => a.handler.snapshotReports.length === 1, 'snapshot outcome');
  assert.deepEqual(a.handler.snapshotReports, [{ id: 2n, status: 'failure' }]);
  assert.ok(a.handler.unreachable.includes(2n));
  assert.ok(b.hasLog(/failed to save incoming database snapshot \[index: 5, from: 1\]: disk full/));
  await stopAll(a, b);
});

test('a source shorter than its size fails the send; the member never sees success', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  let memberError = '';
  b.handler.onSnapshot = async (_m, _n, body) => {
    try {
      for await (const _ of body);
    } catch (e) {
      memberError = (e as Error).message;
      throw e;
    }
  };
  a.transport.sendSnapshot(snapMsg(1n, 2n, 6), {
    sizeBytes: 4 * CHUNK_BYTES,
    async *chunks() {
      for (let i = 0; i < 3; i++) yield chunk(i);
    },
  });
  await waitFor(() => a.handler.snapshotReports.length === 1, 'snapshot outcome');
  assert.deepEqual(a.handler.snapshotReports, [{ id: 2n, status: 'failure' }]);
  assert.ok(a.hasLog(/yielded 196608 of its 262144 bytes/));
  await waitFor(() => memberError !== '', 'the member saw the upload break');
  assert.ok(!b.hasLog(/successfully/));
  await stopAll(a, b);
});

test('snapshot to an unknown peer, or a second one in flight, fails at once', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  let release = (): void => undefined;
  b.handler.onSnapshot = async (_m, _n, body) => {
    await new Promise<void>((r) => (release = r));
    for await (const _ of body);
  };
  const src = { sizeBytes: CHUNK_BYTES, async *chunks() { yield chunk(0); } };
  a.transport.sendSnapshot(snapMsg(1n, 9n, 1), src);
  assert.deepEqual(a.handler.snapshotReports, [{ id: 9n, status: 'failure' }]);
  a.transport.sendSnapshot(snapMsg(1n, 2n, 1), src);
  a.transport.sendSnapshot(snapMsg(1n, 2n, 2), src);
  assert.deepEqual(a.handler.snapshotReports[1], { id: 2n, status: 'failure' }, 'second upload to the same peer refused');
  await waitFor(() => b.hasLog(/receiving database snapshot \[index: 1, from: 1\]/), 'first upload arrived');
  release();
  await waitFor(() => a.handler.snapshotReports.length === 3, 'first upload finished');
  assert.deepEqual(a.handler.snapshotReports[2], { id: 2n, status: 'finish' });
  await stopAll(a, b);
});

test('a snapshot from a removed member is refused with 410 and the sender hears onRemoved', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  b.handler.removedIds.add(1n);
  a.transport.addPeer(2n, [b.url]);
  a.transport.sendSnapshot(snapMsg(1n, 2n, 3), { sizeBytes: CHUNK_BYTES, async *chunks() { yield chunk(0); } });
  await waitFor(() => a.handler.snapshotReports.length === 1, 'snapshot outcome');
  assert.deepEqual(a.handler.snapshotReports, [{ id: 2n, status: 'failure' }]);
  await waitFor(() => a.handler.removedCalls === 1, 'onRemoved');
  await stopAll(a, b);
});
