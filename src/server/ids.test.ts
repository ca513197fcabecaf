import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { computeClusterId, computeMemberId, idHex, parseInitialCluster } from './ids';

test('the default single member gets etcd 3.4 ids: member 8e9e05c52164694d, cluster cdf818194e3a8c32', () => {
  const id = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
  assert.equal(idHex(id), '8e9e05c52164694d');
  assert.equal(idHex(computeClusterId([id])), 'cdf818194e3a8c32');
});

test('member ids depend on the sorted peer URLs and the token, not the URL order', () => {
  const a = computeMemberId(['http://b:2380', 'http://a:2380'], 't');
  assert.equal(a, computeMemberId(['http://a:2380', 'http://b:2380'], 't'));
  assert.notEqual(a, computeMemberId(['http://a:2380', 'http://b:2380'], 'u'));
  assert.notEqual(a, computeMemberId(['http://a:2380', 'http://b:2380'], 't', 1700000000));
});

test('--initial-cluster parses names with several URLs and refuses malformed entries', () => {
  assert.deepEqual(parseInitialCluster('a=http://x:1,b=http://y:1,a=http://z:1'), [
    { name: 'a', peerUrls: ['http://x:1', 'http://z:1'] },
    { name: 'b', peerUrls: ['http://y:1'] },
  ]);
  assert.throws(() => parseInitialCluster('nourl'), /invalid --initial-cluster/);
  assert.throws(() => parseInitialCluster(''), /empty/);
});
