import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import { ERR_FETCH_MEMBERS, fetchMembers } from './fetch-members';
import { ERR_PEER_LISTEN } from './peer-server';
import { freePort, liveHandles, TestMember, waitFor } from './test-util';

const MEMBERS = JSON.stringify([{ id: 170, name: 'a', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'] }]);

async function noHandles(): Promise<void> {
  await waitFor(() => liveHandles().length === 0, `no live handles (left: ${liveHandles().join(',')})`, 2000);
}

test('GET /members and /version answer JSON; other paths 404, other methods 405', async () => {
  const a = new TestMember(0xaan, {}, MEMBERS);
  await a.start();
  const members = await fetch(`${a.url}/members`);
  assert.equal(members.status, 200);
  assert.equal(members.headers.get('content-type'), 'application/json');
  assert.equal(await members.text(), MEMBERS);
  const version = await fetch(`${a.url}/version`);
  assert.equal(version.headers.get('content-type'), 'application/json');
  assert.equal(await version.text(), '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
  const nope = await fetch(`${a.url}/nope`);
  assert.equal(nope.status, 404);
  await nope.text();
  const post = await fetch(`${a.url}/members`, { method: 'POST' });
  assert.equal(post.status, 405);
  await post.text();
  await a.stop();
  await noHandles();
});

test('listen on a taken port rejects with a clear error; https without TLS settings and bad URLs are refused', async () => {
  const a = new TestMember(1n);
  await a.start();
  const b = new TestMember(2n);
  await assert.rejects(b.server.listen(a.url), (e: unknown) =>
    isFloeError(e, ERR_PEER_LISTEN) && e.message === `listen tcp 127.0.0.1:${a.server.port}: bind: address already in use`);
  await assert.rejects(b.server.listen('https://127.0.0.1:0'), (e: unknown) =>
    isFloeError(e, ERR_PEER_LISTEN) && e.message === 'cannot listen on TLS for 127.0.0.1:0: KeyFile and CertFile are not presented');
  await assert.rejects(b.server.listen('ftp://127.0.0.1:0'), (e: unknown) => isFloeError(e, ERR_PEER_LISTEN) && /only http/.test(e.message));
  await assert.rejects(b.server.listen('not a url'), (e: unknown) => isFloeError(e, ERR_PEER_LISTEN));
  await a.stop();
  await b.stop();
  await noHandles();
});

test('fetchMembers skips dead URLs and returns the first member list; all dead is a clear error', async () => {
  const a = new TestMember(0xaan, {}, MEMBERS);
  await a.start();
  const dead = `http://127.0.0.1:${await freePort()}`;
  const url = a.url;
  assert.equal(await fetchMembers([dead, url], 1000), MEMBERS);
  await a.stop();
  await assert.rejects(fetchMembers([dead, url], 500), (e: unknown) =>
    isFloeError(e, ERR_FETCH_MEMBERS) && e.message.startsWith('could not retrieve cluster information from the given URLs'));
  await noHandles();
});

test('close() with live streams in both directions releases every socket and timer', async () => {
  const a = new TestMember(1n);
  const b = new TestMember(2n);
  await a.start();
  await b.start();
  a.transport.addPeer(2n, [b.url]);
  b.transport.addPeer(1n, [a.url]);
  await waitFor(() => a.transport.activeSince(2n) !== null && b.transport.activeSince(1n) !== null, 'streams up');
  // Stop in the order a member shuts down: transport first on one side, listener first on the other.
  await a.transport.close();
  await b.server.close();
  await a.server.close();
  await b.transport.close();
  await noHandles();
});
