/**
 * A Duplex standing in for an accepted socket when a connection is handed to Node's HTTP/2
 * (grpc-js) through a filter or the front's in-process leg. It reports the socket's
 * addresses; Node wraps it in a socket object of its own that does not ask, so they are
 * reached as `session.socket.stream`.
 */
import type * as net from 'node:net';
import { Duplex, type DuplexOptions } from 'node:stream';

export abstract class SocketDuplex extends Duplex {
  constructor(
    protected readonly socket: net.Socket,
    opts: DuplexOptions,
  ) {
    super(opts);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
}
