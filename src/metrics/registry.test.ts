import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, exponentialBuckets, Histogram } from './registry';
import { AssertionError } from '../pkg';

test('exposition: families sorted by name, HELP and TYPE before samples, vec children sorted by label values', () => {
  const r = new Registry();
  const z = r.counter({ name: 'z_total', help: 'Last.' });
  const v = r.counterVec({ name: 'a_total', help: 'First "one"\nsecond line.', labelNames: ['method', 'code'] });
  const g = r.gauge({ name: 'm_gauge', help: 'Middle.' });
  z.inc(2);
  g.set(-3.5);
  // Label names sort as code < method: children order by code first.
  v.labels('Range', 'OK').inc();
  v.labels('Put', 'OK').inc(3);
  v.labels('Put', 'Canceled').inc();
  assert.equal(
    r.expose(),
    [
      '# HELP a_total First "one"\\nsecond line.',
      '# TYPE a_total counter',
      'a_total{code="Canceled",method="Put"} 1',
      'a_total{code="OK",method="Put"} 3',
      'a_total{code="OK",method="Range"} 1',
      '# HELP m_gauge Middle.',
      '# TYPE m_gauge gauge',
      'm_gauge -3.5',
      '# HELP z_total Last.',
      '# TYPE z_total counter',
      'z_total 2',
      '',
    ].join('\n'),
  );
});

test('a labelled family with no child is left out, a plain one is shown at 0', () => {
  const r = new Registry();
  r.counterVec({ name: 'peer_bytes_total', help: 'h', labelNames: ['To'] });
  r.counter({ name: 'plain_total', help: 'h' });
  assert.equal(r.expose(), '# HELP plain_total h\n# TYPE plain_total counter\nplain_total 0\n');
});

test('histogram buckets are upper-inclusive and cumulative, with +Inf, _sum and _count', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'd_seconds', help: 'h', buckets: [0.1, 1, 10] });
  for (const v of [0.05, 0.1, 0.5, 1, 1.0000001, 50]) h.observe(v);
  assert.equal(
    r.expose(),
    [
      '# HELP d_seconds h',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.1"} 2',
      'd_seconds_bucket{le="1"} 4',
      'd_seconds_bucket{le="10"} 5',
      'd_seconds_bucket{le="+Inf"} 6',
      `d_seconds_sum ${0.05 + 0.1 + 0.5 + 1 + 1.0000001 + 50}`,
      'd_seconds_count 6',
      '',
    ].join('\n'),
  );
});

test('histogram observe agrees with a linear scan at every bucket edge (seeded)', () => {
  const seed = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);
  const bounds = exponentialBuckets(0.001, 2, 14);
  const h = new Histogram(bounds);
  const want = new Array<number>(bounds.length + 1).fill(0);
  let x = seed;
  const next = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const values = [...bounds, ...bounds.map((b) => b * (1 + 1e-12)), 0, -1, 1e9];
  for (let i = 0; i < 500; i++) values.push(next() * 20);
  for (const v of values) {
    h.observe(v);
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    want[i]!++;
  }
  for (let i = 0; i <= bounds.length; i++) assert.equal(h.countIn(i), want[i], `bucket ${i} (seed ${seed})`);
  assert.equal(h.count, values.length);
});

test('etcd bucket layout: ExponentialBuckets(0.001, 2, 14) ends at 8.192', () => {
  const b = exponentialBuckets(0.001, 2, 14);
  assert.equal(b.length, 14);
  assert.equal(b[0], 0.001);
  assert.equal(b[13], 8.192);
});

test('misuse is a broken invariant: duplicate names, bad names, negative counter steps, wrong label count', () => {
  const r = new Registry();
  r.counter({ name: 'x_total', help: 'h' });
  assert.throws(() => r.counter({ name: 'x_total', help: 'h' }), AssertionError);
  assert.throws(() => r.gauge({ name: 'bad-name', help: 'h' }), AssertionError);
  assert.throws(() => r.counterVec({ name: 'v', help: 'h', labelNames: ['le'] }), AssertionError);
  assert.throws(() => r.counterVec({ name: 'w', help: 'h', labelNames: ['a', 'a'] }), AssertionError);
  assert.throws(() => r.histogram({ name: 'h1', help: 'h', buckets: [1, 1] }), AssertionError);
  assert.throws(() => r.histogram({ name: 'h2', help: 'h', buckets: [1, Infinity] }), AssertionError);
  const c = r.counter({ name: 'y_total', help: 'h' });
  assert.throws(() => c.inc(-1), AssertionError);
  assert.throws(() => c.inc(NaN), AssertionError);
  const v = r.counterVec({ name: 'z_total', help: 'h', labelNames: ['a', 'b'] });
  assert.throws(() => v.labels('only-one'), AssertionError);
});

test('label values are escaped in the output, and the same values give the same child', () => {
  const r = new Registry();
  const v = r.gaugeVec({ name: 'g', help: 'h', labelNames: ['path'] });
  v.labels('a"b\\c\nd').set(1);
  v.labels('a"b\\c\nd').inc();
  assert.match(r.expose(), /^g\{path="a\\"b\\\\c\\nd"\} 2$/m);
});

test('collectors run before each scrape', () => {
  const r = new Registry();
  const g = r.gauge({ name: 'state', help: 'h' });
  let n = 0;
  r.onCollect(() => g.set(++n));
  assert.match(r.expose(), /^state 1$/m);
  assert.match(r.expose(), /^state 2$/m);
});
