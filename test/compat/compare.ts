/**
 * Compares what the two sides of a case printed, step by step, after normalization, and
 * writes a report a human can act on: for each differing step both sides' raw and normalized
 * output and the first differing line.
 */
import type { Expectation } from './cases';
import { normalizeSide, stepShape, type NormalizedStep } from './normalize';
import type { RecordedStep, SideRun } from './run-case';

/** Longest excerpt of one output a report quotes. */
const EXCERPT_CHARS = 3_000;
/** Steps reported in full; further differing steps are listed by label only. */
const DETAILED_MISMATCHES = 4;

/** One step whose normalized results differ. */
export interface Mismatch {
  readonly index: number;
  readonly label: string;
  /** Which parts differ: `end` (exit code), `stdout`, `stderr`. */
  readonly parts: ReadonlyArray<keyof NormalizedStep>;
  readonly reference: { readonly raw: RecordedStep; readonly normalized: NormalizedStep };
  readonly target: { readonly raw: RecordedStep; readonly normalized: NormalizedStep };
}

/** The outcome of comparing two sides of one case. */
export interface Comparison {
  readonly mismatches: readonly Mismatch[];
  /** Steps where etcd itself did not do what the case states (the case is out of date). */
  readonly expectationFailures: readonly string[];
}

function sideRecord(run: SideRun) {
  return { workDir: run.workDir, servers: run.servers, steps: run.steps };
}

/** Normalizes both sides and compares them step by step. */
export function compareSides(reference: SideRun, target: SideRun): Comparison {
  const ref = normalizeSide(sideRecord(reference));
  const tgt = normalizeSide(sideRecord(target));
  const mismatches: Mismatch[] = [];
  const expectationFailures: string[] = [];
  const steps = Math.max(ref.length, tgt.length);
  for (let i = 0; i < steps; i++) {
    const r = ref[i];
    const t = tgt[i];
    const rRaw = reference.steps[i];
    const tRaw = target.steps[i];
    if (r === undefined || t === undefined || rRaw === undefined || tRaw === undefined) {
      expectationFailures.push(`step ${i + 1} ran on one side only (reference ${ref.length} steps, target ${tgt.length})`);
      continue;
    }
    // A restore done by different tools (etcdctl vs the target's own) compares by exit code.
    const sameTool = rRaw.tool === tRaw.tool;
    const parts = (['end', 'stdout', 'stderr'] as const).filter((p) => (p === 'end' || sameTool) && r[p] !== t[p]);
    if (parts.length > 0) {
      mismatches.push({ index: i, label: rRaw.label, parts, reference: { raw: rRaw, normalized: r }, target: { raw: tRaw, normalized: t } });
    }
    // A step that only ends by timing out costs its whole bound and shows nothing: the case is wrong.
    if (rRaw.end.kind === 'timeout') expectationFailures.push(`${rRaw.label}: etcd timed out (a watch waits for output that never comes?)`);
    if (rRaw.expect !== undefined) {
      const problem = checkExpectation(rRaw.expect, r);
      if (problem !== undefined) expectationFailures.push(`${rRaw.label}: etcd ${problem}`);
    }
  }
  return { mismatches, expectationFailures };
}

function matches(text: string, want: string | RegExp): boolean {
  return typeof want === 'string' ? text.includes(want) : want.test(text);
}

function checkExpectation(expect: Expectation, got: NormalizedStep): string | undefined {
  if (expect.exit !== undefined && got.end !== `exit ${expect.exit}`) return `ended with "${got.end}", the case expects exit ${expect.exit}`;
  if (expect.stdout !== undefined && !matches(got.stdout, expect.stdout)) {
    return `printed ${JSON.stringify(excerpt(got.stdout, 500))} on stdout, the case expects ${String(expect.stdout)}`;
  }
  if (expect.stderr !== undefined && !matches(got.stderr, expect.stderr)) {
    return `printed ${JSON.stringify(excerpt(got.stderr, 500))} on stderr, the case expects ${String(expect.stderr)}`;
  }
  return undefined;
}

function excerpt(text: string, max: number = EXCERPT_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more chars)`;
}

function indent(text: string): string {
  return text === '' ? '    (empty)' : text.split('\n').map((l) => `    ${l}`).join('\n');
}

function rawStdout(step: RecordedStep): string {
  return stepShape(step.template).format === 'protobuf' ? `(hex) ${step.stdout.toString('hex')}` : step.stdout.toString('utf8');
}

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) {
      return `first difference at line ${i + 1}:\n  reference: ${JSON.stringify(al[i] ?? '(no line)')}\n  target:    ${JSON.stringify(bl[i] ?? '(no line)')}`;
    }
  }
  return 'no line differs (trailing bytes differ)';
}

/** The reference side's normalized steps as text: what etcd does, for FLOE_COMPAT_DUMP. */
export function describeSide(run: SideRun): string {
  const normalized = normalizeSide(sideRecord(run));
  return run.steps
    .map((step, i) => {
      const n = normalized[i]!;
      return [`${step.label}  [${n.end}, ${step.elapsedMs} ms into the case]`, 'stdout:', indent(n.stdout), 'stderr:', indent(n.stderr), ''].join('\n');
    })
    .join('\n');
}

/** A report of one case's comparison, or undefined when both sides agree. */
export function formatReport(caseName: string, reference: SideRun, target: SideRun, comparison: Comparison): string | undefined {
  const { mismatches, expectationFailures } = comparison;
  if (mismatches.length === 0 && expectationFailures.length === 0) return undefined;
  const lines: string[] = [`case ${caseName}: reference ${reference.command.label}, target ${target.command.label}`];
  for (const f of expectationFailures) lines.push(`EXPECTATION: ${f}`);
  if (mismatches.length > 0) {
    lines.push(`${mismatches.length} step(s) differ: ${mismatches.map((m) => `#${m.index + 1}`).join(', ')}`);
  }
  for (const m of mismatches.slice(0, DETAILED_MISMATCHES)) {
    lines.push('', `--- ${m.label}: ${m.parts.join(', ')} differ`);
    for (const part of m.parts) {
      if (part !== 'end') lines.push(`${part} ${firstDifference(m.reference.normalized[part], m.target.normalized[part])}`);
    }
    for (const [name, side] of [['reference', m.reference], ['target', m.target]] as const) {
      lines.push(
        `[${name}] ${side.normalized.end}`,
        `[${name}] stdout normalized:`,
        indent(excerpt(side.normalized.stdout)),
        `[${name}] stderr normalized:`,
        indent(excerpt(side.normalized.stderr)),
        `[${name}] stdout raw:`,
        indent(excerpt(rawStdout(side.raw))),
        `[${name}] stderr raw:`,
        indent(excerpt(side.raw.stderr)),
      );
    }
  }
  if (mismatches.length > DETAILED_MISMATCHES) {
    lines.push('', 'further differing steps:', ...mismatches.slice(DETAILED_MISMATCHES).map((m) => `  ${m.label} (${m.parts.join(', ')})`));
  }
  return lines.join('\n');
}
