/**
 * Sends one snapshot: POST /raft/snapshot whose body is the MsgSnap frame followed by the
 * backend file, streamed chunk by chunk with backpressure (the file is never held whole).
 * Content-Length is exact, so the receiver knows the file's size and Node refuses a body of
 * any other length. The receiver answers 204 once the member has stored the file.
 */
import * as http from 'node:http';
import type { Message } from '../raft';
import { FloeError } from '../pkg';
import { encodeFrame } from './message-codec';
import { HEADER_CLUSTER_ID, idHex, requestHeaders, SNAPSHOT_PATH } from './headers';
import type { Peer } from './peer';
import { peerRequest } from './dial';

/** Code of the FloeError for a snapshot that could not be delivered. */
export const ERR_SNAPSHOT_SEND = 'ERR_RAFTHTTP_SNAPSHOT_SEND';

/** The backend file to send: its exact size and its bytes in order. */
export interface SnapshotSource {
  readonly sizeBytes: number;
  chunks(): AsyncIterable<Buffer>;
}

/**
 * Streams `m` and `db` to `peer`; resolves when the peer stored it, rejects with the reason
 * otherwise (the caller reports the outcome to raft). Every timer and socket is released
 * before it settles.
 */
export async function streamSnapshot(peer: Peer, m: Message, db: SnapshotSource): Promise<void> {
  const { ctx } = peer;
  const { opts } = ctx;
  if (!Number.isSafeInteger(db.sizeBytes) || db.sizeBytes < 0) {
    throw new FloeError(ERR_SNAPSHOT_SEND, `snapshot size ${db.sizeBytes} is not a non-negative integer`);
  }
  const frame = encodeFrame(m);
  const req = peerRequest(new URL(SNAPSHOT_PATH, peer.url), {
    method: 'POST',
    agent: false,
    headers: {
      ...requestHeaders(opts.clusterId, opts.memberId, peer.id),
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(frame.length + db.sizeBytes),
    },
  }, opts.tls);
  peer.track(req);

  // Everything that can end the attempt funnels into `failed`; the writer loop checks it.
  let failed: Error | null = null;
  let wake: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let response: http.IncomingMessage | null = null;
  let responseBody = '';
  let responseEnded = false;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const fail = (e: Error): void => {
    if (failed === null) failed = e;
    poke();
  };
  /** (Re)starts the no-progress watchdog: `ms` without a write draining or an answer fails. */
  const watch = (ms: number, what: string): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => fail(new FloeError(ERR_SNAPSHOT_SEND, `${what} timed out after ${ms} ms`)), ms);
  };
  const waitEvent = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));

  req.on('error', (e) => fail(e));
  req.on('close', () => {
    if (!responseEnded) fail(new FloeError(ERR_SNAPSHOT_SEND, 'connection closed before the peer answered'));
  });
  req.on('drain', poke);
  req.on('response', (res) => {
    response = res;
    res.setEncoding('utf8');
    res.on('data', (s: string) => {
      if (responseBody.length < 1024) responseBody += s;
    });
    res.on('error', (e) => fail(e));
    res.on('end', () => {
      responseEnded = true;
      poke();
    });
  });

  try {
    watch(opts.dialTimeoutMs + opts.streamIdleTimeoutMs, 'snapshot upload');
    let sentBytes = 0;
    const write = async (b: Buffer): Promise<void> => {
      if (!req.write(b)) {
        while (failed === null && response === null && req.writableNeedDrain) await waitEvent();
      }
      watch(opts.streamIdleTimeoutMs, 'snapshot upload');
    };
    await write(frame);
    for await (const chunk of db.chunks()) {
      if (failed !== null || response !== null) break; // an early answer is a refusal
      sentBytes += chunk.length;
      if (sentBytes > db.sizeBytes) {
        throw new FloeError(ERR_SNAPSHOT_SEND, `snapshot source yielded more than its ${db.sizeBytes} bytes`);
      }
      await write(chunk);
    }
    if (failed !== null) throw failed;
    if (response === null) {
      if (sentBytes !== db.sizeBytes) {
        throw new FloeError(ERR_SNAPSHOT_SEND, `snapshot source yielded ${sentBytes} of its ${db.sizeBytes} bytes`);
      }
      req.end();
      watch(opts.snapshotResponseTimeoutMs, 'waiting for the snapshot answer');
    }
    while (failed === null && !responseEnded) await waitEvent();
    if (failed !== null) throw failed;
    const res = response as http.IncomingMessage | null;
    const status = res?.statusCode ?? 0;
    if (status === 204 || status === 200) return;
    if (status === 412 && responseBody.trim() === 'cluster ID mismatch') {
      ctx.log(
        'E',
        `request sent was ignored (cluster ID mismatch: peer[${idHex(peer.id)}]=${String(res?.headers[HEADER_CLUSTER_ID.toLowerCase()] ?? '')}, local=${idHex(opts.clusterId)})`,
      );
    } else if (status === 410) {
      ctx.log('E', `peer ${idHex(peer.id)} says this member was removed from the cluster (410 Gone)`);
      ctx.removed();
    }
    throw new FloeError(ERR_SNAPSHOT_SEND, `peer answered ${status} ${responseBody.trim()}`);
  } finally {
    if (timer !== null) clearTimeout(timer);
    // Only a fully sent and answered request may close on its own; anything else is cut.
    if (!(responseEnded && req.writableFinished)) req.destroy();
  }
}
