/**
 * A minimal DER (X.690) encoder: just the types an X.509 certificate needs. Each function
 * returns the complete TLV (tag, length, value) so values nest by concatenation.
 *
 *   sequence(integer(2n), oid('1.2.840.10045.4.3.2'), utcTime(new Date()))
 *
 * Node's crypto parses and verifies certificates but cannot build them; this is the building
 * half, kept separate so its encodings can be checked against known byte strings.
 */
import { FloeError, assert } from '../pkg';

/** Code of the FloeError for a value DER cannot represent. */
export const ERR_DER = 'ERR_TLS_DER';

/** Universal tags used here. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The length octets: short form below 128, else long form (0x80 | count, big-endian). */
export function encodeLength(length: number): Buffer {
  assert(Number.isSafeInteger(length) && length >= 0, `DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with `tag` (a single tag octet) around `value`. */
export function tlv(tag: number, value: Uint8Array): Buffer {
  assert(Number.isInteger(tag) && tag >= 0 && tag <= 0xff, `DER tag ${tag}`);
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

/** SEQUENCE of the given encoded elements, in the order given. */
export function sequence(...elements: readonly Uint8Array[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(elements));
}

/**
 * SET OF the given encoded elements. DER orders a SET OF by the encodings' bytes; we sort so
 * the output is canonical whatever the caller's order.
 */
export function setOf(...elements: readonly Uint8Array[]): Buffer {
  const sorted = elements.map((e) => Buffer.from(e)).sort(Buffer.compare);
  return tlv(TAG.SET, Buffer.concat(sorted));
}

/**
 * INTEGER from a bigint (two's complement, minimal octets) or from unsigned big-endian bytes
 * (leading zeros dropped, a 0x00 added when the top bit is set so it stays positive).
 */
export function integer(value: bigint | Uint8Array): Buffer {
  if (typeof value !== 'bigint') {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    const body = value.length === 0 ? Buffer.from([0]) : Buffer.from(value.subarray(start));
    return tlv(TAG.INTEGER, (body[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), body]) : body);
  }
  const bytes: number[] = [];
  let v = value;
  // Emit low bytes until what remains is only sign extension of the byte already emitted.
  for (;;) {
    const byte = Number(BigInt.asUintN(8, v));
    bytes.unshift(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

/** BOOLEAN: DER writes true as 0xff. */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

/** NULL. */
export function nullValue(): Buffer {
  return tlv(TAG.NULL, Buffer.alloc(0));
}

/** OBJECT IDENTIFIER from dotted text: first two arcs as 40*a+b, then base-128 arcs. */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.\d+)+$/.test(dotted)) throw new FloeError(ERR_DER, `invalid object identifier ${JSON.stringify(dotted)}`);
  const arcs = dotted.split('.').map((s) => BigInt(s));
  if (arcs[0]! < 2n && arcs[1]! >= 40n) throw new FloeError(ERR_DER, `invalid object identifier ${JSON.stringify(dotted)}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let a = arc >> 7n; a > 0n; a >>= 7n) groups.unshift(Number(a & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, bytes);
}

/** BIT STRING of whole bytes (no unused bits): keys and signatures. */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
}

/**
 * A named-bit BIT STRING (e.g. keyUsage): bit 0 is the most significant bit of the first
 * octet. DER drops trailing zero bits, so the length depends on the highest bit set.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(TAG.BIT_STRING, Buffer.from([0]));
  const highest = Math.max(...bits);
  assert(bits.every((b) => Number.isInteger(b) && b >= 0), `named bits ${bits.join(',')}`);
  const body = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) body[Math.floor(b / 8)]! |= 0x80 >> b % 8;
  const unused = 7 - (highest % 8);
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unused]), body]));
}

/** True when PrintableString can hold `s` (X.680's small character set). */
export function isPrintable(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

/** A directory string: PrintableString when it can hold `s`, else UTF8String (as Go does). */
export function directoryString(s: string): Buffer {
  return isPrintable(s) ? tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1')) : tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
}

/** IA5String (ASCII only: DNS names in a SAN). */
export function ia5String(s: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new FloeError(ERR_DER, `not an IA5 (ASCII) string: ${JSON.stringify(s)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * X.509's Time: UTCTime (YYMMDDHHMMSSZ) for years 1950 to 2049, GeneralizedTime
 * (YYYYMMDDHHMMSSZ) outside them (RFC 5280 4.1.2.5). Whole seconds, UTC.
 */
export function x509Time(when: Date): Buffer {
  const ms = when.getTime();
  if (!Number.isFinite(ms)) throw new FloeError(ERR_DER, 'invalid date');
  const y = when.getUTCFullYear();
  if (y < 0 || y > 9999) throw new FloeError(ERR_DER, `year ${y} out of range`);
  const rest = `${pad2(when.getUTCMonth() + 1)}${pad2(when.getUTCDate())}${pad2(when.getUTCHours())}${pad2(when.getUTCMinutes())}${pad2(when.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return tlv(TAG.UTC_TIME, Buffer.from(pad2(y % 100) + rest, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}

/** A context-specific constructed tag [n] EXPLICIT around an encoded element. */
export function explicit(n: number, element: Uint8Array): Buffer {
  assert(Number.isInteger(n) && n >= 0 && n <= 30, `context tag ${n}`);
  return tlv(0xa0 | n, element);
}

/** A context-specific primitive tag [n] IMPLICIT on raw content bytes. */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  assert(Number.isInteger(n) && n >= 0 && n <= 30, `context tag ${n}`);
  return tlv(0x80 | n, content);
}
