/**
 * v3electionpb.Election over the member's KV, Lease and Watch (etcd's v3election server runs
 * concurrency.Election against itself). Candidates of election NAME hold keys
 * `NAME/<lease id in hex>` whose value is their proposal; the leader is the candidate whose
 * key has the smallest create revision. A leader is named by its LeaderKey (name, key, create
 * revision, lease): Proclaim and Resign act only while that exact key still exists.
 */
import { FloeError } from '../pkg';
import { EventType } from '../etcdpb/messages';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi } from '../server';
import { createRevIs, deleteOf, firstCreated, int64, opDelete, opPut, opRange, prefixEnd, putOf, rangeKvs, rangeOf, sessionKey } from './kv-ops';
import { sessionLease } from './session';
import { waitDeletes } from './wait-deletes';
import { WatchQueue, watchOf } from './watch-queue';

/** etcd's exact error texts (clients see them as UNKNOWN with this message). */
export const ELECTION_ERRORS = Object.freeze({
  NOT_LEADER: 'election: not leader',
  NO_LEADER: 'election: no leader',
  MISSING_LEADER_KEY: '"leader" field must be provided',
});

const notLeader = (): FloeError => new FloeError('ERR_ELECTION_NOT_LEADER', ELECTION_ERRORS.NOT_LEADER);

/** The LeaderKey of a request, or etcd's error when it is missing. */
function leaderKeyOf(leader: pb.LeaderKeyIn | null): pb.LeaderKeyIn {
  if (leader === null) throw new FloeError('ERR_MISSING_LEADER_KEY', ELECTION_ERRORS.MISSING_LEADER_KEY);
  return leader;
}

/** Rewrites the leader's value if its key still has create revision `rev`. */
async function proclaimAs(api: EtcdServerApi, key: Buffer, rev: bigint, lease: bigint, value: Buffer): Promise<pb.TxnResponse> {
  const resp = await api.txn({ compare: [createRevIs(key, rev)], success: [opPut(putOf(key, value, lease))], failure: [] });
  if (resp.succeeded !== true) throw notLeader();
  return resp;
}

/** Deletes the leader's key if it still has create revision `rev`. */
function resignAs(api: EtcdServerApi, key: Buffer, rev: bigint): Promise<pb.TxnResponse> {
  return api.txn({ compare: [createRevIs(key, rev)], success: [opDelete(deleteOf(key))], failure: [] });
}

/**
 * Joins election `req.name` with `req.value` and resolves once this candidate leads. A lease
 * that already campaigns keeps its place (its value is updated). When `signal` aborts the wait,
 * the candidacy is withdrawn.
 */
export async function campaign(api: EtcdServerApi, req: pb.CampaignRequest, signal: AbortSignal): Promise<pb.CampaignResponse> {
  const lease = await sessionLease(api, req.lease);
  const prefix = Buffer.concat([req.name, Buffer.from('/')]);
  const key = sessionKey(prefix, lease);
  const resp = await api.txn({
    compare: [createRevIs(key, 0n)],
    success: [opPut(putOf(key, req.value, lease))],
    failure: [opRange(rangeOf(key))],
  });
  let rev = int64(resp.header.revision);
  if (resp.succeeded !== true) {
    const kv = rangeKvs(resp, 0)[0];
    rev = int64(kv?.create_revision);
    if (!Buffer.from(kv?.value ?? Buffer.alloc(0)).equals(req.value)) {
      try {
        await proclaimAs(api, key, rev, lease, req.value);
      } catch (e) {
        await resignAs(api, key, rev).catch(() => undefined);
        throw e;
      }
    }
  }
  try {
    await waitDeletes(api, prefix, rev - 1n, signal);
  } catch (e) {
    // Only a caller that gave up withdraws; after another failure the key stays (as etcd).
    if (signal.aborted) await resignAs(api, key, rev).catch(() => undefined);
    throw e;
  }
  // The header is the join's, as etcd answers.
  return { header: resp.header, leader: { name: req.name, key, rev: rev.toString(), lease: lease.toString() } };
}

/** Sets the leader's value; "election: not leader" once the key is gone or replaced. */
export async function proclaim(api: EtcdServerApi, req: pb.ProclaimRequest): Promise<pb.ProclaimResponse> {
  const leader = leaderKeyOf(req.leader);
  const lease = await sessionLease(api, leader.lease);
  const resp = await proclaimAs(api, leader.key, BigInt(leader.rev), lease, req.value);
  return { header: resp.header };
}

/** Gives up leadership: deletes the leader's key if it is still the one named. */
export async function resign(api: EtcdServerApi, req: pb.ResignRequest): Promise<pb.ResignResponse> {
  const leader = leaderKeyOf(req.leader);
  const resp = await resignAs(api, leader.key, BigInt(leader.rev));
  return { header: resp.header };
}

/** The current leader's key-value; "election: no leader" when nobody campaigns. */
export async function leader(api: EtcdServerApi, req: pb.LeaderRequest): Promise<pb.LeaderResponse> {
  const resp = await api.range(firstCreated(Buffer.concat([req.name, Buffer.from('/')])));
  const kv = resp.kvs?.[0];
  if (kv === undefined) throw new FloeError('ERR_ELECTION_NO_LEADER', ELECTION_ERRORS.NO_LEADER);
  return { header: resp.header, kv };
}

/**
 * Streams the leader of `req.name` to `send` until `signal` aborts: the leader on start (or
 * the first candidate to appear), each value it proclaims, then its successor once its key is
 * deleted. Resolves when aborted or when a watch fails (etcd then ends the stream with OK).
 * `send` returns a promise when the consumer wants the next message held back.
 */
export async function observe(
  api: EtcdServerApi,
  req: pb.LeaderRequest,
  signal: AbortSignal,
  send: (resp: pb.LeaderResponse) => Promise<void> | void,
): Promise<void> {
  const prefix = Buffer.concat([req.name, Buffer.from('/')]);
  try {
    while (!signal.aborted) {
      const first = await api.range(firstCreated(prefix));
      let header = first.header;
      let kv = first.kvs?.[0];
      if (kv === undefined) {
        // Nobody leads: wait for the first put under the prefix (deletes would only loop).
        const w = new WatchQueue(api, watchOf(prefix, int64(first.header.revision), prefixEnd(prefix)));
        try {
          while (kv === undefined) {
            const wr = await w.next(signal);
            const put = wr.events!.find((ev) => (ev.type ?? EventType.PUT) === EventType.PUT);
            if (put !== undefined) {
              kv = put.kv;
              header = { ...wr.header, revision: put.kv.mod_revision ?? 0 };
            }
          }
        } finally {
          w.close();
        }
      }
      await send({ header, kv });
      // Follow this leader's key until it is deleted.
      const w = new WatchQueue(api, watchOf(Buffer.from(kv.key), int64(header.revision) + 1n));
      try {
        let deleted = false;
        while (!deleted) {
          const wr = await w.next(signal);
          for (const ev of wr.events!) {
            if ((ev.type ?? EventType.PUT) === EventType.DELETE) {
              deleted = true;
              break;
            }
            await send({ header: wr.header, kv: ev.kv });
          }
        }
      } finally {
        w.close();
      }
    }
  } catch (e) {
    // Cancelled, or a failed read or watch: the stream ends with OK, as etcd's observer does.
    if (e instanceof FloeError) return;
    throw e;
  }
}
