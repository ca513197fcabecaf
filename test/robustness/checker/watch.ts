/**
 * Watch validators: check the event streams of recorded watches against each other and against
 * the merged history of successful writes. Properties (etcd's watch guarantees):
 * - ordered: event revisions never go down along a watch;
 * - unique: no (revision, key) event is delivered twice on a watch;
 * - atomic: all of a revision's events on a watch arrive in one response, never split;
 * - reliable: between the watch's start and the last revision it has heard of (its last event
 *   or progress notification), every matching write of the history was delivered;
 * - resumable: a watch from revision R starts exactly at the first matching change at or after
 *   R (none before R, none skipped);
 * - bookmarkable: after a progress notification at revision P no event at or below P arrives;
 * - valid: each delivered event is the history's event (type, kv, and prevKv when asked).
 */
import { assert } from '../../../src/pkg';
import type { KeyValue, WriteEvent } from './history';
import { formatKv, inRange, kvEqual } from './model';

/**
 * One delivered event. For a delete `kv` is what etcd sends: the key and the deletion's
 * revision as `modRevision` (other fields zero). `prevKv` is present only on watches that
 * asked for it (null when the key did not exist before).
 */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue | null;
}

/** One response received on a watch, in arrival order. */
export interface WatchResponse {
  /** The response's header revision. */
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  /** A progress notification: no events, everything up to `revision` has been sent. */
  readonly progressNotify?: boolean;
  /** Set when the server cancelled the watch because its start is compacted. */
  readonly compactRevision?: number;
}

/** A recorded watch. */
export interface WatchRecord {
  /** A name for violation reports. */
  readonly name: string;
  readonly key: string;
  /** etcd's convention: absent or '' one key, '\0' every key >= key, else [key, rangeEnd). */
  readonly rangeEnd?: string;
  /** The requested start revision; 0 or absent: from the revision after creation. */
  readonly startRevision?: number;
  /** Header revision of the creation response (the store's revision at creation). */
  readonly createdRevision: number;
  /** Whether the watch asked for prev kvs (then they are compared). */
  readonly prevKv?: boolean;
  readonly responses: readonly WatchResponse[];
}

/** The property a violation breaks. */
export type WatchProperty = 'ordered' | 'unique' | 'atomic' | 'reliable' | 'resumable' | 'bookmarkable' | 'valid';

/** One broken guarantee, located. */
export interface WatchViolation {
  readonly property: WatchProperty;
  readonly watch: string;
  readonly message: string;
}

/**
 * Checks every watch for the seven properties against `writes`, the merged history of
 * successful writes in revision order (from a linearization, or `mergeWatchEvents`).
 * Returns all violations found; none means the watches are correct.
 */
export function validateWatches(watches: readonly WatchRecord[], writes: readonly WriteEvent[]): WatchViolation[] {
  const byRevisionKey = new Map<string, WriteEvent>();
  let lastRevision = 0;
  for (const w of writes) {
    assert(w.revision >= lastRevision, `writes out of revision order at ${w.revision}`);
    lastRevision = w.revision;
    byRevisionKey.set(eventId(w.revision, w.key), w);
  }
  const out: WatchViolation[] = [];
  for (const watch of watches) validateOne(watch, writes, byRevisionKey, out);
  return out;
}

function validateOne(watch: WatchRecord, writes: readonly WriteEvent[], history: Map<string, WriteEvent>, out: WatchViolation[]): void {
  const report = (property: WatchProperty, message: string): void => {
    out.push({ property, watch: watch.name, message });
  };
  const start = (watch.startRevision ?? 0) > 0 ? (watch.startRevision as number) : watch.createdRevision + 1;
  const seen = new Map<string, number>(); // event id -> index of the response that carried it
  const revisionResponse = new Map<number, number>(); // revision -> response index
  let lastEventRevision = 0;
  let progressRevision = 0;
  let heardUpTo = 0;
  const delivered: { revision: number; key: string }[] = [];
  for (let r = 0; r < watch.responses.length; r++) {
    const resp = watch.responses[r] as WatchResponse;
    if ((resp.compactRevision ?? 0) > 0) {
      // A cancelled watch promises nothing more; a compaction cancel also ends the record.
      if (resp.events.length > 0) report('valid', `response ${r} carries events and a compaction cancel`);
      break;
    }
    if (resp.progressNotify === true) {
      if (resp.events.length > 0) report('valid', `progress notification ${r} carries events`);
      progressRevision = Math.max(progressRevision, resp.revision);
      heardUpTo = Math.max(heardUpTo, resp.revision);
      continue;
    }
    for (const ev of resp.events) {
      const rev = ev.kv.modRevision;
      const id = eventId(rev, ev.kv.key);
      if (rev < lastEventRevision) report('ordered', `response ${r}: event ${ev.kv.key}@${rev} after an event @${lastEventRevision}`);
      if (seen.has(id)) report('unique', `response ${r}: event ${ev.kv.key}@${rev} already delivered in response ${seen.get(id)}`);
      const first = revisionResponse.get(rev);
      if (first !== undefined && first !== r) report('atomic', `revision ${rev} split over responses ${first} and ${r}`);
      if (rev < start) report('resumable', `response ${r}: event ${ev.kv.key}@${rev} before the start revision ${start}`);
      if (rev <= progressRevision) report('bookmarkable', `response ${r}: event ${ev.kv.key}@${rev} at or below progress notification @${progressRevision}`);
      if (!inRange(ev.kv.key, watch.key, watch.rangeEnd)) report('valid', `response ${r}: event for ${ev.kv.key} outside the watched range`);
      const mismatch = eventMismatch(ev, history.get(id), watch.prevKv === true);
      if (mismatch !== null) report('valid', `response ${r}: ${mismatch}`);
      seen.set(id, r);
      revisionResponse.set(rev, r);
      delivered.push({ revision: rev, key: ev.kv.key });
      lastEventRevision = Math.max(lastEventRevision, rev);
      heardUpTo = Math.max(heardUpTo, rev);
    }
  }
  // Everything matching in [start, heardUpTo] must have been delivered.
  const expected = writes.filter((w) => w.revision >= start && w.revision <= heardUpTo && inRange(w.key, watch.key, watch.rangeEnd));
  const firstExpected = expected[0];
  const firstDelivered = delivered.find((d) => d.revision >= start);
  // By revision: the order of a txn's events inside one revision is not part of the history
  // when it was merged from watches (key order there); every event of it is checked below.
  if (firstExpected !== undefined && firstDelivered !== undefined && firstDelivered.revision !== firstExpected.revision) {
    report('resumable', `watch from ${start} starts at ${firstDelivered.key}@${firstDelivered.revision}, first change is ${firstExpected.key}@${firstExpected.revision}`);
  }
  for (const w of expected) {
    const id = eventId(w.revision, w.key);
    if (seen.has(id)) continue;
    const other = revisionResponse.get(w.revision);
    if (other !== undefined) report('atomic', `revision ${w.revision} delivered in response ${other} without its event for ${w.key}`);
    else report('reliable', `missing ${w.type} ${w.key}@${w.revision} (watch heard up to ${heardUpTo})`);
  }
}

function eventMismatch(ev: WatchEvent, w: WriteEvent | undefined, withPrev: boolean): string | null {
  const at = `${ev.type} ${ev.kv.key}@${ev.kv.modRevision}`;
  if (w === undefined) return `event ${at} is not in the history`;
  if (w.type !== ev.type) return `event ${at} is a ${w.type} in the history`;
  if (w.type === 'put' && !kvEqual(ev.kv, w.kv)) return `event ${at}: kv ${formatKv(ev.kv)}, history ${formatKv(w.kv)}`;
  if (withPrev && !kvEqual(ev.prevKv ?? null, w.prevKv)) return `event ${at}: prevKv ${formatKv(ev.prevKv ?? null)}, history ${formatKv(w.prevKv)}`;
  return null;
}

/**
 * Merges the events of all watches into one history of writes, in revision order (events of one
 * revision in key order, since watches do not show the order inside a txn). Two watches that
 * report the same (revision, key) differently are a 'valid' violation. Use it when the run had
 * writes with unknown outcomes: what some watch saw is then the best record of what happened.
 * Only changes some watch observed appear; prevKv is taken from a watch that asked for it.
 */
export function mergeWatchEvents(watches: readonly WatchRecord[]): { writes: WriteEvent[]; violations: WatchViolation[] } {
  const merged = new Map<string, { event: WriteEvent; from: string; withPrev: boolean }>();
  const violations: WatchViolation[] = [];
  for (const watch of watches) {
    const withPrev = watch.prevKv === true;
    for (const resp of watch.responses) {
      for (const ev of resp.events) {
        const event: WriteEvent = {
          revision: ev.kv.modRevision,
          type: ev.type,
          key: ev.kv.key,
          kv: ev.type === 'put' ? ev.kv : null,
          prevKv: withPrev ? (ev.prevKv ?? null) : null,
        };
        const id = eventId(event.revision, event.key);
        const have = merged.get(id);
        if (have === undefined) {
          merged.set(id, { event, from: watch.name, withPrev });
          continue;
        }
        const sameChange = have.event.type === event.type && kvEqual(have.event.kv, event.kv);
        const samePrev = !(withPrev && have.withPrev) || kvEqual(have.event.prevKv, event.prevKv);
        if (!sameChange || !samePrev) {
          violations.push({ property: 'valid', watch: watch.name, message: `event ${event.key}@${event.revision} differs from watch ${have.from}'s` });
        } else if (withPrev && !have.withPrev) {
          merged.set(id, { event, from: watch.name, withPrev });
        }
      }
    }
  }
  const writes = [...merged.values()].map((m) => m.event);
  writes.sort((a, b) => a.revision - b.revision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { writes, violations };
}

function eventId(revision: number, key: string): string {
  return `${revision}\u0000${key}`;
}
