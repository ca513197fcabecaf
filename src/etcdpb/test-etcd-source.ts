/**
 * Test helper: where etcd 3.4's own sources are on this machine (Debian's
 * golang-etcd-server-dev, which .ci/run installs). Tests read facts from them (proto
 * definitions, error strings) to prove Floe's copies match; they fail, never skip, without them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Root of etcd 3.4's Go sources. */
export const ETCD_SOURCE_DIR = '/usr/share/gocode/src/go.etcd.io/etcd';

/** Reads a file under ETCD_SOURCE_DIR, or throws saying which package provides it. */
export function readEtcdSource(relativePath: string): string {
  const file = path.join(ETCD_SOURCE_DIR, relativePath);
  if (!fs.existsSync(file)) {
    throw new Error(
      `etcd 3.4 source ${file} is missing: install Debian's golang-etcd-server-dev (apt-get install golang-etcd-server-dev; .ci/run does)`,
    );
  }
  return fs.readFileSync(file, 'utf8');
}

/** etcd's proto files, in dependency order, relative to ETCD_SOURCE_DIR. */
export const ETCD_PROTO_FILES = [
  'mvcc/mvccpb/kv.proto',
  'auth/authpb/auth.proto',
  'etcdserver/etcdserverpb/rpc.proto',
  'etcdserver/api/v3lock/v3lockpb/v3lock.proto',
  'etcdserver/api/v3election/v3electionpb/v3election.proto',
] as const;
