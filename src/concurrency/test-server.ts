/**
 * Tests only: a real single member (src/server, fast timings) served by the real gRPC server,
 * with raw clients of the Lock, Election, KV and Lease services.
 */
import * as grpc from '@grpc/grpc-js';
import { etcdServices, SERVICE_NAMES, type EtcdServices } from '../etcdpb';
import { EtcdGrpcServer } from '../api/grpc-server';
import type { Member } from '../server';
import { openMember, tempDir } from '../server/test-util';

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export interface TestServer {
  readonly member: Member;
  readonly server: EtcdGrpcServer;
  client(service: keyof EtcdServices): Client;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const member = await openMember(tempDir('floe-concurrency-'));
  const server = new EtcdGrpcServer(member);
  const port = await server.listen('127.0.0.1', 0);
  const clients: grpc.Client[] = [];
  return {
    member,
    server,
    client(service) {
      const Ctor = grpc.makeGenericClientConstructor(etcdServices()[service] as grpc.ServiceDefinition, SERVICE_NAMES[service]);
      const c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      clients.push(c);
      return c as Client;
    },
    async close() {
      for (const c of clients) c.close();
      server.forceClose();
      await member.close();
    },
  };
}

/** A unary call; `deadlineMs` bounds it. */
export function call<Res>(client: Client, method: string, req: unknown, deadlineMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    client[method]!(req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

/** Whether `p` is still pending after `ms`. */
export async function pendingAfter(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return !settled;
}

export const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? Buffer.alloc(0)).toString();
