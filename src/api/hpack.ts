/**
 * HPACK (RFC 7541) header block decoding with a dynamic table, and an encoder that writes only
 * literals without indexing. The pair serves the authority filter (h2-authority.ts): it reads
 * a client's header blocks with the client's own compression state and re-emits them in a form
 * that never touches the server's dynamic table, so the server's decoder stays consistent
 * whatever the filter changes.
 *
 * Names and values are latin1 strings: one char per octet, so lengths are octet counts and any
 * byte survives a round trip.
 */
import { FloeError, assert } from '../pkg';
import { ERR_HPACK, huffmanDecode } from './hpack-huffman';

export { ERR_HPACK } from './hpack-huffman';

/** One decoded header field. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
  /** Sent as "literal never indexed": an intermediary must keep that form (RFC 7541 6.2.3). */
  readonly neverIndexed: boolean;
}

/** The protocol's default SETTINGS_HEADER_TABLE_SIZE (RFC 7540 6.5.2). */
export const DEFAULT_TABLE_SIZE_BYTES = 4096;
/** Per-entry overhead counted in table and header list sizes (RFC 7541 4.1). */
export const ENTRY_OVERHEAD_BYTES = 32;

/** The static table (RFC 7541 Appendix A); index 1 is STATIC_TABLE[0]. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'],
  [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'], [':status', '200'],
  [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'],
  [':status', '404'], [':status', '500'], ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''], ['accept-ranges', ''], ['accept', ''], ['access-control-allow-origin', ''],
  ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''],
  ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''],
  ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
  ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
assert(STATIC_TABLE.length === 61, 'hpack static table has 61 entries');

/** First static index of each name, for encoding a name by reference. */
const STATIC_NAME_INDEX: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  STATIC_TABLE.forEach(([name], i) => {
    if (!m.has(name)) m.set(name, i + 1);
  });
  return m;
})();

/**
 * Integers above this are refused: no legitimate index, length or table size comes near it,
 * and stopping here keeps the arithmetic exact.
 */
const MAX_INTEGER = 2 ** 28;

const fail = (msg: string): never => {
  throw new FloeError(ERR_HPACK, `hpack: ${msg}`);
};

/** Decoder settings. */
export interface HpackDecoderOptions {
  /**
   * The table size the peer's encoder may use: the receiving server's
   * SETTINGS_HEADER_TABLE_SIZE (default 4096). A size update above it is an error.
   */
  readonly maxTableSizeBytes?: number;
  /** Bound on one decoded block: sum of name + value + 32 per field (default 256 KiB). */
  readonly maxHeaderListBytes?: number;
}

/** What one header block held. */
export interface DecodedBlock {
  readonly fields: HeaderField[];
  /** Dynamic table size updates at the start of the block, in order. */
  readonly sizeUpdates: number[];
}

/**
 * Decodes a sequence of header blocks from one peer (one connection direction). Blocks must
 * be given in the order the peer sent them: each one may change the dynamic table the next
 * one refers to. After a FloeError the decoder's state is undefined; the connection is dead.
 */
export class HpackDecoder {
  readonly maxTableSizeBytes: number;
  readonly maxHeaderListBytes: number;
  /** The dynamic table, oldest first: dynamic index 62 is the last element. */
  private readonly entries: [string, string][] = [];
  private sizeBytes = 0;
  private limitBytes: number;

  constructor(opts: HpackDecoderOptions = {}) {
    this.maxTableSizeBytes = opts.maxTableSizeBytes ?? DEFAULT_TABLE_SIZE_BYTES;
    this.maxHeaderListBytes = opts.maxHeaderListBytes ?? 256 * 1024;
    assert(Number.isSafeInteger(this.maxTableSizeBytes) && this.maxTableSizeBytes >= 0 && this.maxTableSizeBytes <= MAX_INTEGER, `maxTableSizeBytes ${this.maxTableSizeBytes}`);
    assert(Number.isSafeInteger(this.maxHeaderListBytes) && this.maxHeaderListBytes > 0, `maxHeaderListBytes ${this.maxHeaderListBytes}`);
    this.limitBytes = this.maxTableSizeBytes;
  }

  /** Bytes the dynamic table holds now (RFC 7541 4.1). */
  get tableSizeBytes(): number {
    return this.sizeBytes;
  }

  /** The dynamic table, newest first (the order of its indices 62, 63, ...). */
  dynamicTable(): [string, string][] {
    return this.entries.map(([n, v]): [string, string] => [n, v]).reverse();
  }

  /** Decodes one complete header block (all fragments joined). */
  decode(block: Uint8Array): DecodedBlock {
    const fields: HeaderField[] = [];
    const sizeUpdates: number[] = [];
    let listBytes = 0;
    let pos = 0;
    const int = (prefixBits: number): number => {
      const [v, next] = readInteger(block, pos, prefixBits);
      pos = next;
      return v;
    };
    const str = (): string => {
      if (pos >= block.length) fail('string literal past the end of the block');
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (len > block.length - pos) fail('string literal longer than the block');
      const raw = block.subarray(pos, pos + len);
      pos += len;
      const bytes = huffman ? huffmanDecode(raw) : raw;
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    };
    const emit = (name: string, value: string, neverIndexed: boolean): void => {
      listBytes += name.length + value.length + ENTRY_OVERHEAD_BYTES;
      if (listBytes > this.maxHeaderListBytes) fail(`header list over ${this.maxHeaderListBytes} bytes`);
      fields.push({ name, value, neverIndexed });
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        // Indexed field (6.1).
        const [name, value] = this.lookup(int(7));
        emit(name, value, false);
      } else if (b & 0x40) {
        // Literal with incremental indexing (6.2.1).
        const idx = int(6);
        const name = idx === 0 ? str() : this.lookup(idx)[0];
        const value = str();
        emit(name, value, false);
        this.insert(name, value);
      } else if (b & 0x20) {
        // Dynamic table size update (6.3): only before the first field (4.2).
        if (fields.length > 0) fail('table size update after a header field');
        const size = int(5);
        if (size > this.maxTableSizeBytes) fail(`table size update to ${size} over the limit ${this.maxTableSizeBytes}`);
        sizeUpdates.push(size);
        this.limitBytes = size;
        this.evictTo(size);
      } else {
        // Literal without indexing (0000) or never indexed (0001) (6.2.2, 6.2.3).
        const neverIndexed = (b & 0x10) !== 0;
        const idx = int(4);
        const name = idx === 0 ? str() : this.lookup(idx)[0];
        emit(name, str(), neverIndexed);
      }
    }
    return { fields, sizeUpdates };
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) fail('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const d = index - STATIC_TABLE.length;
    if (d > this.entries.length) fail(`index ${index} beyond the dynamic table (${this.entries.length} entries)`);
    return this.entries[this.entries.length - d]!;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD_BYTES;
    // An entry larger than the table empties it and is not added (4.4).
    this.evictTo(Math.max(0, this.limitBytes - size));
    if (size <= this.limitBytes) {
      this.entries.push([name, value]);
      this.sizeBytes += size;
    }
    assert(this.sizeBytes <= this.limitBytes, 'hpack table over its limit');
  }

  private evictTo(targetBytes: number): void {
    let drop = 0;
    while (this.sizeBytes > targetBytes) {
      const [n, v] = this.entries[drop++]!;
      this.sizeBytes -= n.length + v.length + ENTRY_OVERHEAD_BYTES;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}

/** Reads an HPACK integer (5.1) with an N-bit prefix at `pos`; returns it and the next position. */
export function readInteger(buf: Uint8Array, pos: number, prefixBits: number): [number, number] {
  assert(prefixBits >= 1 && prefixBits <= 8, `prefix ${prefixBits}`);
  if (pos >= buf.length) fail('integer past the end of the block');
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++]! & max;
  if (value < max) return [value, pos];
  for (let shift = 0; ; shift += 7) {
    // Also bounds runs of zero continuation bytes, which never raise `value`.
    if (shift > 28) fail(`integer over ${MAX_INTEGER}`);
    if (pos >= buf.length) fail('integer past the end of the block');
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) fail(`integer over ${MAX_INTEGER}`);
    if ((b & 0x80) === 0) return [value, pos];
  }
}

/** Appends an HPACK integer (5.1) with an N-bit prefix; `flags` fills the bits above it. */
export function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `integer ${value}`);
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/**
 * Encodes fields as literals without indexing (never-indexed ones keep that form), names by
 * static-table reference where possible, strings raw (no Huffman). The result never refers to
 * or changes the receiver's dynamic table, and carries no table size update.
 */
export function encodeLiteralBlock(fields: readonly HeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const head: number[] = [];
    const flags = f.neverIndexed ? 0x10 : 0x00;
    const nameIndex = STATIC_NAME_INDEX.get(f.name);
    if (nameIndex !== undefined) {
      writeInteger(head, nameIndex, 4, flags);
    } else {
      head.push(flags);
      writeInteger(head, f.name.length, 7, 0);
      parts.push(Buffer.from(head), Buffer.from(f.name, 'latin1'));
      head.length = 0;
    }
    writeInteger(head, f.value.length, 7, 0);
    parts.push(Buffer.from(head), Buffer.from(f.value, 'latin1'));
  }
  return Buffer.concat(parts);
}
