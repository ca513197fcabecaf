/**
 * Failpoints: named places in the code where a test can make the process die or stall, armed
 * by the FLOE_FAILPOINTS environment variable when the process starts:
 *
 *   FLOE_FAILPOINTS="backend.commit.afterDataSync=panic;wal.beforeSave=sleep(200)"
 *
 * Actions:
 *   panic      the process is killed at once with SIGKILL: no cleanup, no flush, exactly
 *              what a crash at that instant leaves behind;
 *   sleep(ms)  the thread blocks for ms milliseconds;
 *   N*action   the action fires on the N-th time the failpoint is reached (1-based), and only
 *              then; e.g. "backend.commit.beforeMetaSync=3*panic".
 *
 * An unarmed failpoint costs one Map lookup on an empty map.
 */
import { FloeError } from './errors';

type Action = { kind: 'panic' } | { kind: 'sleep'; ms: number };
interface Armed {
  readonly action: Action;
  /** Fire on this hit (1-based); 0 means every hit. */
  readonly onHit: number;
  hits: number;
}

const armed: Map<string, Armed> = parse(process.env.FLOE_FAILPOINTS ?? '');

/** Parses a FLOE_FAILPOINTS specification; exported for tests. */
export function parse(spec: string): Map<string, Armed> {
  const out = new Map<string, Armed>();
  for (const part of spec.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([A-Za-z0-9_.-]+)=(?:(\d+)\*)?(panic|sleep\((\d+)\))$/.exec(part);
    if (m === null) throw new FloeError('ERR_BAD_FAILPOINT', `invalid failpoint specification: ${part}`);
    const action: Action = m[3] === 'panic' ? { kind: 'panic' } : { kind: 'sleep', ms: Number(m[4]) };
    out.set(m[1]!, { action, onHit: m[2] === undefined ? 0 : Number(m[2]), hits: 0 });
  }
  return out;
}

/** Reaches the failpoint `name`: does nothing unless FLOE_FAILPOINTS armed it. */
export function failpoint(name: string): void {
  if (armed.size === 0) return;
  const fp = armed.get(name);
  if (fp === undefined) return;
  fp.hits++;
  if (fp.onHit !== 0 && fp.hits !== fp.onHit) return;
  if (fp.action.kind === 'panic') {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to ourselves is delivered before kill() returns on Linux; never continue.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, fp.action.ms);
}
