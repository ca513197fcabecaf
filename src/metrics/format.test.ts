import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHelp, escapeLabelValue, formatFloat, isLabelName, isMetricName } from './format';

test('numbers are written as Go\'s FormatFloat(v, \'g\', -1, 64), exponent form from 1e6 and below 1e-4', () => {
  // Each pair was read off a real etcd 3.4 scrape or Go's strconv.
  const cases: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [-1, '-1'],
    [20480, '20480'],
    [999999, '999999'],
    [1e6, '1e+06'],
    [2147483648, '2.147483648e+09'],
    [1795504323.81, '1.79550432381e+09'],
    [18446744073709551615, '1.8446744073709552e+19'],
    [0.001, '0.001'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.013235301000000001, '0.013235301000000001'],
    [1.5e-7, '1.5e-07'],
    [1e21, '1e+21'],
    [1.2e100, '1.2e+100'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [NaN, 'NaN'],
  ];
  for (const [v, want] of cases) assert.equal(formatFloat(v), want, String(v));
});

test('label values escape backslash, double quote and newline; help escapes backslash and newline only', () => {
  assert.equal(escapeLabelValue('plain'), 'plain');
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('say "hi"\\\n'), 'say "hi"\\\\\\n');
});

test('names: metric names allow colons, label names do not; reserved __ prefix refused', () => {
  assert.ok(isMetricName('etcd_server_has_leader'));
  assert.ok(isMetricName('a:b'));
  assert.ok(!isMetricName('1abc'));
  assert.ok(!isMetricName('a-b'));
  assert.ok(isLabelName('To'));
  assert.ok(!isLabelName('__name__'));
  assert.ok(!isLabelName('a:b'));
});
