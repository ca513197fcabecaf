/**
 * One client stream of the HTTP/2 front (h2-front.ts): its flow-control windows on both
 * sides, what waits to go to the client, and either the call served by the front or the
 * forwarding state toward grpc-js (h2-inner.ts).
 */
import type { HeaderField } from './hpack';
import type { InnerLeg } from './h2-inner';
import type { UnaryCallInput } from './unary-fast-path';

/** Flow-control window the front gives each client stream. */
export const STREAM_WINDOW_BYTES = 1 << 20;

/** What waits to go to the client on one stream, in order. */
export type OutItem = { readonly block: Buffer; readonly end: boolean; readonly data?: undefined } | { data: Buffer; readonly end: boolean; readonly block?: undefined };

/** One client stream. */
export class FrontStream {
  /** Bytes the front may still send on it (the client's window). */
  sendWindow: number;
  /** Bytes the client may still send on it. */
  recvWindow = STREAM_WINDOW_BYTES;
  /** Consumed bytes not yet given back to the client. */
  recvCredit = 0;
  /** The client's END_STREAM arrived. */
  remoteEnded = false;
  /** The front's END_STREAM is queued. */
  localEnded = false;
  closed = false;
  readonly queue: OutItem[] = [];
  /** A call served by the front. */
  call: UnaryCallInput | null = null;
  /** Frees the memory its answer's queued parts lie in, once they have left (h2-front.ts). */
  release: (() => void) | null = null;
  /** A stream forwarded to grpc-js: its leg, and what still goes there. */
  leg: InnerLeg | null = null;
  innerWindow = 0;
  /** Bytes grpc-js sent on it that reached the client, not yet given back to grpc-js. */
  innerCredit = 0;
  readonly toInner: (Buffer | HeaderField[])[] = [];
  toInnerEnd = false;
  innerEndSent = false;

  constructor(
    readonly id: number,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }
}
