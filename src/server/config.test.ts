import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveMemberConfig, autoCompactionRetention, effectiveQuotaBytes, parseDurationMs, DEFAULT_QUOTA_BYTES } from './config';

test('defaults are etcd 3.4\'s, and the initial cluster follows the name and peer URLs', () => {
  const c = resolveMemberConfig({});
  assert.equal(c.initialCluster, 'default=http://localhost:2380');
  assert.equal(c.maxRequestBytes, 1572864);
  assert.equal(c.maxTxnOps, 128);
  assert.equal(c.snapshotCount, 100000);
  assert.equal(effectiveQuotaBytes(c), DEFAULT_QUOTA_BYTES);
  const n = resolveMemberConfig({ name: 'n1', initialAdvertisePeerUrls: ['http://10.0.0.1:2380'] });
  assert.equal(n.initialCluster, 'n1=http://10.0.0.1:2380');
  assert.equal(n.dataDir, 'n1.floe');
});

test('limits are checked at their edges', () => {
  assert.doesNotThrow(() => resolveMemberConfig({ heartbeatMs: 100, electionMs: 500 }));
  assert.throws(() => resolveMemberConfig({ heartbeatMs: 100, electionMs: 499 }), /at least as 5 times/);
  assert.doesNotThrow(() => resolveMemberConfig({ electionMs: 50_000 }));
  assert.throws(() => resolveMemberConfig({ electionMs: 50_001 }), /too long/);
  assert.throws(() => resolveMemberConfig({ maxTxnOps: 0 }), /max-txn-ops/);
  assert.throws(() => resolveMemberConfig({ snapshotCount: 0 }), /snapshot-count/);
  assert.equal(effectiveQuotaBytes(resolveMemberConfig({ quotaBackendBytes: -1 })), Infinity);
});

test('auto-compaction retention: bare numbers are hours in periodic mode, revisions in revision mode', () => {
  assert.equal(autoCompactionRetention(resolveMemberConfig({ autoCompactionRetention: '1' })), 3_600_000);
  assert.equal(autoCompactionRetention(resolveMemberConfig({ autoCompactionRetention: '90s' })), 90_000);
  assert.equal(autoCompactionRetention(resolveMemberConfig({ autoCompactionRetention: '1h30m' })), 5_400_000);
  assert.equal(autoCompactionRetention(resolveMemberConfig({ autoCompactionMode: 'revision', autoCompactionRetention: '1000' })), 1000);
  assert.throws(() => resolveMemberConfig({ autoCompactionMode: 'revision', autoCompactionRetention: '1h' }), /invalid auto-compaction-retention/);
  assert.equal(parseDurationMs('5x'), null);
});
