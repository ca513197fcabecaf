export { assert, unreachable, verifyEnabled, AssertionError } from './assert';
export { FloeError, isFloeError } from './errors';
export { failpoint } from './failpoint';
export { crc32c } from './crc32c';
