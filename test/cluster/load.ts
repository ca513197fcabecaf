/**
 * A bounded writer for fault tests: puts `<prefix><n>` = `v<n>` through the npm etcd3 client
 * with a few puts in flight, and records which puts were acknowledged. Acknowledged writes
 * must survive any fault; unacknowledged ones may or may not have been applied.
 *
 * It holds one client per endpoint and moves to the next endpoint after a failed put, as a
 * client with several endpoints would, without the client library's own retries (so a put
 * fails fast and its outcome is exactly what the writer records).
 */
import { Etcd3, type IOptions } from 'etcd3';

type FaultPolicy = NonNullable<IOptions['faultHandling']>['global'];

/**
 * A policy that runs each call once: no retries, no circuit breaker, so a call's outcome is
 * exactly what the caller sees (etcd3's default retries and opens a breaker per host).
 */
const once = { execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => fn({ signal: new AbortController().signal }) } as unknown as FaultPolicy;

/** An etcd3 client of one endpoint whose unary calls each end within `callTimeoutMs`. */
export function singleEndpointClient(endpoint: string, callTimeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: `http://${endpoint}`,
    faultHandling: { host: () => once!, global: once },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
}

/** Bounds of one writer run. */
export interface WriterOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  /** Stop after this many puts were started. */
  readonly maxPuts: number;
  /** Stop starting puts after this long. */
  readonly maxDurationMs: number;
  /** Puts in flight at once. */
  readonly concurrency: number;
  /** Deadline of one put. */
  readonly putTimeoutMs?: number;
}

/** What a writer did. */
export interface WriterResult {
  /** Key → value of every acknowledged put. */
  readonly acked: Map<string, string>;
  /** Date.now() of each acknowledgement, in order. */
  readonly ackTimesMs: readonly number[];
  readonly failed: number;
  readonly started: number;
  readonly durationMs: number;
  /** The last error message seen, for reports. */
  readonly lastError: string | undefined;
}

/** Runs a writer until `stop()` or a bound is reached. */
export class Writer {
  private stopped = false;
  private readonly clients: Etcd3[];
  private readonly acked = new Map<string, string>();
  private readonly ackTimesMs: number[] = [];
  private failed = 0;
  private next = 0;
  private endpointAt = 0;
  private lastError: string | undefined;
  readonly done: Promise<WriterResult>;

  constructor(private readonly options: WriterOptions) {
    this.clients = options.endpoints.map((e) => singleEndpointClient(e, options.putTimeoutMs ?? 3_000));
    this.done = this.run();
  }

  /** Stops starting puts; `done` resolves once the ones in flight end. */
  stop(): Promise<WriterResult> {
    this.stopped = true;
    return this.done;
  }

  private async run(): Promise<WriterResult> {
    const started = Date.now();
    const deadline = started + this.options.maxDurationMs;
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.next < this.options.maxPuts && Date.now() < deadline) {
        const n = this.next++;
        const key = `${this.options.prefix}${String(n).padStart(6, '0')}`;
        const value = `v${n}`;
        const at = this.endpointAt % this.clients.length;
        try {
          await this.clients[at]!.put(key).value(value).exec();
          this.acked.set(key, value);
          this.ackTimesMs.push(Date.now());
        } catch (e) {
          this.failed++;
          this.lastError = e instanceof Error ? e.message : String(e);
          // Only the first worker to see this endpoint fail moves everyone on.
          if (this.endpointAt % this.clients.length === at) this.endpointAt++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, () => worker()));
    for (const c of this.clients) c.close();
    return { acked: this.acked, ackTimesMs: this.ackTimesMs, failed: this.failed, started: this.next, durationMs: Date.now() - started, lastError: this.lastError };
  }
}
