/**
 * Standard base64 (RFC 4648, padded) decoding as Go's encoding/base64 StdEncoding does it, for
 * the gateway's bytes fields: the same inputs are accepted (CR and LF are skipped anywhere,
 * unused low bits of the last quantum are ignored) and the same ones refused, with Go's
 * error text "illegal base64 data at input byte N" and the same N, which etcd's gateway
 * returns to clients.
 */
import { FloeError } from '../pkg';

/** Code of the error for input Go refuses; the message is Go's text. */
export const ERR_BASE64 = 'ERR_BASE64';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
const PAD = 0x3d;
const isNewline = (c: number): boolean => c === 0x0a || c === 0x0d;

const corrupt = (at: number): never => {
  throw new FloeError(ERR_BASE64, `illegal base64 data at input byte ${at}`);
};

/** Decodes `src` (the bytes of a JSON string's value); throws FloeError (ERR_BASE64). */
export function decodeGoBase64(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.floor(src.length / 4) * 3 + 3);
  let n = 0;
  let si = 0;
  // One quantum (up to four symbols) per turn, following Go's decodeQuantum step by step so
  // that the reported offset is the same.
  while (si < src.length) {
    const q = [0, 0, 0, 0];
    let len = 4;
    let ended = false;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return out.subarray(0, n);
        // Padding is required, so a short final quantum is refused at its first symbol.
        corrupt(si - j);
      }
      const c = src[si]!;
      si++;
      const v = DECODE[c]!;
      if (v >= 0) {
        q[j] = v;
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== PAD || j < 2) corrupt(si - 1);
      if (j === 2) {
        // "==" expected: the first '=' was just read.
        while (si < src.length && isNewline(src[si]!)) si++;
        if (si === src.length) corrupt(src.length);
        if (src[si] !== PAD) corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si]!)) si++;
      if (si < src.length) corrupt(si);
      len = j;
      ended = true;
      break;
    }
    const bits = (q[0]! << 18) | (q[1]! << 12) | (q[2]! << 6) | q[3]!;
    out[n++] = (bits >> 16) & 0xff;
    if (len >= 3) out[n++] = (bits >> 8) & 0xff;
    if (len === 4) out[n++] = bits & 0xff;
    if (ended) break;
  }
  return out.subarray(0, n);
}
