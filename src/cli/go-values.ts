/**
 * Go's parsing of flag values, as etcd's command line gets it from Go's `flag` and `strconv`
 * packages: which strings are valid and which error a bad one gets. etcd's operators and
 * scripts rely on both (`--snapshot-count=0x100` is valid; `08` is a parse error because a
 * leading 0 means octal; `1_000` is valid).
 *
 * Integers come back as bigint so every 64-bit value is exact; callers range-check them.
 */

/** Why a value did not parse: Go's strconv.ErrSyntax or strconv.ErrRange. */
export type GoParseFailure = 'syntax' | 'range';

const lower = (c: string): string => c.toLowerCase();

/** Go's underscoreOK: underscores only between digits, or after a base prefix. */
function underscoreOk(s0: string): boolean {
  let s = s0;
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(lower(s[1]!))) {
    i = 2;
    saw = '0';
    hex = lower(s[1]!) === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f')) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  const l = lower(c).charCodeAt(0);
  if (l >= 97 && l <= 122) return l - 97 + 10;
  return 99;
}

/** Go's strconv.ParseUint(s, 0, bits): base from the prefix (0x, 0o, 0b, leading 0 = octal). */
export function parseGoUint(s0: string, bits: 32 | 64): bigint | GoParseFailure {
  if (s0 === '') return 'syntax';
  let s = s0;
  let base = 10;
  if (s[0] === '0') {
    const p = s.length >= 3 ? lower(s[1]!) : '';
    if (p === 'b') [base, s] = [2, s.slice(2)];
    else if (p === 'o') [base, s] = [8, s.slice(2)];
    else if (p === 'x') [base, s] = [16, s.slice(2)];
    else [base, s] = [8, s.slice(1)];
  }
  const max = (1n << BigInt(bits)) - 1n;
  const b = BigInt(base);
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === '_') {
      underscores = true;
      continue;
    }
    const d = digitValue(c);
    if (d >= base) return 'syntax';
    n = n * b + BigInt(d);
    if (n > max) return 'range';
  }
  if (underscores && !underscoreOk(s0)) return 'syntax';
  return n;
}

/** Go's strconv.ParseInt(s, 0, bits): an optional sign, then as parseGoUint. */
export function parseGoInt(s0: string, bits: 32 | 64): bigint | GoParseFailure {
  if (s0 === '') return 'syntax';
  let s = s0;
  let neg = false;
  if (s[0] === '+') s = s.slice(1);
  else if (s[0] === '-') [neg, s] = [true, s.slice(1)];
  const un = parseGoUint(s, bits);
  if (un === 'syntax') return 'syntax';
  const cutoff = 1n << BigInt(bits - 1);
  if (un === 'range') return 'range';
  if (!neg && un >= cutoff) return 'range';
  if (neg && un > cutoff) return 'range';
  return neg ? -un : un;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return null;
}

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION_NS = (1n << 63n) - 1n;

/**
 * Go's time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` (µs and μs too), "0" alone, in
 * nanoseconds; null when invalid or beyond int64 nanoseconds.
 */
export function parseGoDurationNs(orig: string): bigint | null {
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return null;
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) return null;
    const intMatch = /^[0-9]*/.exec(s)![0];
    s = s.slice(intMatch.length);
    let frac = '';
    let hasFrac = false;
    if (s[0] === '.') {
      s = s.slice(1);
      frac = /^[0-9]*/.exec(s)![0];
      s = s.slice(frac.length);
      hasFrac = frac.length > 0;
    }
    if (intMatch === '' && !hasFrac) return null; // "." or ".s"
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (unitMatch === null) return null; // missing unit
    const unit = NS_PER_UNIT[unitMatch[0]];
    if (unit === undefined) return null; // unknown unit
    s = s.slice(unitMatch[0].length);
    let v = intMatch === '' ? 0n : BigInt(intMatch);
    if (v > (1n << 63n) / unit) return null;
    v *= unit;
    if (hasFrac) {
      // Go scales the fraction through a float64; digits past 18 cannot change the result.
      const digits = frac.slice(0, 18);
      v += BigInt(Math.floor(Number(digits) * (Number(unit) / 10 ** digits.length)));
      if (v > 1n << 63n) return null;
    }
    total += v;
    if (total > 1n << 63n) return null;
  }
  if (neg) return -total;
  if (total > MAX_DURATION_NS) return null;
  return total;
}

/** Go's time.Duration.String for the defaults shown in help (e.g. 10m0s, 100ms, 2h0m0s). */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  if (u < 1_000_000_000n) {
    const [unit, div] = u < 1_000n ? ['ns', 1n] : u < 1_000_000n ? ['µs', 1_000n] : ['ms', 1_000_000n];
    return sign + trimFraction(u, div as bigint) + unit;
  }
  const h = u / 3_600_000_000_000n;
  u -= h * 3_600_000_000_000n;
  const m = u / 60_000_000_000n;
  u -= m * 60_000_000_000n;
  const secs = trimFraction(u, 1_000_000_000n) + 's';
  if (h > 0n) return `${sign}${h}h${m}m${secs}`;
  if (m > 0n) return `${sign}${m}m${secs}`;
  return sign + secs;
}

function trimFraction(v: bigint, div: bigint): string {
  const whole = v / div;
  const rest = v % div;
  if (rest === 0n) return String(whole);
  const width = String(div).length - 1;
  return `${whole}.${String(rest).padStart(width, '0').replace(/0+$/, '')}`;
}
