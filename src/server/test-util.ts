/**
 * Test helpers: temp data dirs, members with fast timings, and request builders in the shape
 * the API layer hands over (every scalar present, int64 as strings).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as pb from '../etcdpb/messages';
import { startMember, type Member } from './member';
import type { MemberConfig } from './config';

export function tempDir(prefix = 'floe-server-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A member on `dataDir` with short timings so tests run in well under a second each. */
export async function openMember(dataDir: string, over: Partial<MemberConfig> = {}): Promise<Member> {
  const m = await startMember({ dataDir, heartbeatMs: 10, electionMs: 100, backendBatchIntervalMs: 20, ...over });
  await m.ready;
  return m;
}

export function putReq(key: string, value: string, more: Partial<pb.PutRequest> = {}): pb.PutRequest {
  return { key: Buffer.from(key), value: Buffer.from(value), lease: '0', prev_kv: false, ignore_value: false, ignore_lease: false, ...more };
}

export function rangeReq(key: string, end = '', more: Partial<pb.RangeRequest> = {}): pb.RangeRequest {
  return {
    key: Buffer.from(key),
    range_end: Buffer.from(end),
    limit: '0',
    revision: '0',
    sort_order: 0,
    sort_target: 0,
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: '0',
    max_mod_revision: '0',
    min_create_revision: '0',
    max_create_revision: '0',
    ...more,
  };
}

export function delReq(key: string, end = '', prevKv = false): pb.DeleteRangeRequest {
  return { key: Buffer.from(key), range_end: Buffer.from(end), prev_kv: prevKv };
}

export function watchReq(key: string, end = '', more: Partial<pb.WatchCreateRequest> = {}): pb.WatchCreateRequest {
  return {
    key: Buffer.from(key),
    range_end: Buffer.from(end),
    start_revision: '0',
    progress_notify: false,
    filters: [],
    prev_kv: false,
    watch_id: '0',
    fragment: false,
    ...more,
  };
}

/** The values of a range response as strings, in order. */
export function values(r: pb.RangeResponse): string[] {
  return (r.kvs ?? []).map((kv) => Buffer.from(kv.value ?? Buffer.alloc(0)).toString());
}

export function keys(r: pb.RangeResponse): string[] {
  return (r.kvs ?? []).map((kv) => Buffer.from(kv.key).toString());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
