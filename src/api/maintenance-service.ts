/**
 * etcdserverpb.Maintenance: Status, Hash, HashKV, Defragment, Alarm, MoveLeader, and the
 * Snapshot stream.
 *
 * Response shapes follow etcd's v3rpc/maintenance.go: Status, Hash and HashKV get the filled
 * header (Hash and HashKV keep the revision they were computed at); Defragment and MoveLeader
 * answer an empty message, and Alarm only its alarms: etcd sends none of the three with a
 * header (its applier builds a bare AlarmResponse), so the member's header is dropped here.
 *
 * Snapshot: the member's SnapshotStream yields the backend file in chunks, then the sha256 of
 * everything before it. Each data chunk goes out as {remaining_bytes: bytes still to come,
 * blob}; the checksum goes last with remaining_bytes 0, which is where `etcdctl snapshot save`
 * and `snapshot restore` expect it. The stream respects backpressure: the next chunk is read
 * from the member only once the client has room.
 */
import type * as grpc from '@grpc/grpc-js';
import { assert, AssertionError } from '../pkg';
import type { MaintenanceHandlers } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi, SnapshotStream } from '../server';
import { fillHeader, toGrpcError, unary } from './call';

/** Length of the trailing checksum (sha256). */
export const SNAPSHOT_CHECKSUM_BYTES = 32;

/** The Maintenance service's handlers over the member. */
export function maintenanceHandlers(api: EtcdServerApi): MaintenanceHandlers {
  return {
    Status: unary(async () => fillHeader(api, await api.status())),
    Hash: unary(async () => fillHeader(api, await api.hash())),
    HashKV: unary(async (req) => fillHeader(api, await api.hashKV(req))),
    Defragment: unary(async () => {
      await api.defragment();
      return withoutHeader<pb.DefragmentResponse>();
    }),
    MoveLeader: unary(async (req) => {
      await api.moveLeader(req);
      return withoutHeader<pb.MoveLeaderResponse>();
    }),
    Alarm: unary(async (req) => {
      const resp = await api.alarm(req);
      return { ...withoutHeader<pb.AlarmResponse>(), alarms: resp.alarms };
    }),
    Snapshot: (call) => {
      void streamSnapshot(call, api);
    },
  };
}

/** etcd answers Defragment, MoveLeader (and Alarm) without a header on the wire. */
function withoutHeader<T extends { header: pb.ResponseHeader }>(): T {
  return {} as T;
}

type SnapshotCall = grpc.ServerWritableStream<pb.SnapshotRequest, pb.SnapshotResponse>;

async function streamSnapshot(call: SnapshotCall, api: EtcdServerApi): Promise<void> {
  let gone = false;
  const onGone = (): void => {
    gone = true;
  };
  call.on('cancelled', onGone);
  call.on('close', onGone);
  try {
    const snap = await api.snapshot();
    if (gone) return;
    await sendChunks(call, snap, () => gone);
    if (!gone) call.end();
  } catch (e) {
    if (e instanceof AssertionError) throw e;
    if (!gone) call.emit('error', toGrpcError(e));
  }
}

async function sendChunks(call: SnapshotCall, snap: SnapshotStream, isGone: () => boolean): Promise<void> {
  const total = snap.sizeBytes;
  let sent = 0;
  let checksumSent = false;
  // Leaving the loop early (client gone) returns the iterator, so the member can release
  // whatever read transaction backs the stream.
  for await (const chunk of snap.chunks()) {
    if (isGone()) return;
    let resp: pb.SnapshotResponse;
    if (sent < total) {
      sent += chunk.length;
      assert(sent <= total, () => `snapshot stream gave ${sent} bytes, announced ${total}`);
      // Zero-valued fields stay unset, as etcd encodes them.
      resp = { remaining_bytes: total - sent === 0 ? undefined : total - sent, blob: chunk };
    } else {
      assert(!checksumSent && chunk.length === SNAPSHOT_CHECKSUM_BYTES, 'snapshot stream: one sha256 after the data');
      checksumSent = true;
      resp = { blob: chunk };
    }
    if (!call.write(resp)) await roomOrGone(call);
  }
  if (isGone()) return;
  assert(sent === total && checksumSent, () => `snapshot stream ended after ${sent} of ${total} bytes, checksum sent: ${checksumSent}`);
}

/** Resolves when the stream can take more, or is gone. */
function roomOrGone(call: SnapshotCall): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}
