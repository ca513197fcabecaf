/**
 * The JSON gateway comparison's steps and their normalization: one HTTP request (or a streamed
 * one, read for a bounded time) against a server's client port, and what of the answer must
 * be equal between etcd 3.4 and the target.
 *
 * Normalized away, because they differ between any two fresh clusters or two runs: cluster and
 * member IDs, raft terms and indexes, the db sizes, hashes, ports in URLs, a lease's remaining
 * TTL (wall-clock). Kept: status, the headers etcd's gateway sets, trailers, every other JSON
 * field and every error text.
 */
import * as http from 'node:http';

/** One request of a case. */
export interface HttpStep {
  readonly path: string;
  /** Raw body (default ''). */
  readonly body?: string | Buffer;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A streamed call: read the response for this long, running `during` meanwhile (requests
   * whose effects the stream must show), then hang up.
   */
  readonly streamMs?: number;
  readonly during?: readonly HttpStep[];
}

/** What is compared of one answer. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly trailers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Headers whose values are compared (lower case). */
const COMPARED_HEADERS = [
  'content-type',
  'trailer',
  'grpc-metadata-content-type',
  'x-content-type-options',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
];

/** JSON fields whose values differ between any two clusters. */
const VOLATILE_FIELDS = new Set(['cluster_id', 'member_id', 'raft_term', 'leader', 'raftTerm', 'raftIndex', 'raftAppliedIndex', 'dbSize', 'dbSizeInUse', 'hash', 'memberID']);

function normalizeJson(v: unknown, key: string, inMembers: boolean, path: string): unknown {
  if (Array.isArray(v)) return v.map((x) => normalizeJson(x, key, inMembers || key === 'members', path));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalizeJson(x, k, inMembers || key === 'members', path);
    return out;
  }
  if (VOLATILE_FIELDS.has(key)) return '<volatile>';
  if (inMembers && key === 'ID') return '<member id>';
  if (key === 'TTL' && /timetolive|keepalive/.test(path)) return '<ttl>';
  if (typeof v === 'string' && /^https?:\/\/127\.0\.0\.1:\d+$/.test(v)) return v.replace(/:\d+$/, ':<port>');
  return v;
}

/** The body with volatile values replaced, line by line (streams are one JSON per line). */
export function normalizeBody(body: string, path: string): string {
  return body
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{')) return line;
      try {
        return JSON.stringify(normalizeJson(JSON.parse(line), '', false, path));
      } catch {
        return line;
      }
    })
    .join('\n');
}

const pick = (h: http.IncomingHttpHeaders | NodeJS.Dict<string>, names: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = h[n];
    if (v !== undefined) out[n] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
};

/** Runs one step against `port` on 127.0.0.1 and returns its normalized result. */
export function runStep(port: number, step: HttpStep): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: step.method ?? 'POST', path: step.path, headers: { ...step.headers }, agent: false });
    let timer: NodeJS.Timeout | null = null;
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (timer !== null) clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: pick(res.headers, COMPARED_HEADERS),
          trailers: pick(res.trailers, Object.keys(res.trailers)),
          body: normalizeBody(Buffer.concat(chunks).toString('utf8'), step.path),
        });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      if (step.streamMs !== undefined) {
        void (async () => {
          for (const d of step.during ?? []) await runStep(port, d);
        })();
        timer = setTimeout(() => {
          finish();
          req.destroy();
        }, step.streamMs);
      }
    });
    req.on('error', reject);
    req.end(step.body ?? '');
  });
}
