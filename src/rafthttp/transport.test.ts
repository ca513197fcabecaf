import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { makeMessage, type Message } from '../raft';
import { encodeFrame } from './message-codec';
import { freePort, liveHandles, TestMember, waitFor } from './test-util';

function app(from: bigint, to: bigint, index: number): Message {
  return makeMessage({
    type: 'MsgApp',
    from,
    to,
    term: 3,
    index,
    commit: index - 1,
    entries: [{ term: 3, index: index + 1, type: 'EntryNormal', data: Buffer.from(`entry-${index}`) }],
  });
}

async function stopAll(...ms: TestMember[]): Promise<void> {
  for (const m of ms) await m.stop();
  // Closed sockets are released on the next turns of the loop.
  await waitFor(() => liveHandles().length === 0, `no live handles (left: ${liveHandles().join(',')})`, 2000);
}

test('two transports exchange messages in order, batches coalesced, contents intact', async () => {
  const a = new TestMember(0xaan);
  const b = new TestMember(0xbbn);
  await a.start();
  await b.start();
  a.transport.addPeer(b.id, [b.url]);
  a.transport.addPeer(b.id, ['http://127.0.0.1:1']); // idempotent: the second add is ignored
  b.transport.addPeer(a.id, [a.url]);
  const sentAB: Message[] = [];
  const sentBA: Message[] = [];
  for (let batch = 0; batch < 20; batch++) {
    const ab = Array.from({ length: 50 }, (_, i) => app(a.id, b.id, batch * 50 + i + 1));
    const ba = Array.from({ length: 25 }, (_, i) => app(b.id, a.id, batch * 25 + i + 1));
    a.transport.send(ab);
    b.transport.send(ba);
    sentAB.push(...ab);
    sentBA.push(...ba);
    if (batch % 5 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => b.handler.received.length === sentAB.length && a.handler.received.length === sentBA.length, 'all messages');
  assert.deepEqual(b.handler.received.map((m) => m.index), sentAB.map((m) => m.index), 'a->b in send order');
  assert.deepEqual(a.handler.received.map((m) => m.index), sentBA.map((m) => m.index), 'b->a in send order');
  assert.deepEqual(b.handler.received[777], { ...sentAB[777]!, entries: sentAB[777]!.entries.map((e) => ({ ...e, data: new Uint8Array(e.data) })) });
  assert.ok(a.transport.activeSince(b.id)! <= Date.now());
  assert.ok(b.transport.activeSince(a.id) !== null);
  assert.ok(a.hasLog(/^peer bb became active$/), 'a logs the peer becoming active');
  assert.deepEqual(a.handler.unreachable, []);
  await stopAll(a, b);
});

test('three transports: every sender order is kept at every receiver', async () => {
  const ms = [new TestMember(1n), new TestMember(2n), new TestMember(3n)];
  for (const m of ms) await m.start();
  for (const m of ms) for (const p of ms) if (p !== m) m.transport.addPeer(p.id, [p.url]);
  const N = 300;
  for (let i = 1; i <= N; i++) {
    for (const m of ms) m.transport.send(ms.filter((p) => p !== m).map((p) => app(m.id, p.id, i)));
  }
  await waitFor(() => ms.every((m) => m.handler.received.length === 2 * N), 'all messages at all members');
  for (const m of ms) {
    for (const p of ms) {
      if (p === m) continue;
      const got = m.handler.received.filter((x) => x.from === p.id).map((x) => x.index);
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => i + 1), `${p.id} -> ${m.id}`);
    }
  }
  await stopAll(...ms);
});

test('peer down then up: bound kept (oldest dropped), unreachable reported, reconnect delivers', async () => {
  const port = await freePort();
  const a = new TestMember(0xaan, { maxQueuedMsgsPerPeer: 10 });
  await a.start();
  a.transport.addPeer(0xbbn, [`http://127.0.0.1:${port}`]);
  a.transport.send(Array.from({ length: 25 }, (_, i) => app(a.id, 0xbbn, i + 1)));
  assert.equal(a.transport.queuedMsgs(0xbbn), 10, 'queue holds exactly the bound');
  await waitFor(() => a.handler.unreachable.includes(0xbbn), 'reportUnreachable for the down peer');
  assert.equal(a.transport.activeSince(0xbbn), null);
  assert.ok(a.hasLog(/^dropped internal raft message to bb since sending buffer is full/));
  await waitFor(() => a.hasLog(/^failed to dial bb on stream/), 'dial failure logged');

  const b = new TestMember(0xbbn);
  await b.start(port);
  b.transport.addPeer(a.id, [a.url]);
  await waitFor(() => b.handler.received.length === 10, 'queued messages after reconnect');
  assert.deepEqual(b.handler.received.map((m) => m.index), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25], 'the newest 10, in order');
  assert.ok(a.transport.activeSince(0xbbn) !== null);
  a.transport.send([app(a.id, b.id, 26)]);
  await waitFor(() => b.handler.received.length === 11, 'a message sent after reconnect');

  // The peer goes away while active: inactive, reported, and back once it returns.
  const reportsBefore = a.handler.unreachable.length;
  await b.stop();
  await waitFor(() => a.transport.activeSince(0xbbn) === null, 'peer inactive after it stopped');
  await waitFor(() => a.handler.unreachable.length > reportsBefore, 'reportUnreachable after the stream broke');
  assert.ok(a.hasLog(/^peer bb became inactive \(message send to peer failed\)/));
  const b2 = new TestMember(0xbbn);
  await b2.start(port);
  await waitFor(() => a.transport.activeSince(0xbbn) !== null, 'reconnected to the restarted peer');
  a.transport.send([app(a.id, b2.id, 27)]);
  await waitFor(() => b2.handler.received.length === 1, 'message to the restarted peer');
  assert.equal(b2.handler.received[0]!.index, 27);
  await stopAll(a, b2);
});

test('queue bounds are exact at the edge: count and bytes', async () => {
  // A peer that accepts TCP and never answers keeps the stream "connecting": no dial reports.
  const sockets: net.Socket[] = [];
  const hold = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => hold.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(hold.address() as net.AddressInfo).port}`;
  const frameBytes = encodeFrame(app(1n, 2n, 1)).length;
  const a = new TestMember(1n, { maxQueuedMsgsPerPeer: 5, maxQueuedBytesPerPeer: 3 * frameBytes, dialTimeoutMs: 60_000 });
  a.transport.addPeer(2n, [url]);
  a.transport.send([app(1n, 2n, 1), app(1n, 2n, 2), app(1n, 2n, 3)]);
  assert.equal(a.transport.queuedMsgs(2n), 3);
  assert.deepEqual(a.handler.unreachable, [], 'exactly at the byte bound: nothing dropped');
  a.transport.send([app(1n, 2n, 4)]);
  assert.equal(a.transport.queuedMsgs(2n), 3);
  assert.deepEqual(a.handler.unreachable, [2n], 'one past the byte bound: dropped and reported');

  const c = new TestMember(3n, { maxQueuedMsgsPerPeer: 5, dialTimeoutMs: 60_000 });
  c.transport.addPeer(2n, [url]);
  c.transport.send(Array.from({ length: 5 }, (_, i) => app(3n, 2n, i + 1)));
  assert.equal(c.transport.queuedMsgs(2n), 5);
  assert.deepEqual(c.handler.unreachable, [], 'exactly at the count bound: nothing dropped');
  c.transport.send([app(3n, 2n, 6)]);
  assert.equal(c.transport.queuedMsgs(2n), 5);
  assert.deepEqual(c.handler.unreachable, [2n], 'one past the count bound: dropped and reported');

  await a.transport.close();
  await c.transport.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => hold.close(() => r()));
  await stopAll();
});

test('a silent peer is declared inactive after streamIdleTimeoutMs; a healthy idle stream stays up', async () => {
  // Answers 200 and then says nothing: no keep-alives, as a stopped process would.
  const silent = http.createServer((req, res) => {
    res.writeHead(200);
    res.flushHeaders();
    req.resume();
  });
  silent.requestTimeout = 0;
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const idleMs = 400;
  const a = new TestMember(1n, { streamIdleTimeoutMs: idleMs });
  const b = new TestMember(2n, { streamIdleTimeoutMs: idleMs });
  try {
    await b.start();
    a.transport.addPeer(2n, [b.url]);
    a.transport.addPeer(9n, [`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`]);
    await waitFor(() => a.transport.activeSince(2n) !== null && a.hasLog(/^peer 9 became active$/), 'both streams up');
    const upSince = a.transport.activeSince(2n);
    await waitFor(() => a.hasLog(/^peer 9 became inactive .*no keep-alive/), 'silent peer declared inactive');
    assert.ok(a.handler.unreachable.includes(9n));
    await new Promise((r) => setTimeout(r, 3 * idleMs));
    assert.equal(a.transport.activeSince(2n), upSince, 'the healthy stream stayed up through 3x the idle timeout');
    assert.ok(!a.handler.unreachable.includes(2n));
  } finally {
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
    await stopAll(a, b);
  }
});

test('cluster ID mismatch is refused (412) and logged on both sides', async () => {
  const a = new TestMember(0xaan, { clusterId: 0x1111n });
  const b = new TestMember(0xbbn, { clusterId: 0x2222n });
  await b.start();
  a.transport.addPeer(b.id, [b.url]);
  a.transport.send([app(a.id, b.id, 1)]);
  await waitFor(() => b.hasLog(/request cluster ID mismatch \(got 1111 want 2222\)/), 'receiver log');
  await waitFor(() => a.hasLog(/request sent was ignored \(cluster ID mismatch: peer\[bb\]=2222, local=1111\)/), 'sender log');
  await waitFor(() => a.handler.unreachable.includes(b.id), 'sender reports the peer unreachable');
  assert.equal(b.handler.received.length, 0);
  assert.equal(a.transport.activeSince(b.id), null);
  const res = await fetch(`${b.url}/raft/stream`, { method: 'POST', headers: { 'X-Etcd-Cluster-ID': '1111', 'X-Server-From': 'aa' } });
  assert.equal(res.status, 412);
  assert.equal((await res.text()).trim(), 'cluster ID mismatch');
  assert.equal(res.headers.get('X-Etcd-Cluster-ID'), '2222');
  await stopAll(a, b);
});

test('a removed sender gets 410 Gone and hears onRemoved exactly once', async () => {
  const a = new TestMember(0xaan);
  const b = new TestMember(0xbbn);
  await b.start();
  b.handler.removedIds.add(a.id);
  a.transport.addPeer(b.id, [b.url]);
  a.transport.send([app(a.id, b.id, 1)]);
  await waitFor(() => a.handler.removedCalls === 1, 'onRemoved');
  // Let it retry a few times: still one call.
  const attempts = (): number => b.logs.filter((l) => /rejected request from removed member aa/.test(l.msg)).length;
  await waitFor(() => attempts() >= 3, 'retries refused');
  assert.equal(a.handler.removedCalls, 1);
  assert.equal(b.handler.received.length, 0);
  await stopAll(a, b);
});

test('a stream to the wrong member is refused (412 to field mismatch); non-POST gets 405', async () => {
  const b = new TestMember(0xbbn);
  await b.start();
  const wrongTo = await fetch(`${b.url}/raft/stream`, {
    method: 'POST',
    headers: { 'X-Etcd-Cluster-ID': 'c1', 'X-Server-From': 'aa', 'X-Raft-To': 'cc' },
  });
  assert.equal(wrongTo.status, 412);
  assert.equal((await wrongTo.text()).trim(), 'to field mismatch');
  const get = await fetch(`${b.url}/raft/stream`);
  assert.equal(get.status, 405);
  await get.text();
  await stopAll(b);
});

test('send never throws for unknown peers; removePeer stops delivery; close is idempotent', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.send([app(1n, 42n, 1)]);
  assert.ok(a.hasLog(/unknown remote peer target 2a/));
  a.transport.addPeer(2n, [b.url]);
  a.transport.send([app(1n, 2n, 1)]);
  await waitFor(() => b.handler.received.length === 1, 'first message');
  a.transport.removePeer(2n);
  a.transport.send([app(1n, 2n, 2)]);
  assert.equal(a.transport.activeSince(2n), null);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(b.handler.received.length, 1, 'nothing delivered after removePeer');
  assert.throws(() => a.transport.send([makeMessage({ type: 'MsgSnap', from: 1n, to: 2n })]), /sendSnapshot/);
  await a.transport.close();
  await a.transport.close();
  await stopAll(a, b);
});

test('updatePeer to a new URL moves the stream there', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await b.start();
  a.transport.addPeer(2n, ['http://127.0.0.1:1']); // nothing listens on port 1
  await waitFor(() => a.handler.unreachable.includes(2n), 'first URL fails');
  a.transport.updatePeer(2n, [b.url]);
  a.transport.send([app(1n, 2n, 5)]);
  await waitFor(() => b.handler.received.length === 1, 'delivered at the new URL');
  await stopAll(a, b);
});

test('frame size limit: the sender drops what the receiver would refuse, edge inclusive; the receiver cuts an oversized stream', async () => {
  const m = app(1n, 2n, 1);
  const payloadBytes = encodeFrame(m).length - 8;
  const a = new TestMember(1n, { maxFrameBytes: payloadBytes });
  const b = new TestMember(2n, { maxFrameBytes: payloadBytes });
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  a.transport.send([m]);
  await waitFor(() => b.handler.received.length === 1, 'a frame exactly at the limit is delivered');
  const big = makeMessage({ ...m, context: Buffer.from('x') }); // one byte over
  a.transport.send([big]);
  assert.deepEqual(a.handler.unreachable, [2n], 'one byte over: dropped at the sender and reported');
  assert.ok(a.hasLog(/larger than maxFrameBytes/));

  // A sender with a larger limit: the receiver refuses the frame and closes the stream.
  const c = new TestMember(3n);
  c.transport.addPeer(2n, [b.url]);
  c.transport.send([makeMessage({ ...big, from: 3n })]);
  await waitFor(() => b.hasLog(/^closing stream from 3: .*exceeds the limit/), 'receiver cut the stream');
  await waitFor(() => c.handler.unreachable.includes(2n), 'sender saw the stream break');
  assert.equal(b.handler.received.length, 1);
  await c.transport.close();
  await stopAll(a, b);
});
