import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFloeError, scratchDir } from '../pkg';
import { newTokenProvider, SimpleTokens } from './tokens';
import { JwtTokens, parseGoDurationMs } from './jwt';

function keyFiles(kind: 'rsa' | 'ec'): { priv: string; pub: string } {
  const dir = scratchDir('floe-jwt-');
  const { privateKey, publicKey } =
    kind === 'rsa' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = path.join(dir, 'priv.pem');
  const pub = path.join(dir, 'pub.pem');
  fs.writeFileSync(priv, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  fs.writeFileSync(pub, publicKey.export({ format: 'pem', type: 'spki' }));
  return { priv, pub };
}

function configCode(authToken: string): string {
  try {
    newTokenProvider({ authToken, ttlSec: 300 });
    return 'OK';
  } catch (e) {
    if (isFloeError(e)) return e.message;
    throw e;
  }
}

test('RS256 and ES256 tokens carry etcd\'s claims and verify; tampering and other keys fail', () => {
  for (const [kind, alg] of [['rsa', 'RS256'], ['ec', 'ES256'], ['rsa', 'PS384']] as const) {
    const k = keyFiles(kind);
    const t = newTokenProvider({ authToken: `jwt,pub-key=${k.pub},priv-key=${k.priv},sign-method=${alg},ttl=1m`, ttlSec: 0 });
    const token = t.assign('alice', 7, '', 0);
    const [h, c] = token.split('.') as [string, string];
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg, typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(claims), ['exp', 'revision', 'username']);
    assert.deepEqual(t.info(token, 99), { username: 'alice', revision: 7 }, `${alg}: the token's own revision, not the store's`);
    const forgedClaims = Buffer.from(JSON.stringify({ ...claims, username: 'root' })).toString('base64url');
    assert.equal(t.info(`${h}.${forgedClaims}.${token.split('.')[2]}`, 7), null, `${alg}: changed claims fail`);
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    assert.equal(t.info(`${none}.${c}.`, 7), null, `${alg}: alg none is refused`);
    const other = keyFiles(kind);
    const t2 = newTokenProvider({ authToken: `jwt,priv-key=${other.priv},sign-method=${alg}`, ttlSec: 0 });
    assert.equal(t2.info(token, 7), null, `${alg}: another key's member refuses it`);
    assert.equal(t.info('a.b', 7), null);
    assert.equal(t.info('not-a-jwt', 7), null);
  }
});

test('an expired JWT is invalid', () => {
  const k = keyFiles('ec');
  let now = 1_700_000_000_000;
  const base = newTokenProvider({ authToken: `jwt,priv-key=${k.priv},sign-method=ES256,ttl=10s`, ttlSec: 0 }) as JwtTokens;
  const t = new JwtTokens(base.opts, () => now);
  const token = t.assign('bob', 3);
  now += 10_000;
  assert.notEqual(t.info(token), null, 'valid up to exp');
  now += 1_000;
  assert.equal(t.info(token), null, 'a second past exp');
});

test('verify-only (public key only) verifies but cannot sign', () => {
  const k = keyFiles('rsa');
  const signer = newTokenProvider({ authToken: `jwt,priv-key=${k.priv},sign-method=RS256`, ttlSec: 0 });
  const verifier = newTokenProvider({ authToken: `jwt,pub-key=${k.pub},sign-method=RS256`, ttlSec: 0 });
  assert.deepEqual(verifier.info(signer.assign('u', 2, '', 0), 0), { username: 'u', revision: 2 });
  assert.throws(() => verifier.assign('u', 2, '', 0), /verify-only/);
});

test('bad --auth-token settings are refused with etcd\'s reasons', () => {
  const k = keyFiles('rsa');
  assert.equal(configCode('simple'), 'OK');
  assert.equal(configCode('bogus'), 'auth: invalid auth options');
  assert.equal(configCode('jwt,sign-method'), 'auth: invalid auth options');
  assert.equal(configCode(`jwt,priv-key=${k.priv},sign-method=XX256`), 'auth: invalid auth signature method');
  assert.equal(configCode('jwt,sign-method=RS256'), 'auth: missing key data');
  const other = keyFiles('rsa');
  assert.equal(configCode(`jwt,priv-key=${k.priv},pub-key=${other.pub},sign-method=RS256`), "auth: public and private keys don't match");
});

test('Go durations', () => {
  assert.equal(parseGoDurationMs('5m'), 300_000);
  assert.equal(parseGoDurationMs('1h30m'), 5_400_000);
  assert.equal(parseGoDurationMs('250ms'), 250);
  assert.throws(() => parseGoDurationMs('5'));
});

test('simple tokens expire after the TTL since last use; use extends them; disable drops all', () => {
  let now = 0;
  const t = new SimpleTokens(1000, () => now);
  t.enable();
  const tok = t.assign('u', 1, t.genTokenPrefix(), 12);
  assert.match(tok, /^[a-zA-Z]{16}\.12$/);
  assert.equal(t.indexOf(tok), 12);
  now = 900;
  assert.deepEqual(t.info(tok, 5), { username: 'u', revision: 5 });
  now = 1800;
  assert.notEqual(t.info(tok, 5), null, 'the use at 900 extended it to 1900');
  now = 2801;
  assert.equal(t.info(tok, 5), null, 'expired');
  const tok2 = t.assign('u', 1, 'x'.repeat(16), 13);
  t.disable();
  t.enable();
  assert.equal(t.info(tok2, 5), null);
  t.close();
});
