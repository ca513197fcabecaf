/**
 * Compatibility with real etcd 3.4 on this machine (etcd, etcdctl): Floe reads the WAL and
 * snapshot files that `etcdctl snapshot restore` and a running etcd write, re-encodes them to
 * the same bytes, and etcd starts from data dirs whose files Floe wrote.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeConfChange } from '../raft/codec';
import type { Entry } from '../raft/types';
import { runEtcdctl } from '../../test/compat/etcdctl';
import { etcdCommand, pickFreePorts, startServer, type RunningServer } from '../../test/compat/server';
import { memberLayout } from './layout';
import {
  decodeEntry,
  decodeHardState,
  decodeMemberMetadata,
  decodeWalSnapshot,
  encodeHardState,
  encodeMemberMetadata,
  encodeWalSnapshot,
} from './raftpb-codec';
import { RECORD_CRC, RECORD_ENTRY, RECORD_METADATA, RECORD_SNAPSHOT, RECORD_STATE, RecordWriter } from './record';
import { decodeSnapFile, encodeSnapFile, Snapshotter } from './snapshotter';
import { dumpSegments, tempDir } from './test-util';
import { MIN_SEGMENT_SIZE_BYTES, SEGMENT_SIZE_BYTES, WAL } from './wal';

async function etcdctl(server: RunningServer, args: string[]): Promise<string> {
  const r = await runEtcdctl(args, { endpoint: server.endpoint });
  assert.equal(r.exitCode, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString('utf8');
}

async function start(dataDir: string, root: string, ports?: { client: number; peer: number }): Promise<RunningServer> {
  return startServer(etcdCommand(), {
    name: 'm1',
    dataDir,
    logFile: path.join(root, `${path.basename(dataDir)}.log`),
    ...(ports === undefined ? {} : { ports }),
  });
}

/**
 * Re-encodes every record of each segment in `walDir` with Floe's encoders (from the decoded
 * values, not the raw bytes) and checks the result is the file's bytes, then zeros.
 */
async function assertReencodesExactly(walDir: string): Promise<void> {
  const segs = await dumpSegments(walDir);
  let crc = 0;
  for (const seg of segs) {
    const w = new RecordWriter(crc);
    for (const r of seg.records) {
      switch (r.type) {
        case RECORD_CRC:
          w.appendCrc();
          break;
        case RECORD_ENTRY:
          w.appendEntry(decodeEntry(r.data));
          break;
        case RECORD_STATE:
          w.append(RECORD_STATE, encodeHardState(decodeHardState(r.data)));
          break;
        case RECORD_METADATA:
          w.append(RECORD_METADATA, encodeMemberMetadata(decodeMemberMetadata(r.data)));
          break;
        case RECORD_SNAPSHOT:
          w.append(RECORD_SNAPSHOT, encodeWalSnapshot(decodeWalSnapshot(r.data)));
          break;
        default:
          assert.fail(`unexpected record type ${r.type} in ${seg.name}`);
      }
    }
    crc = w.crc;
    const file = fs.readFileSync(path.join(walDir, seg.name));
    const ours = w.take();
    assert.equal(ours.length, seg.endOffset);
    assert.ok(ours.equals(file.subarray(0, ours.length)), `${seg.name}: Floe's encoding differs from etcd's bytes`);
    assert.ok(file.subarray(ours.length).every((b) => b === 0), `${seg.name}: zeros after the last record`);
  }
}

describe('etcd 3.4 on-disk compatibility', () => {
  it('reads what `etcdctl snapshot restore` wrote, byte for byte, and etcd starts from Floe-written copies', async () => {
    const { dir: root, cleanup } = tempDir('floe-wal-etcd-');
    const servers: RunningServer[] = [];
    try {
      // 1. A real etcd with a few keys, and a snapshot of it.
      const source = await start(path.join(root, 'source'), root);
      servers.push(source);
      for (let i = 0; i < 5; i++) await etcdctl(source, ['put', `key${i}`, `value${i}`]);
      const snapshotDb = path.join(root, 'snapshot.db');
      await etcdctl(source, ['snapshot', 'save', snapshotDb]);
      await source.stop();

      // 2. etcd's own restore.
      const [peer, client] = await pickFreePorts(2);
      const peerUrl = `http://127.0.0.1:${peer}`;
      const restored = path.join(root, 'restored');
      const r = await runEtcdctl([
        'snapshot', 'restore', snapshotDb, '--data-dir', restored, '--name', 'm1',
        '--initial-cluster', `m1=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const layout = memberLayout(restored);

      // 3. The WAL: metadata, the conf change adding the member, the hard state committing it.
      const ro = await WAL.openForRead(layout.walDir, { index: 0, term: 0 });
      const all = await ro.readAll();
      await ro.close();
      const { nodeId, clusterId } = decodeMemberMetadata(all.metadata);
      assert.notEqual(nodeId, 0n);
      assert.notEqual(clusterId, 0n);
      assert.equal(all.entries.length, 1);
      const [e] = all.entries as [Entry];
      assert.deepEqual([e.index, e.term, e.type], [1, 1, 'EntryConfChange']);
      const cc = decodeConfChange(e.data);
      assert.equal(cc.type, 'ConfChangeAddNode');
      assert.equal(cc.nodeId, nodeId);
      const context = Buffer.from(cc.context).toString('utf8');
      assert.match(context, new RegExp(`^\\{"id":${nodeId},"peerURLs":\\["${peerUrl.replace(/[.:/]/g, '\\$&')}"\\],"name":"m1"\\}$`));
      assert.deepEqual(all.hardState, { term: 1, vote: nodeId, commit: 1 });
      assert.deepEqual(await WAL.validSnapshotEntries(layout.walDir), [
        { index: 0, term: 0 },
        { index: 1, term: 1 },
      ]);
      await assertReencodesExactly(layout.walDir);

      // Opened for writing at the restored snapshot: nothing after it, same hard state.
      const rw = await WAL.open(layout.walDir, { index: 1, term: 1 });
      const after = await rw.readAll();
      await rw.close();
      assert.deepEqual(after.entries, []);
      assert.deepEqual(after.hardState, all.hardState);

      // 4. The snapshot file: voters = the member, index/term 1, v2 store JSON as data.
      const snapshotter = new Snapshotter(layout.snapDir);
      const snap = await snapshotter.load();
      assert.deepEqual(snap.metadata, {
        index: 1,
        term: 1,
        confState: { voters: [nodeId], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      });
      assert.match(Buffer.from(snap.data).toString('utf8'), /"\/0\/members"/);
      const snapFiles = (await snapshotter.snapNames()).map((n) => path.join(layout.snapDir, n));
      assert.equal(snapFiles.length, 1);
      const snapBytes = fs.readFileSync(snapFiles[0]!);
      assert.ok(Buffer.from(encodeSnapFile(decodeSnapFile(snapBytes, 'restored'))).equals(snapBytes), '.snap re-encodes to the same bytes');

      // 5. Floe writes the same data dir the way restore does: the files are byte-identical.
      const copyDir = path.join(root, 'floe-written');
      const copy = memberLayout(copyDir);
      fs.mkdirSync(copy.snapDir, { recursive: true });
      const w = await WAL.create(copy.walDir, all.metadata);
      await w.save(all.hardState, all.entries);
      await new Snapshotter(copy.snapDir).saveSnap(snap);
      await w.saveSnapshot({ index: 1, term: 1 });
      await w.close();
      fs.copyFileSync(layout.backendPath, copy.backendPath);
      const walName0 = '0000000000000000-0000000000000000.wal';
      const etcdWal = fs.readFileSync(path.join(layout.walDir, walName0));
      const floeWal = fs.readFileSync(path.join(copy.walDir, walName0));
      assert.equal(floeWal.length, SEGMENT_SIZE_BYTES);
      assert.ok(floeWal.equals(etcdWal), 'Floe wrote the same WAL bytes as etcdctl snapshot restore');
      assert.deepEqual(fs.readdirSync(copy.walDir), [walName0], 'no temporary files left behind');
      assert.ok(fs.readFileSync(path.join(copy.snapDir, path.basename(snapFiles[0]!))).equals(snapBytes));

      // 6. etcd starts from the Floe-written copy and serves the keys; afterwards Floe reads
      //    the records etcd appended to Floe's segment.
      const fromFloe = await start(copyDir, root, { client: client!, peer: peer! });
      servers.push(fromFloe);
      assert.equal(await etcdctl(fromFloe, ['get', 'key3', '--print-value-only']), 'value3\n');
      await etcdctl(fromFloe, ['put', 'after', 'floe']);
      await fromFloe.stop();
      const back = await WAL.openForRead(copy.walDir, { index: 1, term: 1 });
      const grown = await back.readAll();
      await back.close();
      assert.ok(grown.entries.length >= 2, 'etcd appended its election entry and the put');
      assert.ok(grown.hardState.term >= 2 && grown.hardState.commit >= grown.entries[grown.entries.length - 1]!.index - 1);
    } finally {
      for (const s of servers) await s.stop();
      cleanup();
    }
  });

  it('reads a data dir a running etcd wrote, and etcd reads entries Floe appended, across Floe-cut segments', async () => {
    const { dir: root, cleanup } = tempDir('floe-wal-etcd-');
    const servers: RunningServer[] = [];
    try {
      const dataDir = path.join(root, 'live');
      const etcd = await start(dataDir, root);
      servers.push(etcd);
      for (let i = 0; i < 10; i++) await etcdctl(etcd, ['put', `k${String(i).padStart(2, '0')}`, `v${i}`]);
      await etcd.stop();

      const layout = memberLayout(dataDir);
      await assertReencodesExactly(layout.walDir);
      const ro = await WAL.openForRead(layout.walDir, { index: 0, term: 0 });
      const got = await ro.readAll();
      await ro.close();
      const { nodeId } = decodeMemberMetadata(got.metadata);
      assert.equal(got.entries[0]!.type, 'EntryConfChange');
      assert.equal(decodeConfChange(got.entries[0]!.data).nodeId, nodeId);
      const normal = got.entries.filter((e) => e.type === 'EntryNormal' && e.data.length > 0);
      assert.ok(normal.length >= 10, `the puts are entries (${normal.length})`);
      const lastIndex = got.entries[got.entries.length - 1]!.index;
      assert.ok(got.hardState.commit >= lastIndex - 1 && got.hardState.vote === nodeId);

      // Floe appends no-op entries (empty EntryNormal, which etcd applies as nothing) in small
      // segments, so etcd must read Floe's cuts and crc chain too.
      const w = await WAL.open(layout.walDir, { index: 0, term: 0 }, { segmentSizeBytes: MIN_SEGMENT_SIZE_BYTES });
      await w.readAll();
      const term = got.hardState.term;
      const extra = 400;
      for (let i = 1; i <= extra; i += 20) {
        const batch: Entry[] = [];
        for (let j = i; j < i + 20; j++) batch.push({ term, index: lastIndex + j, type: 'EntryNormal', data: new Uint8Array(0) });
        await w.save({ term, vote: nodeId, commit: lastIndex + i + 19 }, batch);
      }
      await w.close();
      const segments = fs.readdirSync(layout.walDir).filter((n) => n.endsWith('.wal'));
      assert.ok(segments.length >= 3, `Floe cut new segments (${segments.length})`);

      const again = await start(dataDir, root, { client: etcd.clientPort, peer: etcd.peerPort });
      servers.push(again);
      const status = JSON.parse(await etcdctl(again, ['endpoint', 'status', '-w', 'json'])) as Array<{ Status: { raftIndex: number } }>;
      assert.ok(status[0]!.Status.raftIndex >= lastIndex + extra, `etcd replayed Floe's entries (raft index ${status[0]!.Status.raftIndex})`);
      assert.equal(await etcdctl(again, ['get', 'k07', '--print-value-only']), 'v7\n');
      await again.stop();

      const final = await WAL.openForRead(layout.walDir, { index: 0, term: 0 });
      const all = await final.readAll();
      await final.close();
      assert.ok(all.entries.length > got.entries.length + extra, 'etcd appended after Floe and Floe reads it');
    } finally {
      for (const s of servers) await s.stop();
      cleanup();
    }
  });
});
