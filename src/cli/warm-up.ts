/**
 * The start-up warm-up (issue 3: reads never block writes, also on a fresh process).
 *
 * V8 compiles a hot function for the types it has seen called with. A fresh member that serves
 * puts for a while has its put path compiled for puts only: the request decoder's call site has
 * seen one decoder, the raft step function one message type, the socket writers small answers.
 * The first big range then breaks those assumptions: measured with bench/jit-phases.sh, it
 * deoptimized about 25 functions the puts share with it, and the put phase after it ran while
 * TurboFan compiled about 175 functions again, which more than tripled the put p99 of that
 * phase (later reader phases: x1.4-1.7). Compiled code built from mixed feedback does not
 * deoptimize when the mix comes back.
 *
 * So before the member announces "ready to serve client requests", a scratch member (its own
 * data dir under the temp dir, the same settings, no peer listener, a silent logger, metrics of
 * its own) serves a short mixed load over a real client connection on a 127.0.0.1 port of its
 * own: puts, single-key gets, txns, deletes, lease grants, keep-alives and revokes, a watch, a
 * compaction, and whole-prefix ranges big enough to take the big-range path (the index walk
 * in slices, the worker sweep, answers of several slabs and past the socket's send-ahead
 * bound) while the writes go on. Then the scratch member is closed and its directory removed.
 * The member's own data is never touched: the scratch member is another store.
 *
 * The scratch data dir is named after the process (floe-warm-up-PID-...); a process killed
 * with -9 during its warm-up leaves one behind, so each warm-up first removes those of
 * processes that are gone (removeStaleScratch).
 *
 * Bounds: WARM_UP_DEADLINE_MS by default (a slow machine stops where it is and goes on
 * starting); the load's size is the constants below. A failure is reported to the caller,
 * which logs it and starts anyway: the warm-up changes how fast the first big range is, never
 * what any answer is. `--experimental-warm-up=false` turns it off.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EtcdGrpcServer, type GrpcServerOptions } from '../api';
import { prefixEnd } from '../concurrency';
import { etcdServices, SERVICE_NAMES, type EtcdServices } from '../etcdpb';
import type * as pb from '../etcdpb/messages';
import { FloeError } from '../pkg';
import type { MemberConfig } from '../server';
import type { MemberFactory, ServedMember } from './serve';
import { GrpcWireClient, type GrpcWireStream } from './warm-up-wire';

/** Keys the big ranges read: at least the reader's sweep minimum (256), so they are swept. */
export const WARM_UP_RANGE_KEYS = 320;
/** Their values: 320 x 4 KiB answers span two 1 MiB slabs and pass the 1 MiB send-ahead bound. */
export const WARM_UP_RANGE_VALUE_BYTES = 4 << 10;
/**
 * Whole ranges read while the writers run. Measured with bench/reader-phases.sh (first reader
 * phase's put p99 over the alone phase's): 2 ranges gave x0.9-1.9 in 0.8-1.1 s of warm-up,
 * 6 ranges x1.0-1.7 in 2.1 s, none x2.3.
 */
export const WARM_UP_RANGES = 2;
/** Concurrent writers (two connections carry the load: one for writes, one for reads and streams). */
export const WARM_UP_WRITERS = 32;
/** Keys and value size of the writes: the benchmarks' small values. */
export const WARM_UP_WRITE_KEYS = 1000;
export const WARM_UP_WRITE_VALUE_BYTES = 256;
/** The page size of the paginated list (as Kubernetes lists). */
export const WARM_UP_PAGE = 100;
/** Past this, the warm-up stops where it is. */
export const WARM_UP_DEADLINE_MS = 5000;

export interface WarmUpOptions {
  readonly startMember: MemberFactory;
  /** The real member's settings; the scratch member takes them but for its identity and files. */
  readonly member: Partial<MemberConfig>;
  /** The real server's options (metrics included: pass ones of the scratch member's own). */
  readonly server: GrpcServerOptions;
  /** Aborting stops the load and cleans up; warmUp then rejects with ERR_WARM_UP_ABORTED. */
  readonly signal?: AbortSignal;
  readonly deadlineMs?: number;
  /** Where the scratch data dir is made (default: the OS temp dir). */
  readonly tmpDir?: string;
}

/** What the warm-up did. */
export interface WarmUpReport {
  readonly ms: number;
  /** Unary calls answered OK. */
  readonly calls: number;
  /** Whole ranges of WARM_UP_RANGE_KEYS keys read. */
  readonly ranges: number;
  readonly watchEvents: number;
  readonly keepAlives: number;
  /** The deadline stopped the load before it was done. */
  readonly cutShort: boolean;
}

const RANGE_PREFIX = Buffer.from('warm-up/r/');
const WRITE_PREFIX = Buffer.from('warm-up/w/');
const ALL_PREFIX = Buffer.from('warm-up/');

const keyAt = (prefix: Buffer, i: number): Buffer => Buffer.concat([prefix, Buffer.from(String(i).padStart(6, '0'))]);

/** Runs the warm-up; see the file comment. Resolves once the scratch member is gone. */
export async function warmUp(opts: WarmUpOptions): Promise<WarmUpReport> {
  const started = Date.now();
  const tmp = opts.tmpDir ?? os.tmpdir();
  removeStaleScratch(tmp);
  const dir = fs.mkdtempSync(path.join(tmp, `${SCRATCH_PREFIX}${process.pid}-`));
  let member: ServedMember | null = null;
  let server: EtcdGrpcServer | null = null;
  const clients: GrpcWireClient[] = [];
  const onAbort = (): void => {
    for (const c of clients) c.close();
  };
  opts.signal?.addEventListener('abort', onAbort);
  try {
    const peer = 'http://127.0.0.1:2380';
    member = await opts.startMember({
      ...opts.member,
      name: 'warm-up',
      dataDir: dir,
      listenPeerUrls: [],
      initialAdvertisePeerUrls: [peer],
      advertiseClientUrls: ['http://127.0.0.1:2379'],
      initialCluster: `warm-up=${peer}`,
      initialClusterState: 'new',
      // The load's quota must not depend on the real member's.
      quotaBackendBytes: 0,
      logger: { log: () => undefined },
    });
    await member.ready;
    abortedCheck(opts.signal);
    server = new EtcdGrpcServer(member, opts.server);
    const port = await server.listen('127.0.0.1', 0);
    for (let i = 0; i < 2; i++) clients.push(await GrpcWireClient.connect(`127.0.0.1:${port}`));
    const load = new Load(clients[0]!, clients[1]!, started + (opts.deadlineMs ?? WARM_UP_DEADLINE_MS), opts.signal);
    await load.run();
    abortedCheck(opts.signal);
    return { ms: Date.now() - started, calls: load.calls, ranges: load.ranges, watchEvents: load.watchEvents, keepAlives: load.keepAlives, cutShort: load.cutShort };
  } catch (e) {
    abortedCheck(opts.signal);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    for (const c of clients) c.close();
    server?.forceClose();
    await member?.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const SCRATCH_PREFIX = 'floe-warm-up-';
/** A scratch dir's name: the prefix, the pid of the process that made it, mkdtemp's suffix. */
const SCRATCH_NAME = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`);

/**
 * Removes from `tmp` the scratch data dirs of warm-ups whose process is gone. A dir whose
 * process still runs (or whose pid was reused) is left alone.
 */
export function removeStaleScratch(tmp: string): void {
  for (const name of fs.readdirSync(tmp)) {
    const m = SCRATCH_NAME.exec(name);
    if (m === null || processRuns(Number(m[1]))) continue;
    fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function abortedCheck(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new FloeError('ERR_WARM_UP_ABORTED', 'warm-up aborted');
}

const path_ = (service: keyof EtcdServices, method: string): string => `/${SERVICE_NAMES[service]}/${method}`;

/** The mixed load over two connections; one instance per warm-up. */
class Load {
  private readonly svc = etcdServices();
  calls = 0;
  ranges = 0;
  watchEvents = 0;
  keepAlives = 0;
  cutShort = false;
  private readerDone = false;
  private lease = '0';

  constructor(
    private readonly reads: GrpcWireClient,
    private readonly writes: GrpcWireClient,
    private readonly deadline: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** True once the load must stop: past the deadline (noted as cut short) or aborted. */
  private over(): boolean {
    if (this.signal?.aborted === true) return true;
    if (Date.now() > this.deadline) this.cutShort = true;
    return this.cutShort;
  }

  private async call<Req, Res>(c: GrpcWireClient, service: keyof EtcdServices, method: string, req: Req): Promise<Res> {
    const def = (this.svc[service] as unknown as Record<string, { requestSerialize(r: Req): Buffer; responseDeserialize(b: Buffer): Res }>)[method]!;
    const res = def.responseDeserialize(await c.unary(path_(service, method), def.requestSerialize(req)));
    this.calls++;
    return res;
  }

  private put(c: GrpcWireClient, key: Buffer, value: Buffer, extra: Partial<pb.PutRequest> = {}): Promise<pb.PutResponse> {
    return this.call(c, 'kv', 'Put', { key, value, ...extra });
  }

  private range(req: Partial<pb.RangeRequest>): Promise<pb.RangeResponse> {
    return this.call(this.reads, 'kv', 'Range', req);
  }

  async run(): Promise<void> {
    await this.seed();
    const grant = await this.call<Partial<pb.LeaseGrantRequest>, pb.LeaseGrantResponse>(this.writes, 'lease', 'LeaseGrant', { TTL: '60' });
    this.lease = String(grant.ID);
    const watch = this.watch();
    const keepAlive = this.reads.stream(path_('lease', 'LeaseKeepAlive'), () => this.keepAlives++);
    const writers = Array.from({ length: WARM_UP_WRITERS }, (_, w) => this.writer(w, keepAlive));
    await Promise.all([this.reader(), ...writers]);
    keepAlive.end();
    watch.end();
    if (this.over()) return;
    await this.call(this.writes, 'lease', 'LeaseRevoke', { ID: this.lease });
    const last = await this.range({ key: ALL_PREFIX, range_end: prefixEnd(ALL_PREFIX), count_only: true });
    await this.call(this.writes, 'kv', 'Compact', { revision: String(last.header.revision), physical: true });
    await this.call(this.reads, 'maintenance', 'Status', {});
  }

  /** The keys the big ranges read, written by every writer in turn. */
  private async seed(): Promise<void> {
    const value = Buffer.alloc(WARM_UP_RANGE_VALUE_BYTES, 'v');
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < WARM_UP_RANGE_KEYS && !this.over()) await this.put(this.writes, keyAt(RANGE_PREFIX, next++), value);
    };
    await Promise.all(Array.from({ length: WARM_UP_WRITERS }, one));
  }

  /** A watch over every warm-up key, with previous values and progress notifications. */
  private watch(): GrpcWireStream {
    const def = this.svc.watch.Watch as unknown as { requestSerialize(r: unknown): Buffer; responseDeserialize(b: Buffer): pb.WatchResponse };
    const s = this.reads.stream(path_('watch', 'Watch'), (m) => {
      this.watchEvents += def.responseDeserialize(m).events?.length ?? 0;
    });
    s.send(def.requestSerialize({ create_request: { key: ALL_PREFIX, range_end: prefixEnd(ALL_PREFIX), prev_kv: true, progress_notify: true } }));
    return s;
  }

  /** Whole ranges, linearizable and serializable, then the other shapes of a read once each. */
  private async reader(): Promise<void> {
    try {
      const whole = { key: RANGE_PREFIX, range_end: prefixEnd(RANGE_PREFIX) };
      for (let i = 0; i < WARM_UP_RANGES && !this.over(); i++) {
        const r = await this.range({ ...whole, serializable: i % 3 === 2 });
        if (r.kvs?.length !== WARM_UP_RANGE_KEYS) throw new FloeError('ERR_WARM_UP_CHECK', `warm-up range read ${r.kvs?.length ?? 0} keys, wrote ${WARM_UP_RANGE_KEYS}`);
        this.ranges++;
      }
      // A paginated list, as Kubernetes lists: pages of WARM_UP_PAGE at one revision.
      let from = whole.key;
      let rev = '0';
      for (;;) {
        if (this.over()) return;
        const page = await this.range({ key: from, range_end: whole.range_end, limit: String(WARM_UP_PAGE), revision: rev });
        const kvs = page.kvs ?? [];
        if (!page.more || kvs.length === 0) break;
        rev = String(page.header.revision);
        from = Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.from([0])]);
      }
      await this.range({ ...whole, keys_only: true });
      await this.range({ ...whole, count_only: true });
      await this.range({ ...whole, sort_order: 2, sort_target: 3, limit: '10' });
    } finally {
      this.readerDone = true;
    }
  }

  /** Writes of every kind until the reader is done: mostly puts, some txns, deletes, gets. */
  private async writer(w: number, keepAlive: GrpcWireStream): Promise<void> {
    const value = Buffer.alloc(WARM_UP_WRITE_VALUE_BYTES, 'w');
    const keepAliveReq = this.svc.lease.LeaseKeepAlive.requestSerialize({ ID: this.lease });
    for (let n = w; !this.readerDone && !this.over(); n += WARM_UP_WRITERS) {
      const key = keyAt(WRITE_PREFIX, (n * 7919) % WARM_UP_WRITE_KEYS);
      switch (n % 16) {
        case 3: // Kubernetes' guarded update: put if the key exists, else read it.
          await this.call(this.writes, 'kv', 'Txn', {
            compare: [{ result: 1, target: 0, key, version: '0' }],
            success: [{ request_put: { key, value, prev_kv: true } }],
            failure: [{ request_range: { key } }],
          });
          break;
        case 7:
          await this.put(this.writes, key, value, { lease: this.lease });
          keepAlive.send(keepAliveReq);
          break;
        case 11:
          await this.call(this.writes, 'kv', 'DeleteRange', { key, prev_kv: true });
          break;
        case 13:
          await this.call(this.writes, 'kv', 'Range', { key });
          break;
        default:
          await this.put(this.writes, key, value);
      }
    }
  }
}
