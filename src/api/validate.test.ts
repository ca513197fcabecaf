import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FloeError } from '../pkg';
import type * as pb from '../etcdpb/messages';
import {
  badUrlReason,
  checkIntervals,
  checkPutRequest,
  checkRequestSize,
  checkTxnRequest,
  isTxnReadonly,
  raftEntrySizeBytes,
} from './validate';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const EMPTY = Buffer.alloc(0);
const put = (k: string): pb.RequestOp => ({ request: 'request_put', request_put: { key: B(k), value: B('v'), lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false } });
const del = (k: string, end = ''): pb.RequestOp => ({ request: 'request_delete_range', request_delete_range: { key: B(k), range_end: B(end), prev_kv: false } });
const get = (k: string): pb.RequestOp => ({
  request: 'request_range',
  request_range: {
    key: B(k), range_end: EMPTY, limit: '0', revision: '0', sort_order: 0, sort_target: 0, serializable: false, keys_only: false,
    count_only: false, min_mod_revision: '0', max_mod_revision: '0', min_create_revision: '0', max_create_revision: '0',
  },
});
const txn = (success: pb.RequestOp[], failure: pb.RequestOp[] = [], compare: pb.Compare[] = []): pb.TxnRequest => ({ compare, success, failure });
const nested = (success: pb.RequestOp[], failure: pb.RequestOp[] = []): pb.RequestOp => ({ request: 'request_txn', request_txn: txn(success, failure) });
const cmp = (k: string): pb.Compare => ({ result: 0, target: 0, key: B(k), range_end: EMPTY, target_union: 'version', version: '0' });

const codeOf = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (e) {
    assert.ok(e instanceof FloeError, String(e));
    return e.code;
  }
};

test('txn op limit: the largest of compare/success/failure counts, at the edge', () => {
  const ops = (n: number): pb.RequestOp[] => Array.from({ length: n }, (_, i) => put(`k${i}`));
  assert.equal(codeOf(() => checkTxnRequest(txn(ops(128)), 128)), null);
  assert.equal(codeOf(() => checkTxnRequest(txn(ops(129)), 128)), 'ERR_TOO_MANY_OPS');
  assert.equal(codeOf(() => checkTxnRequest(txn([], ops(129)), 128)), 'ERR_TOO_MANY_OPS');
  const compares = Array.from({ length: 129 }, (_, i) => cmp(`c${i}`));
  assert.equal(codeOf(() => checkTxnRequest(txn([], [], compares), 128)), 'ERR_TOO_MANY_OPS');
  // Counts are not summed across branches (etcd takes the maximum).
  assert.equal(codeOf(() => checkTxnRequest(txn(ops(128), ops(128), compares.slice(0, 128)), 128)), null);
});

test('a nested txn gets what the parent left of the op budget (etcd: maxTxnOps - opc)', () => {
  const ops = (n: number, p: string): pb.RequestOp[] => Array.from({ length: n }, (_, i) => put(`${p}${i}`));
  // Parent has 100 ops (99 puts + the nested txn): the nested txn may have 28.
  assert.equal(codeOf(() => checkTxnRequest(txn([...ops(99, 'a'), nested(ops(28, 'b'))]), 128)), null);
  assert.equal(codeOf(() => checkTxnRequest(txn([...ops(99, 'a'), nested(ops(29, 'b'))]), 128)), 'ERR_TOO_MANY_OPS');
});

test('txn checks: empty compare key, empty op keys, and an op with nothing set', () => {
  assert.equal(codeOf(() => checkTxnRequest(txn([], [], [cmp('')]), 128)), 'ERR_EMPTY_KEY');
  assert.equal(codeOf(() => checkTxnRequest(txn([put('')]), 128)), 'ERR_EMPTY_KEY');
  assert.equal(codeOf(() => checkTxnRequest(txn([], [del('')]), 128)), 'ERR_EMPTY_KEY');
  assert.equal(codeOf(() => checkTxnRequest(txn([get('')]), 128)), 'ERR_EMPTY_KEY');
  assert.equal(codeOf(() => checkTxnRequest(txn([nested([put('')])]), 128)), 'ERR_EMPTY_KEY');
  assert.equal(codeOf(() => checkTxnRequest(txn([{}]), 128)), 'ERR_KEY_NOT_FOUND');
  // The op count is checked before the keys.
  assert.equal(codeOf(() => checkTxnRequest(txn([put(''), put('a')]), 1)), 'ERR_TOO_MANY_OPS');
});

test('put checks: value with ignore_value, lease with ignore_lease', () => {
  const p = (over: Partial<pb.PutRequest>): pb.PutRequest => ({ key: B('k'), value: EMPTY, lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false, ...over });
  assert.equal(codeOf(() => checkPutRequest(p({ ignore_value: true }))), null);
  assert.equal(codeOf(() => checkPutRequest(p({ ignore_value: true, value: B('x') }))), 'ERR_VALUE_PROVIDED');
  assert.equal(codeOf(() => checkPutRequest(p({ ignore_lease: true }))), null);
  assert.equal(codeOf(() => checkPutRequest(p({ ignore_lease: true, lease: '5' }))), 'ERR_LEASE_PROVIDED');
  assert.equal(codeOf(() => checkPutRequest(p({ key: EMPTY, ignore_value: true, value: B('x') }))), 'ERR_EMPTY_KEY');
});

test('duplicate keys: puts and deletes within one branch, as etcd checks them', () => {
  const dup = (ops: pb.RequestOp[]): string | null => codeOf(() => checkIntervals(ops));
  assert.equal(dup([put('a'), put('b')]), null);
  assert.equal(dup([put('a'), put('a')]), 'ERR_DUPLICATE_KEY');
  assert.equal(dup([put('a'), del('a')]), 'ERR_DUPLICATE_KEY');
  assert.equal(dup([del('a'), put('a')]), 'ERR_DUPLICATE_KEY');
  assert.equal(dup([put('ab'), del('a', 'b')]), 'ERR_DUPLICATE_KEY');
  // A range end is exclusive.
  assert.equal(dup([put('b'), del('a', 'b')]), null);
  // Two deletes may overlap, and reads never conflict.
  assert.equal(dup([del('a', 'z'), del('b'), get('b')]), null);
  // etcd 3.4's interval for a from-key delete ("\0" end) is empty: no put conflicts with it.
  assert.equal(dup([put('a'), del('a', '\0')]), null);
});

test('duplicate keys across nested txns: then/else exclude each other, parents see both', () => {
  const dup = (ops: pb.RequestOp[]): string | null => codeOf(() => checkIntervals(ops));
  // The same key in the two branches of one nested txn is fine: only one runs.
  assert.equal(dup([nested([put('a')], [put('a')])]), null);
  // ... but not next to a put of the parent, nor in two nested txns.
  assert.equal(dup([nested([put('a')]), put('a')]), 'ERR_DUPLICATE_KEY');
  assert.equal(dup([nested([put('a')]), nested([], [put('a')])]), 'ERR_DUPLICATE_KEY');
  // A nested put inside a range the parent deletes.
  assert.equal(dup([del('a', 'c'), nested([put('b')])]), 'ERR_DUPLICATE_KEY');
  // A nested delete covering a parent's put.
  assert.equal(dup([put('b'), nested([del('a', 'c')])]), 'ERR_DUPLICATE_KEY');
  // Deeper levels report up through every parent.
  assert.equal(dup([put('x'), nested([nested([put('x')])])]), 'ERR_DUPLICATE_KEY');
});

test('read-only txns are those whose every op in both branches is a range', () => {
  assert.equal(isTxnReadonly(txn([get('a')], [get('b')])), true);
  assert.equal(isTxnReadonly(txn([])), true);
  assert.equal(isTxnReadonly(txn([get('a')], [put('b')])), false);
  assert.equal(isTxnReadonly(txn([nested([get('a')])])), false);
});

test('request size: raft entry overhead matches etcd at the observed edge', () => {
  // Against etcd 3.4.23 (a member whose request ids are 10-byte varints), `etcdctl put big V`
  // succeeds for a 1572837-byte value and fails for 1572838 at the default 1572864 limit.
  const putWire = (valueBytes: number): number => 5 + 1 + 3 + valueBytes; // key "big", value field
  const max = 1.5 * 1024 * 1024;
  assert.equal(raftEntrySizeBytes(putWire(1572837)), max);
  assert.doesNotThrow(() => checkRequestSize(putWire(1572837), max));
  assert.throws(() => checkRequestSize(putWire(1572838), max), (e: unknown) => e instanceof FloeError && e.code === 'ERR_REQUEST_TOO_LARGE');
  // Varint length steps: 127 -> 1 byte, 128 -> 2 bytes.
  assert.equal(raftEntrySizeBytes(127) - 127, 16);
  assert.equal(raftEntrySizeBytes(128) - 128, 17);
});

test('member URLs: etcd types.NewURLs rules', () => {
  assert.equal(badUrlReason(['http://127.0.0.1:2380']), null);
  assert.equal(badUrlReason(['https://[::1]:2380', ' http://host:1 ']), null);
  assert.equal(badUrlReason([]), 'no valid URLs given');
  assert.match(badUrlReason(['ftp://a:1'])!, /^URL scheme must be http, https, unix, or unixs: ftp:\/\/a:1$/);
  assert.match(badUrlReason(['127.0.0.1:2380'])!, /URL scheme must be/);
  assert.match(badUrlReason(['http://a'])!, /^URL address does not have the form "host:port": http:\/\/a$/);
  assert.match(badUrlReason(['http://a:1/x'])!, /^URL must not contain a path: http:\/\/a:1\/x$/);
  assert.match(badUrlReason(['http://a:1/'])!, /^URL must not contain a path/);
});
