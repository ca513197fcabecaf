/**
 * The cluster's members and version as etcd 3.4 keeps them in the backend: bucket `members`
 * (key: the member id in hex, value: the member as etcd's JSON) and bucket `cluster` (key
 * `clusterVersion`). Also reads the members out of a v2 store snapshot (the data of the raft
 * snapshot `etcdctl snapshot restore` writes), since a restored backend has no members bucket.
 */
import type { BatchTx } from '../backend';
import { assert } from '../pkg';
import { idHex } from './ids';

/** One member (etcd's membership.Member). */
export interface MemberInfo {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

export const MEMBERS_BUCKET = Buffer.from('members');
export const MEMBERS_REMOVED_BUCKET = Buffer.from('members_removed');
export const CLUSTER_BUCKET = Buffer.from('cluster');
export const CLUSTER_VERSION_KEY = Buffer.from('clusterVersion');
/** The cluster version this member runs (etcd 3.4's). */
export const CLUSTER_VERSION = '3.4.0';

/**
 * etcd's JSON for a member, byte for byte as Go's encoding/json writes it: field order id,
 * peerURLs, isLearner (omitted when false), name and clientURLs (omitted when empty). The id
 * is written as an exact integer (it may exceed 2^53).
 */
export function encodeMemberJson(m: MemberInfo): string {
  let s = `{"id":${m.id.toString()},"peerURLs":${JSON.stringify(m.peerUrls)}`;
  if (m.isLearner) s += ',"isLearner":true';
  if (m.name !== '') s += `,"name":${JSON.stringify(m.name)}`;
  if (m.clientUrls.length > 0) s += `,"clientURLs":${JSON.stringify(m.clientUrls)}`;
  return s + '}';
}

/** Parses etcd's member JSON (keeping the 64-bit id exact). */
export function decodeMemberJson(text: string): MemberInfo {
  const idMatch = /"id"\s*:\s*(\d+)/.exec(text);
  const o = JSON.parse(text) as { peerURLs?: string[]; isLearner?: boolean; name?: string; clientURLs?: string[] };
  return {
    id: idMatch === null ? 0n : BigInt(idMatch[1] as string),
    name: o.name ?? '',
    peerUrls: o.peerURLs ?? [],
    clientUrls: o.clientURLs ?? [],
    isLearner: o.isLearner === true,
  };
}

/** Members and cluster version, mirrored in the backend through the apply step's batch. */
export class Membership {
  private readonly members = new Map<bigint, MemberInfo>();
  private readonly removed = new Set<bigint>();
  private version: string | null = null;

  constructor(private readonly batch: BatchTx) {
    batch.createBucket(MEMBERS_BUCKET);
    batch.createBucket(MEMBERS_REMOVED_BUCKET);
    batch.createBucket(CLUSTER_BUCKET);
    const r = batch.range(MEMBERS_BUCKET, Buffer.alloc(0), Buffer.alloc(8, 0xff), 0);
    for (let i = 0; i < r.keys.length; i++) {
      const m = decodeMemberJson((r.values[i] as Buffer).toString('utf8'));
      this.members.set(m.id, m);
    }
    const gone = batch.range(MEMBERS_REMOVED_BUCKET, Buffer.alloc(0), Buffer.alloc(17, 0xff), 0);
    for (const k of gone.keys) this.removed.add(BigInt('0x' + (k as Buffer).toString('utf8')));
    const v = batch.get(CLUSTER_BUCKET, CLUSTER_VERSION_KEY);
    this.version = v === null ? null : v.toString('utf8');
  }

  /** Members sorted by id (etcd lists them in id order). */
  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: bigint): MemberInfo | undefined {
    return this.members.get(id);
  }

  get size(): number {
    return this.members.size;
  }

  /** True once `id` was removed: a removed id never comes back (etcd refuses its messages). */
  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  /** The voting members (not learners), sorted by id. */
  voters(): MemberInfo[] {
    return this.list().filter((m) => !m.isLearner);
  }

  /** etcd's members as JSON, the body of the peer endpoint GET /members. */
  toJson(): string {
    return `[${this.list().map(encodeMemberJson).join(',')}]`;
  }

  /** The cluster version ('3.4.0'), or null before the leader set it. */
  get clusterVersion(): string | null {
    return this.version;
  }

  /** Adds or replaces a member (apply of ConfChangeAddNode / UpdateNode, restore). */
  save(m: MemberInfo): void {
    assert(m.id !== 0n, 'membership: member id 0');
    this.members.set(m.id, m);
    this.batch.put(MEMBERS_BUCKET, Buffer.from(idHex(m.id)), Buffer.from(encodeMemberJson(m)));
  }

  /** Removes a member and records it as removed (apply of ConfChangeRemoveNode). */
  remove(id: bigint): void {
    this.members.delete(id);
    this.removed.add(id);
    const key = Buffer.from(idHex(id));
    this.batch.delete(MEMBERS_BUCKET, key);
    this.batch.put(MEMBERS_REMOVED_BUCKET, key, Buffer.from('removed'));
  }

  /** Sets a member's published attributes (apply of the publish request). */
  setAttributes(id: bigint, name: string, clientUrls: readonly string[]): void {
    const m = this.members.get(id);
    if (m === undefined) return; // etcd ignores attributes of a removed member
    this.save({ ...m, name, clientUrls: [...clientUrls] });
  }

  setClusterVersion(v: string): void {
    this.version = v;
    this.batch.put(CLUSTER_BUCKET, CLUSTER_VERSION_KEY, Buffer.from(v));
  }
}

interface V2Node {
  Path?: string;
  Value?: string;
  Children?: Record<string, V2Node> | null;
}

/**
 * Members found in a v2 store snapshot (etcd's store JSON, as in the raft snapshot written by
 * `etcdctl snapshot restore`): `/0/members/<id>/raftAttributes` and `.../attributes`.
 * Returns [] when the data is not such a store.
 */
export function membersFromV2Store(data: Uint8Array): MemberInfo[] {
  let root: { Root?: V2Node };
  try {
    root = JSON.parse(Buffer.from(data).toString('utf8')) as { Root?: V2Node };
  } catch {
    return [];
  }
  const found = new Map<string, { raft?: string; attrs?: string }>();
  const walk = (n: V2Node | undefined, depth: number): void => {
    if (n === undefined || depth > 8) return;
    const m = /^\/0\/members\/([0-9a-f]+)\/(raftAttributes|attributes)$/.exec(n.Path ?? '');
    if (m !== null && n.Value !== undefined) {
      const e = found.get(m[1] as string) ?? {};
      if (m[2] === 'raftAttributes') e.raft = n.Value;
      else e.attrs = n.Value;
      found.set(m[1] as string, e);
    }
    for (const c of Object.values(n.Children ?? {})) walk(c, depth + 1);
  };
  walk(root.Root, 0);
  const out: MemberInfo[] = [];
  for (const [hex, e] of found) {
    if (e.raft === undefined) continue;
    const raft = JSON.parse(e.raft) as { peerURLs?: string[]; isLearner?: boolean };
    const attrs = e.attrs === undefined ? {} : (JSON.parse(e.attrs) as { name?: string; clientURLs?: string[] });
    out.push({
      id: BigInt('0x' + hex),
      name: attrs.name ?? '',
      peerUrls: raft.peerURLs ?? [],
      clientUrls: attrs.clientURLs ?? [],
      isLearner: raft.isLearner === true,
    });
  }
  return out;
}
