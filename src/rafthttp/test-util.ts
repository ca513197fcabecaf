/**
 * Test support: members made of a real Transport and PeerServer on 127.0.0.1 (port 0), with
 * a handler that records what the transport tells the member.
 */
import * as net from 'node:net';
import type { Message } from '../raft';
import { PeerServer } from './peer-server';
import { Transport } from './transport';
import type { TransportHandler, TransportOptions } from './options';
import { tlsInfoEmpty } from '../tls';

export interface LogLine {
  readonly level: string;
  readonly pkg: string;
  readonly msg: string;
}

/** A handler that records every call; snapshot bodies go to `onSnapshot` (default: drain). */
export class RecordingHandler implements TransportHandler {
  readonly received: Message[] = [];
  readonly unreachable: bigint[] = [];
  readonly snapshotReports: { id: bigint; status: 'finish' | 'failure' }[] = [];
  removedCalls = 0;
  readonly removedIds = new Set<bigint>();
  onSnapshot: (m: Message, sizeBytes: number, body: AsyncIterable<Buffer>) => Promise<void> = async (_m, _n, body) => {
    for await (const _ of body);
  };

  process(m: Message): void {
    this.received.push(m);
  }
  receiveSnapshot(m: Message, sizeBytes: number, body: AsyncIterable<Buffer>): Promise<void> {
    return this.onSnapshot(m, sizeBytes, body);
  }
  reportUnreachable(id: bigint): void {
    this.unreachable.push(id);
  }
  reportSnapshot(id: bigint, status: 'finish' | 'failure'): void {
    this.snapshotReports.push({ id, status });
  }
  onRemoved(): void {
    this.removedCalls++;
  }
  isRemoved(id: bigint): boolean {
    return this.removedIds.has(id);
  }
}

/** One member's transport side, listening on 127.0.0.1. */
export class TestMember {
  readonly handler = new RecordingHandler();
  readonly logs: LogLine[] = [];
  readonly transport: Transport;
  readonly server: PeerServer;

  constructor(
    readonly id: bigint,
    private readonly opts: Partial<TransportOptions> & { clusterId?: bigint } = {},
    members = '[]',
  ) {
    this.transport = new Transport({
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
      ...opts,
      memberId: id,
      clusterId: opts.clusterId ?? 0xc1n,
      handler: this.handler,
      logger: { log: (level, pkg, msg) => this.logs.push({ level, pkg, msg }) },
    });
    this.server = new PeerServer(
      this.transport,
      {
        membersJson: () => members,
        version: { etcdserver: '3.4.23', etcdcluster: '3.4.0' },
      },
      opts.tls === undefined ? undefined : { tls: opts.tls, onReject: (line) => this.logs.push({ level: 'I', pkg: 'embed', msg: line }) },
    );
  }

  /** https when the member has TLS settings with a certificate. */
  get scheme(): 'http' | 'https' {
    return this.opts.tls !== undefined && !tlsInfoEmpty(this.opts.tls) ? 'https' : 'http';
  }

  /** Listens on `port` (0: any free one) and returns this member's URL. */
  async start(port = 0): Promise<string> {
    await this.server.listen(`${this.scheme}://127.0.0.1:${port}`);
    return this.url;
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.server.port}`;
  }

  hasLog(re: RegExp): boolean {
    return this.logs.some((l) => re.test(l.msg));
  }

  async stop(): Promise<void> {
    await this.transport.close();
    await this.server.close();
  }
}

/** Polls `cond` every 5 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TCP port that was free a moment ago (bound, then released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Active handles that would keep the process alive (sockets, servers, timers). */
export function liveHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout' || r === 'Immediate');
}
