import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatGoDuration, parseGoBool, parseGoDurationNs, parseGoInt, parseGoUint } from './go-values';

test('ParseUint base 0: prefixes, octal leading zero, underscores, 64-bit edge', () => {
  const cases: [string, bigint | 'syntax' | 'range'][] = [
    ['0', 0n],
    ['100000', 100000n],
    ['0x10', 16n],
    ['0X1f', 31n],
    ['0o17', 15n],
    ['0b101', 5n],
    ['010', 8n],
    ['08', 'syntax'], // a leading 0 means octal
    ['0x', 'syntax'],
    ['1_000', 1000n],
    ['0x_ff', 255n],
    ['_1', 'syntax'],
    ['1__0', 'syntax'],
    ['1_', 'syntax'],
    ['', 'syntax'],
    ['-1', 'syntax'],
    ['+1', 'syntax'],
    ['1.5', 'syntax'],
    [' 1', 'syntax'],
    ['18446744073709551615', 18446744073709551615n],
    ['18446744073709551616', 'range'],
    ['0xffffffffffffffff', 18446744073709551615n],
  ];
  for (const [s, want] of cases) assert.equal(parseGoUint(s, 64), want, JSON.stringify(s));
  assert.equal(parseGoUint('4294967295', 32), 4294967295n);
  assert.equal(parseGoUint('4294967296', 32), 'range');
});

test('ParseInt: sign, then as ParseUint; int64 edges', () => {
  assert.equal(parseGoInt('-9223372036854775808', 64), -9223372036854775808n);
  assert.equal(parseGoInt('-9223372036854775809', 64), 'range');
  assert.equal(parseGoInt('9223372036854775807', 64), 9223372036854775807n);
  assert.equal(parseGoInt('9223372036854775808', 64), 'range');
  assert.equal(parseGoInt('+42', 64), 42n);
  assert.equal(parseGoInt('-0x10', 64), -16n);
  assert.equal(parseGoInt('-', 64), 'syntax');
  assert.equal(parseGoInt('--1', 64), 'syntax');
  assert.equal(parseGoInt('-1_0', 64), -10n);
});

test('ParseBool accepts exactly Go\'s spellings', () => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(s), true, s);
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(s), false, s);
  for (const s of ['', 'yes', 'tRUE', 'on', '2']) assert.equal(parseGoBool(s), null, s);
});

test('ParseDuration: units, fractions, signs, the bare 0, and the int64 edge', () => {
  const ms = 1_000_000n;
  const cases: [string, bigint | null][] = [
    ['0', 0n],
    ['-0', 0n],
    ['100ms', 100n * ms],
    ['1h30m', 5400_000n * ms],
    ['1.5h', 5400_000n * ms],
    ['.5s', 500n * ms],
    ['1.s', 1000n * ms],
    ['-1s', -1000n * ms],
    ['+1s', 1000n * ms],
    ['1us', 1000n],
    ['1µs', 1000n],
    ['1μs', 1000n],
    ['3ns', 3n],
    ['10', null], // missing unit
    ['', null],
    ['1x', null],
    ['.s', null],
    ['s', null],
    ['1h 2m', null],
    ['9223372036854775807ns', 9223372036854775807n],
    ['9223372036854775808ns', null],
    ['2562047h', 2562047n * 3_600_000_000_000n],
    ['2562048h', null],
  ];
  for (const [s, want] of cases) assert.equal(parseGoDurationNs(s), want, JSON.stringify(s));
});

test('Duration.String for help defaults', () => {
  const s = 1_000_000_000n;
  assert.equal(formatGoDuration(0n), '0s');
  assert.equal(formatGoDuration(100_000_000n), '100ms');
  assert.equal(formatGoDuration(5n * s), '5s');
  assert.equal(formatGoDuration(1_500_000_000n), '1.5s');
  assert.equal(formatGoDuration(600n * s), '10m0s');
  assert.equal(formatGoDuration(7200n * s), '2h0m0s');
  assert.equal(formatGoDuration(-90n * s), '-1m30s');
});
