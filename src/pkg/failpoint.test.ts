import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parse } from './failpoint';

test('parse accepts panic, sleep and hit counts, and rejects anything else', () => {
  const m = parse('a.b=panic; c=sleep(20);d=3*panic');
  assert.deepEqual(m.get('a.b')?.action, { kind: 'panic' });
  assert.deepEqual(m.get('c')?.action, { kind: 'sleep', ms: 20 });
  assert.equal(m.get('d')?.onHit, 3);
  assert.throws(() => parse('x=explode'), /invalid failpoint specification: x=explode/);
  assert.throws(() => parse('=panic'), /invalid failpoint/);
});

test('an armed panic kills the process with SIGKILL at the chosen hit', () => {
  const script = `const {failpoint}=require(${JSON.stringify(require.resolve('./failpoint'))});
    for (let i=1;i<=5;i++){ console.log('hit',i); failpoint('t.x'); }`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, FLOE_FAILPOINTS: 't.x=3*panic' }, encoding: 'utf8',
  });
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.stdout.trim().split('\n').length, 3);
});
