/**
 * GET <peerUrl>/members of a running member, for a member that joins an existing cluster.
 */
import * as http from 'node:http';
import { FloeError } from '../pkg';

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

function getOnce(url: string, timeoutMs: number): Promise<RemoteMembers> {
  return new Promise<RemoteMembers>((resolve, reject) => {
    const req = http.get(new URL('/members', url), { agent: false, timeout: timeoutMs }, (res) => {
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
  });
}

/**
 * Tries each URL in order (each attempt limited to `timeoutMs`) and returns the first
 * member list (JSON text). Throws ERR_RAFTHTTP_FETCH_MEMBERS naming every failure.
 */
export async function fetchMembers(peerUrls: readonly string[], timeoutMs: number): Promise<string> {
  return (await fetchRemoteMembers(peerUrls, timeoutMs)).membersJson;
}

/** As fetchMembers, with the cluster id the answering member sent. */
export async function fetchRemoteMembers(peerUrls: readonly string[], timeoutMs: number): Promise<RemoteMembers> {
  const errors: string[] = [];
  for (const url of peerUrls) {
    try {
      return await getOnce(url, timeoutMs);
    } catch (e) {
      errors.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new FloeError(ERR_FETCH_MEMBERS, `could not retrieve cluster information from the given URLs (${errors.join('; ')})`);
}
