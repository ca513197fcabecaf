/**
 * The authority filter as a state machine: what the server reads after it, for client byte
 * streams cut at random points. Properties: a URL :authority reaches the server as host:port
 * with every other field and frame unchanged; a clean first block leaves the whole stream
 * byte-identical; the server's HPACK table never changes after the switch to rewriting; frames
 * written stay within 16384 bytes; malformed or oversized input is refused.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { forSeeds, isFloeError, Rng } from '../pkg';
import { HpackDecoder, encodeLiteralBlock, type HeaderField } from './hpack';
import {
  AuthorityRewriter,
  ERR_H2_FRAME,
  MAX_FRAME_PAYLOAD_BYTES,
  MAX_HEADER_BLOCK_BYTES,
  authorityFromUrl,
} from './h2-authority';
import { CLIENT_PREFACE, frameHeaderBlock } from './h2-wire';

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

function frame(type: number, flags: number, stream: number, payload: Buffer | number[]): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, p]);
}

function parseFrames(buf: Buffer): Frame[] {
  assert.deepEqual(buf.subarray(0, CLIENT_PREFACE.length), CLIENT_PREFACE);
  const frames: Frame[] = [];
  for (let pos = CLIENT_PREFACE.length; pos < buf.length; ) {
    const len = buf.readUIntBE(pos, 3);
    frames.push({ type: buf[pos + 3]!, flags: buf[pos + 4]!, stream: buf.readUInt32BE(pos + 5), payload: buf.subarray(pos + 9, pos + 9 + len) });
    pos += 9 + len;
    assert.ok(pos <= buf.length, 'frame cut off');
  }
  return frames;
}

/** Feeds `input` to a rewriter in random pieces (1 byte up to all); returns the output. */
function run(input: Buffer, rng: Rng | null, rw = new AuthorityRewriter()): Buffer {
  const out: Buffer[] = [];
  for (let pos = 0; pos < input.length; ) {
    const n = rng === null ? input.length : 1 + rng.int(rng.chance(0.3) ? 12 : input.length);
    out.push(...rw.push(input.subarray(pos, pos + n)));
    pos += n;
  }
  return Buffer.concat(out);
}

/** What the server's HPACK decoder makes of the header blocks it reads, per block. */
function serverView(frames: Frame[]): { blocks: { stream: number; flags: number; fields: [string, string][] }[]; decoder: HpackDecoder } {
  const decoder = new HpackDecoder();
  const blocks: { stream: number; flags: number; fields: [string, string][] }[] = [];
  let parts: Buffer[] = [];
  let first: Frame | null = null;
  for (const f of frames) {
    if (f.type !== HEADERS && f.type !== CONTINUATION) continue;
    if (f.type === HEADERS) {
      assert.equal(f.flags & PADDED, 0, 'rewritten HEADERS carry no padding');
      first = f;
      parts = [f.payload.subarray(f.flags & PRIORITY ? 5 : 0)];
    } else {
      parts.push(f.payload);
    }
    if (f.flags & END_HEADERS) {
      const fields = decoder.decode(Buffer.concat(parts)).fields.map((x): [string, string] => [x.name, x.value]);
      blocks.push({ stream: first!.stream, flags: first!.flags, fields });
    }
  }
  return { blocks, decoder };
}

const SETTINGS = frame(0x4, 0, 0, [0x00, 0x04, 0x00, 0x40, 0x00, 0x00]);
const WINDOW_UPDATE = frame(0x8, 0, 0, [0x00, 0x0f, 0x00, 0x01]);
const data = (stream: number, n: number, flags = 0): Buffer => frame(0x0, flags, stream, Buffer.alloc(n, stream));

/** A literal field with incremental indexing and a new name (short, no Huffman). */
function lit(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

/**
 * A gRPC-like client block: the first request inserts its fields in the dynamic table
 * (incremental indexing), later ones refer to them, as grpc-go's encoder does.
 */
function clientBlock(authority: string, path: string, first: boolean): Buffer {
  if (first) {
    return Buffer.concat([
      Buffer.from([0x83, 0x86]), // :method POST, :scheme http
      lit(':path', path),
      lit(':authority', authority), // dynamic 62 after the next two insertions: 64
      lit('content-type', 'application/grpc'),
      lit('te', 'trailers'),
    ]);
  }
  // Newest first: te=62, content-type=63, :authority=64, :path(first)=65.
  return Buffer.concat([Buffer.from([0x83, 0x86, 0x04, path.length]), Buffer.from(path), Buffer.from([0xc0, 0xbf, 0xbe])]);
}

const URL_AUTH = 'http://127.0.0.1:2379';

function requestStream(authority: string): Buffer {
  return Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    WINDOW_UPDATE,
    frame(HEADERS, END_HEADERS, 1, clientBlock(authority, '/etcdserverpb.KV/Range', true)),
    data(1, 30, END_STREAM),
    frame(HEADERS, END_HEADERS, 3, clientBlock(authority, '/etcdserverpb.KV/Put', false)),
    data(3, 20000),
    data(3, 5, END_STREAM),
    frame(0x6, 0, 0, Buffer.alloc(8, 7)), // PING
  ]);
}

test('authorityFromUrl: a URL becomes host:port; anything without a slash is left alone', () => {
  assert.equal(authorityFromUrl('http://127.0.0.1:2379'), '127.0.0.1:2379');
  assert.equal(authorityFromUrl('https://[::1]:2379/'), '[::1]:2379');
  assert.equal(authorityFromUrl('unix://localhost:2379/x/y'), 'localhost:2379');
  assert.equal(authorityFromUrl('host:2379/path'), 'host:2379');
  assert.equal(authorityFromUrl('127.0.0.1:2379'), null);
  assert.equal(authorityFromUrl('localhost'), null);
  assert.equal(authorityFromUrl('http:///x'), null);
  assert.equal(authorityFromUrl('/only/path'), null);
});

test('a URL :authority is rewritten in every block; other frames and fields reach the server unchanged', () => {
  const input = requestStream(URL_AUTH);
  const want = parseFrames(requestStream('127.0.0.1:2379'));
  forSeeds(40, (seed) => {
    const rw = new AuthorityRewriter();
    const got = parseFrames(run(input, new Rng(seed), rw));
    assert.equal(rw.mode, 'rewrite');
    assert.deepEqual(got.map((f) => [f.type, f.flags, f.stream]), want.map((f) => [f.type, f.flags, f.stream]));
    for (const [i, f] of got.entries()) if (f.type !== HEADERS) assert.deepEqual(f.payload, want[i]!.payload, `frame ${i}`);
    const server = serverView(got);
    const expected = serverView(want).blocks;
    assert.deepEqual(server.blocks, expected);
    assert.equal(server.blocks[1]!.fields.find(([n]) => n === ':authority')![1], '127.0.0.1:2379');
    // The rewritten stream never inserts into the server's dynamic table.
    assert.equal(server.decoder.tableSizeBytes, 0);
  });
});

test('a clean first block switches to pass-through: the whole stream is byte-identical', () => {
  const input = Buffer.concat([requestStream('127.0.0.1:2379'), frame(HEADERS, END_HEADERS, 5, clientBlock(URL_AUTH, '/x', true))]);
  forSeeds(20, (seed) => {
    const rw = new AuthorityRewriter();
    assert.deepEqual(run(input, new Rng(seed), rw), input);
    // Later blocks are no longer looked at, even one that would need a fix.
    assert.equal(rw.mode, 'pass');
  });
});

test('CONTINUATION input, padding and priority: one rewritten block, END_STREAM and priority kept, no padding', () => {
  const block = clientBlock(URL_AUTH, '/etcdserverpb.Maintenance/Status', true);
  const prio = Buffer.from([0x80, 0x00, 0x00, 0x03, 0x0f]); // exclusive, depends on 3, weight 16
  const input = Buffer.concat([
    CLIENT_PREFACE,
    frame(HEADERS, PADDED | PRIORITY | END_STREAM, 1, Buffer.concat([Buffer.from([4]), prio, block.subarray(0, 10), Buffer.alloc(4)])),
    frame(CONTINUATION, 0, 1, block.subarray(10, 30)),
    frame(CONTINUATION, 0, 1, Buffer.alloc(0)),
    frame(CONTINUATION, END_HEADERS, 1, block.subarray(30)),
  ]);
  forSeeds(20, (seed) => {
    const got = parseFrames(run(input, new Rng(seed)));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.flags, PRIORITY | END_STREAM | END_HEADERS);
    assert.deepEqual(got[0]!.payload.subarray(0, 5), prio);
    assert.deepEqual(serverView(got).blocks[0]!.fields, [
      [':method', 'POST'], [':scheme', 'http'], [':path', '/etcdserverpb.Maintenance/Status'],
      [':authority', '127.0.0.1:2379'], ['content-type', 'application/grpc'], ['te', 'trailers'],
    ]);
  });
});

test('frameHeaderBlock splits at 16384 payload bytes, counting the priority bytes', () => {
  const shape = (b: Buffer): [number, number, number][] => parseFrames(Buffer.concat([CLIENT_PREFACE, b])).map((f) => [f.type, f.flags, f.payload.length]);
  const prio = Buffer.alloc(5, 1);
  const M = 16384;
  assert.equal(MAX_FRAME_PAYLOAD_BYTES, M);
  assert.deepEqual(shape(frameHeaderBlock(1, false, null, Buffer.alloc(M))), [[HEADERS, END_HEADERS, M]]);
  assert.deepEqual(shape(frameHeaderBlock(1, false, null, Buffer.alloc(M + 1))), [[HEADERS, 0, M], [CONTINUATION, END_HEADERS, 1]]);
  assert.deepEqual(shape(frameHeaderBlock(1, true, prio, Buffer.alloc(M - 5))), [[HEADERS, END_STREAM | PRIORITY | END_HEADERS, M]]);
  assert.deepEqual(shape(frameHeaderBlock(1, true, prio, Buffer.alloc(M - 4))), [[HEADERS, END_STREAM | PRIORITY, M], [CONTINUATION, END_HEADERS, 1]]);
  assert.deepEqual(shape(frameHeaderBlock(7, false, null, Buffer.alloc(3 * M))), [[HEADERS, 0, M], [CONTINUATION, 0, M], [CONTINUATION, END_HEADERS, M]]);
  assert.deepEqual(shape(frameHeaderBlock(7, false, null, Buffer.alloc(0))), [[HEADERS, END_HEADERS, 0]]);
  const b = Buffer.from(Array.from({ length: 2 * M + 3 }, (_, i) => i & 0xff));
  const frames = parseFrames(Buffer.concat([CLIENT_PREFACE, frameHeaderBlock(9, false, null, b)]));
  assert.deepEqual(Buffer.concat(frames.map((f) => f.payload)), b);
  assert.ok(frames.every((f) => f.stream === 9));
});

test('a big rewritten block is re-framed within 16384-byte frames and decodes whole', () => {
  const fields: HeaderField[] = [
    { name: ':authority', value: URL_AUTH, neverIndexed: false },
    { name: 'x-big', value: 'v'.repeat(40_000), neverIndexed: false },
    { name: 'authorization', value: 'token', neverIndexed: true },
  ];
  const block = encodeLiteralBlock(fields);
  const input = Buffer.concat([CLIENT_PREFACE, frame(HEADERS, 0, 1, block.subarray(0, 20_000)), frame(CONTINUATION, END_HEADERS, 1, block.subarray(20_000))]);
  const got = parseFrames(run(input, null));
  assert.ok(got.length === 3 && got.every((f) => f.payload.length <= MAX_FRAME_PAYLOAD_BYTES));
  const dec = new HpackDecoder().decode(Buffer.concat(got.map((f) => f.payload)));
  assert.deepEqual(dec.fields, [{ ...fields[0]!, value: '127.0.0.1:2379' }, fields[1], fields[2]]);
});

test('header blocks up to 256 KiB (payload, padding included) pass; one byte more is refused before buffering', () => {
  assert.equal(MAX_HEADER_BLOCK_BYTES, 256 * 1024);
  // Table size updates fill the block: legal at its start, and dropped by the rewrite.
  const tail = clientBlock(URL_AUTH, '/p', true);
  const build = (totalBytes: number): Buffer => {
    const updates = Buffer.alloc(totalBytes - tail.length - 100, 0x20);
    return Buffer.concat([
      CLIENT_PREFACE,
      frame(HEADERS, PADDED, 1, Buffer.concat([Buffer.from([99]), Buffer.alloc(99)])),
      frame(CONTINUATION, 0, 1, updates),
      frame(CONTINUATION, END_HEADERS, 1, tail),
    ]);
  };
  const ok = parseFrames(run(build(MAX_HEADER_BLOCK_BYTES), null));
  assert.equal(ok.length, 1);
  assert.equal(serverView(ok).blocks[0]!.fields[3]![1], '127.0.0.1:2379');
  assert.throws(() => run(build(MAX_HEADER_BLOCK_BYTES + 1), null), (e) => isFloeError(e, ERR_H2_FRAME));
  // The refusal comes with the frame header, before any of the payload is held.
  const rw = new AuthorityRewriter();
  const head = frame(HEADERS, END_HEADERS, 1, Buffer.alloc(0));
  head.writeUIntBE(MAX_HEADER_BLOCK_BYTES + 1, 0, 3);
  assert.throws(() => rw.push(Buffer.concat([CLIENT_PREFACE, head])), (e) => isFloeError(e, ERR_H2_FRAME));
});

test('malformed client streams are refused with a typed error', () => {
  const block = clientBlock(URL_AUTH, '/p', true);
  const cases: [string, Buffer][] = [
    ['bad preface', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['frame inside a header block', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, 0, 1, block), data(1, 3)])],
    ['CONTINUATION of another stream', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, 0, 1, block), frame(CONTINUATION, END_HEADERS, 3, [])])],
    ['CONTINUATION without HEADERS', Buffer.concat([CLIENT_PREFACE, frame(CONTINUATION, END_HEADERS, 1, block)])],
    ['PUSH_PROMISE', Buffer.concat([CLIENT_PREFACE, frame(0x5, END_HEADERS, 1, [0, 0, 0, 2])])],
    ['HEADERS on stream 0', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, END_HEADERS, 0, block)])],
    ['padding over the payload', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, END_HEADERS | PADDED, 1, Buffer.concat([Buffer.from([200]), block]))])],
    ['PRIORITY too short', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, END_HEADERS | PRIORITY, 1, [1, 2])])],
    ['bad HPACK', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, END_HEADERS, 1, [0xbe])])],
    ['bad HPACK in rewrite mode', Buffer.concat([CLIENT_PREFACE, frame(HEADERS, END_HEADERS, 1, block), frame(HEADERS, END_HEADERS, 3, [0x80])])],
  ];
  for (const [name, input] of cases) {
    assert.throws(() => run(input, null), (e) => isFloeError(e, ERR_H2_FRAME) || isFloeError(e, 'ERR_HPACK'), name);
  }
});

test('header blocks after a clean first one pass as received while the SETTINGS ACK is awaited', () => {
  // The client's table after block 1 (newest first): te 62, content-type 63, :authority 64,
  // :path 65. Block 2 refers to those and inserts grpc-timeout (62; the others move up one),
  // before the client has acknowledged the filter's SETTINGS; block 3 refers to all of them.
  // Re-encoding block 2 without indexing would leave the server's table one entry short.
  const block2 = Buffer.concat([Buffer.from([0x83, 0x86, 0xc1, 0xc0, 0xbf, 0xbe]), lit('grpc-timeout', '99u')]);
  const block3 = Buffer.from([0x83, 0x86, 0xc2, 0xc1, 0xc0, 0xbf, 0xbe]);
  const ack = frame(0x4, 0x1, 0, []);
  const before = Buffer.concat([
    CLIENT_PREFACE,
    SETTINGS,
    frame(HEADERS, END_HEADERS, 1, clientBlock('127.0.0.1:2379', '/etcdserverpb.KV/Range', true)),
    data(1, 30, END_STREAM),
    frame(HEADERS, END_HEADERS, 3, block2),
    data(3, 30, END_STREAM),
  ]);
  const after = Buffer.concat([frame(HEADERS, END_HEADERS, 5, block3), data(5, 30, END_STREAM)]);
  forSeeds(20, (seed) => {
    const rw = new AuthorityRewriter({ dropFirstSettingsAck: true });
    const out = run(Buffer.concat([before, ack, after]), new Rng(seed), rw);
    assert.ok(rw.settled, 'settled once the ACK is gone');
    assert.deepEqual(out, Buffer.concat([before, after]), 'everything but the ACK, byte for byte');
    const { blocks } = serverView(parseFrames(out));
    const expected: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/etcdserverpb.KV/Range'],
      [':authority', '127.0.0.1:2379'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
    ];
    assert.deepEqual(blocks[2]!.fields, [...expected, ['grpc-timeout', '99u']]);
  });
});
