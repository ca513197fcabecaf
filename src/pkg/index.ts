export { assert, unreachable, verifyEnabled, AssertionError } from './assert';
export { FloeError, isFloeError } from './errors';
export { failpoint } from './failpoint';
export { plantedBug, parsePlantedBugs, PLANTED_BUGS, type PlantedBug } from './planted-bug';
export { crc32c } from './crc32c';
export { ProtoWriter, readFields, asInt64, varintSize, varintSizeBig, putVarint, putVarintBig, type ProtoField, WIRE_VARINT, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, ERR_PROTO } from './protowire';
export { ProtoReader } from './proto-reader';
export { scratchDir } from './scratch';
export { Rng, baseSeed, forSeeds } from './rng';
