/**
 * The line a TLS listener logs when a handshake fails, in etcd's words:
 *   rejected connection from "127.0.0.1:54728" (error "tls: client didn't provide a certificate", ServerName "")
 * Node (OpenSSL) and Go word the same failures differently; clients and operators grep for
 * Go's, so the common ones are translated and the rest keep OpenSSL's text.
 */
import { TlsClientRejected } from './tls-info';

/** OpenSSL/Node error codes and reasons mapped to Go crypto/tls's message. */
const GO_MESSAGES: readonly (readonly [RegExp, string])[] = [
  [/PEER_DID_NOT_RETURN_A_CERTIFICATE|peer did not return a certificate/i, "tls: client didn't provide a certificate"],
  [/CERTIFICATE_HAS_EXPIRED|certificate has expired|SSLV3_ALERT_CERTIFICATE_EXPIRED/i, 'tls: failed to verify client certificate: x509: certificate has expired or is not yet valid'],
  [/CERTIFICATE_NOT_YET_VALID|certificate is not yet valid/i, 'tls: failed to verify client certificate: x509: certificate has expired or is not yet valid'],
  [/UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT|unknown ca|self[- ]signed|unable to get local issuer|CERTIFICATE_VERIFY_FAILED|certificate verify failed/i,
    'tls: failed to verify client certificate: x509: certificate signed by unknown authority'],
  [/WRONG_VERSION_NUMBER|HTTP_REQUEST|wrong version number|http request|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL/i, 'tls: first record does not look like a TLS handshake'],
  [/ECONNRESET|socket hang up/i, 'EOF'],
];

/** Go's wording of a Node TLS handshake error. */
export function goTlsError(err: Error & { code?: string; reason?: string }): string {
  if (err instanceof TlsClientRejected) return err.message; // already in Go's words
  const text = `${err.code ?? ''} ${err.reason ?? ''} ${err.message}`;
  for (const [re, go] of GO_MESSAGES) if (re.test(text)) return go;
  return err.reason ?? err.message;
}

/** What the line needs to know of the refused connection. */
export interface RejectedPeer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /** The SNI the client sent ('' for none). */
  readonly servername?: string | false | null | undefined;
}

/** etcd's "rejected connection from ..." text (logged at info level under 'embed'). */
export function rejectedConnectionLine(peer: RejectedPeer, err: Error & { code?: string; reason?: string }): string {
  const host = peer.remoteAddress ?? '';
  // A client that hung up mid-handshake has no address left to read.
  const addr = host === '' ? 'unknown' : host.includes(':') ? `[${host}]:${peer.remotePort ?? 0}` : `${host}:${peer.remotePort ?? 0}`;
  const sni = typeof peer.servername === 'string' ? peer.servername : '';
  return `rejected connection from ${JSON.stringify(addr)} (error ${JSON.stringify(goTlsError(err))}, ServerName ${JSON.stringify(sni)})`;
}
