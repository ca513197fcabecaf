export { assert, unreachable, verifyEnabled, AssertionError } from './assert';
export { FloeError, isFloeError } from './errors';
export { failpoint } from './failpoint';
