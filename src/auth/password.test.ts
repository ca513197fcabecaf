import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { comparePassword, hashPassword, hashPasswordSync, MIN_BCRYPT_COST, MAX_BCRYPT_COST } from './password';

test('bcrypt hashes at the minimum cost verify; a wrong password and an empty hash do not', async () => {
  const h = await hashPassword('s3cret', MIN_BCRYPT_COST);
  assert.match(h.toString(), /^\$2[ab]\$04\$/, 'the cost is in the hash, as Go writes it');
  assert.ok(!h.toString().includes('s3cret'));
  assert.equal(await comparePassword('s3cret', h), true);
  assert.equal(await comparePassword('s3cret ', h), false);
  assert.equal(await comparePassword('', Buffer.alloc(0)), false, 'a user without password never matches');
  assert.equal(await comparePassword('x', hashPasswordSync('x', MIN_BCRYPT_COST)), true);
});

test('a Go-written hash ($2a$, etcd\'s) verifies', async () => {
  // The hash etcd 3.4 stored for password "pw" at --bcrypt-cost=4 (read from its backend file).
  const go = Buffer.from('$2a$04$85sl.8Dc9MjOjDWtVsGVy.X1urg3QYETgNf7tCpEE.40vW8IrbZvq');
  assert.equal(await comparePassword('pw', go), true);
});

test('costs outside bcrypt\'s 4..31 are refused', async () => {
  await assert.rejects(hashPassword('x', MIN_BCRYPT_COST - 1), /outside \[4, 31\]/);
  await assert.rejects(hashPassword('x', MAX_BCRYPT_COST + 1), /outside \[4, 31\]/);
  assert.throws(() => hashPasswordSync('x', 3.5), /outside/);
});
