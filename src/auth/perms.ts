/**
 * Range permission checks with etcd's interval semantics (auth/range_perm_cache.go, adt's
 * affine byte intervals). Each granted permission is an interval: a key alone is the point
 * [key, key+"\0"); a range is [key, rangeEnd); a range end of "\0" means "to the end"
 * (unbounded, here `end === null`). A request for one key is allowed when some interval of the
 * right kind holds it; a request for a range only when the union of intervals covers all of it.
 */
import type { Permission, Role } from './schema';
import { PermType } from './schema';

/** A half-open byte interval; `end` null is unbounded above. */
export interface Interval {
  readonly begin: Buffer;
  readonly end: Buffer | null;
}

/** One user's permissions, merged over its roles. */
export interface MergedPerms {
  readonly read: readonly Interval[];
  readonly write: readonly Interval[];
}

const ZERO = Buffer.from([0]);

/** Compares interval ends; null (unbounded) is above everything (adt's affine comparison). */
function cmpEnd(a: Buffer | null, b: Buffer | null): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return Buffer.compare(a, b);
}

function isZeroByte(b: Buffer): boolean {
  return b.length === 1 && b[0] === 0;
}

/** The interval a stored permission grants. */
export function permInterval(p: Permission): Interval {
  if (p.rangeEnd.length === 0) return { begin: p.key, end: Buffer.concat([p.key, ZERO]) };
  return { begin: p.key, end: isZeroByte(p.rangeEnd) ? null : p.rangeEnd };
}

/** Merges the permissions of `roles` (missing roles already dropped) by kind. */
export function mergePerms(roles: readonly Role[]): MergedPerms {
  const read: Interval[] = [];
  const write: Interval[] = [];
  for (const r of roles) {
    for (const p of r.keyPermission) {
      const ivl = permInterval(p);
      if (p.permType === PermType.READ || p.permType === PermType.READWRITE) read.push(ivl);
      if (p.permType === PermType.WRITE || p.permType === PermType.READWRITE) write.push(ivl);
    }
  }
  const byBegin = (a: Interval, b: Interval): number => Buffer.compare(a.begin, b.begin) || cmpEnd(a.end, b.end);
  read.sort(byBegin);
  write.sort(byBegin);
  return { read, write };
}

/** Whether `ivls` (sorted by begin) hold the single key `key`. */
function holdsPoint(ivls: readonly Interval[], key: Buffer): boolean {
  for (const i of ivls) {
    if (Buffer.compare(i.begin, key) > 0) return false;
    if (cmpEnd(i.end, key) > 0) return true;
  }
  return false;
}

function overlaps(a: Interval, b: Interval): boolean {
  return cmpEnd(a.end, b.begin) > 0 && cmpEnd(b.end, a.begin) > 0;
}

/**
 * Whether the union of `ivls` (sorted by begin) covers `q` without a gap: adt's Contains over
 * the intervals that overlap `q` (touching intervals [a,b) [b,c) are contiguous).
 */
function covers(ivls: readonly Interval[], q: Interval): boolean {
  let minBegin: Buffer | null = null;
  let maxEnd: Buffer | null = null;
  for (const i of ivls) {
    if (!overlaps(i, q)) continue;
    if (minBegin === null) {
      minBegin = i.begin;
      maxEnd = i.end;
      continue;
    }
    if (cmpEnd(maxEnd, i.begin) < 0) return false;
    if (cmpEnd(i.end, maxEnd) > 0) maxEnd = i.end;
  }
  return minBegin !== null && cmpEnd(maxEnd, q.end) >= 0 && Buffer.compare(minBegin, q.begin) <= 0;
}

/**
 * Whether `perms` allow `kind` ('read' or 'write') on `key` (rangeEnd empty), on
 * [key, rangeEnd), or from `key` on (rangeEnd "\0").
 */
export function rangePermitted(perms: MergedPerms, kind: 'read' | 'write', key: Uint8Array, rangeEnd: Uint8Array): boolean {
  const ivls = kind === 'read' ? perms.read : perms.write;
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (rangeEnd.length === 0) return holdsPoint(ivls, k);
  const e = Buffer.from(rangeEnd.buffer, rangeEnd.byteOffset, rangeEnd.byteLength);
  return covers(ivls, { begin: k, end: isZeroByte(e) ? null : e });
}
