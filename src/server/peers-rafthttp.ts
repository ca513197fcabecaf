/**
 * The member's peer transport over HTTP (src/rafthttp): one Transport, and a PeerServer on
 * each --listen-peer-urls serving it plus etcd's /members and /version.
 */
import { PeerServer, Transport } from '../rafthttp';
import type { PeerFactory, Peers } from './peers';

/** Starts the transport and its listeners; if one cannot listen, what started is closed. */
export const rafthttpPeers: PeerFactory = async (opts, listenUrls, info) => {
  const transport = new Transport({ memberId: opts.memberId, clusterId: opts.clusterId, handler: opts.handler, logger: opts.logger, tls: opts.tls, metrics: opts.metrics });
  const servers: PeerServer[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.close()));
    await transport.close();
  };
  try {
    for (const url of listenUrls) {
      const secure = opts.tls === undefined ? undefined : { tls: opts.tls, onReject: (line: string) => opts.logger.log('I', 'embed', line) };
      const server = new PeerServer(transport, { ...info, clusterId: opts.clusterId }, secure);
      await server.listen(url);
      servers.push(server);
      opts.logger.log('I', 'embed', `listening for peers on ${url}`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  const peers: Peers = { transport, close };
  return peers;
};
