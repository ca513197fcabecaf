/**
 * Proves Floe's protos and error table are wire-compatible with etcd's real clients: Go's
 * clientv3 (through Debian's etcdctl 3.4) and the npm `etcd3` client talk to a grpc-js server
 * built from src/api/proto.ts, and every value, revision and header field round-trips exactly,
 * 64-bit ones included.
 *
 * TEST HARNESS ONLY: the server's handlers below are a tiny in-test fake of KV.Range, KV.Put and
 * Maintenance.Status backed by a Map. It is not Floe's KV store and proves nothing about one;
 * it only gives the clients something to decode.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { Etcd3, EtcdLeaseInvalidError } from 'etcd3';
import { etcdServices, type KVHandlers, type MaintenanceHandlers, type KeyValue } from '../etcdpb';
import { etcdError, toServiceError } from './errors';

const ETCDCTL = '/usr/bin/etcdctl';
// 64-bit identities above 2^53: a JS number would round every one of them.
const CLUSTER_ID = 0xcdf818194e3a8c32n;
const MEMBER_ID = 0x8e9e05c52164694dn;
const RAFT_TERM = 2n ** 53n + 3n;
const BIG_LEASE = 0x694d71ba6c3bd2a5n;
const DB_SIZE_BYTES = 2n ** 53n + 1n;
const RAFT_INDEX = 2n ** 63n + 11n; // uint64: above int64's range as well

/** In-test fake store (harness only, see the file comment). */
class FakeKv {
  private readonly kvs = new Map<string, { value: Buffer; create: bigint; mod: bigint; version: bigint; lease: bigint }>();
  private revision = 1n;
  readonly leases = new Set<bigint>([BIG_LEASE]);

  header(): { cluster_id: string; member_id: string; revision: string; raft_term: string } {
    return {
      cluster_id: CLUSTER_ID.toString(),
      member_id: MEMBER_ID.toString(),
      revision: this.revision.toString(),
      raft_term: RAFT_TERM.toString(),
    };
  }

  handlers(): Pick<KVHandlers, 'Range' | 'Put'> & Pick<MaintenanceHandlers, 'Status'> {
    return {
      Range: (call, callback) => {
        const key = call.request.key.toString('latin1');
        const cur = this.kvs.get(key);
        const kvs: KeyValue[] = cur === undefined ? [] : [this.toKv(key, cur)];
        callback(null, { header: this.header(), kvs, count: kvs.length });
      },
      Put: (call, callback) => {
        const req = call.request;
        const lease = BigInt(req.lease);
        if (lease !== 0n && !this.leases.has(lease)) {
          callback(toServiceError(etcdError('LEASE_NOT_FOUND')));
          return;
        }
        const key = req.key.toString('latin1');
        const prev = this.kvs.get(key);
        this.revision += 1n;
        const next = {
          value: req.value,
          create: prev?.create ?? this.revision,
          mod: this.revision,
          version: (prev?.version ?? 0n) + 1n,
          lease,
        };
        this.kvs.set(key, next);
        callback(null, { header: this.header(), prev_kv: req.prev_kv && prev ? this.toKv(key, prev) : null });
      },
      Status: (_call, callback) => {
        callback(null, {
          header: this.header(),
          version: '3.4.23',
          dbSize: DB_SIZE_BYTES.toString(),
          leader: MEMBER_ID.toString(),
          raftIndex: RAFT_INDEX.toString(),
          raftTerm: RAFT_TERM.toString(),
          raftAppliedIndex: RAFT_INDEX.toString(),
          dbSizeInUse: 4096,
        });
      },
    };
  }

  private toKv(key: string, r: { value: Buffer; create: bigint; mod: bigint; version: bigint; lease: bigint }): KeyValue {
    return {
      key: Buffer.from(key, 'latin1'),
      value: r.value,
      create_revision: r.create.toString(),
      mod_revision: r.mod.toString(),
      version: r.version.toString(),
      lease: r.lease === 0n ? undefined : r.lease.toString(), // zero left out, as etcd does
    };
  }
}

/**
 * JSON.parse that keeps every number as its exact decimal text: etcdctl prints 64-bit fields
 * as bare JSON numbers, which JSON.parse would round.
 */
function parseJsonExact(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
      out += JSON.stringify(text.slice(i, j));
      i = j - 1;
    } else {
      out += c;
    }
  }
  return JSON.parse(out);
}

let server: grpc.Server;
let endpoint: string;
const fake = new FakeKv();

before(async () => {
  server = new grpc.Server();
  const { kv, maintenance } = etcdServices();
  const h = fake.handlers();
  server.addService(kv, { Range: h.Range, Put: h.Put });
  server.addService(maintenance, { Status: h.Status });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  endpoint = `127.0.0.1:${port}`;
});

after(() => server.forceShutdown());

/** Runs etcdctl against the fake; asynchronous, since the server runs on this event loop. */
function etcdctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!fs.existsSync(ETCDCTL)) {
    throw new Error(`${ETCDCTL} is missing: install Debian's etcd-client 3.4 (apt-get install etcd-client; .ci/run does)`);
  }
  return new Promise((resolve) => {
    execFile(
      ETCDCTL,
      [`--endpoints=${endpoint}`, '--dial-timeout=5s', '--command-timeout=10s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function etcdctlOk(...args: string[]): Promise<string> {
  const r = await etcdctl(...args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const expectedHeader = (revision: bigint): Record<string, string> => ({
  cluster_id: CLUSTER_ID.toString(),
  member_id: MEMBER_ID.toString(),
  revision: revision.toString(),
  raft_term: RAFT_TERM.toString(),
});

test('etcdctl 3.4 is the version these facts come from', async () => {
  const out = await etcdctlOk('version');
  assert.match(out, /^etcdctl version: 3\.4\./m);
});

test('etcdctl put/get round-trips values, revisions and a lease ID above 2^53 exactly', async () => {
  const value = 'välue ✓ end';
  const put = parseJsonExact(await etcdctlOk('put', 'k', value, `--lease=${BIG_LEASE.toString(16)}`, '-w', 'json'));
  assert.deepEqual(put, { header: expectedHeader(2n) });

  const got = parseJsonExact(await etcdctlOk('get', 'k', '-w', 'json'));
  assert.deepEqual(got, {
    header: expectedHeader(2n),
    kvs: [{ key: b64('k'), create_revision: '2', mod_revision: '2', version: '1', value: b64(value), lease: BIG_LEASE.toString() }],
    count: '1',
  });

  // A second put returns the previous pair (a message field inside PutResponse).
  const put2 = parseJsonExact(await etcdctlOk('put', 'k', 'v2', '--prev-kv', '-w', 'json'));
  assert.deepEqual(put2, {
    header: expectedHeader(3n),
    prev_kv: { key: b64('k'), create_revision: '2', mod_revision: '2', version: '1', value: b64(value), lease: BIG_LEASE.toString() },
  });
  const got2 = parseJsonExact(await etcdctlOk('get', 'k', '-w', 'json')) as { kvs: Record<string, string>[] };
  assert.deepEqual(got2.kvs[0], { key: b64('k'), create_revision: '2', mod_revision: '3', version: '2', value: b64('v2') });

  // The simple output format prints the bytes back as written.
  assert.equal(await etcdctlOk('get', 'k'), 'k\nv2\n');
});

test('etcdctl get of a missing key prints a header and nothing else', async () => {
  const got = parseJsonExact(await etcdctlOk('get', 'no-such-key', '-w', 'json')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(got), ['header']);
});

test('etcdctl endpoint status decodes every uint64/int64 field exactly', async () => {
  const status = parseJsonExact(await etcdctlOk('endpoint', 'status', '-w', 'json'));
  const header = (status as { Status: { header: { revision: string } } }[])[0]!.Status.header;
  assert.deepEqual(status, [
    {
      Endpoint: endpoint,
      Status: {
        header: { ...expectedHeader(BigInt(header.revision)) },
        version: '3.4.23',
        dbSize: DB_SIZE_BYTES.toString(),
        leader: MEMBER_ID.toString(),
        raftIndex: RAFT_INDEX.toString(),
        raftTerm: RAFT_TERM.toString(),
        raftAppliedIndex: RAFT_INDEX.toString(),
        dbSizeInUse: '4096',
      },
    },
  ]);
  // The table format shows the member ID in hex and that this member is the leader.
  const table = await etcdctlOk('endpoint', 'status');
  assert.match(table, new RegExp(`^${endpoint.replace(/\./g, '\\.')}, 8e9e05c52164694d, 3\\.4\\.23, [^,]+, true, false, ${RAFT_TERM}, ${RAFT_INDEX}, ${RAFT_INDEX}, $`, 'm'));
});

test('etcdctl reports a table error exactly as it does against etcd', async () => {
  const r = await etcdctl('put', 'k', 'v', '--lease=1234');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /rpc error: code = NotFound desc = etcdserver: requested lease not found/);
  assert.match(r.stderr, /^Error: etcdserver: requested lease not found$/m);
});

test('npm etcd3 client puts and gets, keeping 64-bit fields exact', async () => {
  const client = new Etcd3({ hosts: `http://${endpoint}` });
  try {
    await client.put('npm-key').value('npm-value');
    assert.equal(await client.get('npm-key').string(), 'npm-value');
    await client.put('npm-leased').value('x').lease(BIG_LEASE.toString());
    const res = await client.get('npm-leased').exec();
    assert.equal(res.header.member_id, MEMBER_ID.toString());
    assert.equal(res.header.cluster_id, CLUSTER_ID.toString());
    assert.equal(res.header.raft_term, RAFT_TERM.toString());
    assert.equal(res.kvs[0]?.lease, BIG_LEASE.toString());
    assert.equal(res.kvs[0]?.value.toString(), 'x');
    assert.equal(res.kvs[0]?.mod_revision, res.header.revision);
    // etcd3 maps the message text to its typed error, as it does against etcd.
    await assert.rejects(client.put('npm-key').value('y').lease('99').exec(), (e: unknown) => {
      assert.ok(e instanceof EtcdLeaseInvalidError, String(e));
      assert.match(e.message, /etcdserver: requested lease not found/);
      return true;
    });
  } finally {
    client.close();
  }
});
