/**
 * GET <peerUrl>/members of a running member, for a member that joins an existing cluster.
 */
import { FloeError } from '../pkg';
import type { TlsInfo } from '../tls';
import { peerRequest } from './dial';

/** Code of the FloeError when no URL gave the member list. */
export const ERR_FETCH_MEMBERS = 'ERR_RAFTHTTP_FETCH_MEMBERS';

/** Largest /members answer accepted (a member list is a few KiB). */
export const MAX_MEMBERS_RESPONSE_BYTES = 4 * 1024 * 1024;

/** One member's answer: the member list and the cluster id from its X-Etcd-Cluster-ID header. */
export interface RemoteMembers {
  readonly membersJson: string;
  /** null when the answer had no (valid) X-Etcd-Cluster-ID header. */
  readonly clusterId: bigint | null;
}

function getOnce(url: string, timeoutMs: number, tlsInfo: TlsInfo | undefined): Promise<RemoteMembers> {
  return new Promise<RemoteMembers>((resolve, reject) => {
    const req = peerRequest(new URL('/members', url), { method: 'GET', agent: false, timeout: timeoutMs }, tlsInfo, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_MEMBERS_RESPONSE_BYTES) {
          req.destroy(new Error(`answer exceeds ${MAX_MEMBERS_RESPONSE_BYTES} bytes`));
          return;
        }
        parts.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else {
          const cid = res.headers['x-etcd-cluster-id'];
          const clusterId = typeof cid === 'string' && /^[0-9a-f]{1,16}$/i.test(cid) ? BigInt('0x' + cid) : null;
          resolve({ membersJson: Buffer.concat(parts).toString('utf8'), clusterId });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Tries each URL in order (each attempt limited to `timeoutMs`) and returns the first
 * member list (JSON text). Throws ERR_RAFTHTTP_FETCH_MEMBERS naming every failure.
 */
export async function fetchMembers(peerUrls: readonly string[], timeoutMs: number, tlsInfo?: TlsInfo): Promise<string> {
  return (await fetchRemoteMembers(peerUrls, timeoutMs, tlsInfo)).membersJson;
}

/** As fetchMembers, with the cluster id the answering member sent. `tlsInfo` dials https:// URLs. */
export async function fetchRemoteMembers(peerUrls: readonly string[], timeoutMs: number, tlsInfo?: TlsInfo): Promise<RemoteMembers> {
  const errors: string[] = [];
  for (const url of peerUrls) {
    try {
      return await getOnce(url, timeoutMs, tlsInfo);
    } catch (e) {
      errors.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new FloeError(ERR_FETCH_MEMBERS, `could not retrieve cluster information from the given URLs (${errors.join('; ')})`);
}
