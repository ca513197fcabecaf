/**
 * Splitting a large watch response into fragments, as etcd's sendFragments does for watchers
 * created with `fragment: true`.
 *
 * Rule (etcd 3.4): a response whose encoding is under the limit, or that carries fewer than
 * two events, goes out whole. Otherwise events are packed in order into responses that copy
 * every other field and set `fragment`; an event that would bring a fragment's size to the
 * limit or beyond starts the next fragment, except that every fragment holds at least one
 * event (so one event larger than the limit still goes out). The last fragment has
 * `fragment` unset, which tells the client the revision is complete. Sizes are measured with
 * `fragment` set, as etcd measures them.
 */
import type * as pb from '../etcdpb/messages';

/** The encoded size of a watch response (the Watch method's response serializer). */
export type WatchResponseSize = (resp: pb.WatchResponse) => number;

/** The responses to send for `resp`, in order: `[resp]` itself when no split is needed. */
export function fragmentWatchResponse(resp: pb.WatchResponse, limitBytes: number, sizeOf: WatchResponseSize): pb.WatchResponse[] {
  const events = resp.events ?? [];
  if (events.length < 2) return [resp];
  // A repeated message field encodes each element on its own, so a response's size is the
  // size without events plus each event's size as an element (measured alone).
  const eventBytes = events.map((ev) => sizeOf({ events: [ev] } as pb.WatchResponse));
  const whole = sizeOf({ ...resp, events: [] }) + sum(eventBytes);
  if (whole < limitBytes) return [resp];

  const base = sizeOf({ ...resp, events: [], fragment: true });
  const out: pb.WatchResponse[] = [];
  let idx = 0;
  while (idx < events.length) {
    const start = idx;
    let size = base;
    while (idx < events.length) {
      const next = size + eventBytes[idx]!;
      if (idx > start && next >= limitBytes) break;
      size = next;
      idx++;
    }
    // Zero-valued fields stay unset, as etcd encodes them (see src/etcdpb/README.md).
    out.push({ ...resp, events: events.slice(start, idx), fragment: idx < events.length ? true : undefined });
  }
  return out;
}

function sum(xs: readonly number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}
