import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Registry } from './registry';
import { readLimit, registerProcessMetrics } from './process';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                524288               files
Max address space         unlimited            unlimited            bytes
`;

test('soft limits are read from /proc/self/limits; unlimited is Go\'s MaxUint64 as a float', () => {
  assert.equal(readLimit(LIMITS, 'Max open files'), 20000);
  assert.equal(readLimit(LIMITS, 'Max address space'), 18446744073709551615);
  assert.equal(readLimit(LIMITS, 'Max nothing'), null);
});

test('process families are present and plausible for this process', () => {
  const r = new Registry();
  registerProcessMetrics(r);
  const text = r.expose();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds', 'process_max_fds']) {
    assert.match(text, new RegExp(`^# TYPE ${n} `, 'm'), n);
  }
  const nowSec = Date.now() / 1000;
  assert.ok(value('process_start_time_seconds') <= nowSec && value('process_start_time_seconds') > nowSec - process.uptime() - 5);
  assert.ok(value('process_resident_memory_bytes') > 1024 * 1024);
  if (fs.existsSync('/proc/self/fd')) {
    // This process holds at least stdin/stdout/stderr; the count is taken from /proc.
    assert.ok(value('process_open_fds') >= 3);
    assert.ok(value('process_max_fds') >= value('process_open_fds'));
    assert.ok(value('process_virtual_memory_bytes') >= value('process_resident_memory_bytes'));
  }
  // CPU time only grows between scrapes.
  const before = value('process_cpu_seconds_total');
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += i;
  assert.ok(x > 0);
  const after = Number(/^process_cpu_seconds_total (\S+)$/m.exec(r.expose())?.[1]);
  assert.ok(after >= before);
});
