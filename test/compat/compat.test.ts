/**
 * Compatibility with the real thing (issue 3, "What it must show" 1): every case of cases.ts
 * runs the same etcdctl 3.4 commands against a fresh real etcd 3.4 (the reference) and a fresh
 * server of the target, and the normalized output and exit code of every step must be equal.
 *
 * The target is FLOE_COMPAT_TARGET (e.g. `/work/main/bin/floe`); unset, it is etcd itself,
 * which proves the normalization is deterministic and complete: two fresh etcds must agree.
 * FLOE_COMPAT_CASES=name,name runs only those cases; FLOE_COMPAT_DUMP=dir writes each case's
 * normalized reference output to dir/<case>.txt (what etcd prints, for implementers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CASES as BASE_CASES } from './cases';
import { AUTH_CASES } from './cases-auth';
import { TLS_CASES } from './cases-tls';
import { LOCK_CASES } from './cases-lock';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareSides, describeSide, formatReport } from './compare';
import { runCaseOnSide, type SideRun } from './run-case';
import { etcdCommand, targetFromEnv } from './server';

const CASES = [...BASE_CASES, ...AUTH_CASES, ...TLS_CASES, ...LOCK_CASES];
const reference = etcdCommand();
const target = targetFromEnv();
const only = (process.env.FLOE_COMPAT_CASES ?? '').split(',').filter((s) => s !== '');
/** Bound on one case: two server starts, its steps (watches bounded at 8 s) and the stops. */
const CASE_TIMEOUT_MS = 120_000;
/**
 * Cases run this many at a time (each with its two servers): most of a step's time is process
 * start-up and fsync latency, not CPU, so two at once nearly halve the wall time.
 */
const CONCURRENCY = Math.max(1, Number(process.env.FLOE_COMPAT_CONCURRENCY ?? 2));

type Pair = [PromiseSettledResult<SideRun>, PromiseSettledResult<SideRun>];

let active = 0;
const waiting: Array<() => void> = [];
/** Runs `fn` once fewer than CONCURRENCY runs are active, in call order. */
async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (active >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

const selected = CASES.filter((c) => only.length === 0 || only.includes(c.name));
// Started here, ahead of the tests that await them, so the pool keeps CONCURRENCY cases busy.
// Both sides of a case run at once; allSettled so a failing side never leaves the other running.
const runs = new Map<string, Promise<Pair>>(
  selected.map((c) => [
    c.name,
    inSlot(() => Promise.allSettled([runCaseOnSide(c, reference, 'ref'), runCaseOnSide(c, target, 'target')]) as Promise<Pair>),
  ]),
);

for (const c of CASES) {
  const run = runs.get(c.name);
  const skip = run === undefined ? 'not in FLOE_COMPAT_CASES' : false;
  test(`${c.name}: ${c.shows} (${reference.label} vs ${target.label})`, { timeout: CASE_TIMEOUT_MS, skip }, async () => {
    const [ref, tgt] = await run!;
    const failures = ([['reference', ref], ['target', tgt]] as const)
      .filter(([, r]) => r.status === 'rejected')
      .map(([name, r]) => `${name} side failed: ${String((r as PromiseRejectedResult).reason?.stack ?? (r as PromiseRejectedResult).reason)}`);
    assert.equal(failures.length, 0, failures.join('\n\n'));
    const refRun = (ref as PromiseFulfilledResult<SideRun>).value;
    const tgtRun = (tgt as PromiseFulfilledResult<SideRun>).value;
    const dump = process.env.FLOE_COMPAT_DUMP;
    if (dump !== undefined && dump !== '') {
      fs.mkdirSync(dump, { recursive: true });
      fs.writeFileSync(path.join(dump, `${c.name}.txt`), describeSide(refRun));
    }
    const report = formatReport(c.name, refRun, tgtRun, compareSides(refRun, tgtRun));
    if (report !== undefined) assert.fail(`${report}\n\nserver logs:\n${[...refRun.logTails, ...tgtRun.logTails].join('\n')}`);
  });
}
