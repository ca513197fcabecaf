/**
 * Joining a running cluster (`--initial-cluster-state existing`): ask the other members named
 * in --initial-cluster for the current membership (GET <peer>/members, as etcd's
 * GetClusterFromRemotePeers does), take the cluster id from the answer's X-Etcd-Cluster-ID
 * header, and find this member in it by its advertised peer URLs (the member was added with
 * `member add` beforehand, which gave it its id).
 */
import * as http from 'node:http';
import { FloeError } from '../pkg';
import { decodeMemberJson, type MemberInfo } from './membership';
import { idHex } from './ids';

/** What a running member told us. */
export interface RemoteCluster {
  readonly clusterId: bigint;
  readonly members: readonly MemberInfo[];
}

/** How long one peer gets to answer (etcd: the peer request timeout, about a second). */
export const JOIN_REQUEST_TIMEOUT_MS = 2000;

function getMembers(url: string, timeoutMs: number): Promise<RemoteCluster> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL('/members', url), { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode ?? 0}`);
          const cid = res.headers['x-etcd-cluster-id'];
          if (typeof cid !== 'string' || !/^[0-9a-f]+$/i.test(cid)) throw new Error('no X-Etcd-Cluster-ID header');
          resolve({ clusterId: BigInt('0x' + cid), members: splitMembers(Buffer.concat(chunks).toString('utf8')) });
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

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

/**
 * Asks each peer URL in turn (skipping this member's own) and returns the first answer.
 * Fails with etcd's wording when none answers.
 */
export async function fetchRemoteCluster(peerUrls: readonly string[], timeoutMs = JOIN_REQUEST_TIMEOUT_MS): Promise<RemoteCluster> {
  const errors: string[] = [];
  for (const url of peerUrls) {
    try {
      return await getMembers(url, timeoutMs);
    } catch (e) {
      errors.push(`${url}: ${(e as Error).message}`);
    }
  }
  throw new FloeError('ERR_BAD_CONFIG', `cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs (${errors.join('; ')})`);
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
