/**
 * DER encodings against byte strings fixed by X.690 (and seen in real certificates): length
 * forms at their edges, minimal two's complement integers, OIDs, named bit strings, the
 * UTCTime / GeneralizedTime switch at 2050, and canonical SET OF order.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import { ERR_DER, boolean, encodeLength, integer, namedBits, oid, sequence, setOf, x509Time, directoryString, ia5String, explicit, implicitPrimitive, bitString } from './der';

const hex = (b: Buffer): string => b.toString('hex');

test('lengths: short form up to 127, long form from 128, multi-byte lengths big-endian', () => {
  assert.equal(hex(encodeLength(0)), '00');
  assert.equal(hex(encodeLength(127)), '7f');
  assert.equal(hex(encodeLength(128)), '8180');
  assert.equal(hex(encodeLength(255)), '81ff');
  assert.equal(hex(encodeLength(256)), '820100');
  assert.equal(hex(encodeLength(65536)), '83010000');
  // A TLV whose value is exactly 128 bytes switches to the long form.
  const t = sequence(Buffer.alloc(128));
  assert.equal(hex(t.subarray(0, 3)), '308180');
  assert.equal(t.length, 131);
});

test('integers: minimal two\'s complement, a 0x00 in front of a set top bit', () => {
  const cases: [bigint, string][] = [
    [0n, '020100'], [1n, '020101'], [127n, '02017f'], [128n, '02020080'], [255n, '020200ff'],
    [256n, '02020100'], [-1n, '0201ff'], [-128n, '020180'], [-129n, '0202ff7f'], [2n ** 64n, '0209010000000000000000'],
  ];
  for (const [v, want] of cases) assert.equal(hex(integer(v)), want, String(v));
  // From unsigned bytes: leading zeros dropped, sign byte added when needed.
  assert.equal(hex(integer(Buffer.from([0, 0, 0x7f]))), '02017f');
  assert.equal(hex(integer(Buffer.from([0x80, 1]))), '0203008001');
  assert.equal(hex(integer(Buffer.from([0, 0]))), '020100');
});

test('object identifiers: ecdsa-with-SHA256, commonName, and arcs above 127', () => {
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  assert.equal(hex(oid('2.5.4.3')), '0603550403');
  assert.equal(hex(oid('2.5.29.17')), '0603551d11');
  assert.equal(hex(oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301');
  assert.equal(hex(oid('2.999.3')), '0603883703'); // first subidentifier 2*40+999 = 1079
  for (const bad of ['', '1', '3.1', '1.40', 'a.b', '1..2']) {
    assert.throws(() => oid(bad), (e) => isFloeError(e, ERR_DER), bad);
  }
});

test('named bit strings drop trailing zero bits (keyUsage)', () => {
  assert.equal(hex(namedBits([0, 2])), '030205a0'); // digitalSignature, keyEncipherment
  assert.equal(hex(namedBits([0, 2, 5, 6])), '030201a6'); // + keyCertSign, cRLSign
  assert.equal(hex(namedBits([0])), '03020780');
  assert.equal(hex(namedBits([8])), '0303070080');
  assert.equal(hex(namedBits([])), '030100');
  assert.equal(hex(bitString(Buffer.from([0xab]))), '030200ab');
});

test('times: UTCTime for 1950..2049, GeneralizedTime outside', () => {
  assert.equal(x509Time(new Date(Date.UTC(2026, 10, 24, 7, 5, 9))).toString('latin1', 2), '261124070509Z');
  assert.equal(x509Time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59))).toString('latin1', 2), '491231235959Z');
  assert.equal(x509Time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))[0], 0x17);
  const g = x509Time(new Date(Date.UTC(2050, 0, 1, 0, 0, 0)));
  assert.equal(g[0], 0x18);
  assert.equal(g.toString('latin1', 2), '20500101000000Z');
  assert.equal(x509Time(new Date(Date.UTC(1950, 0, 1)))[0], 0x17);
  assert.equal(x509Time(new Date(Date.UTC(1949, 11, 31)))[0], 0x18);
  assert.throws(() => x509Time(new Date(NaN)), (e) => isFloeError(e, ERR_DER));
});

test('SET OF is sorted by encoding; strings pick PrintableString when they can', () => {
  assert.equal(hex(setOf(Buffer.from('0201ff', 'hex'), Buffer.from('020101', 'hex'))), '3106020101' + '0201ff');
  assert.equal(directoryString('etcd')[0], 0x13);
  assert.equal(directoryString('a_b')[0], 0x0c); // '_' is not printable
  assert.equal(directoryString('zoë').toString('utf8', 2), 'zoë');
  assert.throws(() => ia5String('zoë'), (e) => isFloeError(e, ERR_DER));
  assert.equal(hex(boolean(true)), '0101ff');
  assert.equal(hex(boolean(false)), '010100');
  assert.equal(hex(explicit(0, integer(2n))), 'a003020102');
  assert.equal(hex(implicitPrimitive(7, Buffer.from([127, 0, 0, 1]))), '87047f000001');
});
