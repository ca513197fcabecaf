/**
 * A TCP proxy (node:net) in front of one member's peer port, used to inject network faults
 * between real member processes. The member listens on its real peer port and advertises the
 * proxy's port, so every connection another member dials to it passes through here.
 *
 * A member's own outgoing connections go to the *other* members' proxies, so cutting one
 * member off takes two things: its own proxy drops everything, and every other proxy drops
 * the connections that member dialed. A proxy tells who dialed a connection through an
 * injected `originOf` lookup (cluster.ts finds the process owning the client socket in /proc),
 * which works for any peer protocol, etcd's rafthttp and Floe's alike.
 *
 * Modes: `pass` forwards; `drop` refuses new connections and destroys open ones (from the
 * chosen origins, or all); `delay` forwards every chunk `delayMs` later, in order.
 */
import * as net from 'node:net';

/** What the proxy does with a connection. */
export type ProxyMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'delay'; readonly delayMs: number };

/** Who dialed a connection: a label (member name) or undefined when it cannot be told. */
export type OriginLookup = (clientPort: number, proxyPort: number) => Promise<string | undefined>;

/** Bound on bytes queued in one direction of a delayed connection before reading pauses. */
export const DELAY_QUEUE_LIMIT_BYTES = 8 * 1024 * 1024;
/** Bound on open connections through one proxy; more are refused (a runaway dialer). */
export const MAX_CONNECTIONS = 256;
/** Largest delay accepted, so a test cannot stall a member for longer than its own bound. */
export const MAX_DELAY_MS = 10_000;

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Who dialed it, once known. */
  origin: string | undefined;
}

/** Counters a test can assert on (that a fault actually cut something). */
export interface ProxyStats {
  accepted: number;
  /** Connections refused or destroyed by a drop. */
  dropped: number;
  forwardedBytes: number;
}

/** One proxy: listens on `listenPort`, forwards to `targetPort`, both on 127.0.0.1. */
export class PeerProxy {
  readonly stats: ProxyStats = { accepted: 0, dropped: 0, forwardedBytes: 0 };
  private mode: ProxyMode = { kind: 'pass' };
  /** Origins whose connections are dropped whatever the mode (the far side of a partition). */
  private readonly blockedOrigins = new Set<string>();
  private readonly links = new Set<Link>();
  private server: net.Server | undefined;

  constructor(
    readonly listenPort: number,
    readonly targetPort: number,
    private readonly originOf?: OriginLookup,
  ) {}

  /** Starts listening; rejects when the port is taken. */
  async start(): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.listenPort, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Changes the mode; `drop` destroys open connections at once. */
  setMode(mode: ProxyMode): void {
    if (mode.kind === 'delay' && !(mode.delayMs >= 0 && mode.delayMs <= MAX_DELAY_MS)) {
      throw new Error(`delay ${mode.delayMs} ms outside [0, ${MAX_DELAY_MS}]`);
    }
    this.mode = mode;
    if (mode.kind === 'drop') for (const link of [...this.links]) this.cut(link);
  }

  /** Drops connections dialed by `origin` (in any mode) until heal(). */
  blockOrigin(origin: string): void {
    this.blockedOrigins.add(origin);
    for (const link of [...this.links]) if (link.origin === origin) this.cut(link);
  }

  /** Back to `pass` with no blocked origins. Dropped connections stay closed; peers redial. */
  heal(): void {
    this.mode = { kind: 'pass' };
    this.blockedOrigins.clear();
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const link of [...this.links]) this.cut(link, false);
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private cut(link: Link, count = true): void {
    if (!this.links.delete(link)) return;
    if (count) this.stats.dropped++;
    link.client.destroy();
    link.upstream.destroy();
  }

  private accept(client: net.Socket): void {
    this.stats.accepted++;
    client.on('error', () => undefined);
    if (this.mode.kind === 'drop' || this.links.size >= MAX_CONNECTIONS) {
      this.stats.dropped++;
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1' });
    upstream.on('error', () => undefined);
    const link: Link = { client, upstream, origin: undefined };
    this.links.add(link);
    const close = (): void => {
      if (!this.links.delete(link)) return;
      client.destroy();
      upstream.destroy();
    };
    client.once('close', close);
    upstream.once('close', close);
    // The origin is resolved before a byte flows, so a blocked origin never gets one through.
    const clientPort = client.remotePort ?? 0;
    const resolveOrigin = this.originOf === undefined ? Promise.resolve(undefined) : this.originOf(clientPort, this.listenPort);
    resolveOrigin.then(
      (origin) => {
        link.origin = origin;
        if (!this.links.has(link)) return;
        if (origin !== undefined && this.blockedOrigins.has(origin)) return this.cut(link);
        if (this.mode.kind === 'drop') return this.cut(link);
        this.forward(link, client, upstream);
        this.forward(link, upstream, client);
        client.resume();
      },
      () => this.cut(link),
    );
  }

  /** Copies `from` to `to`, honouring the mode at the time each chunk arrives. */
  private forward(link: Link, from: net.Socket, to: net.Socket): void {
    let queuedBytes = 0;
    from.on('data', (chunk: Buffer) => {
      if (!this.links.has(link)) return;
      if (this.mode.kind === 'drop' || (link.origin !== undefined && this.blockedOrigins.has(link.origin))) return this.cut(link);
      this.stats.forwardedBytes += chunk.length;
      if (this.mode.kind !== 'delay' || this.mode.delayMs === 0) {
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      // Timers with equal delays fire in the order they were set, so chunks stay in order.
      queuedBytes += chunk.length;
      if (queuedBytes > DELAY_QUEUE_LIMIT_BYTES) from.pause();
      setTimeout(() => {
        queuedBytes -= chunk.length;
        if (this.links.has(link)) to.write(chunk);
        if (queuedBytes <= DELAY_QUEUE_LIMIT_BYTES && from.isPaused()) from.resume();
      }, this.mode.delayMs);
    });
    from.once('end', () => {
      // A delayed connection's end waits behind its data.
      const delayMs = this.mode.kind === 'delay' ? this.mode.delayMs : 0;
      setTimeout(() => {
        if (this.links.has(link)) to.end();
      }, delayMs);
    });
  }
}
