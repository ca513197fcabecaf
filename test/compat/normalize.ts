/**
 * Makes what etcdctl printed against two different fresh servers comparable.
 *
 * Two fresh servers differ, legitimately, in: the ports they listen on (so the member id,
 * which etcd derives from the peer URLs, and the cluster id derived from it), lease ids
 * (etcd builds them from the member id and the clock), wall-clock figures (timestamps, "took",
 * a lease's remaining TTL), file-level figures (db size, the snapshot file's hash) and the raft
 * log's absolute position. Each rule below rewrites exactly one of these, in the places etcdctl
 * prints it, into a token; everything else (keys, values, revisions, versions, counts, error
 * messages, gRPC codes, exit codes) is left byte for byte. The README lists the rules and why.
 *
 * Rules never guess from the shape of a number alone: ids are replaced by value (the harness
 * knows every server's ports and ids, and learns lease ids from `lease grant` output), and
 * per-field figures are replaced only under the field name or column etcdctl prints them with.
 */
import { createHash } from 'node:crypto';

/** etcd's default `--initial-cluster-token`, part of the member id derivation. */
export const DEFAULT_CLUSTER_TOKEN = 'etcd-cluster';
/** Slack on top of the case's elapsed time when checking a lease's remaining TTL (rounding:
 * etcd truncates the remaining duration to whole seconds). */
export const TTL_SLACK_S = 2;

/**
 * etcd's member id: the first 8 bytes (big-endian) of SHA-1 over the sorted peer URLs
 * concatenated, then the cluster token.
 */
export function memberIdFor(peerUrls: readonly string[], token: string = DEFAULT_CLUSTER_TOKEN): bigint {
  const hash = createHash('sha1').update([...peerUrls].sort().join('') + token).digest();
  return hash.readBigUInt64BE(0);
}

/** etcd's cluster id: the first 8 bytes of SHA-1 over the sorted member ids (8 bytes BE each). */
export function clusterIdFor(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => bytes.writeBigUInt64BE(id, 8 * i));
  return createHash('sha1').update(bytes).digest().readBigUInt64BE(0);
}

/** One server a side started during a case, in start order. */
export interface ServerIdentity {
  readonly clientPort: number;
  readonly peerPort: number;
  readonly peerUrl: string;
  /** Ids the server reported in its first `endpoint status` (decimal), when it answered. */
  readonly reportedMemberId?: bigint;
  readonly reportedClusterId?: bigint;
}

/** How a step's process ended, as compared. */
export type StepEnd =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'stopped' } // the harness stopped it once the expected output was there
  | { readonly kind: 'timeout' }
  | { readonly kind: 'skipped'; readonly why: string };

/** One step as it ran on one side. */
export interface StepRecord {
  /** The case's argument template (before `${VAR}` substitution): what decides the rules. */
  readonly template: readonly string[];
  /** Index into the side's servers of the server it talked to; -1 for offline commands. */
  readonly server: number;
  readonly end: StepEnd;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** Milliseconds from the start of the side's first step to the end of this one. */
  readonly elapsedMs: number;
}

/** Everything one side did in a case. */
export interface SideRecord {
  /** The side's scratch dir; paths under it are printed by snapshot commands. */
  readonly workDir: string;
  readonly servers: readonly ServerIdentity[];
  readonly steps: readonly StepRecord[];
}

/** A step after normalization: these three strings must be equal on both sides. */
export interface NormalizedStep {
  readonly end: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where in etcdctl's command tree a step is and how it prints. */
interface StepShape {
  /** The sub-command words, e.g. `get`, `endpoint status`, `lease grant`. */
  readonly command: string;
  readonly format: string;
}

const GLOBAL_FLAGS_WITH_VALUE = new Set(['-w', '--write-out', '--endpoints', '--dial-timeout', '--command-timeout']);

/** Reads the sub-command and the `-w` format from an argument template. */
export function stepShape(args: readonly string[]): StepShape {
  const words: string[] = [];
  let format = 'simple';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.match(/^(-w|--write-out)=(.*)$/);
    if (eq !== null) format = eq[2]!;
    else if (a === '-w' || a === '--write-out') format = args[++i] ?? format;
    else if (GLOBAL_FLAGS_WITH_VALUE.has(a)) i++;
    else if (a === '--') break;
    else if (!a.startsWith('-') && words.length < 2) words.push(a);
  }
  const groups = new Set(['endpoint', 'lease', 'member', 'snapshot', 'alarm', 'auth', 'user', 'role', 'check']);
  const command = words.length > 1 && groups.has(words[0]!) ? `${words[0]} ${words[1]}` : (words[0] ?? '');
  return { command, format };
}

/** Replaces every occurrence of `value` not adjacent to `word` characters. */
function replaceBounded(text: string, value: string, token: string, word: string): string {
  if (value === '') return text;
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![${word}])${escaped}(?![${word}])`, 'g'), token);
}

/** Value-keyed tokens (ids) with their decimal and hex spellings. */
class IdTokens {
  private readonly tokens = new Map<bigint, string>();

  set(id: bigint, token: string): void {
    if (!this.tokens.has(id)) this.tokens.set(id, token);
  }

  has(id: bigint): boolean {
    return this.tokens.has(id);
  }

  get size(): number {
    return this.tokens.size;
  }

  /** etcdctl prints ids in decimal (json, fields), `%x` (member ids) and `%016x` (lease ids). */
  apply(text: string): string {
    let out = text;
    for (const [id, token] of this.tokens) {
      out = replaceBounded(out, id.toString(10), token, '0-9');
      const hex = id.toString(16);
      out = replaceBounded(out, hex.padStart(16, '0'), token, '0-9a-zA-Z');
      if (hex.length < 16) out = replaceBounded(out, hex, token, '0-9a-zA-Z');
    }
    return out;
  }
}

/** Per-side state built from the whole case before any step is rewritten. */
interface SideTokens {
  readonly ids: IdTokens;
  readonly ports: Map<number, string>;
  readonly terms: Map<string, string>;
  /** Per server: the first raft index it reported, the base for relative indexes. */
  readonly raftBase: Map<number, bigint>;
}

/**
 * Normalizes every step of one side. Tokens are numbered by first appearance (servers in start
 * order, leases in grant order, terms in output order), so equal histories get equal tokens.
 */
export function normalizeSide(side: SideRecord): NormalizedStep[] {
  const tokens = buildTokens(side);
  return side.steps.map((step) => normalizeStep(step, side, tokens));
}

function buildTokens(side: SideRecord): SideTokens {
  const ids = new IdTokens();
  const ports = new Map<number, string>();
  side.servers.forEach((s, i) => {
    const n = i + 1;
    ports.set(s.clientPort, `<client-port#${n}>`);
    ports.set(s.peerPort, `<peer-port#${n}>`);
    const member = memberIdFor([s.peerUrl]);
    const cluster = clusterIdFor([member]);
    // A server whose ids do not follow etcd's derivation gets a token saying so, so the
    // difference shows instead of being normalized away.
    if (s.reportedMemberId !== undefined && s.reportedMemberId !== member) {
      ids.set(s.reportedMemberId, `<member#${n} not derived from its peer URL>`);
    }
    if (s.reportedClusterId !== undefined && s.reportedClusterId !== cluster) {
      ids.set(s.reportedClusterId, `<cluster#${n} not derived from its member ids>`);
    }
    ids.set(member, `<member#${n}>`);
    ids.set(cluster, `<cluster#${n}>`);
  });
  let leases = 0;
  for (const step of side.steps) {
    if (stepShape(step.template).command !== 'lease grant') continue;
    const text = step.stdout.toString('utf8');
    for (const m of text.matchAll(/lease ([0-9a-f]{16}) granted|"ID":(\d+)|"ID" : (\d+)/g)) {
      const id = m[1] !== undefined ? BigInt(`0x${m[1]}`) : BigInt(m[2] ?? m[3]!);
      if (!ids.has(id)) ids.set(id, `<lease#${++leases}>`);
    }
  }
  return { ids, ports, terms: new Map(), raftBase: new Map() };
}

function describeEnd(end: StepEnd): string {
  switch (end.kind) {
    case 'exit':
      return `exit ${end.code}`;
    case 'signal':
      return `killed by ${end.signal}`;
    case 'stopped':
      return 'stopped by the harness after the expected output';
    case 'timeout':
      return 'timed out (the harness killed it)';
    case 'skipped':
      return `skipped: ${end.why}`;
  }
}

function normalizeStep(step: StepRecord, side: SideRecord, tokens: SideTokens): NormalizedStep {
  const shape = stepShape(step.template);
  let stdout = shape.format === 'protobuf' ? dumpProtobuf(step.stdout) : step.stdout.toString('utf8');
  let stderr = step.stderr;
  if (shape.format === 'table') stdout = canonicalTable(stdout);
  stdout = commandRules(shape, stdout, step, tokens);
  stdout = commonRules(stdout, side, tokens);
  stderr = commandRules(shape, stderr, step, tokens); // endpoint health prints to stderr
  stderr = commonRules(logRules(stderr), side, tokens);
  return { end: describeEnd(step.end), stdout, stderr };
}

/** Renames a raft term by first appearance; 0 (an inner txn response's empty header) stays. */
function term(value: string, tokens: SideTokens): string {
  if (value === '0') return value;
  let t = tokens.terms.get(value);
  if (t === undefined) {
    t = `<term#${tokens.terms.size + 1}>`;
    tokens.terms.set(value, t);
  }
  return t;
}

/** A raft index relative to the first one this server reported in the case. */
function raftIndex(value: string, server: number, tokens: SideTokens): string {
  const v = BigInt(value);
  let base = tokens.raftBase.get(server);
  if (base === undefined) {
    base = v;
    tokens.raftBase.set(server, v);
  }
  return `<raft-index#${server + 1}+${(v - base).toString()}>`;
}

/**
 * A remaining TTL depends on when it is asked: any value from the granted TTL down to the
 * granted TTL minus the time the case has run (plus rounding slack) is as good as another, so
 * it becomes a token; a value outside that window stays as printed and shows as a difference.
 */
function remainingTtl(granted: string, remaining: string, elapsedMs: number): string | undefined {
  // -1 with granted 0 is etcd's "expired or unknown" answer: exact, not a time figure.
  if (Number(granted) <= 0 || Number(remaining) < 0) return undefined;
  const lag = Number(granted) - Number(remaining);
  const allowed = Math.ceil(elapsedMs / 1000) + TTL_SLACK_S;
  return lag >= 0 && lag <= allowed ? '<granted minus elapsed>' : undefined;
}

function commandRules(shape: StepShape, text: string, step: StepRecord, tokens: SideTokens): string {
  let out = text;
  // Raft terms appear in every response header: json, fields and the protobuf dump.
  out = out.replace(/"raft_term":(\d+)/g, (_, v: string) => `"raft_term":${term(v, tokens)}`);
  out = out.replace(/"RaftTerm" : (\d+)/g, (_, v: string) => `"RaftTerm" : ${term(v, tokens)}`);
  out = out.replace(/\braft_term=(\d+)/g, (_, v: string) => `raft_term=${term(v, tokens)}`);
  switch (shape.command) {
    case 'endpoint status':
      return endpointStatus(shape.format, out, step.server, tokens);
    case 'endpoint health':
      return out
        .replace(/took = \S+/g, 'took = <took>')
        .replace(/"took":"[^"]*"/g, '"took":"<took>"')
        .replace(/"Took" : .*/g, '"Took" : <took>')
        .replace(/^(\S+ \| (?:true|false) \| )[^|]+( \|)/gm, '$1<took>$2');
    case 'snapshot status':
      return out
        .replace(/^([0-9a-f]+), (\d+), (\d+), .+$/gm, '<hash>, $2, $3, <size>')
        .replace(/"hash":\d+/g, '"hash":"<hash>"')
        .replace(/"totalSize":\d+/g, '"totalSize":"<size>"')
        .replace(/"Hash" : \d+/g, '"Hash" : <hash>')
        .replace(/"Size" : \d+/g, '"Size" : <size>')
        .replace(/^[0-9a-f]+( \| \d+ \| \d+ \| ).+$/gm, '<hash>$1<size>');
    case 'lease timetolive': {
      const ttl = (g: string, r: string): string | undefined => remainingTtl(g, r, step.elapsedMs);
      return sortAttachedKeys(out)
        .replace(/TTL\((\d+)s\), remaining\((-?\d+)s\)/g, (m, g: string, r: string) => {
          const t = ttl(g, r);
          return t === undefined ? m : `TTL(${g}s), remaining(${t})`;
        })
        .replace(/"ttl":(-?\d+),"granted-ttl":(\d+)/g, (m, r: string, g: string) => {
          const t = ttl(g, r);
          return t === undefined ? m : `"ttl":"${t}","granted-ttl":${g}`;
        })
        .replace(/"TTL" : (-?\d+)\n"GrantedTTL" : (\d+)/g, (m, r: string, g: string) => {
          const t = ttl(g, r);
          return t === undefined ? m : `"TTL" : ${t}\n"GrantedTTL" : ${g}`;
        });
    }
    default:
      return out;
  }
}

/**
 * etcd keeps a lease's keys in a Go map and lists them in its random iteration order, so the
 * attached keys of `lease timetolive --keys` are a set: they are compared sorted.
 */
function sortAttachedKeys(text: string): string {
  return text
    .replace(/attached keys\(\[(.*)\]\)/g, (_, keys: string) => `attached keys([${keys.split(' ').sort().join(' ')}])`)
    .replace(/"keys":\[([^\]]*)\]/g, (_, keys: string) => `"keys":[${keys.split(',').sort().join(',')}]`)
    .replace(/(?:^"Key" : .*\n)+/gm, (block: string) => `${block.trimEnd().split('\n').sort().join('\n')}\n`);
}

function endpointStatus(format: string, text: string, server: number, tokens: SideTokens): string {
  const idx = (v: string): string => raftIndex(v, server, tokens);
  switch (format) {
    case 'json':
      return text
        .replace(/"dbSize":\d+/g, '"dbSize":"<db-size>"')
        .replace(/"dbSizeInUse":\d+/g, '"dbSizeInUse":"<db-size>"')
        .replace(/"raftTerm":(\d+)/g, (_, v: string) => `"raftTerm":${term(v, tokens)}`)
        .replace(/"raftIndex":(\d+)/g, (_, v: string) => `"raftIndex":${idx(v)}`)
        .replace(/"raftAppliedIndex":(\d+)/g, (_, v: string) => `"raftAppliedIndex":${idx(v)}`);
    case 'fields':
      return text
        .replace(/"DBSize" : \d+/g, '"DBSize" : <db-size>')
        .replace(/"RaftIndex" : (\d+)/g, (_, v: string) => `"RaftIndex" : ${idx(v)}`)
        .replace(/"RaftAppliedIndex" : (\d+)/g, (_, v: string) => `"RaftAppliedIndex" : ${idx(v)}`);
    case 'simple':
    case 'table': {
      // Columns: endpoint, id, version, db size, is leader, is learner, raft term, raft index,
      // raft applied index, errors (which may itself hold the separator).
      const sep = format === 'simple' ? ', ' : ' | ';
      return text
        .split('\n')
        .map((line) => {
          const cells = line.split(sep);
          if (cells.length < 10 || !/^\d+$/.test(cells[7] ?? '')) return line;
          cells[3] = '<db-size>';
          cells[6] = term(cells[6]!, tokens);
          cells[7] = idx(cells[7]!);
          cells[8] = idx(cells[8]!);
          return cells.join(sep);
        })
        .join('\n');
    }
    default:
      return text;
  }
}

/**
 * etcdctl's own zap log lines (stderr): time stamps, durations, byte sizes of downloads and the
 * random client id in gRPC targets vary from run to run of the same binary.
 */
function logRules(text: string): string {
  let out = text
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{"level":')) return line;
      return line
        .replace(/"ts":("[^"]*"|[0-9.e+-]+)/g, '"ts":"<ts>"')
        .replace(/"took":("[^"]*"|[0-9.e+-]+)/g, '"took":"<took>"')
        .replace(/"size":"[^"]*"/g, '"size":"<size>"');
    })
    .join('\n');
  out = out.replace(/client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'client-<uuid>');
  // A Go panic trace (etcdctl crashing on a response it did not expect) carries heap addresses.
  if (/^goroutine \d+ \[/m.test(out)) out = out.replace(/0x[0-9a-f]+\??/g, '0x?');
  return out;
}

/** Rules for every output: the side's scratch dir, its ports, and the ids it knows. */
function commonRules(text: string, side: SideRecord, tokens: SideTokens): string {
  let out = text.split(side.workDir).join('<dir>');
  for (const [port, token] of tokens.ports) out = replaceBounded(out, `127.0.0.1:${port}`, `127.0.0.1:${token}`, '0-9');
  return tokens.ids.apply(out);
}

/**
 * etcdctl's table printer pads cells to the widest value; once values are normalized the
 * widths would still differ, so a table becomes `cell | cell` lines without borders or padding.
 */
export function canonicalTable(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\+[-+]*\+$/.test(line))
    .map((line) =>
      line.startsWith('|') && line.endsWith('|')
        ? line
            .slice(1, -1)
            .split('|')
            .map((c) => c.trim())
            .join(' | ')
        : line,
    )
    .join('\n');
}

/**
 * Renders a protobuf-encoded response (`-w protobuf`) as text: the header (field 1) decoded
 * field by field so its ids and term can be normalized, every other field as its number, wire
 * type and bytes. Anything that does not parse is shown as raw hex, so nothing is hidden.
 */
export function dumpProtobuf(buf: Buffer): string {
  const top = parseFields(buf);
  if (top === undefined) return `unparsed ${buf.toString('hex')}`;
  return top
    .map((f) => {
      if (f.num === 1 && f.bytes !== undefined) {
        const header = parseFields(f.bytes);
        if (header !== undefined && header.every((h) => h.varint !== undefined)) {
          const names = ['', 'cluster_id', 'member_id', 'revision', 'raft_term'];
          return `header{${header.map((h) => `${names[h.num] ?? `#${h.num}`}=${h.varint!.toString()}`).join(' ')}}`;
        }
      }
      return f.varint !== undefined ? `#${f.num}=${f.varint.toString()}` : `#${f.num}:${f.wire}=${f.bytes!.toString('hex')}`;
    })
    .join('\n');
}

interface ProtoField {
  readonly num: number;
  readonly wire: number;
  readonly varint?: bigint;
  readonly bytes?: Buffer;
}

function parseFields(buf: Buffer): ProtoField[] | undefined {
  const fields: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint | undefined => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) return undefined;
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const key = varint();
    if (key === undefined) return undefined;
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (num === 0) return undefined;
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return undefined;
      fields.push({ num, wire, varint: v });
    } else if (wire === 2 || wire === 1 || wire === 5) {
      const len = wire === 2 ? varint() : BigInt(wire === 1 ? 8 : 4);
      if (len === undefined || pos + Number(len) > buf.length) return undefined;
      fields.push({ num, wire, bytes: buf.subarray(pos, pos + Number(len)) });
      pos += Number(len);
    } else {
      return undefined;
    }
  }
  return fields;
}
