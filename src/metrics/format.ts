/**
 * Text exposition format 0.0.4 details: how numbers, label values and help text are written,
 * as Prometheus' Go client writes them (so a scrape of Floe diffs cleanly against etcd's).
 */

/**
 * A float as Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that round-trip,
 * in exponent form ('2.147483648e+09', '1e-05') when the decimal exponent is below -4 or at
 * least 6, else plain decimal; '+Inf', '-Inf', 'NaN' for the special values.
 */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // toExponential() with no argument gives the shortest round-tripping digits, as Go's -1.
  const exp = v.toExponential();
  const at = exp.indexOf('e');
  const e = Number(exp.slice(at + 1));
  // In [-4, 6) JavaScript's own toString is plain decimal with the same shortest digits.
  if (e >= -4 && e < 6) return String(v);
  const sign = e < 0 ? '-' : '+';
  const abs = Math.abs(e);
  return `${exp.slice(0, at)}e${sign}${abs < 10 ? '0' : ''}${abs}`;
}

/** A label value inside double quotes: backslash, double quote and newline escaped. */
export function escapeLabelValue(s: string): string {
  if (!/[\\"\n]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A HELP line's text: backslash and newline escaped (double quotes stay). */
export function escapeHelp(s: string): string {
  if (!/[\\\n]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True for a valid metric name. */
export function isMetricName(s: string): boolean {
  return METRIC_NAME.test(s);
}

/** True for a valid label name that is not reserved (`__` prefix, or `le` set by histograms). */
export function isLabelName(s: string): boolean {
  return LABEL_NAME.test(s) && !s.startsWith('__');
}
