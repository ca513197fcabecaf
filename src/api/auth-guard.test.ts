import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import type { AuthServer, CallIdentity, EtcdServerApi } from '../server';
import { callIdentity, guardAuth } from './auth-guard';

function callWith(md: Record<string, string>): { metadata: Metadata } {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return { metadata };
}

/** An AuthServer that records what the guard asks of it (only the two methods it uses). */
function recordingAuth(pending: Promise<void> | null): { auth: AuthServer; ranAs: (CallIdentity | null)[]; current: { id: CallIdentity | null } } {
  const current: { id: CallIdentity | null } = { id: null };
  const ranAs: (CallIdentity | null)[] = [];
  const auth = {
    runAs<T>(id: CallIdentity, fn: () => T): T {
      const before = current.id;
      current.id = id;
      try {
        return fn();
      } finally {
        current.id = before;
      }
    },
    whenTokenKnown: () => pending,
  } as unknown as AuthServer;
  return { auth, ranAs, current };
}

test('the token comes from clientv3\'s "token" metadata, else the gateway\'s "authorization"', () => {
  assert.deepEqual(callIdentity(callWith({ token: 'abc.5' })), { token: 'abc.5', commonName: null });
  assert.deepEqual(callIdentity(callWith({ authorization: 'jwt' })), { token: 'jwt', commonName: null });
  assert.deepEqual(callIdentity(callWith({ token: 't', authorization: 'a' })), { token: 't', commonName: null });
  assert.equal(callIdentity(callWith({})), null, 'no credentials: nobody');
});

test('each handler runs as its caller; a call without credentials runs as nobody, untouched', async () => {
  const { auth, ranAs, current } = recordingAuth(null);
  const api = { auth } as unknown as EtcdServerApi;
  const h = guardAuth(api, { Range: (_call: unknown, cb: (e: null, r: unknown) => void) => { ranAs.push(current.id); cb(null, 'ok'); } });
  let answered = 0;
  h.Range(callWith({ token: 'tok.1' }), () => answered++);
  h.Range(callWith({}), () => answered++);
  assert.equal(answered, 2);
  assert.deepEqual(ranAs, [{ token: 'tok.1', commonName: null }, null]);
});

test('a token this member cannot know yet holds the call until it can', async () => {
  let release!: () => void;
  const pending = new Promise<void>((r) => (release = r));
  const { auth, ranAs, current } = recordingAuth(pending);
  const h = guardAuth({ auth } as unknown as EtcdServerApi, { Put: (_call: unknown) => ranAs.push(current.id) });
  h.Put(callWith({ token: 'tok.99' }));
  await new Promise((r) => setImmediate(r));
  assert.equal(ranAs.length, 0, 'held');
  release();
  await pending;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ranAs, [{ token: 'tok.99', commonName: null }]);
});

test('a server without an auth store gets its handlers back unchanged', () => {
  const handlers = { Range: () => undefined };
  assert.equal(guardAuth({} as EtcdServerApi, handlers), handlers);
});

test('a call relayed by the JSON gateway is never its certificate\'s common name', () => {
  assert.equal(callIdentity(callWith({ 'grpcgateway-accept': 'application/json' })), null);
  assert.deepEqual(callIdentity(callWith({ 'grpcgateway-accept': 'application/json', authorization: 't' })), { token: 't', commonName: null });
});
