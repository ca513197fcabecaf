/**
 * The freelist layer's public face: pick an implementation by kind (design.md §4).
 * `array` is bbolt's original sorted-array freelist; `hashmap` is the seed's segregated
 * hashmap, the default (etcd's `--backend-bbolt-freelist-type map`).
 */
import { unreachable } from '../../pkg';
import { ArrayFreelist } from './array';
import { HashmapFreelist } from './hashmap';
import type { Freelist, FreelistKind } from './types';

export type { Freelist, FreelistKind, Pgid, Txid } from './types';
export { ArrayFreelist } from './array';
export { HashmapFreelist } from './hashmap';

/** All freelist kinds, in a fixed order (for option validation and tests). */
export const FREELIST_KINDS: readonly FreelistKind[] = ['array', 'hashmap'];

/** Returns a new, empty freelist of the given kind. */
export function newFreelist(kind: FreelistKind): Freelist {
  switch (kind) {
    case 'array':
      return new ArrayFreelist();
    case 'hashmap':
      return new HashmapFreelist();
    default:
      return unreachable(kind, 'unknown freelist kind');
  }
}
