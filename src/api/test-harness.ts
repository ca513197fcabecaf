/**
 * Tests only: starts the API layer's gRPC server over the member TEST DOUBLE
 * (test-double.ts) on a free port, and gives tests three clients: raw grpc-js stubs, real
 * `etcdctl` 3.4 (Debian's etcd-client), and the npm `etcd3` client.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { etcdServices, SERVICE_NAMES, type EtcdServices } from '../etcdpb';
import { EtcdGrpcServer, type GrpcServerOptions } from './grpc-server';
import { MemberDouble, type DoubleOptions } from './test-double';

export const ETCDCTL = '/usr/bin/etcdctl';

/** A running server over a fresh double. */
export interface Harness {
  readonly member: MemberDouble;
  readonly server: EtcdGrpcServer;
  readonly endpoint: string;
  /** A raw client of one service; closed by `close()`. */
  client(service: keyof EtcdServices): grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  close(): Promise<void>;
}

export async function startHarness(opts: { double?: DoubleOptions; server?: GrpcServerOptions } = {}): Promise<Harness> {
  const member = new MemberDouble(opts.double);
  const server = new EtcdGrpcServer(member, opts.server);
  const port = await server.listen('127.0.0.1', 0);
  const endpoint = `127.0.0.1:${port}`;
  const clients: grpc.Client[] = [];
  return {
    member,
    server,
    endpoint,
    client(service) {
      const Ctor = grpc.makeGenericClientConstructor(etcdServices()[service] as grpc.ServiceDefinition, SERVICE_NAMES[service]);
      const c = new Ctor(endpoint, grpc.credentials.createInsecure(), {
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': -1,
      });
      clients.push(c);
      return c as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
    },
    async close() {
      for (const c of clients) c.close();
      server.forceClose();
    },
  };
}

/** Calls a unary method of a raw client. */
export function call<Res>(client: Record<string, (...args: unknown[]) => unknown>, method: string, req: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    client[method]!(req, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

export interface EtcdctlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl against `endpoint` (asynchronously: the server runs on this event loop). */
export function etcdctl(endpoint: string, args: readonly string[], stdin?: string): Promise<EtcdctlResult> {
  if (!fs.existsSync(ETCDCTL)) {
    throw new Error(`${ETCDCTL} is missing: install Debian's etcd-client 3.4 (apt-get install etcd-client)`);
  }
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL,
      [`--endpoints=${endpoint}`, '--dial-timeout=5s', '--command-timeout=10s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** The last `Error: ...` line etcdctl printed. */
export function etcdctlError(r: EtcdctlResult): string | undefined {
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('Error: '))
    .pop();
}

/** A gRPC message (uncompressed): 5-byte prefix, then `msg`. */
export function grpcMessage(msg: Buffer): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}
