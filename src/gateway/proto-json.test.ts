import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FloeError } from '../pkg';
import { decodeFirstValue } from './go-json';
import { goEnumName, goJsonString, lowerCamelName, messageFromJson, messageToJson } from './proto-json';
import { gatewayRoot } from './proto-root';

/**
 * [message, JSON in, JSON out, error], produced by a Go program linked against etcd 3.4's
 * etcdserverpb and grpc-gateway v1's JSONPb{OrigName: true} (the marshaler etcd's gateway
 * uses): the input decoded as the gateway decodes a request body, then the message written as
 * the gateway writes a response; or the decode error text. (Left out: a JSON null inside a
 * list of messages, which Go keeps as a nil element that never reaches the wire; and an empty
 * bytes value, which Go without a wire hop writes as "" but etcd's gogoproto code never puts
 * on the wire, so etcd's gateway never writes it.)
 */
const GO_CASES: readonly [string, string, string | null, string | null][] = [
  ["RangeRequest", "{\"key\":\"Zm9v\",\"range_end\":\"Zm9w\",\"limit\":\"10\",\"revision\":5,\"sort_order\":\"DESCEND\",\"sort_target\":\"MOD\",\"serializable\":true,\"keys_only\":false,\"count_only\":true,\"min_mod_revision\":\"0\"}", "{\"key\":\"Zm9v\",\"range_end\":\"Zm9w\",\"limit\":\"10\",\"revision\":\"5\",\"sort_order\":\"DESCEND\",\"sort_target\":\"MOD\",\"serializable\":true,\"count_only\":true}", null],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"rangeEnd\":\"AA==\",\"range_end\":\"Zm9w\",\"keysOnly\":true,\"sortOrder\":2,\"bogus\":[1,2]}", "{\"key\":\"Zm9v\",\"range_end\":\"AA==\",\"sort_order\":\"DESCEND\",\"keys_only\":true}", null],
  ["RangeRequest", "{\"key\":1}", null, "json: cannot unmarshal number into Go value of type []uint8"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":1.5}", null, "json: cannot unmarshal number 1.5 into Go value of type int64"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":\"1.5\"}", null, "json: cannot unmarshal number 1.5 into Go value of type int64"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":\"abc\"}", null, "invalid character 'a' looking for beginning of value"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":\"\"}", null, "unexpected end of JSON input"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":\"-\"}", null, "invalid character ' ' in numeric literal"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":true}", null, "json: cannot unmarshal bool into Go value of type int64"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":9223372036854775808}", null, "json: cannot unmarshal number 9223372036854775808 into Go value of type int64"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":-9223372036854775808}", "{\"key\":\"Zm9v\",\"limit\":\"-9223372036854775808\"}", null],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"limit\":\"1e3\"}", null, "json: cannot unmarshal number 1e3 into Go value of type int64"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"serializable\":\"true\"}", null, "json: cannot unmarshal string into Go value of type bool"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"serializable\":1}", null, "json: cannot unmarshal number into Go value of type bool"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"sort_order\":\"NOPE\"}", null, "unknown value \"NOPE\" for enum etcdserverpb.RangeRequest_SortOrder"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"sort_order\":7}", "{\"key\":\"Zm9v\",\"sort_order\":7}", null],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"sort_order\":true}", null, "json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder"],
  ["RangeRequest", "{\"key\":\"Zm9v\",\"sort_order\":\"DESCEND\",\"limit\":\"x\"}", null, "invalid character 'x' looking for beginning of value"],
  ["RangeRequest", "{\"limit\":\"x\",\"key\":\"!!\"}", null, "illegal base64 data at input byte 0"],
  ["RangeRequest", "{\"key\":null,\"limit\":null,\"sort_order\":null}", "{}", null],
  ["RangeRequest", "[]", null, "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"],
  ["RangeRequest", "\"x\"", null, "json: cannot unmarshal string into Go value of type map[string]json.RawMessage"],
  ["RangeRequest", "null", "{}", null],
  ["RangeRequest", "{\"key\":[102,111,111]}", "{\"key\":\"Zm9v\"}", null],
  ["RangeRequest", "{\"key\":[102,300]}", null, "json: cannot unmarshal number 300 into Go value of type uint8"],
  ["RangeRequest", "{\"key\":\"\u003c\u0026\u003e\"}", null, "illegal base64 data at input byte 0"],
  ["PutRequest", "{\"key\":\"Zm9v\",\"value\":\"\",\"lease\":\"18446744073709551615\"}", null, "json: cannot unmarshal number 18446744073709551615 into Go value of type int64"],
  ["PutRequest", "{\"key\":\"Zm9v\",\"lease\":\"9223372036854775807\",\"prev_kv\":true,\"ignore_value\":true,\"ignore_lease\":true}", "{\"key\":\"Zm9v\",\"lease\":\"9223372036854775807\",\"prev_kv\":true,\"ignore_value\":true,\"ignore_lease\":true}", null],
  ["TxnRequest", "{\"compare\":[{\"key\":\"Zm9v\",\"result\":\"EQUAL\",\"target\":\"VERSION\",\"version\":\"0\"},{\"key\":\"YQ==\",\"target\":\"VALUE\",\"value\":\"\",\"result\":\"NOT_EQUAL\"}],\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"eA==\"}},{\"requestRange\":{\"key\":\"Zm9v\"}}],\"failure\":[{\"request_delete_range\":{\"key\":\"Zm9v\",\"prev_kv\":true}},{\"request_txn\":{\"success\":[{\"request_range\":{\"key\":\"YQ==\"}}]}}]}", "{\"compare\":[{\"key\":\"Zm9v\",\"version\":\"0\"},{\"result\":\"NOT_EQUAL\",\"target\":\"VALUE\",\"key\":\"YQ==\",\"value\":\"\"}],\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"eA==\"}},{\"request_range\":{\"key\":\"Zm9v\"}}],\"failure\":[{\"request_delete_range\":{\"key\":\"Zm9v\",\"prev_kv\":true}},{\"request_txn\":{\"success\":[{\"request_range\":{\"key\":\"YQ==\"}}]}}]}", null],
  ["TxnRequest", "{\"compare\":{\"key\":\"Zm9v\"}}", null, "json: cannot unmarshal object into Go value of type []json.RawMessage"],
  ["TxnRequest", "{\"compare\":[{\"key\":\"Zm9v\",\"result\":\"SAME\"}]}", null, "unknown value \"SAME\" for enum etcdserverpb.Compare_CompareResult"],
  ["WatchRequest", "{\"create_request\":{\"key\":\"Zm9v\",\"start_revision\":\"3\",\"progress_notify\":true,\"filters\":[\"NOPUT\",\"NODELETE\"],\"prev_kv\":true,\"watch_id\":\"0\",\"fragment\":true}}", "{\"create_request\":{\"key\":\"Zm9v\",\"start_revision\":\"3\",\"progress_notify\":true,\"filters\":[\"NOPUT\",\"NODELETE\"],\"prev_kv\":true,\"fragment\":true}}", null],
  ["WatchRequest", "{\"cancel_request\":{\"watch_id\":\"1\"}}", "{\"cancel_request\":{\"watch_id\":\"1\"}}", null],
  ["WatchRequest", "{\"progress_request\":{}}", "{\"progress_request\":{}}", null],
  ["WatchRequest", "{\"create_request\":{\"filters\":\"NOPUT\"}}", null, "invalid target \"slice\" for enum etcdserverpb.WatchCreateRequest_FilterType"],
  ["LeaseGrantRequest", "{\"TTL\":\"60\",\"ID\":0}", "{\"TTL\":\"60\"}", null],
  ["LeaseGrantRequest", "{\"ttl\":60}", "{}", null],
  ["AlarmRequest", "{\"action\":\"ACTIVATE\",\"memberID\":\"1\",\"alarm\":\"NOSPACE\"}", "{\"action\":\"ACTIVATE\",\"memberID\":\"1\",\"alarm\":\"NOSPACE\"}", null],
  ["AuthRoleGrantPermissionRequest", "{\"name\":\"r\",\"perm\":{\"permType\":\"READWRITE\",\"key\":\"YQ==\",\"range_end\":\"Yg==\"}}", "{\"name\":\"r\",\"perm\":{\"permType\":\"READWRITE\",\"key\":\"YQ==\",\"range_end\":\"Yg==\"}}", null],
  ["MemberAddRequest", "{\"peerURLs\":[\"http://a:1\",\"http://b:2\"],\"isLearner\":true}", "{\"peerURLs\":[\"http://a:1\",\"http://b:2\"],\"isLearner\":true}", null],
  ["MemberAddRequest", "{\"peerURLs\":[1]}", null, "json: cannot unmarshal number into Go value of type string"],
  ["HashResponse", "{\"header\":{\"revision\":\"1\"},\"hash\":4294967295}", "{\"header\":{\"revision\":\"1\"},\"hash\":4294967295}", null],
  ["HashResponse", "{\"hash\":4294967296}", null, "json: cannot unmarshal number 4294967296 into Go value of type uint32"],
  ["HashResponse", "{\"hash\":-1}", null, "json: cannot unmarshal number -1 into Go value of type uint32"],
  ["StatusResponse", "{\"version\":\"3.4\\u2028\u003cx\u003e\",\"errors\":[\"a\\\"b\",\"\\\\\",\"\\u0001\"],\"isLearner\":false,\"dbSize\":\"0\"}", "{\"version\":\"3.4\\u2028\\u003cx\\u003e\",\"errors\":[\"a\\\"b\",\"\\\\\",\"\\u0001\"]}", null],
  ["WatchResponse", "{\"events\":[{\"type\":\"PUT\",\"kv\":{\"key\":\"YQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"YQ==\"}}],\"watch_id\":\"0\",\"created\":false,\"compact_revision\":\"0\"}", "{\"events\":[{\"kv\":{\"key\":\"YQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"YQ==\"}}]}", null],
];

test('an empty bytes field is left out of a response even when it was on the wire', () => {
  const type = gatewayRoot().lookupType('mvccpb.KeyValue');
  const bytes = type.encode({ key: Buffer.from('a'), value: Buffer.alloc(0) }).finish();
  assert.equal(messageToJson(type, type.decode(bytes)), '{"key":"YQ=="}');
});

/** JSON -> protobuf bytes -> decoded message -> JSON, as a request and then a response travel. */
function roundTrip(typeName: string, body: string): string {
  const type = gatewayRoot().lookupType(`etcdserverpb.${typeName}`);
  const obj = messageFromJson(type, decodeFirstValue(Buffer.from(body, 'utf8')));
  const bytes = type.encode(obj).finish();
  return messageToJson(type, type.decode(bytes));
}

test('request JSON is read and response JSON written exactly as etcd\'s gateway does', () => {
  for (const [typeName, body, out, err] of GO_CASES) {
    if (err !== null) {
      assert.throws(() => roundTrip(typeName, body), (e: unknown) => e instanceof FloeError && e.message === err, `${typeName} ${body}: want error ${err}`);
      continue;
    }
    assert.equal(roundTrip(typeName, body), out, `${typeName} ${body}`);
  }
});

test('lowerCamelName follows protoc', () => {
  assert.equal(lowerCamelName('range_end'), 'rangeEnd');
  assert.equal(lowerCamelName('ID'), 'ID');
  assert.equal(lowerCamelName('grantedTTL'), 'grantedTTL');
  assert.equal(lowerCamelName('prev_kv'), 'prevKv');
  assert.equal(lowerCamelName('a__b_1'), 'aB1');
});

test('goEnumName names nested enums as Go does', () => {
  const t = gatewayRoot().lookupType('etcdserverpb.RangeRequest');
  assert.equal(goEnumName(t.lookupEnum('SortOrder')), 'etcdserverpb.RangeRequest_SortOrder');
  assert.equal(goEnumName(gatewayRoot().lookupEnum('etcdserverpb.AlarmType')), 'etcdserverpb.AlarmType');
});

test('goJsonString escapes as Go\'s json.Marshal', () => {
  assert.equal(goJsonString('a"b\\<>&\u2028\u0001\n'), '"a\\"b\\\\\\u003c\\u003e\\u0026\\u2028\\u0001\\n"');
  assert.equal(goJsonString('x\ud800y'), '"x\ufffdy"');
  assert.equal(goJsonString('\ud83d\ude00'), '"\ud83d\ude00"');
});
