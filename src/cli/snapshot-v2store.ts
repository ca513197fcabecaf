/**
 * The data of the raft snapshot `etcdctl snapshot restore` writes: etcd 3.4's v2 store, saved
 * as Go's encoding/json renders it, after one `create` of `/0/members/<id>/raftAttributes` per
 * member in member id order. Reproduced byte for byte so that the .snap file is etcdctl's.
 *
 * Facts (etcd 3.4 v2store): `/0` and `/1` exist from the start at index 0; each create takes
 * the next index and makes missing parent directories at that index; every node prints Path,
 * CreatedIndex, ModifiedIndex, ExpireTime (Go's zero time), Value and Children (null for a
 * leaf, an object sorted by name for a directory); the watcher hub keeps the create events in
 * a ring of 1000 slots (empty slots are null).
 */
import { assert } from '../pkg';
import { goJsonString } from './snapshot-go';

/** One member of the restored cluster. */
export interface RestoreMember {
  readonly id: bigint;
  readonly name: string;
  /** Sorted, as etcd's types.URLs keeps them. */
  readonly peerUrls: readonly string[];
}

/** Slots of the v2 store's event history ring (etcd's watcher hub capacity). */
const EVENT_HISTORY_CAPACITY = 1000;
const ZERO_TIME = '"0001-01-01T00:00:00Z"';

/** etcd's member JSON (the conf change context): id, peerURLs, name (clientURLs empty). */
export function memberJson(m: RestoreMember): string {
  let s = `{"id":${m.id.toString()},"peerURLs":${urlsJson(m.peerUrls)}`;
  if (m.name !== '') s += `,"name":${goJsonString(m.name)}`;
  return s + '}';
}

/** The raftAttributes value: `{"peerURLs":[...]}` (isLearner is false, so left out). */
function raftAttributesJson(m: RestoreMember): string {
  return `{"peerURLs":${urlsJson(m.peerUrls)}}`;
}

function urlsJson(urls: readonly string[]): string {
  return `[${urls.map(goJsonString).join(',')}]`;
}

interface V2Node {
  readonly path: string;
  readonly index: number;
  readonly value: string;
  /** null: a leaf. */
  readonly children: Map<string, V2Node> | null;
}

function nodeJson(n: V2Node): string {
  let children = 'null';
  if (n.children !== null) {
    const names = [...n.children.keys()].sort(compareGoStrings);
    children = `{${names.map((k) => `${goJsonString(k)}:${nodeJson(n.children!.get(k)!)}`).join(',')}}`;
  }
  return (
    `{"Path":${goJsonString(n.path)},"CreatedIndex":${n.index},"ModifiedIndex":${n.index},` +
    `"ExpireTime":${ZERO_TIME},"Value":${goJsonString(n.value)},"Children":${children}}`
  );
}

/** Go sorts map keys by their bytes. */
function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The v2 store JSON after adding `members` (already in id order) to a fresh store. */
export function v2StoreJson(members: readonly RestoreMember[]): string {
  assert(members.length > 0 && members.length < EVENT_HISTORY_CAPACITY, () => `v2 store: ${members.length} members`);
  const dir = (p: string, index: number): V2Node => ({ path: p, index, value: '', children: new Map() });
  const zero = dir('/0', 0);
  const root: V2Node = { path: '/', index: 0, value: '', children: new Map([['0', zero], ['1', dir('/1', 0)]]) };
  const events: string[] = [];
  members.forEach((m, i) => {
    const index = i + 1;
    const hex = m.id.toString(16);
    let membersDir = zero.children!.get('members');
    if (membersDir === undefined) {
      membersDir = dir('/0/members', index);
      zero.children!.set('members', membersDir);
    }
    const memberDir = dir(`/0/members/${hex}`, index);
    membersDir.children!.set(hex, memberDir);
    const leafPath = `/0/members/${hex}/raftAttributes`;
    const value = raftAttributesJson(m);
    memberDir.children!.set('raftAttributes', { path: leafPath, index, value, children: null });
    events.push(`{"action":"create","node":{"key":${goJsonString(leafPath)},"value":${goJsonString(value)},"modifiedIndex":${index},"createdIndex":${index}}}`);
  });
  const n = members.length;
  const slots = [...events, ...new Array<string>(EVENT_HISTORY_CAPACITY - n).fill('null')];
  const queue = `{"Events":[${slots.join(',')}],"Size":${n},"Front":0,"Back":${n},"Capacity":${EVENT_HISTORY_CAPACITY}}`;
  const stats =
    `{"getsSuccess":0,"getsFail":0,"setsSuccess":0,"setsFail":0,"deleteSuccess":0,"deleteFail":0,` +
    `"updateSuccess":0,"updateFail":0,"createSuccess":${n},"createFail":0,"compareAndSwapSuccess":0,` +
    `"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0}`;
  return (
    `{"Root":${nodeJson(root)},"WatcherHub":{"EventHistory":{"Queue":${queue},"StartIndex":1,"LastIndex":${n}}},` +
    `"CurrentIndex":${n},"Stats":${stats},"CurrentVersion":2}`
  );
}
