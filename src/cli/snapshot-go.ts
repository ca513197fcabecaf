/**
 * How Go (etcdctl's language) renders values in the texts the snapshot commands must match:
 * error strings of failed system calls, `%q`, `%v` of a byte slice, and encoding/json strings.
 */

/** Go's texts for the errno codes a file operation can meet here (syscall.Errno.Error()). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** Go's *PathError text: `op path: reason` (e.g. `open x.db: no such file or directory`). */
export function goErrnoMessage(op: string, file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const text = code !== undefined ? ERRNO_TEXT[code] : undefined;
  return `${op} ${file}: ${text ?? (e instanceof Error ? e.message : String(e))}`;
}

/** Go's `%v` of a []byte: decimal bytes in brackets, space separated. */
export function goBytes(b: Uint8Array): string {
  return `[${Array.from(b).join(' ')}]`;
}

/** Go's `%q` of a string (printable ASCII kept; quote, backslash and the rest escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/**
 * A string as Go's encoding/json writes it: like JSON.stringify, except that `<`, `>`, `&`,
 * U+2028 and U+2029 are escaped as \u00XX / \u20XX and \b, \f as \u0008, \u000c.
 */
export function goJsonString(s: string): string {
  // Escape sequences are consumed whole so that an escaped backslash followed by `b` stays.
  return JSON.stringify(s).replace(/\\.|[<>&\u2028\u2029]/g, (m) => {
    if (m === '\\b') return '\\u0008';
    if (m === '\\f') return '\\u000c';
    if (m.length === 2) return m;
    return '\\u' + m.charCodeAt(0).toString(16).padStart(4, '0');
  });
}
