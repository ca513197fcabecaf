import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FloeError } from '../pkg';
import { EtcdErrors, ErrorCode, etcdError, etcdErrorSpec, toServiceError, type EtcdErrorName } from './errors';
import { etcdServices, type KVHandlers } from '../etcdpb';
import { readEtcdSource } from '../etcdpb/test-etcd-source';

/** grpc-go code name (`InvalidArgument`) to grpc-js status (`INVALID_ARGUMENT`). */
function grpcJsStatus(goName: string): grpc.status {
  const upper = goName === 'Canceled' ? 'CANCELLED' : goName.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const s = (grpc.status as unknown as Record<string, grpc.status>)[upper];
  assert.ok(s !== undefined, `no grpc-js status for codes.${goName}`);
  return s;
}

/** The facts of etcd's rpctypes/error.go and v3rpc/util.go, read from etcd's own source. */
function etcdFacts(): {
  declared: Map<string, { goName: string; code: grpc.status; message: string }>;
  clientMapped: Set<string>;
  sentAsUnknown: Set<string>;
} {
  const src = readEtcdSource('etcdserver/api/v3rpc/rpctypes/error.go');
  const declared = new Map<string, { goName: string; code: grpc.status; message: string }>();
  for (const m of src.matchAll(/^\s*(Err\w+)\s*=\s*status\.New\(codes\.(\w+),\s*"([^"]+)"\)\.Err\(\)/gm)) {
    declared.set(m[1]!, { goName: m[1]!, code: grpcJsStatus(m[2]!), message: m[3]! });
  }
  const clientMapped = new Set<string>();
  for (const m of src.matchAll(/ErrorDesc\((Err\w+)\):/g)) clientMapped.add(declared.get(m[1]!)!.message);
  // Client-side values: ErrTooManyRequests = Error(ErrGRPCRequestTooManyRequests).
  const clientValues = new Map<string, string>();
  for (const m of src.matchAll(/^\s*(Err\w+)\s*=\s*Error\((Err\w+)\)/gm)) clientValues.set(m[1]!, m[2]!);
  // util.go maps some internal errors to those client-side values, which grpc-go sends as Unknown.
  const util = readEtcdSource('etcdserver/api/v3rpc/util.go');
  const sentAsUnknown = new Set<string>();
  for (const m of util.matchAll(/:\s*rpctypes\.(Err\w+),/g)) {
    const name = m[1]!;
    if (declared.has(name)) continue;
    const grpcName = clientValues.get(name);
    assert.ok(grpcName !== undefined, `util.go maps to unknown rpctypes.${name}`);
    sentAsUnknown.add(declared.get(grpcName)!.message);
  }
  return { declared, clientMapped, sentAsUnknown };
}

const entries = Object.entries(EtcdErrors) as [EtcdErrorName, (typeof EtcdErrors)[EtcdErrorName]][];

test('the table holds exactly etcd 3.4s server errors: same messages, same declared codes', () => {
  const { declared } = etcdFacts();
  assert.equal(declared.size, 52, 'server errors declared in etcd 3.4 rpctypes/error.go');
  const theirs = [...declared.values()].map((d) => `${d.message} | ${d.code}`).sort();
  const ours = entries.map(([, s]) => `${s.message} | ${s.declaredCode}`).sort();
  assert.deepEqual(ours, theirs);
});

test('the wire code is the declared one except where etcd sends UNKNOWN', () => {
  const { sentAsUnknown } = etcdFacts();
  assert.deepEqual(
    [...sentAsUnknown].sort(),
    ['etcdserver: re-configuration failed due to not enough started members', 'etcdserver: too many requests'],
  );
  for (const [name, s] of entries) {
    const expected = sentAsUnknown.has(s.message) ? grpc.status.UNKNOWN : s.declaredCode;
    assert.equal(s.grpcCode, expected, name);
  }
});

test('clientMapped marks exactly the messages clientv3 turns back into typed errors', () => {
  const { clientMapped } = etcdFacts();
  for (const [name, s] of entries) assert.equal(s.clientMapped, clientMapped.has(s.message), name);
});

test('internal codes and messages are unique, and every code looks up its own entry', () => {
  const codes = entries.map(([, s]) => s.code);
  const messages = entries.map(([, s]) => s.message);
  assert.equal(new Set(codes).size, codes.length);
  assert.equal(new Set(messages).size, messages.length);
  for (const [name, s] of entries) {
    assert.equal(ErrorCode[name], s.code);
    assert.equal(etcdErrorSpec(s.code), s);
    assert.match(s.code, /^ERR_[A-Z_]+$/);
    assert.ok(s.message.startsWith('etcdserver: '), name);
  }
  assert.equal(etcdErrorSpec('ERR_NOT_AN_ETCD_ERROR'), undefined);
});

test('toServiceError gives code and details exactly as etcd sends them, for every entry', () => {
  for (const [name, s] of entries) {
    // The FloeError's own message is internal; the wire text comes from the table.
    const e = toServiceError(new FloeError(s.code, `internal text for ${name}`));
    assert.equal(e.code, s.grpcCode, name);
    assert.equal(e.details, s.message, name);
    assert.equal(e.message, `${s.grpcCode} ${grpc.status[s.grpcCode]}: ${s.message}`);
    assert.ok(e.metadata instanceof grpc.Metadata);
    const made = etcdError(name);
    assert.ok(made instanceof FloeError);
    assert.deepEqual([made.code, made.message], [s.code, s.message]);
  }
});

test('an unmapped FloeError goes out as UNKNOWN with its own message, as etcd does', () => {
  const e = toServiceError(new FloeError('ERR_NOT_BBOLT', 'file is not a bbolt database'));
  assert.equal(e.code, grpc.status.UNKNOWN);
  assert.equal(e.details, 'file is not a bbolt database');
});

test('over a real grpc-js connection the client receives every entry byte for byte', async () => {
  // Range's key names the table entry to fail with.
  const server = new grpc.Server();
  const services = etcdServices();
  const handlers: Pick<KVHandlers, 'Range'> = {
    Range: (call, callback) => {
      const name = call.request.key.toString() as EtcdErrorName;
      callback(toServiceError(etcdError(name)));
    },
  };
  server.addService(services.kv, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const Client = grpc.makeGenericClientConstructor(services.kv, 'KV');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    for (const [name, s] of entries) {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        (client as unknown as Record<string, Function>)['Range']!.call(
          client,
          { key: Buffer.from(name) },
          (e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error(`${name}: call succeeded`))),
        );
      });
      assert.equal(err.code, s.grpcCode, name);
      assert.equal(err.details, s.message, name);
    }
  } finally {
    client.close();
    server.forceShutdown();
  }
});
