import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FloeError } from '../pkg';
import { ValueStream, decodeFirstValue, goQuoteChar, unmarshalValue, MAX_NESTING_DEPTH } from './go-json';

/**
 * [input, json.Decoder.Decode error, json.Unmarshal error] from Go 1.19's encoding/json
 * ("EOF" is the decoder's io.EOF: an empty body, which the gateway reads as no fields).
 */
const GO_CASES: readonly [string, string | null, string | null][] = [
  ["", "EOF", "unexpected end of JSON input"],
  ["   ", "EOF", "unexpected end of JSON input"],
  ["{", "unexpected EOF", "unexpected end of JSON input"],
  ["{\"a\"", "unexpected EOF", "unexpected end of JSON input"],
  ["{\"a\":", "unexpected EOF", "unexpected end of JSON input"],
  ["{\"a\":1", "unexpected EOF", "unexpected end of JSON input"],
  ["{\"a\":1,", "unexpected EOF", "unexpected end of JSON input"],
  ["{bad", "invalid character 'b' looking for beginning of object key string", "invalid character 'b' looking for beginning of object key string"],
  ["{\"a\" 1}", "invalid character '1' after object key", "invalid character '1' after object key"],
  ["{\"a\":1 \"b\":2}", "invalid character '\"' after object key:value pair", "invalid character '\"' after object key:value pair"],
  ["[1 2]", "invalid character '2' after array element", "invalid character '2' after array element"],
  ["[1,]", "invalid character ']' looking for beginning of value", "invalid character ']' looking for beginning of value"],
  ["{\"a\":1,}", "invalid character '}' looking for beginning of object key string", "invalid character '}' looking for beginning of object key string"],
  ["tru", "unexpected EOF", "invalid character ' ' in literal true (expecting 'e')"],
  ["trux", "invalid character 'x' in literal true (expecting 'e')", "invalid character 'x' in literal true (expecting 'e')"],
  ["nul", "unexpected EOF", "invalid character ' ' in literal null (expecting 'l')"],
  ["falsy", "invalid character 'y' in literal false (expecting 'e')", "invalid character 'y' in literal false (expecting 'e')"],
  ["-", "unexpected EOF", "invalid character ' ' in numeric literal"],
  ["-a", "invalid character 'a' in numeric literal", "invalid character 'a' in numeric literal"],
  ["01", null, "invalid character '1' after top-level value"],
  ["1.", "unexpected EOF", "invalid character ' ' after decimal point in numeric literal"],
  ["1.x", "invalid character 'x' after decimal point in numeric literal", "invalid character 'x' after decimal point in numeric literal"],
  ["1e", "unexpected EOF", "invalid character ' ' in exponent of numeric literal"],
  ["1e+", "unexpected EOF", "invalid character ' ' in exponent of numeric literal"],
  ["1ex", "invalid character 'x' in exponent of numeric literal", "invalid character 'x' in exponent of numeric literal"],
  ["\"abc", "unexpected EOF", "unexpected end of JSON input"],
  ["\"a\\x\"", "invalid character 'x' in string escape code", "invalid character 'x' in string escape code"],
  ["\"a\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape", "invalid character 'g' in \\u hexadecimal character escape"],
  ["\"a\tb\"", "invalid character '\\t' in string literal", "invalid character '\\t' in string literal"],
  ["{\"a\":1} trailing", null, "invalid character 't' after top-level value"],
  ["12 ", null, null],
  ["x", "invalid character 'x' looking for beginning of value", "invalid character 'x' looking for beginning of value"],
  ["'", "invalid character '\\'' looking for beginning of value", "invalid character '\\'' looking for beginning of value"],
  ["\u0001", "invalid character '\\x01' looking for beginning of value", "invalid character '\\x01' looking for beginning of value"],
  ["]", "invalid character ']' looking for beginning of value", "invalid character ']' looking for beginning of value"],
  ["{\"a\":[1,{\"b\":nul}]}", "invalid character '}' in literal null (expecting 'l')", "invalid character '}' in literal null (expecting 'l')"],
  ["\"\\u00e9\"", null, null],
  ["{\"k\":\"v\",\"k\":\"w\"}", null, null],
  ["é", "invalid character 'Ã' looking for beginning of value", "invalid character 'Ã' looking for beginning of value"],
];

const errorOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    assert.ok(e instanceof FloeError, `unexpected ${String(e)}`);
    return e.message;
  }
};

test('decodeFirstValue fails exactly where json.Decoder does, with its text', () => {
  for (const [input, decodeErr] of GO_CASES) {
    const buf = Buffer.from(input, 'utf8');
    if (decodeErr === 'EOF') {
      assert.equal(decodeFirstValue(buf), null, `input ${JSON.stringify(input)}`);
      continue;
    }
    assert.equal(errorOf(() => decodeFirstValue(buf)), decodeErr, `input ${JSON.stringify(input)}`);
  }
});

test('unmarshalValue fails exactly where json.Unmarshal does, with its text', () => {
  for (const [input, , unmarshalErr] of GO_CASES) {
    assert.equal(errorOf(() => unmarshalValue(Buffer.from(input, 'utf8'))), unmarshalErr, `input ${JSON.stringify(input)}`);
  }
});

test('values keep number text, raw string bytes and the last of repeated keys', () => {
  const v = decodeFirstValue(Buffer.from('{"n":-12.5e3,"s":"a\\u00e9","s":"b\\n","x":[true,null]}'));
  assert.ok(v !== null && v.kind === 'object');
  assert.deepEqual(v.fields.get('n'), { kind: 'number', text: '-12.5e3' });
  const s = v.fields.get('s');
  assert.ok(s !== undefined && s.kind === 'string');
  assert.equal(s.value, 'b\n');
  assert.equal(s.raw.toString(), 'b\\n');
});

test('a byte that is not UTF-8 is named as Go names it', () => {
  assert.equal(errorOf(() => decodeFirstValue(Buffer.from([0x80]))), "invalid character '\\u0080' looking for beginning of value");
});

test('nesting is refused one level past the bound and accepted at it', () => {
  const doc = (depth: number): Buffer => Buffer.from('['.repeat(depth) + ']'.repeat(depth));
  assert.equal(decodeFirstValue(doc(MAX_NESTING_DEPTH))?.kind, 'array');
  assert.equal(errorOf(() => decodeFirstValue(doc(MAX_NESTING_DEPTH + 1))), 'exceeded max depth');
});

test('goQuoteChar quotes bytes as Go\'s quoteChar', () => {
  assert.equal(goQuoteChar(0x62), "'b'");
  assert.equal(goQuoteChar(0x27), "'\\''");
  assert.equal(goQuoteChar(0x22), `'"'`);
  assert.equal(goQuoteChar(0x09), "'\\t'");
  assert.equal(goQuoteChar(0x01), "'\\x01'");
  assert.equal(goQuoteChar(0x80), "'\\u0080'");
  assert.equal(goQuoteChar(0xc3), "'\u00c3'");
});

test('ValueStream yields whole values as bytes arrive, in any split', () => {
  const text = '{"create_request":{"key":"YQ=="}} 12\n{"cancel_request":{}}';
  for (let split = 0; split <= text.length; split++) {
    const s = new ValueStream();
    const got: string[] = [];
    const drain = (ended: boolean): void => {
      for (let v = s.next(ended); v !== undefined; v = s.next(ended)) got.push(v.kind === 'number' ? v.text : v.kind);
    };
    s.push(Buffer.from(text.slice(0, split)));
    drain(false);
    s.push(Buffer.from(text.slice(split)));
    drain(false);
    drain(true);
    assert.deepEqual(got, ['object', '12', 'object'], `split at ${split}`);
  }
});

test('ValueStream reports a value cut short at the end as unexpected EOF', () => {
  const s = new ValueStream();
  s.push(Buffer.from('{"a":'));
  assert.equal(s.next(false), undefined);
  assert.equal(errorOf(() => s.next(true)), 'unexpected EOF');
});
