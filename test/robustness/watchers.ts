/**
 * Watch recording for the robustness runs. A `WatchSession` is one gRPC watch stream with one
 * watch; it records every response (events, progress, compaction cancel) as a checker
 * WatchRecord. A `CompleteWatcher` follows the whole key space from revision 1 across faults:
 * when its stream breaks it opens a new session on another member at the revision after the
 * last one it heard of, so its sessions together cover every write of the run.
 *
 * Progress: a session asks for progress now and then (WatchProgressRequest); the answer's
 * header revision says every event up to it was sent. Only asked once the session has caught
 * up with its creation revision: etcd 3.4.23 answers a progress request with the store's
 * revision even for a watcher still catching up (etcd-io/etcd#15220, fixed in 3.4.24), which
 * breaks the bookmarkable property whenever a watcher falls behind; runs against that etcd turn
 * progress requests off (`progress: false`) and then hear only of events.
 */
import type { Etcd3, IWatchResponse } from 'etcd3';
import { Rng } from '../../src/pkg';
import type { WatchEvent, WatchRecord, WatchResponse } from './checker';
import { bytes, endpointClient, kvFromWire } from './client';
import { sleep } from '../cluster/cluster';

/** etcd's watch id of responses not tied to one watch (progress answers). */
const INVALID_WATCH_ID = '-1';

/** One watch stream, recording as it goes. */
export class WatchSession {
  readonly responses: WatchResponse[] = [];
  createdRevision = 0;
  /** The highest revision this session has heard of (event or progress). */
  heardUpTo = 0;
  ended = false;
  cancelled = false;
  endReason = '';
  private stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>> | undefined;
  readonly finished: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly client: Etcd3,
    readonly name: string,
    readonly key: string,
    readonly rangeEnd: string,
    readonly startRevision: number,
  ) {
    this.finished = new Promise((r) => (this.finish = r));
  }

  /** Opens the stream and sends the create request; resolves once created (or failed). */
  async open(createTimeoutMs: number): Promise<boolean> {
    try {
      this.stream = await this.client.watchClient.watch();
    } catch (e) {
      this.end(`open: ${(e as Error).message}`);
      return false;
    }
    const created = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), createTimeoutMs);
      this.stream!.on('data', (r: IWatchResponse) => {
        if (r.created) {
          clearTimeout(timer);
          this.createdRevision = Number(r.header.revision);
          resolve(true);
        }
        this.onResponse(r);
      });
      const stop = (why: string): void => {
        clearTimeout(timer);
        resolve(false);
        this.end(why);
      };
      this.stream!.on('error', (e: Error) => stop(`error: ${e.message}`));
      this.stream!.on('end', () => stop('end'));
    });
    this.stream.write({ create_request: { key: bytes(this.key), range_end: bytes(this.rangeEnd), start_revision: this.startRevision, prev_kv: true } });
    const ok = await created;
    if (!ok) this.close('not created in time');
    return ok;
  }

  private onResponse(r: IWatchResponse): void {
    if (this.ended) return;
    const revision = Number(r.header?.revision ?? 0);
    const compactRevision = Number(r.compact_revision ?? 0);
    if (r.created && (r.events ?? []).length === 0 && !r.canceled) return;
    if (r.canceled) {
      this.cancelled = true;
      if (compactRevision > 0) this.responses.push({ revision, events: [], compactRevision });
      this.close(`cancelled: ${r.cancel_reason ?? ''} (compact revision ${compactRevision})`);
      return;
    }
    const events: WatchEvent[] = (r.events ?? []).map((e) => {
      const kv = kvFromWire(e.kv)!;
      return { type: e.type === 'Delete' || (e.type as unknown) === 1 ? 'delete' : 'put', kv, prevKv: kvFromWire(e.prev_kv) };
    });
    const progress = events.length === 0 && (r.watch_id === INVALID_WATCH_ID || String(r.watch_id) === INVALID_WATCH_ID || !r.created);
    this.responses.push({ revision, events, ...(progress ? { progressNotify: true } : {}) });
    for (const e of events) this.heardUpTo = Math.max(this.heardUpTo, e.kv.modRevision);
    if (progress) this.heardUpTo = Math.max(this.heardUpTo, revision);
  }

  /** Caught up: it has heard of its creation revision (or started after it). */
  caughtUp(): boolean {
    return this.createdRevision > 0 && (this.heardUpTo >= this.createdRevision || this.startRevision === 0 || this.startRevision > this.createdRevision);
  }

  /** Asks for a progress notification (only once caught up; see the file comment). */
  requestProgress(): void {
    if (this.ended || this.stream === undefined || !this.caughtUp()) return;
    try {
      this.stream.write({ progress_request: {} });
    } catch {
      // The stream broke; its 'error' handler ends the session.
    }
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = why;
    this.finish();
  }

  /** Ends the stream. */
  close(why = 'closed'): void {
    this.end(why);
    try {
      this.stream?.cancel();
    } catch {
      // Already gone.
    }
  }

  /** The checker's record of this session. */
  record(): WatchRecord {
    return { name: this.name, key: this.key, rangeEnd: this.rangeEnd, startRevision: this.startRevision, createdRevision: this.createdRevision, prevKv: true, responses: this.responses };
  }
}

/** Whole key space: every key >= '\0'. */
const ALL_KEY = '\0';
const ALL_END = '\0';

/** Watch sessions over clients of the given endpoints, run by a subclass until stopped. */
abstract class SessionGroup {
  readonly sessions: WatchSession[] = [];
  protected stopped = false;
  protected readonly clients: Etcd3[];
  private done: Promise<void> = Promise.resolve();

  constructor(endpoints: readonly string[]) {
    this.clients = endpoints.map((e) => endpointClient(e, 5_000));
  }

  /** Starts the subclass's loop; called at the end of its constructor, once its fields exist. */
  protected begin(run: () => Promise<void>): void {
    this.done = run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.sessions) s.close('stopped');
    await this.done;
    for (const c of this.clients) c.close();
  }

  records(): WatchRecord[] {
    return this.sessions.filter((s) => s.createdRevision > 0).map((s) => s.record());
  }
}

/** Follows every write from revision 1 across member failures. */
export class CompleteWatcher extends SessionGroup {
  /** False once a session lost its place (compacted away, or could not resume). */
  contiguous = true;

  constructor(
    readonly name: string,
    endpoints: readonly string[],
    private readonly options: { seed: number; progress: boolean; progressEveryMs: number; createTimeoutMs: number },
  ) {
    super(endpoints);
    this.begin(() => this.run());
  }

  /** The revision every write up to which this watcher has seen. */
  heardUpTo(): number {
    let h = 0;
    for (const s of this.sessions) h = Math.max(h, s.heardUpTo);
    return h;
  }

  private async run(): Promise<void> {
    const rng = new Rng(this.options.seed);
    let at = rng.int(this.clients.length);
    while (!this.stopped) {
      const from = this.sessions.length === 0 ? 1 : this.heardUpTo() + 1;
      const s = new WatchSession(this.clients[at % this.clients.length]!, `${this.name}#${this.sessions.length}`, ALL_KEY, ALL_END, from);
      this.sessions.push(s);
      const ok = await s.open(this.options.createTimeoutMs);
      if (ok) {
        while (!s.ended && !this.stopped) {
          if (this.options.progress) s.requestProgress();
          await Promise.race([s.finished, sleep(this.options.progressEveryMs)]);
        }
        if (s.cancelled) this.contiguous = false;
      }
      if (!this.stopped) {
        at++;
        await sleep(200);
      }
    }
  }

  /** Asks the live session for progress until it has heard of `revision`, within `timeoutMs`. */
  async waitHeard(revision: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.heardUpTo() >= revision) return true;
      if (this.options.progress) this.sessions[this.sessions.length - 1]?.requestProgress();
      await sleep(100);
    }
    return this.heardUpTo() >= revision;
  }

}

/**
 * Starts watches at random past revisions on random members and key ranges, each lasting a
 * random while, until stopped. Their records are validated like the complete watcher's.
 */
export class RandomWatchers extends SessionGroup {
  constructor(
    endpoints: readonly string[],
    private readonly options: { seed: number; everyMs: number; lifeMs: number; progress: boolean; progressEveryMs: number; currentRevision: () => number; compactedRevision: () => number; keys: readonly string[]; prefix: string; prefixEnd: string },
  ) {
    super(endpoints);
    this.begin(() => this.run());
  }

  private async run(): Promise<void> {
    const rng = new Rng(this.options.seed ^ 0x77a7c4);
    const live: Promise<void>[] = [];
    while (!this.stopped) {
      await sleep(this.options.everyMs);
      if (this.stopped) break;
      const current = this.options.currentRevision();
      // At or above the compaction, so prevKvs are all there (see Compactor).
      const low = Math.max(1, this.options.compactedRevision() + 1);
      const start = current <= low ? 0 : low + rng.int(current - low + 1);
      const single = rng.chance(0.5);
      const key = single ? rng.pick(this.options.keys) : this.options.prefix;
      const s = new WatchSession(rng.pick(this.clients), `w${this.sessions.length}@${start}`, key, single ? '' : this.options.prefixEnd, start);
      this.sessions.push(s);
      const life = this.options.lifeMs / 2 + rng.int(this.options.lifeMs);
      live.push(
        (async () => {
          if (!(await s.open(3_000))) return;
          const until = Date.now() + life;
          while (!s.ended && !this.stopped && Date.now() < until) {
            if (this.options.progress) s.requestProgress();
            await Promise.race([s.finished, sleep(this.options.progressEveryMs)]);
          }
          s.close('lifetime over');
        })(),
      );
    }
    await Promise.all(live);
  }

  /** The least revision a live session still needs (Infinity when none is live). */
  neededRevision(): number {
    let need = Infinity;
    for (const s of this.sessions) if (!s.ended) need = Math.min(need, Math.max(s.startRevision, s.heardUpTo));
    return need;
  }

}
