/**
 * One etcd member: the layers wired together and driven by the ready loop (design.md §3).
 *
 * Data path of a write: the request is encoded as etcd's InternalRaftRequest and proposed;
 * the ready loop takes each Ready and, strictly in this order,
 *   1. appends its entries and hard state to the WAL with one fdatasync (async: the event
 *      loop goes on and proposals made meanwhile gather in the next Ready),
 *   2. hands messages to the transport (none while the member is alone; the seam stays),
 *   3. applies the committed entries through MVCC and the lessor in the backend batch, the
 *      consistent index in the same batch, and answers each waiting request by its id
 *      (committed entries that an earlier Ready already saved are applied before step 1,
 *      while its fdatasync runs),
 *   4. answers read-index requests whose index is now applied, then advance().
 * So a write is answered only once its entry is durable and applied. Linearizable reads get a
 * read index from raft (one round serves every reader that arrived before it started) and run
 * once the applied index reaches it; serializable reads go straight to MVCC.
 *
 * Restart replays only the entries after the backend's consistent index (design.md §3 step 5).
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as fsp from 'node:fs/promises';
import { DB, BatchTx } from '../backend';
import { copyDb } from '../backend/write-to';
import { assert, failpoint, FloeError, isFloeError, plantedBug } from '../pkg';
import {
  RawNode,
  MemoryStorage,
  EMPTY_HARD_STATE,
  decodeConfChange,
  decodeConfChangeV2,
  type ConfState,
  type Entry,
  type Ready,
  type Snapshot,
  type SoftState,
  type AnyConfChange,
  type Message,
} from '../raft';
import { WAL, Snapshotter, ERR_SNAP_NO_SNAPSHOT, memberLayout, encodeMemberMetadata, decodeMemberMetadata, type WalMetrics } from '../wal';
import { Lessor, LeaseIdGenerator, DEFAULT_EXPIRED_BATCH, FOREVER_TTL_SEC } from '../lease';
import { WatchableStore } from '../mvcc/watchable-store';
import { META_BUCKET, CONSISTENT_INDEX_KEY, encodeConsistentIndex } from '../mvcc/schema';
import type * as pb from '../etcdpb/messages';
import type { EtcdServerApi, SnapshotStream, WatchStream } from './contract';
import { resolveMemberConfig, effectiveQuotaBytes, autoCompactionRetention, requestTimeoutMs, type MemberConfig } from './config';
import { fetchRemoteCluster, findSelf } from './join';
import type { PeerFactory, PeerHandler, Peers } from './peers';
import { rafthttpPeers } from './peers-rafthttp';
import { leaseRoutes, postLease, type LeaseTtl } from './lease-forward';
import { recoverSnapshotBackend } from './recover-backend';
import { computeClusterId, computeMemberId, idHex, parseInitialCluster } from './ids';
import { Membership, CLUSTER_VERSION, encodeMemberJson, decodeMemberJson, membersFromV2Store, type MemberInfo } from './membership';
import { AlarmStore } from './alarms';
import { openMemberState, closeMemberState, type MemberState } from './member-state';
import { encodeRaftRequest, decodeRaftRequest, decodeV2Request, type RaftRequest, type RaftRequestIn, type V2Request } from './raft-request';
import {
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxnRead,
  applyTxnWrite,
  fillTxnHeaders,
  int64,
  isTxnReadonly,
  wireInt,
} from './apply-kv';
import { rangeInSlices } from './range-sliced';
import { RangeOffload } from './range-offload';
import { MemberWatchStream } from './watch';
import { newTokenProvider, currentIdentity, type TokenProvider } from '../auth';
import { MemberAuth, CheckedWatchStream, bcryptCostOf } from './auth-state';
import { applyAuth } from './apply-auth';
import { countDelete, countPut, countRange, countTxn, PeerProber, PeerTraffic, type EtcdMetrics } from '../metrics';

/** The server version Status reports. */
/**
 * The etcd server version Floe reports (Status, /version): the etcd release whose API and
 * behaviour it matches, so clients and tools that parse the version treat it as that etcd.
 */
export const SERVER_VERSION = '3.4.23';
/** etcd's lease expiry check period on the leader. */
const LEASE_EXPIRY_CHECK_MS = 500;
/** etcd's quota cost of a put beyond its key and value (etcdserver/quota.go kvOverhead). */
const KV_OVERHEAD_BYTES = 256;
/** etcd's quota cost of a lease grant (leaseOverhead). */
const LEASE_OVERHEAD_BYTES = 64;
/** etcd's revision compactor period. */
const REVISION_COMPACTOR_PERIOD_MS = 5 * 60 * 1000;
/** Most that raft hands out per Ready for applying (etcd's MaxCommittedSizePerReady default is MaxSizePerMsg-based). */
const MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;
const MAX_INFLIGHT_MSGS = 4096 / 8;
/** How late the ack-before-wal-fsync planted bug writes WAL records. */
const PLANTED_WAL_DELAY_MS = 500;
/** etcd's maxLearners: at most one learner in the cluster. */
const MAX_LEARNERS = 1;
/** etcd's readyPercent: a learner is promotable once it matched this much of the leader's log. */
const LEARNER_READY_FRACTION = 0.9;
/** etcd's warnApplyDuration: an apply slower than this counts in etcd_server_slow_apply_total. */
const SLOW_APPLY_MS = 100;
/** etcd's HealthInterval: how long a peer must have been connected to count as healthy. */
const HEALTH_INTERVAL_MS = 5000;

/** The WAL's share of the member's metrics. */
function walMetrics(m: EtcdMetrics): WalMetrics {
  return { fsyncSeconds: m.disk.walFsyncSeconds, writeBytes: m.disk.walWriteBytes };
}

/** What an applied request produced: a response, or an operating error, plus compaction's wait. */
interface ApplyResult {
  readonly resp?: unknown;
  readonly err?: FloeError;
  readonly physical?: Promise<void>;
}

interface Waiter {
  resolve(r: ApplyResult): void;
  reject(e: unknown): void;
  /** When the proposal fails with etcd's timeout error (sweepWaiters). */
  readonly deadline: number;
  /** The leader when it was proposed: a timeout after a change names the leader's failure. */
  readonly leadAtStart: bigint;
}

/** How often proposals and reads past their deadline are failed (their timeout's granularity). */
const DEADLINE_SWEEP_MS = 50;

/** A linearizable read waiting for its read index to be applied; settles once. */
class ReadWaiter {
  settled = false;

  constructor(
    /** When it fails with etcd's timeout error (sweepReads). */
    readonly deadline: number,
    private readonly onResolve: () => void,
    private readonly onReject: (e: unknown) => void,
  ) {}

  resolve(): void {
    if (this.settled) return;
    this.settled = true;
    this.onResolve();
  }

  reject(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onReject(e);
  }
}

/** A running member: the contract the API layer serves, plus its life cycle. */
export interface Member extends EtcdServerApi {
  /** Settles once this member leads, has applied its bootstrap entries and published itself. */
  readonly ready: Promise<void>;
  /** Stops accepting requests, drains those in flight, flushes the batch, closes WAL and backend. */
  close(): Promise<void>;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The resolved settings. */
  readonly config: MemberConfig;
  /** Index of the last applied entry (tests and status). */
  readonly appliedIndex: number;
  /** The cluster version ('3.4.0') once decided, else null (/version reports it). */
  readonly clusterVersion: string | null;
}

function stopped(): FloeError {
  return new FloeError('ERR_STOPPED', 'etcdserver: server stopped');
}

function opError(code: string, message: string): FloeError {
  return new FloeError(code, message);
}

/**
 * Starts a member on `config.dataDir`: bootstraps a new one or restarts from the WAL and the
 * backend. Resolves once the member runs; `ready` says when it serves.
 */
export async function startMember(config: Partial<MemberConfig>, peerFactory: PeerFactory | null = defaultPeerFactory): Promise<Member> {
  const cfg = resolveMemberConfig(config);
  return EtcdMember.open(cfg, peerFactory);
}

/** The transport members use unless told otherwise: HTTP between processes. */
const defaultPeerFactory: PeerFactory = rafthttpPeers;

class EtcdMember implements Member {
  readonly limits: { readonly maxRequestBytes: number; readonly maxTxnOps: number };
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;

  private term = 0;
  private lead = 0n;
  private applied: number;
  private snapshotIndex: number;
  private confState: ConfState;
  private readonly waiters = new Map<bigint, Waiter>();
  private deadlineSweep: NodeJS.Timeout | null = null;
  private readWaiters: ReadWaiter[] = [];
  private readInFlight: { ctx: string; waiters: ReadWaiter[]; startedMs: number } | null = null;
  private readonly pendingReads: { index: number; waiters: ReadWaiter[] }[] = [];
  private leaderWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  private inReady = false;
  private readyIdle: Promise<void> = Promise.resolve();
  private closing = false;
  private closed = false;
  private failure: unknown = null;
  private published = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly reqIds: LeaseIdGenerator;
  private readonly quotaBytes: number;
  private compactSamples: { atMs: number; rev: number }[] = [];
  private lastAutoCompactRev = 0;
  /** The Auth service and the caller identity checks (auth-state.ts). */
  readonly auth: MemberAuth;
  private readonly bcryptCost: number;

  private constructor(
    readonly config: MemberConfig,
    private st: MemberState,
    private readonly wal: WAL,
    private readonly snapshotter: Snapshotter,
    private readonly storage: MemoryStorage,
    private readonly raw: RawNode,
    readonly memberId: bigint,
    readonly clusterId: bigint,
    start: { applied: number; confState: ConfState },
    private readonly tokens: TokenProvider,
  ) {
    this.bcryptCost = bcryptCostOf(config);
    this.auth = new MemberAuth({
      store: () => this.st.auth,
      tokens,
      bcryptCost: this.bcryptCost,
      propose: (r) => this.propose(r),
      linearizable: () => this.linearizable(),
      appliedIndex: () => this.applied,
      requestTimeoutMs: requestTimeoutMs(config),
    });
    this.limits = { maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps };
    this.applied = start.applied;
    this.snapshotIndex = start.applied;
    this.confState = start.confState;
    this.reqIds = new LeaseIdGenerator(memberId, Date.now());
    this.quotaBytes = effectiveQuotaBytes(config);
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get clusterVersion(): string | null {
    return this.membership.clusterVersion;
  }

  get hasLeader(): boolean {
    return this.lead !== 0n;
  }

  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner === true;
  }

  private get metrics(): EtcdMetrics {
    return this.config.metrics;
  }

  // The backend-backed state, swapped whole when a snapshot from the leader is installed.
  private get db(): DB {
    return this.st.db;
  }
  private get batch(): BatchTx {
    return this.st.batch;
  }
  private get store(): WatchableStore {
    return this.st.store;
  }
  private get lessor(): Lessor {
    return this.st.lessor;
  }
  private get membership(): Membership {
    return this.st.membership;
  }
  private get alarms(): AlarmStore {
    return this.st.alarms;
  }

  /** Opens the files, bootstraps or restarts raft, and starts the loops. */
  static async open(cfg: MemberConfig, peerFactory: PeerFactory | null): Promise<EtcdMember> {
    const layout = memberLayout(cfg.dataDir);
    await fsp.mkdir(layout.snapDir, { recursive: true, mode: 0o700 });
    const haveWal = await WAL.exists(layout.walDir);
    // A member joining a running cluster learns its id, the cluster id and the members from a
    // peer before it writes anything.
    const remote =
      !haveWal && cfg.initialClusterState === 'existing'
        ? await fetchRemoteCluster(
            parseInitialCluster(cfg.initialCluster)
              .filter((m) => m.name !== cfg.name)
              .flatMap((m) => m.peerUrls),
            undefined,
            cfg.peerTls,
          )
        : null;

    // On restart: the newest raft snapshot the WAL names, read once (recovery and raft need it).
    const snapshotter = new Snapshotter(layout.snapDir);
    let snap: Snapshot | null = null;
    if (haveWal) {
      // Only "no snapshot" means starting from the WAL's beginning; any other error (a WAL
      // that cannot be read) must stop the start, not silently drop the snapshot.
      const walSnaps = await WAL.validSnapshotEntries(layout.walDir);
      try {
        snap = await snapshotter.loadNewestAvailable(walSnaps);
      } catch (e) {
        if (!isFloeError(e, ERR_SNAP_NO_SNAPSHOT)) throw e;
      }
      if (snap !== null) await recoverSnapshotBackend(layout, snapshotter, snap.metadata.index, cfg.logger);
    }
    const tokens = newTokenProvider({ authToken: cfg.authToken, ttlSec: cfg.authTokenTtlSec });
    const st = openMemberState(cfg, layout.backendPath, tokens);
    const { batch, store, membership } = st;
    try {
      const storage = new MemoryStorage();
      const raftBase = {
        electionTick: Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs)),
        heartbeatTick: 1,
        storage,
        maxSizePerMsgBytes: MAX_SIZE_PER_MSG_BYTES,
        maxInflightMsgs: MAX_INFLIGHT_MSGS,
        preVote: true,
        checkQuorum: true,
        rng: (bound: number) => randomInt(bound),
      };
      let wal: WAL;
      let raw: RawNode;
      let memberId: bigint;
      let clusterId: bigint;
      let start: { applied: number; confState: ConfState };
      // The members the transport talks to from the start (a new cluster's are in raft's
      // bootstrap entries, not yet applied to membership).
      let initialPeers: readonly MemberInfo[] = membership.list();
      if (remote !== null) {
        const self = findSelf(remote, cfg.initialAdvertisePeerUrls);
        memberId = self.id;
        clusterId = remote.clusterId;
        for (const m of remote.members) membership.save(m.id === memberId ? { ...m, name: cfg.name } : m);
        batch.commit();
        wal = await WAL.create(layout.walDir, encodeMemberMetadata({ nodeId: memberId, clusterId }), { unsafeNoSync: cfg.unsafeNoFsync, metrics: walMetrics(cfg.metrics), ...walSegmentSize(cfg) });
        // No bootstrap entries: the leader sends this member its log (or a snapshot).
        raw = new RawNode({ ...raftBase, id: memberId, applied: 0 });
        start = { applied: 0, confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } };
      } else if (!haveWal) {
        const initial = parseInitialCluster(cfg.initialCluster);
        const members: MemberInfo[] = initial.map((m) => ({
          id: computeMemberId(m.peerUrls, cfg.initialClusterToken),
          name: m.name,
          peerUrls: m.peerUrls,
          clientUrls: [],
          isLearner: false,
        }));
        const self = members.find((m) => m.name === cfg.name);
        if (self === undefined) throw opError('ERR_BAD_CONFIG', `couldn't find local name "${cfg.name}" in the initial cluster configuration`);
        const advertised = [...cfg.initialAdvertisePeerUrls].sort().join(',');
        if ([...self.peerUrls].sort().join(',') !== advertised) {
          throw opError(
            'ERR_BAD_CONFIG',
            `--initial-cluster has ${cfg.name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${cfg.initialAdvertisePeerUrls.join(',')}`,
          );
        }
        memberId = self.id;
        clusterId = computeClusterId(members.map((m) => m.id));
        wal = await WAL.create(layout.walDir, encodeMemberMetadata({ nodeId: memberId, clusterId }), { unsafeNoSync: cfg.unsafeNoFsync, metrics: walMetrics(cfg.metrics), ...walSegmentSize(cfg) });
        raw = new RawNode({ ...raftBase, id: memberId, applied: 0 });
        const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
        raw.bootstrap(sorted.map((m) => ({ id: m.id, context: Buffer.from(encodeMemberJson(m)) })));
        initialPeers = members;
        start = { applied: 0, confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } };
      } else {
        wal = await WAL.open(layout.walDir, snap === null ? { index: 0, term: 0 } : { index: snap.metadata.index, term: snap.metadata.term }, {
          unsafeNoSync: cfg.unsafeNoFsync, metrics: walMetrics(cfg.metrics), ...walSegmentSize(cfg),
        });
        const contents = await wal.readAll();
        const meta = decodeMemberMetadata(contents.metadata);
        memberId = meta.nodeId;
        clusterId = meta.clusterId;
        if (snap !== null) storage.applySnapshot(snap);
        storage.setHardState(contents.hardState);
        storage.append(contents.entries);
        if (snap !== null && membership.size === 0) {
          // A backend from `etcdctl snapshot restore` has no members: they are in the raft
          // snapshot's v2 store.
          for (const m of membersFromV2Store(snap.data)) membership.save(m);
        }
        if (membership.get(memberId) === undefined && snap !== null) {
          membership.save({ id: memberId, name: cfg.name, peerUrls: [...cfg.initialAdvertisePeerUrls], clientUrls: [], isLearner: false });
        }
        batch.commit();
        const applied = snap === null ? 0 : snap.metadata.index;
        raw = new RawNode({ ...raftBase, id: memberId, applied });
        start = {
          applied,
          confState: snap === null ? { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } : snap.metadata.confState,
        };
        if (store.consistentIndex < applied) {
          throw opError('ERR_BAD_DATA_DIR', `backend consistent index ${store.consistentIndex} is behind the raft snapshot at ${applied}`);
        }
      }
      if (membership.isRemoved(memberId)) {
        await wal.close();
        throw opError('ERR_MEMBER_REMOVED', 'the member has been permanently removed from the cluster');
      }
      const member = new EtcdMember(cfg, st, wal, snapshotter, storage, raw, memberId, clusterId, start, tokens);
      try {
        await member.startPeers(peerFactory, remote?.members ?? initialPeers);
      } catch (e) {
        await wal.close();
        throw e;
      }
      member.begin();
      return member;
    } catch (e) {
      st.db.close();
      throw e;
    }
  }

  // ---- life cycle ----

  private peers: Peers | null = null;
  /** Set once this member applied its own removal: it stops serving. */
  private removed = false;

  /**
   * Starts the peer transport and its listeners (before the first tick, so votes can flow),
   * and tells it every other member. A lone member with no peer URLs to listen on needs none.
   */
  async startPeers(factory: PeerFactory | null, initialPeers: readonly MemberInfo[]): Promise<void> {
    const others = initialPeers.filter((m) => m.id !== this.memberId);
    if (this.config.listenPeerUrls.length === 0 && others.length === 0) return;
    if (factory === null) {
      // Embedded without a transport: a lone member needs none.
      if (others.length === 0) return;
      throw opError('ERR_BAD_CONFIG', 'no peer transport: this build cannot run a member with peers');
    }
    const handler: PeerHandler = {
      process: (m) => this.stepPeerMessage(m),
      receiveSnapshot: (m, sizeBytes, body) => this.receiveSnapshot(m, sizeBytes, body),
      reportUnreachable: (id) => {
        if (!this.closed) this.raw.reportUnreachable(id);
      },
      reportSnapshot: (id, status) => {
        if (this.closed) return;
        this.raw.reportSnapshot(id, status);
        this.schedulePump();
      },
      onRemoved: () => this.onRemoved(),
      isRemoved: (id) => this.membership.isRemoved(id),
    };
    this.peers = await factory(
      { memberId: this.memberId, clusterId: this.clusterId, handler, logger: this.config.logger, tls: this.config.peerTls, metrics: new PeerTraffic(this.metrics.network) },
      this.config.listenPeerUrls,
      {
        membersJson: () => this.membership.toJson(),
        version: { etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION },
        routes: leaseRoutes({
          keepAlive: (id) => (this.lead === this.memberId ? this.renewLocal(id) : Promise.resolve(null)),
          timeToLive: (id, keys) => (this.lead === this.memberId ? this.timeToLiveLocal(id, keys) : Promise.resolve(null)),
        }),
      },
    );
    for (const m of others) this.peers.transport.addPeer(m.id, m.peerUrls);
    this.prober = new PeerProber(this.metrics.network.peerRoundTripSeconds, () => this.probeTargets());
  }

  /** Measures round-trip times to the peers (etcd_network_peer_round_trip_time_seconds). */
  private prober: PeerProber | null = null;

  /** The peers to probe: every other member that is not removed, by its first peer URL. */
  private probeTargets(): Map<string, string> {
    const out = new Map<string, string>();
    for (const m of this.membership.list()) if (m.id !== this.memberId && m.peerUrls.length > 0) out.set(idHex(m.id), m.peerUrls[0] as string);
    return out;
  }

  /** Makes the transport's peers the current members (after a conf change or a snapshot). */
  private syncPeers(): void {
    const t = this.peers?.transport;
    if (t === undefined) return;
    for (const m of this.membership.list()) if (m.id !== this.memberId) t.addPeer(m.id, m.peerUrls);
  }

  private stepPeerMessage(m: Message): void {
    if (this.closed || this.failure !== null) return;
    try {
      this.raw.step(m);
    } catch (e) {
      // A message from a peer raft does not know (yet) is dropped, as etcd's raft does.
      if (!isFloeError(e)) throw e;
      return;
    }
    this.schedulePump();
  }

  /** Stores the leader's backend file, then hands the snapshot message to raft. */
  private async receiveSnapshot(m: Message, sizeBytes: number, body: AsyncIterable<Buffer>): Promise<void> {
    if (this.closed || m.snapshot === null) throw stopped();
    const index = m.snapshot.metadata.index;
    this.config.logger.log('I', 'rafthttp', `receiving database snapshot [index:${index}, from ${idHex(m.from)}] (${sizeBytes} bytes)`);
    const saveStartMs = performance.now();
    const n = await this.snapshotter.saveDbFrom(body, index);
    this.metrics.disk.snapDbSaveSeconds.observe((performance.now() - saveStartMs) / 1000);
    if (n !== sizeBytes) throw opError('ERR_SNAPSHOT_TRUNCATED', `snapshot from ${idHex(m.from)}: got ${n} of ${sizeBytes} bytes`);
    this.config.logger.log('I', 'rafthttp', `received and saved database snapshot [index: ${index}, from: ${idHex(m.from)}] successfully`);
    this.stepPeerMessage(m);
  }

  /** A peer said this member was removed from the cluster. */
  private onRemoved(): void {
    if (this.removed || this.closing) return;
    this.removed = true;
    this.config.logger.log('W', 'etcdserver', 'the member has been permanently removed from the cluster');
    this.resolveDone('the member has been permanently removed from the cluster');
  }

  private resolveDone: (reason: string) => void = () => undefined;
  /** Settles when the member stops on its own (removed from the cluster, or a fatal error). */
  readonly done: Promise<string> = new Promise((resolve) => (this.resolveDone = resolve));

  private begin(): void {
    const cfg = this.config;
    this.metrics.server.id.labels(idHex(this.memberId)).set(1);
    this.metrics.server.version.labels(SERVER_VERSION).set(1);
    this.metrics.registry.onCollect(() => this.collectMetrics());
    if (this.membership.clusterVersion !== null) this.logClusterVersion(this.membership.clusterVersion);
    this.timers.push(setInterval(() => this.tick(), cfg.heartbeatMs));
    this.timers.push(setInterval(() => this.expireLeases(), LEASE_EXPIRY_CHECK_MS));
    this.startAutoCompaction();
    for (const t of this.timers) t.unref?.();
    this.campaignIfAlone();
    this.schedulePump();
  }

  /** Sets the gauges that mirror state, at scrape time (O(1) reads only). */
  private collectMetrics(): void {
    // Between closing the old backend and opening a leader's snapshot there is none to read.
    if (this.closed || !this.db.isOpen) return;
    const m = this.metrics;
    m.server.hasLeader.set(this.lead !== 0n ? 1 : 0);
    m.server.isLeader.set(this.lead === this.memberId ? 1 : 0);
    m.server.isLearner.set(this.isLearner ? 1 : 0);
    m.server.proposalsCommitted.set(this.raw.status().hardState.commit);
    m.server.proposalsApplied.set(this.applied);
    m.server.quotaBackendBytes.set(Number.isFinite(this.quotaBytes) ? this.quotaBytes : this.config.quotaBackendBytes);
    const cv = this.membership.clusterVersion;
    // etcd labels the cluster version as major.minor.
    if (cv !== null) m.server.clusterVersion.labels(cv.split('.').slice(0, 2).join('.')).set(1);
    m.mvcc.keysTotal.set(this.store.index.liveKeyCount);
    const w = this.store.watcherCounts();
    m.mvcc.watcherTotal.set(w.synced + w.unsynced + w.victims);
    m.mvcc.slowWatcherTotal.set(w.unsynced + w.victims);
    m.mvcc.watchStreamTotal.set(this.store.streamCount);
    m.mvcc.currentRevision.set(this.store.currentRevision);
    m.mvcc.compactRevision.set(this.store.compactRevision);
    const sizeBytes = this.db.fileSizeBytes;
    m.mvcc.dbTotalSizeBytes.set(sizeBytes);
    m.mvcc.debugDbTotalSizeBytes.set(sizeBytes);
    m.mvcc.dbTotalSizeInUseBytes.set(sizeBytes - this.db.freelistPageCount * this.db.pageSize);
    m.mvcc.openReadTransactions.set(this.db.openReadTxCount);
    m.server.authRevision.set(this.st.auth.revision);
    const t = this.peers?.transport;
    if (t !== undefined) {
      const local = idHex(this.memberId);
      for (const p of this.membership.list()) if (p.id !== this.memberId) m.network.activePeers.labels(local, idHex(p.id)).set(t.activeSince(p.id) === null ? 0 : 1);
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.raw.tick();
    this.startReadRound();
    this.schedulePump();
  }

  /** A lone voter need not wait out an election timeout (etcd advances its ticks likewise). */
  private campaignIfAlone(): void {
    const voters = this.raw.status().config.voters;
    if (voters.length === 1 && voters[0] === this.memberId && this.raw.state !== 'StateLeader' && this.lead === 0n) this.raw.campaign();
  }

  async close(): Promise<void> {
    if (this.closing) return this.closedPromise;
    this.closing = true;
    this.closedPromise = this.shutdown();
    return this.closedPromise;
  }

  private closedPromise: Promise<void> = Promise.resolve();
  /** Where big ranges' records are fetched (range-offload.ts). */
  private readonly rangeOffload = new RangeOffload();

  private async shutdown(): Promise<void> {
    // Drain: let proposals in flight commit and apply (bounded by an election timeout).
    const deadline = Date.now() + this.config.electionMs;
    while (this.failure === null && (this.waiters.size > 0 || this.raw.hasReady() || this.inReady) && Date.now() < deadline) {
      this.schedulePump();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.tokens.close();
    await this.readyIdle;
    for (const w of this.waiters.values()) w.reject(stopped());
    this.waiters.clear();
    if (this.deadlineSweep !== null) clearInterval(this.deadlineSweep);
    this.deadlineSweep = null;
    for (const r of [...this.readWaiters, ...(this.readInFlight?.waiters ?? []), ...this.pendingReads.flatMap((p) => p.waiters)]) r.reject(stopped());
    this.readWaiters = [];
    this.readInFlight = null;
    this.pendingReads.length = 0;
    this.rejectReady(stopped());
    try {
      this.prober?.close();
      await this.peers?.close();
      await this.rangeOffload.close();
      // Commit first (close() stops the store), then stop background compaction and hashes.
      await closeMemberState(this.st, this.failure === null);
    } finally {
      await this.wal.close();
    }
  }

  private checkOpen(): void {
    if (this.closing || this.closed) throw stopped();
    if (this.failure !== null) throw new FloeError('ERR_STOPPED', `etcdserver: server stopped (${String((this.failure as Error).message ?? this.failure)})`);
  }

  /** A broken invariant or a failed disk write: stop serving (never carry on after it). */
  private fail(e: unknown): void {
    if (this.failure !== null) return;
    this.failure = e;
    this.config.logger.log('E', 'etcdserver', `stopping after a fatal error: ${(e as Error).stack ?? String(e)}`);
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
    this.rejectReady(e);
    for (const t of this.timers) clearInterval(t);
    this.resolveDone(`fatal error: ${(e as Error).message ?? String(e)}`);
  }

  // ---- the ready loop ----

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed || this.failure !== null) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.runReady();
    });
  }

  private runReady(): void {
    if (this.inReady || this.closed || this.failure !== null) return;
    this.inReady = true;
    this.readyIdle = (async () => {
      try {
        while (this.failure === null && this.raw.hasReady()) {
          await this.handleReady(this.raw.ready());
          await this.maybeSnapshot();
        }
      } catch (e) {
        this.fail(e);
      } finally {
        this.inReady = false;
      }
    })();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== null) this.onSoftState(rd.softState);
    this.send(rd.messagesBeforePersist);
    if (rd.hardState !== null) this.term = rd.hardState.term;
    const snap = rd.snapshot;
    if (snap !== null) {
      // The snapshot file first, then its WAL record: a restart finds a WAL snapshot record
      // only with its file on disk (etcd's order).
      await this.saveSnap(snap);
      await this.wal.saveSnapshot({ index: snap.metadata.index, term: snap.metadata.term });
    }
    // Committed entries already in the WAL (at or below the storage's last index, which only
    // holds saved entries) are applied before this Ready's save, so their writers are answered
    // while the fdatasync runs (etcd's leader applies in parallel with its disk write too).
    // Raft commits only what is durable on a quorum, the leader's own log counting only once
    // persisted, so these are final; any committed entry of this Ready's own batch waits.
    const durableIndex = this.storage.lastIndex();
    let early = 0;
    while (snap === null && early < rd.committedEntries.length && (rd.committedEntries[early] as Entry).index <= durableIndex) early++;
    if (early > 0) this.applyEntries(early === rd.committedEntries.length ? rd.committedEntries : rd.committedEntries.slice(0, early));
    // 1. Persist: entries and hard state, one fdatasync (the WAL decides: entries, term or vote).
    const hs = rd.hardState ?? EMPTY_HARD_STATE;
    if (rd.entries.length > 0 || rd.hardState !== null) {
      if (plantedBug('ack-before-wal-fsync')) {
        // A planted bug for the robustness suite: the WAL record is written half a second
        // later (in order) while raft goes on as if it were durable, so writes are
        // acknowledged before their WAL fsync; a crash in that window loses them.
        const entries = rd.entries;
        setTimeout(() => void this.wal.save(hs, entries).catch((e: unknown) => this.fail(e)), PLANTED_WAL_DELAY_MS);
      } else {
        // Messages sent before persisting (a leader's appends) go out on a later turn of the
        // loop, so the WAL must not hold the loop for its sync then.
        await this.wal.save(hs, rd.entries, rd.messagesBeforePersist.length > 0);
      }
    }
    if (snap !== null) {
      this.storage.applySnapshot(snap);
      await this.installSnapshot(snap);
    }
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    // 2. Send what must wait for persistence.
    this.send(rd.messages);
    // 3. Apply the rest, in one turn of the event loop (no write can interleave).
    if (early < rd.committedEntries.length) this.applyEntries(early === 0 ? rd.committedEntries : rd.committedEntries.slice(early));
    for (const rs of rd.readStates) this.onReadState(rs.index, rs.requestCtx);
    this.raw.advance(rd);
    this.stepSelfMessages();
    if (this.lead === 0n) this.campaignIfAlone();
    this.serveReads();
    this.startReadRound();
  }

  /** Writes a raft snapshot file, timed as etcd_debugging_snap_save_total_duration_seconds. */
  private async saveSnap(snap: Snapshot): Promise<void> {
    const startMs = performance.now();
    await this.snapshotter.saveSnap(snap);
    this.metrics.disk.snapSaveSeconds.observe((performance.now() - startMs) / 1000);
  }

  /**
   * Messages to this member itself (its own vote, its own append acknowledgements) are
   * stepped back in once the Ready is advanced; the rest go to the transport. A snapshot goes
   * with the backend file as it is now (committed first): it holds at least everything up
   * to the raft snapshot's index, and the follower skips what its file already applied.
   */
  private send(msgs: readonly Message[]): void {
    let out: Message[] | null = null;
    for (const m of msgs) {
      if (m.to === this.memberId) {
        this.selfMsgs.push(m);
        continue;
      }
      const t = this.peers?.transport;
      assert(t !== undefined, () => `member: a message to ${idHex(m.to)} but no transport`);
      if (m.type === 'MsgSnap') {
        this.store.commit();
        t.sendSnapshot(m, copyDb(this.db));
        this.config.logger.log('I', 'rafthttp', `start to send database snapshot [index: ${m.snapshot?.metadata.index ?? 0}, to ${idHex(m.to)}]...`);
      } else {
        if (m.type === 'MsgHeartbeat') this.noteHeartbeat(m.to);
        (out ??= []).push(m);
      }
    }
    if (out !== null) this.peers?.transport.send(out);
  }

  /** When the leader last sent each follower a heartbeat (etcd's timeout detector). */
  private readonly lastHeartbeatMs = new Map<bigint, number>();

  /**
   * etcd_server_heartbeat_send_failures_total: a heartbeat sent more than two heartbeat
   * intervals after the previous one to the same peer means the leader fell behind (a slow
   * disk or a stalled event loop), as etcd's timeout detector judges it.
   */
  private noteHeartbeat(to: bigint): void {
    const nowMs = performance.now();
    const last = this.lastHeartbeatMs.get(to);
    if (last !== undefined && nowMs - last > 2 * this.config.heartbeatMs) this.metrics.server.heartbeatSendFailures.inc();
    this.lastHeartbeatMs.set(to, nowMs);
  }

  private selfMsgs: Message[] = [];

  private stepSelfMessages(): void {
    const msgs = this.selfMsgs;
    this.selfMsgs = [];
    for (const m of msgs) this.raw.step(m);
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.lead === this.memberId;
    if (ss.lead !== 0n && ss.lead !== this.lead) this.metrics.server.leaderChanges.inc();
    this.lead = ss.lead;
    const isLeader = ss.raftState === 'StateLeader';
    if (isLeader && !wasLeader) {
      this.lastHeartbeatMs.clear(); // a new term of leadership starts its heartbeat clock afresh
      this.lessor.promote(this.config.electionMs);
      this.onLeader();
    } else if (!isLeader && wasLeader) {
      this.lessor.demote();
    }
    if (ss.lead !== 0n) this.publish();
    if (ss.lead !== 0n) {
      const ws = this.leaderWaiters;
      this.leaderWaiters = [];
      for (const w of ws) w();
    }
  }

  /** On winning an election: set the cluster version if nobody has yet. */
  private onLeader(): void {
    if (this.membership.clusterVersion === null) {
      this.config.logger.log('I', 'etcdserver', 'setting up the initial cluster version to 3.4');
      void this.proposeV2('PUT', '/0/version', CLUSTER_VERSION).catch((e: unknown) => {
        if (!this.closing) this.config.logger.log('W', 'etcdserver', `failed to set the cluster version (${(e as Error).message})`);
      });
    }
  }

  private publishing = false;

  /**
   * Once a leader is known: publish this member's name and client URLs through raft (etcd's
   * publish), retried until it applies; the member is ready once it has and the cluster has
   * a version.
   */
  private publish(): void {
    if (this.published || this.publishing || this.closing) return;
    this.publishing = true;
    const attrs = JSON.stringify({ name: this.config.name, clientURLs: this.config.advertiseClientUrls });
    void this.proposeV2('PUT', `/0/members/${idHex(this.memberId)}/attributes`, attrs).then(
      () => {
        this.published = true;
        this.config.logger.log(
          'I',
          'etcdserver',
          `published {Name:${this.config.name} ClientURLs:[${this.config.advertiseClientUrls.join(' ')}]} to cluster ${idHex(this.clusterId)}`,
        );
        void this.whenClusterVersion().then(() => this.resolveReady());
      },
      (e: unknown) => {
        this.publishing = false;
        if (this.closing || this.removed) return;
        this.config.logger.log('W', 'etcdserver', `failed to publish local member to cluster through raft (${(e as Error).message}); retrying`);
        setTimeout(() => this.publish(), this.config.heartbeatMs).unref();
      },
    );
  }

  private async whenClusterVersion(): Promise<void> {
    while (this.membership.clusterVersion === null && !this.closed) await new Promise((r) => setTimeout(r, 5));
  }

  private loggedClusterVersion = false;

  private logClusterVersion(v: string): void {
    this.loggedClusterVersion = true;
    const short = v.split('.').slice(0, 2).join('.');
    this.config.logger.log('N', 'etcdserver/membership', `set the initial cluster version to ${short}`);
    this.config.logger.log('I', 'etcdserver/api', `enabled capabilities for version ${short}`);
  }

  private whenLeader(): Promise<void> {
    if (this.lead !== 0n) return Promise.resolve();
    return new Promise((resolve) => this.leaderWaiters.push(resolve));
  }

  // ---- apply ----

  private applyEntries(ents: readonly Entry[]): void {
    for (const e of ents) {
      if (e.index <= this.applied) continue;
      const shouldApply = e.index > this.store.consistentIndex;
      switch (e.type) {
        case 'EntryNormal':
          this.applyNormal(e, shouldApply);
          break;
        case 'EntryConfChange':
          this.applyConfChange(e, decodeConfChange(e.data), shouldApply);
          break;
        case 'EntryConfChangeV2':
          this.applyConfChange(e, decodeConfChangeV2(e.data), shouldApply);
          break;
      }
      this.applied = e.index;
    }
  }

  /** Records `index` as applied in the backend batch (after the entry's own writes). */
  private saveConsistentIndex(index: number): void {
    this.store.setConsistentIndex(index);
    this.batch.put(META_BUCKET, CONSISTENT_INDEX_KEY, encodeConsistentIndex(index));
  }

  private applyConfChange(e: Entry, cc: AnyConfChange, shouldApply: boolean): void {
    this.confState = this.raw.applyConfChange(cc);
    if (!shouldApply) return;
    this.store.setConsistentIndex(e.index);
    if (cc.kind === 'v1') {
      switch (cc.type) {
        case 'ConfChangeAddNode':
        case 'ConfChangeAddLearnerNode':
        case 'ConfChangeUpdateNode': {
          if (cc.context.length > 0) {
            const m = decodeMemberJson(Buffer.from(cc.context).toString('utf8'));
            const old = this.membership.get(cc.nodeId);
            this.membership.save({
              ...m,
              id: cc.nodeId,
              name: m.name !== '' ? m.name : (old?.name ?? ''),
              clientUrls: m.clientUrls.length > 0 ? m.clientUrls : (old?.clientUrls ?? []),
              isLearner: cc.type === 'ConfChangeAddLearnerNode' || (cc.type === 'ConfChangeUpdateNode' && old?.isLearner === true),
            });
          }
          break;
        }
        case 'ConfChangeRemoveNode':
          this.membership.remove(cc.nodeId);
          break;
      }
      this.applyConfChangeToPeers(cc.type, cc.nodeId);
      const w = this.waiters.get(cc.id);
      if (w !== undefined) {
        this.waiters.delete(cc.id);
        w.resolve({ resp: undefined });
      }
    }
    this.saveConsistentIndex(e.index);
  }

  /** Keeps the transport in step with membership; a member that applies its own removal stops. */
  private applyConfChangeToPeers(type: string, id: bigint): void {
    const t = this.peers?.transport;
    if (type === 'ConfChangeRemoveNode') {
      if (id === this.memberId) {
        this.onRemoved();
        return;
      }
      t?.removePeer(id);
      return;
    }
    if (id === this.memberId || t === undefined) return;
    const m = this.membership.get(id);
    if (m === undefined) return;
    if (type === 'ConfChangeUpdateNode') t.updatePeer(id, m.peerUrls);
    else t.addPeer(id, m.peerUrls);
  }

  private applyNormal(e: Entry, shouldApply: boolean): void {
    if (e.data.length === 0) {
      // The new leader's empty entry.
      if (shouldApply) this.saveConsistentIndex(e.index);
      return;
    }
    let req: RaftRequest | null = null;
    let v2: V2Request | null = null;
    try {
      req = decodeRaftRequest(e.data);
    } catch {
      v2 = decodeV2Request(e.data); // an old-style entry (etcd's fallback)
    }
    if (req !== null && req.v2 !== null) v2 = req.v2;
    const id = req?.header !== null && req?.header !== undefined ? BigInt(req.header.ID) : v2 !== null ? BigInt(v2.ID) : 0n;
    if (!shouldApply) return;
    this.store.setConsistentIndex(e.index);
    let result: ApplyResult;
    const startMs = performance.now();
    try {
      result = v2 !== null ? this.applyV2(v2) : this.applyRequest(req as RaftRequest);
    } catch (err) {
      if (!isFloeError(err)) throw err;
      result = { err };
    }
    if (performance.now() - startMs > SLOW_APPLY_MS) this.metrics.server.slowApplies.inc();
    this.saveConsistentIndex(e.index);
    const w = id === 0n ? undefined : this.waiters.get(id);
    if (w !== undefined) {
      this.waiters.delete(id);
      w.resolve(result);
    }
  }

  private applyV2(r: V2Request): ApplyResult {
    if (r.Method !== 'PUT') return {};
    const attrs = /^\/0\/members\/([0-9a-f]+)\/attributes$/.exec(r.Path);
    if (attrs !== null) {
      const a = JSON.parse(r.Val) as { name?: string; clientURLs?: string[] };
      this.membership.setAttributes(BigInt('0x' + attrs[1]), a.name ?? '', a.clientURLs ?? []);
    } else if (r.Path === '/0/version') {
      const first = this.membership.clusterVersion === null;
      this.membership.setClusterVersion(r.Val);
      if (first) this.logClusterVersion(r.Val);
    }
    return {};
  }

  private get noSpace(): boolean {
    return this.alarms.has(1);
  }

  private applyRequest(r: RaftRequest): ApplyResult {
    // Permission checks as the proposer, and the auth requests themselves (apply-auth.ts).
    const authed = applyAuth(
      {
        auth: this.st.auth,
        index: this.store.consistentIndex,
        bcryptCost: this.bcryptCost,
        leaseKeys: (id) => (this.lessor.lookup(id) === null ? null : this.lessor.timeToLive(id, true).keys),
        header: () => this.header(),
      },
      r,
    );
    if (authed !== null) return authed;
    if (r.put !== null) {
      if (this.noSpace) throw noSpaceError();
      const put = r.put;
      const lease = BigInt(put.lease);
      if (lease !== 0n && this.lessor.lookup(lease) === null) throw opError('ERR_LEASE_NOT_FOUND', 'etcdserver: requested lease not found');
      const resp = this.store.inWrite((txn) => applyPut(txn, put));
      countPut(this.metrics.mvcc, put.key, put.value);
      resp.header = this.header();
      return { resp };
    }
    if (r.delete_range !== null) {
      const dr = r.delete_range;
      const resp = this.store.inWrite((txn) => applyDeleteRange(txn, dr));
      countDelete(this.metrics.mvcc);
      resp.header = this.header();
      return { resp };
    }
    if (r.txn !== null) {
      const t = r.txn;
      let resp: pb.TxnResponse;
      if (isTxnReadonly(t)) {
        const view = this.store.read();
        try {
          resp = applyTxnRead(view, t);
        } finally {
          view.end();
        }
      } else {
        if (this.noSpace && txnHasPut(t)) throw noSpaceError();
        resp = this.store.inWrite((txn) => applyTxnWrite(txn, t, { exists: (id) => this.lessor.lookup(id) !== null }));
      }
      countTxn(this.metrics.mvcc, t, resp);
      const header = this.header();
      fillTxnHeaders(resp, header, { revision: header.revision });
      return { resp };
    }
    if (r.range !== null) {
      const view = this.store.read();
      try {
        const resp = applyRange(view, r.range);
        countRange(this.metrics.mvcc);
        resp.header = this.header();
        return { resp };
      } finally {
        view.end();
      }
    }
    if (r.compaction !== null) {
      const physical = this.store.compact(int64(r.compaction.revision));
      physical.catch(() => undefined);
      return { resp: { header: this.header() } satisfies pb.CompactionResponse, physical };
    }
    if (r.lease_grant !== null) {
      if (this.noSpace) throw noSpaceError();
      const id = BigInt(r.lease_grant.ID);
      const ttl = this.lessor.grant(id, BigInt(r.lease_grant.TTL));
      this.metrics.lease.granted.inc();
      this.metrics.lease.ttl.observe(Number(ttl));
      return { resp: { header: this.header(), ID: wireInt(id), TTL: ttl } satisfies pb.LeaseGrantResponse };
    }
    if (r.lease_revoke !== null) {
      this.lessor.revoke(BigInt(r.lease_revoke.ID));
      this.metrics.lease.revoked.inc();
      return { resp: { header: this.header() } satisfies pb.LeaseRevokeResponse };
    }
    if (r.lease_checkpoint !== null) {
      for (const c of r.lease_checkpoint.checkpoints) {
        const id = BigInt(c.ID);
        if (this.lessor.lookup(id) !== null) this.lessor.checkpoint(id, int64(c.remaining_TTL));
      }
      return { resp: { header: this.header() } };
    }
    if (r.alarm !== null) return { resp: this.applyAlarm(r.alarm) };
    throw opError('ERR_NOT_CAPABLE', 'etcdserver: not capable');
  }

  private applyAlarm(a: pb.AlarmRequest): pb.AlarmResponse {
    const resp: pb.AlarmResponse = { header: this.header() };
    const am = { memberId: BigInt(a.memberID), alarm: a.alarm };
    if (a.action === 0) {
      const alarms = this.alarms.list(a.alarm);
      if (alarms.length > 0) resp.alarms = alarms.map((x) => ({ memberID: wireInt(x.memberId) ?? 0, alarm: x.alarm as pb.AlarmType }));
      return resp;
    }
    resp.alarms = [];
    if (a.action === 1) {
      if (a.alarm === 0) return resp;
      const m = this.alarms.activate(am);
      if (m !== null) {
        resp.alarms = [{ memberID: wireInt(m.memberId) ?? 0, alarm: m.alarm as pb.AlarmType }];
        this.config.logger.log('W', 'etcdserver', `alarm ${m.alarm === 1 ? 'NOSPACE' : 'CORRUPT'} raised by peer ${idHex(m.memberId)}`);
      }
    } else if (a.action === 2) {
      const m = this.alarms.deactivate(am);
      if (m !== null) {
        resp.alarms = [{ memberID: wireInt(m.memberId) ?? 0, alarm: m.alarm as pb.AlarmType }];
        this.config.logger.log('W', 'etcdserver', `alarm ${m.alarm === 1 ? 'NOSPACE' : 'CORRUPT'} cleared by peer ${idHex(m.memberId)}`);
      }
    }
    return resp;
  }

  // ---- proposals ----

  /**
   * Proposes `req` and resolves with its result once applied here. Bounded by etcd's request
   * timeout: a proposal lost with a leader change, or made while no leader can be elected,
   * fails with etcd's timeout error (clients retry it).
   */
  private async propose(req: RaftRequestIn, asRoot = false): Promise<ApplyResult> {
    this.checkOpen();
    const deadline = Date.now() + requestTimeoutMs(this.config);
    if (this.lead === 0n) await this.whenLeaderUntil(deadline);
    this.checkOpen();
    const id = this.reqIds.next();
    // The caller's name and auth revision go along for the permission checks in apply.
    req.header = { ID: id.toString(), ...this.auth.proposalHeader(asRoot) };
    const data = encodeRaftRequest(req);
    if (data.length > this.config.maxRequestBytes) throw opError('ERR_REQUEST_TOO_LARGE', 'etcdserver: request is too large');
    // etcd's proposals_pending and proposals_failed_total: a proposal that never applied
    // (timed out, lost its leader, stopped) failed; one that applied with an error did not.
    const pending = this.metrics.server.proposalsPending;
    pending.inc();
    let result: ApplyResult;
    try {
      result = await this.waitApplied(id, deadline, () => this.raw.propose(data));
    } catch (e) {
      this.metrics.server.proposalsFailed.inc();
      throw e;
    } finally {
      pending.dec();
    }
    if (result.err !== undefined) throw result.err;
    return result;
  }

  /**
   * Registers a waiter for request `id`, runs `start` (the proposal), and settles when the
   * entry applies here or at `deadline` with etcd's timeout error.
   */
  private waitApplied(id: bigint, deadline: number, start: () => void): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, deadline, leadAtStart: this.lead });
      try {
        start();
      } catch (e) {
        this.waiters.delete(id);
        reject(isFloeError(e) ? opError('ERR_NO_LEADER', 'etcdserver: no leader') : e);
        return;
      }
      this.ensureSweep();
      this.schedulePump();
    });
  }

  /**
   * Fails the proposals whose deadline has passed with etcd's timeout error. One coarse
   * interval (ensureSweep) for all proposals and reads rather than a timer each (a put's own
   * timer was a visible share of its cost).
   */
  private sweepWaiters(): void {
    const now = Date.now();
    for (const [id, w] of this.waiters) {
      if (w.deadline > now) continue;
      this.waiters.delete(id);
      w.reject(
        this.lead !== w.leadAtStart
          ? opError('ERR_TIMEOUT_DUE_TO_LEADER_FAIL', 'etcdserver: request timed out, possibly due to previous leader failure')
          : opError('ERR_TIMEOUT', 'etcdserver: request timed out'),
      );
    }
  }

  /** Starts the deadline sweep of proposals and reads; it stops itself once nothing waits. */
  private ensureSweep(): void {
    this.deadlineSweep ??= setInterval(() => {
      this.sweepWaiters();
      const reads = this.sweepReads();
      if (this.waiters.size === 0 && reads === 0 && this.deadlineSweep !== null) {
        clearInterval(this.deadlineSweep);
        this.deadlineSweep = null;
      }
    }, DEADLINE_SWEEP_MS).unref();
  }

  /** Waits for a leader until `deadline`, then fails with etcd's timeout error. */
  private async whenLeaderUntil(deadline: number): Promise<void> {
    if (this.lead !== 0n) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(opError('ERR_TIMEOUT', 'etcdserver: request timed out')), Math.max(0, deadline - Date.now()));
    });
    try {
      await Promise.race([this.whenLeader(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async proposeV2(method: string, path: string, val: string): Promise<void> {
    await this.propose({ v2: { Method: method, Path: path, Val: val } });
  }

  /** etcd's quota check before a put, txn or lease grant; raises NOSPACE when over. */
  private checkQuota(costBytes: number): void {
    if (this.quotaBytes === Infinity) return;
    if (this.noSpace) throw noSpaceError();
    if (this.db.fileSizeBytes + costBytes <= this.quotaBytes) return;
    this.config.logger.log('W', 'etcdserver', `database space exceeded; raising NOSPACE alarm`);
    void this.propose({ alarm: { action: 1, memberID: this.memberId.toString(), alarm: 1 } }).catch(() => undefined);
    throw noSpaceError();
  }

  // ---- reads ----

  /** Resolves once every write acknowledged before the call is applied (ReadIndex). */
  private linearizable(): Promise<void> {
    this.checkOpen();
    // A planted bug for the robustness suite: a follower answers from its own, possibly stale, state.
    if (plantedBug('follower-read-without-readindex') && this.lead !== this.memberId) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // A read index round lost with a leader change is never answered: the timeout ends it.
      this.readWaiters.push(new ReadWaiter(Date.now() + requestTimeoutMs(this.config), resolve, reject));
      this.ensureSweep();
      if (this.lead === 0n) void this.whenLeader().then(() => this.startReadRound());
      else this.startReadRound();
    });
  }

  /** Fails the reads past their deadline, wherever they wait (see sweepWaiters); returns how many still wait. */
  private sweepReads(): number {
    const now = Date.now();
    let waiting = 0;
    const expire = (ws: readonly ReadWaiter[]): void => {
      for (const w of ws) {
        if (w.settled) continue;
        if (w.deadline > now) {
          waiting++;
          continue;
        }
        this.metrics.server.readIndexFailures.inc();
        w.reject(opError('ERR_TIMEOUT', 'etcdserver: request timed out'));
      }
    };
    expire(this.readWaiters);
    if (this.readInFlight !== null) expire(this.readInFlight.waiters);
    for (const p of this.pendingReads) expire(p.waiters);
    return waiting;
  }

  /** One read-index round at a time; readers arriving meanwhile share the next one. */
  private startReadRound(): void {
    const inFlight = this.readInFlight;
    if (inFlight !== null && performance.now() - inFlight.startedMs > this.config.electionMs) {
      // The round was lost (a dropped message or a leader change): ask again for everyone.
      this.metrics.server.slowReadIndexes.inc();
      this.readWaiters = [...inFlight.waiters, ...this.readWaiters];
      this.readInFlight = null;
    }
    if (this.readInFlight !== null || this.readWaiters.length === 0 || this.lead === 0n || this.closed) return;
    const ctx = Buffer.alloc(8);
    ctx.writeBigUInt64BE(this.reqIds.next());
    this.readInFlight = { ctx: ctx.toString('hex'), waiters: this.readWaiters, startedMs: performance.now() };
    this.readWaiters = [];
    this.raw.readIndex(ctx);
    this.schedulePump();
  }

  private onReadState(index: number, ctx: Uint8Array): void {
    const inFlight = this.readInFlight;
    if (inFlight === null || Buffer.from(ctx).toString('hex') !== inFlight.ctx) return;
    this.readInFlight = null;
    this.pendingReads.push({ index, waiters: inFlight.waiters });
  }

  private serveReads(): void {
    while (this.pendingReads.length > 0 && (this.pendingReads[0] as { index: number }).index <= this.applied) {
      for (const w of (this.pendingReads.shift() as { waiters: ReadWaiter[] }).waiters) w.resolve();
    }
  }

  // ---- raft snapshots ----

  /**
   * Replaces the backend with the leader's file for `snap` (received by receiveSnapshot) and
   * rebuilds everything read from it. Open watch streams move to the new store and their
   * watchers catch up from its history, as etcd's do (clients see no break); entries after the
   * snapshot that the new file already holds are skipped by the consistent index.
   */
  private async installSnapshot(snap: Snapshot): Promise<void> {
    const index = snap.metadata.index;
    this.config.logger.log('I', 'etcdserver', `applying snapshot at index ${this.snapshotIndex}...`);
    const dbFile = await this.snapshotter.existingDbFilePath(index);
    const layout = memberLayout(this.config.dataDir);
    failpoint('server.beforeApplySnapshot');
    this.metrics.server.snapshotApplyInProgress.set(1);
    try {
      const watchStreams = this.st.store.detachStreams();
      await closeMemberState(this.st, true);
      await fsp.rename(dbFile, layout.backendPath);
      this.st = openMemberState(this.config, layout.backendPath, this.tokens);
      this.st.store.adoptStreams(watchStreams);
    } finally {
      this.metrics.server.snapshotApplyInProgress.set(0);
    }
    failpoint('server.afterApplySnapshot');
    if (this.membership.size === 0) {
      for (const m of membersFromV2Store(snap.data)) this.membership.save(m);
      this.batch.commit();
    }
    if (this.lead === this.memberId) this.lessor.promote(this.config.electionMs);
    this.applied = index;
    this.snapshotIndex = index;
    this.confState = snap.metadata.confState;
    this.syncPeers();
    if (this.membership.clusterVersion !== null && !this.loggedClusterVersion) this.logClusterVersion(this.membership.clusterVersion);
    this.config.logger.log('I', 'etcdserver', `finished applying incoming snapshot at index ${index}`);
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex <= this.config.snapshotCount) return;
    // The backend must hold everything up to `applied` before the log behind it may go.
    this.store.commit();
    const index = this.applied;
    const snap = this.storage.createSnapshot(index, this.confState, Buffer.from(this.v2StoreJson()));
    await this.saveSnap(snap);
    await this.wal.saveSnapshot({ index, term: snap.metadata.term });
    const compactIndex = index > this.config.snapshotCatchUpEntries ? index - this.config.snapshotCatchUpEntries : 1;
    if (compactIndex > this.storage.firstIndex()) this.storage.compact(compactIndex);
    this.wal.releaseLockTo(index);
    this.snapshotIndex = index;
    this.config.logger.log('I', 'etcdserver', `saved snapshot at index ${index}`);
    if (this.config.maxWals > 0) await this.wal.purge(this.config.maxWals);
    if (this.config.maxSnapshots > 0) await this.snapshotter.purge(this.config.maxSnapshots);
  }

  /** A v2 store document holding the members and the cluster version (etcd's snapshot data). */
  private v2StoreJson(): string {
    const members: Record<string, unknown> = {};
    for (const m of this.membership.list()) {
      const hex = idHex(m.id);
      const base = `/0/members/${hex}`;
      members[hex] = {
        Path: base,
        Dir: true,
        Children: {
          raftAttributes: { Path: `${base}/raftAttributes`, Value: JSON.stringify({ peerURLs: m.peerUrls, ...(m.isLearner ? { isLearner: true } : {}) }) },
          attributes: { Path: `${base}/attributes`, Value: JSON.stringify({ name: m.name, clientURLs: m.clientUrls }) },
        },
      };
    }
    const zero: Record<string, unknown> = { members: { Path: '/0/members', Dir: true, Children: members } };
    if (this.membership.clusterVersion !== null) zero['version'] = { Path: '/0/version', Value: this.membership.clusterVersion };
    return JSON.stringify({ Root: { Path: '/', Dir: true, Children: { '0': { Path: '/0', Dir: true, Children: zero }, '1': { Path: '/1', Dir: true } } } });
  }

  // ---- background loops ----

  /** On the leader: revoke expired leases through raft, at most DEFAULT_EXPIRED_BATCH per check. */
  private expireLeases(): void {
    if (this.closing || this.lead !== this.memberId) return;
    for (const id of this.lessor.expiredLeases(DEFAULT_EXPIRED_BATCH)) {
      void this.propose({ lease_revoke: { ID: id.toString() } }, true).then(() => this.metrics.server.leaseExpired.inc(), () => undefined);
    }
  }

  private startAutoCompaction(): void {
    const retention = autoCompactionRetention(this.config);
    if (retention === 0) return;
    if (this.config.autoCompactionMode === 'revision') {
      this.timers.push(
        setInterval(() => {
          const rev = this.store.currentRevision - retention;
          if (rev > 0 && rev > this.lastAutoCompactRev) this.autoCompact(rev);
        }, Math.min(REVISION_COMPACTOR_PERIOD_MS, 5 * 60 * 1000)),
      );
      return;
    }
    // periodic: sample the revision every tenth of the period (at most hourly); compact to the
    // revision sampled one period ago.
    const stepMs = Math.max(1, Math.floor(Math.min(retention, 3_600_000) / 10));
    this.compactSamples = [{ atMs: Date.now(), rev: this.store.currentRevision }];
    this.timers.push(
      setInterval(() => {
        const now = Date.now();
        this.compactSamples.push({ atMs: now, rev: this.store.currentRevision });
        let target: { atMs: number; rev: number } | null = null;
        while (this.compactSamples.length > 0 && now - (this.compactSamples[0] as { atMs: number }).atMs >= retention) {
          target = this.compactSamples.shift() as { atMs: number; rev: number };
        }
        if (target !== null && target.rev > this.lastAutoCompactRev && target.rev > this.store.compactRevision) this.autoCompact(target.rev);
      }, stepMs),
    );
  }

  private autoCompact(rev: number): void {
    if (this.closing || this.lead !== this.memberId) return;
    this.lastAutoCompactRev = rev;
    this.config.logger.log('N', 'compactor', `Starting auto-compaction at revision ${rev}`);
    void this.compact({ revision: String(rev), physical: false }).then(
      () => this.config.logger.log('N', 'compactor', `Finished auto-compaction at revision ${rev}`),
      (e: unknown) => this.config.logger.log('W', 'compactor', `Failed auto-compaction at revision ${rev} (${(e as Error).message})`),
    );
  }

  // ---- EtcdServerApi ----

  header(): pb.ResponseHeader {
    return this.headerAt(this.store.currentRevision);
  }

  /** cluster_id and member_id as every response header carries them, made once. */
  private wireIds: { readonly cluster: pb.Int64Like | undefined; readonly member: pb.Int64Like | undefined } | null = null;

  private headerAt(revision: number): pb.ResponseHeader {
    const ids = (this.wireIds ??= { cluster: wireInt(this.clusterId), member: wireInt(this.memberId) });
    const h: pb.ResponseHeader = {
      cluster_id: ids.cluster,
      member_id: ids.member,
      raft_term: this.term === 0 ? undefined : this.term,
    };
    if (revision !== 0) h.revision = revision;
    return h;
  }

  async range(req: pb.RangeRequest): Promise<pb.RangeResponse> {
    if (!req.serializable) await this.linearizable();
    else this.checkOpen();
    const authAfter = this.auth.checkRange(req.key, req.range_end);
    // Sliced at one pinned revision so that writes go on meanwhile; big windows fetched in the
    // range worker (range-sliced.ts, range-offload.ts).
    const { resp, revision } = await rangeInSlices(this.store, req, { offload: this.rangeOffload });
    authAfter();
    countRange(this.metrics.mvcc);
    resp.header = this.headerAt(revision);
    return resp;
  }

  async put(req: pb.PutRequest): Promise<pb.PutResponse> {
    this.checkOpen();
    this.checkQuota(KV_OVERHEAD_BYTES + req.key.length + req.value.length);
    return (await this.propose({ put: req })).resp as pb.PutResponse;
  }

  async deleteRange(req: pb.DeleteRangeRequest): Promise<pb.DeleteRangeResponse> {
    return (await this.propose({ delete_range: req })).resp as pb.DeleteRangeResponse;
  }

  async txn(req: pb.TxnRequest): Promise<pb.TxnResponse> {
    if (isTxnReadonly(req)) {
      // etcd serves read-only txns without raft (linearizable unless every range is serializable).
      if (!txnAllSerializable(req)) await this.linearizable();
      else this.checkOpen();
      const authAfter = this.auth.checkTxnRead(req);
      const view = this.store.read();
      try {
        const resp = applyTxnRead(view, req);
        authAfter();
        countTxn(this.metrics.mvcc, req, resp);
        const header = this.header();
        fillTxnHeaders(resp, header, { revision: header.revision });
        return resp;
      } finally {
        view.end();
      }
    }
    this.checkOpen();
    if (txnHasPut(req)) this.checkQuota(txnPutCost(req));
    return (await this.propose({ txn: req })).resp as pb.TxnResponse;
  }

  async compact(req: pb.CompactionRequest): Promise<pb.CompactionResponse> {
    const result = await this.propose({ compaction: req });
    if (req.physical && result.physical !== undefined) {
      await result.physical;
      this.store.commit();
    }
    const resp = result.resp as pb.CompactionResponse;
    return resp;
  }

  async leaseGrant(req: pb.LeaseGrantRequest): Promise<pb.LeaseGrantResponse> {
    this.checkOpen();
    this.checkQuota(LEASE_OVERHEAD_BYTES);
    let id = BigInt(req.ID);
    // etcd chooses a positive id from its request id generator when none is given.
    while (id === 0n) id = this.reqIds.next() & ((1n << 63n) - 1n);
    return (await this.propose({ lease_grant: { TTL: req.TTL, ID: id.toString() } })).resp as pb.LeaseGrantResponse;
  }

  async leaseRevoke(req: pb.LeaseRevokeRequest): Promise<pb.LeaseRevokeResponse> {
    return (await this.propose({ lease_revoke: { ID: req.ID } })).resp as pb.LeaseRevokeResponse;
  }

  /**
   * Only the leader's lessor runs the expiry clocks: a follower forwards the renewal to the
   * leader over the peer port (lease-forward.ts), retrying across a leader change until
   * etcd's request timeout.
   */
  async leaseKeepAlive(req: pb.LeaseKeepAliveRequest): Promise<pb.LeaseKeepAliveResponse> {
    const id = BigInt(req.ID);
    const ttl = await this.atLeader(
      () => this.renewLocal(id),
      async (url, timeoutMs) => {
        const r = (await postLease(url, '/leases', { id: id.toString() }, timeoutMs, this.config.peerTls)) as { ttl: number } | null;
        return r === null ? null : r.ttl;
      },
    );
    const resp: pb.LeaseKeepAliveResponse = { header: this.header(), ID: wireInt(id) };
    if (ttl > 0) resp.TTL = ttl;
    return resp;
  }

  async leaseTimeToLive(req: pb.LeaseTimeToLiveRequest): Promise<pb.LeaseTimeToLiveResponse> {
    const id = BigInt(req.ID);
    const t = await this.atLeader(
      async () => this.timeToLiveLocal(id, req.keys),
      async (url, timeoutMs) => {
        const r = (await postLease(url, '/leases/internal', { id: id.toString(), keys: req.keys }, timeoutMs, this.config.peerTls)) as {
          ttl: number;
          grantedTtl?: number;
          keys?: string[];
        } | null;
        return r === null ? null : { ttl: r.ttl, grantedTtl: r.grantedTtl ?? 0, keys: (r.keys ?? []).map((k) => Buffer.from(k, 'base64')) };
      },
    );
    if (t.ttl === -1) return { header: this.header(), ID: wireInt(id), TTL: -1 };
    const resp: pb.LeaseTimeToLiveResponse = { header: this.header(), ID: wireInt(id), TTL: t.ttl, grantedTTL: t.grantedTtl };
    if (req.keys && t.keys.length > 0) resp.keys = [...t.keys];
    return resp;
  }

  /**
   * Runs `local` when this member leads, else `remote` against the leader's peer URL; either
   * answering null means leadership moved meanwhile, and the call goes round again until
   * etcd's request timeout.
   */
  private async atLeader<T>(local: () => Promise<T | null>, remote: (peerUrl: string, timeoutMs: number) => Promise<T | null>): Promise<T> {
    this.checkOpen();
    const deadline = Date.now() + requestTimeoutMs(this.config);
    for (;;) {
      if (this.lead === 0n) await this.whenLeaderUntil(deadline);
      this.checkOpen();
      let r: T | null = null;
      if (this.lead === this.memberId) r = await local();
      else {
        const url = this.membership.get(this.lead)?.peerUrls[0];
        if (url !== undefined) r = await remote(url, Math.max(1, deadline - Date.now())).catch(() => null);
      }
      if (r !== null) return r;
      if (Date.now() >= deadline) throw opError('ERR_TIMEOUT', 'etcdserver: request timed out');
      await new Promise((res) => setTimeout(res, this.config.heartbeatMs));
    }
  }

  /** Renews on this member's lessor: the TTL, 0 when the lease is gone, null when not primary. */
  private async renewLocal(id: bigint): Promise<number | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const ttl = this.lessor.renew(id);
        this.metrics.lease.renewed.inc();
        return ttl;
      } catch (e) {
        if (isFloeError(e, 'ERR_LEASE_NOT_FOUND')) return 0;
        if (isFloeError(e, 'ERR_LEASE_NOT_PRIMARY')) return null;
        // Expired, revoke pending: wait for it (etcd blocks likewise), bounded.
        if (isFloeError(e, 'ERR_LEASE_EXPIRED') && attempt < 200) {
          await new Promise((r) => setTimeout(r, 25));
          this.checkOpen();
          continue;
        }
        if (isFloeError(e, 'ERR_LEASE_EXPIRED')) return 0;
        throw e;
      }
    }
  }

  /** TimeToLive from this member's lessor (ttl -1: not found); null when not primary. */
  private async timeToLiveLocal(id: bigint, withKeys: boolean): Promise<LeaseTtl | null> {
    if (!this.lessor.isPrimary) return null;
    if (this.lessor.lookup(id) === null) return { ttl: -1, grantedTtl: 0, keys: [] };
    const t = this.lessor.timeToLive(id, withKeys);
    return { ttl: t.ttlSec === FOREVER_TTL_SEC ? t.grantedTtlSec : t.ttlSec, grantedTtl: t.grantedTtlSec, keys: t.keys };
  }

  async leaseLeases(): Promise<pb.LeaseLeasesResponse> {
    await this.linearizable();
    const ids = this.lessor.leaseIds();
    const resp: pb.LeaseLeasesResponse = { header: this.header() };
    if (ids.length > 0) resp.leases = ids.map((id) => ({ ID: wireInt(id) ?? 0 }));
    return resp;
  }

  newWatchStream(): WatchStream {
    this.checkOpen();
    // Each create is checked as the caller that opened the stream (etcd reads the stream's context).
    const caller = currentIdentity();
    const ws = new MemberWatchStream(this.store.newWatchStream(), (rev) => this.headerAt(rev));
    return new CheckedWatchStream(ws, (req) => this.auth.checkWatch(caller, req.key, req.range_end));
  }

  private memberPb(m: MemberInfo): pb.Member {
    const out: pb.Member = { ID: wireInt(m.id) ?? 0, peerURLs: [...m.peerUrls] };
    if (m.name !== '') out.name = m.name;
    if (m.clientUrls.length > 0) out.clientURLs = [...m.clientUrls];
    if (m.isLearner) out.isLearner = true;
    return out;
  }

  private membersPb(): pb.Member[] {
    return this.membership.list().map((m) => this.memberPb(m));
  }

  async memberList(_req: pb.MemberListRequest): Promise<pb.MemberListResponse> {
    await this.linearizable();
    // etcd's cluster responses carry no revision in their header.
    const { revision: _revision, ...header } = this.header();
    return { header, members: this.membersPb() };
  }

  async memberAdd(req: pb.MemberAddRequest): Promise<pb.MemberAddResponse> {
    this.checkOpen();
    this.auth.checkAdmin();
    for (const m of this.membership.list()) {
      if (m.peerUrls.some((u) => req.peerURLs.includes(u))) throw opError('ERR_PEER_URL_EXIST', 'etcdserver: Peer URLs already exists');
    }
    if (req.isLearner && this.membership.list().filter((m) => m.isLearner).length >= MAX_LEARNERS) {
      throw opError('ERR_TOO_MANY_LEARNERS', 'etcdserver: too many learner members in cluster');
    }
    // etcd's strict reconfiguration check: a new voter must not leave the cluster without a
    // quorum of started (published) members until it starts itself.
    if (!req.isLearner) {
      const voters = this.membership.voters();
      const started = voters.filter((m) => m.name !== '').length;
      if (started < Math.floor((voters.length + 1) / 2) + 1) {
        throw opError('ERR_MEMBER_NOT_ENOUGH_STARTED', 'etcdserver: re-configuration failed due to not enough started members');
      }
    }
    this.checkConnectedVoters();
    const id = computeMemberId(req.peerURLs, '', Math.floor(Date.now() / 1000));
    const added: MemberInfo = { id, name: '', peerUrls: [...req.peerURLs], clientUrls: [], isLearner: req.isLearner };
    await this.proposeMemberChange(req.isLearner ? 'ConfChangeAddLearnerNode' : 'ConfChangeAddNode', added);
    return { header: this.clusterHeader(), member: this.memberPb(added), members: this.membersPb() };
  }

  async memberRemove(req: pb.MemberRemoveRequest): Promise<pb.MemberRemoveResponse> {
    this.checkOpen();
    this.auth.checkAdmin();
    const id = BigInt.asUintN(64, BigInt(req.ID));
    const m = this.membership.get(id);
    if (m === undefined) {
      // etcd answers a removed id as not found too.
      throw opError('ERR_MEMBER_NOT_FOUND', 'etcdserver: member not found');
    }
    if (!m.isLearner) {
      // etcd's mayRemoveMember: the voters left must still hold a started quorum ...
      const rest = this.membership.voters().filter((v) => v.id !== id);
      const started = rest.filter((v) => v.name !== '').length;
      if (started < Math.floor(rest.length / 2) + 1) {
        throw opError('ERR_MEMBER_NOT_ENOUGH_STARTED', 'etcdserver: re-configuration failed due to not enough started members');
      }
      // ... and removing a member that is up must leave a connected quorum.
      const active = this.peers?.transport.activeSince(id) ?? null;
      if (id === this.memberId || active !== null) {
        const voters = this.membership.voters();
        const connected = this.connectedVoters(voters);
        if (connected - 1 < 1 + Math.floor((voters.length - 1) / 2)) throw opError('ERR_UNHEALTHY', 'etcdserver: unhealthy cluster');
      }
    }
    await this.proposeMemberChange('ConfChangeRemoveNode', m);
    return { header: this.clusterHeader(), members: this.membersPb() };
  }

  async memberUpdate(req: pb.MemberUpdateRequest): Promise<pb.MemberUpdateResponse> {
    this.checkOpen();
    this.auth.checkAdmin();
    const id = BigInt.asUintN(64, BigInt(req.ID));
    const m = this.membership.get(id);
    if (m === undefined) throw opError('ERR_MEMBER_NOT_FOUND', 'etcdserver: member not found');
    for (const o of this.membership.list()) {
      if (o.id !== id && o.peerUrls.some((u) => req.peerURLs.includes(u))) throw opError('ERR_PEER_URL_EXIST', 'etcdserver: Peer URLs already exists');
    }
    await this.proposeMemberChange('ConfChangeUpdateNode', { ...m, peerUrls: [...req.peerURLs] });
    return { header: this.clusterHeader(), members: this.membersPb() };
  }

  async memberPromote(req: pb.MemberPromoteRequest): Promise<pb.MemberPromoteResponse> {
    this.checkOpen();
    this.auth.checkAdmin();
    const id = BigInt.asUintN(64, BigInt(req.ID));
    const m = this.membership.get(id);
    if (m === undefined) throw opError('ERR_MEMBER_NOT_FOUND', 'etcdserver: member not found');
    if (!m.isLearner) throw opError('ERR_MEMBER_NOT_LEARNER', 'etcdserver: can only promote a learner member');
    // etcd's isLearnerReady: only the leader knows how far the learner is; it must have
    // matched at least 90% of the leader's log.
    if (this.lead !== this.memberId) throw opError('ERR_NOT_LEADER', 'etcdserver: not leader');
    const progress = this.raw.status().progress;
    const learnerMatch = progress.get(id)?.match ?? 0;
    const leaderMatch = progress.get(this.memberId)?.match ?? 0;
    if (learnerMatch < leaderMatch * LEARNER_READY_FRACTION) {
      throw opError('ERR_LEARNER_NOT_READY', 'etcdserver: can only promote a learner member which is in sync with leader');
    }
    this.checkConnectedVoters();
    await this.proposeMemberChange('ConfChangeAddNode', { ...m, isLearner: false });
    this.metrics.server.learnerPromoteSuccesses.inc();
    return { header: this.clusterHeader(), members: this.membersPb() };
  }

  /** etcd's header for cluster responses: no revision. */
  private clusterHeader(): pb.ResponseHeader {
    const { revision: _revision, ...header } = this.header();
    return header;
  }

  /** Voters (this member included) whose transport has been up for etcd's health interval. */
  private connectedVoters(voters: readonly MemberInfo[]): number {
    const since = Date.now() - HEALTH_INTERVAL_MS;
    let n = 0;
    for (const v of voters) {
      if (v.id === this.memberId) n++;
      else {
        const t = this.peers?.transport.activeSince(v.id) ?? null;
        if (t !== null && t <= since) n++;
      }
    }
    return n;
  }

  /** etcd refuses adding or promoting while any voter is not connected (ErrUnhealthy). */
  private checkConnectedVoters(): void {
    const voters = this.membership.voters();
    if (this.connectedVoters(voters) < voters.length) throw opError('ERR_UNHEALTHY', 'etcdserver: unhealthy cluster');
  }

  /** Proposes a conf change carrying `m` as etcd's member JSON and waits until it applies here. */
  private async proposeMemberChange(type: 'ConfChangeAddNode' | 'ConfChangeAddLearnerNode' | 'ConfChangeRemoveNode' | 'ConfChangeUpdateNode', m: MemberInfo): Promise<void> {
    const deadline = Date.now() + requestTimeoutMs(this.config);
    if (this.lead === 0n) await this.whenLeaderUntil(deadline);
    const ccId = this.reqIds.next();
    const context = type === 'ConfChangeRemoveNode' ? new Uint8Array(0) : Buffer.from(encodeMemberJson(m));
    const r = await this.waitApplied(ccId, deadline, () => this.raw.proposeConfChange({ kind: 'v1', type, nodeId: m.id, context, id: ccId }));
    if (r.err !== undefined) throw r.err;
  }

  async status(): Promise<pb.StatusResponse> {
    this.checkOpen();
    // O(1) figures: db.stats() walks every page, which at a million keys held the event loop
    // for seconds per call (peers timed out while `etcdctl endpoint status` ran).
    const fileBytes = this.db.fileSizeBytes;
    const raftStatus = this.raw.status();
    const resp: pb.StatusResponse = {
      header: this.header(),
      version: SERVER_VERSION,
      dbSize: fileBytes,
      dbSizeInUse: fileBytes - this.db.freelistPageCount * this.db.pageSize,
      leader: wireInt(this.lead),
      raftIndex: wireInt(this.storage.lastIndex()),
      raftTerm: wireInt(raftStatus.hardState.term),
      raftAppliedIndex: wireInt(this.applied),
    };
    if (this.membership.get(this.memberId)?.isLearner === true) resp.isLearner = true;
    const errs = this.alarms.list().map((a) => `memberID:${a.memberId} alarm:${a.alarm === 1 ? 'NOSPACE' : 'CORRUPT'} `);
    if (errs.length > 0) resp.errors = errs;
    return resp;
  }

  async hash(): Promise<pb.HashResponse> {
    this.checkOpen();
    this.auth.checkMaintenanceAdmin();
    this.store.commit();
    const startMs = performance.now();
    const r = await this.store.hash();
    this.metrics.mvcc.hashSeconds.observe((performance.now() - startMs) / 1000);
    return { header: this.headerAt(r.revision), hash: r.hash };
  }

  async hashKV(req: pb.HashKVRequest): Promise<pb.HashKVResponse> {
    this.checkOpen();
    this.auth.checkMaintenanceAdmin();
    const startMs = performance.now();
    const r = await this.store.hashKV(int64(req.revision));
    this.metrics.mvcc.hashRevSeconds.observe((performance.now() - startMs) / 1000);
    const resp: pb.HashKVResponse = { header: this.headerAt(r.revision), hash: r.hash };
    // etcd sends compact_revision always, -1 before any compaction.
    resp.compact_revision = r.compactRevision;
    return resp;
  }

  async defragment(): Promise<pb.DefragmentResponse> {
    this.checkOpen();
    this.auth.checkMaintenanceAdmin();
    await this.store.compactionIdle();
    // Everything committed and durable, with nothing written since (the copy is synchronous).
    do {
      this.store.commit();
      await this.db.flush();
    } while (this.batch.pendingOps > 0 || this.db.pendingDurable > 0);
    this.config.logger.log('I', 'etcdserver', 'starting to defragment the storage backend...');
    const startMs = performance.now();
    this.metrics.disk.defragInflight.set(1);
    try {
      this.db.defragment();
    } finally {
      this.metrics.disk.defragInflight.set(0);
    }
    this.metrics.disk.defragSeconds.observe((performance.now() - startMs) / 1000);
    this.config.logger.log('I', 'etcdserver', 'finished defragmenting the storage backend');
    return { header: this.header() };
  }

  async snapshot(): Promise<SnapshotStream> {
    this.checkOpen();
    this.auth.checkMaintenanceAdmin();
    // Everything applied goes into the file first (etcd's ForceCommit before the copy).
    this.store.commit();
    const copy = copyDb(this.db);
    const snapshotSeconds = this.metrics.disk.backendSnapshotSeconds;
    const startMs = performance.now();
    return {
      sizeBytes: copy.sizeBytes,
      async *chunks(): AsyncGenerator<Buffer> {
        const { createHash } = await import('node:crypto');
        const h = createHash('sha256');
        for await (const c of copy.chunks()) {
          h.update(c);
          yield c;
        }
        yield h.digest();
        snapshotSeconds.observe((performance.now() - startMs) / 1000);
      },
    };
  }

  async alarm(req: pb.AlarmRequest): Promise<pb.AlarmResponse> {
    this.checkOpen();
    // Every alarm request, a GET included, goes through raft as in etcd: the answer is the
    // state at a point in the log, and each one advances the raft index as etcd's does.
    const r = await this.propose({ alarm: { action: req.action, memberID: req.memberID, alarm: req.alarm } });
    return r.resp as pb.AlarmResponse;
  }

  async moveLeader(req: pb.MoveLeaderRequest): Promise<pb.MoveLeaderResponse> {
    this.checkOpen();
    if (this.lead !== this.memberId) throw opError('ERR_NOT_LEADER', 'etcdserver: not leader');
    const target = BigInt.asUintN(64, BigInt(req.targetID));
    const m = this.membership.get(target);
    if (m === undefined || m.isLearner) throw opError('ERR_BAD_LEADER_TRANSFEREE', 'etcdserver: bad leader transferee');
    if (target !== this.memberId) {
      this.config.logger.log('N', 'etcdserver', `${idHex(this.memberId)} starts leadership transfer from ${idHex(this.memberId)} to ${idHex(target)}`);
      const deadline = Date.now() + requestTimeoutMs(this.config);
      this.raw.transferLeader(target);
      this.schedulePump();
      while (this.lead !== target) {
        if (Date.now() > deadline || this.closing) throw opError('ERR_TIMEOUT_LEADER_TRANSFER', 'etcdserver: request timed out, leader transfer took too long');
        await new Promise((r) => setTimeout(r, this.config.heartbeatMs));
      }
      this.config.logger.log('N', 'etcdserver', `${idHex(this.memberId)} finished leadership transfer from ${idHex(this.memberId)} to ${idHex(target)}`);
    }
    return { header: this.header() };
  }
}

function noSpaceError(): FloeError {
  return new FloeError('ERR_NO_SPACE', 'etcdserver: mvcc: database space exceeded');
}

function txnHasPut(r: pb.TxnRequest): boolean {
  for (const ops of [r.success, r.failure]) {
    for (const op of ops) {
      if (op.request === 'request_put') return true;
      if (op.request === 'request_txn' && txnHasPut(op.request_txn)) return true;
    }
  }
  return false;
}

function txnPutCost(r: pb.TxnRequest): number {
  let cost = 0;
  for (const ops of [r.success, r.failure]) {
    for (const op of ops) {
      if (op.request === 'request_put') cost += KV_OVERHEAD_BYTES + op.request_put.key.length + op.request_put.value.length;
      else if (op.request === 'request_txn') cost += txnPutCost(op.request_txn);
    }
  }
  return cost;
}

function txnAllSerializable(r: pb.TxnRequest): boolean {
  for (const ops of [r.success, r.failure]) {
    for (const op of ops) {
      if (op.request === 'request_range' && !op.request_range.serializable) return false;
      if (op.request === 'request_txn' && !txnAllSerializable(op.request_txn)) return false;
    }
  }
  return true;
}

/** The WAL's segment size option when the config sets one (tests). */
function walSegmentSize(cfg: MemberConfig): { segmentSizeBytes?: number } {
  return cfg.walSegmentSizeBytes === undefined ? {} : { segmentSizeBytes: cfg.walSegmentSizeBytes };
}
