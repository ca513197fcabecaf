/**
 * Member and cluster ids as etcd computes them, so the same flags give the same ids as etcd
 * (clients and tools print them): a member id is the first 8 bytes (big-endian) of the SHA-1
 * of its sorted peer URLs, the cluster token and, for a member added at runtime, the time; the
 * cluster id is the same over the sorted member ids, each as 8 big-endian bytes.
 */
import { createHash } from 'node:crypto';
import { FloeError } from '../pkg';

/** etcd's membership.NewMember id; `nowSec` only for members added at runtime. */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string, nowSec?: number): bigint {
  const sorted = [...peerUrls].sort();
  let s = sorted.join('') + clusterToken;
  if (nowSec !== undefined) s += String(nowSec);
  return createHash('sha1').update(s, 'utf8').digest().readBigUInt64BE(0);
}

/** etcd's RaftCluster.genID over the member ids. */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(id, 8 * i));
  return createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}

/** etcd's types.ID.String(): lower-case hex without padding. */
export function idHex(id: bigint): string {
  return id.toString(16);
}

/** One entry of --initial-cluster. */
export interface InitialMember {
  readonly name: string;
  readonly peerUrls: string[];
}

/** Parses 'name=url,name=url' (a name may repeat to give several URLs), in first-seen order. */
export function parseInitialCluster(s: string): InitialMember[] {
  const byName = new Map<string, string[]>();
  for (const part of s.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0 || eq === t.length - 1) throw new FloeError('ERR_BAD_CONFIG', `invalid --initial-cluster entry ${JSON.stringify(t)}`);
    const name = t.slice(0, eq);
    const url = t.slice(eq + 1);
    const urls = byName.get(name);
    if (urls === undefined) byName.set(name, [url]);
    else urls.push(url);
  }
  if (byName.size === 0) throw new FloeError('ERR_BAD_CONFIG', '--initial-cluster is empty');
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}
