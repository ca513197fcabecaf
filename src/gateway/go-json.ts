/**
 * A JSON reader that accepts and refuses exactly what Go's encoding/json does and words its
 * errors the same way, because etcd's gateway (grpc-gateway v1 on Go) returns those texts to
 * HTTP clients verbatim (`{"error":"invalid character 'b' looking for beginning of object key
 * string",...}`).
 *
 * Two entry points mirror the two ways Go reads JSON in the gateway:
 * - `decodeFirstValue` is json.Decoder.Decode on a request body: only the first value counts
 *   (bytes after it are never looked at), an empty body is end-of-input (`null`), a value cut
 *   short is "unexpected EOF".
 * - `unmarshalValue` is json.Unmarshal on a whole text: trailing non-space is "after top-level
 *   value", a text cut short is "unexpected end of JSON input".
 *
 * Values keep what jsonpb later needs: the literal text of numbers (Go converts numbers per
 * target type) and the raw bytes between a string's quotes (enum names are read raw).
 * Objects keep Go's map semantics: a repeated key keeps its last value.
 */
import { FloeError } from '../pkg';

/** Code of every error this file raises; the message is Go's text. */
export const ERR_GO_JSON = 'ERR_GO_JSON';
/**
 * Nesting bound, with Go's "exceeded max depth" text. Go allows 10000 levels; this reader
 * recurses per level and stops at 512 (no etcd request comes near it: each nested txn adds
 * three levels), so documents nested 513..10000 deep are refused here and accepted by etcd.
 */
export const MAX_NESTING_DEPTH = 512;

/** One parsed JSON value. */
export type JsonValue =
  | { readonly kind: 'object'; readonly fields: ReadonlyMap<string, JsonValue> }
  | { readonly kind: 'array'; readonly items: readonly JsonValue[] }
  | { readonly kind: 'string'; readonly value: string; readonly raw: Buffer }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'null' };

/** Go's quoteChar: how a byte is shown inside "invalid character ..." messages. */
export function goQuoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };
  if (named[c] !== undefined) return `'${named[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  // Go quotes string(rune(c)): U+0080..U+009F, U+00A0 and U+00AD are not printable.
  if (c >= 0x80 && (c <= 0xa0 || c === 0xad)) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

const fail = (msg: string): never => {
  throw new FloeError(ERR_GO_JSON, msg);
};

/**
 * Thrown internally when input ends inside a value; each entry point words it its own way.
 * `context` is set where Go's scanner, fed the space it uses for end of input, would call
 * that space invalid (inside a literal or a number still needing a digit).
 */
class EndOfInput extends Error {
  constructor(readonly context?: string) {
    super('end of input');
  }
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private peek(context?: string): number {
    if (this.pos >= this.buf.length) throw new EndOfInput(context);
    return this.buf[this.pos]!;
  }

  private bad(c: number, context: string): never {
    return fail(`invalid character ${goQuoteChar(c)} ${context}`);
  }

  skipSpace(): void {
    while (this.pos < this.buf.length && isSpace(this.buf[this.pos]!)) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  /** Reads one value starting at the next non-space byte; `context` words a bad first byte. */
  value(depth: number, context = 'looking for beginning of value'): JsonValue {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b || c === 0x5b) {
      if (depth + 1 > MAX_NESTING_DEPTH) fail('exceeded max depth');
      return c === 0x7b ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x74) return (this.literal('true'), { kind: 'bool', value: true });
    if (c === 0x66) return (this.literal('false'), { kind: 'bool', value: false });
    if (c === 0x6e) return (this.literal('null'), { kind: 'null' });
    return this.bad(c, context);
  }

  private object(depth: number): JsonValue {
    this.pos++;
    const fields = new Map<string, JsonValue>();
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return { kind: 'object', fields };
    }
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c !== 0x22) this.bad(c, 'looking for beginning of object key string');
      const key = this.string();
      this.skipSpace();
      const colon = this.peek();
      if (colon !== 0x3a) this.bad(colon, 'after object key');
      this.pos++;
      // Go's map assignment: a repeated key replaces the earlier value.
      fields.set(key.kind === 'string' ? key.value : '', this.value(depth));
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === 0x7d) return { kind: 'object', fields };
      if (next !== 0x2c) {
        this.pos--;
        this.bad(next, 'after object key:value pair');
      }
    }
  }

  private array(depth: number): JsonValue {
    this.pos++;
    const items: JsonValue[] = [];
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value(depth));
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === 0x5d) return { kind: 'array', items };
      if (next !== 0x2c) {
        this.pos--;
        this.bad(next, 'after array element');
      }
    }
  }

  private string(): JsonValue {
    const start = ++this.pos;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) break;
      if (c < 0x20) this.bad(c, 'in string literal');
      this.pos++;
      if (c !== 0x5c) continue;
      const e = this.peek();
      this.pos++;
      if (e === 0x75) {
        for (let i = 0; i < 4; i++) {
          const h = this.peek();
          if (!isHex(h)) this.bad(h, 'in \\u hexadecimal character escape');
          this.pos++;
        }
      } else if (!'bfnrt\\/"'.includes(String.fromCharCode(e))) {
        this.bad(e, 'in string escape code');
      }
    }
    const raw = this.buf.subarray(start, this.pos);
    this.pos++;
    // The bytes are valid JSON string content by now; invalid UTF-8 becomes U+FFFD as in Go.
    return { kind: 'string', value: JSON.parse(`"${raw.toString('utf8')}"`) as string, raw };
  }

  private number(): JsonValue {
    const start = this.pos;
    const digits = (context: string): void => {
      const c = this.peekOrEnd();
      if (c === -1) throw new EndOfInput(context);
      if (!isDigit(c)) this.bad(c, context);
      while (isDigit(this.peekOrEnd())) this.pos++;
    };
    if (this.buf[this.pos] === 0x2d) this.pos++;
    if (this.peekOrEnd() === 0x30) this.pos++;
    else digits('in numeric literal');
    if (this.peekOrEnd() === 0x2e) {
      this.pos++;
      digits('after decimal point in numeric literal');
    }
    const e = this.peekOrEnd();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const s = this.peekOrEnd();
      if (s === 0x2b || s === 0x2d) this.pos++;
      digits('in exponent of numeric literal');
    }
    return { kind: 'number', text: this.buf.toString('latin1', start, this.pos) };
  }

  private peekOrEnd(): number {
    return this.pos < this.buf.length ? this.buf[this.pos]! : -1;
  }

  private literal(word: string): void {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      const context = `in literal ${word} (expecting '${word[i]}')`;
      const c = this.peek(context);
      if (c !== word.charCodeAt(i)) this.bad(c, context);
      this.pos++;
    }
  }
}

/**
 * json.Decoder.Decode on a request body: the first value, or `null` when the body holds only
 * white space (Go's io.EOF, which the gateway treats as an empty request). Throws FloeError
 * (ERR_GO_JSON) with Go's text.
 */
export function decodeFirstValue(body: Buffer): JsonValue | null {
  const r = new Reader(body);
  r.skipSpace();
  if (r.atEnd()) return null;
  try {
    return r.value(0);
  } catch (e) {
    if (e instanceof EndOfInput) return fail('unexpected EOF');
    throw e;
  }
}

/** A json.Decoder over a stream of values (a watch or keep-alive request body). */
export class ValueStream {
  private buf: Buffer = Buffer.alloc(0);

  /** Appends bytes that arrived. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Bytes held that do not yet form a whole value. */
  get heldBytes(): number {
    return this.buf.length;
  }

  /**
   * The next whole value, or undefined when more bytes are needed (or, with `ended`, when only
   * white space is left). With `ended`, a cut-short value is "unexpected EOF". Throws
   * FloeError (ERR_GO_JSON) with Go's text on bad input.
   */
  next(ended: boolean): JsonValue | undefined {
    const r = new Reader(this.buf);
    r.skipSpace();
    if (r.atEnd()) {
      this.buf = Buffer.alloc(0);
      return undefined;
    }
    let v: JsonValue;
    try {
      v = r.value(0);
      // A top-level number is only complete once a byte after it (or the end) is seen.
      if (v.kind === 'number' && r.atEnd() && !ended) return undefined;
    } catch (e) {
      if (!(e instanceof EndOfInput)) throw e;
      if (ended) fail('unexpected EOF');
      return undefined;
    }
    this.buf = this.buf.subarray(r.pos);
    return v;
  }
}

/**
 * json.Unmarshal's syntax check and parse of a whole text (used where jsonpb hands a quoted
 * number's inner text back to Go's decoder). Throws FloeError (ERR_GO_JSON) with Go's text.
 */
export function unmarshalValue(text: Buffer): JsonValue {
  const r = new Reader(text);
  let v: JsonValue;
  try {
    v = r.value(0);
  } catch (e) {
    if (e instanceof EndOfInput) return fail(e.context === undefined ? 'unexpected end of JSON input' : `invalid character ' ' ${e.context}`);
    throw e;
  }
  r.skipSpace();
  if (!r.atEnd()) fail(`invalid character ${goQuoteChar(text[r.pos]!)} after top-level value`);
  return v;
}

/** Go's name of a JSON value's kind in "cannot unmarshal X into Go value of type T". */
export function goKindName(v: JsonValue): string {
  switch (v.kind) {
    case 'object':
      return 'object';
    case 'array':
      return 'array';
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'bool':
      return 'bool';
    case 'null':
      return 'null';
  }
}
