import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from './crc32c';

test('crc32c matches the standard check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the catalogue check value
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
});

test('crc32c chains: the CRC of a ++ b continues from the CRC of a, at every split', () => {
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff));
  const whole = crc32c(data);
  for (let split = 0; split <= data.length; split++) {
    assert.equal(crc32c(data.subarray(split), crc32c(data.subarray(0, split))), whole, `split ${split}`);
  }
});
