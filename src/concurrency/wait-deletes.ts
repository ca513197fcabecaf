/**
 * Waiting for predecessors (clientv3/concurrency key.go, our own code): a waiter whose key was
 * created at revision R owns the name once no key under the prefix created before R is left.
 * It watches the newest such key until it is deleted, then looks again, so each predecessor
 * is waited for at most once and a waiter never wakes for a key created after it.
 */
import { EventType } from '../etcdpb/messages';
import type * as pb from '../etcdpb/messages';
import type { KVServer, WatchServer } from '../server';
import { int64, lastCreatedUpTo } from './kv-ops';
import { canceledError, WatchQueue, watchOf } from './watch-queue';

/** Resolves once `key` is deleted at or after revision `fromRev`. */
export async function waitDelete(api: WatchServer, key: Buffer, fromRev: bigint, signal: AbortSignal): Promise<void> {
  const w = new WatchQueue(api, watchOf(key, fromRev));
  try {
    for (;;) {
      const resp = await w.next(signal);
      if (resp.events!.some((ev) => (ev.type ?? EventType.PUT) === EventType.DELETE)) return;
    }
  } finally {
    w.close();
  }
}

/**
 * Resolves, with the header of the range that found none, once no key under `prefix` has a
 * create revision at or below `maxCreateRev`.
 */
export async function waitDeletes(
  api: KVServer & WatchServer,
  prefix: Buffer,
  maxCreateRev: bigint,
  signal: AbortSignal,
): Promise<pb.ResponseHeader> {
  for (;;) {
    if (signal.aborted) throw canceledError();
    const resp = await api.range(lastCreatedUpTo(prefix, maxCreateRev));
    const last = resp.kvs?.[0];
    if (last === undefined) return resp.header;
    await waitDelete(api, Buffer.from(last.key), int64(resp.header.revision), signal);
  }
}
