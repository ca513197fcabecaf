/**
 * The client port's own HTTP/2 front (h2-front.ts, h2-inner.ts), spoken to frame by frame:
 * protocol errors end the connection with etcd-compatible HTTP/2 error codes, limits refuse
 * streams, PING and keepalive, flow control on both served and forwarded streams, an
 * :authority written as a URL, answers in lent memory released only once sent or dropped,
 * and a graceful drain.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { etcdServices } from '../etcdpb';
import { encodeLiteralBlock, HpackDecoder, type HeaderField } from './hpack';
import { CLIENT_PREFACE, ErrorCode, frameHeaderBlock, FLAG_ACK, FLAG_END_STREAM, FrameReader, FrameType, frame, rstStreamFrame, settingsFrame, Setting, windowUpdateFrame } from './h2-wire';
import { MAX_SEND_AHEAD_BYTES } from './h2-front';
import { grpcMessage as message, startHarness, type Harness } from './test-harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly id: number;
  readonly payload: Buffer;
}

/** A client speaking raw frames; `frames` is everything the server sent. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader((type, flags, id, p) => this.frames.push({ type, flags, id, payload: Buffer.from(p) }), 1 << 24);
  private readonly waiters: (() => void)[] = [];
  readonly decoder = new HpackDecoder();

  constructor(endpoint: string, settings: Buffer = settingsFrame([])) {
    const [host, port] = endpoint.split(':');
    this.socket = net.connect(Number(port), host);
    this.socket.on('data', (c: Buffer) => {
      this.reader.push(c);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.write(Buffer.concat([CLIENT_PREFACE, settings]));
  }

  write(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Resolves once `pred` holds (checked on every arrival); rejects after 3 s. */
  async until(pred: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 3000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  find(type: number, id?: number): Frame | undefined {
    return this.frames.find((f) => f.type === type && (id === undefined || f.id === id));
  }

  /** Decoded header blocks of stream `id` (HEADERS frames, each one block here), in order. */
  headerBlocks(id: number): Map<string, string>[] {
    return this.frames
      .filter((f) => f.type === FrameType.HEADERS && f.id === id)
      .map((f) => new Map(this.decoder.decode(f.payload).fields.map((x) => [x.name, x.value] as [string, string])));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Stops reading the socket (the server's writes back up), until resume(). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const field = (name: string, value: string): HeaderField => ({ name, value, neverIndexed: false });

function requestHeaders(id: number, path: string, endStream: boolean, authority = h.endpoint): Buffer {
  return frameHeaderBlock(
    id,
    endStream,
    null,
    encodeLiteralBlock([field(':method', 'POST'), field(':scheme', 'http'), field(':path', path), field(':authority', authority), field('content-type', 'application/grpc'), field('te', 'trailers')]),
  );
}

const RANGE = '/etcdserverpb.KV/Range';
const STATUS = '/etcdserverpb.Maintenance/Status';
const rangeRequest = (): Buffer => etcdServices().kv.Range.requestSerialize({ key: Buffer.from('k') } as never);

function goawayCode(c: RawClient): number | undefined {
  return c.find(FrameType.GOAWAY)?.payload.readUInt32BE(4);
}

test('a served call and a forwarded one are answered on the same connection; PING is echoed', async () => {
  const c = new RawClient(h.endpoint);
  try {
    c.write(requestHeaders(1, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 1, message(rangeRequest())));
    c.write(requestHeaders(3, STATUS, false), frame(FrameType.DATA, FLAG_END_STREAM, 3, message(Buffer.alloc(0))));
    c.write(frame(FrameType.PING, 0, 0, Buffer.from('12345678')));
    await c.until(() => c.headerBlocks(1).length === 2 && c.headerBlocks(3).length === 2 && c.frames.some((f) => f.type === FrameType.PING), 'both answers and the PING ACK');
    for (const id of [1, 3]) assert.equal(c.headerBlocks(id)[1]!.get('grpc-status'), '0', `stream ${id}`);
    const ping = c.find(FrameType.PING)!;
    assert.equal(ping.flags & FLAG_ACK, FLAG_ACK);
    assert.equal(ping.payload.toString(), '12345678');
  } finally {
    c.close();
  }
});

test('an :authority written as a URL is answered on served and forwarded streams', async () => {
  const c = new RawClient(h.endpoint);
  try {
    const url = `http://${h.endpoint}`;
    c.write(requestHeaders(1, RANGE, false, url), frame(FrameType.DATA, FLAG_END_STREAM, 1, message(rangeRequest())));
    c.write(requestHeaders(3, STATUS, false, url), frame(FrameType.DATA, FLAG_END_STREAM, 3, message(Buffer.alloc(0))));
    await c.until(() => c.headerBlocks(1).length === 2 && c.headerBlocks(3).length === 2, 'both answers');
    for (const id of [1, 3]) assert.equal(c.headerBlocks(id)[1]!.get('grpc-status'), '0', `stream ${id}`);
    assert.equal(c.find(FrameType.RST_STREAM), undefined);
  } finally {
    c.close();
  }
});

test('protocol violations end the connection with GOAWAY and the RFC error code', async () => {
  const cases: [string, Buffer, number][] = [
    ['DATA on stream 0', frame(FrameType.DATA, 0, 0, Buffer.from('x')), ErrorCode.PROTOCOL_ERROR],
    ['an even stream id', requestHeaders(2, RANGE, true), ErrorCode.PROTOCOL_ERROR],
    ['a PING of 7 bytes', frame(FrameType.PING, 0, 0, Buffer.alloc(7)), ErrorCode.FRAME_SIZE_ERROR],
    ['a frame over 16384 bytes', frame(FrameType.DATA, 0, 1, Buffer.alloc(16385)), ErrorCode.FRAME_SIZE_ERROR],
    ['an undecodable header block', frame(FrameType.HEADERS, 0x4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), ErrorCode.COMPRESSION_ERROR],
    ['a connection window update of 0', frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)), ErrorCode.PROTOCOL_ERROR],
    ['a CONTINUATION out of place', frame(FrameType.CONTINUATION, 0x4, 1, Buffer.alloc(0)), ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, bytes, code] of cases) {
    const c = new RawClient(h.endpoint);
    try {
      c.write(bytes);
      await c.until(() => c.closed, `${name}: the connection closed`);
      assert.equal(goawayCode(c), code, name);
    } finally {
      c.close();
    }
  }
});

test('streams over --max-concurrent-streams are refused; the others are served', async () => {
  const limited = await startHarness({ server: { maxConcurrentStreams: 1 } });
  const c = new RawClient(limited.endpoint);
  try {
    await c.until(() => c.find(FrameType.SETTINGS) !== undefined, 'SETTINGS');
    const settings = c.find(FrameType.SETTINGS)!.payload;
    assert.equal(settings.readUInt16BE(0), Setting.MAX_CONCURRENT_STREAMS);
    assert.equal(settings.readUInt32BE(2), 1);
    // Stream 1 stays open (no END_STREAM), so stream 3 is one too many.
    c.write(requestHeaders(1, RANGE, false), requestHeaders(3, RANGE, false));
    await c.until(() => c.find(FrameType.RST_STREAM, 3) !== undefined, 'the refusal');
    assert.equal(c.find(FrameType.RST_STREAM, 3)!.payload.readUInt32BE(0), ErrorCode.REFUSED_STREAM);
    c.write(frame(FrameType.DATA, FLAG_END_STREAM, 1, message(rangeRequest())));
    await c.until(() => c.headerBlocks(1).length === 2, 'the answer on stream 1');
    assert.equal(c.headerBlocks(1)[1]!.get('grpc-status'), '0');
  } finally {
    c.close();
    await limited.close();
  }
});

test('keepalive: a client that does not answer the server PING is disconnected', async () => {
  const pinging = await startHarness({ server: { keepaliveIntervalMs: 100, keepaliveTimeoutMs: 100 } });
  const c = new RawClient(pinging.endpoint);
  try {
    await c.until(() => c.closed, 'the connection closed');
    const ping = c.find(FrameType.PING);
    assert.ok(ping !== undefined && (ping.flags & FLAG_ACK) === 0, 'the server pinged first');
  } finally {
    c.close();
    await pinging.close();
  }
});

/** All bytes of a server stream read by Node's client with `initialWindowSize`. */
function readAll(endpoint: string, path: string, body: Buffer, initialWindowSize: number): Promise<{ body: Buffer; status: unknown }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${endpoint}`, { settings: { initialWindowSize } });
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let status: unknown;
    req.on('trailers', (t) => (status = t['grpc-status']));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      session.close();
      resolve({ body: Buffer.concat(chunks), status });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('flow control: a large served reply and a forwarded stream arrive whole through a small client window', async () => {
  const value = Buffer.alloc(2000, 'v');
  for (let i = 0; i < 200; i++) await new Promise<void>((resolve, reject) => {
    (h.client('kv') as unknown as { Put(r: unknown, cb: (e: Error | null) => void): void }).Put({ key: Buffer.from(`fc/${i}`), value }, (e) => (e ? reject(e) : resolve()));
  });
  const range = message(etcdServices().kv.Range.requestSerialize({ key: Buffer.from('fc/'), range_end: Buffer.from('fc0') } as never));
  const small = await readAll(h.endpoint, RANGE, range, 1000);
  const large = await readAll(h.endpoint, RANGE, range, 1 << 20);
  assert.equal(small.status, '0');
  assert.ok(small.body.length > 400_000, `reply of ${small.body.length} bytes`);
  assert.ok(small.body.equals(large.body), 'same bytes through either window');
  const snapSmall = await readAll(h.endpoint, '/etcdserverpb.Maintenance/Snapshot', message(Buffer.alloc(0)), 1000);
  const snapLarge = await readAll(h.endpoint, '/etcdserverpb.Maintenance/Snapshot', message(Buffer.alloc(0)), 1 << 20);
  assert.equal(snapSmall.status, '0');
  assert.ok(snapSmall.body.length > 0 && snapSmall.body.equals(snapLarge.body), 'the snapshot stream arrived whole');
});

test('an answer in lent memory is released once its bytes left, or its stream or connection ended', async () => {
  const value = Buffer.alloc(2000, 'v');
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve, reject) => {
    (h.client('kv') as unknown as { Put(r: unknown, cb: (e: Error | null) => void): void }).Put({ key: Buffer.from(`lent/${i}`), value }, (e) => (e ? reject(e) : resolve()));
  });
  const big = message(etcdServices().kv.Range.requestSerialize({ key: Buffer.from('lent/'), range_end: Buffer.from('lent0') } as never));
  const one = message(etcdServices().kv.Range.requestSerialize({ key: Buffer.from('lent/1'), range_end: Buffer.from('lent/10') } as never));
  const want = (await readAll(h.endpoint, RANGE, big, 1 << 20)).body;
  // Released memory is scribbled over, as the worker reusing it would: bytes sent after a
  // release would arrive wrong.
  const released: boolean[] = [];
  h.member.lend = (chunks) => {
    const i = released.push(false) - 1;
    return () => {
      assert.equal(released[i], false, 'released once');
      released[i] = true;
      for (const c of chunks) c.fill(0xee);
    };
  };
  const dataOf = (c: RawClient, id: number): Buffer => Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.id === id).map((f) => f.payload));
  const smallWindow = settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 1000]]);
  try {
    // A small answer goes out copied, in one write: released at once.
    const c0 = new RawClient(h.endpoint);
    c0.write(requestHeaders(1, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 1, one));
    await c0.until(() => c0.headerBlocks(1).length === 2, 'the small answer');
    assert.deepEqual(released, [true]);
    c0.close();

    // A large one waits for the client's window: held until the last bytes are written.
    const c1 = new RawClient(h.endpoint, smallWindow);
    c1.write(requestHeaders(1, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 1, big));
    await c1.until(() => dataOf(c1, 1).length === 1000, 'the first window of the answer');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(released[1], false, 'held while the answer waits for window');
    c1.write(windowUpdateFrame(0, 1 << 20), windowUpdateFrame(1, 1 << 20));
    await c1.until(() => c1.headerBlocks(1).length === 2 && released[1] === true, 'the whole answer, then the release');
    assert.ok(dataOf(c1, 1).equals(want), 'the answer arrived intact');
    c1.close();

    // A stream the client resets, and a connection it drops, release what they held.
    const c2 = new RawClient(h.endpoint, smallWindow);
    c2.write(requestHeaders(1, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 1, big));
    c2.write(requestHeaders(3, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 3, big));
    await c2.until(() => dataOf(c2, 1).length === 1000 && dataOf(c2, 3).length === 1000, 'both answers started');
    assert.deepEqual(released.slice(2), [false, false]);
    c2.write(rstStreamFrame(1, ErrorCode.CANCEL));
    await c2.until(() => released[2] === true || released[3] === true, 'the reset stream released');
    assert.equal(released.filter((x) => x).length, 3, 'only the reset one');
    c2.close();
    const deadline = Date.now() + 3000;
    while (released.some((x) => !x) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(released, [true, true, true, true], 'the dropped connection released its answer');
  } finally {
    h.member.lend = null;
  }
});

test('a big answer goes to the socket at most MAX_SEND_AHEAD_BYTES ahead of a client that does not read', async () => {
  const value = Buffer.alloc(10_000, 'w');
  for (let i = 0; i < 1500; i++) await new Promise<void>((resolve, reject) => {
    (h.client('kv') as unknown as { Put(r: unknown, cb: (e: Error | null) => void): void }).Put({ key: Buffer.from(`ahead/${i}`), value }, (e) => (e ? reject(e) : resolve()));
  });
  const big = message(etcdServices().kv.Range.requestSerialize({ key: Buffer.from('ahead/'), range_end: Buffer.from('ahead0') } as never));
  const want = (await readAll(h.endpoint, RANGE, big, 1 << 24)).body;
  assert.ok(want.length > 14_000_000, `answer of ${want.length} bytes`);
  const accepted: net.Socket[] = [];
  const onConnection = (socket: net.Socket): void => void accepted.push(socket);
  const listener = (h.server as unknown as { listeners: net.Server[] }).listeners[0]!;
  listener.on('connection', onConnection);
  try {
    // Windows that allow the whole answer at once; the client reads nothing for a while.
    const c = new RawClient(h.endpoint, settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 1 << 24]]));
    c.pause();
    c.write(windowUpdateFrame(0, 1 << 24), requestHeaders(1, RANGE, false), frame(FrameType.DATA, FLAG_END_STREAM, 1, big));
    const deadline = Date.now() + 3000;
    while (accepted.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const server = accepted[0]!;
    let most = 0;
    for (let i = 0; i < 30; i++) {
      most = Math.max(most, server.writableLength);
      await new Promise((r) => setTimeout(r, 10));
    }
    // At most one more frame (and the headers) past the bound: the kernel holds the rest.
    assert.ok(most > 0 && most <= MAX_SEND_AHEAD_BYTES + 32 * 1024, `${most} bytes queued in the server's socket`);
    c.resume();
    await c.until(() => c.headerBlocks(1).length === 2, 'the whole answer once the client reads');
    const got = Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.id === 1).map((f) => f.payload));
    assert.ok(got.equals(want), 'the answer arrived intact');
    c.close();
  } finally {
    listener.off('connection', onConnection);
  }
});

test('drain: the client is told to go away and a call in flight still gets its answer', async () => {
  const d = await startHarness();
  const c = new RawClient(d.endpoint);
  try {
    const gate = new Promise<void>((r) => setTimeout(r, 200));
    d.member.writeGate = gate;
    const put = etcdServices().kv.Put.requestSerialize({ key: Buffer.from('d'), value: Buffer.from('v') } as never);
    c.write(requestHeaders(1, '/etcdserverpb.KV/Put', false), frame(FrameType.DATA, FLAG_END_STREAM, 1, message(put)));
    await new Promise((r) => setTimeout(r, 50));
    const drained = d.server.drain(5000);
    await c.until(() => c.find(FrameType.GOAWAY) !== undefined, 'GOAWAY');
    assert.equal(goawayCode(c), ErrorCode.NO_ERROR);
    assert.equal(await drained, 'drained');
    assert.equal(c.headerBlocks(1).at(-1)?.get('grpc-status'), '0', 'the put in flight was answered');
    await c.until(() => c.closed, 'the connection closed');
  } finally {
    c.close();
    await d.close();
  }
});
