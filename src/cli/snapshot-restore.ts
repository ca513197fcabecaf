/**
 * `floe snapshot restore`: turns a backend snapshot file (from `etcdctl snapshot save` against
 * etcd or Floe) into a new member data dir, the way etcdctl 3.4 does, so that etcd or Floe
 * starts from it as a fresh one-term cluster of the members in --initial-cluster.
 *
 * Order, as etcdctl: check the flags (URLs, the local member in the cluster); refuse an
 * existing data dir (or --wal-dir); copy the file to <data-dir>/member/snap/db; cut off and
 * verify the trailing sha256 (a file without one needs --skip-hash-check); empty the old
 * cluster's `members` and `members_removed` buckets and set the consistent index to the number
 * of members (the index of the last conf change below, so the server applies nothing twice);
 * then the WAL (metadata, one ConfChangeAddNode entry per member at term 1, the hard state
 * committing them) and the raft snapshot at that index, whose data is the v2 store holding the
 * members. A failure part way leaves what was written, as etcdctl does.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { DB } from '../backend';
import { FloeError } from '../pkg';
import { encodeConfChange, type Entry } from '../raft';
import { computeClusterId, computeMemberId } from '../server';
import { WAL, Snapshotter, memberLayout, encodeMemberMetadata } from '../wal';
import { goBytes, goErrnoMessage, goQuote } from './snapshot-go';
import { memberJson, v2StoreJson, type RestoreMember } from './snapshot-v2store';

/** etcdctl's restore flags, already defaulted. */
export interface RestoreOptions {
  readonly snapshotPath: string;
  readonly name: string;
  /** '' means `<name>.etcd`. */
  readonly dataDir: string;
  /** '' means `<data-dir>/member/wal`. */
  readonly walDir: string;
  readonly initialCluster: string;
  readonly initialClusterToken: string;
  /** --initial-advertise-peer-urls, split on commas. */
  readonly peerUrls: readonly string[];
  readonly skipHashCheck: boolean;
}

/** One zap-style log line (etcdctl logs its progress on stderr as JSON). */
export type RestoreLog = (msg: string, fields: Record<string, unknown>) => void;

/** What was written. */
export interface RestoreResult {
  readonly dataDir: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly members: readonly RestoreMember[];
}

const SHA256_BYTES = 32;
/** A saved snapshot is whole pages plus the sha256: its size modulo this is SHA256_BYTES. */
const HASH_ALIGN_BYTES = 512;
const DIR_MODE = 0o700;
const DB_FILE_MODE = 0o600;
const COPY_CHUNK_BYTES = 1 << 20;
const META_BUCKET = Buffer.from('meta');
const CONSISTENT_INDEX_KEY = Buffer.from('consistent_index');
/** Buckets etcd's mvcc store and lessor create when they open a backend. */
const STORE_BUCKETS = ['key', 'meta', 'lease'].map((b) => Buffer.from(b));
const OLD_MEMBER_BUCKETS = ['members', 'members_removed'].map((b) => Buffer.from(b));
/** The raft term of the restored log (etcd's). */
const RESTORE_TERM = 1;

function restoreError(message: string): FloeError {
  return new FloeError('ERR_SNAPSHOT_RESTORE', message);
}

/** Restores `opts.snapshotPath` into a new data dir. */
export async function restoreSnapshot(opts: RestoreOptions, log: RestoreLog): Promise<RestoreResult> {
  const peerUrls = parseUrls(opts.peerUrls);
  const cluster = new Map<string, string[]>();
  for (const [name, urls] of parseUrlsMap(opts.initialCluster)) cluster.set(name, parseUrls(urls));
  verifyBootstrap(opts.name, peerUrls, cluster);

  const members: RestoreMember[] = [...cluster]
    .map(([name, urls]) => ({ id: computeMemberId(urls, opts.initialClusterToken), name, peerUrls: urls }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const self = members.find((m) => m.name === opts.name)!;
  const clusterId = computeClusterId(members.map((m) => m.id));

  const dataDir = opts.dataDir !== '' ? opts.dataDir : `${opts.name}.etcd`;
  if (fs.existsSync(dataDir)) throw restoreError(`data-dir ${goQuote(dataDir)} exists`);
  if (opts.walDir !== '' && fs.existsSync(opts.walDir)) throw restoreError(`wal-dir ${goQuote(opts.walDir)} exists`);
  const layout = memberLayout(dataDir, opts.walDir);
  const where = { path: opts.snapshotPath, 'wal-dir': layout.walDir, 'data-dir': dataDir, 'snap-dir': layout.snapDir };
  log('restoring snapshot', where);

  copyAndVerify(opts.snapshotPath, layout.snapDir, layout.backendPath, opts.skipHashCheck);
  rewriteBackend(layout.backendPath, members.length);

  fs.mkdirSync(layout.walDir, { recursive: true, mode: DIR_MODE });
  for (const m of members) {
    log('added member', { 'cluster-id': clusterId.toString(16), 'local-member-id': '0', 'added-peer-id': m.id.toString(16), 'added-peer-peer-urls': m.peerUrls });
  }
  const wal = await WAL.create(layout.walDir, encodeMemberMetadata({ nodeId: self.id, clusterId }));
  try {
    const entries: Entry[] = members.map((m, i) => ({
      term: RESTORE_TERM,
      index: i + 1,
      type: 'EntryConfChange',
      data: encodeConfChange({ kind: 'v1', type: 'ConfChangeAddNode', nodeId: m.id, context: Buffer.from(memberJson(m)), id: 0n }),
    }));
    const commit = entries.length;
    // The first member (lowest id) is recorded as voted for, as etcd's bootstrap does.
    await wal.save({ term: RESTORE_TERM, vote: members[0]!.id, commit }, entries);
    await new Snapshotter(layout.snapDir).saveSnap({
      data: Buffer.from(v2StoreJson(members)),
      metadata: {
        index: commit,
        term: RESTORE_TERM,
        confState: { voters: members.map((m) => m.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    });
    await wal.saveSnapshot({ index: commit, term: RESTORE_TERM });
  } finally {
    await wal.close();
  }
  log('restored snapshot', where);
  return { dataDir, memberId: self.id, clusterId, members };
}

/** Copies the snapshot to `dbPath`, strips its sha256 and checks it against the content. */
function copyAndVerify(src: string, snapDir: string, dbPath: string, skipHashCheck: boolean): void {
  let fd: number;
  try {
    fd = fs.openSync(src, 'r');
  } catch (e) {
    throw restoreError(goErrnoMessage('open', src, e));
  }
  try {
    const size = fs.fstatSync(fd).size;
    // etcd reads the last 32 bytes before it knows whether they are a hash.
    if (size < SHA256_BYTES) throw restoreError(`seek ${src}: invalid argument`);
    const sha = Buffer.alloc(SHA256_BYTES);
    fs.readSync(fd, sha, 0, SHA256_BYTES, size - SHA256_BYTES);

    fs.mkdirSync(snapDir, { recursive: true, mode: DIR_MODE });
    const out = fs.openSync(dbPath, fs.constants.O_RDWR | fs.constants.O_CREAT, DB_FILE_MODE);
    const hasHash = size % HASH_ALIGN_BYTES === SHA256_BYTES;
    const dbBytes = hasHash ? size - SHA256_BYTES : size;
    const h = createHash('sha256');
    try {
      const buf = Buffer.alloc(Math.min(COPY_CHUNK_BYTES, Math.max(size, 1)));
      for (let pos = 0; pos < dbBytes; ) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, dbBytes - pos), pos);
        if (n === 0) throw restoreError(`read ${src}: unexpected EOF`);
        fs.writeSync(out, buf, 0, n, pos);
        h.update(buf.subarray(0, n));
        pos += n;
      }
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    if (!hasHash && !skipHashCheck) throw restoreError('snapshot missing hash but --skip-hash-check=false');
    if (hasHash && !skipHashCheck) {
      const got = h.digest();
      if (!got.equals(sha)) throw restoreError(`expected sha256 ${goBytes(sha)}, got ${goBytes(got)}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes the copied backend part of the new cluster: the old cluster's members go (the new
 * ones live in the raft snapshot until the server applies them), the store's buckets exist,
 * and the consistent index is the last restored raft index. One write transaction.
 */
function rewriteBackend(dbPath: string, consistentIndex: number): void {
  const db = DB.open(dbPath);
  try {
    db.update((tx) => {
      for (const name of OLD_MEMBER_BUCKETS) {
        const b = tx.bucket(name);
        if (b === null) continue;
        const keys: Buffer[] = [];
        b.forEach((k, v) => {
          if (v !== null) keys.push(Buffer.from(k));
        });
        for (const k of keys) b.delete(k);
      }
      for (const name of STORE_BUCKETS) tx.createBucketIfNotExists(name);
      const index = Buffer.alloc(8);
      index.writeBigUInt64BE(BigInt(consistentIndex));
      tx.bucket(META_BUCKET)!.put(CONSISTENT_INDEX_KEY, index);
    });
  } finally {
    db.close();
  }
}

// ---- flags, checked as etcd's types.NewURLs / NewURLsMap and ServerConfig.VerifyBootstrap ----

/** Validates URLs as etcd does and returns them trimmed and sorted. */
export function parseUrls(raw: readonly string[]): string[] {
  if (raw.length === 0) throw restoreError('no valid URLs given');
  const out: string[] = [];
  for (const r of raw) {
    const s = r.trim();
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(s);
    const scheme = m?.[1]?.toLowerCase() ?? '';
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) throw restoreError(`URL scheme must be http, https, unix, or unixs: ${s}`);
    const host = m![2]!.replace(/^[^@]*@/, '');
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host)) throw restoreError(`URL address does not have the form "host:port": ${s}`);
    if (m![3] !== '') throw restoreError(`URL must not contain a path: ${s}`);
    out.push(s);
  }
  return out.sort();
}

/** etcd's `name=url,name=url` parse: a name may repeat; a part without `=` has an empty URL. */
function parseUrlsMap(s: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const part of s.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const url = eq < 0 ? '' : part.slice(eq + 1);
    m.set(name, [...(m.get(name) ?? []), url]);
  }
  return m;
}

function verifyBootstrap(name: string, peerUrls: readonly string[], cluster: ReadonlyMap<string, readonly string[]>): void {
  const mine = cluster.get(name);
  if (mine === undefined) throw restoreError(`couldn't find local name ${goQuote(name)} in the initial cluster configuration`);
  const a = [...peerUrls].sort();
  const c = [...mine].sort();
  if (a.join(',') !== c.join(',')) {
    const missing = c.filter((u) => !a.includes(u));
    if (missing.length > 0) {
      throw restoreError(
        `--initial-cluster has ${missing.map((u) => `${name}=${u}`).join(',')} but missing from --initial-advertise-peer-urls=${a.join(',')} (<nil>)`,
      );
    }
    const extra = a.filter((u) => !c.includes(u));
    throw restoreError(`--initial-advertise-peer-urls has ${extra.join(',')} but missing from --initial-cluster=${a.map((u) => `${name}=${u}`).join(',')}`);
  }
  const seen = new Set<string>();
  for (const urls of cluster.values()) {
    for (const u of urls) {
      if (seen.has(u)) {
        const all = [...cluster].flatMap(([n, us]) => us.map((x) => `${n}=${x}`)).sort();
        throw restoreError(`initial cluster ${all.join(',')} has duplicate url`);
      }
      seen.add(u);
    }
  }
}
