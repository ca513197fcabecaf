import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
// protobufjs is the parser under @grpc/proto-loader; used here to read etcd's own .proto files.
import * as protobuf from 'protobufjs';
import { PROTO_FILES, etcdServices, findProtoDir, packageDefinition, SERVICE_NAMES } from './proto';
import { GATEWAY_ROUTES, gatewayRouteFor } from './gateway-routes';
import { ETCD_PROTO_FILES, readEtcdSource } from './test-etcd-source';

const OUR_PACKAGES = ['mvccpb', 'authpb', 'etcdserverpb', 'v3lockpb', 'v3electionpb'];

function etcdRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const f of ETCD_PROTO_FILES) protobuf.parse(readEtcdSource(f), root, { keepCase: true });
  root.resolveAll();
  return root;
}

function ourRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const dir = findProtoDir();
  root.resolvePath = (_origin, target) => path.join(dir, path.basename(target));
  root.loadSync(PROTO_FILES.map((f) => path.join(dir, f)), { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every reflection object under the packages, keyed by full name, as a comparable summary. */
function describe(root: protobuf.Root): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        out.set(obj.fullName, {
          kind: 'message',
          fields: obj.fieldsArray
            .map((f) => ({
              name: f.name,
              id: f.id,
              type: f.resolvedType?.fullName ?? f.type,
              repeated: f.repeated,
              map: f.map,
              oneof: f.partOf?.name ?? null,
            }))
            .sort((a, b) => a.id - b.id),
        });
      } else if (obj instanceof protobuf.Enum) {
        out.set(obj.fullName, { kind: 'enum', values: Object.entries(obj.values).sort((a, b) => a[1] - b[1]) });
      } else if (obj instanceof protobuf.Service) {
        out.set(obj.fullName, {
          kind: 'service',
          methods: obj.methodsArray.map((m) => ({
            name: m.name,
            request: m.resolvedRequestType?.fullName,
            response: m.resolvedResponseType?.fullName,
            requestStream: m.requestStream === true,
            responseStream: m.responseStream === true,
          })),
        });
      }
      if (obj instanceof protobuf.Namespace) walk(obj);
    }
  };
  walk(root);
  return out;
}

/**
 * Fields Floe's protos carry beyond etcd 3.4, each etcd 3.5's own (same name, number, type):
 * the auth store hashes a password before proposing it, so the log never holds clear text and
 * apply never runs bcrypt. 3.4 clients never send them; 3.4 peers would skip them as unknown.
 */
const ETCD_35_FIELDS: ReadonlyMap<string, readonly number[]> = new Map([
  ['.etcdserverpb.AuthUserAddRequest', [4]],
  ['.etcdserverpb.AuthUserChangePasswordRequest', [4]],
]);

/** `d` without the etcd 3.5 fields listed for `name`. */
function without35(name: string, d: unknown): unknown {
  const ids = ETCD_35_FIELDS.get(name);
  if (ids === undefined) return d;
  const m = d as { fields: { id: number; name: string }[] };
  for (const id of ids) assert.ok(m.fields.some((f) => f.id === id && f.name === 'hashedPassword'), `${name} lacks field ${id}`);
  return { ...m, fields: m.fields.filter((f) => !ids.includes(f.id)) };
}

test('every message, enum and service matches etcd 3.4 field for field, both ways', () => {
  const theirs = describe(etcdRoot());
  const ours = new Map([...describe(ourRoot())].map(([name, d]) => [name, without35(name, d)]));
  const inPackages = (name: string): boolean => OUR_PACKAGES.some((p) => name.startsWith(`.${p}.`));
  const theirNames = [...theirs.keys()].filter(inPackages).sort();
  assert.equal(theirNames.length, 127, "messages + enums + services in etcd 3.4's five proto files");
  for (const name of theirNames) {
    assert.ok(ours.has(name), `missing ${name}`);
    assert.deepEqual(ours.get(name), theirs.get(name), name);
  }
  const extra = [...ours.keys()].filter((n) => !theirs.has(n));
  assert.deepEqual(extra, [], 'definitions etcd does not have');
});

test('gateway routes are exactly the google.api.http annotations of etcd 3.4', () => {
  const root = etcdRoot();
  const expected: { service: string; method: string; paths: string[] }[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Service) {
        for (const m of obj.methodsArray) {
          const opts = (m.parsedOptions ?? []) as Record<string, unknown>[];
          const http = opts.find((o) => '(google.api.http)' in o)?.['(google.api.http)'] as
            | { post: string; additional_bindings?: { post: string } | { post: string }[] }
            | undefined;
          assert.ok(http !== undefined, `${obj.fullName}.${m.name} has no http annotation`);
          const extra = http.additional_bindings === undefined ? [] : [http.additional_bindings].flat();
          expected.push({ service: obj.fullName.slice(1), method: m.name, paths: [http.post, ...extra.map((b) => b.post)] });
        }
      }
      if (obj instanceof protobuf.Namespace) walk(obj);
    }
  };
  walk(root);
  const key = (r: { service: string; method: string }): string => `${r.service}/${r.method}`;
  const sortByKey = <T extends { service: string; method: string }>(rs: readonly T[]): T[] =>
    [...rs].sort((a, b) => key(a).localeCompare(key(b)));
  assert.equal(expected.length, 46);
  assert.deepEqual(
    sortByKey(GATEWAY_ROUTES).map((r) => ({ service: r.service, method: r.method, paths: [...r.paths] })),
    sortByKey(expected),
  );
});

test('gatewayRouteFor applies the /v3beta/ rewrite and prefers Hash on the shared hash path', () => {
  assert.equal(gatewayRouteFor('/v3/kv/range')?.method, 'Range');
  assert.equal(gatewayRouteFor('/v3beta/kv/range')?.method, 'Range');
  assert.equal(gatewayRouteFor('/v3/kv/lease/revoke')?.method, 'LeaseRevoke');
  assert.equal(gatewayRouteFor('/v3/maintenance/hash')?.method, 'Hash');
  assert.equal(gatewayRouteFor('/v3alpha/kv/range'), undefined);
  assert.equal(gatewayRouteFor('/v3/kv/rangex'), undefined);
});

test('every service definition is loaded with the streaming shape etcd declares', () => {
  const services = etcdServices();
  const def = packageDefinition();
  for (const [key, name] of Object.entries(SERVICE_NAMES)) {
    assert.equal(services[key as keyof typeof services], def[name], key);
  }
  const watch = services.watch.Watch;
  assert.equal(watch.path, '/etcdserverpb.Watch/Watch');
  assert.deepEqual([watch.requestStream, watch.responseStream], [true, true]);
  assert.deepEqual([services.lease.LeaseKeepAlive.requestStream, services.lease.LeaseKeepAlive.responseStream], [true, true]);
  assert.deepEqual([services.maintenance.Snapshot.requestStream, services.maintenance.Snapshot.responseStream], [false, true]);
  assert.deepEqual([services.election.Observe.requestStream, services.election.Observe.responseStream], [false, true]);
  assert.deepEqual([services.kv.Range.requestStream, services.kv.Range.responseStream], [false, false]);
  assert.equal(services.kv.Range.path, '/etcdserverpb.KV/Range');
  assert.equal(services.lock.Lock.path, '/v3lockpb.Lock/Lock');
});

test('64-bit integers survive encode and decode exactly at their extremes', () => {
  const { kv } = etcdServices();
  const extremes = ['9223372036854775807', '-9223372036854775808', '-1', '9007199254740993'];
  for (const v of extremes) {
    const req = kv.Range.requestDeserialize(kv.Range.requestSerialize({ key: Buffer.from('k'), limit: v, revision: v } as never));
    assert.equal(req.limit, v);
    assert.equal(req.revision, v);
  }
  const u64max = '18446744073709551615';
  const res = kv.Range.responseDeserialize(
    kv.Range.responseSerialize({
      header: { cluster_id: u64max, member_id: '10276657743932975437', revision: 7, raft_term: '1' },
      kvs: [{ key: Buffer.from('k'), lease: '7587869876868838053', create_revision: 2 ** 53 - 1 }],
      count: 1,
    }),
  ) as unknown as { header: Record<string, string>; kvs: Record<string, unknown>[]; count: string };
  assert.deepEqual(res.header, { cluster_id: u64max, member_id: '10276657743932975437', revision: '7', raft_term: '1' });
  assert.equal(res.kvs[0]?.['lease'], '7587869876868838053');
  assert.equal(res.kvs[0]?.['create_revision'], '9007199254740991');
  assert.equal(res.count, '1');
});

test('requests decode with defaults: Buffers, zero strings, numeric enums, null messages', () => {
  const { kv, auth } = etcdServices();
  const req = kv.Range.requestDeserialize(Buffer.alloc(0));
  assert.ok(Buffer.isBuffer(req.key) && req.key.length === 0);
  assert.ok(Buffer.isBuffer(req.range_end));
  assert.equal(req.limit, '0');
  assert.equal(req.sort_order, 0);
  assert.equal(req.serializable, false);
  const grant = auth.RoleGrantPermission.requestDeserialize(Buffer.alloc(0));
  assert.equal(grant.perm, null);
  assert.equal(grant.name, '');
});

test('oneofs decode with a discriminator naming the set member', () => {
  const { kv, watch } = etcdServices();
  const txn = kv.Txn.requestDeserialize(
    kv.Txn.requestSerialize({
      compare: [{ key: Buffer.from('a'), target: 0, version: 0 }],
      success: [{ request_put: { key: Buffer.from('a'), value: Buffer.from('1') } }],
      failure: [{ request_range: { key: Buffer.from('a') } }],
    } as never),
  );
  const cmp = txn.compare[0];
  assert.ok(cmp !== undefined && cmp.target_union === 'version');
  assert.equal(cmp.version, '0', 'an explicit zero operand is still on the wire');
  const put = txn.success[0];
  assert.ok(put !== undefined && put.request === 'request_put');
  assert.equal(put.request_put.value.toString(), '1');
  assert.equal(txn.failure[0]?.request, 'request_range');

  const progress = watch.Watch.requestDeserialize(watch.Watch.requestSerialize({ progress_request: {} } as never));
  assert.equal(progress.request_union, 'progress_request');
  const none = watch.Watch.requestDeserialize(Buffer.alloc(0));
  assert.equal(none.request_union, undefined);
});

test('a PutRequest encodes to the bytes the proto3 wire format prescribes', () => {
  const { kv } = etcdServices();
  // key=1 (len-delimited), value=2 (len-delimited), lease=3 (varint), prev_kv=4 (varint)
  const bytes = kv.Put.requestSerialize({ key: Buffer.from('a'), value: Buffer.from('b'), lease: 1, prev_kv: true } as never);
  assert.deepEqual([...bytes], [0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x18, 0x01, 0x20, 0x01]);
  // A negative int64 is a 10-byte varint: lease = -1.
  const neg = kv.Put.requestSerialize({ key: Buffer.from('a'), lease: '-1' } as never);
  assert.deepEqual([...neg], [0x0a, 0x01, 0x61, 0x18, ...Array(9).fill(0xff), 0x01]);
});

test('zero fields left undefined stay off the wire as with etcd; a zero set explicitly is written', () => {
  const { kv } = etcdServices();
  const header = { revision: 1 };
  // RangeResponse{header{revision=1}, kvs[{key="a"}]}: what gogoproto writes for these values.
  const etcdBytes = [0x0a, 0x02, 0x18, 0x01, 0x12, 0x03, 0x0a, 0x01, 0x61];
  const omitted = kv.Range.responseSerialize({ header, kvs: [{ key: Buffer.from('a'), lease: undefined }] });
  assert.deepEqual([...omitted], etcdBytes);
  // protobufjs writes any field that is set, even to zero: response builders must leave zeros out.
  const explicit = kv.Range.responseSerialize({ header, kvs: [{ key: Buffer.from('a'), lease: 0 }] });
  assert.deepEqual([...explicit], [0x0a, 0x02, 0x18, 0x01, 0x12, 0x05, 0x0a, 0x01, 0x61, 0x30, 0x00]);
});

test('findProtoDir finds every proto file the loader needs', () => {
  const dir = findProtoDir();
  for (const f of PROTO_FILES) assert.ok(fs.existsSync(path.join(dir, f)), f);
});
