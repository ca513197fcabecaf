/**
 * The applied state of one simulated node: a hash chain over every applied entry (so two nodes
 * that applied different entries anywhere disagree from then on) and a small KV map written by
 * client proposals ("key=value"), which ReadIndex reads are checked against.
 *
 * The state machine is volatile, like a cache in front of the log: a restarted node rebuilds it
 * from its durable snapshot and replays the committed entries raft hands out again.
 */
import { Entry } from '../raft';

/** Where a key's value came from: the proposal id and the log index that wrote it. */
export interface KvValue {
  readonly proposal: number;
  readonly index: number;
}

/** Applied state; `index` is the last applied log index. */
export interface SmState {
  index: number;
  hash: number;
  readonly kv: Map<string, KvValue>;
}

/** The state before anything was applied. */
export function emptySm(): SmState {
  return { index: 0, hash: 0, kv: new Map() };
}

/** FNV-1a over `bytes`, continuing from `h`. */
function fnv(h: number, bytes: Uint8Array | string): number {
  for (let i = 0; i < bytes.length; i++) {
    h ^= typeof bytes === 'string' ? bytes.charCodeAt(i) : bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The chain value after applying `e` on top of `prev`: covers index, term, type and data. */
export function chainHash(prev: number, e: Entry): number {
  return fnv(fnv(prev ^ 0x9e3779b9, `${e.index}/${e.term}/${e.type}/`), e.data);
}

/** Text of a payload (the simulator's payloads are ASCII). */
export function text(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/** ASCII bytes of `s`. */
export function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** A client write's payload: proposal id, key, value. */
export interface Write {
  readonly proposal: number;
  readonly key: string;
}

/** Payload of write `proposal` to `key` ("p<id>:<key>"). */
export function encodeWrite(w: Write): Uint8Array {
  return bytes(`p${w.proposal}:${w.key}`);
}

/** The write a normal entry carries, or null (empty entries, other payloads). */
export function decodeWrite(data: Uint8Array): Write | null {
  const m = /^p(\d+):(\S+)$/.exec(text(data));
  return m === null ? null : { proposal: Number(m[1]), key: m[2]! };
}

/** Applies one entry (the caller ensures e.index === sm.index + 1). */
export function applyEntry(sm: SmState, e: Entry): void {
  sm.index = e.index;
  sm.hash = chainHash(sm.hash, e);
  if (e.type !== 'EntryNormal') return;
  const w = decodeWrite(e.data);
  if (w !== null) sm.kv.set(w.key, { proposal: w.proposal, index: e.index });
}

/** Snapshot payload of the state machine; keys in sorted order so equal states encode equally. */
export function encodeSm(sm: SmState): Uint8Array {
  const kv = [...sm.kv.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return bytes(JSON.stringify({ index: sm.index, hash: sm.hash, kv }));
}

/** Inverse of encodeSm; an empty payload is the empty state. */
export function decodeSm(data: Uint8Array): SmState {
  if (data.length === 0) return emptySm();
  const o = JSON.parse(text(data)) as { index: number; hash: number; kv: [string, KvValue][] };
  return { index: o.index, hash: o.hash, kv: new Map(o.kv) };
}
