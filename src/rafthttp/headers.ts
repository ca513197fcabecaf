/**
 * The headers every peer request carries, and the checks a receiver makes on them, with
 * etcd's header names and its ids in lower-case hex without padding (types.ID.String()).
 */
import type * as http from 'node:http';

export const HEADER_CLUSTER_ID = 'X-Etcd-Cluster-ID';
export const HEADER_FROM = 'X-Server-From';
export const HEADER_TO = 'X-Raft-To';
export const HEADER_VERSION = 'X-Server-Version';

/** The server version Floe announces (the etcd release whose API it speaks). */
export const SERVER_VERSION = '3.4.23';

/** Path of the long-lived message stream (one POST per sender per receiver). */
export const STREAM_PATH = '/raft/stream';
/** Path of a snapshot upload (message frame, then the backend file). */
export const SNAPSHOT_PATH = '/raft/snapshot';

/** An id as etcd prints it: lower-case hex, no padding. */
export function idHex(id: bigint): string {
  return id.toString(16);
}

/** Parses a hex id as etcd prints it; null when it is not one (empty, not hex, > 64 bits). */
export function parseIdHex(s: string | undefined): bigint | null {
  if (s === undefined || !/^[0-9a-fA-F]{1,16}$/.test(s)) return null;
  return BigInt('0x' + s);
}

/** Headers of a request from `from` to `to` in cluster `clusterId`. */
export function requestHeaders(clusterId: bigint, from: bigint, to: bigint): Record<string, string> {
  return {
    [HEADER_CLUSTER_ID]: idHex(clusterId),
    [HEADER_FROM]: idHex(from),
    [HEADER_TO]: idHex(to),
    [HEADER_VERSION]: SERVER_VERSION,
  };
}

/** Why an incoming peer request is refused: HTTP status, body, and the line to log. */
export interface Refusal {
  readonly status: 404 | 410 | 412 | 400;
  readonly body: string;
  readonly log: string | null;
}

/**
 * Checks an incoming request's headers; returns the sender's id, or why it is refused.
 * Order matters: a foreign cluster is refused before anything about its ids is believed.
 */
export function checkPeerRequest(
  req: http.IncomingMessage,
  local: { clusterId: bigint; memberId: bigint; isRemoved(id: bigint): boolean },
): { from: bigint } | Refusal {
  const cid = header(req, HEADER_CLUSTER_ID);
  if (cid !== idHex(local.clusterId)) {
    return {
      status: 412,
      body: 'cluster ID mismatch',
      log: `request cluster ID mismatch (got ${cid ?? ''} want ${idHex(local.clusterId)})`,
    };
  }
  const from = parseIdHex(header(req, HEADER_FROM));
  if (from === null) {
    return { status: 400, body: 'invalid from', log: `request with an invalid ${HEADER_FROM} header ${JSON.stringify(header(req, HEADER_FROM) ?? '')}` };
  }
  if (local.isRemoved(from)) {
    return { status: 410, body: 'removed member', log: `rejected request from removed member ${idHex(from)}` };
  }
  const to = header(req, HEADER_TO);
  if (to !== undefined && to !== idHex(local.memberId)) {
    return {
      status: 412,
      body: 'to field mismatch',
      log: `request ignored (ID mismatch got ${to} want ${idHex(local.memberId)})`,
    };
  }
  return { from };
}

/** One header's value (the first, if repeated). */
export function header(msg: http.IncomingMessage, name: string): string | undefined {
  const v = msg.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
