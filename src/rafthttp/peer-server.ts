/**
 * The peer listener: the transport's paths plus etcd's peer endpoints GET /members and
 * GET /version.
 */
import * as http from 'node:http';
import { FloeError } from '../pkg';
import type { Transport } from './transport';

/** Code of the FloeError when the peer listener cannot start. */
export const ERR_PEER_LISTEN = 'ERR_RAFTHTTP_LISTEN';

export interface PeerServerInfo {
  /** The member list as JSON (what etcd's /members answers). */
  membersJson(): string;
  readonly version: { readonly etcdserver: string; readonly etcdcluster: string };
  /** Sent as X-Etcd-Cluster-ID on /members (a joining member takes its cluster id from it). */
  readonly clusterId?: bigint;
  /** The member's own peer endpoints (e.g. lease forwarding); returns false for other paths. */
  readonly routes?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export class PeerServer {
  private readonly server: http.Server;
  private listening = false;

  constructor(
    private readonly transport: Transport,
    private readonly info: PeerServerInfo,
  ) {
    this.server = http.createServer((req, res) => this.route(req, res));
    // Message streams live as long as the members do: no whole-request deadline.
    this.server.requestTimeout = 0;
  }

  /** Starts listening on `url` (http://host:port; port 0 picks a free one). */
  listen(url: string): Promise<void> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(new FloeError(ERR_PEER_LISTEN, `invalid peer URL ${JSON.stringify(url)}`));
    }
    if (u.protocol !== 'http:') {
      return Promise.reject(new FloeError(ERR_PEER_LISTEN, `peer URL ${url}: only http:// is supported`));
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port === '' ? 80 : Number(u.port);
    return new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        const why = e.code === 'EADDRINUSE' ? 'bind: address already in use' : e.message;
        reject(new FloeError(ERR_PEER_LISTEN, `listen tcp ${u.host}: ${why}`, { cause: e }));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.listening = true;
        resolve();
      });
    });
  }

  /** The port listened on (after listen()). */
  get port(): number {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new FloeError(ERR_PEER_LISTEN, 'peer server is not listening');
    return a.port;
  }

  /** Stops listening and closes every connection, streams included. */
  close(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.transport.handle(req, res)) return;
    if (this.info.routes?.(req, res) === true) return;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/members' || path === '/version') {
      if (req.method !== 'GET') {
        res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Method Not Allowed\n');
        return;
      }
      const body = path === '/members'
        ? this.info.membersJson()
        : JSON.stringify({ etcdserver: this.info.version.etcdserver, etcdcluster: this.info.version.etcdcluster });
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' };
      if (this.info.clusterId !== undefined) headers['X-Etcd-Cluster-ID'] = this.info.clusterId.toString(16);
      res.writeHead(200, headers);
      res.end(body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
    req.resume();
  }
}
