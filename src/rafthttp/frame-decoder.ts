/**
 * Splits a byte stream into frames (8-byte big-endian length + payload) as chunks arrive.
 * Chunks are kept as a list and joined once per frame, so a large frame arriving in many
 * small chunks costs one copy, not one per chunk.
 */
import { FloeError } from '../pkg';
import { FRAME_HEADER_BYTES } from './message-codec';

/** Code of the FloeError for a frame longer than the receiver accepts. */
export const ERR_FRAME_TOO_LARGE = 'ERR_RAFTHTTP_FRAME_TOO_LARGE';

/** Default largest frame payload accepted: 512 MiB (etcd's readBytesLimit for messages). */
export const DEFAULT_MAX_FRAME_BYTES = 512 * 1024 * 1024;

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Payload length of the frame being assembled, or -1 while its header is incomplete. */
  private needBytes = -1;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received that are not yet part of a returned frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /**
   * Adds a chunk and returns the payloads of every frame it completes, in stream order.
   * Throws ERR_RAFTHTTP_FRAME_TOO_LARGE when a header announces more than the limit.
   */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.needBytes < 0) {
        if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
        const len = this.take(FRAME_HEADER_BYTES).readBigUInt64BE(0);
        if (len > BigInt(this.maxFrameBytes)) {
          throw new FloeError(ERR_FRAME_TOO_LARGE, `rafthttp: frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
        }
        this.needBytes = Number(len);
      }
      if (this.bufferedBytes < this.needBytes) break;
      frames.push(this.take(this.needBytes));
      this.needBytes = -1;
    }
    return frames;
  }

  /** Removes and returns the first `n` buffered bytes (n <= bufferedBytes). */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) {
      out = Buffer.alloc(0);
    } else if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const use = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, use);
        filled += use;
        if (use === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(use);
      }
    }
    this.bufferedBytes -= n;
    return out;
  }
}
