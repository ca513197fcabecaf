/**
 * src/tls — TLS for the client and peer listeners (etcd's transport.TLSInfo): settings from
 * flags, loading and checking the files, self-signed certificates for --auto-tls, the
 * "rejected connection" log line, and a small X.509 builder (DER) behind them.
 */
export {
  type TlsInfo,
  type LoadedTls,
  EMPTY_TLS_INFO,
  ERR_TLS_CONFIG,
  tlsInfoEmpty,
  tlsInfoString,
  loadTlsFiles,
  serverTlsOptions,
  clientTlsOptions,
  checkAllowedPeer,
  certCommonName,
  requiresClientCert,
  verifyTlsClient,
  TlsClientRejected,
} from './tls-info';
export { selfCert, hostOnly, SELF_CERT_VALIDITY_MS, type SelfCertOptions } from './self-cert';
export { rejectedConnectionLine, goTlsError, type RejectedPeer } from './rejected';
export {
  createCertificate,
  buildCertificate,
  generateEcKey,
  asIssuer,
  toPem,
  ERR_CERT_BUILD,
  type CertSpec,
  type CertName,
  type CertIssuer,
  type CertAndKey,
} from './certificate';
export { makeTestPki, type TestPki, type TestPkiOptions, type PkiFiles } from './test-pki';
