/**
 * The serve command's log: etcd 3.4's line formats, so that operators' scripts that wait for
 * etcd's lines ("ready to serve client requests") work unchanged.
 *
 * - capnslog (etcd 3.4's default `--logger`): `2006-01-02 15:04:05.000000 L | pkg: message`,
 *   local time, L one of C E W N I D.
 * - zap (`--logger=zap`): one JSON object per line, `{"level","ts","caller","msg"}`.
 *
 * `--log-level` filters as etcd maps it onto capnslog: debug shows everything, info hides D,
 * warn keeps W E C, error keeps E C, panic/fatal keep C.
 */
import type { LogLevel } from './etcd-flags';

/** capnslog's level letters, most severe first. */
export type LogLetter = 'C' | 'E' | 'W' | 'N' | 'I' | 'D';

const SEVERITY: Readonly<Record<LogLetter, number>> = { C: 0, E: 1, W: 2, N: 3, I: 4, D: 5 };
const THRESHOLD: Readonly<Record<LogLevel, number>> = { debug: 5, info: 4, warn: 2, error: 1, panic: 0, fatal: 0 };
const ZAP_LEVEL: Readonly<Record<LogLetter, string>> = { C: 'fatal', E: 'error', W: 'warn', N: 'info', I: 'info', D: 'debug' };

/** A log sink; also satisfies the member's logger interface (src/server MemberLogger). */
export interface ServeLogger {
  log(level: LogLetter, pkg: string, msg: string): void;
}

export interface LoggerOptions {
  readonly format: 'capnslog' | 'zap';
  readonly level: LogLevel;
  /** Takes one complete line, newline included. */
  readonly write: (line: string) => void;
  /** Wall clock in microseconds since the epoch (default: from performance.timeOrigin). */
  readonly nowMicros?: () => number;
}

const defaultNowMicros = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

/** A logger writing etcd's formats; see the file comment. */
export function createLogger(opts: LoggerOptions): ServeLogger {
  const threshold = THRESHOLD[opts.level];
  const now = opts.nowMicros ?? defaultNowMicros;
  return {
    log(level, pkg, msg) {
      if (SEVERITY[level] > threshold) return;
      const micros = now();
      if (opts.format === 'zap') {
        const ts = new Date(Math.floor(micros / 1000)).toISOString();
        opts.write(JSON.stringify({ level: ZAP_LEVEL[level], ts, caller: pkg, msg }) + '\n');
      } else {
        opts.write(`${capnslogTime(micros)} ${level} | ${pkg}: ${msg}\n`);
      }
    },
  };
}

/** `2006-01-02 15:04:05.000000` in local time. */
export function capnslogTime(micros: number): string {
  const d = new Date(Math.floor(micros / 1000));
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const frac = p(micros % 1_000_000, 6);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${frac}`;
}
