/**
 * A small Prometheus client: counters, gauges and histograms, plain or with labels, kept in a
 * Registry that renders the text exposition format 0.0.4.
 *
 * One Registry per member (tests run several members in one process): it is passed to what
 * records into it, never reached through a global.
 *
 * Cost rule: recording is a field add on an object the caller already holds (a histogram adds
 * a binary search over its bounds). Labelled children are looked up once and kept by the
 * caller; `labels()` is for set-up, not for the hot path.
 *
 * Output order (stable, as Prometheus' Go client): families by name; a family's samples by
 * their label values, compared in the order of the sorted label names; a histogram's buckets
 * by bound, then `_sum`, then `_count`. A labelled family with no child yet is left out, as
 * the Go client does, so its name appears only once something was recorded under it.
 */
import { assert } from '../pkg';
import { escapeHelp, escapeLabelValue, formatFloat, isLabelName, isMetricName } from './format';

/** The metric types this client renders. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Name, help text and label names of a family. */
export interface FamilyOptions {
  /** The full metric name, e.g. 'etcd_server_has_leader'. */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
}

/** Options of a labelled family. */
export interface VecOptions extends FamilyOptions {
  /** Label names, in the order `labels()` takes their values. */
  readonly labelNames: readonly string[];
}

/** Options of a histogram: its bucket upper bounds, strictly increasing and finite. */
export interface HistogramOptions extends FamilyOptions {
  readonly buckets: readonly number[];
}

/** Options of a labelled histogram. */
export interface HistogramVecOptions extends VecOptions {
  readonly buckets: readonly number[];
}

/** A monotonically increasing count. */
export class Counter {
  private v = 0;

  /** Adds `by` (default 1); a negative `by` is a broken invariant (a counter never goes down). */
  inc(by = 1): void {
    if (!(by >= 0)) assert(false, `counter increment ${by} is not a non-negative number`);
    this.v += by;
  }

  get value(): number {
    return this.v;
  }
}

/** A value that goes up and down. */
export class Gauge {
  private v = 0;

  set(v: number): void {
    this.v = v;
  }

  inc(by = 1): void {
    this.v += by;
  }

  dec(by = 1): void {
    this.v -= by;
  }

  get value(): number {
    return this.v;
  }
}

/** Counts of observations per bucket, with their sum. */
export class Histogram {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is (last bound, +Inf). */
  private readonly counts: Float64Array;
  private total = 0;
  private sumOf = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation (a binary search for its bucket, no allocation). */
  observe(v: number): void {
    const b = this.bounds;
    let lo = 0;
    let hi = b.length;
    // The first bound >= v (Prometheus buckets are upper-inclusive).
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((b[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    (this.counts as Float64Array)[lo]! += 1;
    this.total++;
    this.sumOf += v;
  }

  get count(): number {
    return this.total;
  }

  get sum(): number {
    return this.sumOf;
  }

  /** Observations in bucket i alone: (bounds[i-1], bounds[i]]; i = bounds.length: above all. */
  countIn(i: number): number {
    return this.counts[i] as number;
  }
}

/** Buckets as Prometheus' ExponentialBuckets(start, factor, count). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  assert(start > 0 && factor > 1 && Number.isSafeInteger(count) && count >= 1, `exponential buckets ${start} ${factor} ${count}`);
  const out: number[] = [];
  let v = start;
  for (let i = 0; i < count; i++) {
    out.push(v);
    v *= factor;
  }
  return out;
}

function checkBuckets(name: string, buckets: readonly number[]): void {
  assert(buckets.length > 0, `${name}: a histogram needs buckets`);
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i] as number;
    assert(Number.isFinite(b), `${name}: bucket ${b} is not finite (+Inf is implicit)`);
    assert(i === 0 || b > (buckets[i - 1] as number), `${name}: buckets must strictly increase`);
  }
}

/** A rendered `{a="x",b="y"}` with the label values in sorted-name order (for sorting). */
interface Child<T> {
  readonly metric: T;
  readonly labelText: string;
  readonly sortKey: readonly string[];
}

/** A family of children told apart by label values. */
class Vec<T> {
  private readonly children = new Map<string, Child<T>>();
  /** Position, in `labelNames`, of each label in sorted-name order. */
  private readonly order: number[];

  constructor(
    readonly labelNames: readonly string[],
    private readonly make: () => T,
  ) {
    this.order = labelNames.map((_, i) => i).sort((a, b) => ((labelNames[a] as string) < (labelNames[b] as string) ? -1 : 1));
  }

  /** The child for these label values (created on first use). Keep it: this call allocates. */
  labels(...values: string[]): T {
    assert(values.length === this.labelNames.length, () => `expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let c = this.children.get(key);
    if (c === undefined) {
      const sortKey = this.order.map((i) => values[i] as string);
      const labelText = this.order.map((i) => `${this.labelNames[i]}="${escapeLabelValue(values[i] as string)}"`).join(',');
      c = { metric: this.make(), labelText, sortKey };
      this.children.set(key, c);
    }
    return c.metric;
  }

  /** Drops every child (e.g. a peer that left). */
  reset(): void {
    this.children.clear();
  }

  /** Children in output order. */
  sorted(): Child<T>[] {
    return [...this.children.values()].sort((a, b) => {
      for (let i = 0; i < a.sortKey.length; i++) {
        const x = a.sortKey[i] as string;
        const y = b.sortKey[i] as string;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    });
  }

  get size(): number {
    return this.children.size;
  }
}

/** Counters by label values. */
export class CounterVec extends Vec<Counter> {
  constructor(labelNames: readonly string[]) {
    super(labelNames, () => new Counter());
  }
}

/** Gauges by label values. */
export class GaugeVec extends Vec<Gauge> {
  constructor(labelNames: readonly string[]) {
    super(labelNames, () => new Gauge());
  }
}

/** Histograms by label values, all with the same buckets. */
export class HistogramVec extends Vec<Histogram> {
  constructor(labelNames: readonly string[], buckets: readonly number[]) {
    super(labelNames, () => new Histogram(buckets));
  }
}

type AnyMetric = Counter | Gauge | Histogram | CounterVec | GaugeVec | HistogramVec;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly metric: AnyMetric;
}

/** The metrics of one member (or one process), rendered on scrape. */
export class Registry {
  private readonly families = new Map<string, Family>();
  private readonly collectors: (() => void)[] = [];

  /** A plain counter. */
  counter(o: FamilyOptions): Counter {
    return this.add(o, 'counter', new Counter());
  }

  /** A plain gauge. */
  gauge(o: FamilyOptions): Gauge {
    return this.add(o, 'gauge', new Gauge());
  }

  /** A plain histogram. */
  histogram(o: HistogramOptions): Histogram {
    checkBuckets(o.name, o.buckets);
    return this.add(o, 'histogram', new Histogram(o.buckets));
  }

  /** Counters by label. */
  counterVec(o: VecOptions): CounterVec {
    this.checkLabels(o);
    return this.add(o, 'counter', new CounterVec(o.labelNames));
  }

  /** Gauges by label. */
  gaugeVec(o: VecOptions): GaugeVec {
    this.checkLabels(o);
    return this.add(o, 'gauge', new GaugeVec(o.labelNames));
  }

  /** Histograms by label. */
  histogramVec(o: HistogramVecOptions): HistogramVec {
    this.checkLabels(o);
    checkBuckets(o.name, o.buckets);
    return this.add(o, 'histogram', new HistogramVec(o.labelNames, o.buckets));
  }

  /**
   * Runs `collect` before every scrape: the place to set gauges that are state (db size,
   * keys, leader) from their source, rather than updating them on every change. It must be
   * cheap (no walk over user data) and must not throw.
   */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** Names of the registered families, sorted. */
  names(): string[] {
    return [...this.families.keys()].sort();
  }

  /** The text exposition (format 0.0.4) of every family; see the file comment for order. */
  expose(): string {
    for (const c of this.collectors) c();
    const out: string[] = [];
    for (const name of this.names()) writeFamily(out, this.families.get(name) as Family);
    return out.join('');
  }

  private checkLabels(o: VecOptions): void {
    assert(o.labelNames.length > 0, `${o.name}: a labelled family needs label names`);
    assert(new Set(o.labelNames).size === o.labelNames.length, `${o.name}: duplicate label names`);
    for (const l of o.labelNames) assert(isLabelName(l) && l !== 'le', `${o.name}: invalid label name '${l}'`);
  }

  private add<T extends AnyMetric>(o: FamilyOptions, type: MetricType, metric: T): T {
    assert(isMetricName(o.name), `invalid metric name '${o.name}'`);
    assert(!this.families.has(o.name), `metric '${o.name}' is registered twice`);
    this.families.set(o.name, { name: o.name, help: o.help, type, metric });
    return metric;
  }
}

/** The text content type of the exposition. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function writeFamily(out: string[], f: Family): void {
  const m = f.metric;
  if ((m instanceof CounterVec || m instanceof GaugeVec || m instanceof HistogramVec) && m.size === 0) return;
  out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
  if (m instanceof Counter || m instanceof Gauge) out.push(`${f.name} ${formatFloat(m.value)}\n`);
  else if (m instanceof Histogram) writeHistogram(out, f.name, '', m);
  else if (m instanceof HistogramVec) for (const c of m.sorted()) writeHistogram(out, f.name, c.labelText, c.metric);
  else for (const c of (m as CounterVec | GaugeVec).sorted()) out.push(`${f.name}{${c.labelText}} ${formatFloat(c.metric.value)}\n`);
}

function writeHistogram(out: string[], name: string, labelText: string, h: Histogram): void {
  const sep = labelText === '' ? '' : ',';
  let n = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    n += h.countIn(i); // buckets are cumulative on the wire
    out.push(`${name}_bucket{${labelText}${sep}le="${formatFloat(h.bounds[i] as number)}"} ${formatFloat(n)}\n`);
  }
  out.push(`${name}_bucket{${labelText}${sep}le="+Inf"} ${formatFloat(h.count)}\n`);
  const braces = labelText === '' ? '' : `{${labelText}}`;
  out.push(`${name}_sum${braces} ${formatFloat(h.sum)}\n`);
  out.push(`${name}_count${braces} ${formatFloat(h.count)}\n`);
}
