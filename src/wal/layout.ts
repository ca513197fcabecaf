/**
 * Where a member keeps its files inside `--data-dir`, as etcd 3.4 lays them out (and
 * `etcdctl snapshot restore` creates them):
 *
 *   <data-dir>/member/wal/%016x-%016x.wal     the write-ahead log (or --wal-dir)
 *   <data-dir>/member/snap/%016x-%016x.snap   raft snapshots (term-index)
 *   <data-dir>/member/snap/%016x.snap.db      a backend received from the leader (index)
 *   <data-dir>/member/snap/db                 the backend (bbolt) file
 */
import * as path from 'node:path';

export interface MemberLayout {
  readonly memberDir: string;
  readonly walDir: string;
  readonly snapDir: string;
  readonly backendPath: string;
}

/** The backend file's name inside the snap directory. */
export const BACKEND_FILE_NAME = 'db';

/** The layout under `dataDir`; `walDir` overrides the WAL's place (etcd's --wal-dir). */
export function memberLayout(dataDir: string, walDir?: string): MemberLayout {
  const memberDir = path.join(dataDir, 'member');
  const snapDir = path.join(memberDir, 'snap');
  return {
    memberDir,
    walDir: walDir !== undefined && walDir !== '' ? walDir : path.join(memberDir, 'wal'),
    snapDir,
    backendPath: path.join(snapDir, BACKEND_FILE_NAME),
  };
}
