/** How the engine's tools print and parse raw bytes (keys, values, bucket names). */
import { FloeError } from '../pkg';

export type PrintFormat = 'auto' | 'ascii' | 'hex';
export type ParseFormat = 'ascii' | 'hex';

/** True when every byte is printable ASCII (space through tilde). */
function printable(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Renders bytes: `auto` prints printable ASCII as is and anything else as hex. */
export function formatBytes(b: Uint8Array, fmt: PrintFormat): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (fmt === 'hex' || (fmt === 'auto' && !printable(b))) return buf.toString('hex');
  return buf.toString('latin1');
}

/** Parses a command-line argument into bytes. */
export function parseBytes(s: string, fmt: ParseFormat): Buffer {
  if (fmt === 'ascii') return Buffer.from(s, 'utf8');
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new FloeError('ERR_BAD_ARG', `invalid hex argument: ${s}`);
  return Buffer.from(s, 'hex');
}
