/**
 * The client listener: plain TCP, or TLS when the listen URL is https://. Accepted TLS
 * connections go the same way as plaintext ones (the caller's `accept`, i.e. the
 * :authority fixer and grpc-js), once the handshake is done and the client judged.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

/** TLS for one listener. */
export interface TlsListenOptions {
  /** Node server options: certificate, key, CAs, requestCert, ALPN (see src/tls serverTlsOptions). */
  readonly options: tls.TlsOptions;
  /** Judges a finished handshake: null to serve the connection, else why it is closed. */
  readonly verify?: (socket: tls.TLSSocket) => Error | null;
  /** Told of every refused handshake or client (to log it); must not throw. */
  readonly onReject?: (socket: tls.TLSSocket, err: Error) => void;
}

/** A net.Server (plaintext) or tls.Server (with `secure`) handing connections to `accept`. */
export function createClientListener(accept: (socket: net.Socket) => void, secure?: TlsListenOptions): net.Server {
  if (secure === undefined) return net.createServer(accept);
  const server = tls.createServer(secure.options, (socket) => {
    const refused = secure.verify?.(socket) ?? null;
    if (refused !== null) {
      secure.onReject?.(socket, refused);
      socket.destroy();
      return;
    }
    accept(socket);
  });
  // Failed handshakes (plaintext on the TLS port, no shared protocol, a client that hung up):
  // Node has already closed the socket; this only reports it.
  server.on('tlsClientError', (err, socket) => secure.onReject?.(socket, err));
  return server;
}
