/**
 * The JSON form of etcd's protobuf messages as etcd 3.4's gateway reads and writes it
 * (grpc-gateway v1's JSONPb marshaler, i.e. golang/protobuf jsonpb with OrigName and
 * AllowUnknownFields), driven by protobufjs reflection over our copy of etcd's .proto files.
 *
 * Writing (response -> JSON), the facts clients see:
 * - field names as in the .proto (`create_revision`, `ID`, `dbSize`), in declaration order;
 * - fields at their zero value are left out (0, "", false, empty bytes, empty lists, unset
 *   messages, the first enum value), except a set oneof member, which is always written;
 * - 64-bit integers as decimal strings, 32-bit ones as numbers, bytes as padded standard
 *   base64, enums by name (a number when the value has no name), strings escaped as Go does
 *   (`<`, `>`, `&`, U+2028, U+2029 as \u escapes).
 *
 * Reading (JSON -> request), jsonpb's rules and Go's error texts:
 * - a field is found under its .proto name or its lowerCamel JSON name (the latter wins when
 *   both are given); unknown names are ignored; `null` leaves a field unset;
 * - fields are converted in declaration order, oneof members after the rest, and the first
 *   failure is the error (so its text names the first bad field in that order);
 * - numbers may be quoted; a quoted number's inner text goes back through Go's decoder;
 * - enums by name (raw text between the quotes) or by number.
 */
import * as protobuf from 'protobufjs';
import { FloeError, assert } from '../pkg';
import { decodeGoBase64, ERR_BASE64 } from './go-base64';
import { goKindName, unmarshalValue, type JsonValue } from './go-json';

/** Code of a request body that jsonpb refuses; the message is Go's text. */
export const ERR_JSONPB = 'ERR_JSONPB';

const fail = (msg: string): never => {
  throw new FloeError(ERR_JSONPB, msg);
};

const typeError = (what: string, goType: string): never => fail(`json: cannot unmarshal ${what} into Go value of type ${goType}`);

/** protoc's JSON name of a field: underscores dropped, the letter after each upper-cased. */
export function lowerCamelName(name: string): string {
  let out = '';
  let upper = false;
  for (const ch of name) {
    if (ch === '_') upper = true;
    else if (upper) {
      out += ch >= 'a' && ch <= 'z' ? ch.toUpperCase() : ch;
      upper = false;
    } else out += ch;
  }
  return out;
}

/** Go's type name of an enum: package, then nested names joined by '_'. */
export function goEnumName(e: protobuf.Enum): string {
  const nested: string[] = [];
  const pkg: string[] = [];
  for (let n: protobuf.ReflectionObject | null = e; n !== null && n.parent !== null; n = n.parent) {
    if (n instanceof protobuf.Type || n instanceof protobuf.Enum) nested.unshift(n.name);
    else pkg.unshift(n.name);
  }
  return `${pkg.join('.')}.${nested.join('_')}`;
}

/** A 64-bit value as protobufjs decodes it (a Long from the `long` package). */
interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
  toString(): string;
}
const isLong = (v: unknown): v is LongLike => typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number';

const INT_RANGES = {
  int64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, unsigned: false, long: true },
  sint64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, unsigned: false, long: true },
  sfixed64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, unsigned: false, long: true },
  uint64: { min: 0n, max: 2n ** 64n - 1n, unsigned: true, long: true },
  fixed64: { min: 0n, max: 2n ** 64n - 1n, unsigned: true, long: true },
  int32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, unsigned: false, long: false },
  sint32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, unsigned: false, long: false },
  sfixed32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, unsigned: false, long: false },
  uint32: { min: 0n, max: 2n ** 32n - 1n, unsigned: true, long: false },
  fixed32: { min: 0n, max: 2n ** 32n - 1n, unsigned: true, long: false },
} as const;
type IntType = keyof typeof INT_RANGES;
const isIntType = (t: string): t is IntType => Object.prototype.hasOwnProperty.call(INT_RANGES, t);

/** Go's name of a scalar target type in error texts. */
const goScalarName = (t: string): string => (t === 'bytes' ? '[]uint8' : t === 'sint64' || t === 'sfixed64' ? 'int64' : t === 'sint32' || t === 'sfixed32' ? 'int32' : t === 'fixed64' ? 'uint64' : t === 'fixed32' ? 'uint32' : t);

/** strconv.ParseInt/ParseUint of a JSON number literal into `bits`; null when Go refuses it. */
function parseGoInt(text: string, range: { min: bigint; max: bigint }): bigint | null {
  if (!/^-?[0-9]+$/.test(text)) return null;
  const v = BigInt(text);
  return v < range.min || v > range.max ? null : v;
}

/**
 * Go's json.Unmarshal of one value into an integer-kinded Go type: a decimal string for 64-bit
 * types (protobufjs encodes those exactly), a number for 32-bit ones.
 */
function toInteger(v: JsonValue, t: IntType, goType: string): string | number | undefined {
  if (v.kind === 'null') return undefined;
  if (v.kind !== 'number') return typeError(goKindName(v), goType);
  const range = INT_RANGES[t];
  const n = parseGoInt(v.text, range);
  if (n === null) return typeError(`number ${v.text}`, goType);
  return range.long ? n.toString() : Number(n);
}

/** jsonpb's handling of a numeric field: strip one pair of quotes, then Go's decoder. */
function numericValue(v: JsonValue): JsonValue {
  return v.kind === 'string' ? unmarshalValue(v.raw) : v;
}

function scalarFromJson(field: protobuf.Field, v: JsonValue): unknown {
  const t = field.type;
  if (field.resolvedType !== null && (field.resolvedType as protobuf.Enum).values !== undefined) {
    const e = field.resolvedType as protobuf.Enum;
    if (v.kind === 'string') {
      const name = v.raw.toString('latin1');
      const n = e.values[name];
      if (n === undefined) return fail(`unknown value ${JSON.stringify(name)} for enum ${goEnumName(e)}`);
      return n;
    }
    return toInteger(v, 'int32', goEnumName(e));
  }
  if (isIntType(t)) return toInteger(numericValue(v), t, goScalarName(t));
  switch (t) {
    case 'bool':
      if (v.kind === 'null') return undefined;
      return v.kind === 'bool' ? v.value : typeError(goKindName(v), 'bool');
    case 'string':
      if (v.kind === 'null') return undefined;
      return v.kind === 'string' ? v.value : typeError(goKindName(v), 'string');
    case 'bytes':
      return bytesFromJson(v);
    case 'double':
    case 'float': {
      const n = numericValue(v);
      if (n.kind === 'null') return undefined;
      return n.kind === 'number' ? Number(n.text) : typeError(goKindName(n), t === 'float' ? 'float32' : 'float64');
    }
  }
  return fail(`unsupported field type ${t}`);
}

function bytesFromJson(v: JsonValue): Buffer | undefined {
  switch (v.kind) {
    case 'null':
      return undefined;
    case 'string':
      try {
        return decodeGoBase64(Buffer.from(v.value, 'utf8'));
      } catch (e) {
        if (e instanceof FloeError && e.code === ERR_BASE64) fail(e.message);
        throw e;
      }
      break;
    case 'array':
      // Go fills a []byte from a JSON array of numbers, one byte each.
      return Buffer.from(v.items.map((item) => toInteger(item, 'uint32', 'uint8') ?? 0).map((n) => {
        if ((n as number) > 255) typeError(`number ${n as number}`, 'uint8');
        return n as number;
      }));
    default:
      return typeError(goKindName(v), '[]uint8');
  }
}

function fieldFromJson(field: protobuf.Field, v: JsonValue): unknown {
  if (field.repeated) {
    if (v.kind === 'null') return undefined;
    const rt = field.resolvedType;
    if (v.kind === 'string' && rt instanceof protobuf.Enum) {
      // jsonpb tries an enum name before it looks at the list.
      scalarFromJson(field, v);
      return fail(`invalid target "slice" for enum ${goEnumName(rt)}`);
    }
    if (v.kind !== 'array') return typeError(goKindName(v), '[]json.RawMessage');
    return v.items.map((item) => elementFromJson(field, item) ?? defaultElement(field));
  }
  return elementFromJson(field, v);
}

function defaultElement(field: protobuf.Field): unknown {
  if (field.resolvedType !== null && (field.resolvedType as protobuf.Type).fieldsArray !== undefined) return {};
  return field.type === 'bytes' ? Buffer.alloc(0) : field.type === 'string' ? '' : field.type === 'bool' ? false : 0;
}

function elementFromJson(field: protobuf.Field, v: JsonValue): unknown {
  const rt = field.resolvedType;
  if (rt !== null && (rt as protobuf.Type).fieldsArray !== undefined) {
    if (v.kind === 'null') return undefined;
    return messageFromJson(rt as protobuf.Type, v);
  }
  return scalarFromJson(field, v);
}

/**
 * A request message (as a plain object for `type.encode`) from its JSON, by jsonpb's rules;
 * `null` (an empty body, or JSON null) is the empty message. Throws FloeError (ERR_JSONPB).
 */
export function messageFromJson(type: protobuf.Type, v: JsonValue | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (v === null || v.kind === 'null') return out;
  if (v.kind !== 'object') return typeError(goKindName(v), 'map[string]json.RawMessage');
  const take = (field: protobuf.Field): JsonValue | undefined => v.fields.get(lowerCamelName(field.name)) ?? v.fields.get(field.name);
  const plain = type.fieldsArray.filter((f) => f.partOf === null);
  const members = type.fieldsArray.filter((f) => f.partOf !== null);
  for (const field of [...plain, ...members]) {
    const raw = take(field);
    if (raw === undefined) continue;
    const value = fieldFromJson(field, raw);
    if (value === undefined) continue;
    if (field.partOf !== null) {
      // The last member given wins, as in Go; the others are cleared.
      for (const other of field.partOf.fieldsArray) delete out[other.name];
    }
    out[field.name] = value;
  }
  return out;
}

// ---- writing -------------------------------------------------------------------------------

/** Go's json.Marshal of a string (HTML-safe escaping, as encoding/json does by default). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is not valid UTF-8: Go writes U+FFFD.
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else out += '\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

function isZero(field: protobuf.Field, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (field.repeated) return (value as unknown[]).length === 0;
  if (isLong(value)) return value.low === 0 && value.high === 0;
  if (typeof value === 'number') return value === 0;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') return value.length === 0;
  // An absent bytes field decodes to protobufjs's default, an empty array, not a Buffer.
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length === 0;
  return false;
}

function scalarToJson(field: protobuf.Field, value: unknown): string {
  const rt = field.resolvedType;
  if (rt !== null && (rt as protobuf.Enum).values !== undefined) {
    const name = (rt as protobuf.Enum).valuesById[value as number];
    return name === undefined ? String(value) : goJsonString(name);
  }
  if (isIntType(field.type)) {
    const text = isLong(value) ? value.toString() : String(value);
    return INT_RANGES[field.type].long ? `"${text}"` : text;
  }
  switch (field.type) {
    case 'bool':
      return value === true ? 'true' : 'false';
    case 'string':
      return goJsonString(value as string);
    case 'bytes':
      return `"${Buffer.from(value as Uint8Array).toString('base64')}"`;
    default:
      return String(value);
  }
}

function elementToJson(field: protobuf.Field, value: unknown): string {
  const rt = field.resolvedType;
  if (rt !== null && (rt as protobuf.Type).fieldsArray !== undefined) return messageToJson(rt as protobuf.Type, value as protobuf.Message);
  return scalarToJson(field, value);
}

/** A decoded response message as jsonpb writes it (see the file comment). */
export function messageToJson(type: protobuf.Type, msg: protobuf.Message | Record<string, unknown>): string {
  const parts: string[] = [];
  const m = msg as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    const value = m[field.name];
    if (field.partOf !== null) {
      if (m[field.partOf.name] !== field.name || value === null || value === undefined) continue;
    } else if (isZero(field, value)) continue;
    const json = field.repeated ? `[${(value as unknown[]).map((v) => elementToJson(field, v)).join(',')}]` : elementToJson(field, value);
    parts.push(`${goJsonString(field.name)}:${json}`);
  }
  return `{${parts.join(',')}}`;
}

/** The Type of a message by full name; asserts it exists (names come from our own tables). */
export function lookupType(root: protobuf.Root, name: string): protobuf.Type {
  const t = root.lookupType(name);
  assert(t !== null, `message type ${name}`);
  return t;
}
