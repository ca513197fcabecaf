/**
 * The client side's classification and conversions (no server): only the model's own errors
 * are definite, everything else is an unknown outcome; latin1 keys keep byte order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_ERRORS } from './checker';
import { bytes, definiteError, kvFromWire } from './client';

test('only the model errors count as definite; timeouts and unavailability are unknown outcomes', () => {
  assert.equal(definiteError(new Error(`5 NOT_FOUND: ${MODEL_ERRORS.leaseNotFound}`)), MODEL_ERRORS.leaseNotFound);
  assert.equal(definiteError(Object.assign(new Error('9 FAILED_PRECONDITION'), { details: MODEL_ERRORS.leaseExists })), MODEL_ERRORS.leaseExists);
  assert.equal(definiteError(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded')), undefined);
  assert.equal(definiteError(new Error('14 UNAVAILABLE: etcdserver: request timed out')), undefined);
  assert.equal(definiteError(new Error('etcdserver: mvcc: required revision has been compacted')), undefined);
});

test('latin1 round trip keeps every byte and etcd byte order', () => {
  const key = 'key/\xff';
  assert.deepEqual([...bytes(key)], [0x6b, 0x65, 0x79, 0x2f, 0xff]);
  const back = kvFromWire({ key: bytes(key), value: Buffer.from([0, 0x80, 0xff]), create_revision: '2', mod_revision: '5', version: '3', lease: '7000001' });
  assert.deepEqual(back, { key, value: '\x00\x80\xff', createRevision: 2, modRevision: 5, version: 3, lease: 7000001 });
  assert.ok('key/9' < key && bytes('key/9').compare(bytes(key)) < 0);
  assert.equal(kvFromWire(undefined), null);
});
