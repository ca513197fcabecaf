/**
 * TLS of the serve command: the client and peer TLS flags, etcd's start-up checks and log
 * lines, --auto-tls / --peer-auto-tls certificates, and the options of each TLS listener.
 *
 * Order (etcd's configurePeerListeners, then configureClientListeners): peer self-signed
 * certificate, "peerTLS: ..." line, per-URL checks; the same for the client side. Everything
 * is read and checked before the member starts, so a bad file stops start-up with one
 * critical line and exit 1 (etcd finds a bad client certificate only at its first use).
 */
import * as path from 'node:path';
import type * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  EMPTY_TLS_INFO,
  loadTlsFiles,
  rejectedConnectionLine,
  selfCert,
  serverTlsOptions,
  tlsInfoEmpty,
  tlsInfoString,
  verifyTlsClient,
  type TlsInfo,
} from '../tls';
import type { FlagValue, ListenUrl, ServeSettings } from './etcd-flags';
import type { ServeLogger } from './log';

/** The TLS flags as given (before auto TLS). */
export interface TlsFlags {
  readonly client: TlsInfo;
  readonly clientAutoTls: boolean;
  readonly peer: TlsInfo;
  readonly peerAutoTls: boolean;
}

/** What serve runs with: the final settings of each side and the client listeners' options. */
export interface ServeTls {
  readonly client: TlsInfo;
  readonly peer: TlsInfo;
  /** For https:// client URLs; null when no client URL is https://. */
  readonly clientListen: {
    readonly options: tls.TlsOptions;
    readonly verify: (socket: tls.TLSSocket) => Error | null;
    readonly onReject: (socket: tls.TLSSocket, err: Error) => void;
  } | null;
}

/** Reads the TLS flags from the parsed flag values (etcd-flags.ts). */
export function tlsFlags(values: ReadonlyMap<string, FlagValue>): TlsFlags {
  const str = (n: string): string => (values.get(n) as string | undefined) ?? '';
  const bool = (n: string): boolean => values.get(n) === true;
  return {
    client: {
      ...EMPTY_TLS_INFO,
      certFile: str('cert-file'),
      keyFile: str('key-file'),
      trustedCaFile: str('trusted-ca-file'),
      clientCertAuth: bool('client-cert-auth'),
      allowedHostname: str('client-cert-allowed-hostname'),
    },
    clientAutoTls: bool('auto-tls'),
    peer: {
      ...EMPTY_TLS_INFO,
      certFile: str('peer-cert-file'),
      keyFile: str('peer-key-file'),
      trustedCaFile: str('peer-trusted-ca-file'),
      clientCertAuth: bool('peer-client-cert-auth'),
      allowedHostname: str('peer-cert-allowed-hostname'),
      allowedCn: str('peer-cert-allowed-cn'),
      // etcd: PeerTLSInfo.InsecureSkipVerify = --peer-auto-tls.
      insecureSkipVerify: bool('peer-auto-tls'),
    },
    peerAutoTls: bool('peer-auto-tls'),
  };
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** etcd's ClientSelfCert / PeerSelfCert. */
function withAutoTls(side: 'client' | 'peer', given: TlsInfo, auto: boolean, dataDir: string, urls: readonly string[], log: ServeLogger): TlsInfo {
  if (!auto) return given;
  if (!tlsInfoEmpty(given)) {
    log.log('W', 'embed', `ignoring ${side} auto TLS since certs given`);
    return given;
  }
  const made = selfCert(path.join(dataDir, 'fixtures', side), urls.map(hostOf), { clientAuth: side === 'peer' });
  return { ...given, certFile: made.certFile, keyFile: made.keyFile, selfCert: true };
}

/**
 * Works out both sides' TLS, logging etcd's lines; a string is the critical error that stops
 * start-up (logged by the caller).
 */
export function prepareServeTls(s: ServeSettings, flags: TlsFlags, log: ServeLogger): ServeTls | string {
  let peer: TlsInfo;
  let client: TlsInfo;
  try {
    peer = withAutoTls('peer', flags.peer, flags.peerAutoTls, s.dataDir, s.listenPeerUrls, log);
  } catch (e) {
    return `could not get certs (${(e as Error).message})`;
  }
  if (!tlsInfoEmpty(peer)) log.log('I', 'embed', `peerTLS: ${tlsInfoString(peer)}`);
  for (const u of s.listenPeerUrls) {
    if (u.startsWith('http://')) {
      if (!tlsInfoEmpty(peer)) log.log('W', 'embed', `The scheme of peer url ${u} is HTTP while peer key/cert files are presented. Ignored peer key/cert files.`);
      if (peer.clientCertAuth) log.log('W', 'embed', `The scheme of peer url ${u} is HTTP while client cert auth (--peer-client-cert-auth) is enabled. Ignored client cert auth for this url.`);
    } else if (u.startsWith('https://') && tlsInfoEmpty(peer)) {
      return `cannot listen on TLS for ${hostOf(u)}: KeyFile and CertFile are not presented`;
    }
  }
  const peerTlsUsed = [...s.listenPeerUrls, ...s.initialAdvertisePeerUrls].some((u) => u.startsWith('https://'));
  if (peerTlsUsed && !tlsInfoEmpty(peer)) {
    try {
      loadTlsFiles(peer);
    } catch (e) {
      return (e as Error).message;
    }
  }

  const clientUrls = s.listenClientUrls.map((u) => u.url);
  try {
    client = withAutoTls('client', flags.client, flags.clientAutoTls, s.dataDir, clientUrls, log);
  } catch (e) {
    return `could not get certs (${(e as Error).message})`;
  }
  for (const u of s.listenClientUrls) {
    if (u.scheme === 'http') {
      // etcd's text, "peer" included.
      if (!tlsInfoEmpty(client)) log.log('W', 'embed', `The scheme of client url ${u.url} is HTTP while peer key/cert files are presented. Ignored key/cert files.`);
      if (client.clientCertAuth) log.log('W', 'embed', `The scheme of client url ${u.url} is HTTP while client cert auth (--client-cert-auth) is enabled. Ignored client cert auth for this url.`);
    } else if (u.scheme === 'https' && tlsInfoEmpty(client)) {
      return `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.url} with HTTPS scheme`;
    }
  }
  if (!tlsInfoEmpty(client)) log.log('I', 'embed', `ClientTLS: ${tlsInfoString(client)}`);
  let clientListen: ServeTls['clientListen'] = null;
  if (s.listenClientUrls.some((u) => u.scheme === 'https')) {
    let options: tls.TlsOptions;
    try {
      options = serverTlsOptions(client);
    } catch (e) {
      return (e as Error).message;
    }
    const info = client;
    clientListen = {
      options,
      verify: (socket) => verifyTlsClient(info, socket),
      onReject: (socket, err) => log.log('I', 'embed', rejectedConnectionLine(socket, err)),
    };
  }
  return { client, peer, clientListen };
}

/**
 * How the JSON gateway dials the member's first client listener when it is TLS (etcd's
 * gateway does the same): the server's own certificate as the client certificate, and no
 * verification of a loopback peer that is this very process.
 */
export function gatewayDial(tls: ServeTls, first: ListenUrl | undefined): { credentials?: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions } {
  if (first?.scheme !== 'https' || tlsInfoEmpty(tls.client)) return {};
  const files = loadTlsFiles(tls.client);
  return {
    credentials: grpc.credentials.createSsl(null, Buffer.from(files.key), Buffer.from(files.cert), { rejectUnauthorized: false, checkServerIdentity: () => undefined }),
    // A name rather than the target's IP as SNI (Node warns about IPs there; nothing checks it).
    channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
  };
}
