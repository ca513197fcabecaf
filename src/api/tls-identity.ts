/**
 * Who is on the other end of a client connection, as its verified TLS certificate says: the
 * certificate's Common Name, which etcd takes as the user name with --client-cert-auth.
 *
 * A gRPC call reaches its connection three ways:
 * - Calls served by the HTTP/2 front itself (h2-front.ts) answer call.getAuthContext() from
 *   the accepted TLS socket.
 * - Connections handed to grpc-js as the TLS socket itself answer call.getAuthContext()
 *   (grpc-js reads the peer certificate of a TLSSocket).
 * - Streams the front forwards (h2-inner.ts), and connections that go through the :authority
 *   fixer (h2-authority.ts), reach Node's HTTP/2 as a Duplex standing for the TLS socket,
 *   which Node wraps in a JSStreamSocket; grpc-js then knows
 *   neither certificate nor address (getAuthContext() is {} and getPeer() 'unknown'). The
 *   listener links each such Duplex to its TLS socket (linkConnection), and the call is
 *   followed to its HTTP/2 session's socket, whose `stream` is that Duplex.
 * The third way reads grpc-js 1.14 internals (call.call[.nextCall...].stream.session); if
 * they change, it finds nothing and the caller is nobody: it fails closed.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';

/** What is read from a grpc-js server call (any of its call kinds). */
export interface CallWithPeer {
  getAuthContext?(): { readonly sslPeerCertificate?: { readonly subject?: Record<string, string | string[] | undefined> } };
}

/** The accepted socket behind each Duplex handed to grpc-js instead of it. */
const acceptedSocketOf = new WeakMap<object, net.Socket>();

/** Deepest chain of wrapped calls followed (grpc-js wraps once per server interceptor). */
const MAX_CALL_WRAPPING = 8;

/**
 * Notes that `conn`, handed to grpc-js, carries the bytes of the accepted `socket`; returns
 * `conn`. No-op when they are the same object.
 */
export function linkConnection<T extends net.Socket | Duplex>(conn: T, socket: net.Socket): T {
  if ((conn as object) !== socket) acceptedSocketOf.set(conn, socket);
  return conn;
}

/** The last CN of a subject (Go keeps the last when a name has several). */
function lastCn(subject: Record<string, string | string[] | undefined> | undefined): string | undefined {
  const cn = subject?.['CN'];
  if (Array.isArray(cn)) return cn.length > 0 ? cn[cn.length - 1] : undefined;
  return cn === '' ? undefined : cn;
}

/** The CN of a TLS socket's verified client certificate. */
export function verifiedCommonName(socket: net.Socket): string | undefined {
  const t = socket as tls.TLSSocket;
  if (t.encrypted !== true || !t.authorized) return undefined;
  return lastCn(t.getPeerCertificate()?.subject as Record<string, string | string[] | undefined> | undefined);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/** The socket Node's HTTP/2 session of `call` reads from (see the file comment). */
function sessionSocket(call: unknown): unknown {
  let c: unknown = isObj(call) ? call['call'] : undefined;
  for (let i = 0; i < MAX_CALL_WRAPPING && isObj(c); i++) {
    const stream = c['stream'];
    if (isObj(stream) && isObj(stream['session'])) return stream['session']['socket'];
    c = c['nextCall'];
  }
  return undefined;
}

/**
 * The Common Name of the verified client certificate of the connection `call` arrived on;
 * undefined over plaintext, without a verified client certificate, or with an empty CN.
 */
export function clientCommonName(call: CallWithPeer): string | undefined {
  const fromContext = lastCn(call.getAuthContext?.().sslPeerCertificate?.subject);
  if (fromContext !== undefined) return fromContext;
  const socket = sessionSocket(call);
  const inner = isObj(socket) ? socket['stream'] : undefined;
  const accepted = isObj(inner) ? acceptedSocketOf.get(inner) : undefined;
  return accepted === undefined ? undefined : verifiedCommonName(accepted);
}
