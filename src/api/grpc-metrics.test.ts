import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { GrpcMetrics, Registry, Counter } from '../metrics';
import { call, startHarness } from './test-harness';

function metrics(extensive: boolean) {
  const registry = new Registry();
  const grpcMetrics = new GrpcMetrics(registry, extensive);
  const bytes = { sent: new Counter(), received: new Counter() };
  return { registry, options: { grpc: grpcMetrics, bytes }, bytes };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const kv = (method: string, type = 'unary') => `grpc_method="${method}",grpc_service="etcdserverpb.KV",grpc_type="${type}"`;

test('every method of every service is counted from 0, all 17 codes of handled_total included', async () => {
  const m = metrics(false);
  const h = await startHarness({ server: { metrics: m.options } });
  try {
    const text = m.registry.expose();
    assert.equal(sample(text, `grpc_server_started_total{${kv('Range')}}`), 0);
    assert.equal(sample(text, `grpc_server_handled_total{grpc_code="Unauthenticated",${kv('Range')}}`), 0);
    const handled = text.split('\n').filter((l) => l.startsWith('grpc_server_handled_total{'));
    const methods = text.split('\n').filter((l) => l.startsWith('grpc_server_started_total{'));
    assert.equal(handled.length, methods.length * 17);
    assert.ok(methods.some((l) => l.includes('grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"')));
    assert.ok(methods.some((l) => l.includes('grpc_method="Snapshot",grpc_service="etcdserverpb.Maintenance",grpc_type="server_stream"')));
    assert.ok(!/grpc_server_handling_seconds/.test(text), 'no handling histogram unless extensive');
  } finally {
    await h.close();
  }
});

test('unary calls: started, received, sent on success only, handled by code; bytes both ways', async () => {
  const m = metrics(true);
  const h = await startHarness({ server: { metrics: m.options } });
  try {
    const c = h.client('kv');
    await call(c, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    await call(c, 'Put', { key: Buffer.from('k2'), value: Buffer.from('v') });
    await assert.rejects(call(c, 'Put', { key: Buffer.alloc(0), value: Buffer.from('v') }), (e: grpc.ServiceError) => e.code === 3);
    const text = m.registry.expose();
    assert.equal(sample(text, `grpc_server_started_total{${kv('Put')}}`), 3);
    assert.equal(sample(text, `grpc_server_msg_received_total{${kv('Put')}}`), 3);
    assert.equal(sample(text, `grpc_server_msg_sent_total{${kv('Put')}}`), 2);
    assert.equal(sample(text, `grpc_server_handled_total{grpc_code="OK",${kv('Put')}}`), 2);
    assert.equal(sample(text, `grpc_server_handled_total{grpc_code="InvalidArgument",${kv('Put')}}`), 1);
    assert.equal(sample(text, `grpc_server_handling_seconds_count{${kv('Put')}}`), 3);
    assert.ok(m.bytes.received.value >= 3 * 4, 'request bytes are counted');
    assert.ok(m.bytes.sent.value > 0, 'response bytes are counted');
  } finally {
    await h.close();
  }
});

test('streams: each message in and out is counted; a client cancel is handled as Canceled, once', async () => {
  const m = metrics(false);
  const h = await startHarness({ server: { metrics: m.options } });
  try {
    const w = h.client('watch');
    const stream = (w.Watch as () => grpc.ClientDuplexStream<unknown, unknown>)();
    const created = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.on('error', () => undefined);
    stream.write({ request_union: 'create_request', create_request: { key: Buffer.from('a'), range_end: Buffer.alloc(0) } });
    await created;
    stream.cancel();
    const series = 'grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"';
    for (let i = 0; i < 100 && sample(m.registry.expose(), `grpc_server_handled_total{grpc_code="Canceled",${series}}`) !== 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const text = m.registry.expose();
    assert.equal(sample(text, `grpc_server_started_total{${series}}`), 1);
    assert.equal(sample(text, `grpc_server_msg_received_total{${series}}`), 1);
    assert.ok((sample(text, `grpc_server_msg_sent_total{${series}}`) ?? 0) >= 1);
    assert.equal(sample(text, `grpc_server_handled_total{grpc_code="Canceled",${series}}`), 1);
    assert.equal(sample(text, `grpc_server_handled_total{grpc_code="OK",${series}}`), 0);
  } finally {
    await h.close();
  }
});
