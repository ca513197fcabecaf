/**
 * `floe snapshot save`: streams a member's backend over etcd's Maintenance.Snapshot RPC into
 * `<file>.part`, checks that it ends in a sha256 of its content (etcd appends one), syncs it
 * and renames it to `<file>`. The part file is removed on every path out, as etcdctl does.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { etcdServices, SERVICE_NAMES, type SnapshotResponse } from '../etcdpb';
import { FloeError } from '../pkg';
import { goBytes, goErrnoMessage } from './snapshot-go';
import { humanizeBytes } from './snapshot-status';

export interface SaveOptions {
  readonly file: string;
  /** `host:port` or a URL (etcdctl's --endpoints, exactly one). */
  readonly endpoints: readonly string[];
  /** Bound on connecting (etcdctl's --dial-timeout). */
  readonly dialTimeoutMs: number;
  /** Bound on the whole transfer; null: none (etcdctl sets none unless --command-timeout is given). */
  readonly commandTimeoutMs: number | null;
}

export type SaveLog = (msg: string, fields: Record<string, unknown>) => void;

const SHA256_BYTES = 32;
const HASH_ALIGN_BYTES = 512;
const PART_FILE_MODE = 0o600;

function saveError(message: string): FloeError {
  return new FloeError('ERR_SNAPSHOT_SAVE', message);
}

/** `http://h:p` → `h:p`; a bare `h:p` stays. */
function grpcTarget(endpoint: string): string {
  return endpoint.replace(/^(https?|unixs?):\/\//, '').replace(/\/+$/, '');
}

/** Saves a snapshot of the one member at `opts.endpoints[0]` to `opts.file`. */
export async function saveSnapshot(opts: SaveOptions, log: SaveLog): Promise<void> {
  if (opts.endpoints.length !== 1) {
    throw saveError(`snapshot must be requested to one selected node, not multiple [${opts.endpoints.join(' ')}]`);
  }
  const endpoint = opts.endpoints[0]!;
  const Client = grpc.makeGenericClientConstructor(etcdServices().maintenance as grpc.ServiceDefinition, SERVICE_NAMES.maintenance);
  const client = new Client(grpcTarget(endpoint), grpc.credentials.createInsecure());
  const part = `${opts.file}.part`;
  try {
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + opts.dialTimeoutMs, (e) => (e ? reject(saveError('context deadline exceeded')) : resolve()));
    });
    let fd: number;
    try {
      fd = fs.openSync(part, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, PART_FILE_MODE);
    } catch (e) {
      throw saveError(`could not open ${part} (${e instanceof Error ? e.message : String(e)})`);
    }
    log('created temporary db file', { path: part });
    const startedMs = performance.now();
    const digest = new TrailingDigest();
    try {
      const deadline = opts.commandTimeoutMs === null ? undefined : Date.now() + opts.commandTimeoutMs;
      const snapshotCall = (client as unknown as SnapshotClient).Snapshot;
      const call = snapshotCall.call(client, {}, deadline === undefined ? {} : { deadline });
      log('fetching snapshot', { endpoint });
      // Chunks are written in arrival order; a failed write ends the call.
      await new Promise<void>((resolve, reject) => {
        call.on('data', (m: SnapshotResponse) => {
          const blob = m.blob === undefined ? Buffer.alloc(0) : Buffer.from(m.blob.buffer, m.blob.byteOffset, m.blob.byteLength);
          try {
            fs.writeSync(fd, blob);
          } catch (e) {
            call.cancel();
            reject(saveError(goErrnoMessage('write', part, e)));
            return;
          }
          digest.update(blob);
        });
        call.on('error', (e: grpc.ServiceError) => reject(saveError(e.details || e.message)));
        call.on('end', () => resolve());
      });
      const size = digest.sizeBytes;
      if (size % HASH_ALIGN_BYTES !== SHA256_BYTES) throw saveError(`sha256 checksum not found [bytes: ${size}]`);
      const [want, got] = digest.finish();
      if (!got.equals(want)) throw saveError(`expected sha256 ${goBytes(want)}, got ${goBytes(got)}`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    log('fetched snapshot', { endpoint, size: humanizeBytes(digest.sizeBytes), took: (performance.now() - startedMs) / 1000 });
    try {
      fs.renameSync(part, opts.file);
    } catch (e) {
      throw saveError(`could not rename ${part} to ${opts.file} (${e instanceof Error ? e.message : String(e)})`);
    }
    log('saved', { path: opts.file });
  } finally {
    client.close();
    fs.rmSync(part, { force: true });
  }
}

/**
 * The sha256 of a stream without its last 32 bytes, and those bytes (the digest etcd appends):
 * the last 32 bytes seen are held back from the hash until more arrive.
 */
class TrailingDigest {
  private readonly hash = createHash('sha256');
  private held: Buffer = Buffer.alloc(0);
  private size = 0;

  get sizeBytes(): number {
    return this.size;
  }

  update(chunk: Buffer): void {
    const joined = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const keep = Math.min(joined.length, SHA256_BYTES);
    this.hash.update(joined.subarray(0, joined.length - keep));
    this.held = Buffer.from(joined.subarray(joined.length - keep));
    this.size += chunk.length;
  }

  /** [the trailing bytes, the sha256 of everything before them]. */
  finish(): [Buffer, Buffer] {
    return [this.held, this.hash.digest()];
  }
}

/** The one method of the generic Maintenance client used here. */
interface SnapshotClient {
  Snapshot(req: Record<string, never>, options: grpc.CallOptions): grpc.ClientReadableStream<SnapshotResponse>;
}
