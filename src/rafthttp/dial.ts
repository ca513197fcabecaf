/**
 * Outgoing peer requests over http:// or https:// peer URLs. https:// dials with the peer TLS
 * settings (--peer-cert-file and --peer-key-file as the client certificate,
 * --peer-trusted-ca-file as roots; no verification for --peer-auto-tls certificates, as etcd).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { EMPTY_TLS_INFO, clientTlsOptions, type TlsInfo } from '../tls';

/**
 * The client options of a TlsInfo, read once per settings object: the files are checked at
 * start-up and a member dials often (streams, snapshots, lease forwarding).
 */
const clientOptionsOf = new WeakMap<TlsInfo, tls.ConnectionOptions>();

/** The Node client TLS options for `info` (cached per object). */
export function peerClientTls(info: TlsInfo = EMPTY_TLS_INFO): tls.ConnectionOptions {
  let o = clientOptionsOf.get(info);
  if (o === undefined) {
    o = clientTlsOptions(info);
    clientOptionsOf.set(info, o);
  }
  return o;
}

/**
 * http.request or https.request by the URL's scheme; `tlsInfo` only matters for https://.
 * Throws ERR_TLS_CONFIG when the TLS files cannot be read.
 */
export function peerRequest(
  url: URL,
  options: http.RequestOptions,
  tlsInfo: TlsInfo | undefined,
  onResponse?: (res: http.IncomingMessage) => void,
): http.ClientRequest {
  if (url.protocol === 'https:') return https.request(url, { ...options, ...peerClientTls(tlsInfo) }, onResponse);
  return http.request(url, options, onResponse);
}
