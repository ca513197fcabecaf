/**
 * Joining a running cluster (`--initial-cluster-state existing`): ask the other members named
 * in --initial-cluster for the current membership (GET <peer>/members, as etcd's
 * GetClusterFromRemotePeers does), take the cluster id from the answer's X-Etcd-Cluster-ID
 * header, and find this member in it by its advertised peer URLs (the member was added with
 * `member add` beforehand, which gave it its id).
 */
import { fetchRemoteMembers } from '../rafthttp';
import { FloeError } from '../pkg';
import type { TlsInfo } from '../tls';
import { decodeMemberJson, type MemberInfo } from './membership';
import { idHex } from './ids';

/** What a running member told us. */
export interface RemoteCluster {
  readonly clusterId: bigint;
  readonly members: readonly MemberInfo[];
}

/** How long one peer gets to answer (etcd: the peer request timeout, about a second). */
export const JOIN_REQUEST_TIMEOUT_MS = 2000;

/** Splits etcd's member array JSON into members, keeping each 64-bit id exact. */
export function splitMembers(text: string): MemberInfo[] {
  const out: MemberInfo[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) out.push(decodeMemberJson(text.slice(start, i + 1)));
    }
  }
  return out;
}

/** Asks the peer URLs in turn and returns the first answer, failing with etcd's wording. */
export async function fetchRemoteCluster(peerUrls: readonly string[], timeoutMs = JOIN_REQUEST_TIMEOUT_MS, tlsInfo?: TlsInfo): Promise<RemoteCluster> {
  let remote;
  try {
    remote = await fetchRemoteMembers(peerUrls, timeoutMs, tlsInfo);
  } catch (e) {
    throw new FloeError('ERR_BAD_CONFIG', `cannot fetch cluster info from peer urls: ${(e as Error).message}`);
  }
  if (remote.clusterId === null) throw new FloeError('ERR_BAD_CONFIG', 'cannot fetch cluster info from peer urls: the answer carried no cluster id');
  return { clusterId: remote.clusterId, members: splitMembers(remote.membersJson) };
}

/**
 * This member's entry in the remote cluster: the one whose peer URLs are exactly ours
 * (etcd's ValidateClusterAndAssignIDs). A member that was never added is refused.
 */
export function findSelf(remote: RemoteCluster, advertisedPeerUrls: readonly string[]): MemberInfo {
  const want = [...advertisedPeerUrls].sort().join(',');
  const self = remote.members.find((m) => [...m.peerUrls].sort().join(',') === want);
  if (self === undefined) {
    throw new FloeError(
      'ERR_BAD_CONFIG',
      `error validating peerURLs {ClusterID:${idHex(remote.clusterId)} Members:[${remote.members.map((m) => idHex(m.id)).join(' ')}]}: unmatched member while checking PeerURLs ("${want}" is not a member; add it with member add first)`,
    );
  }
  return self;
}
