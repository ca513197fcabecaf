/**
 * The authority filter in front of a real grpc-js server (etcd's KV and Maintenance services
 * over the TEST DOUBLE member), wired as grpc-server.ts will be: a plain net.Server whose
 * sockets go through authorityFixer into `createConnectionInjector`. Properties: clients whose
 * :authority is a URL (grpc-js with that authority; Debian's etcdctl 3.4 with an http://
 * endpoint) succeed through the filter and fail with PROTOCOL_ERROR (RST_STREAM code 1)
 * without it; clean clients work; a garbage connection is dropped, the server lives.
 */
import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { etcdServices } from '../etcdpb';
import type { FloeError } from '../pkg';
import { authorityFixer } from './h2-authority';
import { kvHandlers } from './kv-service';
import { maintenanceHandlers } from './maintenance-service';
import { MemberDouble } from './test-double';

const ETCDCTL = '/usr/bin/etcdctl';

interface Served {
  readonly port: number;
  readonly rejected: FloeError[];
  close(): Promise<void>;
}

async function serve(withFixer: boolean): Promise<Served> {
  const member = new MemberDouble();
  await member.put({ key: Buffer.from('foo'), value: Buffer.from('bar'), lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false });
  const server = new grpc.Server();
  const svc = etcdServices();
  server.addService(svc.kv, kvHandlers(member));
  server.addService(svc.maintenance, maintenanceHandlers(member));
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const rejected: FloeError[] = [];
  const listener = net.createServer((socket) => {
    injector.injectConnection(withFixer ? authorityFixer(socket, { onReject: (e) => rejected.push(e) }) : socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  return {
    port,
    rejected,
    close: async () => {
      injector.destroy();
      server.forceShutdown();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

type UnaryFn = (req: unknown, cb: (err: grpc.ServiceError | null, resp: unknown) => void) => void;

function client(port: number, authority?: string): grpc.Client & Record<string, UnaryFn> {
  const Ctor = grpc.makeGenericClientConstructor(etcdServices().kv, 'KV');
  const opts: grpc.ChannelOptions = authority === undefined ? {} : { 'grpc.default_authority': authority };
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts) as unknown as grpc.Client & Record<string, UnaryFn>;
}

const range = (c: Record<string, UnaryFn>, key: string): Promise<{ kvs?: { value: Buffer }[] }> =>
  new Promise((resolve, reject) => c.Range!({ key: Buffer.from(key) }, (err, resp) => (err ? reject(err) : resolve(resp as { kvs?: { value: Buffer }[] }))));

test('grpc-js with a URL :authority: many calls on one connection succeed through the filter', async () => {
  const s = await serve(true);
  const c = client(s.port, `http://127.0.0.1:${s.port}`);
  try {
    // Sequential calls reuse the client's HPACK table: each block after the first refers to it.
    for (let i = 0; i < 20; i++) assert.equal(String((await range(c, 'foo')).kvs![0]!.value), 'bar');
    assert.deepEqual(s.rejected, []);
  } finally {
    c.close();
    await s.close();
  }
});

test('grpc-js with a URL :authority fails with PROTOCOL_ERROR without the filter', async () => {
  const s = await serve(false);
  const c = client(s.port, `http://127.0.0.1:${s.port}`);
  try {
    await assert.rejects(range(c, 'foo'), (e: grpc.ServiceError) => e.code === grpc.status.INTERNAL && /RST_STREAM with code 1\b/.test(e.details));
  } finally {
    c.close();
    await s.close();
  }
});

test('a clean client goes through the filter (pass-through mode)', async () => {
  const s = await serve(true);
  const c = client(s.port);
  try {
    assert.equal(String((await range(c, 'foo')).kvs![0]!.value), 'bar');
  } finally {
    c.close();
    await s.close();
  }
});

test('a garbage connection is dropped with a typed reason; the server keeps serving', async () => {
  const s = await serve(true);
  try {
    const sock = net.connect(s.port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.resume(); // read the server's SETTINGS, so the end of the stream is seen
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => sock.on('close', resolve));
    assert.equal(s.rejected.length, 1);
    assert.equal(s.rejected[0]!.code, 'ERR_H2_FRAME');
    const c = client(s.port);
    assert.equal(String((await range(c, 'foo')).kvs![0]!.value), 'bar');
    c.close();
  } finally {
    await s.close();
  }
});

function etcdctl(port: number, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ETCDCTL_API: '3' };
    execFile(ETCDCTL, [`--endpoints=http://127.0.0.1:${port}`, '--dial-timeout=3s', '--command-timeout=5s', ...args], { env, timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr }),
    );
  });
}

const needEtcdctl = (t: TestContext): boolean => {
  if (existsSync(ETCDCTL)) return true;
  t.skip(`${ETCDCTL} not installed`);
  return false;
};

test('etcdctl 3.4 with an http:// endpoint: endpoint status and get succeed through the filter', async (t) => {
  if (!needEtcdctl(t)) return;
  const s = await serve(true);
  try {
    const status = await etcdctl(s.port, ['endpoint', 'status']);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /^http:\/\/127\.0\.0\.1:\d+, 8e9e05c52164694d, /);
    const get = await etcdctl(s.port, ['get', 'foo']);
    assert.equal(get.code, 0, get.out);
    assert.equal(get.out, 'foo\nbar\n');
    assert.deepEqual(s.rejected, []);
  } finally {
    await s.close();
  }
});

test('etcdctl 3.4 endpoint status with an http:// endpoint fails with PROTOCOL_ERROR without the filter', async (t) => {
  if (!needEtcdctl(t)) return;
  const s = await serve(false);
  try {
    const status = await etcdctl(s.port, ['endpoint', 'status']);
    assert.notEqual(status.code, 0);
    assert.match(status.out, /RST_STREAM with error code: PROTOCOL_ERROR/);
  } finally {
    await s.close();
  }
});
