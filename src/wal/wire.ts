/**
 * Minimal protobuf wire helpers for the WAL's hot paths (entry records are encoded and decoded
 * once per entry at write and at replay, so they avoid the generic field iterator).
 * Integers that are terms, indexes or sizes are `number` and must be safe integers; node and
 * cluster ids are `bigint` (full uint64).
 */
import { FloeError, ProtoReader, putVarintBig as putUint64Varint } from '../pkg';
import { ERR_WAL_CORRUPT } from './errors';

export { varintSize, varintSizeBig, putVarint } from '../pkg';

const MAX_UINT64 = (1n << 64n) - 1n;

/** Writes the varint of a uint64 bigint at `pos`; returns the next position. */
export function putVarintBig(buf: Uint8Array, pos: number, v: bigint): number {
  if (v < 0n || v > MAX_UINT64) throw new FloeError(ERR_WAL_CORRUPT, `wal: uint64 out of range: ${v}`);
  return putUint64Varint(buf, pos, v);
}

/** Reads one protobuf message's fields; every malformation throws ERR_WAL_CORRUPT naming `what`. */
export class WireReader extends ProtoReader {
  constructor(
    buf: Uint8Array,
    private readonly what: string,
  ) {
    super(buf);
  }

  override fail(why: string): FloeError {
    return new FloeError(ERR_WAL_CORRUPT, `wal: cannot decode ${this.what}: ${why}`);
  }
}
