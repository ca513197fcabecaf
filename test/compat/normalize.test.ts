/**
 * The normalization rules rewrite only what legitimately differs between two fresh servers:
 * these tests pin each rule and, above all, check that differences that matter (revisions,
 * values, counts, exit codes, unknown numbers, ids that etcd would derive differently) survive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalTable,
  clusterIdFor,
  dumpProtobuf,
  memberIdFor,
  normalizeSide,
  stepShape,
  type ServerIdentity,
  type SideRecord,
  type StepRecord,
} from './normalize';
import { commandFromSpec } from './server';

function server(clientPort: number, peerPort: number, reportedMemberId?: bigint): ServerIdentity {
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  return { clientPort, peerPort, peerUrl, ...(reportedMemberId === undefined ? {} : { reportedMemberId }) };
}

function step(template: string[], stdout: string | Buffer, options: Partial<StepRecord> = {}): StepRecord {
  return {
    template,
    server: 0,
    end: { kind: 'exit', code: 0 },
    stdout: typeof stdout === 'string' ? Buffer.from(stdout) : stdout,
    stderr: '',
    elapsedMs: 1_000,
    ...options,
  };
}

function side(servers: ServerIdentity[], steps: StepRecord[], workDir = '/tmp/w'): SideRecord {
  return { workDir, servers, steps };
}

const A = server(21001, 21002);
const B = server(22001, 22002);
const memberA = memberIdFor([A.peerUrl]);
const memberB = memberIdFor([B.peerUrl]);
const clusterA = clusterIdFor([memberA]);
const clusterB = clusterIdFor([memberB]);

test('member and cluster ids follow etcd: sha1 of peer URLs + token, sha1 of member ids', () => {
  // Observed on etcd 3.4.23: peer URL http://127.0.0.1:42380, default token.
  assert.equal(memberIdFor(['http://127.0.0.1:42380']).toString(16), '667880157b8812c8');
  assert.equal(clusterIdFor([0x667880157b8812c8n]).toString(), '15875391935852295136');
});

test('derived ids, ports and the scratch dir become the same tokens on both sides', () => {
  const out = (m: bigint, c: bigint, port: number, dir: string): string =>
    normalizeSide(
      side(
        [port === 21001 ? A : B],
        [
          step(['get', 'a', '-w', 'json'], `{"header":{"cluster_id":${c},"member_id":${m},"revision":4,"raft_term":2}}\n`),
          step(['member', 'list'], `${m.toString(16)}, started, x, http://127.0.0.1:${port + 1}, http://127.0.0.1:${port}, false\n`),
          step(['snapshot', 'save', '${DIR}/s.db'], `Snapshot saved at ${dir}/s.db\n`),
        ],
        dir,
      ),
    )
      .map((s) => s.stdout)
      .join('');
  const a = out(memberA, clusterA, 21001, '/tmp/a');
  assert.equal(a, out(memberB, clusterB, 22001, '/tmp/b'));
  assert.match(a, /"cluster_id":<cluster#1>,"member_id":<member#1>,"revision":4,"raft_term":<term#1>/);
  assert.match(a, /<member#1>, started, x, http:\/\/127\.0\.0\.1:<peer-port#1>, http:\/\/127\.0\.0\.1:<client-port#1>, false/);
  assert.match(a, /Snapshot saved at <dir>\/s\.db/);
});

test('revisions, values and counts are never normalized', () => {
  const json = (rev: number, value: string, count: number): string =>
    normalizeSide(
      side([A], [step(['get', 'a', '-w', 'json'], `{"header":{"cluster_id":${clusterA},"member_id":${memberA},"revision":${rev},"raft_term":2},"kvs":[{"key":"YQ==","value":"${value}"}],"count":${count}}`)]),
    )[0]!.stdout;
  const base = json(4, 'MQ==', 1);
  assert.notEqual(base, json(5, 'MQ==', 1));
  assert.notEqual(base, json(4, 'Mg==', 1));
  assert.notEqual(base, json(4, 'MQ==', 2));
});

test('exit codes and how a step ended stay distinct', () => {
  const end = (e: StepRecord['end']): string => normalizeSide(side([A], [step(['get', 'a'], '', { end: e })]))[0]!.end;
  assert.equal(end({ kind: 'exit', code: 1 }), 'exit 1');
  assert.notEqual(end({ kind: 'exit', code: 1 }), end({ kind: 'exit', code: 2 }));
  assert.notEqual(end({ kind: 'stopped' }), end({ kind: 'timeout' }));
});

test('a member id etcd would not derive from the peer URL is shown as such', () => {
  const wrong = 0x1234567890abcdefn;
  const s = side([server(21001, 21002, wrong)], [step(['member', 'list'], `${wrong.toString(16)}, started, x\n`)]);
  assert.equal(normalizeSide(s)[0]!.stdout, '<member#1 not derived from its peer URL>, started, x\n');
});

test('numbers that are not known ids stay as printed', () => {
  const s = side([A], [step(['get', 'k'], 'k\n12345678901234567890\n')]);
  assert.equal(normalizeSide(s)[0]!.stdout, 'k\n12345678901234567890\n');
});

test('lease ids learned from `lease grant` are replaced in hex and decimal, in grant order', () => {
  const l1 = 0x12c8a20b4dd7db16n;
  const l2 = 0x12c8a20b4dd7db18n;
  const s = side(
    [A],
    [
      step(['lease', 'grant', '100'], `lease ${l1.toString(16).padStart(16, '0')} granted with TTL(100s)\n`),
      step(['lease', 'grant', '200', '-w', 'json'], `{"ID":${l2},"TTL":200}\n`),
      step(['lease', 'list', '-w', 'json'], `{"leases":[{"id":${l1}},{"id":${l2}}]}\n`),
      step(['get', 'k', '-w', 'json'], `{"kvs":[{"lease":${l2}}]}\n`),
    ],
  );
  const [grant, , list, get] = normalizeSide(s);
  assert.equal(grant!.stdout, 'lease <lease#1> granted with TTL(100s)\n');
  assert.equal(list!.stdout, '{"leases":[{"id":<lease#1>},{"id":<lease#2>}]}\n');
  assert.equal(get!.stdout, '{"kvs":[{"lease":<lease#2>}]}\n');
});

test('a remaining TTL is a token only within the elapsed-time window; -1 (expired) stays exact', () => {
  const ttl = (text: string, elapsedMs: number, format: string[] = []): string =>
    normalizeSide(side([A], [step(['lease', 'timetolive', 'x', ...format], text, { elapsedMs })]))[0]!.stdout;
  assert.equal(ttl('lease x granted with TTL(100s), remaining(97s)\n', 2_000), 'lease x granted with TTL(100s), remaining(<granted minus elapsed>)\n');
  assert.equal(ttl('lease x granted with TTL(100s), remaining(90s)\n', 2_000), 'lease x granted with TTL(100s), remaining(90s)\n');
  assert.equal(ttl('lease x granted with TTL(100s), remaining(101s)\n', 2_000), 'lease x granted with TTL(100s), remaining(101s)\n');
  assert.equal(ttl('{"ttl":-1,"granted-ttl":0,"keys":null}\n', 2_000, ['-w', 'json']), '{"ttl":-1,"granted-ttl":0,"keys":null}\n');
});

test('attached keys of a lease compare as a set (etcd lists them in Go map order)', () => {
  const keys = (text: string, format: string[] = []): string =>
    normalizeSide(side([A], [step(['lease', 'timetolive', '--keys', 'x', ...format], text)]))[0]!.stdout;
  assert.equal(keys('lease x granted with TTL(0s), remaining(0s), attached keys([b a])\n'), keys('lease x granted with TTL(0s), remaining(0s), attached keys([a b])\n'));
  assert.equal(keys('{"keys":["Yg==","YQ=="]}\n', ['-w', 'json']), '{"keys":["YQ==","Yg=="]}\n');
  assert.notEqual(keys('{"keys":["YQ=="]}\n', ['-w', 'json']), keys('{"keys":["YQ==","Yg=="]}\n', ['-w', 'json']));
});

test('raft indexes are relative to the first one a server reports; their steps still compare', () => {
  const status = (index: number): string =>
    `127.0.0.1:21001, ${memberA.toString(16)}, 3.4.23, 20 kB, true, false, 2, ${index}, ${index}, \n`;
  const run = (first: number, second: number): string[] =>
    normalizeSide(side([A], [step(['endpoint', 'status'], status(first)), step(['endpoint', 'status'], status(second))])).map((s) => s.stdout);
  const [a1, a2] = run(7, 8);
  assert.equal(a1, '127.0.0.1:<client-port#1>, <member#1>, 3.4.23, <db-size>, true, false, <term#1>, <raft-index#1+0>, <raft-index#1+0>, \n');
  assert.match(a2!, /<raft-index#1\+1>, <raft-index#1\+1>/);
  assert.deepEqual(run(20, 21), [a1, a2]);
  assert.notDeepEqual(run(7, 9), [a1, a2]);
});

test('endpoint status keeps the revision and the version exact', () => {
  const json = (rev: number, version: string): string =>
    normalizeSide(
      side([A], [step(['endpoint', 'status', '-w', 'json'], `[{"Status":{"header":{"revision":${rev}},"version":"${version}","dbSize":20480,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":16384}}]`)]),
    )[0]!.stdout;
  assert.equal(json(4, '3.4.23'), '[{"Status":{"header":{"revision":4},"version":"3.4.23","dbSize":"<db-size>","raftIndex":<raft-index#1+0>,"raftTerm":<term#1>,"raftAppliedIndex":<raft-index#1+0>,"dbSizeInUse":"<db-size>"}}]');
  assert.notEqual(json(4, '3.4.23'), json(5, '3.4.23'));
  assert.notEqual(json(4, '3.4.23'), json(4, '3.5.0'));
});

test('hashkv hashes compare exactly; snapshot file hashes and sizes do not', () => {
  const hashkv = (h: number): string => normalizeSide(side([A], [step(['endpoint', 'hashkv'], `127.0.0.1:21001, ${h}\n`)]))[0]!.stdout;
  assert.notEqual(hashkv(1), hashkv(2));
  const snap = (text: string, format: string[] = []): string =>
    normalizeSide(side([A], [step(['snapshot', 'status', 'f', ...format], text)]))[0]!.stdout;
  assert.equal(snap('4f8e11e5, 10, 16, 20 kB\n'), '<hash>, 10, 16, <size>\n');
  assert.equal(snap('{"hash":1334710757,"revision":10,"totalKey":16,"totalSize":20480}\n', ['-w', 'json']), '{"hash":"<hash>","revision":10,"totalKey":16,"totalSize":"<size>"}\n');
  assert.notEqual(snap('4f8e11e5, 10, 16, 20 kB\n'), snap('4f8e11e5, 10, 17, 20 kB\n'));
});

test("etcdctl's log lines lose time stamps, durations and client ids, not their errors", () => {
  const line = (ts: string, uuid: string, err: string): string =>
    normalizeSide(
      side([A], [step(['get', 'a'], '', { stderr: `{"level":"warn","ts":"${ts}","target":"endpoint://client-${uuid}/127.0.0.1:21001","error":"${err}"}\nError: x\n` })]),
    )[0]!.stderr;
  const a = line('2026-11-24T02:07:13.692Z', 'e588e2ce-e957-429a-9680-2f5b96b21f2a', 'code = NotFound');
  assert.equal(a, line('2026-11-24T02:08:00.000Z', '78f0c6bf-dbe8-422f-99b3-00ade555196c', 'code = NotFound'));
  assert.equal(a, '{"level":"warn","ts":"<ts>","target":"endpoint://client-<uuid>/127.0.0.1:<client-port#1>","error":"code = NotFound"}\nError: x\n');
  assert.notEqual(a, line('2026-11-24T02:07:13.692Z', 'e588e2ce-e957-429a-9680-2f5b96b21f2a', 'code = OutOfRange'));
});

test('tables lose padding and borders, keeping every cell', () => {
  const table = '+-----+------+\n| ID  | NAME |\n+-----+------+\n|  ab |    x |\n+-----+------+\n';
  assert.equal(canonicalTable(table), 'ID | NAME\nab | x\n');
});

test('protobuf output: the header is decoded and normalized, everything else stays as bytes', () => {
  // A RangeResponse: header{cluster_id, member_id, revision 6, raft_term 2}, one kv, count 1.
  const varint = (v: bigint): number[] => {
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    return [...out, Number(v)];
  };
  const header = [0x08, ...varint(clusterA), 0x10, ...varint(memberA), 0x18, 6, 0x20, 2];
  const kv = [0x0a, 0x01, 0x61];
  const bytes = Buffer.from([0x0a, header.length, ...header, 0x12, kv.length, ...kv, 0x20, 1]);
  assert.equal(dumpProtobuf(bytes), `header{cluster_id=${clusterA} member_id=${memberA} revision=6 raft_term=2}\n#2:2=0a0161\n#4=1`);
  const normalized = normalizeSide(side([A], [step(['get', 'a', '-w', 'protobuf'], bytes)]))[0]!.stdout;
  assert.equal(normalized, 'header{cluster_id=<cluster#1> member_id=<member#1> revision=6 raft_term=<term#1>}\n#2:2=0a0161\n#4=1');
  assert.match(dumpProtobuf(Buffer.from([0xff])), /^unparsed ff$/);
});

test('stepShape finds the sub-command and output format', () => {
  assert.deepEqual(stepShape(['--hex', 'get', 'a', '-w', 'json']), { command: 'get', format: 'json' });
  assert.deepEqual(stepShape(['endpoint', 'status', '--write-out=table']), { command: 'endpoint status', format: 'table' });
  assert.deepEqual(stepShape(['lease', 'timetolive', '--keys', 'abc']), { command: 'lease timetolive', format: 'simple' });
  assert.deepEqual(stepShape(['put', '--', '-w', 'json']), { command: 'put', format: 'simple' });
});

test('a target command spec restores with `<spec> snapshot restore` unless told otherwise', () => {
  const floe = commandFromSpec('node /work/main/bin/floe');
  assert.equal(floe.command, 'node');
  assert.deepEqual(floe.args, ['/work/main/bin/floe']);
  assert.deepEqual(floe.restore, { command: 'node', args: ['/work/main/bin/floe', 'snapshot', 'restore'] });
  assert.deepEqual(commandFromSpec('/x/floe', 'etcdctl snapshot restore').restore, { command: 'etcdctl', args: ['snapshot', 'restore'] });
  assert.equal(commandFromSpec('/usr/bin/etcd').label, 'etcd');
});
