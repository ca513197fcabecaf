import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, intFlag, choiceFlag } from './args';

const spec = { count: 'string', keep: 'bool', freelist: 'string' } as const;

test('flags take values in both forms and positionals keep their order', () => {
  const p = parseArgs(['a', '--count', '5', 'b', '--keep', '--freelist=array', '--', '--x'], spec);
  assert.deepEqual(p.positional, ['a', 'b', '--x']);
  assert.equal(intFlag(p, 'count', 1, 1, 10), 5);
  assert.equal(p.flags.get('keep'), 'true');
  assert.equal(choiceFlag(p, 'freelist', ['array', 'hashmap'], 'hashmap'), 'array');
});

test('unknown flags, missing values and out-of-range numbers are refused', () => {
  assert.throws(() => parseArgs(['--nope'], spec), /unknown flag: --nope/);
  assert.throws(() => parseArgs(['--count'], spec), /flag needs an argument: --count/);
  assert.throws(() => parseArgs(['--keep=maybe'], spec), /invalid boolean value/);
  const p = parseArgs(['--count', '11'], spec);
  assert.throws(() => intFlag(p, 'count', 1, 1, 10), /must be between 1 and 10/);
  assert.equal(intFlag(p, 'count', 1, 1, 11), 11, 'the upper edge is accepted');
  assert.throws(() => intFlag(parseArgs(['--count', '-1'], spec), 'count', 1, 0, 10), /not a non-negative integer/);
  assert.throws(() => choiceFlag(parseArgs(['--freelist', 'map2'], spec), 'freelist', ['array', 'hashmap'], 'hashmap'), /must be one of array, hashmap/);
});
