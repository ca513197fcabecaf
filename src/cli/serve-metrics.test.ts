import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsSettings } from './serve-metrics';
import type { FlagValue } from './etcd-flags';

const read = (v: Record<string, FlagValue>) => metricsSettings(new Map(Object.entries(v)));

test('--metrics: extensive turns on the handling histograms, anything else is basic (as etcd)', () => {
  assert.deepEqual(read({ metrics: 'extensive' }), { extensive: true, listenUrls: [] });
  assert.deepEqual(read({ metrics: 'basic' }), { extensive: false, listenUrls: [] });
  assert.deepEqual(read({}), { extensive: false, listenUrls: [] });
});

test('--listen-metrics-urls: http on an IP or localhost; hostnames, https and bad ports refused', () => {
  assert.deepEqual(read({ 'listen-metrics-urls': ['http://127.0.0.1:2381', 'http://localhost:0', 'http://[::1]:65535'] }), {
    extensive: false,
    listenUrls: [
      { url: 'http://127.0.0.1:2381', host: '127.0.0.1', port: 2381 },
      { url: 'http://localhost:0', host: '127.0.0.1', port: 0 },
      { url: 'http://[::1]:65535', host: '::1', port: 65535 },
    ],
  });
  assert.equal(read({ 'listen-metrics-urls': ['http://example.com:2381'] }), 'expected IP in URL for binding (http://example.com:2381)');
  assert.match(read({ 'listen-metrics-urls': ['https://127.0.0.1:2381'] }) as string, /only http:\/\//);
  assert.match(read({ 'listen-metrics-urls': ['http://127.0.0.1:65536'] }) as string, /port out of range/);
  assert.match(read({ 'listen-metrics-urls': ['http://127.0.0.1'] }) as string, /want http:\/\/IP:port/);
});
