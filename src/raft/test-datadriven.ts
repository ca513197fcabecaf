/**
 * A reader and runner for scenario files in the style of etcd-io/raft's testdata (the
 * cockroachdb/datadriven format):
 *
 *   # comments and blank lines between cases
 *   command positional key=value key=(v1 v2) key=(v1,v2)
 *   optional input lines
 *   ----
 *   expected output (ends at the first blank line)
 *
 * Output that contains blank lines is written between a doubled separator:
 *
 *   command
 *   ----
 *   ----
 *   output with

 *   blank lines
 *   ----
 *   ----
 *
 * With FLOE_RAFT_REWRITE=1 the runner writes the actual output back into the file instead of
 * comparing (then the diff must be reviewed by a person before it is committed).
 */

export interface CmdArg {
  readonly key: string;
  readonly vals: readonly string[];
}

export interface TestCase {
  /** 1-based line of the command, for messages. */
  readonly line: number;
  readonly cmd: string;
  readonly args: readonly CmdArg[];
  readonly input: string;
  readonly expected: string;
  /** Comment and blank lines before the command, kept for rewriting. */
  readonly preamble: readonly string[];
}

export interface ParsedFile {
  readonly cases: readonly TestCase[];
  /** Comment and blank lines after the last case. */
  readonly trailer: readonly string[];
}

function parseArgs(s: string, where: string): { cmd: string; args: CmdArg[] } {
  const toks: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of s.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ' ' && depth === 0) {
      if (cur !== '') toks.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur !== '') toks.push(cur);
  if (depth !== 0) throw new Error(`${where}: unbalanced parentheses`);
  const [cmd, ...rest] = toks;
  if (cmd === undefined) throw new Error(`${where}: empty command`);
  const args = rest.map((t): CmdArg => {
    const eq = t.indexOf('=');
    if (eq < 0) return { key: t, vals: [] };
    const key = t.slice(0, eq);
    let val = t.slice(eq + 1);
    if (val.startsWith('(') && val.endsWith(')')) {
      val = val.slice(1, -1);
      return { key, vals: val.split(/[\s,]+/).filter((v) => v !== '') };
    }
    return { key, vals: [val] };
  });
  return { cmd, args };
}

/** Parses a scenario file; `name` is used in error messages. */
export function parseDataDriven(text: string, name: string): ParsedFile {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const cases: TestCase[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    const cmdLine = i + 1;
    const { cmd, args } = parseArgs(line, `${name}:${cmdLine}`);
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== '----') input.push(lines[i++]!);
    if (i >= lines.length) throw new Error(`${name}:${cmdLine}: missing ---- after command`);
    i++;
    const out: string[] = [];
    if (lines[i] === '----') {
      i++;
      for (;;) {
        if (i >= lines.length) throw new Error(`${name}:${cmdLine}: unterminated ----/---- block`);
        if (lines[i] === '----' && lines[i + 1] === '----') {
          i += 2;
          break;
        }
        out.push(lines[i++]!);
      }
    } else {
      while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!);
    }
    cases.push({ line: cmdLine, cmd, args, input: input.join('\n'), expected: out.join('\n'), preamble });
    preamble = [];
  }
  return { cases, trailer: preamble };
}

/** Output normalized for comparison: no trailing newlines. */
export function normalizeOutput(s: string): string {
  return s.replace(/\n+$/, '');
}

/**
 * Rebuilds a file with new outputs, keeping each case's preamble, command line (as written)
 * and input.
 */
export function rewriteDataDriven(text: string, parsed: ParsedFile, outputs: readonly string[]): string {
  const lines = text.split('\n');
  const parts: string[] = [];
  parsed.cases.forEach((c, k) => {
    parts.push(...c.preamble);
    parts.push(lines[c.line - 1]!);
    if (c.input !== '') parts.push(c.input);
    parts.push('----');
    const out = normalizeOutput(outputs[k]!);
    if (out.split('\n').some((l) => l.trim() === '')) {
      parts.push('----', out, '----', '----');
    } else {
      parts.push(out);
      // A single-form output ends at a blank line: make sure one follows.
      const next = k + 1 < parsed.cases.length ? parsed.cases[k + 1]!.preamble : parsed.trailer;
      if (next.length > 0 ? next[0]!.trim() !== '' : k + 1 < parsed.cases.length) parts.push('');
    }
  });
  parts.push(...parsed.trailer);
  return parts.join('\n') + '\n';
}
