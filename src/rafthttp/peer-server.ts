/**
 * The peer listener: the transport's paths plus etcd's peer endpoints GET /members and
 * GET /version, over http:// or, for https:// peer URLs, TLS with the peer settings
 * (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { FloeError, isFloeError } from '../pkg';
import { ERR_TLS_CONFIG, rejectedConnectionLine, serverTlsOptions, tlsInfoEmpty, verifyTlsClient, type TlsInfo } from '../tls';
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

/** TLS of a peer listener: the settings and where refused connections are reported. */
export interface PeerServerTls {
  readonly tls: TlsInfo;
  /** Told etcd's "rejected connection from ..." line for each refused handshake or client. */
  readonly onReject?: (line: string) => void;
}

export class PeerServer {
  private server: http.Server | https.Server;
  private listening = false;

  constructor(
    private readonly transport: Transport,
    private readonly info: PeerServerInfo,
    private readonly secure?: PeerServerTls,
  ) {
    this.server = http.createServer((req, res) => this.route(req, res));
    // Message streams live as long as the members do: no whole-request deadline.
    this.server.requestTimeout = 0;
  }

  /** The TLS server for https:// URLs; refused clients are closed and reported. */
  private tlsServer(address: string): https.Server {
    const info = this.secure?.tls;
    if (info === undefined || tlsInfoEmpty(info)) {
      throw new FloeError(ERR_PEER_LISTEN, `cannot listen on TLS for ${address}: KeyFile and CertFile are not presented`);
    }
    const report = (socket: tls.TLSSocket, err: Error): void => this.secure?.onReject?.(rejectedConnectionLine(socket, err));
    // Peers speak HTTP/1.1 only (no h2 in ALPN: Node's https server would not serve it).
    const server = https.createServer(serverTlsOptions(info, ['http/1.1']), (req, res) => this.route(req, res));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const refused = verifyTlsClient(info, socket);
      if (refused === null) return;
      report(socket, refused);
      socket.destroy();
    });
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => report(socket, err));
    server.requestTimeout = 0;
    return server;
  }

  /** Starts listening on `url` (http:// or https://host:port; port 0 picks a free one). */
  listen(url: string): Promise<void> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(new FloeError(ERR_PEER_LISTEN, `invalid peer URL ${JSON.stringify(url)}`));
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      return Promise.reject(new FloeError(ERR_PEER_LISTEN, `peer URL ${url}: only http:// and https:// are supported`));
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
    if (u.protocol === 'https:') {
      try {
        this.server = this.tlsServer(u.host);
      } catch (e) {
        if (isFloeError(e, ERR_PEER_LISTEN)) return Promise.reject(e);
        if (isFloeError(e, ERR_TLS_CONFIG)) return Promise.reject(new FloeError(ERR_PEER_LISTEN, e.message, { cause: e }));
        throw e;
      }
    }
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
