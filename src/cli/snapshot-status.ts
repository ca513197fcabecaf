/**
 * `floe snapshot status`: the numbers etcdctl 3.4 prints for a backend snapshot file (hash,
 * revision, total keys, total size) and its four output formats.
 *
 * The hash is CRC-32C (Castagnoli) fed, for each top-level bucket in name order, the bucket's
 * name and then every key and value in key order; "total keys" counts entries over all
 * buckets; the revision is the main revision of the last key of bucket `key`; the size is the
 * file size the newest meta page gives (high-water mark times page size), not the file's length
 * (a saved snapshot carries a trailing sha256 beyond it).
 */
import * as fs from 'node:fs';
import { DB } from '../backend';
import { FloeError, crc32c } from '../pkg';
import { goErrnoMessage } from './snapshot-go';

/** etcd's snapshot.Status. */
export interface SnapshotStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

/** Output formats etcdctl accepts for `snapshot status` (`-w`). */
export const STATUS_FORMATS = ['simple', 'json', 'table', 'fields'] as const;
export type StatusFormat = (typeof STATUS_FORMATS)[number];

const KEY_BUCKET = 'key';
/** Bytes of a main revision at the start of a `key` bucket key (8-byte big-endian). */
const REV_MAIN_BYTES = 8;

/** Reads `file` read-only and computes its status; errors carry etcdctl's messages. */
export function snapshotStatus(file: string): SnapshotStatus {
  try {
    fs.statSync(file);
  } catch (e) {
    throw new FloeError('ERR_SNAPSHOT_STAT', goErrnoMessage('stat', file, e));
  }
  const db = DB.open(file, { readOnly: true });
  try {
    const problems = db.check();
    if (problems.length > 0) {
      throw new FloeError('ERR_SNAPSHOT_CORRUPT', `snapshot file integrity check failed. ${problems.length} errors found.\n${problems.join('\n')}`);
    }
    return db.view((tx) => {
      let hash = 0;
      let revision = 0;
      let totalKey = 0;
      // tx.forEach walks the top-level buckets in name order, each bucket's entries in key
      // order: the order etcd hashes them in.
      tx.forEach((name, bucket) => {
        hash = crc32c(name, hash);
        const isKeyBucket = name.toString('latin1') === KEY_BUCKET;
        bucket.forEach((k, v) => {
          hash = crc32c(k, hash);
          if (v !== null) hash = crc32c(v, hash);
          if (isKeyBucket && k.length >= REV_MAIN_BYTES) revision = Number(k.readBigInt64BE(0));
          totalKey++;
        });
      });
      return { hash: hash >>> 0, revision, totalKey, totalSize: tx.size };
    });
  } finally {
    db.close();
  }
}

/** go-humanize's Bytes: SI units (powers of 1000), one decimal below 10, printed as Go prints. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${units[e]}` : `${roundHalfEven(val)} ${units[e]}`;
}

/** Go's `%.0f`: to the nearest integer, a tie to the even one (20.5 prints as 20). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The status as etcdctl prints it in `format`, every line ending in a newline. */
export function formatStatus(s: SnapshotStatus, format: StatusFormat): string {
  const row = [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)];
  switch (format) {
    case 'simple':
      return row.join(', ') + '\n';
    case 'json':
      return JSON.stringify({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }) + '\n';
    case 'fields':
      return `"Hash" : ${s.hash}\n"Revision" : ${s.revision}\n"Keys" : ${s.totalKey}\n"Size" : ${s.totalSize}\n`;
    case 'table':
      return renderTable(['HASH', 'REVISION', 'TOTAL KEYS', 'TOTAL SIZE'], [row]);
  }
}

/**
 * The table etcdctl's tablewriter draws: `+---+` borders, one space of padding, headers
 * centred (left-biased when the slack is odd), cells aligned right.
 */
function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const border = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+\n';
  const centre = (t: string, w: number): string => {
    const slack = w - t.length;
    const left = Math.floor(slack / 2);
    return ' '.repeat(left) + t + ' '.repeat(slack - left);
  };
  let out = border;
  out += '|' + header.map((h, i) => ` ${centre(h, widths[i]!)} `).join('|') + '|\n';
  out += border;
  for (const r of rows) out += '|' + r.map((c, i) => ` ${c.padStart(widths[i]!)} `).join('|') + '|\n';
  return out + border;
}
