/**
 * The receiving side: POST /raft/stream (frames handed to the member one by one, in order)
 * and POST /raft/snapshot (a MsgSnap frame, then the backend file streamed to the member).
 */
import type * as http from 'node:http';
import { FloeError, isFloeError } from '../pkg';
import type { Message } from '../raft';
import { describeMessage } from '../raft';
import { FrameDecoder } from './frame-decoder';
import { decodeMessage, FRAME_HEADER_BYTES } from './message-codec';
import { checkPeerRequest, HEADER_CLUSTER_ID, HEADER_VERSION, idHex, SERVER_VERSION } from './headers';
import type { ResolvedOptions } from './options';

/** Code of the FloeError for a snapshot upload that is not what it claims to be. */
export const ERR_BAD_SNAPSHOT_UPLOAD = 'ERR_RAFTHTTP_BAD_SNAPSHOT_UPLOAD';

/** What the receiving side needs from the transport. */
export interface IncomingContext {
  readonly opts: ResolvedOptions;
  log(level: 'I' | 'N' | 'W' | 'E', msg: string): void;
  /** An accepted stream ended (either side closed it). */
  streamEnded(s: IncomingStream): void;
}

/** One accepted incoming stream; `close` ends it from our side. */
export interface IncomingStream {
  readonly from: bigint;
  close(): void;
}

function refuse(ctx: IncomingContext, req: http.IncomingMessage, res: http.ServerResponse): bigint | null {
  const r = checkPeerRequest(req, {
    clusterId: ctx.opts.clusterId,
    memberId: ctx.opts.memberId,
    isRemoved: (id) => ctx.opts.handler.isRemoved(id),
  });
  if ('from' in r) return r.from;
  if (r.log !== null) ctx.log(r.status === 410 ? 'W' : 'E', r.log);
  res.writeHead(r.status, {
    'Content-Type': 'text/plain; charset=utf-8',
    [HEADER_CLUSTER_ID]: idHex(ctx.opts.clusterId),
    [HEADER_VERSION]: SERVER_VERSION,
    Connection: 'close',
  });
  res.end(r.body + '\n');
  req.resume();
  return null;
}

/**
 * Accepts a message stream. Returns the stream, or null when the request was refused (the
 * refusal is already answered). Frames are processed synchronously as chunks arrive, so the
 * member sees them in the order the peer sent them.
 */
export function acceptStream(ctx: IncomingContext, req: http.IncomingMessage, res: http.ServerResponse): IncomingStream | null {
  const from = refuse(ctx, req, res);
  if (from === null) return null;
  const { opts } = ctx;
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    [HEADER_CLUSTER_ID]: idHex(opts.clusterId),
    [HEADER_VERSION]: SERVER_VERSION,
  });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  ctx.log('I', `established a message stream from peer ${idHex(from)}`);

  const decoder = new FrameDecoder(opts.maxFrameBytes);
  let ended = false;
  // The sender treats silence as death (streamIdleTimeoutMs); this byte says we are alive.
  // Skipped while the sender is not reading, so an unread response never grows.
  const keepAlive = setInterval(() => {
    if (!res.writableNeedDrain) res.write(KEEP_ALIVE);
  }, Math.max(1, Math.floor(opts.streamIdleTimeoutMs / 5)));
  const stream: IncomingStream = {
    from,
    close: () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      req.destroy();
      res.destroy();
      ctx.streamEnded(stream);
    },
  };
  const protocolError = (why: string): void => {
    ctx.log('E', `closing stream from ${idHex(from)}: ${why}`);
    stream.close();
  };
  req.on('data', (chunk: Buffer) => {
    if (ended) return;
    let frames: Buffer[];
    try {
      frames = decoder.push(chunk);
    } catch (e) {
      if (!isFloeError(e)) throw e;
      protocolError(e.message);
      return;
    }
    for (const f of frames) {
      let m: Message;
      try {
        m = decodeMessage(f);
      } catch (e) {
        if (!isFloeError(e)) throw e;
        protocolError(e.message);
        return;
      }
      if (m.type === 'MsgSnap') {
        protocolError('MsgSnap on a message stream (snapshots go to /raft/snapshot)');
        return;
      }
      if (m.to !== opts.memberId) {
        ctx.log('W', `ignored message for another member: ${describeMessage(m)}`);
        continue;
      }
      opts.metrics.received(m.from, f.length);
      opts.handler.process(m);
      if (ended) return; // the handler closed the transport
    }
  });
  req.on('end', () => {
    if (ended) return;
    ended = true;
    clearInterval(keepAlive);
    res.end();
    ctx.streamEnded(stream);
  });
  req.on('error', () => stream.close());
  req.on('close', () => stream.close());
  res.on('error', () => stream.close());
  return stream;
}
const KEEP_ALIVE = Buffer.from([0]);

/**
 * Reads the MsgSnap frame at the start of `it`; returns the message and the bytes after it
 * (the start of the file). Not a FrameDecoder: the file's bytes must not be parsed as frames.
 */
async function readHeadFrame(
  it: AsyncIterator<Buffer>,
  maxFrameBytes: number,
): Promise<{ m: Message; frameBytes: number; rest: Buffer }> {
  let head: Buffer = Buffer.alloc(0);
  let frameBytes = -1;
  for (;;) {
    if (frameBytes < 0 && head.length >= FRAME_HEADER_BYTES) {
      const len = head.readBigUInt64BE(0);
      if (len > BigInt(maxFrameBytes)) {
        throw new FloeError(ERR_BAD_SNAPSHOT_UPLOAD, `snapshot message frame of ${len} bytes exceeds the limit of ${maxFrameBytes} bytes`);
      }
      frameBytes = FRAME_HEADER_BYTES + Number(len);
    }
    if (frameBytes >= 0 && head.length >= frameBytes) {
      const m = decodeMessage(head.subarray(FRAME_HEADER_BYTES, frameBytes));
      return { m, frameBytes, rest: head.subarray(frameBytes) };
    }
    const r = await it.next();
    if (r.done === true) throw new FloeError(ERR_BAD_SNAPSHOT_UPLOAD, 'snapshot upload ended inside its message frame');
    head = head.length === 0 ? (r.value as Buffer) : Buffer.concat([head, r.value as Buffer]);
  }
}

/**
 * Accepts a snapshot upload: validates it, streams the file to the member, and answers 204
 * once receiveSnapshot resolved and consumed exactly the announced bytes (500 otherwise).
 */
export function acceptSnapshot(ctx: IncomingContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const from = refuse(ctx, req, res);
  if (from === null) return;
  void receive(ctx, from, req, res);
}

async function receive(ctx: IncomingContext, from: bigint, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { opts } = ctx;
  const answer = (status: number, body: string): void => {
    if (res.headersSent || res.destroyed) return;
    const ok = status < 300;
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      [HEADER_CLUSTER_ID]: idHex(opts.clusterId),
      [HEADER_VERSION]: SERVER_VERSION,
      ...(ok ? {} : { Connection: 'close' }),
    });
    res.end(body);
    // Cutting the socket while the sender is still writing would reset the connection before
    // it reads this answer; our senders stop writing when an answer arrives, so what is still
    // in flight is read and discarded, then the connection closes.
    if (!ok) req.resume();
  };
  const total = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(total) || total < FRAME_HEADER_BYTES) {
    ctx.log('E', `snapshot upload from ${idHex(from)} without a valid Content-Length`);
    answer(411, 'snapshot upload needs an exact Content-Length\n');
    return;
  }
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let m: Message;
  let frameBytes: number;
  let rest: Buffer;
  try {
    ({ m, frameBytes, rest } = await readHeadFrame(it, opts.maxFrameBytes));
  } catch (e) {
    if (!isFloeError(e)) throw e;
    ctx.log('E', `bad snapshot upload from ${idHex(from)}: ${e.message}`);
    answer(400, e.message + '\n');
    return;
  }
  if (m.type !== 'MsgSnap' || m.snapshot === null || m.to !== opts.memberId) {
    ctx.log('E', `bad snapshot upload from ${idHex(from)}: not a MsgSnap for this member: ${describeMessage(m)}`);
    answer(400, 'not a MsgSnap for this member\n');
    return;
  }
  const sizeBytes = total - frameBytes;
  const index = m.snapshot.metadata.index;
  ctx.log('I', `receiving database snapshot [index: ${index}, from: ${idHex(from)}] (${sizeBytes} bytes)`);

  let consumed = 0;
  async function* body(): AsyncGenerator<Buffer> {
    if (rest.length > 0) {
      consumed += rest.length;
      yield rest;
    }
    while (consumed < sizeBytes) {
      const r = await it.next();
      if (r.done === true) {
        throw new FloeError(ERR_BAD_SNAPSHOT_UPLOAD, `snapshot upload ended after ${consumed} of ${sizeBytes} bytes`);
      }
      const chunk = r.value as Buffer;
      consumed += chunk.length;
      yield chunk;
    }
  }
  try {
    await opts.handler.receiveSnapshot(m, sizeBytes, body());
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    ctx.log('E', `failed to save incoming database snapshot [index: ${index}, from: ${idHex(from)}]: ${msg}`);
    answer(500, `failed to save snapshot: ${msg}\n`);
    return;
  }
  if (consumed !== sizeBytes) {
    ctx.log('E', `member stored ${consumed} of ${sizeBytes} snapshot bytes from ${idHex(from)}`);
    answer(500, `snapshot read ${consumed} of ${sizeBytes} bytes\n`);
    return;
  }
  ctx.log('I', `received and saved database snapshot [index: ${index}, from: ${idHex(from)}] successfully`);
  answer(204, '');
}
