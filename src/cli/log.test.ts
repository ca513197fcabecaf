import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { capnslogTime, createLogger } from './log';
import type { LogLevel } from './etcd-flags';

const at = (level: LogLevel, format: 'capnslog' | 'zap' = 'capnslog'): string[] => {
  const lines: string[] = [];
  const log = createLogger({ format, level, write: (l) => lines.push(l), nowMicros: () => 1_700_000_000_123_456 });
  for (const l of ['C', 'E', 'W', 'N', 'I', 'D'] as const) log.log(l, 'embed', `m${l}`);
  return lines;
};

test('capnslog lines: local time to the microsecond, level letter, package, message', () => {
  const [line] = at('info');
  assert.match(line!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.123456 C \| embed: mC\n$/);
  const d = new Date(1_700_000_000_123);
  assert.equal(capnslogTime(1_700_000_000_123_456).slice(0, 10), `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`);
});

test('--log-level filters as etcd maps it onto capnslog levels', () => {
  const letters = (level: LogLevel): string => at(level).map((l) => / ([CEWNID]) \| /.exec(l)![1]).join('');
  assert.equal(letters('debug'), 'CEWNID');
  assert.equal(letters('info'), 'CEWNI');
  assert.equal(letters('warn'), 'CEW');
  assert.equal(letters('error'), 'CE');
  assert.equal(letters('panic'), 'C');
  assert.equal(letters('fatal'), 'C');
});

test('zap lines are one JSON object each', () => {
  const lines = at('info', 'zap').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(lines.map((l) => l.level), ['fatal', 'error', 'warn', 'info', 'info']);
  assert.deepEqual(lines[4], { level: 'info', ts: new Date(1_700_000_000_123).toISOString(), caller: 'embed', msg: 'mI' });
});
