/**
 * Makes etcdctl's output from two different 3-member clusters comparable. Only what differs
 * legitimately between two fresh clusters is rewritten: ports, member and cluster ids (known
 * by value: derived from the peer URLs for the initial members, learned from `member add`
 * output for added ones), raft terms (by first appearance), raft indexes (relative to the
 * first one the side reported), db sizes, latencies and etcdctl's log noise. Lists whose order
 * follows member ids (random per cluster) or goroutine timing are sorted. Revisions, hashes,
 * names, flags, error messages and exit codes stay byte for byte.
 */
import { canonicalTable, clusterIdFor, memberIdFor } from '../compat/normalize';
import { CLUSTER_TOKEN } from './cluster';

/** One recorded etcdctl step. */
export interface ClusterStep {
  readonly label: string;
  /** `exit N` / `timed out`. */
  readonly end: string;
  readonly stdout: string;
  readonly stderr: string;
  /** Which output is a list in member-id or arrival order (sorted before comparing). */
  readonly sort: 'none' | 'lines' | 'json';
  readonly format: 'simple' | 'json' | 'table';
}

/** What a side knows about its members, by slot. */
export interface SideIdentity {
  readonly slots: ReadonlyArray<{
    readonly clientPort: number;
    readonly peerPort: number;
    readonly sparePeerPort: number | undefined;
    readonly peerUrl: string;
    /** Learned from `member add` for added members; derived for the initial ones. */
    readonly addedId?: bigint;
  }>;
  /** How many slots formed the initial cluster. */
  readonly initialSize: number;
}

/** The normalized form of one step: these three must match between the sides. */
export interface NormalizedClusterStep {
  readonly end: string;
  readonly stdout: string;
  readonly stderr: string;
}

function bounded(text: string, value: string, token: string, word: string): string {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![${word}])${escaped}(?![${word}])`, 'g'), token);
}

function idRules(side: SideIdentity): Array<[bigint, string]> {
  const rules: Array<[bigint, string]> = [];
  const initial: bigint[] = [];
  side.slots.forEach((s, i) => {
    const id = i < side.initialSize ? memberIdFor([s.peerUrl], CLUSTER_TOKEN) : s.addedId;
    if (id === undefined) return;
    if (i < side.initialSize) initial.push(id);
    rules.push([id, `<member#${i + 1}>`]);
  });
  rules.push([clusterIdFor(initial), '<cluster>']);
  return rules;
}

function applyIds(text: string, rules: Array<[bigint, string]>): string {
  let out = text;
  for (const [id, token] of rules) {
    out = bounded(out, id.toString(10), token, '0-9');
    out = bounded(out, id.toString(16).padStart(16, '0'), token, '0-9a-zA-Z');
    // etcdctl prints some ids with `%16x`: a short id is padded with spaces.
    if (id.toString(16).length < 16) out = out.split(` ${id.toString(16).padStart(16, ' ')}`).join(` ${token}`);
    out = bounded(out, id.toString(16), token, '0-9a-zA-Z');
  }
  return out;
}

function logNoise(text: string): string {
  return text
    .replace(/"ts":("[^"]*"|[0-9.e+-]+)/g, '"ts":"<ts>"')
    .replace(/client-[0-9a-f-]{36}/g, 'client-<uuid>')
    .replace(/took = [0-9.]+[µmn]?s/g, 'took = <took>')
    .replace(/"took":"[^"]*"/g, '"took":"<took>"');
}

/** Normalizes every step of one side; tokens are numbered in the order the side printed them. */
export function normalizeClusterSide(side: SideIdentity, steps: readonly ClusterStep[]): NormalizedClusterStep[] {
  const ids = idRules(side);
  const terms = new Map<string, string>();
  const term = (v: string): string => {
    if (v === '0') return v;
    if (!terms.has(v)) terms.set(v, `<term#${terms.size + 1}>`);
    return terms.get(v)!;
  };
  let indexBase: bigint | undefined;
  const index = (v: string): string => {
    indexBase ??= BigInt(v);
    return `<raft-index+${(BigInt(v) - indexBase).toString()}>`;
  };
  const ports = (text: string): string => {
    let out = text;
    side.slots.forEach((s, i) => {
      out = bounded(out, `127.0.0.1:${s.clientPort}`, `127.0.0.1:<client-port#${i + 1}>`, '0-9');
      out = bounded(out, `127.0.0.1:${s.peerPort}`, `127.0.0.1:<peer-port#${i + 1}>`, '0-9');
      if (s.sparePeerPort !== undefined) out = bounded(out, `127.0.0.1:${s.sparePeerPort}`, `127.0.0.1:<spare-peer-port#${i + 1}>`, '0-9');
    });
    return out;
  };

  return steps.map((step) => {
    let stdout = step.format === 'table' ? canonicalTable(step.stdout) : step.stdout;
    // Index bases are taken from the first status *before* sorting changes the order.
    stdout = stdout
      .replace(/"(raft_term|raftTerm)":(\d+)/g, (_, k: string, v: string) => `"${k}":"${term(v)}"`)
      .replace(/"(raftIndex|raftAppliedIndex)":(\d+)/g, (_, k: string, v: string) => `"${k}":"${index(v)}"`)
      .replace(/"(dbSize|dbSizeInUse)":\d+/g, '"$1":"<db-size>"');
    if (step.format !== 'json' && /^endpoint status/.test(step.label.replace(/^etcdctl /, ''))) {
      const sep = step.format === 'table' ? ' | ' : ', ';
      stdout = stdout
        .split('\n')
        .map((line) => {
          const cells = line.split(sep);
          if (cells.length < 10 || !/^\d+$/.test(cells[7] ?? '')) return line;
          cells[3] = '<db-size>';
          cells[6] = term(cells[6]!);
          cells[7] = index(cells[7]!);
          cells[8] = index(cells[8]!);
          return cells.join(sep);
        })
        .join('\n');
    }
    if (step.format === 'json') {
      // Ids are JSON numbers here: their tokens are quoted so the line still parses (to sort it).
      const byDecimal = new Map(ids.map(([id, token]) => [id.toString(10), token]));
      stdout = stdout.replace(/([:[,])(\d+)(?=[,\]}])/g, (m, pre: string, v: string) => (byDecimal.has(v) ? `${pre}"${byDecimal.get(v)}"` : m));
    }
    stdout = applyIds(ports(logNoise(stdout)), ids);
    const stderr = applyIds(ports(logNoise(step.stderr)), ids);
    stdout = stdout.replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/g, (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`);
    return { end: step.end, stdout: sortOutput(stdout, step), stderr: step.sort === 'lines' ? sortLines(stderr) : stderr };
  });
}

function sortLines(text: string): string {
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  // A table keeps its header row first.
  const head = lines.length > 0 && /^ID \||^ENDPOINT \|/.test(lines[0]!) ? [lines.shift()!] : [];
  return [...head, ...lines.sort(), ...(trailing === undefined ? [] : [''])].join('\n');
}

function sortJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortJson).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === 'members' || Array.isArray(v) ? sortJson(v) : v;
    return out;
  }
  return value;
}

function sortOutput(text: string, step: ClusterStep): string {
  if (step.sort === 'lines') return sortLines(text);
  if (step.sort !== 'json') return text;
  return text
    .split('\n')
    .map((line) => {
      if (line.trim() === '') return line;
      try {
        return JSON.stringify(sortJson(JSON.parse(line)));
      } catch {
        return line;
      }
    })
    .join('\n');
}
